//! The `gridmentor` command as a user runs it.

use serde_json::Value;
use std::process::{Command, Output};

fn gridmentor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridmentor"))
        .args(args)
        .output()
        .expect("run gridmentor")
}

fn json_line(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line expected, got {stdout}");
    serde_json::from_str(lines[0]).unwrap()
}

#[test]
fn envs_lists_every_family() {
    let out = gridmentor(&["envs"]);
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    for id in [
        "SimpleDoorKey",
        "MiniGrid-DoorKey-5x5-v0",
        "BabyAI-GoToLocal-v0",
        "MiniGrid-FourRooms-v0",
    ] {
        assert!(
            s.lines().any(|l| l.starts_with(id)),
            "{id} missing from:\n{s}"
        );
    }
}

#[test]
fn eval_expert_solves_simple_door_key() {
    let r = json_line(&gridmentor(&[
        "eval",
        "--env",
        "SimpleDoorKey",
        "--agent",
        "planner",
        "--planner",
        "expert",
        "--episodes",
        "30",
        "--seed",
        "7",
        "--json",
    ]));
    assert_eq!(r["env"], "SimpleDoorKey");
    assert_eq!(r["episodes"], 30);
    assert_eq!(r["success_rate"], 1.0);
    assert!(r["mean_return"].as_f64().unwrap() > 0.5);
    let calls = r["llm_calls_per_episode"].as_f64().unwrap();
    assert!((1.0..10.0).contains(&calls), "{calls}");
    assert!(r["planner"].as_str().unwrap().contains("scripted expert"));
}

#[test]
fn eval_random_and_noisy_expert_do_worse() {
    let random = json_line(&gridmentor(&[
        "eval",
        "--env",
        "SimpleDoorKey",
        "--agent",
        "random",
        "--episodes",
        "30",
        "--json",
    ]));
    assert!(random["success_rate"].as_f64().unwrap() < 0.5);
    assert_eq!(random["llm_calls_per_episode"], 0.0);
    let noisy = json_line(&gridmentor(&[
        "eval",
        "--env",
        "SimpleDoorKey",
        "--planner",
        "expert:noise=0.5,seed=3",
        "--episodes",
        "30",
        "--json",
    ]));
    let clean = json_line(&gridmentor(&[
        "eval",
        "--env",
        "SimpleDoorKey",
        "--episodes",
        "30",
        "--json",
    ]));
    assert!(
        noisy["llm_calls_per_episode"].as_f64().unwrap()
            > clean["llm_calls_per_episode"].as_f64().unwrap(),
        "a noisy planner needs more calls"
    );
}

#[test]
fn bad_input_gets_a_clear_error() {
    let stderr = |args: &[&str]| {
        let out = gridmentor(args);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(
        stderr(&["eval", "--env", "NoSuchEnv", "--json"]).contains("unknown env \"NoSuchEnv\"")
    );
    assert!(
        stderr(&["eval", "--env", "SimpleDoorKey", "--planner", "oracle"])
            .contains("unknown planner")
    );
    assert!(
        stderr(&[
            "eval",
            "--env",
            "SimpleDoorKey",
            "--planner",
            "expert:noise=2"
        ])
        .contains("noise must be within 0..=1")
    );
    assert!(
        stderr(&["eval", "--env", "SimpleDoorKey", "--style", "haiku"])
            .contains("unknown prompt style")
    );
    assert!(stderr(&["eval", "--env", "SimpleDoorKey", "--episodes", "0"]).contains("at least 1"));
}

#[test]
fn bench_env_prints_one_json_line() {
    let r = json_line(&gridmentor(&[
        "bench",
        "env",
        "--env",
        "MiniGrid-DoorKey-8x8-v0",
        "--steps",
        "20000",
        "--json",
    ]));
    assert_eq!(r["env"], "MiniGrid-DoorKey-8x8-v0");
    assert_eq!(r["steps"], 20000);
    assert!(r["steps_per_sec"].as_f64().unwrap() > 0.0);
}
