//! The API through the router (`oneshot`) and, where it matters, a real socket: the expert
//! backend on core's prompts, scoring through a local model, checkpoints with their
//! evaluation, episodes, and hostile input.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use burn::tensor::Device;
use common::*;
use gridmentor_core::agent::{PlannerAgent, evaluate};
use gridmentor_core::nn::{ActorCritic, Checkpoint, Metadata, NetSpec};
use gridmentor_core::obs::memory_map::MemoryMap;
use gridmentor_core::obs::text::{self, Naming};
use gridmentor_core::planner::expert::expert_plan;
use gridmentor_core::planner::{
    Completion, Planner, PlannerError, PlannerInfo, PlannerKind, Prompt, PromptStyle, Usage,
    parse_plan,
};
use gridmentor_core::registry;
use gridmentor_server::llm::local::{GenParams, Generated, Local, LocalError, LocalModel, Scored};
use gridmentor_server::llm::{Backend, ChatMessage, ModelCard, Score};
use gridmentor_server::{AppState, router};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

async fn app(dir: &std::path::Path) -> (Router, Arc<AppState>) {
    let state = AppState::new(settings(dir, None)).await.unwrap();
    (router(state.clone()), state)
}

fn prompt_json(p: &Prompt) -> Value {
    let messages: Vec<Value> = p
        .messages
        .iter()
        .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
        .collect();
    json!({"model": "gridmentor-expert", "messages": messages, "temperature": 0})
}

#[tokio::test]
async fn the_expert_answers_core_prompts_in_both_styles() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path()).await;
    for id in [
        "SimpleDoorKey",
        "KeyInBox",
        "ColoredDoorKey",
        "MiniGrid-DoorKey-8x8-v0",
    ] {
        for seed in 0..5 {
            let mut env = registry::make(id, seed).unwrap();
            let mut map = MemoryMap::new(&env.world);
            // A few steps in, so that observations differ.
            for _ in 0..seed {
                env.step(gridmentor_core::world::Action::Left);
                map.update(&env.world);
            }
            let naming = Naming::for_task(id);
            for style in [PromptStyle::When2Ask, PromptStyle::Llm4Teach] {
                let obs = match style {
                    PromptStyle::When2Ask => text::when2ask_observation(&map, naming),
                    PromptStyle::Llm4Teach => text::llm4teach(&map, naming),
                };
                let prompt = Prompt::build(style, id, &env.mission, &obs);
                let r = call(
                    &app,
                    post_json("/v1/chat/completions", &prompt_json(&prompt)),
                )
                .await;
                assert_eq!(r.status, 200, "{}", r.text());
                let v = r.json();
                assert_eq!(v["object"], "chat.completion");
                let answer = v["choices"][0]["message"]["content"].as_str().unwrap();
                let plan = parse_plan(answer).unwrap_or_else(|e| panic!("{id} {obs}: {e}"));
                assert_eq!(plan, expert_plan(&obs), "{id} {style:?}: {answer}");
            }
        }
    }
}

/// A core planner that asks the server (through the router) for every plan.
struct ServerPlanner {
    app: Router,
    rt: tokio::runtime::Handle,
}

impl Planner for ServerPlanner {
    fn info(&self) -> PlannerInfo {
        PlannerInfo {
            name: "server expert".into(),
            kind: PlannerKind::Http,
        }
    }
    fn complete(&mut self, prompt: &Prompt, samples: u32) -> Result<Completion, PlannerError> {
        let mut body = prompt_json(prompt);
        body["n"] = json!(samples);
        let r = self
            .rt
            .block_on(call(&self.app, post_json("/v1/chat/completions", &body)));
        if r.status != 200 {
            return Err(PlannerError::Failed(r.text()));
        }
        let answers = r.json()["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["message"]["content"].as_str().unwrap().to_string())
            .collect();
        Ok(Completion {
            answers,
            usage: Usage::default(),
            latency_ms: 0.0,
            cached: r.header("x-cache") == Some("HIT"),
            probs: Vec::new(),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_agents_solve_tasks_with_the_servers_expert() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = app(dir.path()).await;
    let rt = tokio::runtime::Handle::current();
    let wins = tokio::task::spawn_blocking(move || {
        let mut wins = 0;
        for style in [PromptStyle::When2Ask, PromptStyle::Llm4Teach] {
            let planner = ServerPlanner {
                app: app.clone(),
                rt: rt.clone(),
            };
            let mut agent = PlannerAgent::new(planner, style);
            wins += evaluate(&mut agent, "SimpleDoorKey", 0..10).unwrap().wins();
        }
        wins
    })
    .await
    .unwrap();
    assert!(wins >= 18, "{wins} of 20 episodes solved");
    let usage = state.metrics.usage();
    assert_eq!(usage[0].0, "gridmentor-expert");
    assert!(
        usage[0].2.cache_hits > 0,
        "repeated observations come from the cache"
    );
}

#[tokio::test]
async fn models_and_errors_follow_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path()).await;
    let v = call(&app, get("/v1/models")).await.json();
    assert_eq!(v["object"], "list");
    let expert = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "gridmentor-expert")
        .unwrap();
    assert_eq!(expert["llm"], false);
    assert_eq!(expert["scores"], false, "the expert cannot score");
    assert_eq!(expert["backend"], "gridmentor-expert");

    let r = call(
        &app,
        post_json("/v1/chat/completions", &chat_body("gpt-9", "hi")),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["type"], "model_not_found");

    let cases: [(&str, Body, u16, &str); 6] = [
        (
            "/v1/chat/completions",
            Body::from(vec![0xff, 0x00, 0x13, 0x37]),
            400,
            "not valid JSON",
        ),
        (
            "/v1/chat/completions",
            Body::from("{\"model\": \"gridmentor-expert\"}"),
            400,
            "messages",
        ),
        (
            "/v1/chat/completions",
            Body::from(
                "{\"model\": \"gridmentor-expert\", \"messages\": [{\"role\": \"user\", \"content\": 5}]}",
            ),
            400,
            "content",
        ),
        (
            "/v1/chat/completions",
            Body::from(
                "{\"model\": \"gridmentor-expert\", \"n\": 99, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}",
            ),
            400,
            "\"n\"",
        ),
        (
            "/v1/chat/completions",
            Body::from("[1, 2]"),
            400,
            "JSON object",
        ),
        (
            "/v1/score",
            Body::from(
                "{\"model\": \"gridmentor-expert\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"candidates\": [\"a\"]}",
            ),
            400,
            "cannot score",
        ),
    ];
    for (uri, body, status, want) in cases {
        let req = Request::post(uri)
            .header("content-type", "application/json")
            .body(body)
            .unwrap();
        let r = call(&app, req).await;
        assert_eq!(r.status.as_u16(), status, "{uri}: {}", r.text());
        let msg = r.error();
        assert!(msg.contains(want), "{uri}: {msg}");
    }
    let big = "x".repeat(5 << 20);
    let r = call(
        &app,
        post_json(
            "/v1/chat/completions",
            &chat_body("gridmentor-expert", &big),
        ),
    )
    .await;
    assert_eq!(r.status, 413);
    r.error();
    let r = call(&app, get("/api/nothing-here")).await;
    assert_eq!(r.status, 404);
    r.error();
    assert_eq!(call(&app, get("/healthz")).await.text(), "ok");
}

/// A toy in-process model: answers "ok" token by token, scores by length.
struct Toy;

impl LocalModel for Toy {
    fn generate(
        &mut self,
        _messages: &[ChatMessage],
        params: &GenParams,
        on_token: &mut dyn FnMut(&str),
        _keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<Generated, LocalError> {
        for t in ["o", "k"] {
            on_token(t);
        }
        Ok(Generated {
            text: format!("ok{}", if params.temperature == 0.0 { "" } else { "?" }),
            finish_reason: "stop".into(),
            prompt_tokens: 3,
            completion_tokens: 2,
        })
    }
    fn score(&mut self, _m: &[ChatMessage], candidates: &[String]) -> Result<Scored, LocalError> {
        Ok(Scored {
            scores: candidates
                .iter()
                .map(|c| Score {
                    candidate: c.clone(),
                    logprob: -(c.len() as f64),
                    tokens: c.len() as u32,
                })
                .collect(),
            prompt_tokens: 4,
        })
    }
}

#[tokio::test]
async fn local_models_chat_stream_and_score() {
    let dir = tempfile::tempdir().unwrap();
    let toy: Arc<dyn Backend> = Arc::new(Local::new(
        "toy",
        ModelCard {
            id: "toy-1".into(),
            aliases: vec!["toy".into()],
            ..ModelCard::default()
        },
        Toy,
        Default::default(),
    ));
    let state = AppState::with_backends(settings(dir.path(), None), vec![toy])
        .await
        .unwrap();
    let app = router(state);
    let mut body = chat_body("TOY", "hi");
    body["temperature"] = json!(0);
    let r = call(&app, post_json("/v1/chat/completions", &body)).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["model"], "toy-1");
    assert_eq!(v["choices"][0]["message"]["content"], "ok");
    assert_eq!(v["usage"]["total_tokens"], 5);
    body["stream"] = json!(true);
    body["temperature"] = json!(1);
    let r = call(&app, post_json("/v1/chat/completions", &body)).await;
    let events = r.events();
    assert_eq!(events.len(), 5, "o, k, finish, usage, [DONE]: {events:?}");
    let s = json!({"model": "toy", "messages": [{"role": "user", "content": "q"}],
                   "candidates": ["turn left", "go forward"]});
    let r = call(&app, post_json("/v1/score", &s)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-cache"), Some("MISS"));
    let v = r.json();
    assert_eq!(v["object"], "score");
    assert_eq!(
        v["scores"][1],
        json!({"candidate": "go forward", "logprob": -10.0, "tokens": 10})
    );
    let r = call(&app, post_json("/v1/score", &s)).await;
    assert_eq!(r.header("x-cache"), Some("HIT"));
}

fn checkpoint_bytes(seed: u64, env: &str) -> Vec<u8> {
    let spec = NetSpec::minigrid(7);
    let model = ActorCritic::new(spec, seed, &Device::flex()).unwrap();
    Checkpoint::from_model(
        &model,
        Metadata {
            spec,
            acts: gridmentor_core::nn::ActionSpace::Primitive,
            env: env.into(),
            algorithm: "ppo".into(),
            frames: 1000 + seed,
            seed,
            eval: None,
            curve: Vec::new(),
        },
    )
    .unwrap()
    .to_bytes()
}

/// A checkpoint whose header carries a learning curve of `points` points (format 3).
fn checkpoint_with_curve(seed: u64, env: &str, points: u64) -> Vec<u8> {
    let mut ck = Checkpoint::from_bytes(&checkpoint_bytes(seed, env)).unwrap();
    ck.meta.curve = (1..=points)
        .map(|i| gridmentor_core::nn::CurvePoint {
            frames: i * 512,
            mean_return: 0.5,
            success_rate: i as f32 / points as f32,
        })
        .collect();
    Checkpoint::from_bytes(&ck.to_bytes()).unwrap().to_bytes()
}

/// The learning curve of the file is in the entry of one checkpoint (`/meta`, the upload's
/// answer); lists carry its length only; a file without one says 0 points and an empty curve.
#[tokio::test]
async fn the_learning_curve_comes_with_a_checkpoints_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path()).await;
    let env = "MiniGrid-Empty-5x5-v0";
    let r = call(&app, upload(checkpoint_with_curve(3, env, 4), "")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let e = r.json();
    assert_eq!(e["curve_points"], 4);
    assert_eq!(
        e["curve"][3],
        json!({"frames": 2048, "mean_return": 0.5, "success_rate": 1.0})
    );
    let id = e["id"].as_str().unwrap();
    let meta = call(&app, get(&format!("/api/checkpoints/{id}/meta")))
        .await
        .json();
    assert_eq!(meta["curve"], e["curve"]);
    let list = call(&app, get("/api/checkpoints")).await.json();
    let listed = &list["checkpoints"][0];
    assert_eq!(
        (listed["id"].as_str(), &listed["curve_points"]),
        (Some(id), &json!(4))
    );
    assert!(listed.get("curve").is_none(), "{listed}");
    let r = call(&app, upload(checkpoint_bytes(4, env), "")).await;
    let plain = r.json();
    assert_eq!(
        (&plain["curve_points"], &plain["curve"]),
        (&json!(0), &json!([]))
    );
}

/// With an embedded LLM (a toy one that prefers short answers), the leaderboard's last
/// baseline is its planner + skills agent ranking plans by score: pending until the background
/// worker has played the first `llm_eval_episodes` held-out seeds, then its figures; its
/// scorings went through the response cache. `--llm-eval-episodes 0` has no such row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaderboard_evaluates_the_embedded_llm_as_a_planner_in_the_background() {
    let toy = || -> Arc<dyn Backend> {
        Arc::new(Local::new(
            "toy",
            ModelCard {
                id: "toy-1".into(),
                aliases: vec![],
                ..ModelCard::default()
            },
            Toy,
            Default::default(),
        ))
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), None);
    s.llm_eval_episodes = 3;
    let state = AppState::with_backends(s, vec![toy()]).await.unwrap();
    let app = router(state.clone());
    let last = |v: &Value| v["baselines"].as_array().unwrap().last().cloned().unwrap();
    let first = last(
        &call(&app, get("/api/leaderboard?env=SimpleDoorKey"))
            .await
            .json(),
    );
    assert_eq!(first["agent"], "planner:when2ask:toy-1");
    assert_eq!(first["episodes"], 3);
    assert!(
        matches!(first["status"].as_str(), Some("pending" | "running")),
        "{first}"
    );
    assert!(first.get("success_rate").is_none());
    let mut done = Value::Null;
    for _ in 0..600 {
        done = last(
            &call(&app, get("/api/leaderboard?env=SimpleDoorKey"))
                .await
                .json(),
        );
        if done["status"] != "pending" && done["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["seed"], "1000000");
    let success = done["success_rate"].as_f64().unwrap();
    assert!(
        (0.0..=1.0).contains(&success) && done["mean_steps"].as_f64() > Some(0.0),
        "{done}"
    );
    assert!(state.store.cache_stats().await.unwrap().count > 0);

    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), None);
    s.llm_eval_episodes = 0;
    let app = router(AppState::with_backends(s, vec![toy()]).await.unwrap());
    let lb = call(&app, get("/api/leaderboard?env=SimpleDoorKey"))
        .await
        .json();
    let agents: Vec<&str> = lb["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["agent"].as_str().unwrap())
        .collect();
    assert_eq!(agents, ["planner:when2ask:gridmentor-expert", "random:1"]);
}

/// The shipped When2Ask mediator is evaluated as what it is: it decides when the planner +
/// skills agent asks the scripted expert (as a policy over two actions, left and right, it would
/// never reach the goal).
#[tokio::test]
async fn a_mediator_checkpoint_is_evaluated_with_the_planner_it_mediates() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(AppState::new(settings(dir.path(), None)).await.unwrap());
    let bytes =
        std::fs::read(common::repo_root().join("agents/simpledoorkey-when2ask.ckpt")).unwrap();
    let r = call(&app, upload(bytes, "?name=mediator")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let e = r.json();
    assert_eq!(
        (e["algo"].as_str(), e["actions"].as_u64()),
        (Some("when2ask"), Some(2))
    );
    let done = wait_for_eval(&app, e["id"].as_str().unwrap()).await;
    assert_eq!(done["eval"]["status"], "done", "{done}");
    let sr = done["eval"]["success_rate"].as_f64().unwrap();
    assert!(sr >= 0.75, "success {sr}: {done}");
}

fn upload(bytes: Vec<u8>, query: &str) -> Request<Body> {
    Request::post(format!("/api/checkpoints{query}"))
        .header("content-type", "application/octet-stream")
        .body(Body::from(bytes))
        .unwrap()
}

fn multipart(bytes: &[u8]) -> Request<Body> {
    let mut body = Vec::new();
    body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.ckpt\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    Request::post("/api/checkpoints?name=from-a-form")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(Body::from(body))
        .unwrap()
}

async fn wait_for_eval(app: &Router, id: &str) -> Value {
    for _ in 0..600 {
        let v = call(app, get(&format!("/api/checkpoints/{id}/meta")))
            .await
            .json();
        if matches!(v["eval"]["status"].as_str(), Some("done" | "failed")) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("evaluation of {id} did not finish");
}

#[tokio::test]
async fn checkpoints_upload_dedupe_evaluate_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), None);
    s.admin_token = Some(gridmentor_server::config::Secret("admin-tok".into()));
    let state = AppState::new(s).await.unwrap();
    assert_eq!(state.store.journal_mode().await.unwrap(), "wal");
    let app = router(state);
    let env = "MiniGrid-Empty-5x5-v0";
    let a = checkpoint_bytes(1, env);
    let r = call(&app, upload(a.clone(), "?name=first")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let e = r.json();
    let id = e["id"].as_str().unwrap().to_string();
    assert_eq!(id, gridmentor_server::checkpoints::sha256_hex(&a));
    assert_eq!(e["name"], "first");
    assert_eq!(e["env"], env);
    assert_eq!(e["net"], "minigrid-cnn");
    assert_eq!(e["seed"], "1");
    assert_eq!(e["size"], a.len());
    assert!(e["uploaded_at"].as_str().unwrap().ends_with('Z'));
    // The same file again: 200 with the stored entry.
    let r = call(&app, upload(a.clone(), "?name=again")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["name"], "first");
    // Multipart.
    let b = checkpoint_bytes(2, env);
    let r = call(&app, multipart(&b)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["name"], "from-a-form");
    let id_b = r.json()["id"].as_str().unwrap().to_string();

    let list = call(&app, get(&format!("/api/checkpoints?env={env}")))
        .await
        .json();
    let ids: Vec<&str> = list["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&id.as_str()) && ids.contains(&id_b.as_str()));
    let none = call(&app, get("/api/checkpoints?env=MiniGrid-Empty-6x6-v0"))
        .await
        .json();
    assert_eq!(none["checkpoints"], json!([]));
    let r = call(&app, get(&format!("/api/checkpoints/{id}"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body, a, "download gives the file back");

    // The evaluation fills the entry and the leaderboard.
    let done = wait_for_eval(&app, &id).await;
    assert_eq!(done["eval"]["status"], "done", "{done}");
    assert_eq!(done["eval"]["episodes"], 8);
    assert_eq!(done["eval"]["seed"], "1000000");
    let sr = done["eval"]["success_rate"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&sr));
    assert!(done["eval"]["mean_steps"].as_f64().unwrap() > 0.0);
    wait_for_eval(&app, &id_b).await;
    let lb = call(&app, get("/api/leaderboard?env=Empty-5x5"))
        .await
        .json();
    assert_eq!(lb["env"], env, "aliases resolve");
    let entries = lb["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let key = |e: &Value| {
        (
            e["eval"]["success_rate"].as_f64().unwrap(),
            e["eval"]["mean_return"].as_f64().unwrap(),
        )
    };
    assert!(key(&entries[0]) >= key(&entries[1]), "best first");
    // The baselines, evaluated by core on the same held-out seeds.
    let baselines = lb["baselines"].as_array().unwrap();
    let random = baselines.iter().find(|b| b["agent"] == "random:1").unwrap();
    let mut agent = gridmentor_core::agent::RandomAgent::new(1);
    let s = gridmentor_core::agent::evaluate(&mut agent, env, 1_000_000..1_000_008).unwrap();
    assert_eq!(
        random["success_rate"].as_f64(),
        Some(s.success_rate()),
        "{random}"
    );
    assert_eq!(
        (&random["episodes"], &random["seed"]),
        (&json!(8), &json!("1000000"))
    );
    assert!(
        baselines
            .iter()
            .any(|b| b["agent"] == "planner:when2ask:gridmentor-expert"),
        "{lb}"
    );
    assert_eq!(call(&app, get("/api/leaderboard")).await.status, 400);

    // Deleting needs the admin token.
    let del = |auth: Option<&str>| {
        let mut r = Request::delete(format!("/api/checkpoints/{id}"));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.body(Body::empty()).unwrap()
    };
    assert_eq!(call(&app, del(None)).await.status, 401);
    assert_eq!(call(&app, del(Some("Bearer nope"))).await.status, 401);
    assert_eq!(call(&app, del(Some("Bearer admin-tok"))).await.status, 204);
    assert_eq!(
        call(&app, get(&format!("/api/checkpoints/{id}")))
            .await
            .status,
        404
    );
    assert_eq!(call(&app, del(Some("Bearer admin-tok"))).await.status, 404);
    assert!(!dir.path().join(format!("checkpoints/{id}.ckpt")).exists());
    let r = call(&app, get("/api/checkpoints/..%2F..%2Fetc%2Fpasswd")).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn bad_checkpoints_are_refused_with_the_loaders_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), None);
    s.max_checkpoint_bytes = 256 << 10;
    let state = AppState::new(s).await.unwrap();
    let app = router(state);
    let good = checkpoint_bytes(3, "MiniGrid-Empty-5x5-v0");
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n - 10] ^= 0xff;
    let mut random = vec![0u8; 4096];
    let mut x = 12345u64;
    for b in &mut random {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let cases: [(Vec<u8>, u16, &str); 6] = [
        (random, 422, "not a gridmentor checkpoint"),
        (good[..good.len() - 100].to_vec(), 422, "truncated"),
        (flipped, 422, "sha256"),
        (
            String::from_utf8_lossy(&good)
                .replacen("format 2", "format 9", 1)
                .into_bytes(),
            422,
            "version",
        ),
        (checkpoint_bytes(3, "NoSuchEnv-v0"), 422, "NoSuchEnv"),
        (vec![], 422, "empty"),
    ];
    for (bytes, status, want) in cases {
        let r = call(&app, upload(bytes, "")).await;
        assert_eq!(r.status.as_u16(), status, "{want}: {}", r.text());
        let msg = r.error();
        assert!(msg.contains(want), "{want}: {msg}");
    }
    let r = call(&app, upload(vec![b'G'; 300 << 10], "")).await;
    assert_eq!(r.status, 413);
    assert!(r.error().contains("limit"));
    let mut big = good.clone();
    big.resize(300 << 10, 0);
    let r = call(&app, multipart(&big)).await;
    assert_eq!(r.status, 413, "{}", r.text());
    let r = call(&app, upload(good.clone(), "?name=%07bell")).await;
    assert_eq!(r.status, 422);
    let list = call(&app, get("/api/checkpoints")).await.json();
    assert_eq!(list["checkpoints"], json!([]), "nothing bad was stored");
    assert_eq!(
        std::fs::read_dir(dir.path().join("checkpoints"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        call(&app, upload(good, "")).await.status,
        201,
        "still serving"
    );
}

#[tokio::test]
async fn an_upload_killed_mid_way_leaves_nothing() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let (base, _, _task) = serve(settings(dir.path(), None)).await;
    let addr = base.trim_start_matches("http://");
    let good = checkpoint_bytes(4, "MiniGrid-Empty-5x5-v0");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/checkpoints HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        good.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&good[..good.len() / 2]).await.unwrap();
    drop(sock);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let list = http(reqwest::Client::new().get(format!("{base}/api/checkpoints"))).await;
    assert_eq!(list.json()["checkpoints"], json!([]));
    assert_eq!(
        std::fs::read_dir(dir.path().join("checkpoints"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

fn episode() -> Value {
    json!({"v": 1, "env": "SimpleDoorKey", "seed": "18446744073709551615",
           "agents": [{"kind": "checkpoint", "id": "3f0c".repeat(16)}, {"kind": "planner", "planner": "gridmentor-expert", "style": "when2ask"}],
           "actions": [[2, 2, 1], [2, 0, 2]],
           "transcript": [{"agent": 1, "step": 0, "prompt": "observation: {observed nothing}", "answer": "action: {explore}", "latency_ms": 3.1, "cached": false}]})
}

#[tokio::test]
async fn episodes_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path()).await;
    // Spacing and key order kept as sent.
    let text = format!("{}\n", serde_json::to_string_pretty(&episode()).unwrap());
    let post = |t: &str| {
        Request::post("/api/episodes")
            .header("content-type", "application/json")
            .body(Body::from(t.to_string()))
            .unwrap()
    };
    let r = call(&app, post(&text)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 16);
    let back = call(&app, get(&format!("/api/episodes/{id}"))).await;
    assert_eq!(back.status, 200);
    assert_eq!(back.header("content-type"), Some("application/json"));
    assert_eq!(back.text(), text);
    let again = call(&app, post(&text)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], id.as_str());
    let r = call(&app, get(&format!("/e/{id}"))).await;
    assert!(r.status.is_redirection());
    assert_eq!(r.header("location"), Some(format!("/#ep={id}").as_str()));
    assert_eq!(
        call(&app, get("/api/episodes/0123456789abcdef"))
            .await
            .status,
        404
    );
    assert_eq!(call(&app, get("/api/episodes/zz")).await.status, 400);
}

#[tokio::test]
async fn hostile_episodes_are_refused_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), None);
    s.max_episode_bytes = 4096;
    let state = AppState::new(s).await.unwrap();
    let app = router(state);
    let mut cases: Vec<(Body, u16, String)> = vec![
        (
            Body::from("{\"v\": 1, \"env\": "),
            400,
            "not valid JSON".into(),
        ),
        (Body::from(vec![0x80u8; 64]), 400, "not valid JSON".into()),
        (Body::from("[".repeat(3000)), 400, "not valid JSON".into()),
        (
            Body::from(format!("{{\"pad\": \"{}\"}}", "x".repeat(8000))),
            413,
            "limit".into(),
        ),
    ];
    for (field, value, want) in [
        ("actions", json!([[2, 2, 7], [1]]), "actions[0][2]"),
        ("actions", json!([[2, -1], [1]]), "actions[0][1]"),
        ("actions", json!([[2, 1.5], [1]]), "actions[0][1]"),
        ("env", json!("DROP TABLE episodes"), "DROP TABLE"),
        ("seed", json!("-1"), "decimal u64"),
        ("v", json!(99), "version 99"),
        ("agents", json!([]), "1 to 4"),
        (
            "transcript",
            json!([{"agent": 9, "step": 0, "prompt": "p", "answer": "a", "latency_ms": 1}]),
            "names no agent",
        ),
        ("transcript", json!([{"agent": 0}]), "transcript[0]"),
        ("actions", json!([vec![0; 200], [1]]), "ended at step 100"),
    ] {
        let mut e = episode();
        e[field] = value;
        cases.push((Body::from(e.to_string()), 422, want.to_string()));
    }
    for (body, status, want) in cases {
        let req = Request::post("/api/episodes")
            .header("content-type", "application/json")
            .body(body)
            .unwrap();
        let r = call(&app, req).await;
        assert_eq!(r.status.as_u16(), status, "{want}: {}", r.text());
        let msg = r.error();
        assert!(msg.contains(&want), "{want}: {msg}");
    }
    let r = call(&app, post_json("/api/episodes", &episode())).await;
    assert_eq!(r.status, 201, "still serving");
}

/// The same store on PostgreSQL: set `GRIDMENTOR_TEST_POSTGRES_URL=postgres://USER:PASS@HOST/DB`
/// to run it (skipped otherwise; SQLite is what every other test uses).
#[tokio::test]
async fn the_store_speaks_postgres_too() {
    let Ok(url) = std::env::var("GRIDMENTOR_TEST_POSTGRES_URL") else {
        eprintln!("skipped: GRIDMENTOR_TEST_POSTGRES_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), None);
    s.database_url = url;
    s.admin_token = Some(gridmentor_server::config::Secret("pg-admin".into()));
    let state = AppState::new(s).await.unwrap();
    let app = router(state);
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let bytes = checkpoint_bytes(unique % 1_000_000, "MiniGrid-Empty-5x5-v0");
    let r = call(&app, upload(bytes.clone(), "?name=pg")).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(call(&app, upload(bytes, "")).await.status, 200);
    let done = wait_for_eval(&app, &id).await;
    assert_eq!(done["eval"]["status"], "done", "{done}");
    let lb = call(&app, get("/api/leaderboard?env=MiniGrid-Empty-5x5-v0"))
        .await
        .json();
    assert!(
        lb["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id.as_str())
    );
    let mut ep = episode();
    ep["seed"] = json!(unique.to_string());
    let r = call(&app, post_json("/api/episodes", &ep)).await;
    assert_eq!(r.status, 201);
    let eid = r.json()["id"].as_str().unwrap().to_string();
    let back = call(&app, get(&format!("/api/episodes/{eid}")))
        .await
        .json();
    assert_eq!(back, ep);
    let mut chat = chat_body("gridmentor-expert", "observation: {observed a key}");
    chat["seed"] = json!(unique);
    let first = call(&app, post_json("/v1/chat/completions", &chat)).await;
    assert_eq!(first.header("x-cache"), Some("MISS"));
    let second = call(&app, post_json("/v1/chat/completions", &chat)).await;
    assert_eq!(second.header("x-cache"), Some("HIT"));
    let del = Request::delete(format!("/api/checkpoints/{id}"))
        .header("authorization", "Bearer pg-admin")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&app, del).await.status, 204);
}

fn delete(uri: &str, token: Option<&str>) -> Request<Body> {
    let mut r = Request::delete(uri);
    if let Some(t) = token {
        r = r.header("authorization", format!("Bearer {t}"));
    }
    r.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn storage_quotas_and_the_evaluation_queue_answer_429() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), None);
    s.quotas.episodes = 2;
    s.quotas.checkpoints = 3;
    s.eval_queue = 4; // one waiting evaluation per client
    let state = AppState::new(s).await.unwrap();
    let app = router(state.clone());
    for seed in ["1", "2"] {
        let mut e = episode();
        e["seed"] = json!(seed);
        assert_eq!(call(&app, post_json("/api/episodes", &e)).await.status, 201);
    }
    let mut e = episode();
    e["seed"] = json!("3");
    let r = call(&app, post_json("/api/episodes", &e)).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["error"]["type"], "quota_exceeded");
    assert!(r.error().contains("--quota-episodes 2"));
    // An episode already stored is no new storage.
    e["seed"] = json!("1");
    assert_eq!(call(&app, post_json("/api/episodes", &e)).await.status, 200);

    // While the evaluator is busy, this client's one place in the queue is taken by its first
    // upload.
    let busy = state.evaluating.lock().await;
    let env = "MiniGrid-Empty-5x5-v0";
    assert_eq!(
        call(&app, upload(checkpoint_bytes(11, env), ""))
            .await
            .status,
        201
    );
    let r = call(&app, upload(checkpoint_bytes(12, env), "")).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["error"]["type"], "eval_queue_full");
    assert!(r.header("retry-after").is_some());
    drop(busy);
    // Once evaluated, there is room again, up to the storage quota of 3 checkpoints.
    for seed in [12, 13] {
        let list = call(&app, get("/api/checkpoints")).await.json();
        for e in list["checkpoints"].as_array().unwrap() {
            wait_for_eval(&app, e["id"].as_str().unwrap()).await;
        }
        let r = call(&app, upload(checkpoint_bytes(seed, env), "")).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let list = call(&app, get("/api/checkpoints")).await.json();
    for e in list["checkpoints"].as_array().unwrap() {
        wait_for_eval(&app, e["id"].as_str().unwrap()).await;
    }
    let r = call(&app, upload(checkpoint_bytes(14, env), "")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["type"], "quota_exceeded");
}

#[tokio::test]
async fn admins_delete_episodes_and_clear_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path(), None);
    s.admin_token = Some(gridmentor_server::config::Secret("adm".into()));
    s.cache_max_entries = 10;
    let state = AppState::new(s).await.unwrap();
    let app = router(state.clone());
    let id = call(&app, post_json("/api/episodes", &episode()))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let uri = format!("/api/episodes/{id}");
    assert_eq!(call(&app, delete(&uri, None)).await.status, 401);
    assert_eq!(call(&app, delete(&uri, Some("nope"))).await.status, 401);
    assert_eq!(call(&app, delete(&uri, Some("adm"))).await.status, 204);
    assert_eq!(call(&app, get(&uri)).await.status, 404);
    assert_eq!(call(&app, delete(&uri, Some("adm"))).await.status, 404);
    // The cache keeps at most 10 answers, the oldest evicted first.
    for i in 0..30 {
        let mut c = chat_body("gridmentor-expert", "observation: {observed nothing}");
        c["seed"] = json!(i);
        let r = call(&app, post_json("/v1/chat/completions", &c)).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let entries = call(&app, get("/api/usage")).await.json()["cache_entries"]
        .as_u64()
        .unwrap();
    assert!((1..=10).contains(&entries), "{entries} cache entries");
    let mut newest = chat_body("gridmentor-expert", "observation: {observed nothing}");
    newest["seed"] = json!(29);
    let r = call(&app, post_json("/v1/chat/completions", &newest)).await;
    assert_eq!(r.header("x-cache"), Some("HIT"), "the newest answer stays");
    let r = call(&app, delete("/api/cache", Some("adm"))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["deleted"].as_u64().unwrap() >= 1);
    let r = call(&app, post_json("/v1/chat/completions", &newest)).await;
    assert_eq!(
        r.header("x-cache"),
        Some("MISS"),
        "cleared, memory included"
    );
    assert_eq!(call(&app, delete("/api/cache", None)).await.status, 401);
    // Without a token the admin routes are off.
    let dir2 = tempfile::tempdir().unwrap();
    let (plain, _) = app_with(settings(dir2.path(), None)).await;
    assert_eq!(
        call(&plain, delete("/api/cache", Some("adm"))).await.status,
        403
    );
}

async fn app_with(s: gridmentor_server::Settings) -> (Router, Arc<AppState>) {
    let state = AppState::new(s).await.unwrap();
    (router(state.clone()), state)
}

#[tokio::test]
async fn writes_need_their_content_type_and_every_answer_has_safe_headers() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = app(dir.path()).await;
    let chat = chat_body("gridmentor-expert", "observation: {observed nothing}");
    let post = |uri: &str, ct: &str, body: String, origin: Option<&str>| {
        let mut r = Request::post(uri).header("content-type", ct);
        if let Some(o) = origin {
            r = r.header("origin", o).header("host", "127.0.0.1:8080");
        }
        r.body(Body::from(body)).unwrap()
    };
    let r = call(
        &app,
        post("/v1/chat/completions", "text/plain", chat.to_string(), None),
    )
    .await;
    assert_eq!(r.status, 415);
    assert!(r.error().contains("application/json"));
    let r = call(
        &app,
        post(
            "/api/episodes",
            "application/json",
            episode().to_string(),
            Some("https://evil.example"),
        ),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.error().contains("evil.example"));
    let r = call(
        &app,
        post(
            "/api/episodes",
            "application/json",
            episode().to_string(),
            Some("http://127.0.0.1:8080"),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "same origin: {}", r.text());
    // Errors nobody wrote a body for get the OpenAI shape.
    let r = call(&app, get("/v1/chat/completions")).await;
    assert_eq!(r.status, 405);
    assert!(r.error().contains("GET"));
    assert_eq!(r.header("allow"), Some("POST"));
    let r = call(&app, get("/v1/nothing")).await;
    assert_eq!(r.status, 404);
    r.error();
    let r = call(&app, get("/no-such-file.js")).await;
    assert_eq!(r.status, 404);
    r.error();
    for path in ["/", "/api/envs", "/v1/models", "/nothing"] {
        let r = call(&app, get(path)).await;
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'self'"));
    }
}
