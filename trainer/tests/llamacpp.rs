//! A real third-party upstream: llama.cpp's OpenAI-compatible server (llama-cpp-python[server])
//! serving the embedded model's GGUF on 127.0.0.1, behind gridmentor-server's upstream proxy
//! (chat, streaming, errors) and under the trainer's HTTP planner, directly and through the proxy.
//!
//! Ignored by `cargo test` (building llama.cpp took 43 minutes on 2 busy cores); `make test-llamacpp`
//! builds it once (scripts/setup-llamacpp.sh) and runs this with GRIDMENTOR_LLAMACPP_PYTHON (the
//! venv's python) and GRIDMENTOR_MODEL (the GGUF) set.

mod common;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The name llama.cpp serves the model under, and the proxy forwards.
const ALIAS: &str = "smollm2-llamacpp";

/// A child process killed when dropped, so a failed assertion leaves no server behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn required(var: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{var} is not set: run this through `make test-llamacpp`"));
    assert!(p.is_file(), "{var}={} is not a file", p.display());
    p
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// llama.cpp's server on a free loopback port; its base URL (`.../v1`) once it answers.
fn start_llamacpp(python: &Path, model: &Path) -> (Guard, String) {
    let port = free_port();
    let child = Command::new(python)
        .args(["-m", "llama_cpp.server", "--model"])
        .arg(model)
        // SmolLM2 is a ChatML model, as the embedded path prompts it.
        .args([
            "--model_alias",
            ALIAS,
            "--chat_format",
            "chatml",
            "--host",
            "127.0.0.1",
        ])
        .args([
            "--port",
            &port.to_string(),
            "--n_ctx",
            "2048",
            "--n_threads",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start llama.cpp's server");
    let guard = Guard(child);
    let base = format!("http://127.0.0.1:{port}/v1");
    let until = Instant::now() + Duration::from_secs(180);
    while Instant::now() < until {
        if let Ok(mut r) = ureq::get(&format!("{base}/models")).call() {
            let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
            assert_eq!(v["data"][0]["id"], ALIAS, "{v}");
            return (guard, base);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("llama.cpp's server did not answer on {base} within 180 s");
}

/// gridmentor-server (this build's) with llama.cpp as its upstream; its base URL.
fn start_gridmentor(upstream: &str, data: &Path) -> (Guard, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_gridmentor")).with_file_name("gridmentor-server");
    let mut child = Command::new(&bin)
        .args([
            "--addr",
            "127.0.0.1:0",
            "--embedded-llm",
            "false",
            "--rate-limit",
            "0",
        ])
        .args(["--upstream-url", upstream, "--upstream-models", ALIAS])
        .arg("--data")
        .arg(data)
        .arg("--www")
        .arg(common::repo_root().join("www"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {} (cargo build --workspace): {e}", bin.display()));
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("gridmentor playground: http://") {
                let _ = tx.send(rest.trim_end_matches('/').to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("gridmentor-server printed its address");
    (Guard(child), format!("http://{addr}/v1"))
}

/// POST `body` to `{base}/chat/completions`: the status and the body's text.
fn post(base: &str, body: &Value) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut r = agent
        .post(&format!("{base}/chat/completions"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap_or_else(|e| panic!("POST {base}/chat/completions: {e}"));
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap())
}

fn ask(question: &str) -> Value {
    json!({
        "model": ALIAS,
        "messages": [{"role": "user", "content": question}],
        "temperature": 0,
        "max_tokens": 24,
    })
}

/// The content deltas of an SSE answer, in order; panics unless it ends with `[DONE]`.
fn stream_deltas(sse: &str) -> Vec<String> {
    let mut deltas = Vec::new();
    let mut done = false;
    for line in sse.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        assert!(!done, "an event after [DONE]: {sse}");
        if data == "[DONE]" {
            done = true;
            continue;
        }
        let v: Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"));
        if let Some(t) = v["choices"][0]["delta"]["content"].as_str() {
            deltas.push(t.to_string());
        }
    }
    assert!(done, "the stream did not end with [DONE]: {sse}");
    deltas
}

/// `gridmentor eval` of the planner + skills agent with `planner`; its JSON report.
fn eval_planner(planner: &str, episodes: u32) -> Value {
    let out = common::gridmentor(&[
        "eval",
        "--env",
        "SimpleDoorKey",
        "--agent",
        "planner",
        "--planner",
        planner,
        "--episodes",
        &episodes.to_string(),
        "--seed",
        "1000000",
        "--json",
    ]);
    common::json(&out)
}

#[test]
#[ignore = "needs llama.cpp's server: make test-llamacpp"]
fn llamacpp_behind_the_proxy_and_under_the_planner() {
    let python = required("GRIDMENTOR_LLAMACPP_PYTHON");
    let model = required("GRIDMENTOR_MODEL");
    let data = common::temp_dir("llamacpp");
    let t = Instant::now();
    let (_llama, direct) = start_llamacpp(&python, &model);
    let (_server, proxy) = start_gridmentor(&direct, &data);
    eprintln!("llamacpp: both servers up in {:.1?}", t.elapsed());

    // Chat: the proxy's answer is llama.cpp's (greedy, so the same text directly).
    let q = ask("What is the capital of France? Answer in one word.");
    let (status, text) = post(&proxy, &q);
    assert_eq!(status, 200, "{text}");
    let via: Value = serde_json::from_str(&text).unwrap();
    let content = via["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(!content.trim().is_empty(), "{via}");
    let completion = via["usage"]["completion_tokens"].as_u64().unwrap();
    assert!((1..=24).contains(&completion), "{via}");
    assert!(via["usage"]["prompt_tokens"].as_u64().unwrap() > 5, "{via}");
    let (status, text) = post(&direct, &q);
    assert_eq!(status, 200, "{text}");
    let own: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(own["choices"][0]["message"]["content"], content);
    eprintln!("llamacpp: chat {content:?} ({completion} tokens)");

    // Streaming through the proxy (first, so that the proxy's cache cannot answer it as one
    // chunk): SSE chunks whose deltas make llama.cpp's own greedy answer.
    let mut s = ask("Name three colours, separated by commas.");
    let (_, whole) = post(&direct, &s);
    let whole: Value = serde_json::from_str(&whole).unwrap();
    s["stream"] = json!(true);
    let (status, sse) = post(&proxy, &s);
    assert_eq!(status, 200, "{sse}");
    let deltas = stream_deltas(&sse);
    assert!(deltas.len() > 1, "one chunk is not a stream: {sse}");
    assert_eq!(
        deltas.concat(),
        whole["choices"][0]["message"]["content"].as_str().unwrap()
    );
    eprintln!("llamacpp: stream of {} chunks", deltas.len());

    // An error of llama.cpp's own (a prompt over its 2048-token context) comes back as a client
    // error with its reason, not as a retry storm nor a 5xx.
    let long = ask(&"tell me about the red door and the key. ".repeat(400));
    let (direct_status, direct_text) = post(&direct, &long);
    assert!(
        (400..500).contains(&direct_status),
        "{direct_status} {direct_text}"
    );
    let (status, text) = post(&proxy, &long);
    assert_eq!(status, direct_status, "{text}");
    let err: Value = serde_json::from_str(&text).unwrap();
    let msg = err["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.to_lowercase().contains("context"), "{err}");
    eprintln!("llamacpp: overflow {status}: {msg}");

    // The trainer's HTTP planner, directly and through the proxy: llama.cpp cannot score, so
    // plans are generated and parsed; every episode ends, with its calls and tokens counted.
    for (how, base) in [("direct", &direct), ("proxy", &proxy)] {
        let t = Instant::now();
        let r = eval_planner(&format!("{base}#{ALIAS}"), 2);
        eprintln!("llamacpp: planner {how}: {r} in {:.1?}", t.elapsed());
        assert_eq!(r["episodes"], 2, "{r}");
        assert!(r["llm_calls_per_episode"].as_f64().unwrap() >= 1.0, "{r}");
        assert!(r["tokens_per_episode"].as_f64().unwrap() > 100.0, "{r}");
        assert!(r["planner"].as_str().unwrap().contains(ALIAS), "{r}");
    }
    let _ = std::fs::remove_dir_all(&data);
}
