//! The seed tasks of When2Ask (ZJLAB-AMMI/LLM4RL `env/`) and LLM4Teach (ZJLAB-AMMI/LLM4Teach
//! `env/`): one walled room of random size at the top-left of the grid, a locked door on one of
//! its walls (never a corner), and what it takes to open that door.

use crate::env::{GenError, Setup};
use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::{Instr, ObjDesc, RoomLayout, Rule};
use crate::tasks::Builder;
use crate::world::{Color, DoorState, Item, Kind, Obj, Pos, World};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

pub const MISSION: &str = "open the door";
/// Every seed task registers `agent_view_size=3`.
pub const VIEW: u8 = 3;
/// The grid is `maxRoomSize` square; the room is `minRoomSize..=maxRoomSize` on each side.
pub const MAX_ROOM: i32 = 10;
pub const MIN_ROOM: i32 = 5;
/// When2Ask leaves `max_steps` at its default, `maxRoomSize ** 2`.
pub const WHEN2ASK_MAX_STEPS: u32 = (MAX_ROOM * MAX_ROOM) as u32;
/// LLM4Teach registers every task with `max_steps=150`.
pub const LLM4TEACH_MAX_STEPS: u32 = 150;
/// TwoDoor: a 20 x 20 room that fills the grid.
pub const TWO_DOOR_SIZE: i32 = 20;

/// `sorted(COLOR_NAMES)`: the seed code draws colours from the alphabetical list.
const SORTED_COLORS: [Color; 6] = [
    Color::Blue,
    Color::Green,
    Color::Grey,
    Color::Purple,
    Color::Red,
    Color::Yellow,
];

macro_rules! seed_task {
    ($id:literal, [$($alias:literal),*], $summary:literal, $task:expr, $rule:expr) => {
        EnvSpec {
            id: $id,
            aliases: &[$($alias),*],
            family: "seed",
            summary: $summary,
            generate: |rng| generate(rng, $task),
            rule_from_layout: $rule,
        }
    };
}

pub const SPECS: &[EnvSpec] = &[
    seed_task!(
        "SimpleDoorKey",
        ["MiniGrid-SimpleDoorKey-Min5-Max10-View3"],
        "pick up the key and open the locked door (When2Ask)",
        Task::SimpleDoorKey {
            max_steps: WHEN2ASK_MAX_STEPS
        },
        one_door_rule
    ),
    seed_task!(
        "KeyInBox",
        ["MiniGrid-KeyInBox-Min5-Max10-View3"],
        "open the box, take the key inside, open the locked door (When2Ask)",
        Task::KeyInBox,
        one_door_rule
    ),
    seed_task!(
        "RandomBoxKey",
        ["MiniGrid-RandomBoxKey-Min5-Max10-View3"],
        "the key is in the box or beside it; find it and open the locked door (When2Ask)",
        Task::RandomBoxKey,
        one_door_rule
    ),
    seed_task!(
        "ColoredDoorKey",
        ["MiniGrid-ColoredDoorKey-Min5-Max10-View3"],
        "two keys of different colours; open the locked door with the matching one (When2Ask)",
        Task::ColoredDoorKey,
        one_door_rule
    ),
    seed_task!(
        "SimpleDoorKey-LLM4Teach",
        [],
        "SimpleDoorKey with LLM4Teach's 150-step limit",
        Task::SimpleDoorKey {
            max_steps: LLM4TEACH_MAX_STEPS
        },
        one_door_rule
    ),
    seed_task!(
        "ColoredDoorKey-LLM4Teach",
        [],
        "a blue door, a blue key and a red key; open the door (LLM4Teach)",
        Task::ColoredDoorKeyBlueRed,
        one_door_rule
    ),
    seed_task!(
        "LavaDoorKey",
        ["MiniGrid-LavaDoorKey-Min5-Max10-View3"],
        "pick up the key and open the locked door; a lava cell ends the episode (LLM4Teach)",
        Task::LavaDoorKey,
        one_door_rule
    ),
    seed_task!(
        "TwoDoor",
        ["MiniGrid-TwoDoor-Min20-Max20"],
        "a 20x20 room with two locked doors; take the key from the centre, open either (LLM4Teach)",
        Task::TwoDoor,
        two_door_rule
    ),
];

/// The seed repositories' environment classes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Task {
    /// LLM4RL `SingleRoomEnv`, LLM4Teach `DoorKeyEnv`: the key anywhere in the room.
    SimpleDoorKey { max_steps: u32 },
    /// LLM4RL `BoxKeyEnv`: the key inside a box anywhere in the room.
    KeyInBox,
    /// LLM4RL `RandomBoxKeyEnv`: a coin flip between the key inside the box and the key beside
    /// an empty box; the box is never in front of the door.
    RandomBoxKey,
    /// LLM4RL `KeyDistractionEnv` (2 keys): the door's key and one of another random colour,
    /// neither in front of the door.
    ColoredDoorKey,
    /// LLM4Teach `ColoredDoorKeyEnv`: always a blue door, a blue key and a red key, neither in
    /// front of the door.
    ColoredDoorKeyBlueRed,
    /// LLM4Teach `LavaDoorKeyEnv`: the key anywhere, one lava cell not in front of the door.
    LavaDoorKey,
    /// LLM4Teach `TwoDoorEnv`.
    TwoDoor,
}

fn generate(rng: &mut Rng, task: Task) -> Result<Setup, GenError> {
    if task == Task::TwoDoor {
        return two_door(rng);
    }
    let max_steps = match task {
        Task::SimpleDoorKey { max_steps } => max_steps,
        Task::ColoredDoorKeyBlueRed | Task::LavaDoorKey => LLM4TEACH_MAX_STEPS,
        _ => WHEN2ASK_MAX_STEPS,
    };
    let mut b = Builder::new(rng, MAX_ROOM, MAX_ROOM, max_steps);
    b.world.view_size = VIEW;
    let room = draw_room(&mut b, MIN_ROOM, MAX_ROOM);
    let wall = b.rand_int(0, 4);
    let (door, front) = door_on_wall(&mut b, room, wall);
    let color = if task == Task::ColoredDoorKeyBlueRed {
        Color::Blue
    } else {
        b.rand_elem(&SORTED_COLORS)
    };
    b.put_obj(Obj::Door(color, DoorState::Locked), door);
    b.place_agent(Pos::new(0, 0), room, true)?;

    let top = Pos::new(0, 0);
    let not_front = |_: &World, p: Pos| p == front;
    match task {
        Task::SimpleDoorKey { .. } => {
            b.place_obj(Obj::Key(color), top, room)?;
        }
        Task::KeyInBox => {
            b.place_obj(Obj::Box(color, Some(Item::Key(color))), top, room)?;
        }
        Task::RandomBoxKey => {
            // `_rand_elem({0, 1})`: 0 puts the key beside an empty box.
            if b.rand_int(0, 2) == 0 {
                b.place_obj(Obj::Key(color), top, room)?;
                b.place_obj_with(Some(Obj::Box(color, None)), top, room, not_front)?;
            } else {
                let full = Obj::Box(color, Some(Item::Key(color)));
                b.place_obj_with(Some(full), top, room, not_front)?;
            }
        }
        Task::ColoredDoorKey => {
            b.place_obj_with(Some(Obj::Key(color)), top, room, not_front)?;
            let others: Vec<Color> = SORTED_COLORS.into_iter().filter(|&c| c != color).collect();
            let other = b.rand_elem(&others);
            b.place_obj_with(Some(Obj::Key(other)), top, room, not_front)?;
        }
        Task::ColoredDoorKeyBlueRed => {
            b.place_obj_with(Some(Obj::Key(Color::Blue)), top, room, not_front)?;
            b.place_obj_with(Some(Obj::Key(Color::Red)), top, room, not_front)?;
        }
        Task::LavaDoorKey => {
            b.place_obj(Obj::Key(color), top, room)?;
            b.place_obj_with(Some(Obj::Lava), top, room, not_front)?;
        }
        Task::TwoDoor => unreachable!("handled above"),
    }
    Ok(Setup {
        world: b.finish(),
        rule: Rule::OpenDoor { door },
        mission: MISSION.into(),
        rooms: None,
    })
}

/// TwoDoor: doors on two opposite walls (east and west, or south and north) of one colour, the
/// key in the 2 x 2 cells at the centre, placed before the agent.
fn two_door(rng: &mut Rng) -> Result<Setup, GenError> {
    let mut b = Builder::new(rng, TWO_DOOR_SIZE, TWO_DOOR_SIZE, LLM4TEACH_MAX_STEPS);
    b.world.view_size = VIEW;
    let room = draw_room(&mut b, TWO_DOOR_SIZE, TWO_DOOR_SIZE);
    let (sx, sy) = room;
    let doors = if b.rand_int(0, 2) == 0 {
        [
            Pos::new(sx - 1, b.rand_int(1, sy - 1)),
            Pos::new(0, b.rand_int(1, sy - 1)),
        ]
    } else {
        [
            Pos::new(b.rand_int(1, sx - 1), sy - 1),
            Pos::new(b.rand_int(1, sx - 1), 0),
        ]
    };
    let color = b.rand_elem(&SORTED_COLORS);
    for d in doors {
        b.put_obj(Obj::Door(color, DoorState::Locked), d);
    }
    b.place_obj(Obj::Key(color), Pos::new(sx / 2 - 1, sy / 2 - 1), (2, 2))?;
    b.place_agent(Pos::new(0, 0), room, true)?;
    Ok(Setup {
        world: b.finish(),
        rule: open_any_door(color),
        mission: MISSION.into(),
        rooms: None,
    })
}

/// Room size (`_rand_int(min, max + 1)` per side) and its walls, from (0, 0).
fn draw_room(b: &mut Builder, min: i32, max: i32) -> (i32, i32) {
    let sx = b.rand_int(min, max + 1);
    let sy = b.rand_int(min, max + 1);
    b.world.grid.wall_rect(0, 0, sx, sy);
    (sx, sy)
}

/// The door on `wall` (the seed code's numbering: 0 east, 1 south, 2 west, 3 north), away from
/// the corners, and the interior cell in front of it (the seed code's `rejectPos`).
fn door_on_wall(b: &mut Builder, (sx, sy): (i32, i32), wall: i32) -> (Pos, Pos) {
    match wall {
        0 => {
            let y = b.rand_int(1, sy - 1);
            (Pos::new(sx - 1, y), Pos::new(sx - 2, y))
        }
        1 => {
            let x = b.rand_int(1, sx - 1);
            (Pos::new(x, sy - 1), Pos::new(x, sy - 2))
        }
        2 => {
            let y = b.rand_int(1, sy - 1);
            (Pos::new(0, y), Pos::new(1, y))
        }
        _ => {
            let x = b.rand_int(1, sx - 1);
            (Pos::new(x, 0), Pos::new(x, 1))
        }
    }
}

/// TwoDoor succeeds when a toggle leaves either door open: BabyAI's "open the <colour> door"
/// says exactly that, since both doors share the key's colour and no other door exists.
fn open_any_door(color: Color) -> Rule {
    Rule::BabyAi(Instr::Open(ObjDesc::new(
        Some(Kind::Door),
        Some(color),
        None,
    )))
}

fn doors(world: &World) -> Vec<(Pos, Obj)> {
    world
        .grid
        .objects()
        .filter(|(_, o)| o.kind() == Kind::Door)
        .collect()
}

fn one_door_rule(world: &World, _mission: &str) -> Result<(Rule, Option<RoomLayout>), String> {
    match doors(world).as_slice() {
        [(door, _)] => Ok((Rule::OpenDoor { door: *door }, None)),
        d => Err(format!(
            "this seed task has exactly one door; the layout has {}",
            d.len()
        )),
    }
}

fn two_door_rule(world: &World, _mission: &str) -> Result<(Rule, Option<RoomLayout>), String> {
    match doors(world).as_slice() {
        [(_, a), (_, b)] if a.color() == b.color() => Ok((open_any_door(a.color()), None)),
        d => Err(format!(
            "TwoDoor has two doors of one colour; the layout has {} door(s){}",
            d.len(),
            if d.len() == 2 {
                " of different colours"
            } else {
                ""
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;
    use crate::world::Action;

    #[test]
    fn every_seed_task_is_registered_in_the_seed_family() {
        for spec in SPECS {
            assert_eq!(spec.family, "seed");
            let found = registry::find(spec.id).unwrap();
            assert_eq!((found.id, found.family), (spec.id, "seed"));
        }
        assert_eq!(
            registry::find("MiniGrid-KeyInBox-Min5-Max10-View3")
                .unwrap()
                .id,
            "KeyInBox"
        );
    }

    #[test]
    fn rule_from_layout_recovers_the_generated_rule() {
        for spec in SPECS {
            for seed in 0..20 {
                let setup = spec.layout(seed);
                let (rule, rooms) = (spec.rule_from_layout)(&setup.world, &setup.mission).unwrap();
                assert_eq!(rule, setup.rule, "{} seed {seed}", spec.id);
                assert!(rooms.is_none());
            }
        }
        let empty = World::new(10, 10, 100);
        assert!(
            one_door_rule(&empty, MISSION)
                .unwrap_err()
                .contains("has 0")
        );
        assert!(two_door_rule(&empty, MISSION).is_err());
    }

    #[test]
    fn two_door_opens_with_either_door() {
        let spec = registry::find("TwoDoor").unwrap();
        let setup = spec.layout(7);
        let color = doors(&setup.world)[0].1.color();
        for (door, _) in doors(&setup.world) {
            let mut env = crate::Env::from_setup(setup.clone());
            // Stand inside the room in front of this door, facing it, holding the key.
            let inside = if door.x == 0 {
                Pos::new(1, door.y)
            } else if door.x == TWO_DOOR_SIZE - 1 {
                Pos::new(door.x - 1, door.y)
            } else if door.y == 0 {
                Pos::new(door.x, 1)
            } else {
                Pos::new(door.x, door.y - 1)
            };
            env.world.grid.set(inside, None);
            env.world.agent_pos = inside;
            env.world.agent_dir = crate::world::Dir::ALL
                .into_iter()
                .find(|d| d.step(inside) == door)
                .unwrap();
            env.world.carrying = Some(Obj::Key(color));
            let t = env.step(Action::Toggle);
            assert!(t.success(), "door at {door:?}");
        }
    }
}
