//! MiniGrid RedBlueDoors: a room with a red door in its west wall and a blue door in its east
//! wall; opening the red door and then the blue one wins, the blue one first loses.

use crate::env::{GenError, Setup};
use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::{RoomLayout, Rule};
use crate::tasks::Builder;
use crate::world::{Color, DoorState, Obj, Pos, World};
use alloc::format;
use alloc::string::String;

pub const MISSION: &str = "open the red door then the blue door";

macro_rules! redbluedoors {
    ($id:literal, $alias:literal, $size:literal) => {
        EnvSpec {
            id: $id,
            aliases: &[$alias],
            family: "minigrid",
            summary: "open the red door, then the blue door",
            generate: |rng| generate(rng, $size),
            rule_from_layout,
        }
    };
}

pub const SPECS: &[EnvSpec] = &[
    redbluedoors!("MiniGrid-RedBlueDoors-6x6-v0", "RedBlueDoors-6x6", 6),
    redbluedoors!("MiniGrid-RedBlueDoors-8x8-v0", "RedBlueDoors-8x8", 8),
];

/// `RedBlueDoorEnv(size)`: a `2 size` x `size` map, the `size` x `size` room in its middle.
pub fn generate(rng: &mut Rng, size: i32) -> Result<Setup, GenError> {
    let mut b = Builder::new(rng, 2 * size, size, 20 * (size * size) as u32);
    b.world.grid.wall_rect(0, 0, 2 * size, size);
    let left = size / 2;
    b.world.grid.wall_rect(left, 0, size, size);
    b.place_agent(Pos::new(left, 0), (size, size), true)?;
    let red = Pos::new(left, b.rand_int(1, size - 1));
    b.put_obj(Obj::Door(Color::Red, DoorState::Closed), red);
    let blue = Pos::new(left + size - 1, b.rand_int(1, size - 1));
    b.put_obj(Obj::Door(Color::Blue, DoorState::Closed), blue);
    Ok(Setup {
        world: b.finish(),
        rule: rule(red, blue),
        mission: MISSION.into(),
        rooms: None,
    })
}

fn rule(red: Pos, blue: Pos) -> Rule {
    // Whether the doors start open is read by `Rule::reset`.
    Rule::RedBlueDoors {
        red,
        blue,
        red_open: false,
        blue_open: false,
    }
}

/// The rule follows the layout's one red door and one blue door.
pub fn rule_from_layout(
    world: &World,
    mission: &str,
) -> Result<(Rule, Option<RoomLayout>), String> {
    if mission != MISSION {
        return Err(format!(
            "mission {mission:?} is not this task's ({MISSION:?})"
        ));
    }
    let the_door = |color: Color| -> Result<Pos, String> {
        let mut doors = world
            .grid
            .objects()
            .filter(|&(_, o)| matches!(o, Obj::Door(c, _) if c == color))
            .map(|(p, _)| p);
        match (doors.next(), doors.next()) {
            (Some(p), None) => Ok(p),
            (None, _) => Err(format!("the layout has no {color} door")),
            (Some(_), Some(_)) => Err(format!("the layout has more than one {color} door")),
        }
    };
    Ok((rule(the_door(Color::Red)?, the_door(Color::Blue)?), None))
}
