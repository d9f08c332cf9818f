//! `make screenshot`: the README's pictures of the playground, from the real server with the
//! shipped agents (`agents/`) and the real page in headless Chromium (the e2e tests' WebDriver
//! harness):
//!
//! - `docs/playground.png`: the When2Ask mediator playing a few steps, its panel (ask
//!   probability, plan, skill, asks on the timeline) and what the agent sees beside the grid;
//! - `docs/phone.png`: the page on a 390x844 phone screen with the on-screen moves;
//! - `docs/compare-curves.png`: three SimpleDoorKey agents compared, with their learning curves;
//! - `docs/shared-episode.png`: a shared episode opened from its link, scrubbed half-way.
//!
//! Needs `GRIDMENTOR_SERVER` (the server binary), `www/pkg` (`make wasm`) and chromedriver.
//! `SCREENSHOT_DIR` changes the folder, `SCREENSHOT_STEPS` the mediator's steps (default 14).

#[path = "../tests/support/webdriver.rs"]
mod webdriver;

use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;
use webdriver::{Browser, BrowserKind, Driver, Server};

const ENV: &str = "SimpleDoorKey";
const SEED: u64 = 1003;
const MEDIATOR_FILE: &str = "simpledoorkey-when2ask.ckpt";
/// The SimpleDoorKey agents compared beside the mediator.
const COMPARED: [&str; 2] = ["simpledoorkey-llm4teach.ckpt", "simpledoorkey-ppo.ckpt"];
const LONG: Duration = Duration::from_secs(60);

/// The agent key of a shipped checkpoint file.
fn key_of(agents: &Path, file: &str) -> Result<String, String> {
    let bytes = std::fs::read(agents.join(file))
        .map_err(|e| format!("{}: {e}", agents.join(file).display()))?;
    Ok(format!("checkpoint:{}", gridmentor_web::sha256_hex(&bytes)))
}

/// The page at `url`, ready, its first-visit introduction dismissed (it would
/// cover the board; after a first visit it is gone).
fn open(b: &Browser, url: &str) -> Result<(), String> {
    b.goto(url)?;
    b.wait_for("document.body.dataset.ready === '1'", LONG)?;
    b.js("localStorage.setItem('gridmentor.introSeen', '1'); document.getElementById('intro').hidden = true; return 1")?;
    Ok(())
}

/// The mediator plays up to `steps` steps with Step.
fn mediator_steps(b: &Browser, key: &str, steps: u32) -> Result<(), String> {
    b.choose_agent(key, "mediator", LONG)?;
    for i in 1..=steps {
        b.click("#step")?;
        b.wait_for(&format!("document.body.dataset.steps === '{i}'"), LONG)?;
        if b.js("return document.body.dataset.status")?.as_str() != Some("playing") {
            break;
        }
    }
    Ok(())
}

fn run() -> Result<Vec<PathBuf>, String> {
    let root = webdriver::repo_root();
    let bin = std::env::var("GRIDMENTOR_SERVER").map_err(|_| "set GRIDMENTOR_SERVER")?;
    let dir = std::env::var("SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("docs"));
    let steps: u32 = match std::env::var("SCREENSHOT_STEPS") {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("SCREENSHOT_STEPS={v:?} is not a number"))?,
        Err(_) => 14,
    };
    let agents = root.join("agents");
    let mediator = key_of(&agents, MEDIATOR_FILE)?;
    let server = Server::start_with(Path::new(&bin), &root.join("www"), Some(&agents))?;
    let driver = Driver::start_for(BrowserKind::Chromium)?;
    let b = driver.session()?;
    let page = format!("{}/?env={ENV}&seed={SEED}", server.url);
    let mut made = Vec::new();

    // The board, the mediator's panel and the observation panel (what the agent sees).
    b.window_size(1280, 1100)?;
    open(&b, &page)?;
    mediator_steps(&b, &mediator, steps)?;
    b.js("window.scrollTo(0, 0); return 1")?;
    let out = dir.join("playground.png");
    b.screenshot(&out)?;
    made.push(out);

    // A shared episode (the mediator's, from its link) opened at step 0 and scrubbed half-way.
    let link = b.js("return document.getElementById('copy-link').click(), 1")
        .and_then(|_| b.wait_for("!document.getElementById('share-url').hidden && document.getElementById('share-url').value", LONG))?;
    let link = link.as_str().ok_or("no share link")?.to_string();
    let shared = driver.session()?;
    shared.window_size(1280, 1180)?;
    open(&shared, &format!("{}/", server.url))?;
    shared.goto(&link)?;
    shared.wait_for("document.body.dataset.replayed === '1'", LONG)?;
    shared.exec(
        "const r = document.getElementById('scrub'); r.value = String(Math.floor(Number(r.max) / 2)); \
         r.dispatchEvent(new Event('input')); r.focus(); window.scrollTo(0, 0); return 1",
        json!([]),
    )?;
    std::thread::sleep(Duration::from_millis(300));
    let out = dir.join("shared-episode.png");
    shared.screenshot(&out)?;
    made.push(out);

    // Three SimpleDoorKey agents compared, their learning curves below the cards.
    b.window_size(1280, 1300)?;
    open(&b, &page)?;
    let mut keys = vec![mediator.clone()];
    for f in COMPARED {
        keys.push(key_of(&agents, f)?);
    }
    b.wait_for(
        &format!(
            "{} .every(k => [...document.querySelectorAll('#compare-pick input')].some(i => i.value === k))",
            json!(keys)
        ),
        LONG,
    )?;
    b.exec(
        "for (const cb of document.querySelectorAll('#compare-pick input')) cb.checked = arguments[0].includes(cb.value); return 1",
        json!([keys]),
    )?;
    b.click("#compare-start")?;
    b.wait_for("!document.getElementById('curves').hidden", LONG)?;
    b.exec(
        "document.getElementById('speed').value = '60'; return 1",
        json!([]),
    )?;
    b.click("#compare-play")?;
    b.wait_for("document.body.dataset.compareDone === '1'", LONG)?;
    b.js("document.getElementById('compare').scrollIntoView({ block: 'start' }); return 1")?;
    let out = dir.join("compare-curves.png");
    b.screenshot(&out)?;
    made.push(out);

    // A phone: the board, the on-screen moves and the agent row.
    b.window_size(390, 844)?;
    open(&b, &page)?;
    let width = b.js("return window.innerWidth")?;
    if width.as_u64() != Some(390) {
        return Err(format!("the window is {width} px wide, not 390"));
    }
    b.click("#pad button[data-action='2']")?;
    b.js("document.getElementById('grid').scrollIntoView({ block: 'start' }); return 1")?;
    let out = dir.join("phone.png");
    b.screenshot(&out)?;
    made.push(out);
    Ok(made)
}

fn main() {
    match run() {
        Ok(made) => {
            for out in made {
                println!("screenshot: {}", out.display());
            }
        }
        Err(e) => {
            eprintln!("screenshot failed: {e}");
            std::process::exit(1);
        }
    }
}
