//! `make bench-browser`: checkpoint-policy decisions per second in headless Chromium (the real
//! page, served by the real server) and the gzipped size of the playground's wasm.
//!
//! Needs `GRIDMENTOR_SERVER` (the server binary), `www/pkg` (`make wasm`) and chromedriver.
//! Knobs: `BENCH_DECISIONS` (single decisions, default 5000), `BENCH_EPISODES` (whole episodes
//! through `Agent.evaluate`, as the page's Evaluate plays them, 256).

#[path = "../tests/support/webdriver.rs"]
mod webdriver;

use gridmentor_core::nn::{ActorCritic, Checkpoint, Metadata, NetSpec};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use webdriver::{Driver, Server};

const ENV: &str = "MiniGrid-DoorKey-8x8-v0";
const TARGET_DECISIONS: f64 = 20_000.0;
const TARGET_GZ_KB: f64 = 400.0;

fn gzip_len(path: &Path) -> Result<usize, String> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("gzip: {e}"))?;
    if !out.status.success() {
        return Err(format!("gzip {} failed", path.display()));
    }
    Ok(out.stdout.len())
}

fn run() -> Result<(), String> {
    let root = webdriver::repo_root();
    let wasm = root.join("www/pkg/gridmentor_web_bg.wasm");
    let raw = std::fs::metadata(&wasm)
        .map_err(|e| format!("{} ({e}): run make wasm", wasm.display()))?
        .len();
    let gz = gzip_len(&wasm)?;

    let bin = std::env::var("GRIDMENTOR_SERVER").map_err(|_| "set GRIDMENTOR_SERVER")?;
    let n: u32 = std::env::var("BENCH_DECISIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let server = Server::start(Path::new(&bin), &root.join("www"))?;
    let driver = Driver::start()?;
    let b = driver.session()?;
    b.goto(&format!("{}/?env={ENV}&seed=1", server.url))?;
    b.wait_for(
        "document.body.dataset.ready === '1'",
        Duration::from_secs(60),
    )?;
    // What the page's wasm cost on the wire, as the browser fetched it from the server
    // (compressed): the Resource Timing entry's encoded body size.
    let sent = b.js(
        "const e = performance.getEntriesByType('resource').find(r => r.name.endsWith('_bg.wasm')); \
         return e ? [e.encodedBodySize, e.decodedBodySize] : null",
    )?;
    let served_kb = sent[0].as_f64().map(|b| b / 1024.0);

    let spec = NetSpec::minigrid(7);
    let model =
        ActorCritic::new(spec, 1, &burn::tensor::Device::flex()).map_err(|e| e.to_string())?;
    let meta = Metadata {
        spec,
        acts: gridmentor_core::nn::ActionSpace::Primitive,
        env: ENV.into(),
        algorithm: "ppo".into(),
        frames: 0,
        seed: 1,
        eval: None,
        curve: Vec::new(),
    };
    let bytes = Checkpoint::from_model(&model, meta)
        .map_err(|e| e.to_string())?
        .to_bytes();

    // Warm up, then time n decisions one at a time (observation, network, step: what Play
    // does), then whole episodes through core's evaluation (what Evaluate does for a
    // checkpoint).
    let script = "const { Agent } = window.gridmentor;
        const a = Agent.checkpoint(new Uint8Array(arguments[0]));
        a.bench(arguments[1], 1n, 200);
        let t0 = performance.now();
        a.bench(arguments[1], 1n, arguments[2]);
        const single = performance.now() - t0;
        t0 = performance.now();
        const e = a.evaluate(arguments[1], 1n, arguments[3]);
        const batched = performance.now() - t0;
        const decisions = e.stepSum;
        e.free();
        a.free();
        return [single, batched, decisions];";
    let episodes: u32 = std::env::var("BENCH_EPISODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let v = b.exec(script, json!([bytes, ENV, n, episodes]))?;
    let (single_ms, batched_ms, decisions) = (
        v[0].as_f64().ok_or("no timing")?,
        v[1].as_f64().ok_or("no timing")?,
        v[2].as_f64().ok_or("no count")?,
    );
    let single = n as f64 / (single_ms / 1000.0);
    let batched = decisions / (batched_ms / 1000.0);
    let verdict = |x: f64| if x >= TARGET_DECISIONS { "ok" } else { "BELOW" };

    println!();
    println!("playground (headless Chromium), {ENV}, MiniGrid CNN checkpoint, greedy");
    println!(
        "{:<34} {:>12}   target {:>8}   {}",
        format!("decisions/s, Evaluate ({episodes} eps)"),
        format!("{batched:.0}"),
        format!(">= {TARGET_DECISIONS:.0}"),
        verdict(batched)
    );
    println!(
        "{:<34} {:>12}   (one at a time, as Play steps)",
        "decisions/s, single",
        format!("{single:.0}"),
    );
    let kb = gz as f64 / 1024.0;
    println!(
        "{:<34} {:>12}   target {:>8}   {} ({:.0} KB raw)",
        "wasm gzipped (KB)",
        format!("{kb:.0}"),
        format!("<= {TARGET_GZ_KB:.0}"),
        if kb <= TARGET_GZ_KB { "ok" } else { "ABOVE" },
        raw as f64 / 1024.0
    );
    match served_kb {
        Some(kb) => println!(
            "{:<34} {:>12}   (Resource Timing's encoded body size)",
            "wasm transferred, compressed (KB)",
            format!("{kb:.0}"),
        ),
        None => println!("wasm transferred: the browser gave no resource timing for it"),
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("bench-browser: {e}");
        std::process::exit(1);
    }
}
