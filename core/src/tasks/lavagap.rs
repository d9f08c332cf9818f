//! MiniGrid LavaGap: a vertical strip of lava with one gap between the agent (top-left corner)
//! and the goal (bottom-right corner).

use crate::env::{GenError, Setup};
use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::Rule;
use crate::tasks::Builder;
use crate::tasks::empty::reach_goal;
use crate::world::{Dir, Obj, Pos};

pub const MISSION: &str = "avoid the lava and get to the green goal square";

macro_rules! lavagap {
    ($id:literal, $alias:literal, $size:literal) => {
        EnvSpec {
            id: $id,
            aliases: &[$alias],
            family: "minigrid",
            summary: "cross a strip of lava through its one gap to the goal",
            generate: |rng| generate(rng, $size),
            rule_from_layout: |world, mission| reach_goal(world, mission, MISSION),
        }
    };
}

pub const SPECS: &[EnvSpec] = &[
    lavagap!("MiniGrid-LavaGapS5-v0", "LavaGapS5", 5),
    lavagap!("MiniGrid-LavaGapS6-v0", "LavaGapS6", 6),
    lavagap!("MiniGrid-LavaGapS7-v0", "LavaGapS7", 7),
];

/// `LavaGapEnv(size)` with lava as the obstacle.
pub fn generate(rng: &mut Rng, size: i32) -> Result<Setup, GenError> {
    let mut b = Builder::new(rng, size, size, 4 * (size * size) as u32);
    b.world.grid.wall_rect(0, 0, size, size);
    b.world.agent_pos = Pos::new(1, 1);
    b.world.agent_dir = Dir::East;
    b.put_obj(Obj::Goal, Pos::new(size - 2, size - 2));
    // The strip never touches the agent's or the goal's column.
    let gap_x = b.rand_int(2, size - 2);
    let gap_y = b.rand_int(1, size - 1);
    b.world.grid.vert_wall(gap_x, 1, size - 2, Obj::Lava);
    b.set(Pos::new(gap_x, gap_y), None);
    Ok(Setup {
        world: b.finish(),
        rule: Rule::ReachGoal,
        mission: MISSION.into(),
        rooms: None,
    })
}
