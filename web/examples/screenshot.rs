//! `make screenshot`: `docs/playground.png`, the playground as a first visitor sees it. The real
//! server with the shipped agents (`agents/`), the real page in headless Chromium (the e2e
//! tests' WebDriver harness), the When2Ask mediator playing a few steps with its panel (ask
//! probability, plan, skill, asks on the timeline) beside the grid.
//!
//! Needs `GRIDMENTOR_SERVER` (the server binary), `www/pkg` (`make wasm`) and chromedriver.
//! `SCREENSHOT_OUT` changes the file, `SCREENSHOT_STEPS` the number of steps (default 14).

#[path = "../tests/support/webdriver.rs"]
mod webdriver;

use std::path::{Path, PathBuf};
use std::time::Duration;
use webdriver::{BrowserKind, Driver, Server};

const ENV: &str = "SimpleDoorKey";
const SEED: u64 = 1003;
const MEDIATOR_FILE: &str = "simpledoorkey-when2ask.ckpt";

fn run() -> Result<PathBuf, String> {
    let root = webdriver::repo_root();
    let bin = std::env::var("GRIDMENTOR_SERVER").map_err(|_| "set GRIDMENTOR_SERVER")?;
    let out = std::env::var("SCREENSHOT_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("docs/playground.png"));
    let steps: u32 = match std::env::var("SCREENSHOT_STEPS") {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("SCREENSHOT_STEPS={v:?} is not a number"))?,
        Err(_) => 14,
    };
    let agents = root.join("agents");
    let mediator = std::fs::read(agents.join(MEDIATOR_FILE))
        .map_err(|e| format!("{}: {e}", agents.join(MEDIATOR_FILE).display()))?;
    let key = format!("checkpoint:{}", gridmentor_web::sha256_hex(&mediator));

    let server = Server::start_with(Path::new(&bin), &root.join("www"), Some(&agents))?;
    let driver = Driver::start_for(BrowserKind::Chromium)?;
    let b = driver.session()?;
    b.window_size(1280, 1000)?;
    b.goto(&format!("{}/?env={ENV}&seed={SEED}", server.url))?;
    let long = Duration::from_secs(60);
    b.wait_for("document.body.dataset.ready === '1'", long)?;
    // The first-visit introduction would cover the board: dismissed, as after a first visit.
    b.click("#intro-close")?;
    b.choose_agent(&key, "mediator", long)?;
    for i in 1..=steps {
        b.click("#step")?;
        b.wait_for(&format!("document.body.dataset.steps === '{i}'"), long)?;
        if b.js("return document.body.dataset.status")?.as_str() != Some("playing") {
            break;
        }
    }
    b.js("window.scrollTo(0, 0); return 1")?;
    b.screenshot(&out)?;
    Ok(out)
}

fn main() {
    match run() {
        Ok(out) => println!("screenshot: {}", out.display()),
        Err(e) => {
            eprintln!("screenshot failed: {e}");
            std::process::exit(1);
        }
    }
}
