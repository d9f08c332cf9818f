//! The HTTP planner against a real HTTP server on 127.0.0.1: a small fake upstream, started by
//! each test and scripted per request, that records what it received.

mod common;

use gridmentor_core::planner::{self, Plan, Planner, Prompt, PromptStyle, Ranking};
use gridmentor_core::skills::{Skill, Target};
use gridmentor_core::world::Kind;
use gridmentor_trainer::llm::{HttpPlanner, HttpSettings};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A request as the fake upstream saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("the request body is JSON")
    }
}

/// What the fake upstream answers.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

impl Reply {
    fn ok(body: String) -> Reply {
        Reply::status(200, body)
    }

    fn status(status: u16, body: String) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body,
            delay: Duration::ZERO,
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// A chat-completions body with these answers.
fn chat(answers: &[&str], usage: Option<(u32, u32)>) -> String {
    let choices: Vec<Value> = answers
        .iter()
        .enumerate()
        .map(|(i, a)| {
            json!({"index": i, "message": {"role": "assistant", "content": a}, "finish_reason": "stop"})
        })
        .collect();
    let mut body = json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": choices});
    if let Some((p, c)) = usage {
        body["usage"] = json!({"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c});
    }
    body.to_string()
}

fn error_body(message: &str) -> String {
    json!({"error": {"message": message, "type": "server_error"}}).to_string()
}

struct Fake {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    /// Serve on a free port; `script(i, request)` answers the i-th request (from 0).
    fn start(script: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let log = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, script) = (Arc::clone(&log), Arc::clone(&script));
                // A thread per connection, so a slow answer does not hold up the next attempt.
                thread::spawn(move || serve(stream, &log, &*script));
            }
        });
        Fake { base, seen }
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn planner(&self, settings: HttpSettings) -> HttpPlanner {
        HttpPlanner::from_spec_with(&format!("{}/v1#gridmentor-test", self.base), settings).unwrap()
    }
}

/// One request per connection: read it, record it, answer as scripted, close.
fn serve(stream: TcpStream, log: &Mutex<Vec<Seen>>, script: &dyn Fn(usize, &Seen) -> Reply) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':').expect("a header line");
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let seen = Seen {
        method,
        path,
        headers,
        body: String::from_utf8(body).unwrap(),
    };
    let index = {
        let mut log = log.lock().unwrap();
        log.push(seen.clone());
        log.len() - 1
    };
    let reply = script(index, &seen);
    thread::sleep(reply.delay);
    let mut out = format!(
        "HTTP/1.1 {} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    // The client may have given up (timeout): nothing to do then.
    let _ = (&stream).write_all(out.as_bytes());
}

/// Settings that keep the tests fast.
fn fast() -> HttpSettings {
    HttpSettings {
        timeout: Duration::from_secs(5),
        max_retries: 2,
        backoff: Duration::from_millis(5),
        max_wait: Duration::from_millis(50),
        api_key_env: String::from("GRIDMENTOR_TEST_NO_SUCH_KEY"),
        // These fakes speak chat completions only; scoring has its own tests.
        score_plans: false,
        ..HttpSettings::default()
    }
}

fn prompt() -> Prompt {
    Prompt::build(
        PromptStyle::Llm4Teach,
        "MiniGrid-SimpleDoorKey-Min5-Max10-View3",
        "open the door",
        "Agent sees <key>, <door>, holds <nothing>.",
    )
}

fn door_key_plan() -> Plan {
    let key = Target::new(Kind::Key, None);
    let door = Target::new(Kind::Door, None);
    Plan(vec![
        Skill::GoTo(key),
        Skill::PickUp(key),
        Skill::GoTo(door),
        Skill::Toggle(door),
    ])
}

#[test]
fn a_good_answer_becomes_a_plan_through_ask() {
    let fake = Fake::start(|_, _| {
        Reply::ok(chat(
            &["1. The agent sees a key and a door.\n2. It should open the door.\n3. Action: {go to <key>, pick up <key>, go to <door>, toggle <door>}"],
            Some((321, 17)),
        ))
        .header("X-Cache", "HIT")
    });
    let mut p = fake.planner(fast());
    let ex = planner::ask(&mut p, &prompt(), 1, 2).unwrap();
    assert_eq!(ex.attempts, 1);
    assert_eq!(ex.good_plans().collect::<Vec<_>>(), [&door_key_plan()]);
    assert_eq!(ex.usage.prompt_tokens, 321);
    assert_eq!(ex.usage.completion_tokens, 17);
    assert!(ex.cached, "X-Cache: HIT marks the answer as cached");
    assert!(ex.latency_ms > 0.0);
    assert!(ex.planner.is_llm());
    assert!(
        ex.planner.name.contains("gridmentor-test"),
        "{}",
        ex.planner.name
    );
    assert_eq!(fake.calls(), 1);
}

#[test]
fn the_request_carries_model_n_temperature_and_both_roles() {
    let fake = Fake::start(|_, _| Reply::ok(chat(&["explore", "explore", "explore"], None)));
    let settings = HttpSettings {
        temperature: 0.7,
        max_tokens: 64,
        seed: Some(42),
        ..fast()
    };
    let mut p = fake.planner(settings);
    let prompt = prompt();
    let c = p.complete(&prompt, 3).unwrap();
    assert_eq!(c.answers, ["explore"; 3]);
    assert_eq!(c.usage.prompt_tokens, 0, "absent usage counts as 0");
    assert!(!c.cached);

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions", "/v1 is not doubled");
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(
        r.header("authorization"),
        None,
        "no key, no Authorization header"
    );
    let body = r.json();
    assert_eq!(body["model"], "gridmentor-test");
    assert_eq!(body["n"], 3);
    assert!((body["temperature"].as_f64().unwrap() - 0.7).abs() < 1e-6);
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["seed"], 42);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["role"], "system");
    assert_eq!(messages[0]["content"], prompt.messages[0].content.as_str());
    assert_eq!(messages[1]["role"], "user");
    assert_eq!(
        messages[1]["content"],
        "Agent sees <key>, <door>, holds <nothing>."
    );
}

#[test]
fn the_default_request_has_temperature_zero_and_no_seed() {
    let fake = Fake::start(|_, _| Reply::ok(chat(&["explore"], None)));
    let mut p = fake.planner(fast());
    p.complete(&prompt(), 1).unwrap();
    let body = fake.requests()[0].json();
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["max_tokens"], 128);
    assert!(body.get("seed").is_none());
}

#[test]
fn a_500_then_a_200_is_retried_and_succeeds() {
    let fake = Fake::start(|i, _| match i {
        0 => Reply::status(500, error_body("upstream hiccup")),
        _ => Reply::ok(chat(&["go to the key, pick up the key"], Some((10, 5)))),
    });
    let mut p = fake.planner(fast());
    let c = p.complete(&prompt(), 1).unwrap();
    assert_eq!(c.answers, ["go to the key, pick up the key"]);
    assert_eq!(c.usage.prompt_tokens, 10);
    assert_eq!(fake.calls(), 2);
}

#[test]
fn a_persistent_500_fails_after_the_bounded_retries_with_the_status() {
    let fake = Fake::start(|_, _| Reply::status(500, error_body("the model fell over")));
    let mut p = fake.planner(fast());
    let err = p.complete(&prompt(), 1).unwrap_err().to_string();
    assert_eq!(fake.calls(), 3, "1 attempt + max_retries = 2");
    assert!(err.contains("HTTP 500"), "{err}");
    assert!(err.contains("the model fell over"), "{err}");
    assert!(err.contains("/v1/chat/completions"), "{err}");
    assert!(err.contains("3 attempts"), "{err}");
}

#[test]
fn a_client_error_is_not_retried() {
    let fake = Fake::start(|_, _| {
        Reply::status(
            404,
            error_body("The model `gridmentor-test` does not exist"),
        )
    });
    let mut p = fake.planner(fast());
    let err = p.complete(&prompt(), 1).unwrap_err().to_string();
    assert_eq!(fake.calls(), 1);
    assert!(err.contains("HTTP 404"), "{err}");
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn a_slow_server_times_out_within_bounded_time() {
    let fake = Fake::start(|_, _| Reply {
        delay: Duration::from_millis(1500),
        ..Reply::ok(chat(&["explore"], None))
    });
    let settings = HttpSettings {
        timeout: Duration::from_millis(200),
        max_retries: 1,
        ..fast()
    };
    let mut p = fake.planner(settings);
    let start = Instant::now();
    let err = p.complete(&prompt(), 1).unwrap_err().to_string();
    let elapsed = start.elapsed();
    assert!(err.contains("timed out after 0.2s"), "{err}");
    assert_eq!(fake.calls(), 2, "a timeout is retried, boundedly");
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1400), "{elapsed:?}");
}

#[test]
fn an_unparseable_answer_is_asked_again_boundedly_and_returned() {
    let fake = Fake::start(|_, _| {
        Reply::ok(chat(
            &["I am sorry, I cannot help with that request."],
            Some((100, 9)),
        ))
    });
    let mut p = fake.planner(fast());
    let ex = planner::ask(&mut p, &prompt(), 1, 2).unwrap();
    assert_eq!(ex.attempts, 3);
    assert_eq!(fake.calls(), 3);
    assert_eq!(ex.answers.len(), 3);
    assert_eq!(ex.good_plans().count(), 0);
    assert_eq!(ex.usage.prompt_tokens, 300);
    let why = ex.plans[0].as_ref().unwrap_err();
    assert!(why.contains("no skill"), "{why}");
}

#[test]
fn a_429_waits_for_retry_after_but_no_longer_than_the_cap() {
    let fake = Fake::start(|i, _| match i {
        0 => Reply::status(429, error_body("Rate limit reached")).header("Retry-After", "5"),
        _ => Reply::ok(chat(&["explore"], None)),
    });
    let settings = HttpSettings {
        backoff: Duration::from_millis(1),
        max_wait: Duration::from_millis(300),
        ..fast()
    };
    let mut p = fake.planner(settings);
    let start = Instant::now();
    let c = p.complete(&prompt(), 1).unwrap();
    let elapsed = start.elapsed();
    assert_eq!(c.answers, ["explore"]);
    assert_eq!(fake.calls(), 2);
    assert!(
        elapsed >= Duration::from_millis(300),
        "Retry-After was honoured up to the cap: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "the cap held: {elapsed:?}"
    );
}

#[test]
fn a_persistent_429_reports_the_rate_limit() {
    let fake = Fake::start(|_, _| {
        Reply::status(429, error_body("Rate limit reached")).header("Retry-After", "0")
    });
    let mut p = fake.planner(fast());
    let err = p.complete(&prompt(), 1).unwrap_err().to_string();
    assert_eq!(fake.calls(), 3);
    assert!(err.contains("HTTP 429"), "{err}");
    assert!(err.contains("Rate limit reached"), "{err}");
}

#[test]
fn a_server_that_ignores_n_is_asked_again_for_the_rest() {
    let fake = Fake::start(|i, _| {
        Reply::ok(chat(
            &[["explore", "drop", "toggle the door"][i]],
            Some((50, 3)),
        ))
    });
    let mut p = fake.planner(fast());
    let c = p.complete(&prompt(), 3).unwrap();
    assert_eq!(c.answers, ["explore", "drop", "toggle the door"]);
    assert_eq!(c.usage.prompt_tokens, 150);
    assert_eq!(c.usage.completion_tokens, 9);
    let ns: Vec<Value> = fake
        .requests()
        .iter()
        .map(|r| r.json()["n"].clone())
        .collect();
    assert_eq!(
        ns,
        [3, 2, 1],
        "each request asks only for the answers still missing"
    );
}

#[test]
fn the_api_key_reaches_the_server_but_not_the_error_text() {
    const KEY: &str = "sk-test-0123456789abcdef";
    // The server echoes the key back, as some do in "invalid key" messages.
    let fake = Fake::start(|_, r| {
        let auth = r.header("authorization").unwrap_or("").to_string();
        Reply::status(
            401,
            error_body(&format!("Incorrect API key provided: {auth}")),
        )
    });
    let mut p = fake.planner(fast()).with_api_key(KEY);
    let err = p.complete(&prompt(), 1).unwrap_err().to_string();
    assert_eq!(
        fake.requests()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(!err.contains(KEY), "the key leaked: {err}");
    assert!(!format!("{p:?}").contains(KEY));
}

#[test]
fn the_api_key_is_read_from_the_named_environment_variable() {
    // Cargo sets CARGO_PKG_NAME when it runs the tests; reading it avoids `set_var` in a
    // multi-threaded test process.
    let Ok(value) = std::env::var("CARGO_PKG_NAME") else {
        return;
    };
    let fake = Fake::start(|_, _| Reply::ok(chat(&["explore"], None)));
    let settings = HttpSettings {
        api_key_env: String::from("CARGO_PKG_NAME"),
        ..fast()
    };
    fake.planner(settings).complete(&prompt(), 1).unwrap();
    assert_eq!(
        fake.requests()[0].header("authorization"),
        Some(format!("Bearer {value}").as_str())
    );
}

#[test]
fn malformed_json_and_missing_choices_are_clear_errors() {
    let fake = Fake::start(|i, _| match i {
        0 => Reply::ok(String::from("<html>502 Bad Gateway</html>")),
        _ => Reply::ok(String::from(r#"{"choices": []}"#)),
    });
    let mut p = fake.planner(fast());
    let err = p.complete(&prompt(), 1).unwrap_err().to_string();
    assert!(err.contains("malformed JSON"), "{err}");
    assert!(err.contains("<html>502 Bad Gateway</html>"), "{err}");
    let err = p.complete(&prompt(), 1).unwrap_err().to_string();
    assert!(err.contains("no choices"), "{err}");
    assert_eq!(fake.calls(), 2, "a bad body is not retried");
}

#[test]
fn a_closed_port_is_a_connection_refused_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = format!("http://127.0.0.1:{port}/v1#m");
    let mut p = HttpPlanner::from_spec_with(&spec, fast()).unwrap();
    let start = Instant::now();
    let err = p.complete(&prompt(), 1).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "connection refused to http://127.0.0.1:{port}/v1/chat/completions"
        )),
        "{err}"
    );
    assert!(err.contains("3 attempts"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

/// A `/v1/score` answer that likes the candidates containing `liked` (log-likelihood -1) over
/// the rest (-8).
fn scores_liking(seen: &Seen, liked: &str) -> Reply {
    let scores: Vec<Value> = seen.json()["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let c = c.as_str().unwrap();
            let lp = if c.contains(liked) { -1.0 } else { -8.0 };
            json!({"candidate": c, "logprob": lp, "tokens": 9})
        })
        .collect();
    let usage = json!({"prompt_tokens": 300, "completion_tokens": 0, "total_tokens": 300});
    Reply::ok(json!({"object": "score", "scores": scores, "usage": usage}).to_string())
}

/// Against an endpoint that scores, the planner ranks core's candidate plans with one call an
/// ask: the answer is the most likely plan, the exchange carries the probabilities.
#[test]
fn plans_by_scoring_when_the_endpoint_scores() {
    let liked = "go to the key, pick up the key, go to the door, toggle the door";
    let fake = Fake::start(move |_, seen| scores_liking(seen, liked));
    let mut p = fake.planner(HttpSettings {
        score_plans: true,
        ranking: Ranking::Total,
        ..fast()
    });
    let prompt = Prompt::build(
        PromptStyle::Llm4Teach,
        "SimpleDoorKey",
        "",
        "Agent sees <key>, <door>, holds <nothing>.",
    );
    let ex = planner::ask(&mut p, &prompt, 10, 2).unwrap();
    assert_eq!(fake.calls(), 1, "one scoring call, no retries, no samples");
    let r = &fake.requests()[0];
    assert_eq!(r.path, "/v1/score");
    let n = r.json()["candidates"].as_array().unwrap().len();
    assert!(n >= 5, "{n} candidates");
    assert_eq!(ex.answers.len(), n);
    assert_eq!(ex.probs.len(), n);
    let soft = planner::SoftPlan::from_exchange(&ex).unwrap();
    assert_eq!(soft.most_likely().to_string(), liked);
    let e7 = (7.0f32).exp();
    assert!(
        (soft.plans[0].1 - e7 / (e7 + (n - 1) as f32)).abs() < 1e-4,
        "{soft:?}"
    );
    assert_eq!(ex.usage.prompt_tokens, 300);
}

/// An endpoint that cannot score (400, as the server answers for a model without scoring) gets
/// generated answers from then on: one probe, then chat completions only.
#[test]
fn falls_back_to_generation_when_the_endpoint_cannot_score() {
    let fake = Fake::start(|_, seen| {
        if seen.path.ends_with("/score") {
            Reply::status(
                400,
                error_body("model gridmentor-test cannot score candidates"),
            )
        } else {
            Reply::ok(chat(&["action: {explore}"], Some((40, 4))))
        }
    });
    let mut p = fake.planner(HttpSettings {
        score_plans: true,
        ..fast()
    });
    for _ in 0..3 {
        let ex = planner::ask(&mut p, &prompt(), 1, 0).unwrap();
        assert_eq!(ex.good_plans().next(), Some(&Plan(vec![Skill::Explore])));
        assert!(ex.probs.is_empty());
    }
    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/v1/score",
            "/v1/chat/completions",
            "/v1/chat/completions",
            "/v1/chat/completions"
        ]
    );
}

/// Per-token scores (the default) rank a long right plan above a short wrong one that has the
/// larger summed log-likelihood; the summed rule picks the short one.
#[test]
fn per_token_scores_do_not_favour_short_plans() {
    let liked = "go to the key, pick up the key, go to the door, toggle the door";
    let fake = Fake::start(move |_, seen| {
        let scores: Vec<Value> = seen.json()["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let c = c.as_str().unwrap();
                let tokens = c.split_whitespace().count();
                let per = if c.contains(liked) { -0.5 } else { -1.0 };
                json!({"candidate": c, "logprob": per * tokens as f64, "tokens": tokens})
            })
            .collect();
        Reply::ok(json!({"object": "score", "scores": scores}).to_string())
    });
    let prompt = Prompt::build(
        PromptStyle::Llm4Teach,
        "SimpleDoorKey",
        "",
        "Agent sees <key>, <door>, holds <nothing>.",
    );
    for (ranking, want) in [(Ranking::PerToken, liked), (Ranking::Total, "explore")] {
        let mut p = fake.planner(HttpSettings {
            score_plans: true,
            ranking,
            ..fast()
        });
        let ex = planner::ask(&mut p, &prompt, 1, 0).unwrap();
        let soft = planner::SoftPlan::from_exchange(&ex).unwrap();
        assert_eq!(soft.most_likely().to_string(), want, "{ranking:?}");
    }
}

/// `eval --max-calls`: a model that never answers usably is asked at most that many times an
/// episode; after that the agent explores on its own, and the result counts the unusable
/// answers and the fallbacks. A limit on other agents, or of 0, is refused.
#[test]
fn eval_bounds_the_calls_of_an_episode_and_counts_the_fallbacks() {
    let fake = Fake::start(|_, _| Reply::ok(chat(&["questioning the rogue agent"], Some((30, 5)))));
    let planner = format!("{}/v1#babbler", fake.base);
    let run = |agent: &str, extra: &[&str]| {
        let mut a = vec![
            "eval",
            "--env",
            "SimpleDoorKey",
            "--agent",
            agent,
            "--planner",
            &planner,
            "--episodes",
            "2",
            "--seed",
            "7",
            "--json",
        ];
        a.extend_from_slice(extra);
        common::gridmentor(&a)
    };
    let r = common::json(&run("planner", &["--max-calls", "4"]));
    assert_eq!(r["llm_calls_per_episode"], 4.0, "{r}");
    assert_eq!(r["unusable_answers_per_episode"], 4.0, "{r}");
    // Each ask (3 calls, then the 1 the limit leaves) fell back to exploring.
    assert!(r["fallbacks_per_episode"].as_f64() >= Some(2.0), "{r}");
    let chats = fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/chat/completions"))
        .count();
    assert_eq!(
        chats,
        8,
        "4 calls in each of 2 episodes: {:?}",
        fake.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    // Tokens: 35 a call, so 100 allows 3 calls (the third crosses it).
    let r = common::json(&run("planner", &["--max-tokens", "100"]));
    assert_eq!(r["llm_calls_per_episode"], 3.0, "{r}");
    for (agent, extra, why) in [
        ("planner", "0", "0 is not in 1.."),
        ("random", "3", "bound the planner agent"),
    ] {
        let out = run(agent, &["--max-calls", extra]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(why),
            "{agent} {extra}: {err}"
        );
    }
}
