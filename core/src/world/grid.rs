//! The grid: a width x height array of cells, `None` for an empty cell (MiniGrid's `Grid`).

use super::object::Obj;
use alloc::vec;
use alloc::vec::Vec;

/// A grid position. Signed so that positions in front of an agent can be computed freely.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pos {
    pub x: i32,
    pub y: i32,
}

impl Pos {
    pub const fn new(x: i32, y: i32) -> Pos {
        Pos { x, y }
    }

    pub fn offset(self, dx: i32, dy: i32) -> Pos {
        Pos::new(self.x + dx, self.y + dy)
    }

    pub fn manhattan(self, o: Pos) -> i32 {
        (self.x - o.x).abs() + (self.y - o.y).abs()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Grid {
    width: i32,
    height: i32,
    cells: Vec<Option<Obj>>,
    /// `cells` packed by [`pack`]: what the egocentric view reads, kept in step by `set`.
    codes: Vec<u32>,
}

/// A cell's MiniGrid encoding in the low three bytes and "cannot see behind" in the fourth.
#[inline]
pub fn pack(o: Option<Obj>) -> u32 {
    match o {
        None => super::object::EMPTY_CODE[0] as u32,
        Some(o) => {
            let [k, c, s] = o.encode();
            k as u32 | (c as u32) << 8 | (s as u32) << 16 | (!o.see_behind() as u32) << 24
        }
    }
}

/// [`pack`] of a grey wall, what lies outside the grid.
pub const WALL_PACKED: u32 = 2 | 5 << 8 | 1 << 24;

impl Grid {
    pub fn new(width: i32, height: i32) -> Grid {
        assert!(width >= 1 && height >= 1, "grid must be at least 1x1");
        Grid {
            width,
            height,
            cells: vec![None; (width * height) as usize],
            codes: vec![pack(None); (width * height) as usize],
        }
    }

    pub fn width(&self) -> i32 {
        self.width
    }

    pub fn height(&self) -> i32 {
        self.height
    }

    pub fn contains(&self, p: Pos) -> bool {
        p.x >= 0 && p.y >= 0 && p.x < self.width && p.y < self.height
    }

    /// The cell at `p`; outside the grid reads as a wall (as in MiniGrid's `slice`).
    #[inline]
    pub fn get(&self, p: Pos) -> Option<Obj> {
        if self.contains(p) {
            self.cells[(p.y * self.width + p.x) as usize]
        } else {
            Some(Obj::WALL)
        }
    }

    /// The packed cell at `p` ([`pack`]); outside the grid, a wall.
    #[inline]
    pub fn packed(&self, p: Pos) -> u32 {
        if self.contains(p) {
            self.codes[(p.y * self.width + p.x) as usize]
        } else {
            WALL_PACKED
        }
    }

    /// Set a cell. Panics outside the grid: that is a bug in a task, never user input.
    #[inline]
    pub fn set(&mut self, p: Pos, v: Option<Obj>) {
        assert!(self.contains(p), "Grid::set outside the grid at {p:?}");
        let i = (p.y * self.width + p.x) as usize;
        self.cells[i] = v;
        self.codes[i] = pack(v);
    }

    pub fn horz_wall(&mut self, x: i32, y: i32, length: i32, obj: Obj) {
        for i in 0..length {
            self.set(Pos::new(x + i, y), Some(obj));
        }
    }

    pub fn vert_wall(&mut self, x: i32, y: i32, length: i32, obj: Obj) {
        for j in 0..length {
            self.set(Pos::new(x, y + j), Some(obj));
        }
    }

    /// Walls around the rectangle with top-left `(x, y)` and size `w` x `h`.
    pub fn wall_rect(&mut self, x: i32, y: i32, w: i32, h: i32) {
        self.horz_wall(x, y, w, Obj::WALL);
        self.horz_wall(x, y + h - 1, w, Obj::WALL);
        self.vert_wall(x, y, h, Obj::WALL);
        self.vert_wall(x + w - 1, y, h, Obj::WALL);
    }

    /// Every position, row by row.
    pub fn positions(&self) -> impl Iterator<Item = Pos> + '_ {
        (0..self.height).flat_map(move |y| (0..self.width).map(move |x| Pos::new(x, y)))
    }

    /// Every non-empty cell with its position, row by row.
    pub fn objects(&self) -> impl Iterator<Item = (Pos, Obj)> + '_ {
        self.positions().filter_map(|p| self.get(p).map(|o| (p, o)))
    }

    /// MiniGrid's `Grid.encode()` of the whole grid without a visibility mask, as `[y][x]`
    /// rows of `[object, colour, state]`.
    pub fn encode(&self) -> Vec<[u8; 3]> {
        self.cells
            .iter()
            .map(|c| c.map_or(super::object::EMPTY_CODE, Obj::encode))
            .collect()
    }
}

impl Grid {
    /// A grid from MiniGrid encodings, row by row (`codes[y * width + x]`). Box contents are
    /// not part of the encoding; set them afterwards.
    pub fn decode(
        width: i32,
        height: i32,
        codes: &[[u8; 3]],
    ) -> Result<Grid, super::object::DecodeError> {
        assert_eq!(codes.len(), (width * height) as usize, "one code per cell");
        let mut g = Grid::new(width, height);
        for (i, c) in codes.iter().enumerate() {
            g.cells[i] = Obj::decode(*c)?;
            g.codes[i] = pack(g.cells[i]);
        }
        Ok(g)
    }
}
