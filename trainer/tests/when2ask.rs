//! `gridmentor train --algo when2ask` end to end: a short run (a few thousand frames) writes its
//! run folder and a mediator that asks far less than a random asker at equal success, and
//! `eval --agent mediator:PATH` replays it.

mod common;

use common::{gridmentor, json, metrics_rows, read_json, temp_dir};
use serde_json::Value;

fn eval(agent: &str) -> Value {
    json(&gridmentor(&[
        "eval",
        "--env",
        "SimpleDoorKey",
        "--agent",
        agent,
        "--episodes",
        "40",
        "--seed",
        "500",
        "--style",
        "when2ask",
        "--greedy",
        "--json",
    ]))
}

#[test]
fn mediator_learns_to_ask_less_than_random_at_equal_success() {
    let run = temp_dir("w2a");
    let out = run.to_str().unwrap();
    let r = json(&gridmentor(&[
        "train",
        "--algo",
        "when2ask",
        "--env",
        "SimpleDoorKey",
        "--planner",
        "expert",
        "--frames",
        "4096",
        "--envs",
        "8",
        "--steps",
        "128",
        "--batch",
        "256",
        "--seed",
        "1",
        "--eval-episodes",
        "20",
        "--out",
        out,
        "--quiet",
    ]));
    for f in [
        "config.json",
        "metrics.csv",
        "eval.json",
        "latest.ckpt",
        "best.ckpt",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let header = &metrics_rows(&run)[0];
    for c in [
        "success_rate",
        "llm_calls_per_episode",
        "tokens_per_episode",
        "planner_ms_per_episode",
    ] {
        assert!(header.contains(c), "{c} not in {header}");
    }
    assert!(r["success_rate"].as_f64().unwrap() >= 0.9, "{r}");

    let ckpt = format!("mediator:{}", run.join("latest.ckpt").display());
    let mediator = eval(&ckpt);
    let random = eval("random:p=0.5");
    let (ms, rs) = (
        mediator["success_rate"].as_f64().unwrap(),
        random["success_rate"].as_f64().unwrap(),
    );
    let (mc, rc) = (
        mediator["llm_calls_per_episode"].as_f64().unwrap(),
        random["llm_calls_per_episode"].as_f64().unwrap(),
    );
    assert!(
        ms >= rs - 0.05,
        "mediator success {ms} vs random asker {rs}"
    );
    assert!(
        mc < 0.6 * rc,
        "mediator calls {mc}/episode vs random asker {rc}"
    );
    std::fs::remove_dir_all(&run).unwrap();
}

#[test]
fn eval_refuses_a_bad_asker() {
    let out = gridmentor(&["eval", "--env", "SimpleDoorKey", "--agent", "random:p=3"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("random:p=P"), "{err}");
}

/// `--config` sets a When2Ask run's PPO settings as it does plain PPO's, flags over the file (the
/// file used to be ignored: the mediator's training returned before reading it).
#[test]
fn when2ask_honours_a_config_file() {
    let dir = temp_dir("w2a-config");
    let file = dir.join("run.toml");
    let toml = "envs = 2\nsteps = 32\nbatch = 32\neval_episodes = 3\nseed = 4\nframes = 4096\n";
    std::fs::write(&file, toml).unwrap();
    let run = dir.join("run");
    let mut args: Vec<&str> = "train --algo when2ask --env SimpleDoorKey --frames 128 --quiet"
        .split(' ')
        .collect();
    args.extend(["--config", file.to_str().unwrap()]);
    args.extend(["--out", run.to_str().unwrap()]);
    let r = json(&gridmentor(&args));
    let ppo = &read_json(&run.join("config.json"))["ppo"];
    assert_eq!(
        (&ppo["envs"], &ppo["steps"], &ppo["seed"]),
        (&2.into(), &32.into(), &4.into())
    );
    assert_eq!(ppo["frames"], 128, "the flag wins over the file");
    // The file took effect: 128 frames of 2 envs x 32 steps are two updates, then 3 evaluation
    // episodes.
    assert_eq!(metrics_rows(&run).len(), 1 + 2);
    assert_eq!((&r["frames"], &r["episodes"]), (&128.into(), &3.into()));
    assert_eq!(read_json(&run.join("eval.json"))["episodes"], 3);
    std::fs::remove_dir_all(&dir).unwrap();
}
