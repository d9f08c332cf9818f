//! `eval --record out.gif`: one episode of any agent, drawn by core's renderer frame by frame
//! (the start and after every step) and written as an animated GIF.

use crate::eval::{AgentKind, EvalArgs};
use crate::results::RecordReport;
use anyhow::Context;
use gridmentor_core::EnvSpec;
use gridmentor_core::agent::PlannerAgent;
use gridmentor_core::nn::policy::PolicyAgent;
use gridmentor_core::render::{Image, render_rgb};
use gridmentor_core::rng::Rng;
use gridmentor_core::world::Action;
use std::path::Path;

/// Pixels a cell (MiniGrid's `TILE_PIXELS`).
pub const TILE: u32 = 32;
/// Hundredths of a second a frame.
pub const DELAY_CS: u16 = 20;

fn frame(env: &gridmentor_core::Env) -> Image {
    render_rgb(&env.world, TILE, true)
}

/// Play episode `args.seed` of `args.env` with `args.agent` and write it to `path`.
pub fn record(args: &EvalArgs, path: &Path) -> anyhow::Result<RecordReport> {
    let spec: &'static EnvSpec = gridmentor_core::registry::find(&args.env)?;
    let mut env = gridmentor_core::Env::new(spec, args.seed);
    let mut frames = vec![frame(&env)];
    let mut ret = 0.0;
    let mut step = |env: &mut gridmentor_core::Env, t: gridmentor_core::world::Transition| {
        ret += t.reward;
        frames.push(frame(env));
        t.done().then_some(t.success())
    };
    let success = match &args.agent {
        AgentKind::Checkpoint(file) => {
            let model = crate::checkpoint::load(file, spec.id, None)?.model;
            let mut agent = PolicyAgent::new(model, &env, args.seed, args.greedy)
                .map_err(|e| anyhow::anyhow!("checkpoint {}: {e}", file.display()))?;
            loop {
                let (_, t) = agent.step(&mut env);
                if let Some(s) = step(&mut env, t) {
                    break s;
                }
            }
        }
        AgentKind::Random => {
            let mut rng = Rng::new(args.seed);
            loop {
                let t = env.step(Action::ALL[rng.index(Action::COUNT)]);
                if let Some(s) = step(&mut env, t) {
                    break s;
                }
            }
        }
        AgentKind::Planner => {
            let mut agent = PlannerAgent::new(args.planner.build()?, args.style);
            agent.samples = args.samples.max(1);
            agent.reset(&env, spec.id);
            loop {
                let d = agent
                    .act()
                    .with_context(|| format!("recording episode seed {}", args.seed))?;
                let t = env.step(d.action);
                agent.observe(&env);
                if let Some(s) = step(&mut env, t) {
                    break s;
                }
            }
        }
        _ => anyhow::bail!("--record works with the checkpoint, planner and random agents"),
    };
    let n = frames.len();
    crate::gif::write_gif(path, &frames, DELAY_CS)
        .with_context(|| format!("writing --record {}", path.display()))?;
    Ok(RecordReport {
        path: path.display().to_string(),
        seed: args.seed,
        steps: env.world.step_count,
        frames: n,
        ret,
        success,
    })
}
