//! Animated GIF of an episode, drawn by core's MiniGrid-identical renderer. Rendered grids use few
//! colours, so one exact global palette usually fits; otherwise a fixed 6x6x6 colour cube is used
//! (no quantizer compiled into the page).

use gif::{Encoder, Frame, Repeat};
use gridmentor_core::registry;
use gridmentor_core::render::{Image, render_rgb};
use gridmentor_core::world::Action;
use std::collections::{BTreeMap, BTreeSet};

/// Frames above this many make the page wait too long; the caller is told.
pub const MAX_FRAMES: usize = 2000;

/// The episode `env`/`seed`/`actions` as a looping GIF.
pub fn episode_gif(
    env: &str,
    seed: u64,
    actions: &[u8],
    tile: u32,
    delay_cs: u16,
) -> Result<Vec<u8>, String> {
    if !(4..=64).contains(&tile) {
        return Err(format!("tile size {tile} is not 4..=64 pixels"));
    }
    if actions.len() + 1 > MAX_FRAMES {
        return Err(format!(
            "{} steps is too long for a GIF (at most {})",
            actions.len(),
            MAX_FRAMES - 1
        ));
    }
    let mut e = registry::make(env, seed).map_err(|e| e.to_string())?;
    let mut frames = vec![render_rgb(&e.world, tile, true)];
    for (i, &a) in actions.iter().enumerate() {
        let a =
            Action::from_index(a).ok_or_else(|| format!("action {a} at step {i} is not 0..=6"))?;
        e.step(a);
        frames.push(render_rgb(&e.world, tile, true));
    }
    encode(&frames, delay_cs)
}

/// `frames` (all the same size) as a GIF that loops forever.
pub fn encode(frames: &[Image], delay_cs: u16) -> Result<Vec<u8>, String> {
    let first = frames.first().ok_or("a GIF needs at least one frame")?;
    let too_big = || {
        format!(
            "{}x{} pixels is too big for a GIF",
            first.width, first.height
        )
    };
    let w = u16::try_from(first.width).map_err(|_| too_big())?;
    let h = u16::try_from(first.height).map_err(|_| too_big())?;
    let palette = exact_palette(frames);
    let global: Vec<u8> = match &palette {
        Some(p) => p.keys().flatten().copied().collect(),
        None => (0..216u32)
            .flat_map(|i| [i / 36, i / 6 % 6, i % 6].map(|c| (c * 51) as u8))
            .collect(),
    };
    let mut out = Vec::new();
    {
        let mut enc = Encoder::new(&mut out, w, h, &global).map_err(|e| e.to_string())?;
        enc.set_repeat(Repeat::Infinite)
            .map_err(|e| e.to_string())?;
        for f in frames {
            if (f.width, f.height) != (first.width, first.height) {
                return Err("frames differ in size".into());
            }
            let idx: Vec<u8> = f
                .pixels
                .chunks_exact(3)
                .map(|c| match &palette {
                    Some(p) => p[&[c[0], c[1], c[2]]],
                    None => {
                        let q = |v: u8| (v as u32 + 25) / 51;
                        (q(c[0]) * 36 + q(c[1]) * 6 + q(c[2])) as u8
                    }
                })
                .collect();
            let mut frame = Frame::from_indexed_pixels(w, h, idx, None);
            frame.delay = delay_cs;
            enc.write_frame(&frame).map_err(|e| e.to_string())?;
        }
    }
    Ok(out)
}

/// Every colour of every frame with its palette index, if there are at most 256.
fn exact_palette(frames: &[Image]) -> Option<BTreeMap<[u8; 3], u8>> {
    let mut colours = BTreeSet::new();
    for f in frames {
        for c in f.pixels.chunks_exact(3) {
            if colours.insert([c[0], c[1], c[2]]) && colours.len() > 256 {
                return None;
            }
        }
    }
    Some(colours.into_iter().zip(0..=255u8).collect())
}
