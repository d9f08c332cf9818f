//! The seed repositories' memory map (`HistoricalObsEnv` in LLM4RL and LLM4Teach): a W x H x 4
//! picture of every cell seen so far this episode, and When2Ask's mediator input, its change.

use crate::world::object::{EMPTY_CODE, UNSEEN_CODE};
use crate::world::view::{View, view_to_world};
use crate::world::{Dir, Obj, Pos, World};
use alloc::vec;
use alloc::vec::Vec;

/// Object, colour, state, agent direction.
pub const CHANNELS: usize = 4;
/// Channel 3 everywhere but the agent's cell.
pub const NO_AGENT: u8 = 4;

/// What the agent has seen this episode, laid out as the seed code's numpy array of shape
/// `(width, height, 4)`: `data[(x * height + y) * 4 + channel]`.
///
/// Channels 0-2 hold the *current* MiniGrid encoding of every cell seen at least once (a key
/// picked up from a seen cell shows as empty), `[0, 0, 0]` for cells never seen, and what the
/// agent carries on its own cell. Channel 3 holds the agent's direction on its cell and
/// [`NO_AGENT`] elsewhere.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemoryMap {
    width: i32,
    height: i32,
    seen: Vec<bool>,
    data: Vec<u8>,
    agent_pos: Pos,
    agent_dir: Dir,
}

impl MemoryMap {
    /// The map at the start of an episode: only what the agent sees from where it stands.
    pub fn new(world: &World) -> MemoryMap {
        let cells = (world.width() * world.height()) as usize;
        let mut map = MemoryMap {
            width: world.width(),
            height: world.height(),
            seen: vec![false; cells],
            data: vec![0; cells * CHANNELS],
            agent_pos: world.agent_pos,
            agent_dir: world.agent_dir,
        };
        map.update(world);
        map
    }

    /// Forget everything and start from `world` (a new episode), reusing the buffers.
    ///
    /// LLM4RL's `reset` returns the observation made before it clears the previous episode's
    /// mask, so its first map leaks old cells; LLM4Teach fixed that and so does this.
    pub fn reset(&mut self, world: &World) {
        let cells = (world.width() * world.height()) as usize;
        self.width = world.width();
        self.height = world.height();
        self.seen.clear();
        self.seen.resize(cells, false);
        self.data.clear();
        self.data.resize(cells * CHANNELS, 0);
        self.update(world);
    }

    /// Add what the agent sees now and re-encode every seen cell; call after every step.
    pub fn update(&mut self, world: &World) {
        assert!(
            world.width() == self.width && world.height() == self.height,
            "MemoryMap::update: the world is {}x{}, the map {}x{}",
            world.width(),
            world.height(),
            self.width,
            self.height
        );
        self.look(world);
        self.agent_pos = world.agent_pos;
        self.agent_dir = world.agent_dir;
        for x in 0..self.width {
            for y in 0..self.height {
                let p = Pos::new(x, y);
                let i = self.index(p);
                let code = if !self.seen[i] {
                    UNSEEN_CODE
                } else if p == world.agent_pos {
                    world.carrying.map_or(EMPTY_CODE, Obj::encode)
                } else {
                    world.grid.get(p).map_or(EMPTY_CODE, Obj::encode)
                };
                let cell = &mut self.data[i * CHANNELS..(i + 1) * CHANNELS];
                cell[..3].copy_from_slice(&code);
                cell[3] = if p == world.agent_pos {
                    world.agent_dir as u8
                } else {
                    NO_AGENT
                };
            }
        }
    }

    /// Mark the cells in sight. The seed code lights a clipped, unrotated slice of the grid
    /// outward from the agent (`FlexibleGrid.process_vis`); that is the same set of cells as
    /// MiniGrid's egocentric view mapped back to the world, which is what is used here (a test
    /// below checks the two agree).
    fn look(&mut self, world: &World) {
        let view = View::of(world);
        let v = view.size;
        for row in 0..v {
            for col in 0..v {
                if !view.is_visible(row * v + col) {
                    continue;
                }
                let p = view_to_world(world, col as i32, row as i32);
                if world.grid.contains(p) {
                    let i = self.index(p);
                    self.seen[i] = true;
                }
            }
        }
    }

    fn index(&self, p: Pos) -> usize {
        (p.x * self.height + p.y) as usize
    }

    pub fn width(&self) -> i32 {
        self.width
    }

    pub fn height(&self) -> i32 {
        self.height
    }

    /// The whole map, `(width, height, 4)` in row-major (C) order.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The four channels at `p`.
    pub fn at(&self, p: Pos) -> [u8; 4] {
        assert!(
            p.x >= 0 && p.y >= 0 && p.x < self.width && p.y < self.height,
            "MemoryMap::at outside the map at {p:?}"
        );
        let i = self.index(p) * CHANNELS;
        [
            self.data[i],
            self.data[i + 1],
            self.data[i + 2],
            self.data[i + 3],
        ]
    }

    /// Has the agent seen `p` this episode?
    pub fn is_seen(&self, p: Pos) -> bool {
        p.x >= 0 && p.y >= 0 && p.x < self.width && p.y < self.height && self.seen[self.index(p)]
    }

    pub fn agent_pos(&self) -> Pos {
        self.agent_pos
    }

    pub fn agent_dir(&self) -> Dir {
        self.agent_dir
    }

    /// What the map shows on the agent's cell: the carried object.
    pub fn carrying(&self) -> Option<Obj> {
        self.object_at(self.agent_pos)
    }

    /// The object the map shows at `p` (box contents are not part of the encoding).
    pub fn object_at(&self, p: Pos) -> Option<Obj> {
        let [k, c, s, _] = self.at(p);
        Obj::decode([k, c, s]).ok().flatten()
    }

    /// Every seen object other than walls and the carried one, in the seed code's
    /// `np.argwhere` order: by x, then by y.
    pub fn objects(&self) -> impl Iterator<Item = (Pos, Obj)> + '_ {
        (0..self.width)
            .flat_map(move |x| (0..self.height).map(move |y| Pos::new(x, y)))
            .filter(move |&p| p != self.agent_pos)
            .filter_map(move |p| self.object_at(p).map(|o| (p, o)))
            .filter(|(_, o)| !matches!(o, Obj::Wall(_)))
    }

    /// When2Ask's mediator input: `self - prev`, cell by cell and channel by channel, as signed
    /// numbers (`out.len()` must equal `data().len()`). The seed code subtracts two `uint8`
    /// arrays, so a decrease wraps to 255 and more; this keeps the sign.
    pub fn diff_into<T: From<i16>>(&self, prev: &MemoryMap, out: &mut [T]) {
        assert!(
            self.width == prev.width && self.height == prev.height,
            "MemoryMap::diff between maps of different sizes"
        );
        assert_eq!(
            out.len(),
            self.data.len(),
            "diff buffer must be width*height*4"
        );
        for ((o, &a), &b) in out.iter_mut().zip(&self.data).zip(&prev.data) {
            *o = T::from(a as i16 - b as i16);
        }
    }

    pub fn diff(&self, prev: &MemoryMap) -> Vec<i16> {
        let mut out = vec![0i16; self.data.len()];
        self.diff_into(prev, &mut out);
        out
    }

    /// The side of [`MemoryMap::egocentric_into`]'s square: `2 * max(width, height) - 1`, so
    /// the whole map fits in it wherever the agent stands.
    pub fn ego_side(width: i32, height: i32) -> usize {
        (2 * width.max(height) - 1).max(1) as usize
    }

    /// The map turned and shifted so the agent stands at the centre facing up, laid out as
    /// MiniGrid's egocentric `image`: `[row][col][object, colour, state]`, row 0 farthest ahead,
    /// columns growing to the agent's right, `side x side x 3` with `side` =
    /// [`MemoryMap::ego_side`]. Each cell holds channels 0-2 of the map (never seen:
    /// `[0, 0, 0]`; the agent's cell: what it carries); cells beyond the grid read as wall, as
    /// in MiniGrid's view. The direction channel is dropped: the agent always faces up.
    ///
    /// It holds exactly what the map holds, in the frame MiniGrid's CNN was designed for: what
    /// is ahead of the agent is always above the centre.
    pub fn egocentric_into(&self, out: &mut [u8]) {
        let side = Self::ego_side(self.width, self.height);
        assert_eq!(
            out.len(),
            side * side * 3,
            "egocentric buffer must be side*side*3"
        );
        let c = (side / 2) as i32;
        let (dx, dy) = self.agent_dir.vec();
        let (rx, ry) = self.agent_dir.right_vec();
        let wall = Obj::WALL.encode();
        for row in 0..side as i32 {
            let f = c - row;
            for col in 0..side as i32 {
                let r = col - c;
                let p = Pos::new(
                    self.agent_pos.x + f * dx + r * rx,
                    self.agent_pos.y + f * dy + r * ry,
                );
                let code = if p.x >= 0 && p.y >= 0 && p.x < self.width && p.y < self.height {
                    let i = self.index(p) * CHANNELS;
                    [self.data[i], self.data[i + 1], self.data[i + 2]]
                } else {
                    wall
                };
                let o = ((row * side as i32 + col) * 3) as usize;
                out[o..o + 3].copy_from_slice(&code);
            }
        }
    }

    pub fn egocentric(&self) -> Vec<u8> {
        let side = Self::ego_side(self.width, self.height);
        let mut out = vec![0; side * side * 3];
        self.egocentric_into(&mut out);
        out
    }
}

const KINDS: usize = crate::world::object::Kind::ALL.len();
const COLOURS: usize = crate::world::Color::ALL.len();
/// Planes of [`one_hot_into`]: 11 object types, 6 colours, 3 door states (open, closed, locked).
pub const ONE_HOT_CHANNELS: usize = KINDS + COLOURS + 3;

/// `codes` (cells of MiniGrid's `[type, colour, state]`) as one-hot planes, [`ONE_HOT_CHANNELS`]
/// a cell. A colour plane is lit only for an object that has one (not for unseen or empty
/// cells, whose colour code is 0, red) and a state plane only for a door (every other object's
/// state is 0, "open"), so a plane means what its name says. Codes out of range light nothing.
pub fn one_hot_into(codes: &[u8], out: &mut [u8]) {
    use crate::world::object::Kind;
    assert_eq!(codes.len() % 3, 0, "cells of 3 codes");
    assert_eq!(
        out.len(),
        codes.len() / 3 * ONE_HOT_CHANNELS,
        "one-hot buffer must be cells * ONE_HOT_CHANNELS"
    );
    for (code, cell) in codes
        .chunks_exact(3)
        .zip(out.chunks_exact_mut(ONE_HOT_CHANNELS))
    {
        cell.fill(0);
        let kind = Kind::from_index(code[0]);
        if kind.is_some() {
            cell[code[0] as usize] = 1;
        }
        let coloured = !matches!(kind, None | Some(Kind::Unseen | Kind::Empty | Kind::Agent));
        if coloured && (code[1] as usize) < COLOURS {
            cell[KINDS + code[1] as usize] = 1;
        }
        if kind == Some(Kind::Door) && (code[2] as usize) < 3 {
            cell[KINDS + COLOURS + code[2] as usize] = 1;
        }
    }
}

/// The colour [`door_relative_colours`] swaps with red: the colour of a locked door the map
/// shows, else of any door it shows (the first in `objects`' order), else none.
pub fn door_colour(map: &MemoryMap) -> Option<u8> {
    let mut any = None;
    for (_, obj) in map.objects() {
        if let Obj::Door(colour, state) = obj {
            if state == crate::world::DoorState::Locked {
                return Some(colour as u8);
            }
            any = any.or(Some(colour as u8));
        }
    }
    any
}

/// Swap colour code `colour` with red (0) on every key, ball, box and door in `codes` (cells of
/// MiniGrid's `[type, colour, state]`), so that "the key of the door's colour" reads as "the red
/// key" whatever colour the door was drawn in. Walls, floors, goals and lava keep their codes:
/// they are always drawn in one colour, and a door drawn grey must not turn the walls red.
pub fn door_relative_colours(codes: &mut [u8], colour: u8) {
    use crate::world::object::Kind;
    if colour == 0 {
        return;
    }
    for cell in codes.chunks_exact_mut(3) {
        let swaps = matches!(
            Kind::from_index(cell[0]),
            Some(Kind::Key | Kind::Ball | Kind::Box | Kind::Door)
        );
        if swaps && cell[1] == colour {
            cell[1] = 0;
        } else if swaps && cell[1] == 0 {
            cell[1] = colour;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::world::{Action, Color, DoorState};

    /// Colour only where an object has one (an empty cell's colour code 0 is not "red"), state
    /// only for a door, nothing for codes out of range.
    #[test]
    fn one_hot_planes_mean_what_they_name() {
        let codes = [
            1, 0, 0, // empty
            5, 0, 0, // red key
            4, 2, 2, // locked blue door
            4, 0, 0, // open red door
            0, 0, 0, // unseen
            2, 5, 0, // grey wall
            11, 6, 3, // out of range
        ];
        let mut out = [9u8; 7 * ONE_HOT_CHANNELS];
        one_hot_into(&codes, &mut out);
        let lit: Vec<Vec<usize>> = out
            .chunks(ONE_HOT_CHANNELS)
            .map(|c| (0..ONE_HOT_CHANNELS).filter(|&k| c[k] == 1).collect())
            .collect();
        assert_eq!(
            lit,
            [
                vec![1],
                vec![5, 11],
                vec![4, 13, 19],
                vec![4, 11, 17],
                vec![0],
                vec![2, 16],
                vec![],
            ]
        );
        assert!(out.iter().all(|&v| v <= 1));
    }

    /// A 7x6 room: walls around, a red key at (3, 2), a locked blue door at (6, 3).
    fn room() -> World {
        let mut w = World::new(7, 6, 100);
        w.grid.wall_rect(0, 0, 7, 6);
        w.grid.set(Pos::new(3, 2), Some(Obj::Key(Color::Red)));
        w.grid.set(
            Pos::new(6, 3),
            Some(Obj::Door(Color::Blue, DoorState::Locked)),
        );
        w.view_size = 3;
        w.agent_pos = Pos::new(2, 2);
        w.agent_dir = Dir::East;
        w
    }

    fn seen_cells(m: &MemoryMap) -> Vec<(i32, i32)> {
        let mut v = Vec::new();
        for x in 0..m.width() {
            for y in 0..m.height() {
                if m.is_seen(Pos::new(x, y)) {
                    v.push((x, y));
                }
            }
        }
        v
    }

    #[test]
    fn first_map_holds_the_view_and_the_agent() {
        let w = room();
        let m = MemoryMap::new(&w);
        // Facing east from (2, 2) with view 3: columns 2..=4, rows 1..=3; the key at (3, 2)
        // hides nothing in a 3x3 view (it is see-through, as in MiniGrid).
        let expect: Vec<(i32, i32)> = (2..=4).flat_map(|x| (1..=3).map(move |y| (x, y))).collect();
        assert_eq!(seen_cells(&m), expect);
        assert_eq!(m.at(Pos::new(3, 2)), [5, 0, 0, 4]); // red key
        assert_eq!(m.at(Pos::new(2, 2)), [1, 0, 0, 0]); // agent: carries nothing, faces east
        assert_eq!(m.at(Pos::new(4, 3)), [1, 0, 0, 4]); // empty, seen
        assert_eq!(m.at(Pos::new(5, 2)), [0, 0, 0, 4]); // never seen
        assert_eq!(m.at(Pos::new(0, 0)), [0, 0, 0, 4]);
        assert_eq!(m.data().len(), 7 * 6 * 4);
        // `(x * height + y) * 4 + channel`
        assert_eq!(m.data()[(3 * 6 + 2) * 4], 5);
    }

    #[test]
    fn walls_hide_what_is_behind_them() {
        let mut w = room();
        w.grid.set(Pos::new(3, 2), None);
        w.grid.vert_wall(3, 1, 3, Obj::WALL);
        let m = MemoryMap::new(&w);
        assert!((1..=3).all(|y| m.is_seen(Pos::new(3, y))));
        assert!((1..=3).all(|y| !m.is_seen(Pos::new(4, y))));
        // A single wall piece hides little: MiniGrid lights the cell behind it diagonally.
        let mut w = room();
        w.grid.set(Pos::new(3, 2), Some(Obj::WALL));
        assert!(MemoryMap::new(&w).is_seen(Pos::new(4, 2)));
    }

    #[test]
    fn the_map_remembers_cells_and_shows_their_current_state() {
        let mut w = room();
        let mut m = MemoryMap::new(&w);
        let before = m.clone();
        w.step(Action::Pickup);
        m.update(&w);
        assert_eq!(
            m.at(Pos::new(3, 2)),
            [1, 0, 0, 4],
            "the key's cell is empty now"
        );
        assert_eq!(
            m.at(Pos::new(2, 2)),
            [5, 0, 0, 0],
            "the agent's cell shows the key"
        );
        assert_eq!(m.carrying(), Some(Obj::Key(Color::Red)));
        // Turn around: the old cells stay seen, the cells behind join them.
        w.step(Action::Left);
        w.step(Action::Left);
        m.update(&w);
        assert!(m.is_seen(Pos::new(4, 3)) && m.is_seen(Pos::new(0, 1)));
        assert_eq!(m.at(Pos::new(2, 2)), [5, 0, 0, Dir::West as u8]);
        assert_eq!(m.at(Pos::new(1, 2)), [1, 0, 0, 4]);
        assert_eq!(m.at(Pos::new(0, 2)), [2, 5, 0, 4]); // grey wall
        // Walk to the door and look at it.
        for a in [Action::Left, Action::Left, Action::Forward, Action::Forward] {
            w.step(a);
        }
        w.step(Action::Forward);
        w.step(Action::Right);
        m.update(&w);
        assert_eq!(w.agent_pos, Pos::new(5, 2));
        assert_eq!(w.agent_dir, Dir::South);
        assert_eq!(m.at(Pos::new(6, 3)), [4, 2, 2, 4]); // locked blue door
        let objs: Vec<(Pos, Obj)> = m.objects().collect();
        assert_eq!(
            objs,
            [(Pos::new(6, 3), Obj::Door(Color::Blue, DoorState::Locked))]
        );

        let d = m.diff(&before);
        let at = |p: Pos, c: usize| d[(p.x * 6 + p.y) as usize * 4 + c];
        assert_eq!(at(Pos::new(3, 2), 0), 1 - 5, "key gone: 1 - 5, not 252");
        assert_eq!(at(Pos::new(2, 2), 3), 4, "agent left (2, 2): 4 - 0");
        assert_eq!(at(Pos::new(5, 2), 3), 1 - 4, "agent arrived facing south");
        assert_eq!(at(Pos::new(6, 3), 0), 4);
        let mut f = vec![0f32; d.len()];
        m.diff_into(&before, &mut f);
        assert_eq!(f[(3 * 6 + 2) * 4], -4.0);
        assert!(m.diff(&m).iter().all(|&x| x == 0));

        m.reset(&room());
        assert_eq!(m, MemoryMap::new(&room()));
    }

    /// The seed code's visibility, written out as it computes it: the view square clipped to
    /// the grid, unrotated, lit column by column (row by row) away from the agent.
    fn seed_visibility(w: &World) -> Vec<(i32, i32)> {
        let v = w.view_size as i32;
        let (ax, ay) = (w.agent_pos.x, w.agent_pos.y);
        let (tx, ty) = match w.agent_dir {
            Dir::East => (ax, ay - v / 2),
            Dir::South => (ax - v / 2, ay),
            Dir::West => (ax - v + 1, ay - v / 2),
            Dir::North => (ax - v / 2, ay - v + 1),
        };
        let (bx, by) = ((tx + v).min(w.width()), (ty + v).min(w.height()));
        let (tx, ty) = (tx.max(0), ty.max(0));
        let (sw, sh) = (bx - tx, by - ty);
        let mut mask = vec![vec![false; sh as usize]; sw as usize];
        let clear = |i: i32, j: i32| {
            w.grid
                .get(Pos::new(tx + i, ty + j))
                .is_none_or(|o| o.see_behind())
        };
        mask[(ax - tx) as usize][(ay - ty) as usize] = true;
        let set = |m: &mut Vec<Vec<bool>>, i: i32, j: i32| m[i as usize][j as usize] = true;
        // Along the line at distance `a` (a column when facing east/west, a row otherwise),
        // light spreads sideways both ways and one step further out.
        let line = |m: &mut Vec<Vec<bool>>, a: i32, d: i32, last: bool, vertical: bool| {
            let len = if vertical { sh } else { sw };
            let cell = |b: i32| if vertical { (a, b) } else { (b, a) };
            let fwd = |b: i32| if vertical { (a + d, b) } else { (b, a + d) };
            for b in 0..len - 1 {
                let (i, j) = cell(b);
                if !m[i as usize][j as usize] || !clear(i, j) {
                    continue;
                }
                let (i1, j1) = cell(b + 1);
                set(m, i1, j1);
                if !last {
                    let (fi, fj) = fwd(b);
                    set(m, fi, fj);
                    let (fi, fj) = fwd(b + 1);
                    set(m, fi, fj);
                }
            }
            for b in (1..len).rev() {
                let (i, j) = cell(b);
                if !m[i as usize][j as usize] || !clear(i, j) {
                    continue;
                }
                let (i1, j1) = cell(b - 1);
                set(m, i1, j1);
                if !last {
                    let (fi, fj) = fwd(b);
                    set(m, fi, fj);
                    let (fi, fj) = fwd(b - 1);
                    set(m, fi, fj);
                }
            }
        };
        match w.agent_dir {
            Dir::East => (0..sw).for_each(|i| line(&mut mask, i, 1, i == sw - 1, true)),
            Dir::West => (0..sw)
                .rev()
                .for_each(|i| line(&mut mask, i, -1, i == 0, true)),
            Dir::South => (0..sh).for_each(|j| line(&mut mask, j, 1, j == sh - 1, false)),
            Dir::North => (0..sh)
                .rev()
                .for_each(|j| line(&mut mask, j, -1, j == 0, false)),
        }
        let mut out = Vec::new();
        for i in 0..sw {
            for j in 0..sh {
                if mask[i as usize][j as usize] {
                    out.push((tx + i, ty + j));
                }
            }
        }
        out.sort();
        out
    }

    /// The agent-centred map holds what MiniGrid's own view shows for every cell in sight (the
    /// view code is checked against MiniGrid's traces), turns with the agent, keeps what went out
    /// of sight, and reads beyond the grid as wall.
    #[test]
    fn egocentric_map_agrees_with_the_view_and_turns_with_the_agent() {
        let mut rng = Rng::new(77);
        for case in 0..40 {
            let mut env = crate::registry::make("SimpleDoorKey", case).unwrap();
            let mut m = MemoryMap::new(&env.world);
            let side = MemoryMap::ego_side(m.width(), m.height());
            assert_eq!(side, 19);
            let c = side / 2;
            for _ in 0..60 {
                let action = Action::ALL[rng.index(6)];
                let t = env.step(action);
                if t.terminated || t.truncated {
                    break;
                }
                m.update(&env.world);
                let ego = m.egocentric();
                let at = |row: usize, col: usize| {
                    let o = (row * side + col) * 3;
                    [ego[o], ego[o + 1], ego[o + 2]]
                };
                // Every cell the view shows (the agent's cell: what it carries) sits at the
                // same offset from the agent in the egocentric map.
                let w = &env.world;
                let v = w.view_size as usize;
                let view = View::of(w);
                let image = w.image();
                for row in 0..v {
                    for col in 0..v {
                        let p = view_to_world(w, col as i32, row as i32);
                        if !view.is_visible(row * v + col) || !w.grid.contains(p) {
                            continue;
                        }
                        let o = (row * v + col) * 3;
                        assert_eq!(
                            at(c + row - (v - 1), c + col - v / 2),
                            [image[o], image[o + 1], image[o + 2]],
                            "case {case}: view cell ({col}, {row}) at {p:?}"
                        );
                    }
                }
                // Every map cell once, at its offset in the agent's frame; the rest is wall.
                let (dx, dy) = w.agent_dir.vec();
                let (rx, ry) = w.agent_dir.right_vec();
                let mut from_map = 0;
                for x in 0..m.width() {
                    for y in 0..m.height() {
                        let (lx, ly) = (x - w.agent_pos.x, y - w.agent_pos.y);
                        let (f, r) = (lx * dx + ly * dy, lx * rx + ly * ry);
                        let (row, col) = ((c as i32 - f) as usize, (c as i32 + r) as usize);
                        let cell = m.at(Pos::new(x, y));
                        assert_eq!(at(row, col), [cell[0], cell[1], cell[2]]);
                        from_map += 1;
                    }
                }
                let walls = (0..side * side)
                    .filter(|i| ego[i * 3..i * 3 + 3] == Obj::WALL.encode())
                    .count();
                assert!(walls >= side * side - from_map as usize);
                assert_eq!(at(c, c), w.carrying.map_or(EMPTY_CODE, Obj::encode));
            }
        }
    }

    #[test]
    fn egocentric_map_of_the_room() {
        let mut w = room();
        let mut m = MemoryMap::new(&w);
        let side = MemoryMap::ego_side(7, 6);
        assert_eq!(side, 13);
        let c = 6;
        let cell = |ego: &[u8], row: usize, col: usize| {
            let o = (row * side + col) * 3;
            [ego[o], ego[o + 1], ego[o + 2]]
        };
        // Facing east from (2, 2): the key at (3, 2) is one ahead; (0, 0) was never seen.
        let ego = m.egocentric();
        assert_eq!(cell(&ego, c - 1, c), [5, 0, 0]);
        assert_eq!(cell(&ego, c, c), EMPTY_CODE);
        assert_eq!(cell(&ego, c + 2, c - 2), UNSEEN_CODE); // (0, 0): 2 behind, 2 left
        assert_eq!(cell(&ego, c, c + 5), Obj::WALL.encode()); // (2, 7): beyond the grid
        // Take the key and turn right (south): the agent carries it, the key's old cell is on
        // its left and empty.
        w.step(Action::Pickup);
        w.step(Action::Right);
        m.update(&w);
        let ego = m.egocentric();
        assert_eq!(cell(&ego, c, c), [5, 0, 0]);
        assert_eq!(cell(&ego, c, c - 1), EMPTY_CODE);
        // (4, 3), seen from the start: 1 ahead (south), 2 to the left (east); the door at
        // (6, 3) was never in sight.
        assert_eq!(cell(&ego, c - 1, c - 2), EMPTY_CODE);
        assert_eq!(cell(&ego, c - 1, c - 4), UNSEEN_CODE);
    }

    #[test]
    fn visibility_matches_the_seed_code_on_random_worlds() {
        let mut rng = Rng::new(2024);
        let things = [
            None,
            None,
            None,
            Some(Obj::WALL),
            Some(Obj::WALL),
            Some(Obj::Door(Color::Red, DoorState::Locked)),
            Some(Obj::Door(Color::Red, DoorState::Closed)),
            Some(Obj::Door(Color::Red, DoorState::Open)),
            Some(Obj::Key(Color::Blue)),
            Some(Obj::Box(Color::Green, None)),
            Some(Obj::Lava),
        ];
        for case in 0..3000 {
            let (wd, ht) = (rng.int(3, 12), rng.int(3, 12));
            let mut w = World::new(wd, ht, 100);
            for p in w.grid.positions().collect::<Vec<_>>() {
                w.grid.set(p, *rng.choose(&things));
            }
            w.view_size = [3, 3, 5, 7][rng.index(4)];
            w.agent_pos = Pos::new(rng.int(0, wd), rng.int(0, ht));
            w.agent_dir = Dir::ALL[rng.index(4)];
            // The agent never stands on an opaque cell.
            if w.grid.get(w.agent_pos).is_some_and(|o| !o.see_behind()) {
                w.grid.set(w.agent_pos, None);
            }
            let m = MemoryMap::new(&w);
            assert_eq!(seen_cells(&m), seed_visibility(&w), "case {case}: {w:?}");
        }
    }
}
