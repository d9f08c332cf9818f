//! MiniGrid LavaCrossing and SimpleCrossing: rivers of lava (or walls) run across the room, each
//! with one crossing on a path from the agent (top-left corner) to the goal (bottom-right).

use crate::env::{GenError, Setup};
use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::Rule;
use crate::tasks::Builder;
use crate::tasks::empty::reach_goal;
use crate::world::{Dir, Obj, Pos};
use alloc::vec;
use alloc::vec::Vec;

pub const LAVA_MISSION: &str = "avoid the lava and get to the green goal square";
pub const WALL_MISSION: &str = "find the opening and get to the green goal square";

/// The mission `CrossingEnv` states for an obstacle.
pub fn mission(obstacle: Obj) -> &'static str {
    if obstacle == Obj::Lava {
        LAVA_MISSION
    } else {
        WALL_MISSION
    }
}

macro_rules! crossing {
    ($id:literal, $alias:literal, $size:literal, $n:literal, $obstacle:expr, $summary:expr) => {
        EnvSpec {
            id: $id,
            aliases: &[$alias],
            family: "minigrid",
            summary: $summary,
            generate: |rng| generate(rng, $size, $n, $obstacle),
            rule_from_layout: |world, m| reach_goal(world, m, mission($obstacle)),
        }
    };
}

const LAVA: &str = "cross rivers of lava at their openings to reach the goal";
const WALLS: &str = "pass walls at their openings to reach the goal";

pub const SPECS: &[EnvSpec] = &[
    crossing!(
        "MiniGrid-LavaCrossingS9N1-v0",
        "LavaCrossingS9N1",
        9,
        1,
        Obj::Lava,
        LAVA
    ),
    crossing!(
        "MiniGrid-LavaCrossingS9N2-v0",
        "LavaCrossingS9N2",
        9,
        2,
        Obj::Lava,
        LAVA
    ),
    crossing!(
        "MiniGrid-LavaCrossingS9N3-v0",
        "LavaCrossingS9N3",
        9,
        3,
        Obj::Lava,
        LAVA
    ),
    crossing!(
        "MiniGrid-LavaCrossingS11N5-v0",
        "LavaCrossingS11N5",
        11,
        5,
        Obj::Lava,
        LAVA
    ),
    crossing!(
        "MiniGrid-SimpleCrossingS9N1-v0",
        "SimpleCrossingS9N1",
        9,
        1,
        Obj::WALL,
        WALLS
    ),
    crossing!(
        "MiniGrid-SimpleCrossingS9N2-v0",
        "SimpleCrossingS9N2",
        9,
        2,
        Obj::WALL,
        WALLS
    ),
    crossing!(
        "MiniGrid-SimpleCrossingS9N3-v0",
        "SimpleCrossingS9N3",
        9,
        3,
        Obj::WALL,
        WALLS
    ),
    crossing!(
        "MiniGrid-SimpleCrossingS11N5-v0",
        "SimpleCrossingS11N5",
        11,
        5,
        Obj::WALL,
        WALLS
    ),
];

/// A river: a full column (`Vertical(x)`) or row (`Horizontal(y)`) of obstacles.
#[derive(Copy, Clone)]
enum River {
    Vertical(i32),
    Horizontal(i32),
}

/// `CrossingEnv(size, num_crossings, obstacle_type)`; `size` must be odd.
pub fn generate(
    rng: &mut Rng,
    size: i32,
    crossings: usize,
    obstacle: Obj,
) -> Result<Setup, GenError> {
    let (width, height) = (size, size);
    let mut b = Builder::new(rng, width, height, 4 * (size * size) as u32);
    b.world.grid.wall_rect(0, 0, width, height);
    b.world.agent_pos = Pos::new(1, 1);
    b.world.agent_dir = Dir::East;
    b.put_obj(Obj::Goal, Pos::new(width - 2, height - 2));

    // Rivers on every even line strictly inside the room; a random `crossings` of them.
    let mut rivers: Vec<River> = (2..height - 2)
        .step_by(2)
        .map(River::Vertical)
        .chain((2..width - 2).step_by(2).map(River::Horizontal))
        .collect();
    b.rng.shuffle(&mut rivers);
    rivers.truncate(crossings);
    let mut rivers_v: Vec<i32> = rivers
        .iter()
        .filter_map(|r| match *r {
            River::Vertical(x) => Some(x),
            River::Horizontal(_) => None,
        })
        .collect();
    let mut rivers_h: Vec<i32> = rivers
        .iter()
        .filter_map(|r| match *r {
            River::Horizontal(y) => Some(y),
            River::Vertical(_) => None,
        })
        .collect();
    rivers_v.sort_unstable();
    rivers_h.sort_unstable();
    for &y in &rivers_h {
        for x in 1..width - 1 {
            b.put_obj(obstacle, Pos::new(x, y));
        }
    }
    for &x in &rivers_v {
        for y in 1..height - 1 {
            b.put_obj(obstacle, Pos::new(x, y));
        }
    }

    // A monotone path from the top-left to the bottom-right room: crossing a vertical river
    // moves one room east, crossing a horizontal one moves one room south. Each crossing opens
    // one cell of the river, somewhere along the side of the room the path is in.
    let mut crosses_vertical = vec![true; rivers_v.len()];
    crosses_vertical.extend(core::iter::repeat_n(false, rivers_h.len()));
    b.rng.shuffle(&mut crosses_vertical);
    let limits_v: Vec<i32> = [0]
        .into_iter()
        .chain(rivers_v)
        .chain([height - 1])
        .collect();
    let limits_h: Vec<i32> = [0].into_iter().chain(rivers_h).chain([width - 1]).collect();
    let (mut room_i, mut room_j) = (0, 0);
    for east in crosses_vertical {
        let opening = if east {
            let x = limits_v[room_i + 1];
            let y = b.rand_int(limits_h[room_j] + 1, limits_h[room_j + 1]);
            room_i += 1;
            Pos::new(x, y)
        } else {
            let x = b.rand_int(limits_v[room_i] + 1, limits_v[room_i + 1]);
            let y = limits_h[room_j + 1];
            room_j += 1;
            Pos::new(x, y)
        };
        b.set(opening, None);
    }
    Ok(Setup {
        world: b.finish(),
        rule: Rule::ReachGoal,
        mission: mission(obstacle).into(),
        rooms: None,
    })
}
