//! `eval --record out.gif`: one episode of any agent, drawn by core's renderer frame by frame
//! (the start and after every step) and written as an animated GIF.

use crate::eval::{EvalArgs, build_agent};
use crate::results::RecordReport;
use anyhow::Context;
use gridmentor_core::EnvSpec;
use gridmentor_core::agent::play_episode;
use gridmentor_core::render::{Image, render_rgb};
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
    let (mut agent, _) = build_agent(args, spec.id)?;
    let mut env = gridmentor_core::Env::new(spec, args.seed);
    let mut frames = vec![frame(&env)];
    let out = play_episode(&mut agent, &mut env, spec.id, args.seed, |env, _, _| {
        frames.push(frame(env))
    })
    .with_context(|| format!("recording episode seed {}", args.seed))?;
    let n = frames.len();
    crate::gif::write_gif(path, &frames, DELAY_CS)
        .with_context(|| format!("writing --record {}", path.display()))?;
    Ok(RecordReport {
        path: path.display().to_string(),
        seed: args.seed,
        steps: out.steps,
        frames: n,
        ret: out.ret,
        success: out.success,
    })
}
