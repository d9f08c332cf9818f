//! A minimal WebDriver client over chromedriver's HTTP API (W3C protocol), enough for the
//! playground's end-to-end tests and browser benchmark: sessions, navigation, scripts, elements,
//! keys, screenshots.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

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

/// chromedriver, started on a free port.
pub struct Driver {
    pub url: String,
    _proc: Proc,
}

impl Driver {
    pub fn start() -> Result<Driver, String> {
        let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = free_port();
        let child = Command::new(&bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {bin} (scripts/setup.sh --browser): {e}"))?;
        let proc = Proc(child);
        let url = format!("http://127.0.0.1:{port}");
        wait_until("chromedriver", Duration::from_secs(20), || {
            Ok(http_get(&format!("{url}/status"))
                .ok()
                .filter(|(s, b)| *s == 200 && b.contains("\"ready\":true"))
                .map(|_| ()))
        })?;
        Ok(Driver { url, _proc: proc })
    }

    /// A new browser with a fresh profile.
    pub fn session(&self) -> Result<Browser, String> {
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,1000",
        ];
        if std::env::var("E2E_NARROW").is_ok() {
            args.pop();
            args.push("--window-size=400,900");
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"args": args}
        }}});
        let (status, body) = http_post_json(&format!("{}/session", self.url), &caps)?;
        let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let id = v["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("chromedriver refused a session ({status}): {body}"))?;
        Ok(Browser {
            base: format!("{}/session/{id}", self.url),
        })
    }
}

/// One browser session.
pub struct Browser {
    base: String,
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
        let mut actions = Vec::new();
        if ctrl {
            actions.push(json!({"type": "keyDown", "value": "\u{E009}"}));
        }
        for k in keys {
            actions.push(json!({"type": "keyDown", "value": k}));
            actions.push(json!({"type": "keyUp", "value": k}));
        }
        if ctrl {
            actions.push(json!({"type": "keyUp", "value": "\u{E009}"}));
        }
        self.cmd(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .map(|_| ())
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
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("gridmentor-e2e-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .args(["--addr", &format!("127.0.0.1:{port}"), "--www"])
            .arg(www)
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
