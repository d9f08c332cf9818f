//! The agent's egocentric view: MiniGrid's `gen_obs_grid` (slice, rotate, `process_vis`) and
//! `Grid.encode(vis_mask)`, computed directly without building the rotated grid.

use super::engine::{MAX_VIEW, World};
use super::grid::Pos;
use super::object::{EMPTY_CODE, Obj, UNSEEN_CODE};

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
    /// `cells[row * size + col]`, as in the world (the agent's own cell included).
    pub cells: [Option<Obj>; MAX_CELLS],
    pub visible: [bool; MAX_CELLS],
}

impl View {
    pub fn of(w: &World) -> View {
        let v = w.view_size as usize;
        assert!(
            v >= 3 && v <= MAX_VIEW as usize && v % 2 == 1,
            "view size must be odd in 3..={MAX_VIEW}, got {v}"
        );
        let mut cells = [None; MAX_CELLS];
        for row in 0..v {
            for col in 0..v {
                cells[row * v + col] = w.grid.get(view_to_world(w, col as i32, row as i32));
            }
        }
        let mut visible = [false; MAX_CELLS];
        if w.see_through_walls {
            visible[..v * v].fill(true);
        } else {
            process_vis(&cells, v, &mut visible);
        }
        View {
            size: v,
            cells,
            visible,
        }
    }

    /// MiniGrid's `image`, `[row][col][channel]` flattened; `out.len() == size * size * 3`.
    /// The agent's cell shows what it carries (or empty).
    pub fn encode_into(&self, carrying: Option<Obj>, out: &mut [u8]) {
        let v = self.size;
        assert_eq!(out.len(), v * v * 3, "image buffer must be view*view*3");
        for i in 0..v * v {
            let code = if !self.visible[i] {
                UNSEEN_CODE
            } else {
                self.cells[i].map_or(EMPTY_CODE, Obj::encode)
            };
            out[i * 3..i * 3 + 3].copy_from_slice(&code);
        }
        let agent = (v - 1) * v + v / 2;
        out[agent * 3..agent * 3 + 3].copy_from_slice(&carrying.map_or(EMPTY_CODE, Obj::encode));
    }
}

/// MiniGrid's `Grid.process_vis`: light spreads from the agent's cell, row by row away from the
/// agent, left-to-right then right-to-left, stopping at cells that cannot be seen behind.
fn process_vis(cells: &[Option<Obj>; MAX_CELLS], v: usize, mask: &mut [bool; MAX_CELLS]) {
    let idx = |col: usize, row: usize| row * v + col;
    let opaque = |col: usize, row: usize| cells[idx(col, row)].is_some_and(|o| !o.see_behind());
    mask[idx(v / 2, v - 1)] = true;
    for row in (0..v).rev() {
        for col in 0..v - 1 {
            if !mask[idx(col, row)] || opaque(col, row) {
                continue;
            }
            mask[idx(col + 1, row)] = true;
            if row > 0 {
                mask[idx(col + 1, row - 1)] = true;
                mask[idx(col, row - 1)] = true;
            }
        }
        for col in (1..v).rev() {
            if !mask[idx(col, row)] || opaque(col, row) {
                continue;
            }
            mask[idx(col - 1, row)] = true;
            if row > 0 {
                mask[idx(col - 1, row - 1)] = true;
                mask[idx(col, row - 1)] = true;
            }
        }
    }
}

impl World {
    /// MiniGrid's `obs["image"]` as `[row][col][channel]` (view x view x 3), row 0 farthest ahead.
    pub fn image_into(&self, out: &mut [u8]) {
        View::of(self).encode_into(self.carrying, out);
    }

    pub fn image(&self) -> alloc::vec::Vec<u8> {
        let v = self.view_size as usize;
        let mut out = alloc::vec![0; v * v * 3];
        self.image_into(&mut out);
        out
    }
}
