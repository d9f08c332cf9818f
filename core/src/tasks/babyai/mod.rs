//! BabyAI levels (MiniGrid 3.2's `RoomGridLevel`): a room grid, a generated instruction in the
//! Baby language, its verifier as the win rule and its surface form as the mission.

pub mod levels;
pub mod mixed;

use crate::env::{GenError, Setup};
use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::{Instr, RoomLayout, Rule, TaskKind};
use crate::tasks::roomgrid::{RoomGrid, layout_of};
use crate::world::World;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use levels::Level;

macro_rules! level {
    ($id:literal, $alias:literal, $summary:literal, $level:expr) => {
        EnvSpec {
            id: $id,
            aliases: &[$alias],
            family: "babyai",
            summary: $summary,
            generate: |rng| generate(rng, &$level),
            rule_from_layout: |world, mission| rule_from_layout(world, mission, &$level),
        }
    };
}

pub const SPECS: &[EnvSpec] = &[
    level!(
        "BabyAI-GoToObj-v0",
        "GoToObj",
        "go to the only object in a single room",
        levels::GO_TO_OBJ
    ),
    level!(
        "BabyAI-GoToLocal-v0",
        "GoToLocal",
        "go to the named object among distractors in a single room",
        levels::GO_TO_LOCAL
    ),
    level!(
        "BabyAI-OpenDoor-v0",
        "OpenDoor",
        "open the door named by its colour or by where it is",
        levels::OPEN_DOOR
    ),
    level!(
        "BabyAI-PickupLoc-v0",
        "PickupLoc",
        "pick up the object named by colour, kind and where it is",
        levels::PICKUP_LOC
    ),
    level!(
        "BabyAI-PutNextLocal-v0",
        "PutNextLocal",
        "put one named object next to another in a single room",
        levels::PUT_NEXT_LOCAL
    ),
    level!(
        "BabyAI-UnlockLocal-v0",
        "UnlockLocal",
        "pick up the key and unlock the door of the room",
        levels::UNLOCK_LOCAL
    ),
    level!(
        "BabyAI-KeyInBox-v0",
        "BabyAI-KeyInBox",
        "open the box to find the key, then unlock the door",
        levels::KEY_IN_BOX
    ),
    EnvSpec {
        id: "BabyAI-MixedTrainLocal-v0",
        aliases: &["MixedTrainLocal"],
        family: "babyai",
        summary: "GLAM's training mix: go to, pick up, open a locked door, put next to, or pick up then go to; five colour-object pairs held out",
        generate: |rng| mixed::generate(rng, &mixed::TRAIN),
        rule_from_layout: |world, mission| mixed::rule_from_layout(world, mission, &mixed::TRAIN),
    },
    EnvSpec {
        id: "BabyAI-MixedTestLocal-v0",
        aliases: &["MixedTestLocal"],
        family: "babyai",
        summary: "GLAM's test mix: the tasks of MixedTrainLocal on the five held-out colour-object pairs only",
        generate: |rng| mixed::generate(rng, &mixed::TEST),
        rule_from_layout: |world, mission| mixed::rule_from_layout(world, mission, &mixed::TEST),
    },
];

/// `RoomGridLevel._gen_grid` and `reset`: generate the mission, reject ambiguous ones, write
/// its surface form and set the step limit from the maze size.
fn generate(rng: &mut Rng, level: &Level) -> Result<Setup, GenError> {
    let mut g = RoomGrid::new(rng, level.layout, 0);
    let instr = (level.gen_mission)(&mut g)?;
    let (world, layout) = g.finish();
    setup(world, layout, instr)
}

/// The end of `_gen_grid` and `reset` for a generated world and instruction.
fn setup(mut world: World, layout: RoomLayout, mut instr: Instr) -> Result<Setup, GenError> {
    instr.reset(&world, Some(&layout));
    validate(&instr)?;
    world.max_steps = max_steps(&instr, &layout);
    Ok(Setup {
        mission: instr.surface(),
        world,
        rule: Rule::BabyAi(instr),
        rooms: Some(layout),
    })
}

/// `validate_instrs` for the levels here (none of them sets `unblocking`): a put-next must not
/// be done already and must not describe one object on both sides; a sequence checks its parts.
fn validate(instr: &Instr) -> Result<(), GenError> {
    match instr {
        Instr::PutNext { moved, fixed } => {
            if moved
                .objs
                .iter()
                .any(|m| fixed.objs.iter().any(|f| f.pos == m.pos))
            {
                return Err(GenError("objects match both sides of put next"));
            }
            if moved
                .objs
                .iter()
                .any(|m| fixed.poss.iter().any(|&f| m.pos.manhattan(f) == 1))
            {
                return Err(GenError("objects already next to each other"));
            }
            Ok(())
        }
        Instr::Seq { first, second, .. } => {
            validate(first)?;
            validate(second)
        }
        _ => Ok(()),
    }
}

/// `num_navs_needed`: two for a put-next, one for another action, the sum for a sequence.
fn navs_needed(instr: &Instr) -> i32 {
    match instr {
        Instr::PutNext { .. } => 2,
        Instr::Seq { first, second, .. } => navs_needed(first) + navs_needed(second),
        _ => 1,
    }
}

/// `num_navs_needed * room_size² * rows * cols`.
fn max_steps(instr: &Instr, layout: &RoomLayout) -> u32 {
    (navs_needed(instr) * layout.room_size * layout.room_size * layout.rows * layout.cols) as u32
}

/// Read the mission back into an instruction and check that it describes this layout the way
/// BabyAI would have written it ("the" for one match, "a" for several).
fn rule_from_layout(
    world: &World,
    mission: &str,
    level: &Level,
) -> Result<(Rule, Option<RoomLayout>), String> {
    let (instr, layout) = read_back(world, mission, &[level.kind], |_| level.layout)?;
    Ok((Rule::BabyAi(instr), Some(layout)))
}

/// The checks every BabyAI level makes of a recorded mission: it parses, is of a kind the level
/// sets (`kinds`), the world has the room layout that kind is played in, every description
/// matches an object, and BabyAI would word it so.
fn read_back(
    world: &World,
    mission: &str,
    kinds: &[TaskKind],
    layout_for: impl Fn(TaskKind) -> RoomLayout,
) -> Result<(Instr, RoomLayout), String> {
    let mut instr = Instr::parse(mission).map_err(|e| e.to_string())?;
    let kind = instr.kind();
    if !kinds.contains(&kind) {
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        return Err(format!(
            "this level sets {} tasks, not {kind} ({mission:?})",
            names.join(" or ")
        ));
    }
    let layout = layout_of(world, layout_for(kind))?;
    instr.reset(world, Some(&layout));
    if let Some(d) = instr.descs().into_iter().find(|d| d.objs.is_empty()) {
        return Err(format!("no object in the layout matches {:?}", d.surface()));
    }
    let surface = instr.surface();
    if surface != mission {
        return Err(format!(
            "in this layout BabyAI would say {surface:?}, not {mission:?}"
        ));
    }
    Ok((instr, layout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::find;

    #[test]
    fn rule_from_layout_says_why_a_mission_does_not_fit() {
        let s = find("GoToLocal").unwrap().layout(5);
        let err = |m: &str| rule_from_layout(&s.world, m, &levels::GO_TO_LOCAL).unwrap_err();
        assert!(err("open the door").contains("sets GoTo tasks, not Open"));
        assert!(err("go to the blue dragon").contains("unknown object"));
        // Ask for an object the room does not hold.
        let absent = crate::world::Color::ALL
            .into_iter()
            .flat_map(|c| ["key", "ball", "box"].map(move |k| alloc::format!("go to the {c} {k}")))
            .find(|m| {
                !s.world
                    .grid
                    .objects()
                    .any(|(_, o)| m.ends_with(&o.describe()))
            })
            .unwrap();
        assert!(err(&absent).contains("no object in the layout matches"));
        // "the" for one match, "a" for several: the other article is refused.
        let flipped = match s.mission.strip_prefix("go to the ") {
            Some(rest) => alloc::format!("go to a {rest}"),
            None => s.mission.replacen("go to a ", "go to the ", 1),
        };
        assert!(err(&flipped).contains("BabyAI would say"));
        let maze = find("BabyAI-OpenDoor-v0").unwrap().layout(0);
        let e = rule_from_layout(&maze.world, &s.mission, &levels::GO_TO_LOCAL).unwrap_err();
        assert!(e.contains("22x22"), "{e}");
    }
}
