//! `make bench`'s server figures: the proxy's overhead (p50/p99 latency of cached
//! `/v1/chat/completions` at a fixed rate, beside the same request sent straight to a fake
//! upstream), and leaderboard and upload throughput; on loopback, bounded in time.
//!
//! Both servers run in this process, on a runtime of their own (2 workers, as the server on a
//! 2-core machine); the load comes from another runtime. A request's latency runs from the time
//! it was due, not the time it went out, so a stalled server is not hidden by a stalled client.
//!
//! `cargo run --release --example load_bench -- [--rate 2000] [--secs 3] [--json]`

use anyhow::Context;
use axum::Router;
use axum::routing::post;
use gridmentor_core::nn::{ActorCritic, Checkpoint, Metadata, NetSpec};
use gridmentor_server::{AppState, Settings};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Opts {
    rate: u32,
    secs: f64,
    json: bool,
}

fn opts() -> anyhow::Result<Opts> {
    let mut o = Opts {
        rate: 2000,
        secs: 3.0,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rate" => o.rate = args.next().context("--rate N")?.parse()?,
            "--secs" => o.secs = args.next().context("--secs S")?.parse()?,
            "--json" => o.json = true,
            other => anyhow::bail!("unknown argument {other:?} (--rate N, --secs S, --json)"),
        }
    }
    anyhow::ensure!(
        o.rate > 0 && o.secs > 0.0,
        "--rate and --secs must be positive"
    );
    Ok(o)
}

/// The fake upstream's one answer: a small chat completion, as an OpenAI-compatible API sends.
async fn fake_chat(body: String) -> axum::Json<Value> {
    let model = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["model"].as_str().map(str::to_string))
        .unwrap_or_default();
    axum::Json(json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "action: {go to the key}"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 42, "completion_tokens": 6, "total_tokens": 48}
    }))
}

/// Latencies in milliseconds, and how many requests failed.
struct Run {
    ms: Vec<f64>,
    failed: usize,
}

impl Run {
    fn pct(&self, p: f64) -> f64 {
        if self.ms.is_empty() {
            return f64::NAN;
        }
        let i = ((self.ms.len() as f64 * p).ceil() as usize).clamp(1, self.ms.len()) - 1;
        self.ms[i]
    }
}

/// `total` requests made by `make`, one due every 1/`rate` s (open loop).
async fn fixed_rate(
    rate: u32,
    total: usize,
    make: impl Fn() -> reqwest::RequestBuilder,
    expect_hit: bool,
) -> Run {
    let start = tokio::time::Instant::now();
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let mut handles = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + period * i as u32;
        tokio::time::sleep_until(due).await;
        let rb = make();
        handles.push(tokio::spawn(async move {
            let ok = match rb.send().await {
                Ok(r) => {
                    let hit = r.headers().get("x-cache").is_some_and(|v| v == "HIT");
                    let good = r.status() == 200 && (hit || !expect_hit);
                    r.bytes().await.is_ok() && good
                }
                Err(_) => false,
            };
            (ok, due.elapsed().as_secs_f64() * 1e3)
        }));
    }
    let mut run = Run {
        ms: Vec::with_capacity(total),
        failed: 0,
    };
    for h in handles {
        match h.await {
            Ok((true, ms)) => run.ms.push(ms),
            _ => run.failed += 1,
        }
    }
    run.ms.sort_by(f64::total_cmp);
    run
}

/// Requests per second of `clients` loops each making requests back to back for `secs`.
async fn closed_loop(
    clients: usize,
    secs: f64,
    make: Arc<dyn Fn(usize) -> reqwest::RequestBuilder + Send + Sync>,
    want: u16,
) -> (f64, usize, usize) {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let (make, counter) = (make.clone(), counter.clone());
            tokio::spawn(async move {
                let (mut ok, mut bad) = (0, 0);
                while Instant::now() < until {
                    let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let good = match make(i).send().await {
                        Ok(r) => r.status().as_u16() == want && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if good {
                        ok += 1;
                    } else {
                        bad += 1;
                    }
                }
                (ok, bad)
            })
        })
        .collect();
    let (mut ok, mut bad) = (0, 0);
    for h in handles {
        let (o, b) = h.await.unwrap_or((0, 1));
        ok += o;
        bad += b;
    }
    (ok as f64 / start.elapsed().as_secs_f64(), ok, bad)
}

fn checkpoint(seed: u64) -> Vec<u8> {
    let spec = NetSpec::minigrid(7);
    let model = ActorCritic::new(spec, seed, &burn::tensor::Device::flex()).expect("a model");
    Checkpoint::from_model(
        &model,
        Metadata {
            spec,
            acts: gridmentor_core::nn::ActionSpace::Primitive,
            env: "MiniGrid-Empty-5x5-v0".into(),
            algorithm: "ppo".into(),
            frames: seed,
            seed,
            eval: None,
            curve: Vec::new(),
        },
    )
    .expect("a checkpoint")
    .to_bytes()
}

/// `file` with `frames {i}` in its header: another file, the same network.
fn variant(file: &[u8], i: usize) -> Vec<u8> {
    let at = file
        .windows(8)
        .position(|w| w == b"\nframes ")
        .expect("a frames line")
        + 1;
    let end = at
        + file[at..]
            .iter()
            .position(|&b| b == b'\n')
            .expect("its end");
    let mut out = file[..at].to_vec();
    out.extend_from_slice(format!("frames {}", 1_000_000 + i).as_bytes());
    out.extend_from_slice(&file[end..]);
    out
}

fn main() -> anyhow::Result<()> {
    let o = opts()?;
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let (fake_addr, gm_addr, state) = servers.block_on(async {
        let fake = Router::new().route("/v1/chat/completions", post(fake_chat));
        let fl = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let fake_addr = fl.local_addr()?;
        let metrics = Arc::new(gridmentor_server::metrics::Metrics::default());
        let limits = gridmentor_server::net::ConnLimits {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
        };
        tokio::spawn(gridmentor_server::net::serve(
            fl,
            fake,
            limits,
            metrics,
            std::future::pending(),
        ));
        let mut s = Settings::in_dir(dir.path());
        s.rate_limit = 0;
        s.eval_queue = 100_000;
        s.quotas.checkpoints = 0;
        s.quotas.checkpoint_bytes = 0;
        s.upstream = Some(gridmentor_server::config::Upstream {
            url: format!("http://{fake_addr}/v1"),
            key_env: "LOAD_BENCH_KEY".into(),
            key: None,
            models: vec!["fake-gpt".into()],
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
            retries: 0,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(100),
        });
        let state = AppState::new(s).await?;
        let gl = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let gm_addr = gl.local_addr()?;
        tokio::spawn(gridmentor_server::serve(
            gl,
            state.clone(),
            std::future::pending(),
        ));
        anyhow::Ok((fake_addr, gm_addr, state))
    })?;
    let load = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let figures = load.block_on(bench(&o, fake_addr, gm_addr, &state))?;
    if o.json {
        println!("{figures}");
    } else {
        print(&o, &figures);
    }
    drop(load);
    servers.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}

async fn bench(
    o: &Opts,
    fake: SocketAddr,
    gm: SocketAddr,
    state: &Arc<AppState>,
) -> anyhow::Result<Value> {
    let c = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(5))
        .build()?;
    let body = json!({"model": "fake-gpt", "temperature": 0,
        "messages": [{"role": "user", "content": "observation: {observed a key, observed a door}"}]});
    let total = (o.rate as f64 * o.secs) as usize;
    let warm = (o.rate as usize / 4).max(50);
    // Fill the cache, and warm both paths (connections, allocators).
    let first = c
        .post(format!("http://{gm}/v1/chat/completions"))
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(
        first.status() == 200,
        "the first call failed: {}",
        first.status()
    );
    let to = |addr: SocketAddr| {
        let (c, body) = (c.clone(), body.clone());
        move || {
            c.post(format!("http://{addr}/v1/chat/completions"))
                .json(&body)
        }
    };
    fixed_rate(o.rate, warm, to(fake), false).await;
    fixed_rate(o.rate, warm, to(gm), true).await;
    let direct = fixed_rate(o.rate, total, to(fake), false).await;
    let proxied = fixed_rate(o.rate, total, to(gm), true).await;
    // Passed through to the upstream (no cache), at a quarter of the rate.
    let bypass = {
        let (c, body) = (c.clone(), body.clone());
        move || {
            c.post(format!("http://{gm}/v1/chat/completions"))
                .header("x-gridmentor-cache", "bypass")
                .json(&body)
        }
    };
    let through = fixed_rate((o.rate / 4).max(1), total / 4, bypass, false).await;

    // Leaderboard: 100 evaluated entries.
    let env = "MiniGrid-Empty-5x5-v0";
    for seed in 0..100u64 {
        let e = gridmentor_server::checkpoints::Entry {
            id: format!("{seed:064x}"),
            name: format!("bench-{seed}"),
            env: env.into(),
            net: "minigrid-cnn".into(),
            obs: "view7".into(),
            actions: 7,
            algo: "ppo".into(),
            frames: seed,
            seed: seed.to_string(),
            size: 1,
            uploaded_at: "2026-12-01T00:00:00Z".into(),
            eval_episodes: 100,
            eval_seed: "1000000".into(),
            eval: gridmentor_server::checkpoints::EvalState::Done {
                success_rate: seed as f64 / 100.0,
                mean_return: 0.5,
                mean_steps: 10.0,
            },
            curve_points: 0,
            curve: None,
        };
        // Inserted as done (the evaluator looks for pending ones), then given its figures.
        state.store.insert_checkpoint(&e, 0, "bench").await?;
        state.store.set_eval(&e.id, &e.eval).await?;
    }
    let lc = c.clone();
    let (board, _, board_bad) = closed_loop(
        8,
        o.secs.min(2.0),
        Arc::new(move |_| lc.get(format!("http://{gm}/api/leaderboard?env={env}"))),
        200,
    )
    .await;

    // Uploads: distinct small checkpoints (rl-starter-files' CNN, ~80 KB), one network whose
    // header's `frames` differs (the checksum covers the weights), so each is a new file.
    let base = Arc::new(tokio::task::spawn_blocking(|| checkpoint(1)).await?);
    let size = base.len();
    let uc = c.clone();
    let (uploads, _, up_bad) = closed_loop(
        4,
        o.secs.min(2.0),
        Arc::new(move |i| {
            uc.post(format!("http://{gm}/api/checkpoints"))
                .header("content-type", "application/octet-stream")
                .body(variant(&base, i))
        }),
        201,
    )
    .await;

    let lat = |r: &Run| json!({"p50_ms": r.pct(0.5), "p99_ms": r.pct(0.99), "failed": r.failed, "n": r.ms.len()});
    Ok(json!({
        "bench": "server", "rate": o.rate, "secs": o.secs,
        "direct": lat(&direct), "proxied_cached": lat(&proxied), "proxied_passthrough": lat(&through),
        "overhead_p50_ms": proxied.pct(0.5) - direct.pct(0.5),
        "overhead_p99_ms": proxied.pct(0.99) - direct.pct(0.99),
        "leaderboard_per_sec": board, "leaderboard_failed": board_bad,
        "uploads_per_sec": uploads, "uploads_failed": up_bad, "upload_bytes": size,
    }))
}

fn print(o: &Opts, f: &Value) {
    let ms = |v: &Value| v.as_f64().map_or("-".into(), |x| format!("{x:.3}"));
    let line = |label: &str, v: &Value| {
        println!(
            "  {label:<34} p50 {:>7} ms   p99 {:>7} ms   ({} requests, {} failed)",
            ms(&v["p50_ms"]),
            ms(&v["p99_ms"]),
            v["n"],
            v["failed"]
        );
    };
    println!(
        "proxy overhead: /v1/chat/completions at {} req/s for {} s on loopback",
        o.rate, o.secs
    );
    line("direct to a fake upstream", &f["direct"]);
    line("through gridmentor, cached (HIT)", &f["proxied_cached"]);
    println!(
        "  {:<34} p50 {:>7} ms   p99 {:>7} ms   (target: p99 <= 1 ms)",
        "overhead of the proxy",
        ms(&f["overhead_p50_ms"]),
        ms(&f["overhead_p99_ms"])
    );
    println!(
        "  through gridmentor to the upstream  at {} req/s:",
        (o.rate / 4).max(1)
    );
    line(
        "passed through (X-Gridmentor-Cache: bypass)",
        &f["proxied_passthrough"],
    );
    println!(
        "leaderboard: {:.0} req/s (8 clients, 100 entries, {} failed)",
        f["leaderboard_per_sec"].as_f64().unwrap_or(0.0),
        f["leaderboard_failed"]
    );
    println!(
        "uploads: {:.1} checkpoints/s (4 clients, {} KB each, {} failed)",
        f["uploads_per_sec"].as_f64().unwrap_or(0.0),
        f["upload_bytes"].as_u64().unwrap_or(0) / 1024,
        f["uploads_failed"]
    );
}
