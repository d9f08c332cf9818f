//! `gridmentor train` end to end: PPO learns DoorKey-5x5 within 150k frames on the CPU, writes
//! its run folder, and the checkpoint it writes plays as well when loaded by `eval`.

mod common;

use common::{gridmentor, json, metrics_rows, read_json, temp_dir};
use std::path::Path;

#[test]
fn ppo_learns_doorkey_5x5_and_its_checkpoint_replays() {
    let run = temp_dir("train");
    let out = run.to_str().unwrap();
    let r = json(&gridmentor(&[
        "train",
        "--env",
        "MiniGrid-DoorKey-5x5-v0",
        "--algo",
        "ppo",
        "--frames",
        "150000",
        "--seed",
        "1",
        "--device",
        "cpu",
        "--out",
        out,
        "--quiet",
    ]));
    assert!(r["frames"].as_u64().unwrap() <= 150_000);
    let trained = r["mean_return"].as_f64().unwrap();
    assert!(trained >= 0.9, "mean return {trained} after 150k frames");

    // The run folder.
    for f in ["config.json", "metrics.csv", "latest.ckpt", "best.ckpt"] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let config = read_json(&run.join("config.json"));
    assert_eq!(config["ppo"]["batch"], 256);
    let rows = metrics_rows(&run);
    assert!(rows[0].starts_with("update,frames,fps,"));
    assert_eq!(rows.len() - 1, 150_000 / (16 * 128), "one row per update");
    // Every training episode counted once, and their mean return lies below the trained
    // policy's (it starts from a random one) and above nothing.
    let episodes = rows[rows.len() - 1].split(',').nth(3).unwrap();
    assert_eq!(r["training"]["episodes"].to_string(), episodes, "{r}");
    let while_training = r["training"]["mean_return"].as_f64().unwrap();
    assert!(
        while_training > 0.05 && while_training < trained,
        "mean return while training {while_training}, trained {trained}"
    );
    let events = std::fs::read_dir(&run)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        })
        .expect("a TensorBoard event file");
    assert!(events.metadata().unwrap().len() > 1000);

    // The checkpoint plays as well through `eval`.
    let ckpt = format!("checkpoint:{}", run.join("latest.ckpt").display());
    let e = json(&gridmentor(&[
        "eval",
        "--env",
        "MiniGrid-DoorKey-5x5-v0",
        "--agent",
        &ckpt,
        "--episodes",
        "100",
        "--seed",
        "5000",
        "--json",
    ]));
    let replayed = e["mean_return"].as_f64().unwrap();
    assert!(replayed >= 0.9, "checkpoint mean return {replayed}");
    assert_eq!(e["agent"], "checkpoint");

    // A second run into the same folder is refused, nothing is overwritten.
    let again = gridmentor(&["train", "--frames", "4096", "--out", out, "--quiet"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a run"));

    // The checkpoint refuses another env, clearly.
    let other = gridmentor(&["eval", "--env", "MiniGrid-DoorKey-8x8-v0", "--agent", &ckpt]);
    assert!(!other.status.success());
    let msg = String::from_utf8_lossy(&other.stderr);
    assert!(msg.contains("MiniGrid-DoorKey-5x5-v0"), "{msg}");
    let _ = std::fs::remove_dir_all(&run);
}

/// The must-show asks for 3 seeds out of 3; seed 1 is the test above. Seeds 2 and 3 train side
/// by side (two processes) so the binary's wall time stays near one run's.
#[test]
fn ppo_learns_doorkey_5x5_with_seeds_2_and_3() {
    let runs: Vec<_> = ["2", "3"]
        .into_iter()
        .map(|seed| {
            let run = temp_dir(&format!("train-seed{seed}"));
            let child = common::command()
                .args([
                    "train",
                    "--env",
                    "MiniGrid-DoorKey-5x5-v0",
                    "--frames",
                    "150000",
                ])
                .args(["--seed", seed, "--device", "cpu", "--quiet", "--out"])
                .arg(&run)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run gridmentor");
            (seed, run, child)
        })
        .collect();
    for (seed, run, child) in runs {
        let r = json(&child.wait_with_output().unwrap());
        let ret = r["mean_return"].as_f64().unwrap();
        assert!(r["frames"].as_u64().unwrap() <= 150_000);
        assert!(
            ret >= 0.9,
            "seed {seed}: mean return {ret} after 150k frames"
        );
        let _ = std::fs::remove_dir_all(&run);
    }
}

/// `--obs view-mission` trains PPO on a BabyAI mix (the view plus the mission's index planes),
/// and `eval` plays the checkpoint and reports success per task kind.
#[test]
fn ppo_with_the_mission_trains_and_evaluates_on_a_babyai_mix() {
    let run = temp_dir("train-view-mission");
    let env = "BabyAI-MixedTrainLocal-v0";
    let r = json(&gridmentor(&[
        "train",
        "--env",
        env,
        "--obs",
        "view-mission",
        "--frames",
        "4096",
        "--envs",
        "4",
        "--eval-episodes",
        "10",
        "--seed",
        "1",
        "--device",
        "cpu",
        "--out",
        run.to_str().unwrap(),
        "--quiet",
    ]));
    assert_eq!(r["frames"].as_u64(), Some(4096));
    let config = read_json(&run.join("config.json"));
    assert_eq!(config["obs"], "view-mission7");
    assert_eq!(config["net"], "minigrid-cnn");
    assert_eq!(metrics_rows(&run).len() - 1, 4096 / (4 * 128));

    let ckpt = format!("checkpoint:{}", run.join("latest.ckpt").display());
    let e = json(&gridmentor(&[
        "eval",
        "--env",
        env,
        "--agent",
        &ckpt,
        "--episodes",
        "30",
        "--seed",
        "4295967299",
        "--json",
    ]));
    assert_eq!(e["agent"], "checkpoint");
    let rows = e["by_kind"].as_array().expect("by_kind rows");
    assert!(rows.len() >= 4, "{rows:?}");
    let episodes: u64 = rows.iter().map(|r| r["episodes"].as_u64().unwrap()).sum();
    assert_eq!(episodes, 30);
    let _ = std::fs::remove_dir_all(&run);
}

#[test]
fn bad_checkpoints_and_flags_get_clear_errors() {
    let dir = temp_dir("badckpt");
    let junk = dir.join("junk.ckpt");
    std::fs::write(&junk, b"not a checkpoint at all").unwrap();
    let arg = format!("checkpoint:{}", junk.display());
    let out = gridmentor(&["eval", "--env", "MiniGrid-DoorKey-5x5-v0", "--agent", &arg]);
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("junk.ckpt"), "{msg}");
    let missing = gridmentor(&[
        "eval",
        "--env",
        "MiniGrid-DoorKey-5x5-v0",
        "--agent",
        "checkpoint:/nonexistent.ckpt",
    ]);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("reading checkpoint /nonexistent.ckpt")
    );
    let bad_batch = gridmentor(&[
        "train",
        "--batch",
        "300",
        "--out",
        dir.join("r").to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&bad_batch.stderr).contains("multiple of --batch"));
    // Refused before training, for every algorithm (it used to fail after the whole run).
    for algo in ["ppo", "glam"] {
        let no_eval = gridmentor(&[
            "train",
            "--algo",
            algo,
            "--eval-episodes",
            "0",
            "--out",
            dir.join("e").to_str().unwrap(),
        ]);
        let msg = String::from_utf8_lossy(&no_eval.stderr);
        assert!(
            msg.contains("--eval-episodes must be at least 1"),
            "{algo}: {msg}"
        );
        assert!(!dir.join("e").exists(), "{algo} made its run folder");
    }
    // A build with the feature trains on wgpu (tests/wgpu.rs).
    if !cfg!(feature = "wgpu") {
        let wgpu = gridmentor(&[
            "train",
            "--device",
            "wgpu",
            "--out",
            dir.join("w").to_str().unwrap(),
        ]);
        assert!(!wgpu.status.success());
        let msg = String::from_utf8_lossy(&wgpu.stderr);
        assert!(msg.contains("without wgpu support"), "{msg}");
        assert!(msg.contains("--features wgpu"), "{msg}");
        assert_eq!(msg.trim().lines().count(), 1, "one error line: {msg}");
        assert!(!dir.join("w").exists());
    }
    assert!(!Path::new(&dir.join("r").join("config.json")).exists());
    let _ = std::fs::remove_dir_all(&dir);
}
