//! Layout generation helpers: MiniGrid's `place_obj`, `put_obj`, `place_agent` and `_rand_*`,
//! over core's own RNG.

use crate::env::GenError;
use crate::rng::Rng;
use crate::world::{Color, Dir, Obj, Pos, World};
use alloc::vec::Vec;

/// Rejection-sampling budget for one placement before the attempt is abandoned. MiniGrid tries
/// forever by default; a bounded loop lets a hopeless layout restart from a new stream.
pub const MAX_TRIES: u32 = 10_000;

/// A world under construction and the generator's RNG.
pub struct Builder<'r> {
    pub world: World,
    pub rng: &'r mut Rng,
}

impl<'r> Builder<'r> {
    pub fn new(rng: &'r mut Rng, width: i32, height: i32, max_steps: u32) -> Builder<'r> {
        Builder {
            world: World::new(width, height, max_steps),
            rng,
        }
    }

    pub fn width(&self) -> i32 {
        self.world.width()
    }

    pub fn height(&self) -> i32 {
        self.world.height()
    }

    pub fn get(&self, p: Pos) -> Option<Obj> {
        self.world.grid.get(p)
    }

    pub fn set(&mut self, p: Pos, o: Option<Obj>) {
        self.world.grid.set(p, o);
    }

    /// `_rand_int(low, high)`: uniform in `low..high`.
    pub fn rand_int(&mut self, low: i32, high: i32) -> i32 {
        self.rng.int(low, high)
    }

    pub fn rand_bool(&mut self) -> bool {
        self.rng.bool()
    }

    pub fn rand_elem<T: Copy>(&mut self, items: &[T]) -> T {
        *self.rng.choose(items)
    }

    pub fn rand_color(&mut self) -> Color {
        self.rand_elem(&Color::ALL)
    }

    pub fn rand_subset<T: Clone>(&mut self, items: &[T], k: usize) -> Vec<T> {
        self.rng.subset(items, k)
    }

    pub fn rand_dir(&mut self) -> Dir {
        Dir::ALL[self.rng.index(4)]
    }

    /// `put_obj`: place `o` at `p`.
    pub fn put_obj(&mut self, o: Obj, p: Pos) {
        self.world.grid.set(p, Some(o));
    }

    /// `place_obj`: a random empty cell in the rectangle `top`/`size` (clipped to the grid), not
    /// the agent's cell and not rejected by `reject`; puts `o` there (when given).
    pub fn place_obj_with(
        &mut self,
        o: Option<Obj>,
        top: Pos,
        size: (i32, i32),
        reject: impl Fn(&World, Pos) -> bool,
    ) -> Result<Pos, GenError> {
        let top = Pos::new(top.x.max(0), top.y.max(0));
        let hi_x = (top.x + size.0).min(self.width());
        let hi_y = (top.y + size.1).min(self.height());
        for _ in 0..MAX_TRIES {
            let p = Pos::new(self.rng.int(top.x, hi_x), self.rng.int(top.y, hi_y));
            if self.world.grid.get(p).is_some()
                || p == self.world.agent_pos
                || reject(&self.world, p)
            {
                continue;
            }
            if o.is_some() {
                self.world.grid.set(p, o);
            }
            return Ok(p);
        }
        Err(GenError("rejection sampling failed in place_obj"))
    }

    /// `place_obj` over the whole grid, or a rectangle.
    pub fn place_obj(&mut self, o: Obj, top: Pos, size: (i32, i32)) -> Result<Pos, GenError> {
        self.place_obj_with(Some(o), top, size, |_, _| false)
    }

    /// `place_obj` anywhere in the grid.
    pub fn place_anywhere(&mut self, o: Obj) -> Result<Pos, GenError> {
        let size = (self.width(), self.height());
        self.place_obj(o, Pos::new(0, 0), size)
    }

    /// `place_agent`: a random empty cell in the rectangle, and a random direction.
    pub fn place_agent(
        &mut self,
        top: Pos,
        size: (i32, i32),
        rand_dir: bool,
    ) -> Result<Pos, GenError> {
        self.world.agent_pos = Pos::new(-1, -1);
        let p = self.place_obj_with(None, top, size, |_, _| false)?;
        self.world.agent_pos = p;
        if rand_dir {
            self.world.agent_dir = self.rand_dir();
        }
        Ok(p)
    }

    /// `place_agent` anywhere in the grid.
    pub fn place_agent_anywhere(&mut self) -> Result<Pos, GenError> {
        let size = (self.width(), self.height());
        self.place_agent(Pos::new(0, 0), size, true)
    }

    pub fn finish(self) -> World {
        self.world
    }
}
