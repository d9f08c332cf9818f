//! `gridmentor train --algo skills-rl` end to end: a short run learns to choose skills better than
//! a uniformly random choice of skills, and `eval --agent skills:PATH` replays it.

mod common;

use common::{gridmentor, json, temp_dir};
use gridmentor_trainer::algo::skills_rl;

#[test]
fn skills_policy_beats_random_skills() {
    let run = temp_dir("skills");
    let out = run.to_str().unwrap();
    let r = json(&gridmentor(&[
        "train",
        "--algo",
        "skills-rl",
        "--env",
        "SimpleDoorKey",
        "--frames",
        "6144",
        "--envs",
        "16",
        "--steps",
        "64",
        "--batch",
        "256",
        "--seed",
        "1",
        "--eval-episodes",
        "50",
        "--out",
        out,
        "--quiet",
    ]));
    for f in ["config.json", "metrics.csv", "eval.json", "latest.ckpt"] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let random = skills_rl::eval_random("SimpleDoorKey", 50, 700).unwrap();
    let replay = json(&gridmentor(&[
        "eval",
        "--env",
        "SimpleDoorKey",
        "--agent",
        &format!("skills:{}", run.join("latest.ckpt").display()),
        "--episodes",
        "50",
        "--seed",
        "700",
        "--json",
    ]));
    // Random skills often stumble on the door within 100 steps; the trained policy must succeed
    // at least as often and faster (a higher return).
    let trained = replay["success_rate"].as_f64().unwrap();
    let rand = random.wins as f64 / 50.0;
    assert!(
        trained >= rand,
        "trained {trained} vs random skills {rand} ({r})"
    );
    let (tr, rr) = (replay["mean_return"].as_f64().unwrap(), random.ret / 50.0);
    assert!(
        tr >= rr + 0.1,
        "trained return {tr} vs random skills {rr} ({r})"
    );
    std::fs::remove_dir_all(&run).unwrap();
}
