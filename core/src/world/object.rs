//! World objects and MiniGrid's index tables (object, colour, door state): the one place where
//! those numbers live.

use core::fmt;

/// MiniGrid's `OBJECT_TO_IDX`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    Unseen = 0,
    Empty = 1,
    Wall = 2,
    Floor = 3,
    Door = 4,
    Key = 5,
    Ball = 6,
    Box = 7,
    Goal = 8,
    Lava = 9,
    Agent = 10,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Unseen,
        Kind::Empty,
        Kind::Wall,
        Kind::Floor,
        Kind::Door,
        Kind::Key,
        Kind::Ball,
        Kind::Box,
        Kind::Goal,
        Kind::Lava,
        Kind::Agent,
    ];

    pub fn from_index(i: u8) -> Option<Kind> {
        Kind::ALL.get(i as usize).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Unseen => "unseen",
            Kind::Empty => "empty",
            Kind::Wall => "wall",
            Kind::Floor => "floor",
            Kind::Door => "door",
            Kind::Key => "key",
            Kind::Ball => "ball",
            Kind::Box => "box",
            Kind::Goal => "goal",
            Kind::Lava => "lava",
            Kind::Agent => "agent",
        }
    }

    pub fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// MiniGrid's `COLOR_TO_IDX`, in `COLOR_NAMES` order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Color {
    Red = 0,
    Green = 1,
    Blue = 2,
    Purple = 3,
    Yellow = 4,
    Grey = 5,
}

impl Color {
    /// `COLOR_NAMES`: the order MiniGrid samples colours in.
    pub const ALL: [Color; 6] = [
        Color::Red,
        Color::Green,
        Color::Blue,
        Color::Purple,
        Color::Yellow,
        Color::Grey,
    ];

    pub fn from_index(i: u8) -> Option<Color> {
        Color::ALL.get(i as usize).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            Color::Red => "red",
            Color::Green => "green",
            Color::Blue => "blue",
            Color::Purple => "purple",
            Color::Yellow => "yellow",
            Color::Grey => "grey",
        }
    }

    pub fn from_name(s: &str) -> Option<Color> {
        Color::ALL.into_iter().find(|c| c.name() == s)
    }

    /// MiniGrid's render colour (`COLORS`).
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Color::Red => [255, 0, 0],
            Color::Green => [0, 255, 0],
            Color::Blue => [0, 0, 255],
            Color::Purple => [112, 39, 195],
            Color::Yellow => [255, 255, 0],
            Color::Grey => [100, 100, 100],
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// MiniGrid's door state index: open 0, closed 1, locked 2.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DoorState {
    Open = 0,
    Closed = 1,
    Locked = 2,
}

impl DoorState {
    pub fn from_index(i: u8) -> Option<DoorState> {
        match i {
            0 => Some(DoorState::Open),
            1 => Some(DoorState::Closed),
            2 => Some(DoorState::Locked),
            _ => None,
        }
    }
}

/// What a box can hold. MiniGrid allows any object; every task puts a key or a ball in a box,
/// and a box inside a box keeps no contents of its own.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    Key(Color),
    Ball(Color),
    Box(Color),
}

impl Item {
    pub fn to_obj(self) -> Obj {
        match self {
            Item::Key(c) => Obj::Key(c),
            Item::Ball(c) => Obj::Ball(c),
            Item::Box(c) => Obj::Box(c, None),
        }
    }

    pub fn from_obj(o: Obj) -> Option<Item> {
        match o {
            Obj::Key(c) => Some(Item::Key(c)),
            Obj::Ball(c) => Some(Item::Ball(c)),
            Obj::Box(c, _) => Some(Item::Box(c)),
            _ => None,
        }
    }
}

/// A world object. An empty cell is `None` in the grid, as in MiniGrid.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Obj {
    Wall(Color),
    Floor(Color),
    Door(Color, DoorState),
    Key(Color),
    Ball(Color),
    Box(Color, Option<Item>),
    Goal,
    Lava,
}

impl Obj {
    /// MiniGrid's default wall.
    pub const WALL: Obj = Obj::Wall(Color::Grey);

    pub fn kind(self) -> Kind {
        match self {
            Obj::Wall(_) => Kind::Wall,
            Obj::Floor(_) => Kind::Floor,
            Obj::Door(..) => Kind::Door,
            Obj::Key(_) => Kind::Key,
            Obj::Ball(_) => Kind::Ball,
            Obj::Box(..) => Kind::Box,
            Obj::Goal => Kind::Goal,
            Obj::Lava => Kind::Lava,
        }
    }

    pub fn color(self) -> Color {
        match self {
            Obj::Wall(c) | Obj::Floor(c) | Obj::Door(c, _) | Obj::Key(c) | Obj::Ball(c) => c,
            Obj::Box(c, _) => c,
            Obj::Goal => Color::Green,
            Obj::Lava => Color::Red,
        }
    }

    /// Can the agent stand on this cell?
    pub fn can_overlap(self) -> bool {
        matches!(
            self,
            Obj::Floor(_) | Obj::Goal | Obj::Lava | Obj::Door(_, DoorState::Open)
        )
    }

    pub fn can_pickup(self) -> bool {
        matches!(self, Obj::Key(_) | Obj::Ball(_) | Obj::Box(..))
    }

    pub fn see_behind(self) -> bool {
        !matches!(
            self,
            Obj::Wall(_) | Obj::Door(_, DoorState::Closed | DoorState::Locked)
        )
    }

    /// `WorldObj.encode()`: `[object, colour, state]`.
    pub fn encode(self) -> [u8; 3] {
        let state = match self {
            Obj::Door(_, s) => s as u8,
            _ => 0,
        };
        [self.kind() as u8, self.color() as u8, state]
    }

    /// `WorldObj.decode()`; `Ok(None)` for empty / unseen / agent, `Err` for unknown indices.
    pub fn decode(code: [u8; 3]) -> Result<Option<Obj>, DecodeError> {
        let kind = Kind::from_index(code[0]).ok_or(DecodeError::Object(code[0]))?;
        let color = Color::from_index(code[1]).ok_or(DecodeError::Color(code[1]))?;
        Ok(Some(match kind {
            Kind::Empty | Kind::Unseen | Kind::Agent => return Ok(None),
            Kind::Wall => Obj::Wall(color),
            Kind::Floor => Obj::Floor(color),
            Kind::Door => Obj::Door(
                color,
                DoorState::from_index(code[2]).ok_or(DecodeError::DoorState(code[2]))?,
            ),
            Kind::Key => Obj::Key(color),
            Kind::Ball => Obj::Ball(color),
            Kind::Box => Obj::Box(color, None),
            Kind::Goal => Obj::Goal,
            Kind::Lava => Obj::Lava,
        }))
    }

    /// "red key", "locked blue door", "goal".
    pub fn describe(self) -> alloc::string::String {
        use alloc::format;
        match self {
            Obj::Goal | Obj::Lava => alloc::string::String::from(self.kind().name()),
            Obj::Door(c, DoorState::Locked) => format!("locked {c} door"),
            Obj::Door(c, DoorState::Open) => format!("open {c} door"),
            o => format!("{} {}", o.color(), o.kind().name()),
        }
    }
}

/// An encoding that is not in MiniGrid's tables.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    Object(u8),
    Color(u8),
    DoorState(u8),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Object(i) => write!(f, "unknown object index {i} (valid: 0..=10)"),
            DecodeError::Color(i) => write!(f, "unknown colour index {i} (valid: 0..=5)"),
            DecodeError::DoorState(i) => write!(f, "unknown door state {i} (valid: 0..=2)"),
        }
    }
}

/// Encoding of an empty, visible cell.
pub const EMPTY_CODE: [u8; 3] = [Kind::Empty as u8, 0, 0];
/// Encoding of a cell outside the agent's sight.
pub const UNSEEN_CODE: [u8; 3] = [0, 0, 0];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_roundtrip_for_every_encodable_object() {
        for k in [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] {
            for c in 0..6u8 {
                for s in 0..3u8 {
                    let code = [k, c, if k == 4 { s } else { 0 }];
                    match Obj::decode(code).unwrap() {
                        None => assert!(matches!(k, 0 | 1 | 10)),
                        Some(o @ (Obj::Goal | Obj::Lava)) => assert_eq!(o.kind() as u8, k),
                        Some(o) => assert_eq!(o.encode(), code),
                    }
                }
            }
        }
        assert_eq!(Obj::decode([11, 0, 0]), Err(DecodeError::Object(11)));
        assert_eq!(Obj::decode([5, 6, 0]), Err(DecodeError::Color(6)));
        assert_eq!(Obj::decode([4, 0, 3]), Err(DecodeError::DoorState(3)));
    }

    #[test]
    fn properties_follow_minigrid() {
        assert!(Obj::Door(Color::Red, DoorState::Open).can_overlap());
        assert!(!Obj::Door(Color::Red, DoorState::Closed).can_overlap());
        assert!(!Obj::Door(Color::Red, DoorState::Closed).see_behind());
        assert!(Obj::Door(Color::Red, DoorState::Open).see_behind());
        assert!(!Obj::WALL.see_behind());
        assert!(Obj::Box(Color::Red, None).see_behind());
        assert!(Obj::Lava.can_overlap() && Obj::Goal.can_overlap());
        assert!(!Obj::Key(Color::Red).can_overlap());
        assert_eq!(Obj::Goal.encode(), [8, 1, 0]);
        assert_eq!(Obj::Lava.encode(), [9, 0, 0]);
    }
}
