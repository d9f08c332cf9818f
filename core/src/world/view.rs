//! The agent's egocentric view: MiniGrid's `gen_obs_grid` (slice, rotate, `process_vis`) and
//! `Grid.encode(vis_mask)`, computed directly without building the rotated grid.

use super::engine::{MAX_VIEW, World};
use super::grid::Pos;
use super::object::{EMPTY_CODE, Obj};

const MAX_CELLS: usize = MAX_VIEW as usize * MAX_VIEW as usize;

/// The world position seen at view cell (`col`, `row`): row 0 is farthest ahead, the agent is
/// at (`view / 2`, `view - 1`).
#[inline]
pub fn view_to_world(w: &World, col: i32, row: i32) -> Pos {
    let v = w.view_size as i32;
    let (dx, dy) = w.agent_dir.vec();
    let (rx, ry) = w.agent_dir.right_vec();
    let f = v - 1 - row;
    let r = col - v / 2;
    Pos::new(
        w.agent_pos.x + f * dx + r * rx,
        w.agent_pos.y + f * dy + r * ry,
    )
}

/// The view cell (`col`, `row`) where world position `p` appears, if it is inside the view square.
pub fn world_to_view(w: &World, p: Pos) -> Option<(i32, i32)> {
    let v = w.view_size as i32;
    let (dx, dy) = w.agent_dir.vec();
    let (rx, ry) = w.agent_dir.right_vec();
    let (lx, ly) = (p.x - w.agent_pos.x, p.y - w.agent_pos.y);
    let f = lx * dx + ly * dy;
    let r = lx * rx + ly * ry;
    let (col, row) = (r + v / 2, v - 1 - f);
    (col >= 0 && row >= 0 && col < v && row < v).then_some((col, row))
}

/// The cells of the view square and which of them the agent sees.
pub struct View {
    pub size: usize,
    /// `codes[row * size + col]`: the cells as the world holds them ([`super::grid::pack`]), the
    /// agent's own cell included.
    pub codes: [u32; MAX_CELLS],
    /// Bit `col` of `rows[row]`: the agent sees that cell.
    pub rows: [u16; MAX_VIEW as usize],
}

impl View {
    pub fn of(w: &World) -> View {
        let v = w.view_size as usize;
        assert!(
            (3..=MAX_VIEW as usize).contains(&v) && v % 2 == 1,
            "view size must be odd in 3..={MAX_VIEW}, got {v}"
        );
        let mut codes = [0u32; MAX_CELLS];
        let (dx, dy) = w.agent_dir.vec();
        let (rx, ry) = w.agent_dir.right_vec();
        let vi = v as i32;
        for row in 0..vi {
            // The leftmost cell of the row; each column steps one cell to the agent's right.
            let f = vi - 1 - row;
            let mut p = Pos::new(
                w.agent_pos.x + f * dx - (vi / 2) * rx,
                w.agent_pos.y + f * dy - (vi / 2) * ry,
            );
            for col in 0..v {
                codes[row as usize * v + col] = w.grid.packed(p);
                p = p.offset(rx, ry);
            }
        }
        let mut rows = [0u16; MAX_VIEW as usize];
        if w.see_through_walls {
            rows[..v].fill(((1u32 << v) - 1) as u16);
        } else {
            process_vis(&codes, v, &mut rows);
        }
        View {
            size: v,
            codes,
            rows,
        }
    }

    /// Does the agent see view cell `i` (`row * size + col`)?
    #[inline]
    pub fn is_visible(&self, i: usize) -> bool {
        self.rows[i / self.size] >> (i % self.size) & 1 != 0
    }

    /// MiniGrid's `image`, `[row][col][channel]` flattened; `out.len() == size * size * 3`.
    /// The agent's cell shows what it carries (or empty).
    pub fn encode_into(&self, carrying: Option<Obj>, out: &mut [u8]) {
        let v = self.size;
        assert_eq!(out.len(), v * v * 3, "image buffer must be view*view*3");
        for row in 0..v {
            let bits = self.rows[row];
            for col in 0..v {
                let i = row * v + col;
                let c = if bits >> col & 1 != 0 {
                    self.codes[i]
                } else {
                    0
                };
                out[i * 3] = c as u8;
                out[i * 3 + 1] = (c >> 8) as u8;
                out[i * 3 + 2] = (c >> 16) as u8;
            }
        }
        let agent = (v - 1) * v + v / 2;
        out[agent * 3..agent * 3 + 3].copy_from_slice(&carrying.map_or(EMPTY_CODE, Obj::encode));
    }

    /// The object in view cell `i` (`row * size + col`), whether visible or not.
    pub fn cell(&self, i: usize) -> Option<Obj> {
        let c = self.codes[i];
        Obj::decode([c as u8, (c >> 8) as u8, (c >> 16) as u8])
            .ok()
            .flatten()
    }
}

/// MiniGrid's `Grid.process_vis`, one row of bits at a time: light spreads from the agent's
/// cell, row by row away from the agent, rightwards then leftwards through cells that can be
/// seen behind, lighting the row beyond (the same column and the next) as it goes.
fn process_vis(codes: &[u32; MAX_CELLS], v: usize, rows: &mut [u16; MAX_VIEW as usize]) {
    light_rows(v, |row| clear_bits(&codes[row * v..(row + 1) * v]), rows);
}

/// Bit `col` set when cell `col` of a row of packed cells can be seen behind.
#[inline(always)]
fn clear_bits(row: &[u32]) -> u32 {
    let mut clear = 0u32;
    for (col, &c) in row.iter().enumerate() {
        clear |= ((c >> 24 == 0) as u32) << col;
    }
    clear
}

/// The spread of light over rows of bits (`clear(row)`: the cells that can be seen behind).
#[inline(always)]
fn light_rows(v: usize, clear: impl Fn(usize) -> u32, rows: &mut [u16]) {
    let full: u32 = (1 << v) - 1;
    rows[v - 1] = 1 << (v / 2);
    for row in (0..v).rev() {
        let clear = clear(row);
        let mut lit = rows[row] as u32;
        // Rightwards: a lit, clear cell (not the last column) lights its right neighbour.
        let src_r = clear & (full >> 1);
        loop {
            let next = lit | ((lit & src_r) << 1);
            if next == lit {
                break;
            }
            lit = next;
        }
        let spread_r = lit & src_r;
        // Leftwards, from what the rightward pass lit (not the first column).
        let src_l = clear & (full & !1);
        loop {
            let next = lit | ((lit & src_l) >> 1);
            if next == lit {
                break;
            }
            lit = next;
        }
        let spread_l = lit & src_l;
        rows[row] = lit as u16;
        if row > 0 {
            let beyond = spread_r | (spread_r << 1) | spread_l | (spread_l >> 1);
            rows[row - 1] |= (beyond & full) as u16;
        }
    }
}

/// The view square of size `V` as packed cells and visible rows, without the general
/// [`View`]'s large buffers: the per-step path of [`World::image_into`].
#[inline(always)]
fn gather<const V: usize>(w: &World) -> ([[u32; V]; V], [u16; V]) {
    let mut codes = [[0u32; V]; V];
    let (dx, dy) = w.agent_dir.vec();
    let (rx, ry) = w.agent_dir.right_vec();
    let vi = V as i32;
    for (row, line) in codes.iter_mut().enumerate() {
        let f = vi - 1 - row as i32;
        let mut p = Pos::new(
            w.agent_pos.x + f * dx - (vi / 2) * rx,
            w.agent_pos.y + f * dy - (vi / 2) * ry,
        );
        for c in line.iter_mut() {
            *c = w.grid.packed(p);
            p = p.offset(rx, ry);
        }
    }
    let mut rows = [0u16; V];
    if w.see_through_walls {
        rows.fill(((1u32 << V) - 1) as u16);
        return (codes, rows);
    }
    light_rows(V, |row| clear_bits(&codes[row]), &mut rows);
    (codes, rows)
}

fn image_fixed<const V: usize>(w: &World, out: &mut [u8]) {
    assert_eq!(out.len(), V * V * 3, "image buffer must be view*view*3");
    let (codes, rows) = gather::<V>(w);
    for (row, (line, bits)) in codes.iter().zip(rows).enumerate() {
        let dst = &mut out[row * V * 3..(row + 1) * V * 3];
        for (col, (&c, px)) in line.iter().zip(dst.chunks_exact_mut(3)).enumerate() {
            let c = if bits >> col & 1 != 0 { c } else { 0 };
            px[0] = c as u8;
            px[1] = (c >> 8) as u8;
            px[2] = (c >> 16) as u8;
        }
    }
    let agent = ((V - 1) * V + V / 2) * 3;
    out[agent..agent + 3].copy_from_slice(&w.carrying.map_or(EMPTY_CODE, Obj::encode));
}

impl World {
    /// MiniGrid's `obs["image"]` as `[row][col][channel]` (view x view x 3), row 0 farthest ahead.
    pub fn image_into(&self, out: &mut [u8]) {
        match self.view_size {
            3 => image_fixed::<3>(self, out),
            5 => image_fixed::<5>(self, out),
            7 => image_fixed::<7>(self, out),
            9 => image_fixed::<9>(self, out),
            11 => image_fixed::<11>(self, out),
            13 => image_fixed::<13>(self, out),
            15 => image_fixed::<15>(self, out),
            v => panic!("view size must be odd in 3..={MAX_VIEW}, got {v}"),
        }
    }

    pub fn image(&self) -> alloc::vec::Vec<u8> {
        let v = self.view_size as usize;
        let mut out = alloc::vec![0; v * v * 3];
        self.image_into(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;
    use crate::rng::Rng;
    use crate::world::Action;

    /// The per-step path and the general [`View`] agree, for every view size.
    #[test]
    fn fixed_size_path_matches_the_general_view() {
        let mut rng = Rng::new(5);
        for spec in registry::all() {
            let mut env = registry::make(spec.id, 1).unwrap();
            for v in [3u8, 5, 7, 9, 15] {
                env.world.view_size = v;
                for _ in 0..50 {
                    env.step(Action::ALL[rng.index(3)]);
                    let n = v as usize;
                    let mut general = alloc::vec![0u8; n * n * 3];
                    View::of(&env.world).encode_into(env.world.carrying, &mut general);
                    assert_eq!(env.world.image(), general, "{} view {v}", spec.id);
                }
            }
        }
    }
}
