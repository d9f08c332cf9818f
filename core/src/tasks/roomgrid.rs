//! MiniGrid's `RoomGrid`: a grid of square rooms sharing walls, with doors between neighbours.
//! Unlock, KeyCorridor and the BabyAI levels place their things through it.

use crate::env::GenError;
use crate::rng::Rng;
use crate::rules::RoomLayout;
use crate::tasks::Builder;
use crate::tasks::builder::MAX_TRIES;
use crate::world::{Color, Dir, DoorState, Kind, Obj, Pos, World};
use alloc::vec;
use alloc::vec::Vec;

/// The kinds `add_object` and `add_distractors` draw from, in MiniGrid's order.
pub const OBJ_KINDS: [Kind; 3] = [Kind::Key, Kind::Ball, Kind::Box];

/// How often `place_agent` redraws a cell that faces an object before giving up.
const ROOM_TRIES: u32 = 1000;

/// A new key, ball or box (`add_object`'s kinds).
pub fn make_obj(kind: Kind, color: Color) -> Obj {
    match kind {
        Kind::Key => Obj::Key(color),
        Kind::Ball => Obj::Ball(color),
        Kind::Box => Obj::Box(color, None),
        k => panic!("{} is not an object a room can hold", k.name()),
    }
}

/// What joins a room to its neighbour through one wall (MiniGrid stores a `Door` or `True`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Passage {
    Door(Pos),
    /// The wall was removed.
    Opening,
}

/// One room. Wall order is MiniGrid's: 0 right, 1 down, 2 left, 3 up.
#[derive(Clone, Debug)]
pub struct Room {
    pub top: Pos,
    pub size: i32,
    pub doors: [Option<Passage>; 4],
    /// Where a door on each wall would go (drawn when the grid is made).
    pub door_pos: [Option<Pos>; 4],
    /// `(i, j)` of the room beyond each wall.
    pub neighbors: [Option<(i32, i32)>; 4],
    /// The last door added to this room was locked.
    pub locked: bool,
    /// Objects placed with `place_in_room`, for `add_distractors`' uniqueness.
    pub objs: Vec<Obj>,
}

impl Room {
    /// `pos_inside`: within the room, walls included.
    pub fn contains(&self, p: Pos) -> bool {
        p.x >= self.top.x
            && p.y >= self.top.y
            && p.x < self.top.x + self.size
            && p.y < self.top.y + self.size
    }
}

/// A room grid under construction over a [`Builder`].
pub struct RoomGrid<'r> {
    pub b: Builder<'r>,
    pub layout: RoomLayout,
    /// Row-major: room `(i, j)` is `rooms[j * cols + i]`.
    rooms: Vec<Room>,
}

impl<'r> RoomGrid<'r> {
    /// `RoomGrid._gen_grid`: walls of every room, a door position on every inner wall, and the
    /// agent in the middle room facing east (it is moved later, but objects placed before that
    /// avoid it).
    pub fn new(rng: &'r mut Rng, layout: RoomLayout, max_steps: u32) -> RoomGrid<'r> {
        let RoomLayout {
            room_size: rs,
            rows,
            cols,
        } = layout;
        assert!(
            rs >= 3 && rows > 0 && cols > 0,
            "bad room layout {layout:?}"
        );
        let step = rs - 1;
        let mut b = Builder::new(rng, step * cols + 1, step * rows + 1, max_steps);
        let mut rooms = Vec::with_capacity((rows * cols) as usize);
        for j in 0..rows {
            for i in 0..cols {
                let top = Pos::new(i * step, j * step);
                b.world.grid.wall_rect(top.x, top.y, rs, rs);
                rooms.push(Room {
                    top,
                    size: rs,
                    doors: [None; 4],
                    door_pos: [None; 4],
                    neighbors: [None; 4],
                    locked: false,
                    objs: Vec::new(),
                });
            }
        }
        let idx = |i: i32, j: i32| (j * cols + i) as usize;
        for j in 0..rows {
            for i in 0..cols {
                let top = rooms[idx(i, j)].top;
                let (lo_x, lo_y) = (top.x + 1, top.y + 1);
                let (hi_x, hi_y) = (top.x + rs - 1, top.y + rs - 1);
                if i < cols - 1 {
                    let y = b.rand_int(lo_y, hi_y);
                    let r = &mut rooms[idx(i, j)];
                    r.neighbors[0] = Some((i + 1, j));
                    r.door_pos[0] = Some(Pos::new(hi_x, y));
                }
                if j < rows - 1 {
                    let x = b.rand_int(lo_x, hi_x);
                    let r = &mut rooms[idx(i, j)];
                    r.neighbors[1] = Some((i, j + 1));
                    r.door_pos[1] = Some(Pos::new(x, hi_y));
                }
                if i > 0 {
                    let p = rooms[idx(i - 1, j)].door_pos[0];
                    let r = &mut rooms[idx(i, j)];
                    r.neighbors[2] = Some((i - 1, j));
                    r.door_pos[2] = p;
                }
                if j > 0 {
                    let p = rooms[idx(i, j - 1)].door_pos[1];
                    let r = &mut rooms[idx(i, j)];
                    r.neighbors[3] = Some((i, j - 1));
                    r.door_pos[3] = p;
                }
            }
        }
        b.world.agent_pos = Pos::new((cols / 2) * step + rs / 2, (rows / 2) * step + rs / 2);
        b.world.agent_dir = Dir::East;
        RoomGrid { b, layout, rooms }
    }

    pub fn rows(&self) -> i32 {
        self.layout.rows
    }

    pub fn cols(&self) -> i32 {
        self.layout.cols
    }

    pub fn world(&self) -> &World {
        &self.b.world
    }

    /// `get_room(i, j)`: column `i`, row `j`.
    pub fn room(&self, i: i32, j: i32) -> &Room {
        assert!(
            i >= 0 && j >= 0 && i < self.cols() && j < self.rows(),
            "no room ({i}, {j})"
        );
        &self.rooms[(j * self.cols() + i) as usize]
    }

    fn room_mut(&mut self, i: i32, j: i32) -> &mut Room {
        assert!(
            i >= 0 && j >= 0 && i < self.cols() && j < self.rows(),
            "no room ({i}, {j})"
        );
        let cols = self.cols();
        &mut self.rooms[(j * cols + i) as usize]
    }

    /// `room_from_pos`: the `(i, j)` of the room holding `p` (a shared wall belongs to the room
    /// right of or below it).
    pub fn room_from_pos(&self, p: Pos) -> (i32, i32) {
        let step = self.layout.room_size - 1;
        (
            (p.x / step).min(self.cols() - 1),
            (p.y / step).min(self.rows() - 1),
        )
    }

    /// `place_in_room`: put `obj` on a random empty cell of room `(i, j)`, not next to the agent.
    pub fn place_in_room(&mut self, i: i32, j: i32, obj: Obj) -> Result<Pos, GenError> {
        let (top, size) = {
            let r = self.room(i, j);
            (r.top, r.size)
        };
        let pos = self
            .b
            .place_obj_with(Some(obj), top, (size, size), |w, p| {
                p.manhattan(w.agent_pos) < 2
            })?;
        self.room_mut(i, j).objs.push(obj);
        Ok(pos)
    }

    /// `add_object`: a key, ball or box (random kind and colour when not given) in room `(i, j)`.
    pub fn add_object(
        &mut self,
        i: i32,
        j: i32,
        kind: Option<Kind>,
        color: Option<Color>,
    ) -> Result<(Obj, Pos), GenError> {
        let kind = match kind {
            Some(k) => k,
            None => self.b.rand_elem(&OBJ_KINDS),
        };
        let color = match color {
            Some(c) => c,
            None => self.b.rand_color(),
        };
        let obj = make_obj(kind, color);
        let pos = self.place_in_room(i, j, obj)?;
        Ok((obj, pos))
    }

    /// `add_door`: a door on wall `door_idx` of room `(i, j)` (a random wall with a neighbour and
    /// no door yet when not given; random colour and lock when not given).
    pub fn add_door(
        &mut self,
        i: i32,
        j: i32,
        door_idx: Option<usize>,
        color: Option<Color>,
        locked: Option<bool>,
    ) -> Result<(Obj, Pos), GenError> {
        let door_idx = match door_idx {
            Some(k) => k,
            None => self.rand_free_wall(i, j)?,
        };
        let color = match color {
            Some(c) => c,
            None => self.b.rand_color(),
        };
        let locked = match locked {
            Some(l) => l,
            None => self.b.rand_bool(),
        };
        let room = self.room_mut(i, j);
        assert!(room.doors[door_idx].is_none(), "door already exists");
        let (Some(pos), Some((ni, nj))) = (room.door_pos[door_idx], room.neighbors[door_idx])
        else {
            panic!("room ({i}, {j}) has no neighbour on wall {door_idx}");
        };
        room.locked = locked;
        room.doors[door_idx] = Some(Passage::Door(pos));
        self.room_mut(ni, nj).doors[(door_idx + 2) % 4] = Some(Passage::Door(pos));
        let state = if locked {
            DoorState::Locked
        } else {
            DoorState::Closed
        };
        let door = Obj::Door(color, state);
        self.b.put_obj(door, pos);
        Ok((door, pos))
    }

    fn rand_free_wall(&mut self, i: i32, j: i32) -> Result<usize, GenError> {
        for _ in 0..MAX_TRIES {
            let k = self.b.rand_int(0, 4) as usize;
            let r = self.room(i, j);
            if r.neighbors[k].is_some() && r.doors[k].is_none() {
                return Ok(k);
            }
        }
        Err(GenError("no free wall for a door"))
    }

    /// `remove_wall`: open the whole wall `wall_idx` of room `(i, j)` (corners stay).
    pub fn remove_wall(&mut self, i: i32, j: i32, wall_idx: usize) {
        let room = self.room(i, j);
        assert!(room.doors[wall_idx].is_none(), "door exists on this wall");
        let (ni, nj) = room.neighbors[wall_idx].expect("invalid wall");
        let (t, s) = (room.top, room.size);
        for k in 1..s - 1 {
            let p = match wall_idx {
                0 => Pos::new(t.x + s - 1, t.y + k),
                1 => Pos::new(t.x + k, t.y + s - 1),
                2 => Pos::new(t.x, t.y + k),
                _ => Pos::new(t.x + k, t.y),
            };
            self.b.set(p, None);
        }
        self.room_mut(i, j).doors[wall_idx] = Some(Passage::Opening);
        self.room_mut(ni, nj).doors[(wall_idx + 2) % 4] = Some(Passage::Opening);
    }

    /// `RoomGrid.place_agent`: the agent in room `(i, j)` (random when not given), on a cell
    /// that does not face an object (an empty cell or a wall ahead).
    pub fn place_agent(
        &mut self,
        i: Option<i32>,
        j: Option<i32>,
        rand_dir: bool,
    ) -> Result<Pos, GenError> {
        let i = match i {
            Some(i) => i,
            None => self.b.rand_int(0, self.cols()),
        };
        let j = match j {
            Some(j) => j,
            None => self.b.rand_int(0, self.rows()),
        };
        let (top, size) = {
            let r = self.room(i, j);
            (r.top, r.size)
        };
        for _ in 0..ROOM_TRIES {
            let pos = self.b.place_agent(top, (size, size), rand_dir)?;
            match self.b.world.front_cell() {
                None | Some(Obj::Wall(_)) => return Ok(pos),
                Some(_) => {}
            }
        }
        Err(GenError("no agent cell without an object ahead"))
    }

    /// `connect_all`: add unlocked doors (colours from `door_colors`) until every room is
    /// reachable from the agent's room; returns the new doors' positions.
    pub fn connect_all(
        &mut self,
        door_colors: &[Color],
        max_itrs: u32,
    ) -> Result<Vec<Pos>, GenError> {
        let start = self.room_from_pos(self.b.world.agent_pos);
        let mut added = Vec::new();
        for _ in 0..=max_itrs {
            if self.reachable_rooms(start) == self.rooms.len() {
                return Ok(added);
            }
            let i = self.b.rand_int(0, self.cols());
            let j = self.b.rand_int(0, self.rows());
            let k = self.b.rand_int(0, 4) as usize;
            let room = self.room(i, j);
            if room.door_pos[k].is_none() || room.doors[k].is_some() {
                continue;
            }
            let (ni, nj) = room.neighbors[k].expect("a door position has a neighbour");
            if room.locked || self.room(ni, nj).locked {
                continue;
            }
            let color = self.b.rand_elem(door_colors);
            let (_, pos) = self.add_door(i, j, Some(k), Some(color), Some(false))?;
            added.push(pos);
        }
        Err(GenError("connect_all failed"))
    }

    /// How many rooms can be reached from room `start` through doors and openings.
    fn reachable_rooms(&self, start: (i32, i32)) -> usize {
        let mut seen = vec![false; self.rooms.len()];
        let mut stack = vec![start];
        let mut n = 0;
        while let Some((i, j)) = stack.pop() {
            let k = (j * self.cols() + i) as usize;
            if seen[k] {
                continue;
            }
            seen[k] = true;
            n += 1;
            let r = &self.rooms[k];
            for w in 0..4 {
                if let (Some(_), Some(nb)) = (r.doors[w], r.neighbors[w]) {
                    stack.push(nb);
                }
            }
        }
        n
    }

    /// `add_distractors`: `n` random keys, balls and boxes in room `(i, j)` (random rooms when
    /// not given); with `all_unique`, no two objects of the grid share kind and colour.
    pub fn add_distractors(
        &mut self,
        i: Option<i32>,
        j: Option<i32>,
        n: usize,
        all_unique: bool,
    ) -> Result<Vec<(Obj, Pos)>, GenError> {
        let mut seen: Vec<(Kind, Color)> = self
            .rooms
            .iter()
            .flat_map(|r| r.objs.iter().map(|o| (o.kind(), o.color())))
            .collect();
        let mut dists = Vec::with_capacity(n);
        let mut draws = 0;
        while dists.len() < n {
            draws += 1;
            if draws > MAX_TRIES {
                return Err(GenError("add_distractors found no new object"));
            }
            let color = self.b.rand_color();
            let kind = self.b.rand_elem(&OBJ_KINDS);
            if all_unique && seen.contains(&(kind, color)) {
                continue;
            }
            let ri = match i {
                Some(i) => i,
                None => self.b.rand_int(0, self.cols()),
            };
            let rj = match j {
                Some(j) => j,
                None => self.b.rand_int(0, self.rows()),
            };
            let d = self.add_object(ri, rj, Some(kind), Some(color))?;
            seen.push((kind, color));
            dists.push(d);
        }
        Ok(dists)
    }

    /// BabyAI's `check_objs_reachable`: every object can be reached from the agent without
    /// moving another object (doors, even locked ones, let the search through).
    pub fn objs_reachable(&self) -> bool {
        let w = &self.b.world;
        let (width, height) = (w.width(), w.height());
        let mut seen = vec![false; (width * height) as usize];
        let mut stack = vec![w.agent_pos];
        while let Some(p) = stack.pop() {
            if !w.grid.contains(p) || seen[(p.y * width + p.x) as usize] {
                continue;
            }
            seen[(p.y * width + p.x) as usize] = true;
            if matches!(w.grid.get(p), Some(o) if o.kind() != Kind::Door) {
                continue;
            }
            stack.extend([
                p.offset(1, 0),
                p.offset(-1, 0),
                p.offset(0, 1),
                p.offset(0, -1),
            ]);
        }
        w.grid
            .objects()
            .all(|(p, o)| o.kind() == Kind::Wall || seen[(p.y * width + p.x) as usize])
    }

    pub fn finish(self) -> (World, RoomLayout) {
        (self.b.finish(), self.layout)
    }
}

/// The [`RoomLayout`] of a recorded world, checked against the size it must have.
pub fn layout_of(world: &World, layout: RoomLayout) -> Result<RoomLayout, alloc::string::String> {
    let step = layout.room_size - 1;
    let (w, h) = (step * layout.cols + 1, step * layout.rows + 1);
    if world.width() != w || world.height() != h {
        return Err(alloc::format!(
            "layout is {}x{}, but {} x {} rooms of size {} make a {w}x{h} grid",
            world.width(),
            world.height(),
            layout.cols,
            layout.rows,
            layout.room_size
        ));
    }
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L3: RoomLayout = RoomLayout {
        room_size: 6,
        rows: 3,
        cols: 3,
    };

    #[test]
    fn walls_doors_and_agent_follow_roomgrid() {
        let mut rng = Rng::new(3);
        let g = RoomGrid::new(&mut rng, L3, 100);
        assert_eq!((g.world().width(), g.world().height()), (16, 16));
        assert_eq!(g.world().agent_pos, Pos::new(8, 8));
        assert_eq!(g.world().agent_dir, Dir::East);
        // Shared walls are walls; interiors are empty.
        assert_eq!(g.world().grid.get(Pos::new(5, 3)), Some(Obj::WALL));
        assert_eq!(g.world().grid.get(Pos::new(3, 3)), None);
        // Door positions agree between neighbours and sit inside a wall, off the corners.
        for j in 0..3 {
            for i in 0..3 {
                let r = g.room(i, j);
                for k in 0..4 {
                    let (Some(p), Some((ni, nj))) = (r.door_pos[k], r.neighbors[k]) else {
                        assert!(r.door_pos[k].is_none() && r.neighbors[k].is_none());
                        continue;
                    };
                    assert_eq!(g.room(ni, nj).door_pos[(k + 2) % 4], Some(p));
                    assert_eq!(g.world().grid.get(p), Some(Obj::WALL));
                    assert!(r.contains(p) && g.room(ni, nj).contains(p));
                    assert!((p.x - r.top.x) % 5 != 0 || (p.y - r.top.y) % 5 != 0);
                }
            }
        }
        assert_eq!(g.room_from_pos(Pos::new(5, 11)), (1, 2));
        assert_eq!(g.room_from_pos(Pos::new(15, 15)), (2, 2));
    }

    #[test]
    fn connect_all_links_every_room_and_distractors_are_unique() {
        for seed in 0..50 {
            let mut rng = Rng::new(seed);
            let mut g = RoomGrid::new(&mut rng, L3, 100);
            g.add_door(1, 1, Some(0), None, Some(true)).unwrap();
            let doors = g.connect_all(&Color::ALL, 5000).unwrap();
            assert_eq!(g.reachable_rooms(g.room_from_pos(g.world().agent_pos)), 9);
            for p in doors {
                assert!(matches!(
                    g.world().grid.get(p),
                    Some(Obj::Door(_, DoorState::Closed))
                ));
            }
            let d = g.add_distractors(None, None, 12, true).unwrap();
            let mut kc: Vec<_> = d.iter().map(|(o, _)| (o.kind(), o.color())).collect();
            kc.sort();
            kc.dedup();
            assert_eq!(kc.len(), 12);
            for (o, p) in d {
                assert_eq!(g.world().grid.get(p), Some(o));
            }
            let a = g.place_agent(None, None, true).unwrap();
            assert_eq!(g.world().grid.get(a), None);
            assert!(matches!(g.world().front_cell(), None | Some(Obj::Wall(_))));
        }
    }

    #[test]
    fn remove_wall_opens_the_inside_of_a_wall() {
        let mut rng = Rng::new(0);
        let mut g = RoomGrid::new(&mut rng, L3, 100);
        g.remove_wall(1, 1, 3);
        for x in 6..10 {
            assert_eq!(g.world().grid.get(Pos::new(x, 5)), None);
        }
        assert_eq!(g.world().grid.get(Pos::new(5, 5)), Some(Obj::WALL));
        assert_eq!(g.world().grid.get(Pos::new(10, 5)), Some(Obj::WALL));
        assert_eq!(g.room(1, 0).doors[1], Some(Passage::Opening));
    }
}
