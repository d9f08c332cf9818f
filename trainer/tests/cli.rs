//! The `gridmentor` command as a user runs it.

mod common;

use common::{gridmentor, json_line, metrics, read_json, temp_dir};

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
    assert!(
        random.get("by_kind").is_none(),
        "no task kinds outside BabyAI"
    );
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
fn eval_of_a_babyai_mix_reports_success_per_task_kind() {
    let r = json_line(&gridmentor(&[
        "eval",
        "--env",
        "MixedTrainLocal",
        "--agent",
        "random",
        "--episodes",
        "40",
        "--json",
    ]));
    assert_eq!(r["env"], "BabyAI-MixedTrainLocal-v0");
    let rows = r["by_kind"].as_array().expect("by_kind rows");
    let five = ["go_to", "pick_up", "open", "put_next", "pick_up_then_go_to"];
    assert!(rows.len() >= 4, "{rows:?}");
    let (mut n, mut wins) = (0, 0);
    for row in rows {
        assert!(five.contains(&row["kind"].as_str().unwrap()), "{row}");
        let (e, s) = (
            row["episodes"].as_u64().unwrap(),
            row["successes"].as_u64().unwrap(),
        );
        assert!(e > 0 && s <= e, "{row}");
        assert_eq!(row["success_rate"].as_f64().unwrap(), s as f64 / e as f64);
        n += e;
        wins += s;
    }
    assert_eq!(n, 40);
    assert_eq!(wins as f64 / 40.0, r["success_rate"].as_f64().unwrap());
    // Without --json the sentence ends with the table's cells.
    let out = gridmentor(&[
        "eval",
        "--env",
        "MixedTrainLocal",
        "--agent",
        "random",
        "--episodes",
        "10",
    ]);
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.contains("; by kind: "), "{line}");
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

#[test]
fn bench_policy_measures_the_env_default_network() {
    let r = json_line(&gridmentor(&[
        "bench",
        "policy",
        "--env",
        "SimpleDoorKey",
        "--batch",
        "3",
        "--seconds",
        "0.05",
        "--json",
    ]));
    // SimpleDoorKey trains the memory-map CNN on its 10x10 map.
    assert_eq!(r["net"], "memory-map-cnn");
    assert_eq!(r["obs"], "memory-map10x10");
    assert_eq!(r["batch"], 3);
    for rate in [
        &r["agent_decisions_per_sec"],
        &r["forward_one_per_sec"]["burn"],
        &r["forward_one_per_sec"]["inference"],
        &r["forward_batch_obs_per_sec"]["burn"],
        &r["forward_batch_obs_per_sec"]["inference"],
    ] {
        assert!(rate.as_f64().unwrap() > 0.0, "{r}");
    }
    let out = gridmentor(&["bench", "policy", "--seconds", "0"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--seconds must be positive"));
}

#[test]
fn a_resumed_run_goes_on_exactly_like_an_uninterrupted_one() {
    let dir = temp_dir("resume");
    let tiny = [
        "train",
        "--env",
        "MiniGrid-Empty-5x5-v0",
        "--envs",
        "4",
        "--steps",
        "64",
        "--batch",
        "64",
        "--anneal-lr",
        "false",
        "--eval-episodes",
        "3",
        "--save-every",
        "1",
        "--quiet",
    ];
    let run = |extra: &[&str]| json_line(&gridmentor(&[&tiny[..], extra].concat()));
    let whole = dir.join("whole");
    let part = dir.join("part");
    run(&["--frames", "2048", "--out", whole.to_str().unwrap()]);
    run(&["--frames", "768", "--out", part.to_str().unwrap()]);
    assert!(part.join("latest.state").is_file());
    // Resume with the envs on threads this time: the same episodes must follow. Repeating the
    // run's own settings (the first command with --resume added) is allowed.
    let r = json_line(&gridmentor(&[
        "train",
        "--resume",
        "--env",
        "MiniGrid-Empty-5x5-v0",
        "--envs",
        "4",
        "--frames",
        "2048",
        "--env-threads",
        "2",
        "--quiet",
        "--out",
        part.to_str().unwrap(),
    ]));
    assert_eq!(r["frames"], 2048);
    // The mean return over every training episode carries across the resume too.
    let first = read_json(&whole.join("eval.json"));
    assert!(
        first["training"]["episodes"].as_u64().unwrap() > 0,
        "{first}"
    );
    assert_eq!(first["training"], r["training"], "{first} vs {r}");
    let (a, b) = (metrics(&whole), metrics(&part));
    assert_eq!(a.len(), 9, "a header and 8 updates");
    assert!(
        a.iter().any(|row| row.split(',').nth(2) != Some("0")),
        "episodes should end within the run"
    );
    assert_eq!(a, b, "resumed metrics differ");
    // The clock goes on across the resume: wall_seconds never steps back.
    let rows = common::metrics_rows(&part);
    let col = rows[0]
        .split(',')
        .position(|h| h == "wall_seconds")
        .unwrap();
    let wall: Vec<f64> = rows[1..]
        .iter()
        .map(|r| r.split(',').nth(col).unwrap().parse().unwrap())
        .collect();
    assert!(
        wall.windows(2).all(|w| w[0] <= w[1]),
        "wall_seconds {wall:?}"
    );
    assert!(
        r["seconds"].as_f64().unwrap() >= wall[wall.len() - 1] - 1e-3,
        "{r}"
    );

    // What --resume refuses.
    let refuse = |args: &[&str], want: &str| {
        let out = gridmentor(args);
        assert!(!out.status.success(), "{args:?}");
        let msg = String::from_utf8_lossy(&out.stderr);
        assert!(msg.contains(want), "{args:?}: {msg}");
    };
    let p = part.to_str().unwrap();
    refuse(
        &["train", "--resume", "--out", p, "--lr", "0.1"],
        "--lr cannot change",
    );
    let none = dir.join("none");
    refuse(
        &["train", "--resume", "--out", none.to_str().unwrap()],
        "config.json",
    );
    std::fs::write(part.join("latest.state"), b"GMSTATE1\x05").unwrap();
    refuse(&["train", "--resume", "--out", p], "truncated");
    std::fs::write(part.join("latest.state"), b"junk").unwrap();
    refuse(
        &["train", "--resume", "--out", p],
        "not a usable trainer state",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_files_set_hyper_parameters_and_flags_override_them() {
    let dir = temp_dir("toml");
    let file = dir.join("run.toml");
    std::fs::write(
        &file,
        "env = \"MiniGrid-Empty-5x5-v0\"\nenvs = 2\nsteps = 32\nbatch = 32\nlr = 0.0005\n\
         gae_lambda = 0.9\nreturns = \"mc\"\nframes = 64\neval_episodes = 2\n",
    )
    .unwrap();
    let out = dir.join("run");
    let trained = gridmentor(&[
        "train",
        "--config",
        file.to_str().unwrap(),
        "--lr",
        "0.002",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let r = json_line(&trained);
    let config = read_json(&out.join("config.json"));
    // The device (`auto`): said once on stderr with why, recorded in config.json and the result.
    let device = config["device"].as_str().unwrap();
    assert_eq!(r["device"], device);
    let said = String::from_utf8_lossy(&trained.stderr);
    assert_eq!(said.matches("device: ").count(), 1, "{said}");
    assert!(
        said.contains(&format!("device: {device} [auto: ")),
        "{said}"
    );
    if !cfg!(feature = "wgpu") {
        assert_eq!(device, "cpu (flex)");
    }
    let ppo = &config["ppo"];
    assert_eq!(ppo["env"], "MiniGrid-Empty-5x5-v0");
    assert_eq!(ppo["envs"], 2);
    assert_eq!(ppo["lr"], 0.002, "the flag wins over the file");
    assert!((ppo["lambda"].as_f64().unwrap() - 0.9).abs() < 1e-6);
    assert_eq!(ppo["returns"], "mc");
    assert_eq!(ppo["epochs"], 4, "a key not in the file keeps its default");

    let bad = |text: &str, want: &str| {
        std::fs::write(&file, text).unwrap();
        let o = gridmentor(&[
            "train",
            "--config",
            file.to_str().unwrap(),
            "--out",
            dir.join("x").to_str().unwrap(),
        ]);
        assert!(!o.status.success());
        let msg = String::from_utf8_lossy(&o.stderr);
        let first = msg.lines().next().unwrap_or_default();
        assert!(first.contains(want), "{text:?}: {msg}");
        assert!(first.contains("run.toml"), "{msg}");
    };
    bad(
        "envs = 2\nlearning_rate = 0.1\n",
        "unknown field `learning_rate`",
    );
    bad("envs = \"many\"\n", "line 1");
    bad("envs = [\n", "run.toml");
    let missing = gridmentor(&["train", "--config", "/nonexistent.toml", "--out", "/tmp/x"]);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("reading --config /nonexistent.toml")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Frames and size of a GIF file, decoded.
fn decode_gif(path: &std::path::Path) -> (usize, u16, u16) {
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let mut d = opts
        .read_info(std::fs::File::open(path).unwrap())
        .expect("a GIF");
    let (w, h) = (d.width(), d.height());
    let mut n = 0;
    while let Some(f) = d.read_next_frame().unwrap() {
        assert_eq!((f.width, f.height), (w, h), "full frames");
        n += 1;
    }
    (n, w, h)
}

#[test]
fn eval_records_an_episode_of_any_agent_as_a_gif() {
    let dir = temp_dir("gif");
    let fixture = common::repo_root().join("core/tests/fixtures/doorkey5x5.ckpt");
    let ckpt = format!("checkpoint:{}", fixture.display());
    for (env, agent, size) in [
        ("MiniGrid-DoorKey-5x5-v0", "random", 5u32),
        ("SimpleDoorKey", "planner", 10),
        ("MiniGrid-DoorKey-5x5-v0", ckpt.as_str(), 5),
    ] {
        let gif = dir.join(format!("{size}-{}.gif", agent.len()));
        let r = json_line(&gridmentor(&[
            "eval",
            "--env",
            env,
            "--agent",
            agent,
            "--greedy",
            "--episodes",
            "1",
            "--seed",
            "3",
            "--record",
            gif.to_str().unwrap(),
            "--json",
        ]));
        let steps = r["record"]["steps"].as_u64().unwrap() as usize;
        let (frames, w, h) = decode_gif(&gif);
        assert_eq!(frames, steps + 1, "{agent}: the start and one frame a step");
        assert_eq!(
            (w as u32, h as u32),
            (size * 32, size * 32),
            "{agent}: 32 px a cell"
        );
        assert_eq!(r["record"]["frames"], frames);
        if agent != "random" {
            assert_eq!(r["record"]["success"], true, "{agent} solves seed 3");
        }
    }
    let bad = gridmentor(&[
        "eval",
        "--env",
        "MiniGrid-DoorKey-5x5-v0",
        "--agent",
        "random",
        "--record",
        "/nonexistent/dir/x.gif",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--record /nonexistent/dir/x.gif"));
    let _ = std::fs::remove_dir_all(&dir);
}
