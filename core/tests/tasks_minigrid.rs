//! Property tests of the MiniGrid navigation tasks (Empty, LavaGap, Crossing, FourRooms,
//! MultiRoom, GoToDoor, RedBlueDoors): for many seeds the layout is well formed, its rule can be
//! re-derived from it, and a planner driving the real `Env` wins it.

use gridmentor_core::registry::{self, EnvSpec};
use gridmentor_core::rules::Rule;
use gridmentor_core::world::{Action, Color, Dir, DoorState, Obj, Pos, World};
use gridmentor_core::{Env, Setup};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

const TASKS: &[&str] = &[
    "MiniGrid-Empty-5x5-v0",
    "MiniGrid-Empty-Random-5x5-v0",
    "MiniGrid-Empty-6x6-v0",
    "MiniGrid-Empty-Random-6x6-v0",
    "MiniGrid-Empty-8x8-v0",
    "MiniGrid-Empty-16x16-v0",
    "MiniGrid-LavaGapS5-v0",
    "MiniGrid-LavaGapS6-v0",
    "MiniGrid-LavaGapS7-v0",
    "MiniGrid-LavaCrossingS9N1-v0",
    "MiniGrid-LavaCrossingS9N2-v0",
    "MiniGrid-LavaCrossingS9N3-v0",
    "MiniGrid-LavaCrossingS11N5-v0",
    "MiniGrid-SimpleCrossingS9N1-v0",
    "MiniGrid-SimpleCrossingS9N2-v0",
    "MiniGrid-SimpleCrossingS9N3-v0",
    "MiniGrid-SimpleCrossingS11N5-v0",
    "MiniGrid-FourRooms-v0",
    "MiniGrid-MultiRoom-N2-S4-v0",
    "MiniGrid-MultiRoom-N4-S5-v0",
    "MiniGrid-MultiRoom-N4-S5-v1",
    "MiniGrid-MultiRoom-N6-v0",
    "MiniGrid-GoToDoor-5x5-v0",
    "MiniGrid-GoToDoor-6x6-v0",
    "MiniGrid-GoToDoor-8x8-v0",
    "MiniGrid-RedBlueDoors-6x6-v0",
    "MiniGrid-RedBlueDoors-8x8-v0",
];

fn spec(id: &str) -> &'static EnvSpec {
    registry::find(id).unwrap_or_else(|e| panic!("{e}"))
}

fn goals(w: &World) -> Vec<Pos> {
    w.grid
        .objects()
        .filter(|&(_, o)| o == Obj::Goal)
        .map(|(p, _)| p)
        .collect()
}

fn doors(w: &World) -> Vec<(Pos, Color)> {
    w.grid
        .objects()
        .filter_map(|(p, o)| match o {
            Obj::Door(c, _) => Some((p, c)),
            _ => None,
        })
        .collect()
}

/// Where the agent may walk on its way: empty and overlappable cells except lava, and closed
/// doors when `through_doors` (opening one costs a toggle).
fn walkable(o: Option<Obj>, through_doors: bool) -> bool {
    match o {
        None => true,
        Some(Obj::Lava) => false,
        Some(Obj::Door(_, DoorState::Closed)) => through_doors,
        Some(o) => o.can_overlap(),
    }
}

/// The agent's position and direction.
type State = (Pos, Dir);

/// The shortest action sequence (breadth-first over position and direction) that leaves the
/// agent in a state where `done(pos, dir)` holds.
fn plan(w: &World, through_doors: bool, done: impl Fn(Pos, Dir) -> bool) -> Option<Vec<Action>> {
    let start = (w.agent_pos, w.agent_dir);
    let mut came_from: HashMap<State, (State, &'static [Action])> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    let mut seen = HashSet::from([start]);
    while let Some((p, d)) = queue.pop_front() {
        if done(p, d) {
            let mut actions = Vec::new();
            let mut at = (p, d);
            while at != start {
                let (prev, acts) = came_from[&at];
                actions.extend(acts.iter().rev());
                at = prev;
            }
            actions.reverse();
            return Some(actions);
        }
        let front = d.step(p);
        let mut next: Vec<(State, &'static [Action])> = vec![
            ((p, d.left()), &[Action::Left]),
            ((p, d.right()), &[Action::Right]),
        ];
        let cell = w.grid.get(front);
        if walkable(cell, through_doors) {
            let acts: &'static [Action] = match cell {
                Some(Obj::Door(_, DoorState::Closed)) => &[Action::Toggle, Action::Forward],
                _ => &[Action::Forward],
            };
            next.push(((front, d), acts));
        }
        for (s, acts) in next {
            if seen.insert(s) {
                came_from.insert(s, ((p, d), acts));
                queue.push_back(s);
            }
        }
    }
    None
}

/// Play `actions`; every step but the last must leave the episode running.
fn play(env: &mut Env, actions: &[Action], what: &str) -> Result<(f32, bool), String> {
    let mut last = (0.0, false);
    for (i, &a) in actions.iter().enumerate() {
        let t = env.step(a);
        if (t.terminated || t.truncated) && i + 1 < actions.len() {
            return Err(format!(
                "{what}: episode ended at step {i} of {}",
                actions.len()
            ));
        }
        last = (t.reward, t.terminated);
    }
    Ok(last)
}

/// Drive a fresh `Env` of `setup` to a win with a plan found on its layout.
fn solve(setup: &Setup) -> Result<(), String> {
    let mut env = Env::from_setup(setup.clone());
    // The plan need not be optimal in steps: give it all the time it needs.
    env.world.max_steps = u32::MAX;
    let w = env.world.clone();
    let no_plan = |what: &str| format!("no path to {what}");
    let (reward, terminated) = match setup.rule {
        Rule::ReachGoal => {
            let goal = goals(&w)[0];
            let mut acts =
                plan(&w, true, |p, d| d.step(p) == goal).ok_or_else(|| no_plan("the goal"))?;
            acts.push(Action::Forward);
            play(&mut env, &acts, "reach the goal")?
        }
        Rule::GoToDoor { target } => {
            let mut acts = plan(&w, false, |p, _| p.manhattan(target) == 1)
                .ok_or_else(|| no_plan("the target door"))?;
            acts.push(Action::Done);
            play(&mut env, &acts, "go to the door")?
        }
        Rule::RedBlueDoors { red, blue, .. } => {
            let mut acts =
                plan(&w, false, |p, d| d.step(p) == red).ok_or_else(|| no_plan("the red door"))?;
            acts.push(Action::Toggle);
            play(&mut env, &acts, "open the red door")?;
            let mut acts = plan(&env.world, false, |p, d| d.step(p) == blue)
                .ok_or_else(|| no_plan("the blue door"))?;
            acts.push(Action::Toggle);
            play(&mut env, &acts, "open the blue door")?
        }
        ref r => return Err(format!("unexpected rule {r:?}")),
    };
    if terminated && reward > 0.0 {
        Ok(())
    } else {
        Err(format!(
            "the plan ended with reward {reward}, terminated {terminated}"
        ))
    }
}

/// Everything that must hold of any layout of task `id`.
fn check_layout(id: &str, seed: u64) -> Result<(), String> {
    let spec = spec(id);
    let setup = spec.layout(seed);
    let w = &setup.world;

    if spec.layout(seed).world != *w {
        return Err("the same seed gave two layouts".into());
    }
    if !w.grid.contains(w.agent_pos) {
        return Err(format!("agent outside the grid at {:?}", w.agent_pos));
    }
    if let Some(o) = w.grid.get(w.agent_pos)
        && !o.can_overlap()
    {
        return Err(format!("agent on {o:?}"));
    }
    if w.carrying.is_some() || w.step_count != 0 {
        return Err("agent starts carrying something or with steps taken".into());
    }
    match setup.rule {
        Rule::ReachGoal => {
            if goals(w).len() != 1 {
                return Err(format!("{} goals", goals(w).len()));
            }
        }
        Rule::GoToDoor { target } => {
            let Some(Obj::Door(c, DoorState::Closed)) = w.grid.get(target) else {
                return Err(format!("target {target:?} is not a closed door"));
            };
            if setup.mission != format!("go to the {c} door") {
                return Err(format!(
                    "mission {:?} does not name the {c} target",
                    setup.mission
                ));
            }
        }
        Rule::RedBlueDoors { red, blue, .. } => {
            if w.grid.get(red) != Some(Obj::Door(Color::Red, DoorState::Closed))
                || w.grid.get(blue) != Some(Obj::Door(Color::Blue, DoorState::Closed))
            {
                return Err("red or blue door missing".into());
            }
        }
        ref r => return Err(format!("unexpected rule {r:?}")),
    }
    let (rule, rooms) = (spec.rule_from_layout)(w, &setup.mission)?;
    if rule != setup.rule || rooms != setup.rooms {
        return Err(format!(
            "rule from layout {rule:?}, generated {:?}",
            setup.rule
        ));
    }
    solve(&setup)
}

#[test]
fn every_task_is_registered_with_its_short_alias() {
    for id in TASKS {
        let alias = id.trim_start_matches("MiniGrid-").trim_end_matches("-v0");
        assert_eq!(spec(alias).id, *id);
        assert_eq!(spec(id).family, "minigrid");
    }
    assert_eq!(spec("FourRooms").id, "MiniGrid-FourRooms-v0");
    assert_eq!(spec("LavaGapS5").id, "MiniGrid-LavaGapS5-v0");
}

#[test]
fn first_seeds_of_every_task_are_well_formed_and_solvable() {
    for id in TASKS {
        for seed in 0..60 {
            if let Err(e) = check_layout(id, seed) {
                panic!("{id} seed {seed}: {e}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_seed_of_any_task_is_well_formed_and_solvable(task in 0..TASKS.len(), seed in any::<u64>()) {
        if let Err(e) = check_layout(TASKS[task], seed) {
            prop_assert!(false, "{} seed {seed}: {e}", TASKS[task]);
        }
    }
}

/// Task name, map size, `max_steps`, see-through walls, mission (empty: any).
type Settings = (&'static str, (i32, i32), u32, bool, &'static str);

/// The settings MiniGrid gives each task: map size, `max_steps`, see-through walls, mission.
#[test]
fn settings_follow_minigrid() {
    let cases: &[Settings] = &[
        (
            "Empty-5x5",
            (5, 5),
            100,
            true,
            "get to the green goal square",
        ),
        (
            "Empty-Random-6x6",
            (6, 6),
            144,
            true,
            "get to the green goal square",
        ),
        (
            "Empty-16x16",
            (16, 16),
            1024,
            true,
            "get to the green goal square",
        ),
        (
            "LavaGapS6",
            (6, 6),
            144,
            false,
            "avoid the lava and get to the green goal square",
        ),
        (
            "LavaCrossingS11N5",
            (11, 11),
            484,
            false,
            "avoid the lava and get to the green goal square",
        ),
        (
            "SimpleCrossingS9N1",
            (9, 9),
            324,
            false,
            "find the opening and get to the green goal square",
        ),
        ("FourRooms", (19, 19), 100, false, "reach the goal"),
        (
            "MultiRoom-N2-S4",
            (25, 25),
            40,
            false,
            "traverse the rooms to get to the goal",
        ),
        (
            "MultiRoom-N4-S5",
            (25, 25),
            120,
            false,
            "traverse the rooms to get to the goal",
        ),
        (
            "MultiRoom-N4-S5-v1",
            (25, 25),
            80,
            false,
            "traverse the rooms to get to the goal",
        ),
        (
            "MultiRoom-N6",
            (25, 25),
            120,
            false,
            "traverse the rooms to get to the goal",
        ),
        ("GoToDoor-6x6", (6, 6), 144, true, ""),
        (
            "RedBlueDoors-6x6",
            (12, 6),
            720,
            false,
            "open the red door then the blue door",
        ),
        (
            "RedBlueDoors-8x8",
            (16, 8),
            1280,
            false,
            "open the red door then the blue door",
        ),
    ];
    for &(name, size, max_steps, see_through, mission) in cases {
        let s = spec(name).layout(3);
        let w = &s.world;
        assert_eq!((w.width(), w.height()), size, "{name}");
        assert_eq!(w.max_steps, max_steps, "{name}");
        assert_eq!(w.see_through_walls, see_through, "{name}");
        assert_eq!(w.view_size, 7, "{name}");
        if !mission.is_empty() {
            assert_eq!(s.mission, mission, "{name}");
        }
    }
}

#[test]
fn empty_starts_in_the_corner_or_anywhere_in_random() {
    for seed in 0..50 {
        let w = spec("Empty-8x8").layout(seed).world;
        assert_eq!((w.agent_pos, w.agent_dir), (Pos::new(1, 1), Dir::East));
        assert_eq!(goals(&w), [Pos::new(6, 6)]);
    }
    let mut cells = BTreeSet::new();
    let mut dirs = BTreeSet::new();
    for seed in 0..400 {
        let w = spec("Empty-Random-5x5").layout(seed).world;
        cells.insert(w.agent_pos);
        dirs.insert(w.agent_dir as u8);
    }
    // The 3x3 interior minus the goal.
    assert_eq!(cells.len(), 8, "{cells:?}");
    assert!(!cells.contains(&Pos::new(3, 3)));
    assert_eq!(dirs.len(), 4);
}

#[test]
fn lavagap_has_one_gap_anywhere_in_a_strip_between_agent_and_goal() {
    let mut gaps = BTreeSet::new();
    for seed in 0..400 {
        let w = spec("LavaGapS7").layout(seed).world;
        let lava: Vec<Pos> = w
            .grid
            .objects()
            .filter(|&(_, o)| o == Obj::Lava)
            .map(|(p, _)| p)
            .collect();
        assert_eq!(lava.len(), 4, "seed {seed}");
        let x = lava[0].x;
        assert!(lava.iter().all(|p| p.x == x) && (2..=4).contains(&x));
        let gap = (1..6)
            .map(|y| Pos::new(x, y))
            .find(|&p| w.grid.get(p).is_none())
            .unwrap();
        gaps.insert(gap);
    }
    assert_eq!(gaps.len(), 15, "every column 2..=4 and row 1..=5: {gaps:?}");
}

/// Full rows and columns of obstacles (an opening counts as part of its river).
fn rivers(w: &World, obstacle: Obj) -> (Vec<i32>, Vec<i32>) {
    let n = w.width();
    let line = |cells: Vec<Option<Obj>>| {
        let blocked = cells.iter().filter(|&&c| c == Some(obstacle)).count();
        blocked + 1 >= cells.len() && blocked > 1
    };
    let cols =
        (2..n - 2).filter(|&x| line((1..n - 1).map(|y| w.grid.get(Pos::new(x, y))).collect()));
    let rows =
        (2..n - 2).filter(|&y| line((1..n - 1).map(|x| w.grid.get(Pos::new(x, y))).collect()));
    (cols.collect(), rows.collect())
}

#[test]
fn crossings_have_n_rivers_on_even_lines_in_both_orientations() {
    for (name, n, obstacle) in [
        ("LavaCrossingS9N1", 1, Obj::Lava),
        ("LavaCrossingS9N3", 3, Obj::Lava),
        ("LavaCrossingS11N5", 5, Obj::Lava),
        ("SimpleCrossingS9N2", 2, Obj::WALL),
    ] {
        let (mut saw_cols, mut saw_rows) = (false, false);
        for seed in 0..200 {
            let w = spec(name).layout(seed).world;
            let (cols, rows) = rivers(&w, obstacle);
            assert_eq!(
                cols.len() + rows.len(),
                n,
                "{name} seed {seed}: {cols:?} {rows:?}"
            );
            assert!(cols.iter().chain(&rows).all(|v| v % 2 == 0));
            saw_cols |= !cols.is_empty();
            saw_rows |= !rows.is_empty();
            // Crossing a river opens exactly one of its cells.
            let openings = w.grid.positions().filter(|&p| {
                w.grid.get(p).is_none() && (cols.contains(&p.x) || rows.contains(&p.y))
            });
            assert_eq!(openings.count(), n, "{name} seed {seed}");
        }
        assert!(
            saw_cols && saw_rows,
            "{name}: rivers of one orientation only"
        );
    }
}

#[test]
fn fourrooms_has_four_gaps_and_puts_agent_and_goal_in_every_room() {
    let room = |p: Pos| (p.x > 9) as u8 + 2 * (p.y > 9) as u8;
    let (mut agent_rooms, mut goal_rooms) = (BTreeSet::new(), BTreeSet::new());
    for seed in 0..200 {
        let w = spec("FourRooms").layout(seed).world;
        let gaps = w
            .grid
            .positions()
            .filter(|&p| (p.x == 9 || p.y == 9) && p.x % 18 != 0 && p.y % 18 != 0)
            .filter(|&p| w.grid.get(p).is_none_or(|o| o == Obj::Goal) && p != Pos::new(9, 9))
            .count();
        assert_eq!(gaps, 4, "seed {seed}");
        agent_rooms.insert(room(w.agent_pos));
        goal_rooms.insert(room(goals(&w)[0]));
        assert_ne!(w.agent_pos, goals(&w)[0]);
    }
    assert_eq!((agent_rooms.len(), goal_rooms.len()), (4, 4));
}

#[test]
fn multiroom_chains_n_rooms_with_doors_that_change_colour() {
    for (name, rooms) in [
        ("MultiRoom-N2-S4", 2),
        ("MultiRoom-N4-S5", 6),
        ("MultiRoom-N4-S5-v1", 4),
        ("MultiRoom-N6", 6),
    ] {
        for seed in 0..40 {
            let w = spec(name).layout(seed).world;
            let ds = doors(&w);
            assert_eq!(ds.len(), rooms - 1, "{name} seed {seed}");
            assert!(
                ds.iter()
                    .all(|&(p, _)| matches!(w.grid.get(p), Some(Obj::Door(_, DoorState::Closed))))
            );
            // Walk the chain from the agent: each door leads on, and no two doors in a row share a
            // colour (the order along the path is the order of the chain).
            let mut order = Vec::new();
            let mut world = w.clone();
            for _ in 0..ds.len() {
                let next = plan(&world, false, |p, d| {
                    matches!(
                        world.grid.get(d.step(p)),
                        Some(Obj::Door(_, DoorState::Closed))
                    )
                })
                .unwrap_or_else(|| panic!("{name} seed {seed}: a door is unreachable"));
                for a in next {
                    world.step(a);
                }
                let front = world.front_pos();
                order.push(world.grid.get(front).unwrap().color());
                world.step(Action::Toggle);
            }
            assert!(
                order.windows(2).all(|c| c[0] != c[1]),
                "{name} seed {seed}: {order:?}"
            );
        }
    }
}

#[test]
fn gotodoor_has_four_distinct_doors_one_per_wall_and_any_can_be_the_target() {
    let mut sizes = BTreeSet::new();
    let mut targets = BTreeSet::new();
    for seed in 0..300 {
        let s = spec("GoToDoor-8x8").layout(seed);
        let w = &s.world;
        let ds = doors(w);
        assert_eq!(ds.len(), 4);
        let colors: BTreeSet<u8> = ds.iter().map(|&(_, c)| c as u8).collect();
        assert_eq!(colors.len(), 4, "seed {seed}");
        let (rw, rh) = (
            ds.iter().map(|d| d.0.x).max().unwrap() + 1,
            ds.iter().map(|d| d.0.y).max().unwrap() + 1,
        );
        sizes.insert((rw, rh));
        let Rule::GoToDoor { target } = s.rule else {
            panic!()
        };
        targets.insert(match target {
            Pos { y: 0, .. } => 'n',
            Pos { x: 0, .. } => 'w',
            p if p.y == rh - 1 => 's',
            _ => 'e',
        });
    }
    assert_eq!(
        sizes.len(),
        16,
        "room sizes 5..=8 in both directions: {sizes:?}"
    );
    assert_eq!(targets.len(), 4);
}

#[test]
fn redbluedoors_puts_red_west_and_blue_east_of_the_agent() {
    for seed in 0..100 {
        let s = spec("RedBlueDoors-8x8").layout(seed);
        let Rule::RedBlueDoors { red, blue, .. } = s.rule else {
            panic!()
        };
        assert_eq!((red.x, blue.x), (4, 11));
        assert!((4..12).contains(&s.world.agent_pos.x));
    }
}

#[test]
fn opening_the_blue_door_first_loses() {
    let setup = spec("RedBlueDoors-6x6").layout(9);
    let Rule::RedBlueDoors { blue, .. } = setup.rule else {
        panic!()
    };
    let mut env = Env::from_setup(setup);
    let mut acts = plan(&env.world, false, |p, d| d.step(p) == blue).unwrap();
    acts.push(Action::Toggle);
    assert_eq!(play(&mut env, &acts, "blue first").unwrap(), (0.0, true));
}

#[test]
fn rule_from_layout_refuses_layouts_that_do_not_fit() {
    let empty = spec("Empty-8x8").layout(0);
    let err = (spec("Empty-8x8").rule_from_layout)(&empty.world, "reach the goal").unwrap_err();
    assert!(err.contains("mission"), "{err}");
    let mut no_goal = empty.world.clone();
    no_goal.grid.set(Pos::new(6, 6), None);
    let err = (spec("Empty-8x8").rule_from_layout)(&no_goal, &empty.mission).unwrap_err();
    assert!(err.contains("no goal"), "{err}");

    let g = spec("GoToDoor-5x5").layout(0);
    let err = (spec("GoToDoor-5x5").rule_from_layout)(&g.world, "go to the pink door").unwrap_err();
    assert!(err.contains("go to the <colour> door"), "{err}");
    let absent = Color::ALL
        .into_iter()
        .find(|&c| doors(&g.world).iter().all(|d| d.1 != c))
        .unwrap();
    let err =
        (spec("GoToDoor-5x5").rule_from_layout)(&g.world, &format!("go to the {absent} door"))
            .unwrap_err();
    assert!(err.contains(&format!("no {absent} door")), "{err}");

    let r = spec("RedBlueDoors-8x8").layout(0);
    let (blue, _) = doors(&r.world)
        .into_iter()
        .find(|d| d.1 == Color::Blue)
        .unwrap();
    let mut no_blue = r.world.clone();
    no_blue.grid.set(blue, Some(Obj::WALL));
    let err = (spec("RedBlueDoors-8x8").rule_from_layout)(&no_blue, &r.mission).unwrap_err();
    assert!(err.contains("no blue door"), "{err}");
}
