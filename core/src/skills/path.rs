//! Shortest paths over (x, y, direction) through cells the agent knows to be passable.

use crate::obs::memory_map::MemoryMap;
use crate::world::{Action, Dir, Obj, Pos};
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

/// An agent pose.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pose {
    /// Where the agent would stand.
    pub pos: Pos,
    pub dir: Dir,
}

impl Pose {
    pub fn front(&self) -> Pos {
        self.dir.step(self.pos)
    }
}

/// What the memory map says about the world, for planning.
pub struct Knowledge<'m> {
    pub map: &'m MemoryMap,
    pub view_size: u8,
}

impl<'m> Knowledge<'m> {
    pub fn new(map: &'m MemoryMap, view_size: u8) -> Knowledge<'m> {
        Knowledge { map, view_size }
    }

    pub fn pose(&self) -> Pose {
        Pose {
            pos: self.map.agent_pos(),
            dir: self.map.agent_dir(),
        }
    }

    pub fn front(&self) -> Pos {
        self.pose().front()
    }

    fn in_map(&self, p: Pos) -> bool {
        p.x >= 0 && p.y >= 0 && p.x < self.map.width() && p.y < self.map.height()
    }

    /// Seen, and the agent may stand there: empty, floor, goal, open door. Never lava.
    pub fn passable(&self, p: Pos) -> bool {
        if p == self.map.agent_pos() {
            return true;
        }
        if !self.map.is_seen(p) {
            return false;
        }
        match self.map.object_at(p) {
            None => true,
            Some(Obj::Lava) => false,
            Some(o) => o.can_overlap(),
        }
    }

    /// Seen, empty, and not beside a door (where an object would block the way).
    pub fn can_drop_at(&self, p: Pos) -> bool {
        if !self.in_map(p) || p == self.map.agent_pos() || !self.map.is_seen(p) {
            return false;
        }
        if self.map.object_at(p).is_some() {
            return false;
        }
        [(1, 0), (-1, 0), (0, 1), (0, -1)].iter().all(|&(dx, dy)| {
            let q = p.offset(dx, dy);
            !(self.in_map(q) && matches!(self.map.object_at(q), Some(Obj::Door(..))))
        })
    }

    /// Would an agent at `s` see a cell it has never seen? Unknown cells are assumed
    /// transparent, so reaching such a pose always reveals at least one new cell.
    pub fn reveals_unseen(&self, s: Pose) -> bool {
        self.unseen_in_view(s) > 0
    }

    /// How many never-seen cells an agent at `s` would see (unknown cells transparent).
    pub fn unseen_in_view(&self, s: Pose) -> usize {
        let mut n = 0;
        self.for_each_unseen_in_view(s, |_| n += 1);
        n
    }

    /// Call `f` on every never-seen cell an agent at `s` would see (unknown cells transparent).
    fn for_each_unseen_in_view(&self, s: Pose, mut f: impl FnMut(Pos)) {
        let v = 3i32.max(self.view_size());
        let (dx, dy) = s.dir.vec();
        let (rx, ry) = s.dir.right_vec();
        let n = (v * v) as usize;
        let at = |col: i32, row: i32| {
            let f = v - 1 - row;
            let r = col - v / 2;
            Pos::new(s.pos.x + f * dx + r * rx, s.pos.y + f * dy + r * ry)
        };
        let opaque = |p: Pos| {
            if !self.in_map(p) {
                return true;
            }
            self.map.is_seen(p)
                && p != self.map.agent_pos()
                && self.map.object_at(p).is_some_and(|o| !o.see_behind())
        };
        let mut mask = vec![false; n];
        let idx = |c: i32, r: i32| (r * v + c) as usize;
        mask[idx(v / 2, v - 1)] = true;
        for row in (0..v).rev() {
            for col in 0..v - 1 {
                if mask[idx(col, row)] && !opaque(at(col, row)) {
                    mask[idx(col + 1, row)] = true;
                    if row > 0 {
                        mask[idx(col + 1, row - 1)] = true;
                        mask[idx(col, row - 1)] = true;
                    }
                }
            }
            for col in (1..v).rev() {
                if mask[idx(col, row)] && !opaque(at(col, row)) {
                    mask[idx(col - 1, row)] = true;
                    if row > 0 {
                        mask[idx(col - 1, row - 1)] = true;
                        mask[idx(col, row - 1)] = true;
                    }
                }
            }
        }
        for row in 0..v {
            for col in 0..v {
                let p = at(col, row);
                if mask[idx(col, row)] && self.in_map(p) && !self.map.is_seen(p) {
                    f(p);
                }
            }
        }
    }

    fn view_size(&self) -> i32 {
        self.view_size as i32
    }
}

/// Breadth-first search over the poses the agent can reach through passable cells, nearest
/// first. `visit(pose, discount, first)` gets `0.8^distance` and the first action of a shortest
/// path there (`None` for the start); returning `true` stops the search.
fn breadth_first(k: &Knowledge, mut visit: impl FnMut(Pose, f32, Option<Action>) -> bool) {
    let start = k.pose();
    let (w, h) = (k.map.width(), k.map.height());
    let key = |s: Pose| ((s.pos.y * w + s.pos.x) * 4 + s.dir as i32) as usize;
    let mut first: Vec<Option<Action>> = vec![None; (w * h * 4) as usize];
    let mut seen = vec![false; (w * h * 4) as usize];
    let mut queue = VecDeque::new();
    seen[key(start)] = true;
    queue.push_back((start, 1.0f32));
    while let Some((s, discount)) = queue.pop_front() {
        if visit(s, discount, first[key(s)]) {
            return;
        }
        let moves = [
            (
                Action::Forward,
                Pose {
                    pos: s.front(),
                    dir: s.dir,
                },
            ),
            (
                Action::Left,
                Pose {
                    pos: s.pos,
                    dir: s.dir.left(),
                },
            ),
            (
                Action::Right,
                Pose {
                    pos: s.pos,
                    dir: s.dir.right(),
                },
            ),
        ];
        for (a, n) in moves {
            if a == Action::Forward && !k.passable(n.pos) {
                continue;
            }
            let i = key(n);
            if seen[i] {
                continue;
            }
            seen[i] = true;
            first[i] = if s == start { Some(a) } else { first[key(s)] };
            queue.push_back((n, discount * 0.8));
        }
    }
}

/// Breadth-first search from the agent's pose to the nearest pose satisfying `goal`.
/// `Some(None)`: the agent is already there; `Some(Some(a))`: the first action of a shortest
/// path; `None`: no known path.
pub fn shortest_first_action(k: &Knowledge, goal: impl Fn(Pose) -> bool) -> Option<Option<Action>> {
    let mut found = None;
    breadth_first(k, |s, _, first| {
        if goal(s) {
            found = Some(first);
        }
        found.is_some()
    });
    found
}

/// How strongly exploration is drawn towards large unseen regions (see
/// [`exploration_first_action`]).
const REGION_WEIGHT: f32 = 9.0;
/// What a never-seen cell on the map's outer ring is worth to exploration, an inner cell being
/// worth 1 (see [`exploration_first_action`]).
const BORDER_WEIGHT: f32 = 6.0;

/// Half the side of the square around the cell ahead of a pose that counts as its region: the
/// largest square that fits inside the map's outer ring, so that while everything is unknown
/// the region's unseen share peaks in the middle of the map rather than on a plateau around it.
fn region_radius(map: &MemoryMap) -> i32 {
    ((map.width().min(map.height()) - 3) / 2).max(1)
}

/// The share of never-seen cells in squares of the map, from one summed-area table.
struct UnseenDensity {
    w: i32,
    h: i32,
    sums: Vec<u32>,
}

impl UnseenDensity {
    fn new(map: &MemoryMap) -> UnseenDensity {
        let (w, h) = (map.width(), map.height());
        let stride = (w + 1) as usize;
        let mut sums = vec![0u32; stride * (h + 1) as usize];
        for y in 0..h {
            for x in 0..w {
                let i = (y + 1) as usize * stride + (x + 1) as usize;
                sums[i] = !map.is_seen(Pos::new(x, y)) as u32 + sums[i - 1] + sums[i - stride]
                    - sums[i - stride - 1];
            }
        }
        UnseenDensity { w, h, sums }
    }

    /// Never-seen share of the square of radius `r` around `p` (outside the map counts as seen).
    fn around(&self, p: Pos, r: i32) -> f32 {
        let (x0, y0) = ((p.x - r).max(0), (p.y - r).max(0));
        let (x1, y1) = ((p.x + r + 1).min(self.w), (p.y + r + 1).min(self.h));
        if x0 >= x1 || y0 >= y1 {
            return 0.0;
        }
        let at = |x: i32, y: i32| self.sums[(y * (self.w + 1) + x) as usize];
        let unseen = at(x1, y1) + at(x0, y0) - at(x0, y1) - at(x1, y0);
        unseen as f32 / ((2 * r + 1) * (2 * r + 1)) as f32
    }
}

/// Frontier exploration: among reachable poses that would see never-seen cells, the best by
/// (the worth of the new cells in view + a bonus for facing a large unseen region), discounted
/// by 0.8 per step of travel.
///
/// - Near gains come first: a turn that reveals a whole row beats a walk that reveals one cell.
/// - Cells on the map's outer ring are worth [`BORDER_WEIGHT`]: the ring is wall in every task,
///   and a door out of the room may sit in it, so the walls get walked while they are near.
/// - The region bonus is the unseen share of a square as large as the map's interior around the
///   cell ahead: it keeps the agent from sweeping thin strips and pulls it into the middle of
///   what is still unknown (where TwoDoor's key lies) instead of circling it.
///
/// Measured with the expert planner on TwoDoor (a 20x20 room, view 3, 150 steps): with no
/// border worth and a region of radius 4 the agent circled its start and ran out of steps on
/// 14% of seeds. Now it walks the walls, then heads for the middle: 20,000 of 20,000 seeds,
/// 84 steps on average, none over 140. A lighter border worth (2) fetches the key first and
/// averages 55-68 steps, but runs out on 1 to 3 seeds in 1,000; reliability won.
/// `Some(None)`: the best pose is the current one; `None`: nothing reachable reveals anything.
pub fn exploration_first_action(k: &Knowledge) -> Option<Option<Action>> {
    let density = UnseenDensity::new(k.map);
    let radius = region_radius(k.map);
    let (w, h) = (k.map.width(), k.map.height());
    let worth = |p: Pos| {
        if p.x == 0 || p.y == 0 || p.x == w - 1 || p.y == h - 1 {
            BORDER_WEIGHT
        } else {
            1.0
        }
    };
    let mut best: Option<(f32, Option<Action>)> = None;
    breadth_first(k, |s, discount, first| {
        let mut gain = 0.0;
        k.for_each_unseen_in_view(s, |p| gain += worth(p));
        if gain == 0.0 {
            return false;
        }
        let region = density.around(s.front(), radius);
        let score = (gain + REGION_WEIGHT * region) * discount;
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, first));
        }
        false
    });
    best.map(|(_, a)| a)
}
