//! Animated GIFs of rendered frames (`eval --record`): core's renderer draws the frames, this
//! writes them as one looping animation.

use anyhow::{Context, ensure};
use gif::{Encoder, Frame, Repeat};
use gridmentor_core::render::Image;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// NeuQuant's speed (1 best .. 30 fastest) when a frame has more than 256 colours; 10 is the
/// `gif` crate's suggested compromise.
const QUANTIZE_SPEED: i32 = 10;

/// Writes `frames` as an animated GIF that loops forever, `delay_cs` hundredths of a second a
/// frame. All frames must have the same size.
///
/// Rendered grids use few colours, so when all frames together hold at most 256 the file gets
/// one exact global palette; otherwise each frame is quantized on its own (exact when that frame
/// has at most 256 colours).
pub fn write_gif(path: &Path, frames: &[Image], delay_cs: u16) -> anyhow::Result<()> {
    let first = frames.first().context("a GIF needs at least one frame")?;
    let (width, height) = (first.width, first.height);
    let w = u16::try_from(width).ok();
    let h = u16::try_from(height).ok();
    let (Some(w), Some(h)) = (w, h) else {
        anyhow::bail!("a GIF is at most 65535x65535 pixels, the frames are {width}x{height}");
    };
    for (i, f) in frames.iter().enumerate() {
        ensure!(
            (f.width, f.height) == (width, height),
            "frame {i} is {}x{}, frame 0 is {width}x{height}",
            f.width,
            f.height
        );
        ensure!(
            f.pixels.len() == width as usize * height as usize * 3,
            "frame {i} has {} bytes of RGB for {width}x{height} pixels",
            f.pixels.len()
        );
    }

    let palette = exact_palette(frames);
    let global: Vec<u8> = palette
        .as_ref()
        .map(|p| p.keys().flatten().copied().collect())
        .unwrap_or_default();
    let file =
        File::create(path).with_context(|| format!("cannot create GIF {}", path.display()))?;
    let mut enc = Encoder::new(BufWriter::new(file), w, h, &global)
        .with_context(|| format!("cannot write GIF {}", path.display()))?;
    enc.set_repeat(Repeat::Infinite)?;
    for f in frames {
        let mut frame = match &palette {
            Some(p) => {
                let idx: Vec<u8> = f
                    .pixels
                    .chunks_exact(3)
                    .map(|c| p[&[c[0], c[1], c[2]]])
                    .collect();
                Frame::from_indexed_pixels(w, h, idx, None)
            }
            None => Frame::from_rgb_speed(w, h, &f.pixels, QUANTIZE_SPEED),
        };
        frame.delay = delay_cs;
        enc.write_frame(&frame)
            .with_context(|| format!("cannot write GIF {}", path.display()))?;
    }
    enc.into_inner()
        .and_then(|mut out| std::io::Write::flush(&mut out).map_err(Into::into))
        .with_context(|| format!("cannot write GIF {}", path.display()))?;
    Ok(())
}

/// Every colour of every frame, each with its palette index, if there are at most 256.
fn exact_palette(frames: &[Image]) -> Option<BTreeMap<[u8; 3], u8>> {
    let mut colours = BTreeSet::new();
    for f in frames {
        for c in f.pixels.chunks_exact(3) {
            if colours.insert([c[0], c[1], c[2]]) && colours.len() > 256 {
                return None;
            }
        }
    }
    // Indices in sorted order, so the palette is the map's keys in order.
    Some(colours.into_iter().zip(0..=255u8).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridmentor_core::render::render_rgb;
    use gridmentor_core::world::Action;
    use std::path::PathBuf;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gridmentor-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Decodes a GIF to (width, height, RGBA frames, delays, repeat).
    fn decode(path: &Path) -> (u16, u16, Vec<Vec<u8>>, Vec<u16>, Repeat) {
        let mut opts = gif::DecodeOptions::new();
        opts.set_color_output(gif::ColorOutput::RGBA);
        let mut dec = opts.read_info(File::open(path).unwrap()).unwrap();
        let (mut frames, mut delays) = (Vec::new(), Vec::new());
        while let Some(f) = dec.read_next_frame().unwrap() {
            frames.push(f.buffer.to_vec());
            delays.push(f.delay);
        }
        (dec.width(), dec.height(), frames, delays, dec.repeat())
    }

    #[test]
    fn an_episode_round_trips_exactly() {
        let mut env = gridmentor_core::registry::make("MiniGrid-DoorKey-5x5-v0", 3).unwrap();
        let mut frames = vec![render_rgb(&env.world, 16, true)];
        for a in [Action::Left, Action::Forward] {
            env.step(a);
            frames.push(render_rgb(&env.world, 16, true));
        }
        let path = temp_dir("gif-episode").join("episode.gif");
        write_gif(&path, &frames, 25).unwrap();
        let (w, h, decoded, delays, repeat) = decode(&path);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();

        assert_eq!((w as u32, h as u32), (frames[0].width, frames[0].height));
        assert_eq!(decoded.len(), 3);
        assert_eq!(delays, [25, 25, 25]);
        assert_eq!(repeat, Repeat::Infinite);
        for (orig, got) in frames.iter().zip(&decoded) {
            let rgb: Vec<u8> = got
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect();
            assert_eq!(rgb, orig.pixels, "a few colours: the palette is exact");
        }
    }

    #[test]
    fn many_colours_are_quantized_closely() {
        // A 64x64 gradient: 4096 colours, more than a palette holds.
        let (w, h) = (64u32, 64u32);
        let pixels: Vec<u8> = (0..w * h)
            .flat_map(|i| [(i % w * 4) as u8, (i / w * 4) as u8, 128])
            .collect();
        let img = Image {
            width: w,
            height: h,
            pixels,
        };
        let path = temp_dir("gif-gradient").join("gradient.gif");
        write_gif(&path, &[img.clone(), img.clone(), img.clone()], 10).unwrap();
        let (_, _, decoded, _, _) = decode(&path);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        assert_eq!(decoded.len(), 3);
        let got = &decoded[2][((20 * w + 40) * 4) as usize..][..3];
        let want = img.pixel(40, 20);
        for (g, o) in got.iter().zip(want) {
            assert!(g.abs_diff(o) <= 12, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let dir = temp_dir("gif-bad");
        assert!(write_gif(&dir.join("none.gif"), &[], 10).is_err());
        let a = Image {
            width: 2,
            height: 2,
            pixels: vec![0; 12],
        };
        let b = Image {
            width: 3,
            height: 2,
            pixels: vec![0; 18],
        };
        let err = write_gif(&dir.join("mixed.gif"), &[a, b], 10).unwrap_err();
        assert!(err.to_string().contains("frame 1 is 3x2"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
