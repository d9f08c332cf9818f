//! MiniGrid DoorKey: a key on the left of a wall, a locked yellow door in it, the goal beyond.

use crate::env::{GenError, Setup};
use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::Rule;
use crate::tasks::Builder;
use crate::world::{Color, DoorState, Obj, Pos};

pub const MISSION: &str = "use the key to open the door and then get to the goal";

macro_rules! doorkey {
    ($id:literal, $alias:literal, $size:literal) => {
        EnvSpec {
            id: $id,
            aliases: &[$alias],
            family: "minigrid",
            summary: "pick up the key, unlock the door, reach the goal",
            generate: |rng| generate(rng, $size),
            rule_from_layout: |_, _| Ok((Rule::ReachGoal, None)),
        }
    };
}

pub const SPECS: &[EnvSpec] = &[
    doorkey!("MiniGrid-DoorKey-5x5-v0", "DoorKey-5x5", 5),
    doorkey!("MiniGrid-DoorKey-6x6-v0", "DoorKey-6x6", 6),
    doorkey!("MiniGrid-DoorKey-8x8-v0", "DoorKey-8x8", 8),
    doorkey!("MiniGrid-DoorKey-16x16-v0", "DoorKey-16x16", 16),
];

pub fn generate(rng: &mut Rng, size: i32) -> Result<Setup, GenError> {
    let mut b = Builder::new(rng, size, size, 10 * (size * size) as u32);
    b.world.grid.wall_rect(0, 0, size, size);
    b.put_obj(Obj::Goal, Pos::new(size - 2, size - 2));
    let split = b.rand_int(2, size - 2);
    b.world.grid.vert_wall(split, 0, size, Obj::WALL);
    b.place_agent(Pos::new(0, 0), (split, size), true)?;
    let door_y = b.rand_int(1, size - 2);
    b.put_obj(
        Obj::Door(Color::Yellow, DoorState::Locked),
        Pos::new(split, door_y),
    );
    b.place_obj(Obj::Key(Color::Yellow), Pos::new(0, 0), (split, size))?;
    Ok(Setup {
        world: b.finish(),
        rule: Rule::ReachGoal,
        mission: MISSION.into(),
        rooms: None,
    })
}
