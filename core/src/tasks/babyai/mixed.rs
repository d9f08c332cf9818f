//! GLAM's `BabyAI-MixedTrainLocal-v0` and `BabyAI-MixedTestLocal-v0` (`mixed_seq_levels.py`):
//! one of five task kinds per episode, with five colour-object pairs held out of training.

use super::levels::{SINGLE, add_locked_room, desc_of};
use crate::env::{GenError, Setup};
use crate::rng::Rng;
use crate::rules::{Instr, ObjDesc, RoomLayout, Rule, SeqForm, TaskKind};
use crate::tasks::builder::MAX_TRIES;
use crate::tasks::roomgrid::RoomGrid;
use crate::world::{Color, Kind, Obj, Pos, World};
use alloc::format;
use alloc::string::String;

/// The kinds a mix draws from, in the Python's order
/// (`['goto', 'pickup', 'open', 'putnext', 'pick up seq go to']`).
pub const KINDS: [TaskKind; 5] = [
    TaskKind::GoTo,
    TaskKind::PickUp,
    TaskKind::Open,
    TaskKind::PutNext,
    TaskKind::PickUpThenGoTo,
];

/// The colour-object pairs training never names and testing names only ("yellow box",
/// "red key", "red door", "green ball", "grey door").
pub const HELD_OUT: [(Color, Kind); 5] = [
    (Color::Yellow, Kind::Box),
    (Color::Red, Kind::Key),
    (Color::Red, Kind::Door),
    (Color::Green, Kind::Ball),
    (Color::Grey, Kind::Door),
];

/// `num_dists`: distractors per room (the single-room kinds add one or two to it).
const NUM_DISTS: usize = 8;

/// The Open kind's two rooms side by side (`num_cols = 2`).
const TWO_ROOMS: RoomLayout = RoomLayout {
    room_size: 8,
    rows: 1,
    cols: 2,
};

/// How often `_gen_grid` starts again after a rejected mission before this attempt gives up
/// (the Python loops for ever; a failed attempt moves to the registry's next stream).
const REGEN_TRIES: u32 = 100;

/// Which colour-object pairs a mix's missions may name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Pairs {
    /// Training: none of [`HELD_OUT`].
    AvoidHeldOut,
    /// Testing: only [`HELD_OUT`] (the Python excludes the 19 other pairs).
    OnlyHeldOut,
}

/// One of GLAM's two mixes.
#[derive(Clone, Debug)]
pub struct Mixed {
    /// The colours the Open kind's locked door is drawn from.
    pub door_colors: &'static [Color],
    /// The Open mission may leave the colour out ("open the door"): drawn among none and the
    /// door's colour in training, always named at test time.
    pub door_color_optional: bool,
    /// `exclude_substrings`, as pairs rather than substrings of the mission.
    pub pairs: Pairs,
}

pub const TRAIN: Mixed = Mixed {
    door_colors: &[Color::Yellow, Color::Green, Color::Blue, Color::Purple],
    door_color_optional: true,
    pairs: Pairs::AvoidHeldOut,
};

/// `Level_MixedTestLocal`. Its docstring says test sequences add "pick up A then pick up B";
/// its code draws the same "pick up A then go to B" as training, which is what this follows.
pub const TEST: Mixed = Mixed {
    door_colors: &[Color::Red, Color::Grey],
    door_color_optional: false,
    pairs: Pairs::OnlyHeldOut,
};

impl Mixed {
    /// `not exclude_substrings()`: every colour-object pair the mission names is allowed (a
    /// description without a colour names no pair), and a test-time door is named by colour.
    pub fn accepts(&self, instr: &Instr) -> bool {
        let pairs_ok = instr.descs().iter().all(|d| match (d.color, d.kind) {
            (Some(c), Some(k)) => HELD_OUT.contains(&(c, k)) == (self.pairs == Pairs::OnlyHeldOut),
            _ => true,
        });
        let door_ok = match instr {
            Instr::Open(d) => self.door_color_optional || d.color.is_some(),
            _ => true,
        };
        pairs_ok && door_ok
    }
}

/// The rooms a kind is played in: two for Open, one otherwise.
pub fn layout_for(kind: TaskKind) -> RoomLayout {
    if kind == TaskKind::Open {
        TWO_ROOMS
    } else {
        SINGLE
    }
}

/// `RoomGridLevel._gen_grid` with GLAM's `gen_mission`: redraw until the mission is accepted
/// and every object reachable, start again when `validate_instrs` rejects it.
pub fn generate(rng: &mut Rng, mix: &Mixed) -> Result<Setup, GenError> {
    // GLAM draws the kind once per env object, in `__init__`, from a generator not yet seeded
    // (so one env plays one kind for ever); here it is the seed's first draw, per episode.
    let kind = *rng.choose(&KINDS);
    let layout = layout_for(kind);
    for _ in 0..REGEN_TRIES {
        // `RoomGrid._gen_grid` builds a grid that `gen_mission` replaces at once
        // (`_regen_grid`); it is built for its draws, to keep the Python's order.
        drop(RoomGrid::new(rng, layout, 0));
        let Ok((world, layout, instr)) = gen_mission(rng, mix, kind) else {
            continue;
        };
        if let Ok(setup) = super::setup(world, layout, instr) {
            return Ok(setup);
        }
    }
    Err(GenError("no mixed-level mission passed validation"))
}

/// `gen_mission` for one kind: the Python's `while not mission_accepted or not
/// all_objects_reachable` loop. An error is the Python's `RecursionError`: start again.
fn gen_mission(
    rng: &mut Rng,
    mix: &Mixed,
    kind: TaskKind,
) -> Result<(World, RoomLayout, Instr), GenError> {
    for _ in 0..MAX_TRIES {
        let mut g = RoomGrid::new(rng, layout_for(kind), 0);
        let (instr, reachable) = match kind {
            TaskKind::Open => open(&mut g, mix)?,
            _ => single_room(&mut g, kind)?,
        };
        if reachable && mix.accepts(&instr) {
            let (world, layout) = g.finish();
            return Ok((world, layout, instr));
        }
    }
    Err(GenError("no accepted mixed-level mission"))
}

/// The Open kind: a locked door between two rooms, its key and eight distractors in the other
/// room, the agent there too; open the door, by colour or not.
fn open(g: &mut RoomGrid, mix: &Mixed) -> Result<(Instr, bool), GenError> {
    let color = g.b.rand_elem(mix.door_colors);
    let locked = add_locked_room(g, color)?;
    g.connect_all(&Color::ALL, 5000)?;
    for j in 0..g.rows() {
        for i in 0..g.cols() {
            if (i, j) != locked {
                g.add_distractors(Some(i), Some(j), NUM_DISTS, false)?;
            }
        }
    }
    let mut placed = false;
    for _ in 0..MAX_TRIES {
        let p = g.place_agent(None, None, true)?;
        if g.room_from_pos(p) != locked {
            placed = true;
            break;
        }
    }
    if !placed {
        return Err(GenError("the agent kept landing in the locked room"));
    }
    let reachable = g.objs_reachable();
    let named = if mix.door_color_optional {
        g.b.rand_elem(&[None, Some(color)])
    } else {
        Some(color)
    };
    let desc = ObjDesc::new(Some(Kind::Door), named, None);
    Ok((Instr::Open(desc), reachable))
}

/// The single-room kinds: the agent, then nine (go to, pick up) or ten (put next, the
/// sequence) distractors, repeats allowed, and the instruction drawn among them. (The Python
/// redraws objects that are doors; distractors never are.)
fn single_room(g: &mut RoomGrid, kind: TaskKind) -> Result<(Instr, bool), GenError> {
    g.place_agent(None, None, true)?;
    let extra = match kind {
        TaskKind::GoTo | TaskKind::PickUp => 1,
        _ => 2,
    };
    let objs = g.add_distractors(None, None, NUM_DISTS + extra, false)?;
    let reachable = g.objs_reachable();
    let instr = match kind {
        TaskKind::GoTo => Instr::GoTo(desc_of(g.b.rand_elem(&objs).0)),
        TaskKind::PickUp => pickup(g.b.rand_elem(&objs).0),
        TaskKind::PutNext => {
            let (a, b) = distinct_pair(g, &objs)?;
            Instr::PutNext {
                moved: desc_of(a),
                fixed: desc_of(b),
            }
        }
        TaskKind::PickUpThenGoTo => {
            let (a, b) = distinct_pair(g, &objs)?;
            let form = g.b.rand_elem(&[SeqForm::Then, SeqForm::AfterYou]);
            Instr::seq(form, pickup(a), Instr::GoTo(desc_of(b)))
        }
        TaskKind::Open | TaskKind::Sequence => unreachable!("not a single-room kind of the mix"),
    };
    Ok((instr, reachable))
}

fn pickup(o: Obj) -> Instr {
    Instr::Pickup {
        desc: desc_of(o),
        was_empty_handed: true,
    }
}

/// Two objects of `objs`; when the first is the only one of its colour and kind, the second
/// is redrawn until it differs (a description shared by several objects may name both).
fn distinct_pair(g: &mut RoomGrid, objs: &[(Obj, Pos)]) -> Result<(Obj, Obj), GenError> {
    let same = |x: Obj, y: Obj| (x.kind(), x.color()) == (y.kind(), y.color());
    let a = g.b.rand_elem(objs).0;
    let mut b = g.b.rand_elem(objs).0;
    if same(a, b) {
        let mut d = desc_of(a);
        d.find(g.world(), Some(&g.layout));
        if d.objs.len() < 2 {
            let mut tries = 0;
            while same(a, b) {
                tries += 1;
                if tries > MAX_TRIES {
                    return Err(GenError("no second object to pair with the first"));
                }
                b = g.b.rand_elem(objs).0;
            }
        }
    }
    Ok((a, b))
}

/// Read a recorded mission back: one of the five kinds, in the rooms that kind is played in,
/// naming only the pairs this mix allows.
pub fn rule_from_layout(
    world: &World,
    mission: &str,
    mix: &Mixed,
) -> Result<(Rule, Option<RoomLayout>), String> {
    let (instr, layout) = super::read_back(world, mission, &KINDS, layout_for)?;
    if !mix.accepts(&instr) {
        let why = match mix.pairs {
            Pairs::AvoidHeldOut => "names a pair held out of training",
            Pairs::OnlyHeldOut => {
                "names a pair outside the held-out ones, or a door without its colour"
            }
        };
        return Err(format!("{mission:?} {why}"));
    }
    Ok((Rule::BabyAi(instr), Some(layout)))
}
