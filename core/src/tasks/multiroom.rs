//! MiniGrid MultiRoom: a chain of rooms of random sizes joined by closed doors of random colours;
//! the agent starts in the first room, the goal is in the last.

use crate::env::{GenError, Setup};
use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::Rule;
use crate::tasks::Builder;
use crate::tasks::builder::MAX_TRIES;
use crate::tasks::empty::reach_goal;
use crate::world::{Color, DoorState, Obj, Pos};
use alloc::vec::Vec;

pub const MISSION: &str = "traverse the rooms to get to the goal";
/// `MultiRoomEnv`'s default map size.
pub const SIZE: i32 = 25;

macro_rules! multiroom {
    ($id:literal, $alias:literal, $rooms:literal, $max_room_size:literal, $summary:literal) => {
        EnvSpec {
            id: $id,
            aliases: &[$alias],
            family: "minigrid",
            summary: $summary,
            generate: |rng| generate(rng, $rooms, $rooms, $max_room_size),
            rule_from_layout: |world, mission| reach_goal(world, mission, MISSION),
        }
    };
}

pub const SPECS: &[EnvSpec] = &[
    multiroom!(
        "MiniGrid-MultiRoom-N2-S4-v0",
        "MultiRoom-N2-S4",
        2,
        4,
        "open the door between two small rooms to reach the goal"
    ),
    // MiniGrid keeps this id configured for six rooms (its `-v1` has the four).
    multiroom!(
        "MiniGrid-MultiRoom-N4-S5-v0",
        "MultiRoom-N4-S5",
        6,
        5,
        "go through six rooms of size up to 5 to the goal (MiniGrid's legacy N4-S5)"
    ),
    multiroom!(
        "MiniGrid-MultiRoom-N4-S5-v1",
        "MultiRoom-N4-S5-v1",
        4,
        5,
        "go through four rooms of size up to 5 to the goal"
    ),
    multiroom!(
        "MiniGrid-MultiRoom-N6-v0",
        "MultiRoom-N6",
        6,
        10,
        "go through six rooms to the goal"
    ),
];

/// A room of the chain: its walls' top-left corner and size, and the door it is entered by.
#[derive(Copy, Clone, Debug)]
struct Room {
    top: Pos,
    size: (i32, i32),
    entry_door: Pos,
}

/// MiniGrid's wall indices for a room: 0 east, 1 south, 2 west, 3 north.
type Wall = u8;
const WEST: Wall = 2;

/// `COLOR_NAMES` sorted by name, the order MultiRoom draws door colours from.
const COLORS_BY_NAME: [Color; 6] = [
    Color::Blue,
    Color::Green,
    Color::Grey,
    Color::Purple,
    Color::Red,
    Color::Yellow,
];

/// `MultiRoomEnv(minNumRooms, maxNumRooms, maxRoomSize)` on the default 25x25 map.
pub fn generate(
    rng: &mut Rng,
    min_rooms: i32,
    max_rooms: i32,
    max_room_size: i32,
) -> Result<Setup, GenError> {
    let (width, height) = (SIZE, SIZE);
    let mut b = Builder::new(rng, width, height, max_rooms as u32 * 20);
    let num_rooms = b.rand_int(min_rooms, max_rooms + 1) as usize;

    // Grow chains from random starting points until one is long enough; keep the longest.
    // MiniGrid retries forever; the bound lets a hopeless stream give way to the next one.
    let mut rooms: Vec<Room> = Vec::new();
    let mut attempts = 0;
    while rooms.len() < num_rooms {
        if attempts == MAX_TRIES {
            return Err(GenError("MultiRoom: no chain of rooms long enough"));
        }
        attempts += 1;
        let mut chain = Vec::with_capacity(num_rooms);
        // MiniGrid draws both coordinates below `width - 2`.
        let entry = Pos::new(b.rand_int(0, width - 2), b.rand_int(0, width - 2));
        place_room(&mut b, num_rooms, &mut chain, 4, max_room_size, WEST, entry);
        if chain.len() > rooms.len() {
            rooms = chain;
        }
    }

    let mut prev_color = None;
    for (idx, room) in rooms.iter().enumerate() {
        let Room { top, size, .. } = *room;
        let grid = &mut b.world.grid;
        grid.horz_wall(top.x, top.y, size.0, Obj::WALL);
        grid.horz_wall(top.x, top.y + size.1 - 1, size.0, Obj::WALL);
        grid.vert_wall(top.x, top.y, size.1, Obj::WALL);
        grid.vert_wall(top.x + size.0 - 1, top.y, size.1, Obj::WALL);
        if idx > 0 {
            // Two doors in a row never share a colour.
            let colors: Vec<Color> = COLORS_BY_NAME
                .into_iter()
                .filter(|&c| Some(c) != prev_color)
                .collect();
            let color = b.rand_elem(&colors);
            b.put_obj(Obj::Door(color, DoorState::Closed), room.entry_door);
            prev_color = Some(color);
        }
    }
    let (first, last) = (rooms[0], rooms[rooms.len() - 1]);
    b.place_agent(first.top, first.size, true)?;
    b.place_obj(Obj::Goal, last.top, last.size)?;
    Ok(Setup {
        world: b.finish(),
        rule: Rule::ReachGoal,
        mission: MISSION.into(),
        rooms: None,
    })
}

/// MiniGrid's `_placeRoom`: try to add a room entered through `entry` on its `entry_wall`,
/// then up to 8 times to continue the chain from a random door on another wall. `false` when
/// this room does not fit (outside the map, or overlapping a room other than the previous
/// one); `true` once it is placed, however far the chain behind it got. A room that does not
/// fit returns before recursing, so one call makes at most 8 * `num_left` calls in all.
fn place_room(
    b: &mut Builder<'_>,
    num_left: usize,
    rooms: &mut Vec<Room>,
    min_size: i32,
    max_size: i32,
    entry_wall: Wall,
    entry: Pos,
) -> bool {
    let size_x = b.rand_int(min_size, max_size + 1);
    let size_y = b.rand_int(min_size, max_size + 1);
    // The door sits on the entry wall, never at its corners.
    let (top_x, top_y) = if rooms.is_empty() {
        (entry.x, entry.y)
    } else {
        match entry_wall {
            0 => (
                entry.x - size_x + 1,
                b.rand_int(entry.y - size_y + 2, entry.y),
            ),
            1 => (
                b.rand_int(entry.x - size_x + 2, entry.x),
                entry.y - size_y + 1,
            ),
            2 => (entry.x, b.rand_int(entry.y - size_y + 2, entry.y)),
            _ => (b.rand_int(entry.x - size_x + 2, entry.x), entry.y),
        }
    };
    if top_x < 0 || top_y < 0 {
        return false;
    }
    // MiniGrid's bounds are `>` in x but `>=` in y: the bottom row of the map stays empty.
    if top_x + size_x > b.width() || top_y + size_y >= b.height() {
        return false;
    }
    // Rooms may touch but not overlap; the previous room shares the wall holding the door.
    let others = &rooms[..rooms.len().saturating_sub(1)];
    let overlaps = others.iter().any(|r| {
        !(top_x + size_x < r.top.x
            || r.top.x + r.size.0 <= top_x
            || top_y + size_y < r.top.y
            || r.top.y + r.size.1 <= top_y)
    });
    if overlaps {
        return false;
    }
    rooms.push(Room {
        top: Pos::new(top_x, top_y),
        size: (size_x, size_y),
        entry_door: entry,
    });
    if num_left == 1 {
        return true;
    }
    for _ in 0..8 {
        let walls: Vec<Wall> = (0..4).filter(|&w| w != entry_wall).collect();
        let exit_wall = b.rand_elem(&walls);
        let exit = match exit_wall {
            0 => Pos::new(top_x + size_x - 1, top_y + b.rand_int(1, size_y - 1)),
            1 => Pos::new(top_x + b.rand_int(1, size_x - 1), top_y + size_y - 1),
            2 => Pos::new(top_x, top_y + b.rand_int(1, size_y - 1)),
            _ => Pos::new(top_x + b.rand_int(1, size_x - 1), top_y),
        };
        let next_entry_wall = (exit_wall + 2) % 4;
        if place_room(
            b,
            num_left - 1,
            rooms,
            min_size,
            max_size,
            next_entry_wall,
            exit,
        ) {
            break;
        }
    }
    true
}
