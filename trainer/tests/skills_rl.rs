//! `gridmentor train --algo skills-rl` end to end: a short run learns to choose skills better than
//! a uniformly random choice of skills, and `eval --agent skills:PATH` replays it.

mod common;

use common::{gridmentor, json, metrics, read_json, temp_dir};
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

/// `--resume` works for skills-rl as for PPO: the option envs are replayed to where they stood
/// and the algorithm's counters go on, so a resumed run writes the rows an uninterrupted one does.
#[test]
fn a_resumed_skills_rl_run_goes_on_like_an_uninterrupted_one() {
    let dir = temp_dir("skills-resume");
    let tiny = "train --algo skills-rl --env SimpleDoorKey --envs 2 --steps 16 --batch 32 \
                --anneal-lr false --eval-episodes 2 --save-every 1 --quiet";
    let (whole, part) = (dir.join("whole"), dir.join("part"));
    let run = |frames: &str, out: &std::path::Path| {
        let more = ["--frames", frames, "--out", out.to_str().unwrap()];
        json(&gridmentor(
            &tiny.split_whitespace().chain(more).collect::<Vec<_>>(),
        ))
    };
    run("128", &whole);
    run("64", &part);
    // The resumed leg names neither the algorithm nor its settings: config.json has them.
    let resume = ["train", "--resume", "--frames", "128", "--quiet", "--out"];
    let r = json(&gridmentor(
        &[&resume[..], &[part.to_str().unwrap()]].concat(),
    ));
    assert_eq!(
        (&r["algo"], &r["frames"]),
        (&"skills-rl".into(), &128.into())
    );
    let (a, b) = (metrics(&whole), metrics(&part));
    assert_eq!(a.len(), 1 + 4, "a header and 4 updates");
    assert!(
        a[0].ends_with(",env_steps,options,failed_option_share"),
        "{}",
        a[0]
    );
    assert_eq!(a, b, "resumed metrics differ");
    assert_eq!(read_json(&part.join("config.json"))["ppo"]["frames"], 128);
    std::fs::remove_dir_all(&dir).unwrap();
}
