//! Golden traces recorded from Farama MiniGrid 3.2 (see `traces/README.md`): load each recorded
//! layout, replay its actions, and compare position, direction, carried object, the 7x7x3 image,
//! reward (1e-6), terminated and truncated after every step.
//!
//! Reads every `*.json` in `core/tests/traces/minigrid/` (a copy of `shared/conformance/`), in
//! `../shared/conformance/minigrid/` when that folder exists, and in `$GRIDMENTOR_TRACES`.

use gridmentor_core::registry;
use gridmentor_core::world::{Action, Dir, Grid, Item, Obj, Pos, World};
use gridmentor_core::{Env, Setup};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

type Code = [u8; 3];

#[derive(Deserialize)]
struct Trace {
    env_id: String,
    seed: u64,
    mission: String,
    width: i32,
    height: i32,
    max_steps: u32,
    agent_view_size: u8,
    see_through_walls: bool,
    grid: Vec<Vec<Code>>,
    boxes: Vec<BoxEntry>,
    agent_pos: [i32; 2],
    agent_dir: u8,
    carrying: Option<Code>,
    initial_obs: InitialObs,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct BoxEntry {
    pos: [i32; 2],
    contains: Option<Code>,
}

#[derive(Deserialize)]
struct InitialObs {
    image: Vec<Vec<Code>>,
    direction: u8,
}

#[derive(Deserialize)]
struct Step {
    action: u8,
    reward: f64,
    terminated: bool,
    truncated: bool,
    agent_pos: [i32; 2],
    agent_dir: u8,
    carrying: Option<Code>,
    image: Vec<Vec<Code>>,
}

fn trace_files() -> Vec<PathBuf> {
    // Read at run time (cargo test sets it): the path compiled in names the clone that built
    // this test, which is another clone when clones share a target dir.
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo test"));
    let mut dirs = vec![
        manifest.join("tests/traces/minigrid"),
        manifest.join("../../shared/conformance/minigrid"),
    ];
    if let Ok(extra) = std::env::var("GRIDMENTOR_TRACES") {
        let extra = PathBuf::from(extra);
        assert!(
            extra.is_dir(),
            "GRIDMENTOR_TRACES={} is not a folder",
            extra.display()
        );
        dirs.push(extra);
    }
    // Same file name in several folders: the later folder's copy wins, unless identical.
    let mut by_name: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "json") {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                by_name.entry(name).or_default().push(p);
            }
        }
    }
    let mut files = Vec::new();
    for (_, mut paths) in by_name {
        paths.dedup_by(|a, b| std::fs::read(&*a).ok() == std::fs::read(&*b).ok());
        files.extend(paths);
    }
    files
}

fn decode_obj(c: Code, what: &str) -> Result<Obj, String> {
    Obj::decode(c)
        .map_err(|e| format!("{what}: {e}"))?
        .ok_or_else(|| format!("{what}: {c:?} is not an object"))
}

fn load(trace: &Trace) -> Result<Env, String> {
    let codes: Vec<Code> = trace.grid.iter().flatten().copied().collect();
    let mut grid = Grid::decode(trace.width, trace.height, &codes).map_err(|e| e.to_string())?;
    for b in &trace.boxes {
        let p = Pos::new(b.pos[0], b.pos[1]);
        let Some(Obj::Box(c, _)) = grid.get(p) else {
            return Err(format!("boxes: no box at {p:?}"));
        };
        let contents = match b.contains {
            None => None,
            Some(code) => Some(
                Item::from_obj(decode_obj(code, "box contents")?)
                    .ok_or("box contents must be a key, ball or box")?,
            ),
        };
        grid.set(p, Some(Obj::Box(c, contents)));
    }
    let world = World {
        grid,
        agent_pos: Pos::new(trace.agent_pos[0], trace.agent_pos[1]),
        agent_dir: Dir::from_index(trace.agent_dir).ok_or("bad agent_dir")?,
        carrying: trace
            .carrying
            .map(|c| decode_obj(c, "carrying"))
            .transpose()?,
        step_count: 0,
        max_steps: trace.max_steps,
        view_size: trace.agent_view_size,
        see_through_walls: trace.see_through_walls,
    };
    let spec = registry::find(&trace.env_id).map_err(|e| e.to_string())?;
    let (rule, rooms) = (spec.rule_from_layout)(&world, &trace.mission)?;
    Ok(Env::from_setup(Setup {
        world,
        rule,
        mission: trace.mission.clone(),
        rooms,
    }))
}

/// The first difference between our image and the recorded one, as "row r col c: ours vs theirs".
fn image_diff(ours: &[u8], theirs: &[Vec<Code>]) -> Option<String> {
    let v = theirs.len();
    for (r, row) in theirs.iter().enumerate() {
        for (c, code) in row.iter().enumerate() {
            let i = (r * v + c) * 3;
            if ours[i..i + 3] != code[..] {
                return Some(format!(
                    "row {r} col {c}: ours {:?}, reference {code:?}",
                    &ours[i..i + 3]
                ));
            }
        }
    }
    None
}

fn replay(path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let trace: Trace = serde_json::from_str(&text).map_err(|e| format!("not a trace: {e}"))?;
    let mut env = load(&trace)?;
    if let Some(d) = image_diff(&env.world.image(), &trace.initial_obs.image) {
        return Err(format!("after reset (seed {}), image {d}", trace.seed));
    }
    if env.world.agent_dir as u8 != trace.initial_obs.direction {
        return Err("after reset, direction differs".into());
    }
    for (i, s) in trace.steps.iter().enumerate() {
        let action = Action::from_index(s.action).ok_or(format!("step {i}: bad action"))?;
        let t = env.step(action);
        let w = &env.world;
        let at = |field: &str, ours: String, theirs: String| {
            format!(
                "step {i} (action {}): {field}: ours {ours}, reference {theirs}",
                action.name()
            )
        };
        if [w.agent_pos.x, w.agent_pos.y] != s.agent_pos {
            return Err(at(
                "agent_pos",
                format!("{:?}", w.agent_pos),
                format!("{:?}", s.agent_pos),
            ));
        }
        if w.agent_dir as u8 != s.agent_dir {
            return Err(at(
                "agent_dir",
                format!("{}", w.agent_dir as u8),
                s.agent_dir.to_string(),
            ));
        }
        let carrying = w.carrying.map(Obj::encode);
        if carrying != s.carrying {
            return Err(at(
                "carrying",
                format!("{carrying:?}"),
                format!("{:?}", s.carrying),
            ));
        }
        if let Some(d) = image_diff(&w.image(), &s.image) {
            return Err(at("image", d, String::new()));
        }
        if (t.reward as f64 - s.reward).abs() > 1e-6 {
            return Err(at("reward", t.reward.to_string(), s.reward.to_string()));
        }
        if t.terminated != s.terminated {
            return Err(at(
                "terminated",
                t.terminated.to_string(),
                s.terminated.to_string(),
            ));
        }
        if t.truncated != s.truncated {
            return Err(at(
                "truncated",
                t.truncated.to_string(),
                s.truncated.to_string(),
            ));
        }
    }
    Ok(trace.steps.len())
}

#[test]
fn every_recorded_trace_replays_exactly() {
    let files = trace_files();
    assert!(
        files.len() >= 72,
        "expected the 72 shipped traces, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    let mut steps = 0;
    for f in &files {
        match replay(f) {
            Ok(n) => steps += n,
            Err(e) => failures.push(format!("{}: {e}", f.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} traces differ from MiniGrid:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    eprintln!(
        "{} traces, {steps} steps, all identical to MiniGrid 3.2",
        files.len()
    );
}
