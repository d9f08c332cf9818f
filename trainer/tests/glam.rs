//! `train --algo glam` through the command, on the embedded SmolLM2: one tiny update writes the
//! run folder every algorithm writes, and `--resume` goes on from `latest.glam`.
//! (That PPO raises the likelihood of rewarded actions is llm/tests/grounding.rs.)

mod common;

use common::{column, gridmentor, json, metrics_rows, read_json, temp_dir};
use gridmentor_llm::SmolLm2;

#[test]
fn a_glam_run_writes_its_folder_and_resumes_from_latest_glam() {
    let model = SmolLm2::default_path();
    if !model.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the model is missing"
        );
        eprintln!("SKIP: model {} missing", model.display());
        return;
    }
    let dir = temp_dir("glam");
    let run = dir.join("run");
    let out = run.to_str().unwrap();
    // One rollout of 2 envs x 4 steps and one epoch: the smallest run (each final evaluation
    // still plays a whole 64-step episode, most of this test's time).
    let first = json(&gridmentor(&[
        "train",
        "--algo",
        "glam",
        "--env",
        "BabyAI-GoToObj-v0",
        "--frames",
        "8",
        "--envs",
        "2",
        "--steps",
        "4",
        "--epochs",
        "1",
        "--batch",
        "8",
        "--policy-temperature",
        "3",
        "--distance-shaping",
        "0.05",
        "--eval-episodes",
        "1",
        "--quiet",
        "--out",
        out,
    ]));
    assert_eq!(first["algo"], "glam", "{first}");
    assert_eq!(first["frames"], 8, "{first}");
    assert_eq!(first["episodes"], 1, "{first}");
    for file in [
        "config.json",
        "metrics.csv",
        "latest.glam",
        "best.glam",
        "eval.json",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let events = std::fs::read_dir(&run)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("events.out.tfevents.")
        })
        .count();
    assert_eq!(events, 1, "one TensorBoard event file");
    assert_eq!(read_json(&run.join("eval.json"))["frames"], 8);
    let rows = metrics_rows(&run);
    assert_eq!(column(&rows, "update"), [1.0]);
    assert_eq!(column(&rows, "frames"), [8.0]);
    // The episode figures: empty cells while no episode has ended (not inf, -inf or -0), else
    // finite numbers.
    let header: Vec<&str> = rows[0].split(',').collect();
    let cells: Vec<&str> = rows[1].split(',').collect();
    let ended = column(&rows, "episodes")[0] > 0.0;
    for c in [
        "return_mean",
        "return_min",
        "return_max",
        "length_mean",
        "success_rate",
    ] {
        let cell = cells[header.iter().position(|h| *h == c).expect(c)];
        let ok = match ended {
            false => cell.is_empty(),
            true => cell.parse::<f64>().is_ok_and(f64::is_finite),
        };
        assert!(
            ok,
            "{c} = {cell:?} with episodes ended: {ended}; {}",
            rows[1]
        );
    }
    // The shaping reached the rewards PPO trains on (every GoToObj state has a distance, and
    // even a step that keeps it gains (gamma - 1) Phi), and not the episode figures, which are
    // the env's reward (a shaped return could be negative).
    assert!(column(&rows, "shaping_per_step")[0] != 0.0, "{rows:?}");
    if ended {
        assert!(column(&rows, "return_min")[0] >= 0.0, "{rows:?}");
    }
    assert_eq!(
        read_json(&run.join("config.json"))["guide"]["args"]["distance_shaping"],
        0.05,
        "the shaping is recorded with the run"
    );
    // The update moved the adapters (a zero gradient would leave the policy loss at exactly 0
    // and the KL at 0 too, and the resumed run below would start from fresh adapters unnoticed).
    assert!(column(&rows, "grad_norm")[0] > 0.0, "{rows:?}");
    let saved = std::fs::read(run.join("latest.glam")).unwrap();

    // Resumed with its own settings from config.json: one more update, the metrics go on.
    let second = json(&gridmentor(&[
        "train", "--resume", "--out", out, "--frames", "16", "--quiet",
    ]));
    assert_eq!(second["frames"], 16, "{second}");
    let rows = metrics_rows(&run);
    assert_eq!(column(&rows, "update"), [1.0, 2.0]);
    assert_eq!(column(&rows, "frames"), [8.0, 16.0]);
    let resumed = std::fs::read(run.join("latest.glam")).unwrap();
    assert_ne!(saved, resumed, "the resumed update saved nothing new");
    let config = read_json(&run.join("config.json"));
    assert_eq!(config["ppo"]["frames"], 16, "{config}");
    assert_eq!(config["ppo"]["envs"], 2, "{config}");
    // The policy temperature came from the run, not from the resuming command's defaults.
    let planner = second["planner"].as_str().unwrap();
    assert!(planner.contains("policy temperature 3"), "{planner}");

    // A resume of a folder without latest.glam says what is missing.
    std::fs::remove_file(run.join("latest.glam")).unwrap();
    let broken = gridmentor(&["train", "--resume", "--out", out, "--frames", "24"]);
    assert!(!broken.status.success());
    let msg = String::from_utf8_lossy(&broken.stderr);
    assert!(msg.contains("latest.glam"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}
