//! Animated GIFs of rendered frames (`eval --record`): core's renderer draws the frames, this
//! writes them as one looping animation.

use anyhow::Context;
use gridmentor_core::render::Image;
use std::path::Path;

/// Writes `frames` as an animated GIF that loops forever, `delay_cs` hundredths of a second a
/// frame, encoded by core (the page's GIF export writes the same bytes for the same frames).
pub fn write_gif(path: &Path, frames: &[Image], delay_cs: u16) -> anyhow::Result<()> {
    let bytes = gridmentor_core::gif::encode(frames, delay_cs).map_err(anyhow::Error::msg)?;
    std::fs::write(path, bytes).with_context(|| format!("cannot write GIF {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gif::Repeat;
    use gridmentor_core::render::render_rgb;
    use gridmentor_core::world::Action;
    use std::fs::File;
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
    fn many_colours_map_to_the_nearest_of_the_colour_cube() {
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
        // The cube's levels are 51 apart: each channel within half a step.
        for (g, o) in got.iter().zip(want) {
            assert!(g.abs_diff(o) <= 25, "{got:?} vs {want:?}");
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
