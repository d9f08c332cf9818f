//! The hostile-input suite: the real `gridmentor-server` binary on 127.0.0.1, attacked over real
//! sockets by every family of issue 17. Every case must answer 4xx or succeed, the process must
//! live, its memory (VmRSS) stay under a bound, and nothing half-written be listed, even after
//! kill -9 mid-upload. It prints the counts per family.

mod common;

use burn::tensor::Device;
use common::{fake_upstream, repo_root};
use gridmentor_core::episode::EpisodeRecord;
use gridmentor_core::nn::{ActorCritic, Checkpoint, Metadata, NetKind, NetSpec, ObsKind};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// VmRSS the server may reach under the whole suite (the debug build idles at ~40 MB; the
/// issue saw 757 MB from one 224-byte upload and 1.27 GB from four).
const RSS_BOUND_MB: u64 = 256;
const ADMIN: &str = "hostile-admin";

// ---- the server as a child process ----

fn server_bin() -> PathBuf {
    std::env::var_os("GRIDMENTOR_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_gridmentor-server")))
}

struct Server {
    child: Child,
    addr: SocketAddr,
    base: String,
    /// What it printed (its log included).
    out: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    fn start(data: &Path, upstream: &str) -> Server {
        let mut child = Command::new(server_bin())
            .env_clear()
            .env("RUST_LOG", "warn,gridmentor_server=info")
            .env("GRIDMENTOR_HOSTILE_KEY", "sk-hostile-0123456789")
            .args(["--addr", "127.0.0.1:0", "--embedded-llm", "false"])
            .arg("--data")
            .arg(data)
            .arg("--www")
            .arg(repo_root().join("www"))
            .args(["--upstream-url", upstream])
            .args(["--upstream-key-env", "GRIDMENTOR_HOSTILE_KEY"])
            .args(["--upstream-retries", "0", "--admin-token", ADMIN])
            .args(["--eval-episodes", "4", "--rate-limit", "0"])
            .args(["--header-timeout", "2", "--body-timeout", "3"])
            .args([
                "--max-checkpoint-bytes",
                "4194304",
                "--max-episode-bytes",
                "1048576",
            ])
            .args(["--quota-checkpoints", "2000", "--eval-queue", "400"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", server_bin().display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("gridmentor playground: http://") {
                    let _ = tx.send(rest.trim_end_matches('/').to_string());
                }
                if line.contains("ERROR") {
                    println!("hostile: server log: {line}");
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr: SocketAddr = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the server printed its address")
            .parse()
            .unwrap();
        Server {
            child,
            addr,
            base: format!("http://{addr}"),
            out,
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn rss_mb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    }

    /// Lines that show the upstream URL's password.
    fn leaks(&self) -> usize {
        let out = self.out.lock().unwrap();
        out.iter().filter(|l| l.contains("pw-in-the-url")).count()
    }

    fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

// ---- counting ----

/// What one family's cases answered.
#[derive(Default)]
struct Tally {
    cases: u32,
    ok: u32,
    refused: u32,
    /// 5xx answers and failed connections: each one is a bug.
    bad: Vec<String>,
}

impl Tally {
    fn add(&mut self, what: &str, r: &Result<u16, String>) {
        self.cases += 1;
        match r {
            Ok(s) if (200..300).contains(s) => self.ok += 1,
            Ok(s) if (400..500).contains(s) => self.refused += 1,
            Ok(s) => self.bad.push(format!("{what}: {s}")),
            Err(e) => self.bad.push(format!("{what}: {e}")),
        }
    }

    fn print(&self, family: &str) {
        println!(
            "hostile: {family} {} cases: {} succeeded, {} 4xx, {} 5xx or failed",
            self.cases,
            self.ok,
            self.refused,
            self.bad.len()
        );
        for b in self.bad.iter().take(10) {
            println!("hostile:   {b}");
        }
    }
}

/// The whole suite's findings.
#[derive(Default)]
struct Report {
    failures: Vec<String>,
    rss_mb: Vec<(String, u64)>,
}

impl Report {
    fn family(&mut self, name: &str, t: &Tally, server: &mut Server) {
        t.print(name);
        for b in &t.bad {
            self.failures.push(format!("{name}: {b}"));
        }
        self.check(name, server);
    }

    /// The server lives (else stop here, with what failed so far).
    fn alive(&mut self, name: &str, server: &mut Server) {
        if !server.alive() {
            self.failures.push(format!("{name}: the server died"));
            panic!("the server died during {name}: {:#?}", self.failures);
        }
    }

    /// The server lives; note its memory.
    fn check(&mut self, name: &str, server: &mut Server) {
        self.alive(name, server);
        self.rss_mb.push((name.to_string(), server.rss_mb()));
    }

    fn expect(&mut self, ok: bool, what: String) {
        if !ok {
            println!("hostile:   FAILED {what}");
            self.failures.push(what);
        }
    }
}

// ---- requests ----

/// A client that, as a well-configured one does, keeps idle connections for less than the
/// server's keep-alive (here its 2 s header timeout): a POST on a connection the server is
/// closing fails, and is not retried.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_idle_timeout(Duration::from_millis(1500))
        .build()
        .unwrap()
}

/// An error with its causes.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

async fn send(rb: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), String> {
    let res = rb.send().await.map_err(|e| chain(&e))?;
    let status = res.status().as_u16();
    let body = res.bytes().await.map_err(|e| chain(&e))?.to_vec();
    Ok((status, body))
}

async fn status(rb: reqwest::RequestBuilder) -> Result<u16, String> {
    send(rb).await.map(|(s, _)| s)
}

/// One request over a fresh socket, read to the end (`Connection: close`); the status.
async fn raw(addr: SocketAddr, request: &[u8]) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    s.write_all(request).await.map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf))
        .await
        .map_err(|_| "no answer in 30 s".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {:?}", &text[..text.len().min(80)]))?;
    Ok((code, text))
}

/// An LLM request: what it tries, its path, body, content type and X-Gridmentor-Cache.
type LlmCase = (
    String,
    &'static str,
    Vec<u8>,
    &'static str,
    Option<&'static str>,
);

/// Send `head` and then `len` bytes of body (chunked or not) while reading the answer; its
/// status.
async fn raw_streaming(
    addr: SocketAddr,
    head: String,
    len: usize,
    chunked: bool,
) -> Result<u16, String> {
    let s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        let piece = vec![b'B'; 64 << 10];
        let mut sent = 0;
        while sent < len {
            if chunked {
                wr.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .await?;
                wr.write_all(&piece).await?;
                wr.write_all(b"\r\n").await?;
            } else {
                wr.write_all(&piece).await?;
            }
            sent += piece.len();
        }
        if chunked {
            wr.write_all(b"0\r\n\r\n").await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    writer.abort();
    read.map_err(|_| "no answer in 30 s".to_string())?;
    let text = String::from_utf8_lossy(&got);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {:?}", &text[..text.len().min(80)]))
}

type Job<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// Run `jobs` with at most `width` at once.
async fn parallel<T: Send + 'static>(width: usize, jobs: Vec<Job<T>>) -> Vec<T> {
    let gate = Arc::new(tokio::sync::Semaphore::new(width));
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|job| {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _slot = gate.acquire().await.unwrap();
                job.await
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// xorshift64*: the suite's cases are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---- the material ----

fn checkpoint(spec: NetSpec, env: &str, seed: u64, algorithm: &str) -> Vec<u8> {
    let model = ActorCritic::new(spec, seed, &Device::flex()).unwrap();
    Checkpoint::from_model(
        &model,
        Metadata {
            spec,
            acts: gridmentor_core::nn::ActionSpace::Primitive,
            env: env.into(),
            algorithm: algorithm.into(),
            frames: 1000 + seed,
            seed,
            eval: None,
            curve: Vec::new(),
        },
    )
    .unwrap()
    .to_bytes()
}

fn small_checkpoint(seed: u64) -> Vec<u8> {
    checkpoint(NetSpec::minigrid(7), "MiniGrid-Empty-5x5-v0", seed, "ppo")
}

/// `good` with one header line replaced (the weights' checksum does not cover the header).
fn with_header_line(good: &[u8], key: &str, value: &str) -> Vec<u8> {
    let split = good.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    let head = String::from_utf8_lossy(&good[..split]).into_owned();
    let head: Vec<String> = head
        .lines()
        .map(|l| {
            if l.split_whitespace().next() == Some(key) {
                format!("{key} {value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    let mut out = format!("{}\n", head.join("\n")).into_bytes();
    out.extend_from_slice(&good[split..]);
    out
}

fn upload(c: &reqwest::Client, base: &str, bytes: Vec<u8>) -> reqwest::RequestBuilder {
    c.post(format!("{base}/api/checkpoints"))
        .header("content-type", "application/octet-stream")
        .body(bytes)
}

fn good_episode() -> Value {
    json!({"v": 1, "env": "SimpleDoorKey", "seed": "42",
           "agents": [{"kind": "checkpoint", "id": "ab12".repeat(16)}, {"kind": "planner", "planner": "smollm2", "style": "when2ask"}],
           "actions": [[2, 2, 1], [0, 1, 2]],
           "transcript": [{"agent": 1, "step": 0, "prompt": "observation: {observed nothing}", "answer": "action: {explore}", "latency_ms": 3.1, "cached": false}]})
}

fn random_json(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(rng.next() as i64),
        3 => json!((rng.next() as f64) / 7.0 - 1e18),
        4 => json!(
            [
                "",
                "x",
                "é",
                "\u{0}",
                "-1",
                "18446744073709551616",
                "1e3",
                "../../etc"
            ][rng.below(8)]
        ),
        5 => json!("y".repeat(rng.below(300))),
        6 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = serde_json::Map::new();
            for k in ["kind", "id", "agent", "step", "v", "x"] {
                if rng.below(2) == 0 {
                    m.insert(k.into(), random_json(rng, depth + 1));
                }
            }
            Value::Object(m)
        }
    }
}

/// A hostile variation of a good record (or of a good chat request): a field removed, replaced
/// by random JSON, or set to one of the values that broke things before.
fn mutate(rng: &mut Rng, good: &Value, specials: &[(&str, Value)]) -> Value {
    let mut v = good.clone();
    let keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    for _ in 0..1 + rng.below(2) {
        match rng.below(4) {
            0 => {
                v.as_object_mut()
                    .unwrap()
                    .remove(&keys[rng.below(keys.len())]);
            }
            1 => {
                let k = &keys[rng.below(keys.len())];
                v[k] = random_json(rng, 0);
            }
            _ => {
                let (k, x) = &specials[rng.below(specials.len())];
                if let Some(p) = k.strip_prefix('/') {
                    if let Some(slot) = v.pointer_mut(&format!("/{p}")) {
                        *slot = x.clone();
                    }
                } else {
                    v[*k] = x.clone();
                }
            }
        }
    }
    v
}

// ---- the suite ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_suite() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (upstream, fake) = fake_upstream().await;
    // Credentials in the upstream URL must never be printed.
    let upstream = upstream.replace("http://", "http://hostile:pw-in-the-url@");
    let mut server = Server::start(dir.path(), &upstream);
    let base = server.base.clone();
    let addr = server.addr;
    let c = client();
    let mut report = Report::default();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    report.check("start", &mut server);
    {
        let out = server.out.lock().unwrap();
        report.expect(
            out.iter().any(|l| l.contains("hostile:***@127.0.0.1")),
            format!("the upstream is named, redacted, at start: {out:?}"),
        );
    }

    // 1. Checkpoints: random, truncated, bit-flipped and oversized files.
    let good = small_checkpoint(1);
    let mut t = Tally::default();
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..100 {
        let n = rng.below(8192);
        let mut b = rng.bytes(n);
        if i % 2 == 0 {
            let mut head = b"GRIDMENTOR CHECKPOINT\nformat 1\n".to_vec();
            head.append(&mut b);
            b = head;
        }
        cases.push((format!("random #{i}"), b));
    }
    for i in 0..100 {
        cases.push((
            format!("truncated #{i}"),
            good[..rng.below(good.len())].to_vec(),
        ));
    }
    let header_len = good.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    for i in 0..200 {
        let mut b = good.clone();
        for _ in 0..1 + rng.below(3) {
            // Half the flips in the header, where the checksum does not look.
            let at = if i % 2 == 0 {
                rng.below(header_len)
            } else {
                rng.below(b.len())
            };
            b[at] ^= 1 << rng.below(8);
        }
        cases.push((format!("bit-flipped #{i}"), b));
    }
    let jobs = cases
        .into_iter()
        .map(|(what, bytes)| {
            let rb = upload(&c, &base, bytes);
            Box::pin(async move { (what, status(rb).await) }) as Job<(String, Result<u16, String>)>
        })
        .collect();
    for (what, r) in parallel(4, jobs).await {
        t.add(&what, &r);
    }
    // Oversized: declared (no body sent), sent with a length, and sent chunked.
    for i in 0..10 {
        let declared = format!(
            "POST /api/checkpoints HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            1u64 << (30 + i)
        );
        let r = raw(addr, declared.as_bytes()).await.map(|(s, _)| s);
        report.expect(r == Ok(413), format!("declared {} GiB: {r:?}", 1u64 << i));
        t.add("declared oversized", &r);
    }
    // Sent whole, with its length and chunked, reading the answer while sending (as a client
    // should: the server may answer before the body is in).
    for chunked in [false, true, false, true, false, true] {
        let head = if chunked {
            format!(
                "POST /api/checkpoints HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
        } else {
            format!(
                "POST /api/checkpoints HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                6 << 20
            )
        };
        let r = raw_streaming(addr, head, 6 << 20, chunked).await;
        let what = if chunked { "6 MiB chunked" } else { "6 MiB" };
        report.expect(r == Ok(413), format!("{what} upload: {r:?}"));
        t.add(what, &r);
    }
    report.family(
        "checkpoints (random, truncated, bit-flipped, oversized)",
        &t,
        &mut server,
    );

    // 2. Header bombs: sizes that once made the loader allocate terabytes.
    let mut t = Tally::default();
    let bombs = [
        ("actions", "4000000000"),
        ("actions", "18446744073709551615"),
        ("obs", "view65535"),
        ("obs", "memory-map65535x65535"),
        ("obs", "memory-map150x150"),
        ("obs", "memory-map-diff65535x2"),
        ("obs", "ego-map65535x65535"),
        ("obs", "ego-map-onehot65535x65535"),
        ("obs", "ego-map-onehot100x100"),
        ("obs", "ego-map-door-relative65535x65535"),
    ];
    let mm = checkpoint(
        NetSpec {
            net: NetKind::MemoryMapCnn,
            obs: ObsKind::MemoryMap {
                width: 10,
                height: 10,
            },
            actions: 7,
        },
        "SimpleDoorKey",
        2,
        "ppo",
    );
    for (key, value) in bombs {
        for (name, src) in [("view7", &good), ("memory-map10x10", &mm)] {
            let r = status(upload(&c, &base, with_header_line(src, key, value))).await;
            let what = format!("{name} with `{key} {value}`");
            report.expect(
                matches!(r, Ok(400..=499)),
                format!("header bomb {what}: {r:?}"),
            );
            t.add(&what, &r);
            report.alive("header bombs", &mut server);
        }
    }
    report.family("header bombs", &t, &mut server);

    // 3. Checkpoints whose network cannot play their env.
    let mut t = Tally::default();
    let mediator = std::fs::read(repo_root().join("agents/simpledoorkey-when2ask.ckpt")).unwrap();
    let wrong = [
        (
            "a 10x10 memory-map net labelled for a 5x5 env",
            with_header_line(&mm, "env", "MiniGrid-Empty-5x5-v0"),
        ),
        (
            "a mediator relabelled for a 5x5 env",
            with_header_line(&mediator, "env", "MiniGrid-Empty-5x5-v0"),
        ),
        (
            "a mediator relabelled as a PPO policy",
            with_header_line(
                &with_header_line(&mediator, "algo", "ppo"),
                "env",
                "MiniGrid-Empty-5x5-v0",
            ),
        ),
    ];
    for (what, bytes) in wrong {
        let r = send(upload(&c, &base, bytes)).await;
        let code = r.as_ref().map(|(s, _)| *s).map_err(Clone::clone);
        report.expect(
            code == Ok(422),
            format!(
                "wrong-env {what}: {:?}",
                r.map(|(s, b)| (s, String::from_utf8_lossy(&b).into_owned()))
            ),
        );
        t.add(what, &code);
    }
    report.family("wrong-env metadata", &t, &mut server);

    // 4. Hostile episodes; whatever is stored must open in the page.
    let mut t = Tally::default();
    let ep = good_episode();
    let specials: Vec<(&str, Value)> = vec![
        ("env", json!("empty-5x5")),
        ("env", json!("MINIGRID-DOORKEY-5X5-V0")),
        ("env", json!("DROP TABLE episodes")),
        ("seed", json!("-1")),
        ("seed", json!("18446744073709551616")),
        ("seed", json!(42)),
        ("seed", json!(" 42")),
        ("v", json!(2)),
        ("agents", json!([])),
        ("agents", Value::Array(vec![json!({"kind": "human"}); 5])),
        (
            "agents",
            json!([{"kind": "checkpoint", "id": "../../etc/passwd"}, {"kind": "human"}]),
        ),
        (
            "agents",
            json!([{"kind": "planner", "planner": "x".repeat(300)}, {"kind": "human"}]),
        ),
        (
            "agents",
            json!([{"kind": "planner", "planner": "a\u{7}b"}, {"kind": "human"}]),
        ),
        ("agents", json!([{"kind": "wizard"}, {"kind": "human"}])),
        ("actions", json!([[7], [0]])),
        ("actions", json!([[-1], [0]])),
        ("actions", json!([[1.5], [0]])),
        ("actions", json!([["2"], [0]])),
        ("actions", json!([vec![0; 5000], [0]])),
        ("actions", json!([[0]])),
        (
            "transcript",
            json!([{"agent": 0, "step": 0, "prompt": "p", "answer": "a"}]),
        ),
        (
            "transcript",
            json!([{"agent": 7, "step": 0, "prompt": "p", "answer": "a", "latency_ms": 1}]),
        ),
        (
            "transcript",
            json!([{"agent": 0, "step": 0, "prompt": "p", "answer": "a", "latency_ms": -5}]),
        ),
        (
            "transcript",
            json!([{"agent": 0, "step": 0, "prompt": "é".repeat(100_001), "answer": "a", "latency_ms": 1}]),
        ),
        (
            "transcript",
            json!(vec![
                json!({"agent": 0, "step": 0, "prompt": "", "answer": "", "latency_ms": 0});
                10_001
            ]),
        ),
        ("/transcript/0/latency_ms", json!("fast")),
        ("/agents/1/style", json!("socratic")),
    ];
    let mut bodies: Vec<(String, Vec<u8>, &str)> = Vec::new();
    for i in 0..170 {
        let v = mutate(&mut rng, &ep, &specials);
        bodies.push((
            format!("mutated #{i}"),
            v.to_string().into_bytes(),
            "application/json",
        ));
    }
    for (k, v) in &specials {
        let mut e = ep.clone();
        if let Some(p) = k.strip_prefix('/') {
            *e.pointer_mut(&format!("/{p}")).unwrap() = v.clone();
        } else {
            e[*k] = v.clone();
        }
        bodies.push((
            format!("{k} = {}", &v.to_string()[..v.to_string().len().min(40)]),
            e.to_string().into_bytes(),
            "application/json",
        ));
    }
    for (what, body) in [
        ("deep nesting", "[".repeat(100_000).into_bytes()),
        ("not UTF-8", vec![0x80; 64]),
        (
            "duplicate keys",
            br#"{"v": 1, "v": 1, "env": "SimpleDoorKey"}"#.to_vec(),
        ),
        ("trailing garbage", format!("{ep} {{}}").into_bytes()),
        ("empty", Vec::new()),
        ("null", b"null".to_vec()),
        (
            "2 MiB",
            format!("{{\"pad\": \"{}\"}}", "x".repeat(2 << 20)).into_bytes(),
        ),
    ] {
        bodies.push((what.to_string(), body, "application/json"));
    }
    bodies.push((
        "text/plain".into(),
        ep.to_string().into_bytes(),
        "text/plain",
    ));
    bodies.push((
        "form".into(),
        ep.to_string().into_bytes(),
        "application/x-www-form-urlencoded",
    ));
    let jobs = bodies
        .into_iter()
        .map(|(what, body, ct)| {
            let rb = c
                .post(format!("{base}/api/episodes"))
                .header("content-type", ct)
                .body(body);
            Box::pin(async move { (what, send(rb).await) })
                as Job<(String, Result<(u16, Vec<u8>), String>)>
        })
        .collect();
    let mut stored = Vec::new();
    for (what, r) in parallel(4, jobs).await {
        let code = r.as_ref().map(|(s, _)| *s).map_err(Clone::clone);
        if let Ok((s, body)) = &r
            && (200..300).contains(s)
        {
            let v: Value = serde_json::from_slice(body).unwrap();
            stored.push(v["id"].as_str().unwrap().to_string());
        }
        t.add(&what, &code);
    }
    for id in &stored {
        let back = send(c.get(format!("{base}/api/episodes/{id}")))
            .await
            .unwrap();
        let opened = serde_json::from_slice::<EpisodeRecord>(&back.1)
            .map_err(|e| e.to_string())
            .and_then(|mut r| {
                let env = r.env.clone();
                r.check().map_err(|e| e.0)?;
                (r.env == env)
                    .then_some(())
                    .ok_or(format!("env {env} is not a registry id"))
            });
        report.expect(
            opened.is_ok(),
            format!("stored episode {id} does not open: {opened:?}"),
        );
    }
    println!(
        "hostile:   {} episode records stored, every one opens as the page reads it",
        stored.len()
    );
    report.family("episodes", &t, &mut server);

    // 5. Malformed LLM requests; every /v1 error is OpenAI-shaped.
    let mut t = Tally::default();
    let chat = json!({"model": "gridmentor-expert", "messages": [{"role": "user", "content": "observation: {observed nothing}"}], "temperature": 0});
    let specials: Vec<(&str, Value)> = vec![
        ("model", json!("")),
        ("model", json!("m".repeat(300))),
        ("model", json!(7)),
        ("messages", json!([])),
        ("messages", json!([{"role": "wizard", "content": "x"}])),
        (
            "messages",
            json!([{"role": "user", "content": [{"image_url": "x"}]}]),
        ),
        (
            "messages",
            json!([{"role": "user", "content": "x".repeat(300_000)}]),
        ),
        ("max_tokens", json!(1u64 << 20)),
        ("max_tokens", json!(1u64 << 40)),
        ("max_tokens", json!(0)),
        ("max_tokens", json!(-1)),
        ("n", json!(17)),
        ("n", json!(1_000_000_000)),
        ("temperature", json!(3)),
        ("temperature", json!("hot")),
        ("top_p", json!(-1)),
        ("stop", json!(["a", "b", "c", "d", "e"])),
        ("seed", json!(-1)),
        ("seed", json!("abc")),
        ("stream", json!("yes")),
        ("candidates", json!(vec!["x"; 65])),
        ("/messages/0/content", json!(null)),
    ];
    let mut reqs: Vec<LlmCase> = Vec::new();
    for i in 0..150 {
        let path = if i % 3 == 0 {
            "/v1/score"
        } else {
            "/v1/chat/completions"
        };
        let v = mutate(&mut rng, &chat, &specials);
        reqs.push((
            format!("{path} mutated #{i}"),
            path,
            v.to_string().into_bytes(),
            "application/json",
            None,
        ));
    }
    for (what, path, body, ct, cache) in [
        (
            "not JSON",
            "/v1/chat/completions",
            b"{\"model\": ".to_vec(),
            "application/json",
            None,
        ),
        (
            "text/plain",
            "/v1/chat/completions",
            chat.to_string().into_bytes(),
            "text/plain",
            None,
        ),
        (
            "form",
            "/v1/score",
            chat.to_string().into_bytes(),
            "application/x-www-form-urlencoded",
            None,
        ),
        (
            "bad cache header",
            "/v1/chat/completions",
            chat.to_string().into_bytes(),
            "application/json",
            Some("maybe"),
        ),
        (
            "unknown path",
            "/v1/engines/davinci/completions",
            chat.to_string().into_bytes(),
            "application/json",
            None,
        ),
    ] {
        reqs.push((what.to_string(), path, body, ct, cache));
    }
    let jobs = reqs
        .into_iter()
        .map(|(what, path, body, ct, cache)| {
            let mut rb = c
                .post(format!("{base}{path}"))
                .header("content-type", ct)
                .body(body);
            if let Some(m) = cache {
                rb = rb.header("x-gridmentor-cache", m);
            }
            Box::pin(async move { (what, send(rb).await) })
                as Job<(String, Result<(u16, Vec<u8>), String>)>
        })
        .collect();
    let mut shapes = Vec::new();
    for (what, r) in parallel(4, jobs).await {
        let code = r.as_ref().map(|(s, _)| *s).map_err(Clone::clone);
        if let Ok((s, body)) = &r {
            shapes.push((what.clone(), *s, body.clone()));
        }
        t.add(&what, &code);
    }
    for (what, method) in [
        ("GET /v1/chat/completions", reqwest::Method::GET),
        ("DELETE /v1/score", reqwest::Method::DELETE),
        ("PUT /v1/models", reqwest::Method::PUT),
    ] {
        let path = what.split_whitespace().nth(1).unwrap();
        let r = send(c.request(method, format!("{base}{path}"))).await;
        if let Ok((s, body)) = &r {
            shapes.push((what.to_string(), *s, body.clone()));
        }
        t.add(what, &r.map(|(s, _)| s));
    }
    for chunked in [false, true] {
        let head = if chunked {
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
        } else {
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                5 << 20
            )
        };
        let r = raw_streaming(addr, head, 5 << 20, chunked).await;
        report.expect(r == Ok(413), format!("a 5 MiB chat request: {r:?}"));
        t.add("5 MiB", &r);
    }
    let mut unshaped = 0;
    for (what, s, body) in &shapes {
        if *s >= 400 {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let shaped = v["error"]["message"].is_string()
                && v["error"]["type"].is_string()
                && v["error"]["code"] == json!(s);
            if !shaped {
                unshaped += 1;
                report.expect(
                    false,
                    format!(
                        "{what}: {s} without OpenAI's error shape: {}",
                        String::from_utf8_lossy(body)
                    ),
                );
            }
        }
    }
    println!(
        "hostile:   {} /v1 errors, {unshaped} without OpenAI's error shape",
        shapes.iter().filter(|x| x.1 >= 400).count()
    );
    report.family("malformed LLM requests", &t, &mut server);

    // 6. Client-chosen model names do not grow /metrics or /api/usage.
    let mut t = Tally::default();
    let before = send(c.get(format!("{base}/metrics")))
        .await
        .unwrap()
        .1
        .len();
    let usage_before = send(c.get(format!("{base}/api/usage")))
        .await
        .unwrap()
        .1
        .len();
    let jobs = (0..1000)
        .map(|i| {
            let body = json!({"model": format!("made-up-model-{i}"), "messages": [{"role": "user", "content": "hi"}]});
            let rb = c.post(format!("{base}/v1/chat/completions")).json(&body);
            Box::pin(async move { status(rb).await }) as Job<_>
        })
        .collect();
    for r in parallel(8, jobs).await {
        t.add("made-up model", &r);
    }
    let after = send(c.get(format!("{base}/metrics")))
        .await
        .unwrap()
        .1
        .len();
    let usage_after = send(c.get(format!("{base}/api/usage")))
        .await
        .unwrap()
        .1
        .len();
    println!(
        "hostile:   1000 model names: /metrics {before} -> {after} bytes, /api/usage {usage_before} -> {usage_after} bytes"
    );
    report.expect(
        after < before + 4096,
        format!("/metrics grew {before} -> {after}"),
    );
    report.expect(
        usage_after < usage_before + 1024,
        format!("/api/usage grew {usage_before} -> {usage_after}"),
    );
    report.family("metric labels", &t, &mut server);

    // 7. Cross-origin writes: what any page the operator opens could send.
    let mut t = Tally::default();
    let upstream_calls = fake.count();
    let episodes_before = ep_count(dir.path());
    let evil = "https://evil.example";
    let chat_up =
        json!({"model": "fake-gpt", "messages": [{"role": "user", "content": "spend the key"}]});
    let writes: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "/v1/chat/completions",
            "text/plain",
            chat_up.to_string().into_bytes(),
        ),
        ("/v1/score", "text/plain", chat_up.to_string().into_bytes()),
        (
            "/api/episodes",
            "text/plain",
            good_episode().to_string().into_bytes(),
        ),
        ("/api/checkpoints", "text/plain", small_checkpoint(77)),
        (
            "/api/checkpoints",
            "multipart/form-data; boundary=x",
            small_checkpoint(78),
        ),
        (
            "/api/episodes",
            "application/x-www-form-urlencoded",
            b"a=b".to_vec(),
        ),
        (
            "/v1/chat/completions",
            "application/json",
            chat_up.to_string().into_bytes(),
        ),
        (
            "/api/episodes",
            "application/json",
            good_episode().to_string().into_bytes(),
        ),
        (
            "/api/checkpoints",
            "application/octet-stream",
            small_checkpoint(79),
        ),
    ];
    for (path, ct, body) in &writes {
        for origin in [Some(evil), Some("null"), Some("http://127.0.0.1:1"), None] {
            let mut rb = c
                .post(format!("{base}{path}"))
                .header("content-type", *ct)
                .body(body.clone());
            match origin {
                Some(o) => rb = rb.header("origin", o),
                // No Origin, but Fetch Metadata says cross-site.
                None => rb = rb.header("sec-fetch-site", "cross-site"),
            }
            let r = status(rb).await;
            report.expect(
                r == Ok(403),
                format!("POST {path} ({ct}) from {origin:?}: {r:?}"),
            );
            t.add(&format!("POST {path} from {origin:?}"), &r);
        }
        // Without any Origin (curl, the trainer): only the content type decides.
        if *ct == "application/json" && path.starts_with("/v1") {
            continue; // it would reach the upstream, as it should
        }
        let r = status(
            c.post(format!("{base}{path}"))
                .header("content-type", *ct)
                .body(body.clone()),
        )
        .await;
        let want_415 = ct.starts_with("text/")
            || ct.starts_with("application/x-www")
            || (ct.starts_with("multipart") && !path.contains("checkpoints"));
        if want_415 {
            report.expect(
                r == Ok(415),
                format!("POST {path} ({ct}) without Origin: {r:?}"),
            );
        }
        t.add(&format!("POST {path} {ct} without Origin"), &r);
    }
    for (method, path) in [
        ("DELETE", "/api/cache"),
        ("DELETE", "/api/episodes/0123456789abcdef"),
    ] {
        let rb = c
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .header("origin", evil)
            .bearer_auth(ADMIN);
        let r = status(rb).await;
        report.expect(r == Ok(403), format!("{method} {path} from {evil}: {r:?}"));
        t.add(&format!("{method} {path}"), &r);
    }
    let pre = c
        .request(
            reqwest::Method::OPTIONS,
            format!("{base}/v1/chat/completions"),
        )
        .header("origin", evil)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    report.expect(
        pre.headers().get("access-control-allow-origin").is_none(),
        "a preflight from a foreign origin got CORS headers".into(),
    );
    let same = c
        .post(format!("{base}/api/episodes"))
        .header("origin", format!("http://{addr}"))
        .json(&good_episode());
    let r = status(same).await;
    report.expect(
        matches!(r, Ok(200 | 201)),
        format!("a same-origin write: {r:?}"),
    );
    t.add("same-origin write", &r);
    report.expect(
        fake.count() == upstream_calls,
        "a refused request reached the upstream".into(),
    );
    report.expect(
        ep_count(dir.path()) <= episodes_before + 1,
        "a refused episode was stored".into(),
    );
    report.family("cross-origin writes", &t, &mut server);

    // 8. Slow clients: slowloris headers, a trickled body, idle keep-alive, a huge declared length.
    let mut t = Tally::default();
    let slow: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(async move {
                let Ok(mut s) = TcpStream::connect(addr).await else {
                    return Err("connect failed".to_string());
                };
                let head = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Slow-{i}: ");
                let mut bytes = head.into_bytes().into_iter().chain(std::iter::repeat(b'z'));
                let deadline = Instant::now() + Duration::from_secs(20);
                while Instant::now() < deadline {
                    let b = bytes.next().unwrap();
                    if s.write_all(&[b]).await.is_err() {
                        return Ok(());
                    }
                    // A closed connection reads as 0 bytes; a live one has nothing to read.
                    let mut buf = [0u8; 256];
                    match tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await {
                        Ok(Ok(0)) | Ok(Err(_)) => return Ok(()),
                        Ok(Ok(_)) => {}
                        Err(_) => {}
                    }
                }
                Err("still open after 20 s".to_string())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = status(c.get(format!("{base}/healthz"))).await;
    report.expect(
        r == Ok(200),
        format!("a normal request beside 200 slow clients: {r:?}"),
    );
    t.add("normal request beside slowloris", &r);
    let keep_alive = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let req = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).await.map_err(|e| e.to_string())?;
        if !String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200") {
            return Err("no 200".to_string());
        }
        // Then idle: the server closes it.
        match tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => Ok(()),
            _ => Err("an idle keep-alive connection stayed open".to_string()),
        }
    });
    let trickle = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let head = format!(
            "POST /api/episodes HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        );
        s.write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = Vec::new();
        while Instant::now() < deadline {
            let _ = s.write_all(b" ").await;
            let mut buf = [0u8; 1024];
            if let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await
            {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
        let text = String::from_utf8_lossy(&got).into_owned();
        text.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or(format!("no answer: {text:?}"))
    });
    let huge = format!(
        "POST /api/episodes HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\nConnection: close\r\n\r\n"
    );
    let r = raw(addr, huge.as_bytes()).await.map(|(s, _)| s);
    report.expect(r == Ok(413), format!("declared 1 TB episode: {r:?}"));
    t.add("declared 1 TB episode", &r);
    let mut closed = 0;
    for h in slow {
        let r = h.await.unwrap();
        closed += r.is_ok() as u32;
        t.add("slowloris socket closed by the server", &r.map(|_| 200));
    }
    let r = keep_alive.await.unwrap();
    t.add("idle keep-alive closed", &r.clone().map(|_| 200));
    report.expect(r.is_ok(), format!("idle keep-alive: {r:?}"));
    let r = trickle.await.unwrap();
    report.expect(r == Ok(408), format!("a trickled body: {r:?}"));
    t.add("trickled body", &r);
    println!("hostile:   200 slowloris sockets: {closed} closed by the server's header timeout");
    report.family("slow clients", &t, &mut server);

    // 9. Concurrent uploads of one new file.
    let mut t = Tally::default();
    let fresh = small_checkpoint(1234);
    let jobs = (0..200)
        .map(|_| {
            let rb = upload(&c, &base, fresh.clone());
            Box::pin(async move { status(rb).await }) as Job<_>
        })
        .collect();
    let rs = parallel(200, jobs).await;
    let created = rs.iter().filter(|r| **r == Ok(201)).count();
    let again = rs.iter().filter(|r| **r == Ok(200)).count();
    for r in &rs {
        t.add("same-file upload", r);
    }
    report.expect(
        created == 1 && again == 199,
        format!("200 uploads of one file: {created} x 201, {again} x 200"),
    );
    println!("hostile:   200 concurrent uploads of one new file: {created} x 201, {again} x 200");
    report.family("concurrent same-file uploads", &t, &mut server);

    // 10. kill -9 mid-upload, then restart: nothing half-written is listed.
    let mut t = Tally::default();
    let files: Vec<Vec<u8>> = (0..24).map(|i| small_checkpoint(5000 + i)).collect();
    let mut inflight: Vec<tokio::task::JoinHandle<Result<u16, String>>> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if i % 4 == 3 {
            // Half a body, then silence: killed while the server reads it.
            let f = f.clone();
            inflight.push(tokio::spawn(async move {
                let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
                let head = format!("POST /api/checkpoints HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n", f.len());
                s.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
                s.write_all(&f[..f.len() / 2]).await.map_err(|e| e.to_string())?;
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(0)
            }));
        } else {
            let rb = upload(&c, &base, f.clone());
            inflight.push(tokio::spawn(async move { status(rb).await }));
        }
    }
    tokio::time::sleep(Duration::from_millis(150 + rng.below(150) as u64)).await;
    report.check("before kill -9", &mut server);
    let leaked = server.leaks();
    server.kill9();
    let mut answered = 0;
    for h in inflight {
        if let Ok(Ok(s)) = h.await {
            answered += (s >= 200) as u32;
        }
    }
    drop(server);
    let mut server = Server::start(dir.path(), &upstream);
    let base = server.base.clone();
    let list: Value = serde_json::from_slice(
        &send(c.get(format!("{base}/api/checkpoints")))
            .await
            .unwrap()
            .1,
    )
    .unwrap();
    let listed = list["checkpoints"].as_array().unwrap().clone();
    let mut half = 0;
    for e in &listed {
        let id = e["id"].as_str().unwrap();
        let r = send(c.get(format!("{base}/api/checkpoints/{id}"))).await;
        let whole =
            matches!(&r, Ok((200, body)) if gridmentor_server::checkpoints::sha256_hex(body) == id);
        half += !whole as u32;
        t.add("listed after restart", &r.map(|(s, _)| s));
    }
    let on_disk = std::fs::read_dir(dir.path().join("checkpoints"))
        .unwrap()
        .count();
    let tmp = std::fs::read_dir(dir.path().join("tmp")).unwrap().count();
    println!(
        "hostile:   kill -9 with 24 uploads in flight ({answered} answered before it): {} listed after restart, {half} half-written, {on_disk} files on disk, {tmp} temporary files",
        listed.len()
    );
    report.expect(
        half == 0,
        format!("{half} listed checkpoints are not whole"),
    );
    report.expect(
        on_disk == listed.len(),
        format!("{on_disk} files for {} entries", listed.len()),
    );
    report.expect(tmp == 0, format!("{tmp} temporary files left"));
    let r = status(upload(&c, &base, small_checkpoint(9999))).await;
    report.expect(r == Ok(201), format!("an upload after the restart: {r:?}"));
    t.add("upload after restart", &r);
    report.family("kill -9 mid-upload, restart", &t, &mut server);

    let leaked = leaked + server.leaks();
    report.expect(
        leaked == 0,
        format!("{leaked} log lines show the upstream's password"),
    );
    let peak = report.rss_mb.iter().map(|x| x.1).max().unwrap_or(0);
    let shown: Vec<String> = report
        .rss_mb
        .iter()
        .map(|(f, m)| format!("{f}: {m}"))
        .collect();
    println!(
        "hostile: server VmRSS (MB) after each family: {}",
        shown.join(", ")
    );
    println!(
        "hostile: peak VmRSS {peak} MB (bound {RSS_BOUND_MB} MB); whole suite {:.1} s",
        started.elapsed().as_secs_f64()
    );
    report.expect(
        peak > 0 && peak < RSS_BOUND_MB,
        format!("VmRSS peaked at {peak} MB"),
    );
    assert!(
        report.failures.is_empty(),
        "hostile-input failures:\n{}",
        report.failures.join("\n")
    );
}

/// Episode rows in the server's SQLite database, read by counting ids through the API would
/// need an admin listing; the database file's row count is read with the server's own store.
fn ep_count(data: &Path) -> i64 {
    sqlx::any::install_default_drivers();
    let url = gridmentor_server::config::sqlite_url(&data.join("gridmentor.db"));
    let rt = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        rt.block_on(async {
            let pool = sqlx::AnyPool::connect(&url).await.unwrap();
            let n: i64 = sqlx::Row::get(
                &sqlx::query("SELECT COUNT(*) AS n FROM episodes")
                    .fetch_one(&pool)
                    .await
                    .unwrap(),
                "n",
            );
            pool.close().await;
            n
        })
    })
}

/// The connection cap: beyond it a connection is answered 503 and closed at once, and the
/// server serves again as soon as one is free.
#[tokio::test]
async fn connections_beyond_the_cap_get_503_and_the_server_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = common::settings(dir.path(), None);
    s.max_connections = 4;
    let (base, _, _task) = common::serve(s).await;
    let addr: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // Let the server accept them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, text) = raw(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("retry-after: 1"), "{text}");
    drop(held);
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok((200, _)) = raw(
            addr,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        {
            ok = true;
            break;
        }
    }
    assert!(ok, "the server serves again once connections close");
}
