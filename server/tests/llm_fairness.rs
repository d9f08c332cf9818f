//! The embedded model as a fair service, over real loopback sockets: a bounded queue, a deadline
//! for waiting and for generating, a token cap, context overflows as 400, and generation that
//! stops when the client leaves. A slow toy model stands in for SmolLM2 (one token per 20 ms).

mod common;

use common::{chat_body, http, settings};
use gridmentor_server::llm::local::{
    Fairness, GenParams, Generated, Local, LocalCounters, LocalError, LocalModel, Scored,
};
use gridmentor_server::llm::{Backend, ChatMessage, ModelCard};
use gridmentor_server::{AppState, router};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: Duration = Duration::from_millis(20);

/// Generates "t" per token until max_tokens or until told to stop; a prompt containing
/// "overflow" overflows its context.
struct Slow;

impl LocalModel for Slow {
    fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenParams,
        on_token: &mut dyn FnMut(&str),
        keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<Generated, LocalError> {
        if messages.iter().any(|m| m.content.contains("overflow")) {
            return Err(LocalError::ContextOverflow(
                "2100 tokens exceed the context length of 2048 tokens".into(),
            ));
        }
        // A "stubborn" prompt ignores keep_going: a model that overruns its deadline.
        let stubborn = messages.iter().any(|m| m.content.contains("stubborn"));
        let mut text = String::new();
        for i in 0..params.max_tokens {
            std::thread::sleep(TOKEN);
            text.push('t');
            on_token("t");
            if i + 1 < params.max_tokens && !stubborn && !keep_going() {
                break;
            }
        }
        Ok(Generated {
            completion_tokens: text.len() as u64,
            text,
            finish_reason: "length".into(),
            prompt_tokens: 3,
        })
    }

    fn score(&mut self, _m: &[ChatMessage], _c: &[String]) -> Result<Scored, LocalError> {
        Err(LocalError::Failed("not used".into()))
    }
}

async fn start(fairness: Fairness) -> (String, Arc<LocalCounters>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::new(
        "slow",
        ModelCard {
            id: "slow-1".into(),
            aliases: vec![],
            ..ModelCard::default()
        },
        Slow,
        fairness,
    );
    let counters = local.counters.clone();
    let mut s = settings(dir.path(), None);
    s.rate_limit = 0;
    let state = AppState::with_backends(s, vec![Arc::new(local) as Arc<dyn Backend>])
        .await
        .unwrap();
    let app = router(state);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(l, app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap()
    });
    (format!("http://{addr}"), counters, dir)
}

fn body(max_tokens: u32) -> serde_json::Value {
    let mut b = chat_body("slow-1", "hi");
    b["max_tokens"] = json!(max_tokens);
    b["temperature"] = json!(0);
    b
}

async fn chat(base: &str, b: &serde_json::Value) -> common::Reply {
    let c = reqwest::Client::new();
    http(
        c.post(format!("{base}/v1/chat/completions"))
            .header("x-gridmentor-cache", "bypass")
            .json(b),
    )
    .await
}

/// Wait (bounded) until `f` holds.
async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_queue_answers_503_at_once_and_a_long_wait_503_at_the_deadline() {
    let (base, counters, _dir) = start(Fairness {
        queue: 1,
        deadline: Duration::from_millis(1000),
        max_tokens: 1000,
    })
    .await;
    // One runs past every deadline (about 2 s), one waits; the third finds the queue full.
    let mut stubborn = body(100);
    stubborn["messages"][0]["content"] = json!("stubborn");
    let running = tokio::spawn({
        let base = base.clone();
        async move { chat(&base, &stubborn).await }
    });
    eventually("the first request runs", || {
        counters.started.load(Ordering::Relaxed) == 1
    })
    .await;
    let waiting = tokio::spawn({
        let base = base.clone();
        async move { chat(&base, &body(5)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let third = chat(&base, &body(5)).await;
    assert_eq!(third.status, 503, "{}", third.text());
    assert!(third.header("retry-after").is_some());
    assert!(third.error().contains("waiting"), "{}", third.error());
    // The waiting one gets 503 at its deadline, not a late answer.
    let w = waiting.await.unwrap();
    assert_eq!(w.status, 503, "{}", w.text());
    assert!(w.error().contains("waited"), "{}", w.error());
    assert_eq!(counters.refused_busy.load(Ordering::Relaxed), 2);
    assert_eq!(running.await.unwrap().status, 200);

    // A generation that would outlast its deadline ends there with what it has.
    let r = chat(&base, &body(200)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    let n = v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .len();
    assert!(n > 0 && n < 200, "generated {n} of 200 tokens");
    assert_eq!(counters.deadline_cut.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_requests_are_400_in_openais_shape() {
    let (base, counters, _dir) = start(Fairness {
        max_tokens: 64,
        ..Fairness::default()
    })
    .await;
    let r = chat(&base, &body(1 << 20)).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.error().contains("limit of 64"), "{}", r.error());
    let mut b = body(8);
    b["messages"][0]["content"] = json!("overflow ".repeat(1000));
    let r = chat(&base, &b).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["type"], "context_length_exceeded");
    assert!(v["error"]["message"].as_str().unwrap().contains("2048"));
    b["stream"] = json!(true);
    let r = chat(&base, &b).await;
    assert_eq!(
        r.status, 400,
        "a stream that cannot start is an error response"
    );
    assert_eq!(counters.tokens.load(Ordering::Relaxed), 0);
}

/// Send a request on a raw socket, read the first bytes of the answer (or none), then hang up.
async fn hang_up_after(base: &str, b: &serde_json::Value, read_first: bool) {
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = b.to_string();
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         x-gridmentor-cache: bypass\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    if read_first {
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.unwrap();
        assert!(
            String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
    } else {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generation_stops_when_the_client_leaves() {
    let (base, counters, _dir) = start(Fairness::default()).await;
    // Streaming: the client reads the first chunk and goes.
    let mut b = body(500);
    b["stream"] = json!(true);
    hang_up_after(&base, &b, true).await;
    eventually("the streamed generation is cancelled", || {
        counters.cancelled.load(Ordering::Relaxed) == 1
    })
    .await;
    // Not streaming: the client sends and goes without waiting for the answer.
    hang_up_after(&base, &body(500), false).await;
    eventually("the plain generation is cancelled", || {
        counters.cancelled.load(Ordering::Relaxed) == 2
    })
    .await;
    // Both stopped long before their 500 tokens, and the model answers the next client.
    let tokens = counters.tokens.load(Ordering::Relaxed);
    assert!(tokens < 200, "{tokens} tokens generated for nobody");
    let r = chat(&base, &body(3)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["message"]["content"], "ttt");
}

/// Background work (the leaderboard's LLM planner row) asks the model only when it is idle: it
/// is busy from the moment a request takes or waits for its turn until that request ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_model_is_idle_only_when_no_request_runs_or_waits() {
    let dir = tempfile::tempdir().unwrap();
    let card = ModelCard {
        id: "slow-1".into(),
        aliases: vec![],
        ..ModelCard::default()
    };
    let backend: Arc<dyn Backend> = Arc::new(Local::new("slow", card, Slow, Fairness::default()));
    let state = AppState::with_backends(settings(dir.path(), None), vec![backend.clone()])
        .await
        .unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let app = router(state);
    tokio::spawn(async move {
        axum::serve(l, app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap()
    });
    assert!(backend.idle());
    // 25 tokens at 20 ms: half a second of generation.
    let running = tokio::spawn(async move { chat(&base, &body(25)).await.status });
    eventually("the model busy with the request", || !backend.idle()).await;
    assert_eq!(running.await.unwrap(), 200);
    eventually("the model idle again", || backend.idle()).await;
}
