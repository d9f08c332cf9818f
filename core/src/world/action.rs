//! The seven MiniGrid actions and the four directions.

use super::grid::Pos;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Action {
    Left = 0,
    Right = 1,
    Forward = 2,
    Pickup = 3,
    Drop = 4,
    Toggle = 5,
    Done = 6,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::Left,
        Action::Right,
        Action::Forward,
        Action::Pickup,
        Action::Drop,
        Action::Toggle,
        Action::Done,
    ];
    pub const COUNT: usize = 7;

    pub fn from_index(i: u8) -> Option<Action> {
        Action::ALL.get(i as usize).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Left => "left",
            Action::Right => "right",
            Action::Forward => "forward",
            Action::Pickup => "pickup",
            Action::Drop => "drop",
            Action::Toggle => "toggle",
            Action::Done => "done",
        }
    }

    pub fn from_name(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// Agent direction: 0 east, 1 south, 2 west, 3 north (MiniGrid's `DIR_TO_VEC` order).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Dir {
    East = 0,
    South = 1,
    West = 2,
    North = 3,
}

impl Dir {
    pub const ALL: [Dir; 4] = [Dir::East, Dir::South, Dir::West, Dir::North];

    pub fn from_index(i: u8) -> Option<Dir> {
        Dir::ALL.get(i as usize).copied()
    }

    pub fn vec(self) -> (i32, i32) {
        match self {
            Dir::East => (1, 0),
            Dir::South => (0, 1),
            Dir::West => (-1, 0),
            Dir::North => (0, -1),
        }
    }

    /// The vector pointing to the agent's right: `(-dy, dx)`.
    pub fn right_vec(self) -> (i32, i32) {
        let (dx, dy) = self.vec();
        (-dy, dx)
    }

    pub fn left(self) -> Dir {
        Dir::ALL[(self as usize + 3) % 4]
    }

    pub fn right(self) -> Dir {
        Dir::ALL[(self as usize + 1) % 4]
    }

    pub fn step(self, p: Pos) -> Pos {
        let (dx, dy) = self.vec();
        p.offset(dx, dy)
    }
}
