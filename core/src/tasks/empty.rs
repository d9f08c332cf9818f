//! MiniGrid Empty: an empty walled room, the goal in the bottom-right corner; the agent starts in
//! the top-left corner facing east, or anywhere facing anywhere in the `Random` variants.

use crate::env::{GenError, Setup};
use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::{RoomLayout, Rule};
use crate::tasks::Builder;
use crate::world::{Dir, Obj, Pos, World};
use alloc::format;
use alloc::string::String;

pub const MISSION: &str = "get to the green goal square";

macro_rules! empty {
    ($id:literal, $alias:literal, $size:literal, $random_start:literal) => {
        EnvSpec {
            id: $id,
            aliases: &[$alias],
            family: "minigrid",
            summary: "reach the goal in an empty room",
            generate: |rng| generate(rng, $size, $random_start),
            rule_from_layout: |world, mission| reach_goal(world, mission, MISSION),
        }
    };
}

pub const SPECS: &[EnvSpec] = &[
    empty!("MiniGrid-Empty-5x5-v0", "Empty-5x5", 5, false),
    empty!("MiniGrid-Empty-Random-5x5-v0", "Empty-Random-5x5", 5, true),
    empty!("MiniGrid-Empty-6x6-v0", "Empty-6x6", 6, false),
    empty!("MiniGrid-Empty-Random-6x6-v0", "Empty-Random-6x6", 6, true),
    empty!("MiniGrid-Empty-8x8-v0", "Empty-8x8", 8, false),
    empty!("MiniGrid-Empty-16x16-v0", "Empty-16x16", 16, false),
];

/// `EmptyEnv(size, agent_start_pos=None if random_start else (1, 1))`.
pub fn generate(rng: &mut Rng, size: i32, random_start: bool) -> Result<Setup, GenError> {
    let mut b = Builder::new(rng, size, size, 4 * (size * size) as u32);
    b.world.see_through_walls = true;
    b.world.grid.wall_rect(0, 0, size, size);
    b.put_obj(Obj::Goal, Pos::new(size - 2, size - 2));
    if random_start {
        b.place_agent_anywhere()?;
    } else {
        b.world.agent_pos = Pos::new(1, 1);
        b.world.agent_dir = Dir::East;
    }
    Ok(Setup {
        world: b.finish(),
        rule: Rule::ReachGoal,
        mission: MISSION.into(),
        rooms: None,
    })
}

/// The rule of a task won only by reaching the goal, once the recorded layout is seen to be one
/// of that task's: its mission is `expected` and the grid holds a goal.
pub(crate) fn reach_goal(
    world: &World,
    mission: &str,
    expected: &str,
) -> Result<(Rule, Option<RoomLayout>), String> {
    if mission != expected {
        return Err(format!(
            "mission {mission:?} is not this task's ({expected:?})"
        ));
    }
    if !world.grid.objects().any(|(_, o)| o == Obj::Goal) {
        return Err(String::from("the layout has no goal square"));
    }
    Ok((Rule::ReachGoal, None))
}
