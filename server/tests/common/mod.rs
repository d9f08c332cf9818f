//! Test support: the server on a real loopback socket or as a router, and a fake
//! OpenAI-compatible upstream that follows a script.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use gridmentor_server::AppState;
use gridmentor_server::config::{Secret, Settings, Upstream};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

pub const KEY: &str = "sk-test-Zq8v1Lr4Tn9Wc2Xb";

/// What the fake upstream does with the next request.
#[derive(Clone, Debug)]
pub enum Script {
    /// Answer (streamed when asked): "echo: <last user message>".
    Ok,
    /// Fail with this status (and `Retry-After` seconds).
    Status(u16, Option<u64>),
    /// Wait, then answer.
    Slow(Duration),
    /// 200 with a body that is not JSON.
    Malformed,
    /// 401 quoting the Authorization header it got, as careless APIs do.
    QuoteKey,
}

#[derive(Default)]
pub struct Fake {
    pub script: Mutex<VecDeque<Script>>,
    /// Headers and bodies received.
    pub seen: Mutex<Vec<(HeaderMap, Value)>>,
}

impl Fake {
    pub fn push(&self, s: Script) {
        self.script.lock().unwrap().push_back(s);
    }
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn completion(body: &Value) -> String {
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or("");
    format!("echo: {last}")
}

async fn fake_chat(State(f): State<Arc<Fake>>, headers: HeaderMap, body: String) -> Response {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    f.seen.lock().unwrap().push((headers.clone(), body.clone()));
    let step = f.script.lock().unwrap().pop_front().unwrap_or(Script::Ok);
    match step {
        Script::Status(code, retry) => {
            let mut res = (
                StatusCode::from_u16(code).unwrap(),
                axum::Json(json!({"error": {"message": format!("scripted {code}"), "type": "x"}})),
            )
                .into_response();
            if let Some(r) = retry {
                res.headers_mut().insert("retry-after", r.into());
            }
            res
        }
        Script::Malformed => (StatusCode::OK, "{\"choices\": [").into_response(),
        Script::QuoteKey => {
            let auth = headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(
                    json!({"error": {"message": format!("Incorrect API key provided: {auth}")}}),
                ),
            )
                .into_response()
        }
        Script::Slow(d) => {
            tokio::time::sleep(d).await;
            answer(&body)
        }
        Script::Ok => answer(&body),
    }
}

fn answer(body: &Value) -> Response {
    let text = completion(body);
    if body["stream"] == json!(true) {
        let (a, b) = text.split_at(text.len() / 2);
        let mut sse = String::new();
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "fake-1", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        for c in [
            chunk(json!({"role": "assistant", "content": a}), Value::Null),
            chunk(json!({"content": b}), Value::Null),
            chunk(json!({}), json!("stop")),
        ] {
            sse.push_str(&format!("data: {c}\n\n"));
        }
        if body["stream_options"]["include_usage"] == json!(true) {
            let u = json!({"id": "fake-1", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
                           "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}});
            sse.push_str(&format!("data: {u}\n\n"));
        }
        sse.push_str("data: [DONE]\n\n");
        return ([("content-type", "text/event-stream")], sse).into_response();
    }
    axum::Json(json!({
        "id": "fake-1", "object": "chat.completion", "created": 1, "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        "system_fingerprint": "fake"
    }))
    .into_response()
}

/// Start the fake upstream on 127.0.0.1; its base URL (with /v1).
pub async fn fake_upstream() -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route("/v1/chat/completions", axum::routing::post(fake_chat))
        .with_state(fake.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}/v1"), fake)
}

/// The repository root, read at run time. `cargo test` sets `CARGO_MANIFEST_DIR` for the test it
/// runs; the path compiled in (`env!`) names the clone that built the test, which is another
/// clone when clones share a target dir.
pub fn repo_root() -> PathBuf {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("run by `cargo test`, which sets CARGO_MANIFEST_DIR");
    PathBuf::from(dir).join("..")
}

/// Settings for a test: data under `dir`, no rate limit, fast upstream retries.
pub fn settings(dir: &Path, upstream: Option<&str>) -> Settings {
    let mut s = Settings::in_dir(dir);
    s.www = repo_root().join("www");
    s.rate_limit = 0;
    s.eval_episodes = 8;
    s.upstream = upstream.map(|url| Upstream {
        url: url.to_string(),
        key_env: "GRIDMENTOR_TEST_KEY".into(),
        key: Some(Secret(KEY.into())),
        models: vec!["fake-gpt".into()],
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        retries: 2,
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
    });
    s
}

/// The server on 127.0.0.1:0, served as `gridmentor-server` serves it; its base URL.
pub async fn serve(settings: Settings) -> (String, Arc<AppState>, tokio::task::JoinHandle<()>) {
    let state = AppState::new(settings).await.unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let s = state.clone();
    let task = tokio::spawn(async move {
        gridmentor_server::serve(l, s, std::future::pending())
            .await
            .unwrap()
    });
    (format!("http://{addr}"), state, task)
}

/// A response read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
    /// The `data:` payloads of an SSE body.
    pub fn events(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter_map(|l| l.strip_prefix("data:").map(|d| d.trim().to_string()))
            .collect()
    }
    /// The error message of an error reply (checking the shape).
    pub fn error(&self) -> String {
        let v = self.json();
        assert_eq!(v["error"]["code"], json!(self.status.as_u16()), "{v}");
        assert!(v["error"]["type"].is_string(), "{v}");
        v["error"]["message"].as_str().unwrap().to_string()
    }
}

/// One request through the router, no socket.
pub async fn call(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub fn post_json(uri: &str, v: &Value) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(v.to_string()))
        .unwrap()
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// Over the socket, with reqwest.
pub async fn http(rb: reqwest::RequestBuilder) -> Reply {
    let res = rb.send().await.unwrap();
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
    let mut headers = HeaderMap::new();
    for (k, v) in res.headers() {
        headers.insert(
            axum::http::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(),
            axum::http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    let body = res.bytes().await.unwrap().to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub fn chat_body(model: &str, content: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": content}]})
}
