//! The embedded SmolLM2 behind the real router: listed, generating (plain and streamed, the
//! same greedy text), cached, and scoring. Without the model file the tests print a skip line,
//! unless `CI` is set: then a missing model is a failure (`make test` fetches it first).
#![cfg(feature = "smollm2")]

mod common;

use common::*;
use gridmentor_core::agent::llm_policy::{ACTION_TEXTS, glam_prompt};
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
    assert_eq!(
        card["scores"],
        json!(true),
        "the page plans by scoring: {card}"
    );

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

/// A grounded checkpoint (GLAM adapters after one PPO step) served by name beside the base
/// model: `/v1/score` gives exactly the action log-likelihoods the model gives natively, so the
/// policy's distribution is the same both ways, and they differ from the base model's.
#[tokio::test]
async fn a_grounded_model_is_served_by_name_and_scores_as_it_does_natively() {
    use gridmentor_llm::grounding::{Grounded, LoraConfig, PpoParams, Sample};
    use gridmentor_llm::{Message, SmolLm2};
    let path = smollm2::default_path();
    if !path.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the model is missing"
        );
        eprintln!("SKIP: model {} missing", path.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // GLAM's action texts and prompt as the agent builds them.
    let actions = ACTION_TEXTS;
    let prompt = glam_prompt(
        "go to the red ball",
        &[vec!["You see a red ball 2 steps forward".to_string()]],
        &[],
    );
    let user = prompt.messages[0].content.clone();
    let file = dir.path().join("g.glam");
    let (native, file) = {
        let (path, file, user) = (path.clone(), file.clone(), user.clone());
        tokio::task::spawn_blocking(move || {
            let base = SmolLm2::load_with_threads(&path, 2).unwrap();
            let cfg = LoraConfig {
                layers: 2,
                rank: 4,
                ..LoraConfig::default()
            };
            let mut g = Grounded::new(base, &path, cfg, &actions, 1).unwrap();
            let msgs = vec![Message::new("user", user)];
            let e = g.evaluate(&msgs).unwrap();
            let step = Sample {
                lower: e.lower,
                action: 2,
                logp: -3.0,
                value: e.value,
                advantage: 1.0,
                ret: 1.0,
            };
            let p = PpoParams {
                clip: 0.2,
                vf_coef: 0.5,
                ent_coef: 0.0,
                max_grad_norm: 1.0,
                clip_vloss: true,
                lr: 3e-3,
            };
            g.ppo_minibatch(&[step], &p).unwrap();
            g.set_temperature(2.5).unwrap();
            g.save(&file, json!({}), false).unwrap();
            (g.evaluate(&msgs).unwrap().scores, file)
        })
        .await
        .unwrap()
    };
    let backends = tokio::task::spawn_blocking(move || {
        let base = smollm2::load(&path, Default::default()).unwrap();
        let g = smollm2::load_grounded(&path, "glam-test", &file, Default::default()).unwrap();
        let v: Vec<Arc<dyn gridmentor_server::llm::Backend>> = vec![Arc::new(base), Arc::new(g)];
        v
    })
    .await
    .unwrap();
    let state = AppState::with_backends(settings(dir.path(), None), backends)
        .await
        .unwrap();
    let app = router(state);
    let models = call(&app, get("/v1/models")).await.json();
    let listed = |id: &str| {
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {models}"))
    };
    // A client plays the grounded model at the temperature it was trained at (the page reads
    // it); the base model has none (GLAM's 1).
    let t = listed("glam-test")["policy_temperature"].as_f64();
    assert_eq!(t, Some(2.5), "{models}");
    assert!(listed("smollm2-135m-instruct")["policy_temperature"].is_null());
    let score = |model: &str| {
        json!({
            "model": model,
            "messages": [{"role": "user", "content": user}],
            "candidates": actions,
        })
    };
    let logprobs = |v: serde_json::Value| -> Vec<f64> {
        (0..6)
            .map(|i| v["scores"][i]["logprob"].as_f64().unwrap())
            .collect()
    };
    let r = call(&app, post_json("/v1/score", &score("glam-test"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let served = logprobs(r.json());
    for (s, n) in served.iter().zip(&native) {
        assert!(
            (s - *n as f64).abs() < 1e-5,
            "{served:?} vs native {native:?}"
        );
    }
    let base = logprobs(
        call(&app, post_json("/v1/score", &score("smollm2")))
            .await
            .json(),
    );
    assert!(
        (base[2] - served[2]).abs() > 1e-3,
        "the adapters changed nothing: {base:?} vs {served:?}"
    );
    let mut body = chat_body("glam-test", "Name one colour of a traffic light.");
    body["temperature"] = json!(0);
    body["max_tokens"] = json!(8);
    let r = call(&app, post_json("/v1/chat/completions", &body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.json()["choices"][0]["message"]["content"].clone();
    assert!(!text.as_str().unwrap_or("").trim().is_empty(), "{text}");
}
