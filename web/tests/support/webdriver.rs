//! A minimal WebDriver client (W3C protocol) over chromedriver or geckodriver, enough for the
//! playground's end-to-end tests, browser benchmark and screenshot: sessions, navigation,
//! scripts, elements, keys, taps, frames, window size, screenshots. `E2E_BROWSER=firefox`
//! picks headless Firefox (geckodriver), anything else or nothing headless Chromium.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The repository root: the folder that holds `www/` and `agents/`.
///
/// Found at run time. Cargo names the package folder when it runs a test or an example; the
/// Makefile runs the built files from the root. The path compiled in (`env!`) comes last: it
/// names the clone that built this file, which is another clone when clones share a target dir.
pub fn repo_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        return PathBuf::from(dir).join("..");
    }
    if let Ok(dir) = std::env::current_dir()
        && dir.join("www/index.html").is_file()
    {
        return dir;
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    eprintln!(
        "repository root: not run by cargo and no www/index.html here; using {}, where this file \
         was built (run from the repository root to use this clone's files)",
        built.display()
    );
    built
}

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET `url`: (status, body).
pub fn http_get(url: &str) -> Result<(u16, String), String> {
    let mut r = agent()
        .get(url)
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// POST `body` (JSON) to `url`: (status, body).
pub fn http_post_json(url: &str, body: &Value) -> Result<(u16, String), String> {
    let mut r = agent()
        .post(url)
        .send_json(body)
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// Poll `f` every 50 ms until it gives `Some`, or fail after `timeout`.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Result<Option<T>, String>,
) -> Result<T, String> {
    let start = Instant::now();
    loop {
        if let Some(v) = f()? {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Which browser the WebDriver sessions drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserKind {
    Chromium,
    Firefox,
}

impl BrowserKind {
    /// `E2E_BROWSER`: `firefox`, or `chromium` (the default).
    pub fn from_env() -> Result<BrowserKind, String> {
        match std::env::var("E2E_BROWSER").as_deref() {
            Err(_) | Ok("" | "chromium" | "chrome") => Ok(BrowserKind::Chromium),
            Ok("firefox") => Ok(BrowserKind::Firefox),
            Ok(other) => Err(format!("E2E_BROWSER={other:?}: use chromium or firefox")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BrowserKind::Chromium => "chromium",
            BrowserKind::Firefox => "firefox",
        }
    }

    /// The driver binary: `$CHROMEDRIVER` / `$GECKODRIVER`, else found on PATH.
    fn driver_bin(self) -> String {
        let (var, default) = match self {
            BrowserKind::Chromium => ("CHROMEDRIVER", "chromedriver"),
            BrowserKind::Firefox => ("GECKODRIVER", "geckodriver"),
        };
        std::env::var(var).unwrap_or_else(|_| default.into())
    }

    fn capabilities(self) -> Value {
        match self {
            BrowserKind::Chromium => json!({
                "browserName": "chrome",
                "goog:chromeOptions": {"args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=1200,1000",
                ]}
            }),
            BrowserKind::Firefox => {
                let mut opts = json!({
                    "args": ["-headless"],
                    // No update checks, telemetry or first-run pages in a test profile.
                    "prefs": {
                        "app.update.enabled": false,
                        "browser.shell.checkDefaultBrowser": false,
                        "datareporting.policy.dataSubmissionEnabled": false,
                        "toolkit.telemetry.enabled": false,
                        "browser.startup.homepage_override.mstone": "ignore"
                    }
                });
                if let Ok(bin) = std::env::var("FIREFOX_BIN") {
                    opts["binary"] = bin.into();
                }
                json!({"browserName": "firefox", "moz:firefoxOptions": opts})
            }
        }
    }
}

/// A WebDriver server (chromedriver or geckodriver) on a free port.
struct DriverProc {
    url: String,
    _proc: Proc,
}

impl DriverProc {
    fn start(kind: BrowserKind) -> Result<DriverProc, String> {
        let bin = kind.driver_bin();
        let port = free_port();
        let mut cmd = Command::new(&bin);
        match kind {
            BrowserKind::Chromium => cmd.arg(format!("--port={port}")),
            // Marionette's port is chosen by the system; BiDi's too, so several geckodrivers
            // (one per session) can run at once.
            BrowserKind::Firefox => {
                cmd.args(["--port", &port.to_string(), "--websocket-port", "0"])
            }
        };
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {bin} (scripts/setup.sh --browser): {e}"))?;
        let proc = Proc(child);
        let url = format!("http://127.0.0.1:{port}");
        wait_until(&bin, Duration::from_secs(20), || {
            Ok(http_get(&format!("{url}/status"))
                .ok()
                .filter(|(s, b)| *s == 200 && b.contains("\"ready\":true"))
                .map(|_| ()))
        })?;
        Ok(DriverProc { url, _proc: proc })
    }
}

/// Starts browser sessions. chromedriver serves every session from one process; geckodriver
/// serves one session at a time, so each Firefox session gets a geckodriver of its own.
pub struct Driver {
    pub kind: BrowserKind,
    shared: Option<DriverProc>,
}

impl Driver {
    /// The browser `E2E_BROWSER` names.
    pub fn start() -> Result<Driver, String> {
        Driver::start_for(BrowserKind::from_env()?)
    }

    pub fn start_for(kind: BrowserKind) -> Result<Driver, String> {
        let shared = match kind {
            BrowserKind::Chromium => Some(DriverProc::start(kind)?),
            BrowserKind::Firefox => None,
        };
        Ok(Driver { kind, shared })
    }

    /// A new browser with a fresh profile, its window 1200x1000.
    pub fn session(&self) -> Result<Browser, String> {
        let own = match &self.shared {
            Some(_) => None,
            None => Some(DriverProc::start(self.kind)?),
        };
        let url = self
            .shared
            .as_ref()
            .or(own.as_ref())
            .expect("one of them")
            .url
            .clone();
        let caps = json!({"capabilities": {"alwaysMatch": self.kind.capabilities()}});
        let (status, body) = http_post_json(&format!("{url}/session"), &caps)?;
        let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let id = v["value"]["sessionId"].as_str().ok_or_else(|| {
            format!(
                "{} refused a session ({status}): {body}",
                self.kind.driver_bin()
            )
        })?;
        let b = Browser {
            base: format!("{url}/session/{id}"),
            _driver: own,
        };
        b.window_size(1200, 1000)?;
        Ok(b)
    }
}

/// One browser session (and, for Firefox, its geckodriver).
pub struct Browser {
    base: String,
    // Dropped after the session is deleted (fields drop after `Drop::drop`).
    _driver: Option<DriverProc>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = agent().delete(&self.base).call();
    }
}

impl Browser {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let a = agent();
        let res = match (method, body) {
            ("GET", _) => a.get(&url).call(),
            (_, Some(b)) => a.post(&url).send_json(&b),
            (_, None) => a.post(&url).send_json(json!({})),
        };
        let mut res = res.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = res.status().as_u16();
        let v: Value = res
            .body_mut()
            .read_json()
            .map_err(|e| format!("{method} {path}: {e}"))?;
        if status >= 400 {
            return Err(format!(
                "{method} {path}: {} {}",
                v["value"]["error"].as_str().unwrap_or("error"),
                v["value"]["message"].as_str().unwrap_or("")
            ));
        }
        Ok(v["value"].clone())
    }

    /// Resize the window (outer size; headless browsers have no frame, so the viewport too).
    pub fn window_size(&self, width: u32, height: u32) -> Result<(), String> {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .map(|_| ())
    }

    pub fn goto(&self, url: &str) -> Result<(), String> {
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .map(|_| ())
    }

    /// Run `script` (a function body; `arguments` holds `args`) and return its value.
    pub fn exec(&self, script: &str, args: Value) -> Result<Value, String> {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    pub fn js(&self, script: &str) -> Result<Value, String> {
        self.exec(script, json!([]))
    }

    fn find(&self, css: &str) -> Result<String, String> {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        v[ELEMENT]
            .as_str()
            .map(String::from)
            .ok_or_else(|| format!("no element {css}: {v}"))
    }

    pub fn click(&self, css: &str) -> Result<(), String> {
        let id = self.find(css)?;
        self.cmd("POST", &format!("/element/{id}/click"), None)
            .map(|_| ())
    }

    /// Type into an element (for a file input: the file's path).
    pub fn send_keys(&self, css: &str, text: &str) -> Result<(), String> {
        let id = self.find(css)?;
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .map(|_| ())
    }

    /// Press keys (WebDriver key codes, e.g. "\u{E013}" for ArrowUp) with optional modifier held.
    pub fn press(&self, keys: &[&str], ctrl: bool) -> Result<(), String> {
        self.press_holding(ctrl.then_some("\u{E009}"), keys)
    }

    /// Press keys while `modifier` (a WebDriver key code: "\u{E008}" Shift, "\u{E009}"
    /// Control) is held.
    pub fn press_holding(&self, modifier: Option<&str>, keys: &[&str]) -> Result<(), String> {
        let mut actions = Vec::new();
        if let Some(m) = modifier {
            actions.push(json!({"type": "keyDown", "value": m}));
        }
        for k in keys {
            actions.push(json!({"type": "keyDown", "value": k}));
            actions.push(json!({"type": "keyUp", "value": k}));
        }
        if let Some(m) = modifier {
            actions.push(json!({"type": "keyUp", "value": m}));
        }
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .map(|_| ())
    }

    /// A tap with a finger (a touch pointer) on the middle of the element.
    pub fn tap(&self, css: &str) -> Result<(), String> {
        let id = self.find(css)?;
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{
                "type": "pointer",
                "id": "finger",
                "parameters": {"pointerType": "touch"},
                "actions": [
                    {"type": "pointerMove", "duration": 0, "origin": {ELEMENT: id}, "x": 0, "y": 0},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pause", "duration": 50},
                    {"type": "pointerUp", "button": 0}
                ]
            }]})),
        )
        .map(|_| ())
    }

    /// Send commands to the document of the iframe `css` until [`Browser::parent_frame`].
    pub fn frame(&self, css: &str) -> Result<(), String> {
        let id = self.find(css)?;
        self.cmd("POST", "/frame", Some(json!({"id": {ELEMENT: id}})))
            .map(|_| ())
    }

    /// Back to the document that holds the current frame.
    pub fn parent_frame(&self) -> Result<(), String> {
        self.cmd("POST", "/frame/parent", None).map(|_| ())
    }

    /// Wait until `expr` (a JS expression) is truthy and return its value.
    pub fn wait_for(&self, expr: &str, timeout: Duration) -> Result<Value, String> {
        let script = format!("return ({expr});");
        wait_until(expr, timeout, || {
            let v = self.js(&script)?;
            Ok(match &v {
                Value::Null | Value::Bool(false) => None,
                Value::String(s) if s.is_empty() => None,
                _ => Some(v),
            })
        })
    }

    /// Pick `key` in the playground's agent menu once the page lists it, then wait until the
    /// agent's label mentions `label_has`.
    pub fn choose_agent(
        &self,
        key: &str,
        label_has: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        self.wait_for(
            &format!(
                "[...document.getElementById('agent').options].some(o => o.value === '{key}')"
            ),
            timeout,
        )?;
        self.exec(
            "const s = document.getElementById('agent'); s.value = arguments[0]; s.dispatchEvent(new Event('change')); return 1",
            json!([key]),
        )?;
        self.wait_for(
            &format!("document.getElementById('agent-label').textContent.includes('{label_has}')"),
            timeout,
        )
        .map(|_| ())
    }

    /// Save a PNG screenshot to `path`.
    pub fn screenshot(&self, path: &Path) -> Result<(), String> {
        let v = self.cmd("GET", "/screenshot", None)?;
        let png = base64_decode(v.as_str().ok_or("no screenshot data")?)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, png).map_err(|e| e.to_string())
    }
}

/// Standard base64 (with padding), as WebDriver sends screenshots.
fn base64_decode(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("bad base64 byte {c}")),
        } as u32;
        acc = (acc << 6 | v) & 0xff_ffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// The real server on a free loopback port, serving `www`, run in a fresh data directory.
pub struct Server {
    pub url: String,
    _proc: Proc,
    pub dir: std::path::PathBuf,
}

impl Server {
    pub fn start(bin: &Path, www: &Path) -> Result<Server, String> {
        Server::start_with(bin, www, None)
    }

    /// The server with the checkpoints of `preload` (a folder of `*.ckpt`) in its store.
    pub fn start_with(bin: &Path, www: &Path, preload: Option<&Path>) -> Result<Server, String> {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("gridmentor-e2e-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(bin);
        cmd.args(["--addr", &format!("127.0.0.1:{port}"), "--www"])
            .arg(www)
            .arg("--data")
            .arg(dir.join("data"));
        if let Some(p) = preload {
            cmd.arg("--preload").arg(p);
        }
        // The leaderboard's LLM planner row on 2 seeds: seconds of the model's time, not minutes
        // (unless the caller's environment says otherwise).
        if std::env::var_os("GRIDMENTOR_LLM_EVAL_EPISODES").is_none() {
            cmd.env("GRIDMENTOR_LLM_EVAL_EPISODES", "2");
        }
        let child = cmd
            .current_dir(&dir)
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let proc = Proc(child);
        let url = format!("http://127.0.0.1:{port}");
        wait_until("the server's /healthz", Duration::from_secs(30), || {
            Ok(http_get(&format!("{url}/healthz"))
                .ok()
                .filter(|(s, _)| *s == 200)
                .map(|_| ()))
        })?;
        Ok(Server {
            url,
            _proc: proc,
            dir,
        })
    }

    /// Does the server answer `path` with something other than 404/405 (is the route there)?
    pub fn has_route(&self, method: &str, path: &str) -> bool {
        let url = format!("{}{path}", self.url);
        let status = match method {
            "POST" => http_post_json(&url, &json!({})).map(|r| r.0),
            _ => http_get(&url).map(|r| r.0),
        };
        matches!(status, Ok(s) if s != 404 && s != 405)
    }
}
