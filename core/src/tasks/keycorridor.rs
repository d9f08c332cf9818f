//! MiniGrid KeyCorridor: a corridor of rooms in the middle column, a ball behind a locked door
//! on the right, its key somewhere on the left; pick up the ball.

use crate::env::{GenError, Setup};
use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::{RoomLayout, Rule, Tracked};
use crate::tasks::roomgrid::{RoomGrid, layout_of};
use crate::tasks::unlock::named_target;
use crate::world::{Color, Kind, World};
use alloc::format;
use alloc::string::String;

const fn layout(room_size: i32, rows: i32) -> RoomLayout {
    RoomLayout {
        room_size,
        rows,
        cols: 3,
    }
}

macro_rules! keycorridor {
    ($id:literal, $alias:literal, $size:literal, $rows:literal) => {
        EnvSpec {
            id: $id,
            aliases: &[$alias],
            family: "minigrid",
            summary: "find the key, unlock the door on the right, pick up the ball behind it",
            generate: |rng| generate(rng, layout($size, $rows)),
            rule_from_layout: |world, mission| {
                rule_from_layout(world, mission, layout($size, $rows))
            },
        }
    };
}

pub const SPECS: &[EnvSpec] = &[
    keycorridor!("MiniGrid-KeyCorridorS3R1-v0", "KeyCorridorS3R1", 3, 1),
    keycorridor!("MiniGrid-KeyCorridorS3R2-v0", "KeyCorridorS3R2", 3, 2),
    keycorridor!("MiniGrid-KeyCorridorS3R3-v0", "KeyCorridorS3R3", 3, 3),
    keycorridor!("MiniGrid-KeyCorridorS4R3-v0", "KeyCorridorS4R3", 4, 3),
    keycorridor!("MiniGrid-KeyCorridorS5R3-v0", "KeyCorridorS5R3", 5, 3),
    keycorridor!("MiniGrid-KeyCorridorS6R3-v0", "KeyCorridorS6R3", 6, 3),
];

fn generate(rng: &mut Rng, layout: RoomLayout) -> Result<Setup, GenError> {
    let rows = layout.rows;
    let max_steps = 30 * (layout.room_size * layout.room_size) as u32;
    let mut g = RoomGrid::new(rng, layout, max_steps);
    // The middle column is one long hallway.
    for j in 1..rows {
        g.remove_wall(1, j, 3);
    }
    let room = g.b.rand_int(0, rows);
    let (door, _) = g.add_door(2, room, Some(2), None, Some(true))?;
    let (ball, ball_pos) = g.add_object(2, room, Some(Kind::Ball), None)?;
    let key_room = g.b.rand_int(0, rows);
    g.add_object(0, key_room, Some(Kind::Key), Some(door.color()))?;
    g.place_agent(Some(1), Some(rows / 2), true)?;
    g.connect_all(&Color::ALL, 5000)?;
    let (world, layout) = g.finish();
    Ok(Setup {
        world,
        rule: Rule::PickUp {
            target: Tracked::at(ball_pos),
        },
        mission: format!("pick up the {} ball", ball.color()),
        rooms: Some(layout),
    })
}

/// The ball named in "pick up the <colour> ball".
fn rule_from_layout(
    world: &World,
    mission: &str,
    layout: RoomLayout,
) -> Result<(Rule, Option<RoomLayout>), String> {
    let layout = layout_of(world, layout)?;
    let target = named_target(world, mission, Kind::Ball)?;
    Ok((
        Rule::PickUp {
            target: Tracked::at(target),
        },
        Some(layout),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{DoorState, Obj};

    #[test]
    fn ball_sits_behind_the_locked_door_and_the_key_on_the_left() {
        for spec in SPECS {
            for seed in 0..40 {
                let s = spec.layout(seed);
                let l = s.rooms.unwrap();
                let w = &s.world;
                let step = l.room_size - 1;
                let Rule::PickUp { target } = s.rule else {
                    panic!()
                };
                assert!(matches!(w.grid.get(target.pos), Some(Obj::Ball(_))));
                assert!(target.pos.x > 2 * step, "ball in the right column");
                let locked: alloc::vec::Vec<_> = w
                    .grid
                    .objects()
                    .filter(|(_, o)| matches!(o, Obj::Door(_, DoorState::Locked)))
                    .collect();
                assert_eq!(locked.len(), 1);
                let (door_pos, door) = locked[0];
                assert_eq!(door_pos.x, 2 * step);
                assert_eq!(
                    door_pos.y / step,
                    target.pos.y / step,
                    "door of the ball's room"
                );
                assert!(
                    w.grid
                        .objects()
                        .any(|(p, o)| o == Obj::Key(door.color()) && p.x < step)
                );
                assert!(w.agent_pos.x > step && w.agent_pos.x < 2 * step);
                assert_eq!(w.max_steps, 30 * (l.room_size * l.room_size) as u32);
                let (rule, _) = (spec.rule_from_layout)(w, &s.mission).unwrap();
                assert_eq!(rule, s.rule);
            }
        }
    }
}
