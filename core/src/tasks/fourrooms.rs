//! MiniGrid FourRooms: four rooms joined by one gap in each inner wall; the agent and the goal
//! anywhere.

use crate::env::{GenError, Setup};
use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::Rule;
use crate::tasks::Builder;
use crate::tasks::empty::reach_goal;
use crate::world::{Obj, Pos};

pub const MISSION: &str = "reach the goal";
/// `FourRoomsEnv.size`.
pub const SIZE: i32 = 19;

pub const SPECS: &[EnvSpec] = &[EnvSpec {
    id: "MiniGrid-FourRooms-v0",
    aliases: &["FourRooms"],
    family: "minigrid",
    summary: "find the goal somewhere in four connected rooms",
    generate,
    rule_from_layout: |world, mission| reach_goal(world, mission, MISSION),
}];

/// `FourRoomsEnv()`: random agent and goal, 100 steps.
pub fn generate(rng: &mut Rng) -> Result<Setup, GenError> {
    let (width, height) = (SIZE, SIZE);
    let mut b = Builder::new(rng, width, height, 100);
    let grid = &mut b.world.grid;
    grid.horz_wall(0, 0, width, Obj::WALL);
    grid.horz_wall(0, height - 1, width, Obj::WALL);
    grid.vert_wall(0, 0, height, Obj::WALL);
    grid.vert_wall(width - 1, 0, height, Obj::WALL);

    let (room_w, room_h) = (width / 2, height / 2);
    for j in 0..2 {
        for i in 0..2 {
            let (x_left, y_top) = (i * room_w, j * room_h);
            let (x_right, y_bottom) = (x_left + room_w, y_top + room_h);
            if i + 1 < 2 {
                b.world.grid.vert_wall(x_right, y_top, room_h, Obj::WALL);
                let gap = Pos::new(x_right, b.rand_int(y_top + 1, y_bottom));
                b.set(gap, None);
            }
            if j + 1 < 2 {
                b.world.grid.horz_wall(x_left, y_bottom, room_w, Obj::WALL);
                let gap = Pos::new(b.rand_int(x_left + 1, x_right), y_bottom);
                b.set(gap, None);
            }
        }
    }
    b.place_agent_anywhere()?;
    b.place_anywhere(Obj::Goal)?;
    Ok(Setup {
        world: b.finish(),
        rule: Rule::ReachGoal,
        mission: MISSION.into(),
        rooms: None,
    })
}
