//! The upstream proxy over real loopback sockets: a fake OpenAI-compatible server started here,
//! gridmentor-server in front of it.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post(base: &str, body: &Value) -> Reply {
    http(
        client()
            .post(format!("{base}/v1/chat/completions"))
            .json(body),
    )
    .await
}

#[tokio::test]
async fn passes_requests_through_with_the_servers_key() {
    let dir = tempfile::tempdir().unwrap();
    let (up, fake) = fake_upstream().await;
    let (base, _, _task) = serve(settings(dir.path(), Some(&up))).await;
    let mut body = chat_body("fake-gpt", "hello");
    body["logit_bias"] = json!({"50256": -100});
    let r = http(
        client()
            .post(format!("{base}/v1/chat/completions"))
            .header("authorization", "Bearer client-token")
            .json(&body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(
        v["id"], "fake-1",
        "the upstream's answer comes back as it is"
    );
    assert_eq!(v["system_fingerprint"], "fake");
    assert_eq!(v["choices"][0]["message"]["content"], "echo: hello");
    assert_eq!(r.header("x-cache"), Some("MISS"));
    let seen = fake.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let (headers, sent) = &seen[0];
    assert_eq!(
        headers["authorization"].to_str().unwrap(),
        format!("Bearer {KEY}"),
        "the server's key replaces the client's"
    );
    assert_eq!(
        sent["logit_bias"],
        json!({"50256": -100}),
        "fields pass through"
    );
    assert_eq!(sent["model"], "fake-gpt");
}

#[tokio::test]
async fn the_key_never_reaches_a_client() {
    let dir = tempfile::tempdir().unwrap();
    let (up, fake) = fake_upstream().await;
    let (base, _, _task) = serve(settings(dir.path(), Some(&up))).await;
    fake.push(Script::QuoteKey);
    let r = post(&base, &chat_body("fake-gpt", "hi")).await;
    assert_eq!(r.status, 401);
    let msg = r.error();
    assert!(msg.contains("withheld"), "{msg}");
    let mut everything = r.text();
    for path in ["/v1/models", "/api/usage", "/metrics", "/healthz"] {
        everything.push_str(&http(client().get(format!("{base}{path}"))).await.text());
    }
    for piece in KEY.as_bytes().windows(6) {
        let piece = std::str::from_utf8(piece).unwrap();
        assert!(!everything.contains(piece), "{piece:?} of the key leaked");
    }
}

#[tokio::test]
async fn streams_with_a_usage_chunk_and_done_then_replays_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (up, fake) = fake_upstream().await;
    let (base, _, _task) = serve(settings(dir.path(), Some(&up))).await;
    let mut body = chat_body("fake-gpt", "stream me");
    body["stream"] = json!(true);
    body["temperature"] = json!(0);
    let mut contents = Vec::new();
    for expect in ["MISS", "HIT"] {
        let r = post(&base, &body).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-cache"), Some(expect));
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("text/event-stream")
        );
        let events = r.events();
        assert_eq!(
            events.last().map(String::as_str),
            Some("[DONE]"),
            "{events:?}"
        );
        let chunks: Vec<Value> = events[..events.len() - 1]
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        let last = chunks.last().unwrap();
        assert_eq!(
            last["choices"],
            json!([]),
            "the usage chunk is last: {last}"
        );
        assert_eq!(last["usage"]["total_tokens"], 10);
        assert!(
            chunks
                .iter()
                .any(|c| c["choices"][0]["finish_reason"] == "stop")
        );
        contents.push(text);
    }
    assert_eq!(contents[0], "echo: stream me");
    assert_eq!(contents[0], contents[1]);
    assert_eq!(fake.count(), 1);
    let sent = &fake.seen.lock().unwrap()[0].1;
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn retries_a_500_and_a_429_then_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (up, fake) = fake_upstream().await;
    let (base, state, _task) = serve(settings(dir.path(), Some(&up))).await;
    fake.push(Script::Status(500, None));
    fake.push(Script::Status(429, Some(0)));
    let r = post(&base, &chat_body("fake-gpt", "again")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(fake.count(), 3);
    assert_eq!(state.metrics.counter("upstream_retries"), 2);
}

#[tokio::test]
async fn gives_up_after_the_bounded_retries() {
    let dir = tempfile::tempdir().unwrap();
    let (up, fake) = fake_upstream().await;
    let (base, _, _task) = serve(settings(dir.path(), Some(&up))).await;
    for _ in 0..3 {
        fake.push(Script::Status(429, Some(0)));
    }
    let r = post(&base, &chat_body("fake-gpt", "busy")).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    assert!(r.error().contains("3 attempts"));
    assert_eq!(fake.count(), 3, "1 try + 2 retries");
    for _ in 0..3 {
        fake.push(Script::Status(503, None));
    }
    let r = post(&base, &chat_body("fake-gpt", "down")).await;
    assert_eq!(r.status, 502);
    assert!(r.error().contains("503"));
    fake.push(Script::Malformed);
    let r = post(&base, &chat_body("fake-gpt", "garbled")).await;
    assert_eq!(r.status, 502);
    assert!(r.error().contains("malformed JSON"));
    fake.push(Script::Status(400, None));
    let r = post(&base, &chat_body("fake-gpt", "bad")).await;
    assert_eq!(r.status, 400, "other client errors are not retried");
    assert_eq!(fake.count(), 3 + 3 + 1 + 1);
}

#[tokio::test]
async fn times_out_a_slow_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let (up, fake) = fake_upstream().await;
    let mut s = settings(dir.path(), Some(&up));
    let u = s.upstream.as_mut().unwrap();
    u.timeout = Duration::from_millis(200);
    u.retries = 1;
    let (base, _, _task) = serve(s).await;
    fake.push(Script::Slow(Duration::from_secs(3)));
    fake.push(Script::Slow(Duration::from_secs(3)));
    let t = Instant::now();
    let r = post(&base, &chat_body("fake-gpt", "slow")).await;
    assert_eq!(r.status, 504);
    assert!(r.error().contains("did not answer"));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(fake.count(), 2);
    fake.push(Script::Slow(Duration::from_millis(50)));
    let r = post(&base, &chat_body("fake-gpt", "quick enough")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn unreachable_upstream_is_a_502() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (base, _, _task) = serve(settings(
        dir.path(),
        Some(&format!("http://127.0.0.1:{port}/v1")),
    ))
    .await;
    let r = post(&base, &chat_body("fake-gpt", "anyone?")).await;
    assert_eq!(r.status, 502);
    assert!(r.error().contains("cannot reach"), "{}", r.text());
}

#[tokio::test]
async fn caches_deterministic_requests_only_with_bypass_and_opt_in() {
    let dir = tempfile::tempdir().unwrap();
    let (up, fake) = fake_upstream().await;
    let (base, _, _task) = serve(settings(dir.path(), Some(&up))).await;
    let mut det = chat_body("fake-gpt", "cache me");
    det["temperature"] = json!(0);
    assert_eq!(post(&base, &det).await.header("x-cache"), Some("MISS"));
    let hit = post(&base, &det).await;
    assert_eq!(hit.header("x-cache"), Some("HIT"));
    assert_eq!(
        hit.json()["choices"][0]["message"]["content"],
        "echo: cache me"
    );
    assert_eq!(fake.count(), 1);
    // Same request, keys in another order and 0.0 for 0: still a hit.
    let reordered = json!({"temperature": 0.0, "messages": det["messages"], "model": "fake-gpt"});
    assert_eq!(post(&base, &reordered).await.header("x-cache"), Some("HIT"));
    // A field that changes the answer: a miss.
    let mut other = det.clone();
    other["max_tokens"] = json!(5);
    assert_eq!(post(&base, &other).await.header("x-cache"), Some("MISS"));
    assert_eq!(fake.count(), 2);
    // Bypass.
    let r = http(
        client()
            .post(format!("{base}/v1/chat/completions"))
            .header("x-gridmentor-cache", "bypass")
            .json(&det),
    )
    .await;
    assert_eq!(r.header("x-cache"), Some("MISS"));
    assert_eq!(fake.count(), 3);
    // Sampled: never cached, unless the client allows it.
    let mut sampled = chat_body("fake-gpt", "sample me");
    sampled["temperature"] = json!(0.7);
    post(&base, &sampled).await;
    assert_eq!(post(&base, &sampled).await.header("x-cache"), Some("MISS"));
    assert_eq!(fake.count(), 5);
    let allow = |b: &Value| {
        client()
            .post(format!("{base}/v1/chat/completions"))
            .header("x-gridmentor-cache", "allow")
            .json(b)
    };
    http(allow(&sampled)).await;
    assert_eq!(http(allow(&sampled)).await.header("x-cache"), Some("HIT"));
    assert_eq!(fake.count(), 6);
    let mut seeded = sampled.clone();
    seeded["seed"] = json!(7);
    post(&base, &seeded).await;
    assert_eq!(post(&base, &seeded).await.header("x-cache"), Some("HIT"));
    let usage = http(client().get(format!("{base}/api/usage"))).await.json();
    let row = &usage["models"][0];
    assert_eq!(row["backend"], "upstream");
    assert_eq!(row["cache_hits"], 4);
    assert_eq!(row["requests"], 11);
}

#[tokio::test]
async fn the_cache_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (up, fake) = fake_upstream().await;
    let mut det = chat_body("fake-gpt", "remember me");
    det["seed"] = json!(3);
    {
        let (base, _, task) = serve(settings(dir.path(), Some(&up))).await;
        assert_eq!(post(&base, &det).await.header("x-cache"), Some("MISS"));
        task.abort();
    }
    let (base, _, _task) = serve(settings(dir.path(), Some(&up))).await;
    let r = post(&base, &det).await;
    assert_eq!(r.header("x-cache"), Some("HIT"));
    assert_eq!(
        r.json()["choices"][0]["message"]["content"],
        "echo: remember me"
    );
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn the_budget_is_enforced_before_every_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (up, fake) = fake_upstream().await;
    let mut s = settings(dir.path(), Some(&up));
    // "hi" is estimated at 1 + 4 prompt tokens; with max_tokens 20 an attempt reserves 25.
    // A failed attempt costs its prompt (5): 5 + 25 > 29, so the retry is refused.
    s.token_budget = 29;
    let (base, _, _task) = serve(s).await;
    let mut body = chat_body("fake-gpt", "hi");
    body["max_tokens"] = json!(20);
    fake.push(Script::Status(500, None));
    let r = post(&base, &body).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["error"]["type"], "budget_exceeded");
    assert!(r.header("retry-after").is_some());
    assert_eq!(fake.count(), 1, "the retry never went out");
    let mut big = chat_body("fake-gpt", "hi");
    big["max_tokens"] = json!(1000);
    let r = post(&base, &big).await;
    assert_eq!(r.status, 429);
    assert_eq!(fake.count(), 1, "refused before going out");
    let usage = http(client().get(format!("{base}/api/usage"))).await.json();
    assert_eq!(usage["budget"]["limit"], 29);
    assert_eq!(usage["budget"]["used"], 5);
}

#[tokio::test]
async fn rate_limits_each_client() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _fake) = fake_upstream().await;
    let mut s = settings(dir.path(), Some(&up));
    s.rate_limit = 1;
    s.rate_burst = 2;
    let (base, state, _task) = serve(s).await;
    let body = chat_body("fake-gpt", "hi");
    assert_eq!(post(&base, &body).await.status, 200);
    assert_eq!(post(&base, &body).await.status, 200);
    let r = post(&base, &body).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["type"], "rate_limit_exceeded");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        http(client().get(format!("{base}/v1/models"))).await.status,
        200,
        "only the calls are limited"
    );
    let expert = chat_body("gridmentor-expert", "observation: {observed nothing}");
    assert_eq!(
        post(&base, &expert).await.status,
        200,
        "the expert costs nothing"
    );
    assert_eq!(state.metrics.counter("rate_limited"), 1);
    let m = http(client().get(format!("{base}/metrics"))).await.text();
    assert!(m.contains("gridmentor_rate_limited_total 1"), "{m}");
    assert!(
        m.contains(
            "gridmentor_http_requests_total{route=\"/v1/chat/completions\",status=\"429\"} 1"
        ),
        "{m}"
    );
}

#[tokio::test]
async fn streams_the_expert_and_reports_errors_before_streaming_as_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _, _task) = serve(settings(dir.path(), None)).await;
    let mut body = chat_body(
        "gridmentor-expert",
        "observation: {observed a key, observed a door}",
    );
    body["stream"] = json!(true);
    let r = post(&base, &body).await;
    assert_eq!(r.status, 200);
    let events = r.events();
    assert_eq!(events.last().unwrap(), "[DONE]");
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(
        first["choices"][0]["delta"]["content"],
        "action: {go to the key, pick up the key, go to the door, toggle the door}"
    );
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert!(usage["usage"].is_object());
    body["messages"][0]["content"] = json!("what now?");
    let r = post(&base, &body).await;
    assert_eq!(
        r.status, 400,
        "an error before the first token keeps its status"
    );
}

#[tokio::test]
async fn cache_hits_do_not_count_against_the_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (up, fake) = fake_upstream().await;
    let mut s = settings(dir.path(), Some(&up));
    s.rate_limit = 1;
    s.rate_burst = 1;
    let (base, _, _task) = serve(s).await;
    let mut det = chat_body("fake-gpt", "cached");
    det["temperature"] = json!(0);
    assert_eq!(post(&base, &det).await.header("x-cache"), Some("MISS"));
    for _ in 0..5 {
        let r = post(&base, &det).await;
        assert_eq!(r.status, 200, "a hit costs no model call: {}", r.text());
        assert_eq!(r.header("x-cache"), Some("HIT"));
    }
    assert_eq!(fake.count(), 1);
    let r = post(&base, &chat_body("fake-gpt", "a miss")).await;
    assert_eq!(r.status, 429, "the miss is limited: {}", r.text());
}

#[tokio::test]
async fn unlisted_model_names_share_one_metrics_label() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _fake) = fake_upstream().await;
    let (base, _, _task) = serve(settings(dir.path(), Some(&up))).await;
    for i in 0..20 {
        assert_eq!(
            post(&base, &chat_body(&format!("made-up-{i}"), "hi"))
                .await
                .status,
            200
        );
    }
    assert_eq!(post(&base, &chat_body("fake-gpt", "hi")).await.status, 200);
    let m = http(client().get(format!("{base}/metrics"))).await.text();
    assert!(!m.contains("made-up"), "{m}");
    assert!(
        m.contains("gridmentor_llm_requests_total{backend=\"upstream\",model=\"other\"} 20"),
        "{m}"
    );
    assert!(m.contains("model=\"fake-gpt\"} 1"), "{m}");
    let usage = http(client().get(format!("{base}/api/usage"))).await.json();
    assert_eq!(usage["models"].as_array().unwrap().len(), 2, "{usage}");
}
