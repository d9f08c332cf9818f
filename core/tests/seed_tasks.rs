//! Property tests of the seed tasks (When2Ask's and LLM4Teach's `env/`): over many seeds every
//! layout is one walled room at the top-left of the grid with its locked door(s) on a wall away
//! from the corners, holds what the seed code puts in it (and nothing where it must not), is the
//! same for the same seed, and can be solved, which a breadth-first search proves by example.

use gridmentor_core::obs::MemoryMap;
use gridmentor_core::obs::text::{Naming, llm4teach, when2ask};
use gridmentor_core::registry;
use gridmentor_core::world::{Action, Color, Dir, DoorState, Item, Kind, Obj, Pos, World};
use gridmentor_core::{Env, EnvSpec};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet, VecDeque};

const SEED_TASKS: [&str; 8] = [
    "SimpleDoorKey",
    "KeyInBox",
    "RandomBoxKey",
    "ColoredDoorKey",
    "SimpleDoorKey-LLM4Teach",
    "ColoredDoorKey-LLM4Teach",
    "LavaDoorKey",
    "TwoDoor",
];

fn spec(id: &str) -> &'static EnvSpec {
    registry::find(id).unwrap()
}

/// The room as read back from a layout.
struct Room {
    /// Outer size, walls included.
    size: (i32, i32),
    /// Door positions with the interior cell in front of each.
    doors: Vec<(Pos, Obj, Pos)>,
    /// Objects strictly inside the walls.
    inside: Vec<(Pos, Obj)>,
}

fn read_room(id: &str, w: &World) -> Room {
    let sx = (0..w.width())
        .take_while(|&x| w.grid.get(Pos::new(x, 0)).is_some())
        .count() as i32;
    let sy = (0..w.height())
        .take_while(|&y| w.grid.get(Pos::new(0, y)).is_some())
        .count() as i32;
    let mut room = Room {
        size: (sx, sy),
        doors: Vec::new(),
        inside: Vec::new(),
    };
    for (p, o) in w.grid.objects() {
        let on_x_wall = p.x == 0 || p.x == sx - 1;
        let on_y_wall = p.y == 0 || p.y == sy - 1;
        let in_box = p.x < sx && p.y < sy;
        assert!(in_box, "{id}: {o:?} at {p:?} outside the {sx}x{sy} room");
        if on_x_wall || on_y_wall {
            if let Obj::Door(_, state) = o {
                assert_eq!(state, DoorState::Locked, "{id}: door at {p:?}");
                assert!(!(on_x_wall && on_y_wall), "{id}: door in a corner at {p:?}");
                let front = match (p.x, p.y) {
                    (0, y) => Pos::new(1, y),
                    (x, y) if x == sx - 1 => Pos::new(x - 1, y),
                    (x, 0) => Pos::new(x, 1),
                    (x, y) => Pos::new(x, y - 1),
                };
                room.doors.push((p, o, front));
            } else {
                assert_eq!(o, Obj::WALL, "{id}: the wall at {p:?}");
            }
        } else {
            room.inside.push((p, o));
        }
    }
    // The walls are complete: every perimeter cell holds a wall or a door.
    for x in 0..sx {
        for y in [0, sy - 1] {
            assert!(
                w.grid.get(Pos::new(x, y)).is_some(),
                "{id}: gap at ({x}, {y})"
            );
        }
    }
    for y in 0..sy {
        for x in [0, sx - 1] {
            assert!(
                w.grid.get(Pos::new(x, y)).is_some(),
                "{id}: gap at ({x}, {y})"
            );
        }
    }
    room
}

fn check_layout(id: &str, seed: u64) {
    let spec = spec(id);
    let setup = spec.layout(seed);
    let w = &setup.world;
    let id = &format!("{id} seed {seed}");
    assert_eq!(setup.mission, "open the door", "{id}");
    assert_eq!(w.view_size, 3, "{id}");
    assert!(setup.rooms.is_none(), "{id}");
    let two_door = spec.id == "TwoDoor";
    let grid = if two_door { 20 } else { 10 };
    assert_eq!((w.width(), w.height()), (grid, grid), "{id}");
    let max_steps = match spec.id {
        "SimpleDoorKey" | "KeyInBox" | "RandomBoxKey" | "ColoredDoorKey" => 100,
        _ => 150,
    };
    assert_eq!(w.max_steps, max_steps, "{id}");
    assert_eq!((w.step_count, w.carrying), (0, None), "{id}");

    let room = read_room(id, w);
    let (sx, sy) = room.size;
    if two_door {
        assert_eq!(room.size, (20, 20), "{id}");
    } else {
        assert!(
            (5..=10).contains(&sx) && (5..=10).contains(&sy),
            "{id}: room {sx}x{sy}"
        );
    }
    let inside = |p: Pos| p.x > 0 && p.y > 0 && p.x < sx - 1 && p.y < sy - 1;
    assert!(inside(w.agent_pos), "{id}: agent at {:?}", w.agent_pos);
    assert_eq!(w.grid.get(w.agent_pos), None, "{id}: agent on an object");

    let door_color = room.doors[0].1.color();
    assert_eq!(room.doors.len(), if two_door { 2 } else { 1 }, "{id}");
    assert!(room.doors.iter().all(|d| d.1.color() == door_color), "{id}");
    let front = room.doors[0].2;
    let objs: Vec<Obj> = room.inside.iter().map(|&(_, o)| o).collect();
    let at_front = |o: Obj| room.inside.iter().any(|&(p, q)| q == o && p == front);

    match spec.id {
        "SimpleDoorKey" | "SimpleDoorKey-LLM4Teach" => {
            assert_eq!(objs, [Obj::Key(door_color)], "{id}");
        }
        "KeyInBox" => {
            assert_eq!(
                objs,
                [Obj::Box(door_color, Some(Item::Key(door_color)))],
                "{id}"
            );
        }
        "RandomBoxKey" => {
            let full = Obj::Box(door_color, Some(Item::Key(door_color)));
            let empty = Obj::Box(door_color, None);
            if objs.len() == 1 {
                assert_eq!(objs, [full], "{id}");
            } else {
                assert_eq!(objs.len(), 2, "{id}");
                assert!(
                    objs.contains(&Obj::Key(door_color)) && objs.contains(&empty),
                    "{id}"
                );
            }
            assert!(
                !at_front(full) && !at_front(empty),
                "{id}: box in front of the door"
            );
        }
        "ColoredDoorKey" | "ColoredDoorKey-LLM4Teach" => {
            assert_eq!(objs.len(), 2, "{id}");
            assert!(objs.iter().all(|o| o.kind() == Kind::Key), "{id}");
            assert!(objs.contains(&Obj::Key(door_color)), "{id}");
            let other = objs.iter().find(|o| o.color() != door_color);
            assert!(other.is_some(), "{id}: both keys open the door");
            if spec.id == "ColoredDoorKey-LLM4Teach" {
                assert_eq!(door_color, Color::Blue, "{id}");
                assert_eq!(other.unwrap().color(), Color::Red, "{id}");
            }
            assert!(
                room.inside.iter().all(|&(p, _)| p != front),
                "{id}: key in front"
            );
        }
        "LavaDoorKey" => {
            assert_eq!(objs.len(), 2, "{id}");
            assert!(
                objs.contains(&Obj::Key(door_color)) && objs.contains(&Obj::Lava),
                "{id}"
            );
            assert!(!at_front(Obj::Lava), "{id}: lava in front of the door");
        }
        "TwoDoor" => {
            let [(key_pos, key)] = room.inside[..] else {
                panic!("{id}: {:?}", room.inside)
            };
            assert_eq!(key, Obj::Key(door_color), "{id}");
            assert!(
                (9..=10).contains(&key_pos.x) && (9..=10).contains(&key_pos.y),
                "{id}"
            );
            let (a, b) = (room.doors[0].0, room.doors[1].0);
            let opposite = (a.x == 0 || a.x == sx - 1) && (b.x == 0 || b.x == sx - 1) && a.x != b.x
                || (a.y == 0 || a.y == sy - 1) && (b.y == 0 || b.y == sy - 1) && a.y != b.y;
            assert!(opposite, "{id}: doors at {a:?} and {b:?}");
        }
        other => panic!("unexpected seed task {other}"),
    }

    // Same seed, same layout.
    assert_eq!(spec.layout(seed).world, setup.world, "{id}");
}

/// The state a search node stands for: the agent, what it carries and every object but the
/// walls (the step counter left out).
#[derive(Clone, PartialEq, Eq, Hash)]
struct StateKey {
    pos: Pos,
    dir: Dir,
    carrying: Option<Obj>,
    objects: Vec<(Pos, Obj)>,
}

fn state_key(env: &Env) -> StateKey {
    let w = &env.world;
    StateKey {
        pos: w.agent_pos,
        dir: w.agent_dir,
        carrying: w.carrying,
        objects: w
            .grid
            .objects()
            .filter(|(_, o)| !matches!(o, Obj::Wall(_)))
            .collect(),
    }
}

/// Shortest action sequence that ends the episode with a reward, by breadth-first search over
/// whole world states. Without `Drop` the search is small; with it, it is bounded by `cap`.
fn solve(start: &Env, allow_drop: bool, cap: usize) -> Option<Vec<Action>> {
    let mut actions = vec![
        Action::Left,
        Action::Right,
        Action::Forward,
        Action::Pickup,
        Action::Toggle,
    ];
    if allow_drop {
        actions.push(Action::Drop);
    }
    let mut parent: HashMap<StateKey, (StateKey, Action)> = HashMap::new();
    let mut seen: HashSet<StateKey> = HashSet::new();
    let mut queue = VecDeque::new();
    seen.insert(state_key(start));
    queue.push_back(start.clone());
    while let Some(env) = queue.pop_front() {
        let here = state_key(&env);
        for &a in &actions {
            let mut next = env.clone();
            let t = next.step(a);
            if t.success() {
                let mut plan = vec![a];
                let mut at = here.clone();
                while let Some((prev, act)) = parent.get(&at) {
                    plan.push(*act);
                    at = prev.clone();
                }
                plan.reverse();
                return Some(plan);
            }
            if t.terminated {
                continue; // lava
            }
            let key = state_key(&next);
            if seen.insert(key.clone()) {
                if seen.len() > cap {
                    return None;
                }
                parent.insert(key, (here.clone(), a));
                queue.push_back(next);
            }
        }
    }
    None
}

fn check_solvable(id: &str, seed: u64) {
    let spec = spec(id);
    let env = Env::new(spec, seed);
    let plan = solve(&env, false, usize::MAX)
        .or_else(|| solve(&env, true, 400_000))
        .unwrap_or_else(|| panic!("{id} seed {seed}: no solution found\n{:?}", env.world));
    assert!(
        (plan.len() as u32) < env.world.max_steps,
        "{id} seed {seed}: shortest solution takes {} steps",
        plan.len()
    );
    // Replay from a fresh episode: the last step, and only it, succeeds.
    let mut env = Env::new(spec, seed);
    for (i, &a) in plan.iter().enumerate() {
        let t = env.step(a);
        assert_eq!(
            t.terminated,
            i + 1 == plan.len(),
            "{id} seed {seed} step {i}"
        );
        if t.terminated {
            assert!(t.reward > 0.0, "{id} seed {seed}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn seed_layouts_follow_the_seed_code(seed in any::<u64>()) {
        for id in SEED_TASKS {
            check_layout(id, seed);
        }
    }


    /// The texts read off the first memory map are well formed for every task.
    #[test]
    fn abstract_texts_are_well_formed(seed in any::<u64>()) {
        for id in SEED_TASKS {
            let env = Env::new(spec(id), seed);
            let map = MemoryMap::new(&env.world);
            let naming = Naming::for_task(id);
            let t = llm4teach(&map, naming);
            prop_assert!(t.starts_with("Agent sees <") && t.ends_with(", holds <nothing>."), "{t}");
            let t = when2ask(&map, naming);
            prop_assert!(t.starts_with("observed "), "{t}");
        }
    }
}

// The search runs unoptimised in `cargo test`; TwoDoor's 20x20 room costs ~0.5 s a seed there.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn seed_tasks_are_solvable(seed in any::<u64>()) {
        for id in SEED_TASKS.iter().filter(|&&id| id != "TwoDoor") {
            check_solvable(id, seed);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn two_door_is_solvable(seed in any::<u64>()) {
        check_solvable("TwoDoor", seed);
    }
}

/// A sweep over fixed seeds: every room size, wall and branch the seed code can draw shows up,
/// and what the seed code does not forbid (a key in front of the door in SimpleDoorKey) happens.
#[test]
fn seed_layouts_cover_what_the_seed_code_draws() {
    const SEEDS: u64 = 400;
    for id in SEED_TASKS {
        for seed in 0..40 {
            check_layout(id, seed);
        }
    }
    let mut widths = HashSet::new();
    let mut heights = HashSet::new();
    let mut walls = HashSet::new();
    let mut colors = HashSet::new();
    let mut key_in_front = 0;
    for seed in 0..SEEDS {
        let w = spec("SimpleDoorKey").layout(seed).world;
        let room = read_room("SimpleDoorKey", &w);
        widths.insert(room.size.0);
        heights.insert(room.size.1);
        let (door, obj, front) = room.doors[0];
        walls.insert(match door {
            p if p.x == 0 => 'W',
            p if p.y == 0 => 'N',
            p if p.x == room.size.0 - 1 => 'E',
            _ => 'S',
        });
        colors.insert(obj.color());
        key_in_front += usize::from(w.grid.get(front).is_some());
    }
    assert_eq!(widths, (5..=10).collect());
    assert_eq!(heights, (5..=10).collect());
    assert_eq!(walls.len(), 4);
    assert_eq!(colors.len(), 6);
    assert!(
        key_in_front > 0,
        "SimpleDoorKey never rejects the cell in front of the door"
    );

    let key_beside_box = (0..SEEDS)
        .filter(|&s| {
            let w = spec("RandomBoxKey").layout(s).world;
            w.grid.objects().any(|(_, o)| o.kind() == Kind::Key)
        })
        .count() as u64;
    assert!(
        (SEEDS / 3..SEEDS * 2 / 3).contains(&key_beside_box),
        "RandomBoxKey's coin flip: {key_beside_box} of {SEEDS}"
    );

    let distinct: HashSet<World> = (0..20).map(|s| spec("TwoDoor").layout(s).world).collect();
    assert!(
        distinct.len() > 15,
        "different seeds give different layouts"
    );
}
