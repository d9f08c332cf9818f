//! Animated GIFs of episodes drawn by core's renderer: one palette rule and one encoder for the
//! trainer's `eval --record` and the page's GIF export, so both write the same file.
//!
//! Rendered grids use few colours, so all frames together usually fit one exact global palette;
//! otherwise every pixel is mapped to a fixed 6x6x6 colour cube (no quantizer: the page stays
//! small, and the same frames always give the same bytes).

use crate::registry;
use crate::render::{Image, render_rgb};
use crate::world::Action;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use gif::{Encoder, Frame, Repeat};

/// Frames above this many make the page wait too long; the caller is told.
pub const MAX_FRAMES: usize = 2000;
/// Tile sizes an episode GIF may use, in pixels a cell.
pub const TILES: core::ops::RangeInclusive<u32> = 4..=64;

/// The episode `env`/`seed`/`actions` as a looping GIF, `tile` pixels a cell, the agent's view
/// highlighted (as the board draws it), `delay_cs` hundredths of a second a frame.
pub fn episode_gif(
    env: &str,
    seed: u64,
    actions: &[u8],
    tile: u32,
    delay_cs: u16,
) -> Result<Vec<u8>, String> {
    if !TILES.contains(&tile) {
        return Err(format!(
            "tile size {tile} is not {}..={} pixels",
            TILES.start(),
            TILES.end()
        ));
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

/// `frames` (all the same size) as a GIF that loops forever, `delay_cs` hundredths of a second
/// a frame.
pub fn encode(frames: &[Image], delay_cs: u16) -> Result<Vec<u8>, String> {
    let first = frames.first().ok_or("a GIF needs at least one frame")?;
    let (width, height) = (first.width, first.height);
    let (Ok(w), Ok(h)) = (u16::try_from(width), u16::try_from(height)) else {
        return Err(format!(
            "a GIF is at most 65535x65535 pixels, the frames are {width}x{height}"
        ));
    };
    for (i, f) in frames.iter().enumerate() {
        if (f.width, f.height) != (width, height) {
            return Err(format!(
                "frame {i} is {}x{}, frame 0 is {width}x{height}",
                f.width, f.height
            ));
        }
        if f.pixels.len() != width as usize * height as usize * 3 {
            return Err(format!(
                "frame {i} has {} bytes of RGB for {width}x{height} pixels",
                f.pixels.len()
            ));
        }
    }
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

/// Every colour of every frame with its palette index (in sorted order, so the palette is the
/// map's keys in order), if there are at most 256.
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
