//! MiniGrid GoToDoor: a room of random size with a door of a distinct colour on each wall; the
//! agent must say `done` beside the door the mission names.

use crate::env::{GenError, Setup};
use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::{RoomLayout, Rule};
use crate::tasks::Builder;
use crate::tasks::builder::MAX_TRIES;
use crate::world::{Color, DoorState, Obj, Pos, World};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

macro_rules! gotodoor {
    ($id:literal, $alias:literal, $size:literal) => {
        EnvSpec {
            id: $id,
            aliases: &[$alias],
            family: "minigrid",
            summary: "stand next to the door of the named colour and say done",
            generate: |rng| generate(rng, $size),
            rule_from_layout,
        }
    };
}

pub const SPECS: &[EnvSpec] = &[
    gotodoor!("MiniGrid-GoToDoor-5x5-v0", "GoToDoor-5x5", 5),
    gotodoor!("MiniGrid-GoToDoor-6x6-v0", "GoToDoor-6x6", 6),
    gotodoor!("MiniGrid-GoToDoor-8x8-v0", "GoToDoor-8x8", 8),
];

pub fn mission(color: Color) -> String {
    format!("go to the {color} door")
}

/// `GoToDoorEnv(size)`.
pub fn generate(rng: &mut Rng, size: i32) -> Result<Setup, GenError> {
    let mut b = Builder::new(rng, size, size, 4 * (size * size) as u32);
    b.world.see_through_walls = true;
    // The room is drawn inside the `size` x `size` map, at least 5x5.
    let width = b.rand_int(5, size + 1);
    let height = b.rand_int(5, size + 1);
    b.world.grid.wall_rect(0, 0, width, height);
    // North, south, west, east, never beside a corner.
    let doors = [
        Pos::new(b.rand_int(2, width - 2), 0),
        Pos::new(b.rand_int(2, width - 2), height - 1),
        Pos::new(0, b.rand_int(2, height - 2)),
        Pos::new(width - 1, b.rand_int(2, height - 2)),
    ];
    let mut colors: Vec<Color> = Vec::with_capacity(doors.len());
    for _ in 0..MAX_TRIES {
        if colors.len() == doors.len() {
            break;
        }
        let c = b.rand_color();
        if !colors.contains(&c) {
            colors.push(c);
        }
    }
    if colors.len() < doors.len() {
        return Err(GenError(
            "GoToDoor: could not draw four distinct door colours",
        ));
    }
    for (&p, &c) in doors.iter().zip(&colors) {
        b.put_obj(Obj::Door(c, DoorState::Closed), p);
    }
    b.place_agent(Pos::new(0, 0), (width, height), true)?;
    let target = b.rand_int(0, doors.len() as i32) as usize;
    Ok(Setup {
        world: b.finish(),
        rule: Rule::GoToDoor {
            target: doors[target],
        },
        mission: mission(colors[target]),
        rooms: None,
    })
}

/// The target is the one door of the colour in "go to the {colour} door".
pub fn rule_from_layout(
    world: &World,
    mission: &str,
) -> Result<(Rule, Option<RoomLayout>), String> {
    let color = mission
        .strip_prefix("go to the ")
        .and_then(|s| s.strip_suffix(" door"))
        .and_then(Color::from_name)
        .ok_or_else(|| format!("mission {mission:?} is not \"go to the <colour> door\""))?;
    let mut doors = world
        .grid
        .objects()
        .filter(|&(_, o)| matches!(o, Obj::Door(c, _) if c == color))
        .map(|(p, _)| p);
    match (doors.next(), doors.next()) {
        (Some(target), None) => Ok((Rule::GoToDoor { target }, None)),
        (None, _) => Err(format!("the layout has no {color} door")),
        (Some(_), Some(_)) => Err(format!("the layout has more than one {color} door")),
    }
}
