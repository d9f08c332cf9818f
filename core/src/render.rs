//! A software renderer that draws a world as MiniGrid's `render()` does (RGB, `tile` pixels a
//! cell), for animated GIFs of episodes and for anywhere a picture of the full grid is wanted.
//!
//! It follows MiniGrid's `render_tile`: each cell is drawn at 3x resolution by filling shapes in
//! normalized tile coordinates (`fill_coords` with MiniGrid's shape constants), the highlight
//! blend is applied there, and the result is averaged down 3x3 (MiniGrid's supersampling), with
//! MiniGrid's float widths and truncations: frames of MiniGrid 3.2's own envs came out
//! pixel-identical. Only IEEE `+ - * /` and comparisons are used (no `sqrt`, no trigonometry),
//! so it needs no `libm` and gives the same pixels natively and in wasm.

use crate::world::view::{View, view_to_world};
use crate::world::{Color, Dir, DoorState, Obj, Pos, World};
use alloc::vec;
use alloc::vec::Vec;

/// MiniGrid's `TILE_PIXELS`.
pub const DEFAULT_TILE: u32 = 32;
/// MiniGrid's `subdivs`: each tile is drawn at this many times its size, then averaged down.
const SUBDIVS: usize = 3;
/// MiniGrid's grid-line colour (also `Color::Grey`).
const GRID_LINE: [u8; 3] = [100, 100, 100];
const BLACK: [u8; 3] = [0, 0, 0];
const LAVA: [u8; 3] = [255, 128, 0];
const AGENT: [u8; 3] = [255, 0, 0];

/// An RGB image, row-major, 3 bytes a pixel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// `pixels[(y * width + x) * 3 ..][..3]` is the pixel at (`x`, `y`).
    pub pixels: Vec<u8>,
}

impl Image {
    /// The pixels as RGBA (opaque), as a canvas's `ImageData` holds them.
    pub fn to_rgba(&self) -> Vec<u8> {
        self.pixels
            .chunks_exact(3)
            .flat_map(|c| [c[0], c[1], c[2], 255])
            .collect()
    }

    /// The pixel at (`x`, `y`).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) outside a {}x{} image",
            self.width,
            self.height
        );
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }
}

/// The whole grid as MiniGrid's `render()` (`get_full_render`) draws it: `tile` pixels a cell,
/// the agent as a red triangle and, with `highlight_view`, the cells the agent sees lightened.
/// What the agent carries is not drawn, as in MiniGrid.
pub fn render_rgb(world: &World, tile: u32, highlight_view: bool) -> Image {
    assert!(tile >= 1, "tile size must be at least 1 pixel");
    let (w, h) = (world.width() as usize, world.height() as usize);
    let ts = tile as usize;
    let highlight = if highlight_view {
        highlight_mask(world)
    } else {
        vec![false; w * h]
    };
    let row_len = w * ts * 3;
    let mut pixels = vec![0u8; row_len * h * ts];
    // MiniGrid caches tiles by what they show; a frame holds only a few distinct ones.
    let mut cache: Vec<(TileKey, Vec<u8>)> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let p = Pos::new(x as i32, y as i32);
            let key = TileKey {
                obj: world.grid.get(p).map(|o| o.encode()),
                agent: (p == world.agent_pos).then_some(world.agent_dir),
                highlight: highlight[y * w + x],
            };
            let slot = match cache.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    cache.push((
                        key,
                        render_tile(world.grid.get(p), key.agent, key.highlight, ts),
                    ));
                    cache.len() - 1
                }
            };
            blit(&mut pixels, row_len, &cache[slot].1, ts, x, y);
        }
    }
    Image {
        width: (w * ts) as u32,
        height: (h * ts) as u32,
        pixels,
    }
}

/// The agent's view as MiniGrid's `get_pov_render` draws it, `tile` pixels a cell: the view
/// square with the agent at the bottom centre facing up over what it carries, the cells it sees
/// highlighted and those it does not left empty. This is what a network reading the egocentric
/// `image` gets.
pub fn render_view(world: &World, tile: u32) -> Image {
    assert!(tile >= 1, "tile size must be at least 1 pixel");
    let view = View::of(world);
    let (v, ts) = (view.size, tile as usize);
    let row_len = v * ts * 3;
    let mut pixels = vec![0u8; row_len * v * ts];
    for row in 0..v {
        for col in 0..v {
            let i = row * v + col;
            let agent = row == v - 1 && col == v / 2;
            let seen = view.is_visible(i);
            let obj = match (agent, seen) {
                (true, _) => world.carrying,
                (false, true) => view.cell(i),
                (false, false) => None,
            };
            let img = render_tile(obj, agent.then_some(Dir::North), seen, ts);
            blit(&mut pixels, row_len, &img, ts, col, row);
        }
    }
    Image {
        width: (v * ts) as u32,
        height: (v * ts) as u32,
        pixels,
    }
}

/// Copy tile `img` (`ts` pixels a side, RGB) to cell (`x`, `y`) of an image `row_len` bytes wide.
fn blit(pixels: &mut [u8], row_len: usize, img: &[u8], ts: usize, x: usize, y: usize) {
    for ty in 0..ts {
        let dst = (y * ts + ty) * row_len + x * ts * 3;
        pixels[dst..dst + ts * 3].copy_from_slice(&img[ty * ts * 3..(ty + 1) * ts * 3]);
    }
}

/// What a tile shows: MiniGrid's tile-cache key (an object's encoding, so a box's contents do
/// not matter).
#[derive(Copy, Clone, PartialEq, Eq)]
struct TileKey {
    obj: Option<[u8; 3]>,
    agent: Option<Dir>,
    highlight: bool,
}

/// `get_full_render`'s highlight mask: the grid cells the agent sees, `[y * width + x]`.
fn highlight_mask(world: &World) -> Vec<bool> {
    let (w, h) = (world.width(), world.height());
    let mut mask = vec![false; (w * h) as usize];
    let view = View::of(world);
    let v = view.size;
    for i in 0..v * v {
        if !view.is_visible(i) {
            continue;
        }
        let p = view_to_world(world, (i % v) as i32, (i / v) as i32);
        if world.grid.contains(p) {
            mask[(p.y * w + p.x) as usize] = true;
        }
    }
    mask
}

/// MiniGrid's `Grid.render_tile`: a `ts` x `ts` RGB tile.
fn render_tile(obj: Option<Obj>, agent: Option<Dir>, highlight: bool, ts: usize) -> Vec<u8> {
    let mut big = Canvas::new(ts * SUBDIVS);
    // Grid lines along the top and left edges.
    big.fill(|s| rect(s, 0.0, 0.031, 0.0, 1.0), GRID_LINE);
    big.fill(|s| rect(s, 0.0, 1.0, 0.0, 0.031), GRID_LINE);
    if let Some(o) = obj {
        draw_obj(&mut big, o);
    }
    if let Some(dir) = agent {
        let tri = Triangle::new((0.12, 0.19), (0.87, 0.50), (0.12, 0.81));
        big.fill(|s| tri.contains(rotate_quarter(s, dir)), AGENT);
    }
    if highlight {
        // `highlight_img`: blend 30% towards white, truncated to u8 as numpy's assignment does.
        for c in &mut big.px {
            let v = *c as f64;
            *c = (v + 0.3 * (255.0 - v)) as u8;
        }
    }
    big.downsample()
}

/// Each object's `render(img)`, with MiniGrid's shape constants.
fn draw_obj(c: &mut Canvas, o: Obj) {
    match o {
        Obj::Wall(col) => c.fill(|s| rect(s, 0.0, 1.0, 0.0, 1.0), col.rgb()),
        Obj::Floor(col) => {
            let [r, g, b] = col.rgb();
            c.fill(|s| rect(s, 0.031, 1.0, 0.031, 1.0), [r / 2, g / 2, b / 2]);
        }
        Obj::Goal => c.fill(|s| rect(s, 0.0, 1.0, 0.0, 1.0), Color::Green.rgb()),
        Obj::Lava => {
            c.fill(|s| rect(s, 0.0, 1.0, 0.0, 1.0), LAVA);
            // Three rows of little black waves.
            for i in 0..3 {
                let lo = 0.3 + 0.2 * i as f64;
                let hi = 0.4 + 0.2 * i as f64;
                for seg in [
                    Line::new((0.1, lo), (0.3, hi), 0.03),
                    Line::new((0.3, hi), (0.5, lo), 0.03),
                    Line::new((0.5, lo), (0.7, hi), 0.03),
                    Line::new((0.7, hi), (0.9, lo), 0.03),
                ] {
                    c.fill(|s| seg.contains(s), BLACK);
                }
            }
        }
        Obj::Door(col, state) => {
            let rgb = col.rgb();
            match state {
                DoorState::Open => {
                    c.fill(|s| rect(s, 0.88, 1.0, 0.0, 1.0), rgb);
                    c.fill(|s| rect(s, 0.92, 0.96, 0.04, 0.96), BLACK);
                }
                DoorState::Locked => {
                    c.fill(|s| rect(s, 0.0, 1.0, 0.0, 1.0), rgb);
                    let dark = rgb.map(|v| (0.45 * v as f64) as u8);
                    c.fill(|s| rect(s, 0.06, 0.94, 0.06, 0.94), dark);
                    // The key slot.
                    c.fill(|s| rect(s, 0.52, 0.75, 0.50, 0.56), rgb);
                }
                DoorState::Closed => {
                    c.fill(|s| rect(s, 0.0, 1.0, 0.0, 1.0), rgb);
                    c.fill(|s| rect(s, 0.04, 0.96, 0.04, 0.96), BLACK);
                    c.fill(|s| rect(s, 0.08, 0.92, 0.08, 0.92), rgb);
                    c.fill(|s| rect(s, 0.12, 0.88, 0.12, 0.88), BLACK);
                    // The handle.
                    c.fill(|s| circle(s, 0.75, 0.50, 0.08), rgb);
                }
            }
        }
        Obj::Key(col) => {
            let rgb = col.rgb();
            // Shaft, two teeth, then the ring with its hole.
            c.fill(|s| rect(s, 0.50, 0.63, 0.31, 0.88), rgb);
            c.fill(|s| rect(s, 0.38, 0.50, 0.59, 0.66), rgb);
            c.fill(|s| rect(s, 0.38, 0.50, 0.81, 0.88), rgb);
            c.fill(|s| circle(s, 0.56, 0.28, 0.190), rgb);
            c.fill(|s| circle(s, 0.56, 0.28, 0.064), BLACK);
        }
        Obj::Ball(col) => c.fill(|s| circle(s, 0.5, 0.5, 0.31), col.rgb()),
        Obj::Box(col, _) => {
            let rgb = col.rgb();
            c.fill(|s| rect(s, 0.12, 0.88, 0.12, 0.88), rgb);
            c.fill(|s| rect(s, 0.18, 0.82, 0.18, 0.82), BLACK);
            // The lid's slit.
            c.fill(|s| rect(s, 0.16, 0.84, 0.47, 0.53), rgb);
        }
    }
}

/// A sample point in tile coordinates, (0, 0) top-left to (1, 1) bottom-right.
type Pt = (f64, f64);

/// A square supersampled tile.
struct Canvas {
    size: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(size: usize) -> Canvas {
        Canvas {
            size,
            px: vec![0; size * size * 3],
        }
    }

    /// MiniGrid's `fill_coords`: colour every pixel whose centre satisfies `inside`.
    fn fill(&mut self, inside: impl Fn(Pt) -> bool, rgb: [u8; 3]) {
        let n = self.size as f64;
        for y in 0..self.size {
            let yf = (y as f64 + 0.5) / n;
            for x in 0..self.size {
                if inside(((x as f64 + 0.5) / n, yf)) {
                    let i = (y * self.size + x) * 3;
                    self.px[i..i + 3].copy_from_slice(&rgb);
                }
            }
        }
    }

    /// MiniGrid's `downsample`: the mean of each 3x3 block (rows of three first, as numpy's
    /// `mean(axis=3).mean(axis=1)`), truncated to u8.
    fn downsample(&self) -> Vec<u8> {
        let ts = self.size / SUBDIVS;
        let mut out = vec![0u8; ts * ts * 3];
        for ty in 0..ts {
            for tx in 0..ts {
                for ch in 0..3 {
                    let mut rows = 0.0f64;
                    for sy in 0..SUBDIVS {
                        let y = ty * SUBDIVS + sy;
                        let sum: u32 = (0..SUBDIVS)
                            .map(|sx| self.px[(y * self.size + tx * SUBDIVS + sx) * 3 + ch] as u32)
                            .sum();
                        rows += sum as f64 / SUBDIVS as f64;
                    }
                    out[(ty * ts + tx) * 3 + ch] = (rows / SUBDIVS as f64) as u8;
                }
            }
        }
        out
    }
}

/// `point_in_rect`, bounds included.
fn rect((x, y): Pt, xmin: f64, xmax: f64, ymin: f64, ymax: f64) -> bool {
    x >= xmin && x <= xmax && y >= ymin && y <= ymax
}

/// `point_in_circle`, boundary included.
fn circle((x, y): Pt, cx: f64, cy: f64, r: f64) -> bool {
    (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r
}

/// `point_in_line`: within `r` of the segment. The closest point is found by projecting onto
/// the unnormalized direction, which needs no square root.
struct Line {
    p0: Pt,
    d: Pt,
    len2: f64,
    r: f64,
}

impl Line {
    fn new(p0: Pt, p1: Pt, r: f64) -> Line {
        let d = (p1.0 - p0.0, p1.1 - p0.1);
        Line {
            p0,
            d,
            len2: d.0 * d.0 + d.1 * d.1,
            r,
        }
    }

    fn contains(&self, (x, y): Pt) -> bool {
        let (px, py) = (x - self.p0.0, y - self.p0.1);
        let t = ((px * self.d.0 + py * self.d.1) / self.len2).clamp(0.0, 1.0);
        let (ex, ey) = (px - t * self.d.0, py - t * self.d.1);
        ex * ex + ey * ey <= self.r * self.r
    }
}

/// `point_in_triangle`: barycentric coordinates u, v >= 0 and u + v < 1. MiniGrid holds the
/// corners, their differences and their dot products in float32 and the sample point in
/// float64; so do we, for the same edge pixels.
struct Triangle {
    a: Pt,
    v0: Pt,
    v1: Pt,
    dot00: f64,
    dot01: f64,
    dot11: f64,
    inv_denom: f64,
}

impl Triangle {
    fn new(a: Pt, b: Pt, c: Pt) -> Triangle {
        let (a, b, c) = (f32s(a), f32s(b), f32s(c));
        let v0 = (c.0 - a.0, c.1 - a.1);
        let v1 = (b.0 - a.0, b.1 - a.1);
        let dot00 = v0.0 * v0.0 + v0.1 * v0.1;
        let dot01 = v0.0 * v1.0 + v0.1 * v1.1;
        let dot11 = v1.0 * v1.0 + v1.1 * v1.1;
        let wide = |p: (f32, f32)| (p.0 as f64, p.1 as f64);
        Triangle {
            a: wide(a),
            v0: wide(v0),
            v1: wide(v1),
            dot00: dot00 as f64,
            dot01: dot01 as f64,
            dot11: dot11 as f64,
            inv_denom: (1.0 / (dot00 * dot11 - dot01 * dot01)) as f64,
        }
    }

    fn contains(&self, (x, y): Pt) -> bool {
        let v2 = (x - self.a.0, y - self.a.1);
        let dot02 = self.v0.0 * v2.0 + self.v0.1 * v2.1;
        let dot12 = self.v1.0 * v2.0 + self.v1.1 * v2.1;
        let u = (self.dot11 * dot02 - self.dot01 * dot12) * self.inv_denom;
        let v = (self.dot00 * dot12 - self.dot01 * dot02) * self.inv_denom;
        u >= 0.0 && v >= 0.0 && u + v < 1.0
    }
}

fn f32s(p: Pt) -> (f32, f32) {
    (p.0 as f32, p.1 as f32)
}

/// `rotate_fn(.., cx=0.5, cy=0.5, theta=dir * pi/2)`: the point that, turned by the agent's
/// direction, lands on `s`, so a shape drawn facing east faces `dir`. Quarter turns are exact.
fn rotate_quarter((x, y): Pt, dir: Dir) -> Pt {
    let (x, y) = (x - 0.5, y - 0.5);
    match dir {
        Dir::East => (0.5 + x, 0.5 + y),
        Dir::South => (0.5 + y, 0.5 - x),
        Dir::West => (0.5 - x, 0.5 - y),
        Dir::North => (0.5 - y, 0.5 + x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 5x5 room: walls around, the agent at (1, 1) facing east, a goal at (3, 3).
    fn room() -> World {
        let mut w = World::new(5, 5, 100);
        for i in 0..5 {
            for p in [
                Pos::new(i, 0),
                Pos::new(i, 4),
                Pos::new(0, i),
                Pos::new(4, i),
            ] {
                w.grid.set(p, Some(Obj::WALL));
            }
        }
        w.grid.set(Pos::new(3, 3), Some(Obj::Goal));
        w.agent_pos = Pos::new(1, 1);
        w.agent_dir = Dir::East;
        w.view_size = 3;
        w
    }

    fn centre(img: &Image, p: Pos, tile: u32) -> [u8; 3] {
        img.pixel(p.x as u32 * tile + tile / 2, p.y as u32 * tile + tile / 2)
    }

    #[test]
    fn the_view_shows_the_agent_at_the_bottom_facing_up_and_what_it_sees() {
        let w = room();
        let tile = 12;
        let img = render_view(&w, tile);
        assert_eq!((img.width, img.height), (3 * tile, 3 * tile));
        // The agent (red) at the bottom centre. Facing east from (1, 1): the cell in front,
        // (2, 1), is empty and seen (black lightened 30%); the wall (1, 0) on its left is drawn
        // as the board draws it.
        let at = |col: u32, row: u32| img.pixel(col * tile + tile / 2, row * tile + tile / 2);
        let agent = at(1, 2);
        assert!(agent[0] > 200 && agent[1] < 100, "{agent:?}");
        assert_eq!(
            at(1, 1),
            [76, 76, 76],
            "empty and seen: black lightened 30%"
        );
        assert_eq!(
            at(0, 2),
            centre(&render_rgb(&w, tile, true), Pos::new(1, 0), tile)
        );
    }

    #[test]
    fn image_is_grid_times_tile() {
        let mut w = room();
        w.grid = crate::world::Grid::new(7, 4);
        let img = render_rgb(&w, 16, true);
        assert_eq!((img.width, img.height), (7 * 16, 4 * 16));
        assert_eq!(img.pixels.len(), 7 * 16 * 4 * 16 * 3);
    }

    #[test]
    fn cells_have_minigrid_colours() {
        let img = render_rgb(&room(), 32, false);
        assert_eq!(centre(&img, Pos::new(1, 1), 32), [255, 0, 0], "agent");
        assert_eq!(centre(&img, Pos::new(3, 3), 32), [0, 255, 0], "goal");
        assert_eq!(centre(&img, Pos::new(0, 2), 32), [100, 100, 100], "wall");
        assert_eq!(centre(&img, Pos::new(2, 2), 32), [0, 0, 0], "empty");
        // Grid lines along an empty cell's top and left edges.
        assert_eq!(img.pixel(2 * 32, 2 * 32 + 16), [100, 100, 100]);
        assert_eq!(img.pixel(2 * 32 + 16, 2 * 32), [100, 100, 100]);
    }

    #[test]
    fn the_agent_triangle_points_where_the_agent_faces() {
        // Just behind the tip is red; the same distance on the other side (the triangle's
        // flat back edge is at 0.12) is not.
        for dir in Dir::ALL {
            let mut w = room();
            w.agent_dir = dir;
            let img = render_rgb(&w, 32, false);
            let (dx, dy) = dir.vec();
            let at = |d: i32| img.pixel((32 + 16 + d * dx) as u32, (32 + 16 + d * dy) as u32);
            assert_eq!(at(6), [255, 0, 0], "{dir:?} front");
            assert_eq!(at(-15), [0, 0, 0], "{dir:?} back");
        }
    }

    #[test]
    fn highlight_lightens_seen_cells_only() {
        let w = room();
        let plain = render_rgb(&w, 32, false);
        let lit = render_rgb(&w, 32, true);
        // View 3 facing east from (1, 1): (2, 1) is seen, (3, 3) is not.
        let seen = Pos::new(2, 1);
        assert_eq!(centre(&plain, seen, 32), [0, 0, 0]);
        assert_eq!(
            centre(&lit, seen, 32),
            [76, 76, 76],
            "0 + 0.3 * 255, truncated"
        );
        for p in [Pos::new(3, 3), Pos::new(2, 3)] {
            assert_eq!(centre(&lit, p, 32), centre(&plain, p, 32), "{p:?} unseen");
        }
    }

    #[test]
    fn objects_draw_their_shapes() {
        let mut w = room();
        let cells = [
            (Pos::new(2, 1), Obj::Door(Color::Yellow, DoorState::Locked)),
            (Pos::new(3, 1), Obj::Door(Color::Blue, DoorState::Closed)),
            (Pos::new(1, 2), Obj::Door(Color::Red, DoorState::Open)),
            (Pos::new(2, 2), Obj::Key(Color::Purple)),
            (Pos::new(3, 2), Obj::Ball(Color::Green)),
            (Pos::new(1, 3), Obj::Box(Color::Grey, None)),
            (Pos::new(2, 3), Obj::Lava),
        ];
        for (p, o) in cells {
            w.grid.set(p, Some(o));
        }
        let img = render_rgb(&w, 100, false);
        let at = |p: Pos, fx: u32, fy: u32| img.pixel(p.x as u32 * 100 + fx, p.y as u32 * 100 + fy);
        // Locked door: darker fill (0.45 x yellow), a full-colour keyhole.
        assert_eq!(at(Pos::new(2, 1), 30, 30), [114, 114, 0]);
        assert_eq!(at(Pos::new(2, 1), 63, 53), [255, 255, 0]);
        // Closed door: black inside the frame, a handle.
        assert_eq!(at(Pos::new(3, 1), 50, 50), [0, 0, 0]);
        assert_eq!(at(Pos::new(3, 1), 75, 50), [0, 0, 255]);
        // Open door: only a strip along the right edge.
        assert_eq!(at(Pos::new(1, 2), 50, 50), [0, 0, 0]);
        assert_eq!(at(Pos::new(1, 2), 89, 50), [255, 0, 0]);
        // Key: shaft and ring, a hole in the ring.
        assert_eq!(at(Pos::new(2, 2), 56, 60), [112, 39, 195]);
        assert_eq!(at(Pos::new(2, 2), 56, 15), [112, 39, 195]);
        assert_eq!(at(Pos::new(2, 2), 56, 28), [0, 0, 0]);
        // Ball: a disc.
        assert_eq!(at(Pos::new(3, 2), 50, 50), [0, 255, 0]);
        assert_eq!(at(Pos::new(3, 2), 15, 15), [0, 0, 0]);
        // Box: an outline and a slit, hollow between.
        assert_eq!(at(Pos::new(1, 3), 14, 50), [100, 100, 100]);
        assert_eq!(at(Pos::new(1, 3), 50, 50), [100, 100, 100]);
        assert_eq!(at(Pos::new(1, 3), 50, 30), [0, 0, 0]);
        // Lava: orange with a black wave through (0.1, 0.3).
        assert_eq!(at(Pos::new(2, 3), 50, 15), [255, 128, 0]);
        assert_eq!(at(Pos::new(2, 3), 20, 35), [0, 0, 0]);
    }
}
