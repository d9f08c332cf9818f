//! GLAM's mixed BabyAI levels over many seeds: every mission is sound, reads back, keeps to its
//! side of the held-out colour-object pairs, and the five task kinds come in fair shares.

use gridmentor_core::Setup;
use gridmentor_core::registry;
use gridmentor_core::rules::{Instr, Rule, SeqForm, TaskKind};
use gridmentor_core::world::{Color, DoorState, Kind, Obj, Pos, World};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

const TRAIN: &str = "BabyAI-MixedTrainLocal-v0";
const TEST: &str = "BabyAI-MixedTestLocal-v0";

/// `Level_MixedTrainLocal.exclude_substrings`, as the Python writes it.
const HELD_OUT: [&str; 5] = [
    "yellow box",
    "red key",
    "red door",
    "green ball",
    "grey door",
];

/// `Level_MixedTestLocal.exclude_substrings`.
const TEST_EXCLUDED: [&str; 19] = [
    "yellow key",
    "yellow ball",
    "yellow door",
    "red box",
    "red ball",
    "green box",
    "green key",
    "green door",
    "grey box",
    "grey key",
    "grey ball",
    "blue box",
    "blue key",
    "blue ball",
    "blue door",
    "purple box",
    "purple key",
    "purple ball",
    "purple door",
];

fn layout(id: &str, seed: u64) -> Setup {
    registry::find(id).unwrap().layout(seed)
}

fn instr(s: &Setup) -> &Instr {
    match &s.rule {
        Rule::BabyAi(i) => i,
        r => panic!("a mixed level gave {r:?}"),
    }
}

/// Cells the agent can walk to (through doors, locked or not, as BabyAI's
/// `check_objs_reachable` counts them).
fn walkable_from_agent(w: &World) -> HashSet<Pos> {
    let mut seen = HashSet::new();
    let mut stack = vec![w.agent_pos];
    while let Some(p) = stack.pop() {
        let passable = match w.grid.get(p) {
            None => true,
            Some(o) => o.kind() == Kind::Door,
        };
        if !w.grid.contains(p) || !passable || !seen.insert(p) {
            continue;
        }
        stack.extend([
            p.offset(1, 0),
            p.offset(-1, 0),
            p.offset(0, 1),
            p.offset(0, -1),
        ]);
    }
    seen
}

/// What must hold of every mixed-level episode; `Err` says what does not.
fn check(id: &str, s: &Setup) -> Result<(), String> {
    let i = instr(s);
    let kind = i.kind();
    if !matches!(
        kind,
        TaskKind::GoTo
            | TaskKind::PickUp
            | TaskKind::Open
            | TaskKind::PutNext
            | TaskKind::PickUpThenGoTo
    ) {
        return Err(format!("{kind} is not one of the five kinds"));
    }
    // The mission parses back into the same instruction.
    let mut back = Instr::parse(&s.mission).map_err(|e| e.to_string())?;
    back.reset(&s.world, s.rooms.as_ref());
    if &back != i || back.surface() != s.mission {
        return Err(format!("{:?} does not parse back to itself", s.mission));
    }
    // Every object the mission names exists and can be reached.
    let walk = walkable_from_agent(&s.world);
    for d in i.descs() {
        if d.objs.is_empty() {
            return Err(format!("nothing matches {:?}", d.surface()));
        }
        for t in &d.objs {
            let o = s.world.grid.get(t.pos);
            if o.is_none_or(|o| Some(o.kind()) != d.kind || d.color.is_some_and(|c| c != o.color()))
            {
                return Err(format!("{:?} is not at {:?}", d.surface(), t.pos));
            }
            let near = [(1, 0), (-1, 0), (0, 1), (0, -1)].map(|(dx, dy)| t.pos.offset(dx, dy));
            if !near.iter().any(|p| walk.contains(p)) {
                return Err(format!(
                    "{:?} at {:?} cannot be reached",
                    d.surface(),
                    t.pos
                ));
            }
        }
    }
    // The held-out pairs: never in training, only they at test time.
    let m = &s.mission;
    if id == TRAIN {
        if let Some(x) = HELD_OUT.iter().find(|x| m.contains(*x)) {
            return Err(format!("training mission {m:?} names {x:?}"));
        }
    } else if let Some(x) = TEST_EXCLUDED.iter().find(|x| m.contains(*x)) {
        return Err(format!("test mission {m:?} names {x:?}"));
    }
    // Rooms and the step limit: Open in two 8x8 rooms side by side, the others in one.
    let (w, h) = (s.world.width(), s.world.height());
    let (want, steps) = match kind {
        TaskKind::Open => ((15, 8), 128),
        TaskKind::PutNext | TaskKind::PickUpThenGoTo => ((8, 8), 128),
        _ => ((8, 8), 64),
    };
    if (w, h) != want || s.world.max_steps != steps {
        return Err(format!("{kind}: {w}x{h} with {} steps", s.world.max_steps));
    }
    if kind == TaskKind::Open {
        check_open(id, s)?;
    } else {
        let objects = s
            .world
            .grid
            .objects()
            .filter(|(_, o)| o.kind() != Kind::Wall);
        let want = if matches!(kind, TaskKind::GoTo | TaskKind::PickUp) {
            9
        } else {
            10
        };
        if objects.count() != want {
            return Err(format!("{kind} wants {want} objects"));
        }
    }
    Ok(())
}

/// The Open kind: one locked door in the wall between the rooms, of a colour the level allows;
/// its key, eight distractors and the agent all on one side; the locked room empty.
fn check_open(id: &str, s: &Setup) -> Result<(), String> {
    let w = &s.world;
    let doors: Vec<(Pos, Obj)> = w
        .grid
        .objects()
        .filter(|(_, o)| o.kind() == Kind::Door)
        .collect();
    let [(door_pos, Obj::Door(color, DoorState::Locked))] = doors[..] else {
        return Err(format!("want one locked door, found {doors:?}"));
    };
    if door_pos.x != 7 {
        return Err(format!(
            "the door at {door_pos:?} is not in the middle wall"
        ));
    }
    let allowed: &[Color] = if id == TRAIN {
        &[Color::Yellow, Color::Green, Color::Blue, Color::Purple]
    } else {
        &[Color::Red, Color::Grey]
    };
    if !allowed.contains(&color) {
        return Err(format!("a {} door", color.name()));
    }
    let agent_side = w.agent_pos.x < 7;
    let things: Vec<(Pos, Obj)> = w
        .grid
        .objects()
        .filter(|(_, o)| !matches!(o.kind(), Kind::Wall | Kind::Door))
        .collect();
    if things.len() != 9 {
        return Err(format!(
            "want the key and 8 distractors, found {}",
            things.len()
        ));
    }
    if !things.iter().any(|&(_, o)| o == Obj::Key(color)) {
        return Err("no key for the locked door".into());
    }
    if things.iter().any(|&(p, _)| (p.x < 7) != agent_side) {
        return Err("an object or the agent is in the locked room".into());
    }
    let Instr::Open(d) = instr(s) else {
        unreachable!()
    };
    if d.color.is_some_and(|c| c != color) || (id == TEST && d.color.is_none()) {
        return Err(format!("{:?} for a {} door", s.mission, color.name()));
    }
    Ok(())
}

#[test]
fn many_seeds_give_sound_missions_in_fair_shares() {
    const N: u64 = 1500;
    for id in [TRAIN, TEST] {
        let mut kinds: HashMap<TaskKind, u64> = HashMap::new();
        let (mut then, mut after, mut bare_door, mut named_door) = (0, 0, 0, 0);
        for seed in 0..N {
            let s = layout(id, seed);
            if let Err(e) = check(id, &s) {
                panic!("{id} seed {seed}: {e}");
            }
            let i = instr(&s);
            *kinds.entry(i.kind()).or_default() += 1;
            match i {
                Instr::Seq {
                    form: SeqForm::Then,
                    ..
                } => then += 1,
                Instr::Seq {
                    form: SeqForm::AfterYou,
                    ..
                } => after += 1,
                Instr::Open(d) if d.color.is_none() => bare_door += 1,
                Instr::Open(_) => named_door += 1,
                _ => {}
            }
        }
        // Each kind is drawn with chance 1/5: 300 expected, sd 15.5; allow five of them.
        for k in gridmentor_core::tasks::babyai::mixed::KINDS {
            let n = kinds.get(&k).copied().unwrap_or(0);
            assert!(
                (222..=378).contains(&n),
                "{id}: {k} {n} times in {N}: {kinds:?}"
            );
        }
        // The sequence is worded both ways, about equally.
        assert!(
            then > 100 && after > 100,
            "{id}: then {then}, after you {after}"
        );
        if id == TRAIN {
            assert!(
                bare_door > 100 && named_door > 100,
                "{bare_door} {named_door}"
            );
        } else {
            assert_eq!(bare_door, 0);
        }
    }
}

/// Print some missions (`cargo test -p gridmentor-core --test babyai_mixed -- --nocapture`).
#[test]
fn show_some_missions() {
    for id in [TRAIN, TEST] {
        for seed in 0..6 {
            let s = layout(id, seed);
            println!("{id} {seed}: [{}] {}", instr(&s).kind(), s.mission);
        }
    }
}

#[test]
fn recorded_missions_outside_the_mix_are_refused() {
    let spec = registry::find(TRAIN).unwrap();
    let s = (0..)
        .map(|seed| spec.layout(seed))
        .find(|s| instr(s).kind() == TaskKind::GoTo)
        .unwrap();
    let read = |m: &str| (spec.rule_from_layout)(&s.world, m);
    assert!(read(&s.mission).is_ok());
    // Swap the colour for one of the held-out pairs of its kind; the training level refuses it.
    let d = instr(&s).descs()[0].clone();
    let held = match d.kind.unwrap() {
        Kind::Box => "yellow box",
        Kind::Key => "red key",
        _ => "green ball",
    };
    let m = s.mission.replace(
        &format!("{} {}", d.color.unwrap().name(), d.kind.unwrap().name()),
        held,
    );
    let e = read(&m).unwrap_err();
    assert!(e.contains("held out") || e.contains("no object"), "{e}");
    assert!(
        read("go to the red ball please")
            .unwrap_err()
            .contains("unexpected words")
    );
    assert!(read("put the ball next to").is_err());
    assert!(
        read("go to a ball, then pick up the key")
            .unwrap_err()
            .contains("Sequence")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_seed_gives_a_sound_mission(seed in any::<u64>(), test in any::<bool>()) {
        let id = if test { TEST } else { TRAIN };
        let s = layout(id, seed);
        let r = check(id, &s);
        prop_assert!(r.is_ok(), "{} seed {}: {:?}", id, seed, r);
    }
}

/// Words of missions, good and bad, to build hostile ones from.
const WORDS: &[&str] = &[
    "go to",
    "pick up",
    "open",
    "put",
    "next to",
    "the",
    "a",
    "red",
    "grey",
    "key",
    "door",
    "ball",
    "box",
    "object",
    ",",
    ", then",
    "then",
    "after you",
    "after",
    "you",
    "on your left",
    "behind you",
    "",
    " ",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// A recorded mission is outside input (shared episodes): any word salad gets an answer,
    /// never a panic, and what parses has a kind.
    #[test]
    fn any_mission_text_is_answered(words in prop::collection::vec(0..WORDS.len(), 0..12), seed in 0u64..50) {
        let m: Vec<&str> = words.iter().map(|&k| WORDS[k]).collect();
        let m = m.join(" ");
        if let Ok(i) = Instr::parse(&m) {
            let _ = i.kind().name();
        }
        let spec = registry::find(TRAIN).unwrap();
        let s = spec.layout(seed);
        let _ = (spec.rule_from_layout)(&s.world, &m);
    }
}
