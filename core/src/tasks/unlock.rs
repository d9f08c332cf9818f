//! MiniGrid Unlock, UnlockPickup and BlockedUnlockPickup: two rooms joined by a locked door,
//! its key in the agent's room; open the door, or fetch the box behind it.

use crate::env::{GenError, Setup};
use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::{RoomLayout, Rule, Tracked};
use crate::tasks::roomgrid::{RoomGrid, layout_of};
use crate::world::{Color, Kind, Obj, Pos, World};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

const LAYOUT: RoomLayout = RoomLayout {
    room_size: 6,
    rows: 1,
    cols: 2,
};

pub const SPECS: &[EnvSpec] = &[
    EnvSpec {
        id: "MiniGrid-Unlock-v0",
        aliases: &["Unlock"],
        family: "minigrid",
        summary: "pick up the key and open the locked door",
        generate: |rng| generate(rng, Variant::Unlock),
        rule_from_layout: unlock_rule,
    },
    EnvSpec {
        id: "MiniGrid-UnlockPickup-v0",
        aliases: &["UnlockPickup"],
        family: "minigrid",
        summary: "unlock the door and pick up the box behind it",
        generate: |rng| generate(rng, Variant::Pickup),
        rule_from_layout: pickup_rule,
    },
    EnvSpec {
        id: "MiniGrid-BlockedUnlockPickup-v0",
        aliases: &["BlockedUnlockPickup"],
        family: "minigrid",
        summary: "move the ball blocking the door, unlock it, pick up the box behind it",
        generate: |rng| generate(rng, Variant::Blocked),
        rule_from_layout: pickup_rule,
    },
];

#[derive(Copy, Clone, PartialEq, Eq)]
enum Variant {
    Unlock,
    Pickup,
    Blocked,
}

fn generate(rng: &mut Rng, variant: Variant) -> Result<Setup, GenError> {
    let rs = LAYOUT.room_size as u32;
    let max_steps = if variant == Variant::Blocked { 16 } else { 8 } * rs * rs;
    let mut g = RoomGrid::new(rng, LAYOUT, max_steps);
    let target = if variant == Variant::Unlock {
        None
    } else {
        Some(g.add_object(1, 0, Some(Kind::Box), None)?)
    };
    let (door, door_pos) = g.add_door(0, 0, Some(0), None, Some(true))?;
    if variant == Variant::Blocked {
        let color = g.b.rand_color();
        g.b.put_obj(Obj::Ball(color), door_pos.offset(-1, 0));
    }
    g.add_object(0, 0, Some(Kind::Key), Some(door.color()))?;
    g.place_agent(Some(0), Some(0), true)?;
    let (world, layout) = g.finish();
    let (rule, mission) = match target {
        None => (
            Rule::OpenDoor { door: door_pos },
            String::from("open the door"),
        ),
        Some((obj, pos)) => (
            Rule::PickUp {
                target: Tracked::at(pos),
            },
            format!("pick up the {} {}", obj.color(), obj.kind().name()),
        ),
    };
    Ok(Setup {
        world,
        rule,
        mission,
        rooms: Some(layout),
    })
}

/// Unlock: the one door of the layout.
fn unlock_rule(world: &World, mission: &str) -> Result<(Rule, Option<RoomLayout>), String> {
    let layout = layout_of(world, LAYOUT)?;
    if mission != "open the door" {
        return Err(format!(
            "Unlock's mission is \"open the door\", not {mission:?}"
        ));
    }
    let doors: Vec<Pos> = world
        .grid
        .objects()
        .filter(|(_, o)| o.kind() == Kind::Door)
        .map(|(p, _)| p)
        .collect();
    match doors[..] {
        [door] => Ok((Rule::OpenDoor { door }, Some(layout))),
        _ => Err(format!(
            "Unlock needs exactly one door, the layout has {}",
            doors.len()
        )),
    }
}

/// UnlockPickup, BlockedUnlockPickup: the box named in "pick up the <colour> box".
fn pickup_rule(world: &World, mission: &str) -> Result<(Rule, Option<RoomLayout>), String> {
    let layout = layout_of(world, LAYOUT)?;
    let target = named_target(world, mission, Kind::Box)?;
    Ok((
        Rule::PickUp {
            target: Tracked::at(target),
        },
        Some(layout),
    ))
}

/// The single object of `kind` named by "pick up the <colour> <kind>".
pub(crate) fn named_target(world: &World, mission: &str, kind: Kind) -> Result<Pos, String> {
    let color = mission
        .strip_prefix("pick up the ")
        .and_then(|rest| rest.split_once(' '))
        .filter(|&(_, k)| k == kind.name())
        .and_then(|(c, _)| Color::from_name(c))
        .ok_or_else(|| {
            format!(
                "expected the mission \"pick up the <colour> {}\", got {mission:?}",
                kind.name()
            )
        })?;
    let found: Vec<Pos> = world
        .grid
        .objects()
        .filter(|&(_, o)| o.kind() == kind && o.color() == color)
        .map(|(p, _)| p)
        .collect();
    match found[..] {
        [p] => Ok(p),
        _ => Err(format!(
            "the mission names the {color} {}, the layout has {} of them",
            kind.name(),
            found.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::DoorState;

    #[test]
    fn layouts_follow_minigrid() {
        for seed in 0..100 {
            for spec in SPECS {
                let s = spec.layout(seed);
                let w = &s.world;
                assert_eq!((w.width(), w.height()), (11, 6));
                assert!(w.agent_pos.x < 5, "agent in the left room");
                let door = w
                    .grid
                    .objects()
                    .find(|(_, o)| o.kind() == Kind::Door)
                    .unwrap();
                assert_eq!(door.0.x, 5);
                let Obj::Door(c, DoorState::Locked) = door.1 else {
                    panic!("door must be locked")
                };
                assert!(w.grid.objects().any(|(p, o)| o == Obj::Key(c) && p.x < 5));
                let (rule, _) = (spec.rule_from_layout)(w, &s.mission).unwrap();
                assert_eq!(rule, s.rule);
                if spec.id.contains("Blocked") {
                    assert!(matches!(
                        w.grid.get(door.0.offset(-1, 0)),
                        Some(Obj::Ball(_))
                    ));
                    assert_eq!(w.max_steps, 576);
                } else {
                    assert_eq!(w.max_steps, 288);
                }
            }
        }
    }

    #[test]
    fn rule_from_layout_rejects_a_mission_that_does_not_fit() {
        let s = SPECS[1].layout(0);
        let err = pickup_rule(&s.world, "pick up the blue ball").unwrap_err();
        assert!(err.contains("pick up the <colour> box"), "{err}");
        let other = Color::ALL
            .into_iter()
            .find(|c| !s.mission.contains(c.name()))
            .unwrap();
        let err = pickup_rule(&s.world, &format!("pick up the {other} box")).unwrap_err();
        assert!(err.contains("has 0 of them"), "{err}");
    }
}
