//! The embedded SmolLM2 behind the real router: listed, generating (plain and streamed, the
//! same greedy text), cached, and scoring. Without the model file the tests print a skip line,
//! unless `CI` is set: then a missing model is a failure (`make test` fetches it first).
#![cfg(feature = "smollm2")]

mod common;

use common::*;
use gridmentor_server::llm::smollm2;
use gridmentor_server::{AppState, router};
use serde_json::json;
use std::sync::Arc;

async fn app(dir: &std::path::Path) -> Option<axum::Router> {
    let path = smollm2::default_path();
    if !path.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the model {} is missing: run scripts/fetch-model.sh",
            path.display()
        );
        eprintln!(
            "SKIP: model {} missing (run scripts/fetch-model.sh)",
            path.display()
        );
        return None;
    }
    let backend = tokio::task::spawn_blocking(move || smollm2::load(&path, Default::default()))
        .await
        .unwrap()
        .unwrap();
    let state = AppState::with_backends(settings(dir, None), vec![Arc::new(backend)])
        .await
        .unwrap();
    Some(router(state))
}

#[tokio::test]
async fn the_embedded_model_is_listed_generates_streams_caches_and_scores() {
    let dir = tempfile::tempdir().unwrap();
    let Some(app) = app(dir.path()).await else {
        return;
    };
    let models = call(&app, get("/v1/models")).await.json();
    let card = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "smollm2-135m-instruct")
        .unwrap_or_else(|| panic!("not listed: {models}"));
    assert_eq!(card["llm"], json!(true), "{card}");

    let mut body = chat_body("smollm2", "Name one colour of a traffic light.");
    body["temperature"] = json!(0);
    body["max_tokens"] = json!(24);
    let first = call(&app, post_json("/v1/chat/completions", &body)).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("x-cache"), Some("MISS"));
    let v = first.json();
    let text = v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!text.trim().is_empty(), "{v}");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 5, "{v}");
    assert!(
        v["usage"]["completion_tokens"].as_u64().unwrap() <= 24,
        "{v}"
    );

    let again = call(&app, post_json("/v1/chat/completions", &body)).await;
    assert_eq!(again.header("x-cache"), Some("HIT"));
    assert_eq!(
        again.json()["choices"][0]["message"]["content"],
        json!(text)
    );

    // Streamed, bypassing the cache: the same greedy text, piece by piece, then [DONE].
    body["stream"] = json!(true);
    let mut req = post_json("/v1/chat/completions", &body);
    req.headers_mut()
        .insert("x-gridmentor-cache", "bypass".parse().unwrap());
    let streamed = call(&app, req).await;
    assert_eq!(streamed.status, 200, "{}", streamed.text());
    let events = streamed.events();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let joined: String = events
        .iter()
        .filter(|e| *e != "[DONE]")
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(joined, text);

    let score = json!({
        "model": "smollm2",
        "messages": [{"role": "user", "content": "What is the capital of France? Answer with one word."}],
        "candidates": ["Paris", "Banana"],
    });
    let r = call(&app, post_json("/v1/score", &score)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let lp = |i: usize| v["scores"][i]["logprob"].as_f64().unwrap();
    assert!(lp(0) > lp(1), "Paris should beat Banana: {v}");
    assert!(lp(0) < 0.0, "{v}");
}
