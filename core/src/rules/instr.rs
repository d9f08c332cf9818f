//! BabyAI instructions (go to, pick up, open, put next to, two in sequence) with MiniGrid 3.2's
//! `verifier.py` semantics, a parser from mission text back, and each mission's task kind.

use super::{RoomLayout, Tracked, Verdict};
use crate::world::{Action, Color, DoorState, Kind, Obj, Pos, StepEvent, World};
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// Where an object is relative to the agent at the start of the episode.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Loc {
    Left,
    Right,
    Front,
    Behind,
}

impl Loc {
    pub const ALL: [Loc; 4] = [Loc::Left, Loc::Right, Loc::Front, Loc::Behind];

    fn phrase(self) -> &'static str {
        match self {
            Loc::Left => " on your left",
            Loc::Right => " on your right",
            Loc::Front => " in front of you",
            Loc::Behind => " behind you",
        }
    }
}

/// BabyAI's `ObjDesc`: a description ("the red ball on your left") and the objects it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjDesc {
    /// `None` means "object": any kind.
    pub kind: Option<Kind>,
    pub color: Option<Color>,
    pub loc: Option<Loc>,
    /// The matching objects at reset, followed through the episode.
    pub objs: Vec<Tracked>,
    /// Their positions as last refreshed (at reset and after every drop action).
    pub poss: Vec<Pos>,
}

impl ObjDesc {
    pub fn new(kind: Option<Kind>, color: Option<Color>, loc: Option<Loc>) -> ObjDesc {
        ObjDesc {
            kind,
            color,
            loc,
            objs: Vec::new(),
            poss: Vec::new(),
        }
    }

    fn matches(&self, o: Obj) -> bool {
        self.kind.is_none_or(|k| o.kind() == k) && self.color.is_none_or(|c| o.color() == c)
    }

    /// `find_matching_objs(env, use_location=True)`.
    pub fn find(&mut self, world: &World, rooms: Option<&RoomLayout>) {
        self.objs.clear();
        self.poss.clear();
        let room = rooms.map(|r| r.room_of(world.agent_pos));
        let (d1x, d1y) = world.agent_dir.vec();
        let (d2x, d2y) = (-d1y, d1x);
        // MiniGrid scans x-major; keep its order.
        for x in 0..world.width() {
            for y in 0..world.height() {
                let p = Pos::new(x, y);
                let Some(o) = world.grid.get(p) else { continue };
                if !self.matches(o) {
                    continue;
                }
                if let Some(loc) = self.loc {
                    if let Some((top, size)) = room
                        && (x < top.x || y < top.y || x >= top.x + size.x || y >= top.y + size.y)
                    {
                        continue;
                    }
                    let (vx, vy) = (x - world.agent_pos.x, y - world.agent_pos.y);
                    let ok = match loc {
                        Loc::Left => vx * d2x + vy * d2y < 0,
                        Loc::Right => vx * d2x + vy * d2y > 0,
                        Loc::Front => vx * d1x + vy * d1y > 0,
                        Loc::Behind => vx * d1x + vy * d1y < 0,
                    };
                    if !ok {
                        continue;
                    }
                }
                self.objs.push(Tracked::at(p));
                self.poss.push(p);
            }
        }
    }

    /// `find_matching_objs(env, use_location=False)`: positions of the tracked objects still in
    /// the grid.
    fn refresh_positions(&mut self) {
        let mut poss: Vec<Pos> = self
            .objs
            .iter()
            .filter(|t| t.in_grid())
            .map(|t| t.pos)
            .collect();
        poss.sort_by_key(|p| (p.x, p.y));
        self.poss = poss;
    }

    fn follow(&mut self, ev: &StepEvent) {
        for t in &mut self.objs {
            t.follow(ev);
        }
    }

    /// BabyAI's surface form: "the red ball", "a key on your left", "the object".
    pub fn surface(&self) -> String {
        let mut s = String::new();
        s.push_str(if self.objs.len() > 1 { "a " } else { "the " });
        if let Some(c) = self.color {
            s.push_str(c.name());
            s.push(' ');
        }
        s.push_str(self.kind.map_or("object", Kind::name));
        if let Some(l) = self.loc {
            s.push_str(l.phrase());
        }
        s
    }
}

/// How a sequence is worded: BabyAI's `BeforeInstr` ("A, then B") or `AfterInstr`
/// ("B after you A"). Both mean the same task: A first, then B.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SeqForm {
    /// `BeforeInstr`: "pick up the red key, then go to the blue ball".
    Then,
    /// `AfterInstr`: "go to the blue ball after you pick up the red key".
    AfterYou,
}

/// A BabyAI instruction and its verifier state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instr {
    GoTo(ObjDesc),
    Pickup {
        desc: ObjDesc,
        /// The agent carried nothing after the step this instruction was last verified on
        /// (`preCarrying is None`).
        was_empty_handed: bool,
    },
    Open(ObjDesc),
    PutNext {
        moved: ObjDesc,
        fixed: ObjDesc,
    },
    /// `BeforeInstr` / `AfterInstr`: `first` must succeed, then `second`; a failure of either
    /// fails. Both are action instructions (BabyAI asserts it; [`Instr::parse`] refuses nesting).
    Seq {
        form: SeqForm,
        first: Box<Instr>,
        second: Box<Instr>,
        /// `first` has succeeded (`a_done == 'success'`).
        first_done: bool,
    },
}

impl Instr {
    /// A sequence: `first`, then `second`, worded as `form` says.
    pub fn seq(form: SeqForm, first: Instr, second: Instr) -> Instr {
        Instr::Seq {
            form,
            first: Box::new(first),
            second: Box::new(second),
            first_done: false,
        }
    }

    /// `reset_verifier`.
    pub fn reset(&mut self, world: &World, rooms: Option<&RoomLayout>) {
        match self {
            Instr::GoTo(d) | Instr::Open(d) => d.find(world, rooms),
            Instr::Pickup {
                desc,
                was_empty_handed,
            } => {
                desc.find(world, rooms);
                *was_empty_handed = true;
            }
            Instr::PutNext { moved, fixed } => {
                moved.find(world, rooms);
                fixed.find(world, rooms);
            }
            Instr::Seq {
                first,
                second,
                first_done,
                ..
            } => {
                first.reset(world, rooms);
                second.reset(world, rooms);
                *first_done = false;
            }
        }
    }

    /// `RoomGridLevel.step` after the base step: follow objects, refresh positions after a
    /// drop, then `verify_action`.
    pub fn verify(&mut self, world: &World, action: Action, ev: &StepEvent) -> Verdict {
        self.track(action, ev);
        self.judge(world, action, ev)
    }

    /// Follow the described objects through the step and refresh their positions after a drop
    /// (`update_objs_poss`). In BabyAI this happens to every part of a sequence on every step,
    /// object identity and `update_objs_poss` being outside `verify`; so it is apart from
    /// [`Instr::judge`], which a sequence calls only on the part it is waiting for.
    fn track(&mut self, action: Action, ev: &StepEvent) {
        let refresh = action == Action::Drop;
        let one = |d: &mut ObjDesc| {
            d.follow(ev);
            if refresh {
                d.refresh_positions();
            }
        };
        match self {
            Instr::GoTo(d) | Instr::Open(d) | Instr::Pickup { desc: d, .. } => one(d),
            Instr::PutNext { moved, fixed } => {
                one(moved);
                one(fixed);
            }
            Instr::Seq { first, second, .. } => {
                first.track(action, ev);
                second.track(action, ev);
            }
        }
    }

    /// `verify_action` on an already tracked step.
    fn judge(&mut self, world: &World, action: Action, ev: &StepEvent) -> Verdict {
        match self {
            Instr::GoTo(d) => {
                if d.poss.contains(&world.front_pos()) {
                    Verdict::Success
                } else {
                    Verdict::Continue
                }
            }
            Instr::Open(d) => {
                if action != Action::Toggle {
                    return Verdict::Continue;
                }
                let front = world.front_pos();
                let open = matches!(world.grid.get(front), Some(Obj::Door(_, DoorState::Open)));
                if open && d.objs.iter().any(|t| t.in_grid() && t.pos == front) {
                    Verdict::Success
                } else {
                    Verdict::Continue
                }
            }
            Instr::Pickup {
                desc,
                was_empty_handed,
            } => {
                // Python updates `preCarrying` only when it verifies, so the second part of a
                // sequence compares with what was carried when it was last asked (or at reset).
                let pre_empty = *was_empty_handed;
                *was_empty_handed = world.carrying.is_none();
                if action == Action::Pickup && pre_empty && desc.objs.iter().any(|t| t.carried) {
                    Verdict::Success
                } else {
                    Verdict::Continue
                }
            }
            Instr::PutNext { moved, fixed } => {
                // The object carried before a drop is the one now lying where it was dropped
                // (the cell was empty before).
                let Some(at) = ev.dropped_at.filter(|_| action == Action::Drop) else {
                    return Verdict::Continue;
                };
                let was_moved = moved.objs.iter().any(|t| t.in_grid() && t.pos == at);
                if was_moved && fixed.poss.iter().any(|&b| at.manhattan(b) == 1) {
                    Verdict::Success
                } else {
                    Verdict::Continue
                }
            }
            Instr::Seq {
                first,
                second,
                first_done,
                ..
            } => {
                if !*first_done {
                    match first.judge(world, action, ev) {
                        // The same step then counts for the second part too, as in Python.
                        Verdict::Success => *first_done = true,
                        v => return v,
                    }
                }
                second.judge(world, action, ev)
            }
        }
    }

    /// The mission text BabyAI would write for this instruction (after [`Instr::reset`]).
    pub fn surface(&self) -> String {
        match self {
            Instr::GoTo(d) => alloc::format!("go to {}", d.surface()),
            Instr::Pickup { desc, .. } => alloc::format!("pick up {}", desc.surface()),
            Instr::Open(d) => alloc::format!("open {}", d.surface()),
            Instr::PutNext { moved, fixed } => {
                alloc::format!("put {} next to {}", moved.surface(), fixed.surface())
            }
            Instr::Seq {
                form: SeqForm::Then,
                first,
                second,
                ..
            } => alloc::format!("{}, then {}", first.surface(), second.surface()),
            Instr::Seq {
                form: SeqForm::AfterYou,
                first,
                second,
                ..
            } => alloc::format!("{} after you {}", second.surface(), first.surface()),
        }
    }

    /// The object descriptions the instruction names, in mission order within each action.
    pub fn descs(&self) -> Vec<&ObjDesc> {
        match self {
            Instr::GoTo(d) | Instr::Open(d) | Instr::Pickup { desc: d, .. } => alloc::vec![d],
            Instr::PutNext { moved, fixed } => alloc::vec![moved, fixed],
            Instr::Seq { first, second, .. } => {
                let mut v = first.descs();
                v.extend(second.descs());
                v
            }
        }
    }

    /// The kind of task this instruction sets, for per-kind success tables.
    pub fn kind(&self) -> TaskKind {
        match self {
            Instr::GoTo(_) => TaskKind::GoTo,
            Instr::Pickup { .. } => TaskKind::PickUp,
            Instr::Open(_) => TaskKind::Open,
            Instr::PutNext { .. } => TaskKind::PutNext,
            Instr::Seq { first, second, .. } => match (first.as_ref(), second.as_ref()) {
                (Instr::Pickup { .. }, Instr::GoTo(_)) => TaskKind::PickUpThenGoTo,
                _ => TaskKind::Sequence,
            },
        }
    }

    /// Read a BabyAI mission ("go to the red ball", "pick up a key on your left",
    /// "put the blue box next to the grey key", "open the door", "pick up the red key, then go
    /// to a ball", "go to a ball after you pick up the red key").
    pub fn parse(mission: &str) -> Result<Instr, ParseError> {
        let m = mission.trim();
        // Split before trimming the parts, so that a missing part is reported as missing.
        if let Some((a, b)) = m.split_once(", then") {
            let (first, second) = (parse_action(a, mission)?, parse_action(b, mission)?);
            return Ok(Instr::seq(SeqForm::Then, first, second));
        }
        if let Some((b, a)) = m.split_once(" after you") {
            let (first, second) = (parse_action(a, mission)?, parse_action(b, mission)?);
            return Ok(Instr::seq(SeqForm::AfterYou, first, second));
        }
        parse_action(m, mission)
    }
}

/// One action instruction of `mission` (all of it, or one side of a sequence).
fn parse_action(text: &str, mission: &str) -> Result<Instr, ParseError> {
    let m = text.trim();
    if m.contains(", then") || m.contains(" after you") {
        return Err(ParseError::new(
            mission,
            "a sequence joins exactly two actions",
        ));
    }
    if let Some(rest) = m.strip_prefix("go to ") {
        return Ok(Instr::GoTo(parse_desc(rest, mission)?));
    }
    if let Some(rest) = m.strip_prefix("pick up ") {
        return Ok(Instr::Pickup {
            desc: parse_desc(rest, mission)?,
            was_empty_handed: true,
        });
    }
    if let Some(rest) = m.strip_prefix("open ") {
        let d = parse_desc(rest, mission)?;
        if d.kind != Some(Kind::Door) {
            return Err(ParseError::new(mission, "only doors can be opened"));
        }
        return Ok(Instr::Open(d));
    }
    if let Some(rest) = m.strip_prefix("put ") {
        let (a, b) = rest
            .split_once(" next to ")
            .ok_or_else(|| ParseError::new(mission, "expected 'put X next to Y'"))?;
        return Ok(Instr::PutNext {
            moved: parse_desc(a, mission)?,
            fixed: parse_desc(b, mission)?,
        });
    }
    Err(ParseError::new(
        mission,
        "expected 'go to', 'pick up', 'open' or 'put ... next to'",
    ))
}

/// What a BabyAI mission asks, as a per-kind success table groups it (BALROG's BabyAI-Text
/// table: go to, pick up, open, put next, pick up then go to). Every instruction has one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum TaskKind {
    /// "go to the red ball"
    GoTo,
    /// "pick up a key"
    PickUp,
    /// "open the yellow door" (locked or not)
    Open,
    /// "put the blue box next to the grey key"
    PutNext,
    /// "pick up A, then go to B" or "go to B after you pick up A" (GLAM's seq kind)
    PickUpThenGoTo,
    /// Any other sequence of two actions (BabyAI's Synth and Boss levels).
    Sequence,
}

impl TaskKind {
    pub const ALL: [TaskKind; 6] = [
        TaskKind::GoTo,
        TaskKind::PickUp,
        TaskKind::Open,
        TaskKind::PutNext,
        TaskKind::PickUpThenGoTo,
        TaskKind::Sequence,
    ];

    /// The kind of the task `mission` sets.
    pub fn of_mission(mission: &str) -> Result<TaskKind, ParseError> {
        Instr::parse(mission).map(|i| i.kind())
    }

    /// The name a table prints ("PickUp-then-GoTo").
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::GoTo => "GoTo",
            TaskKind::PickUp => "PickUp",
            TaskKind::Open => "Open",
            TaskKind::PutNext => "PutNext",
            TaskKind::PickUpThenGoTo => "PickUp-then-GoTo",
            TaskKind::Sequence => "Sequence",
        }
    }

    /// The stable key of JSON reports (serde's name for it too).
    pub fn key(self) -> &'static str {
        match self {
            TaskKind::GoTo => "go_to",
            TaskKind::PickUp => "pick_up",
            TaskKind::Open => "open",
            TaskKind::PutNext => "put_next",
            TaskKind::PickUpThenGoTo => "pick_up_then_go_to",
            TaskKind::Sequence => "sequence",
        }
    }

    /// The kind whose [`TaskKind::key`] or [`TaskKind::name`] is `s` (case-insensitive).
    pub fn from_name(s: &str) -> Option<TaskKind> {
        TaskKind::ALL
            .into_iter()
            .find(|k| k.key().eq_ignore_ascii_case(s) || k.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn parse_desc(text: &str, mission: &str) -> Result<ObjDesc, ParseError> {
    let mut t = text.trim();
    let mut loc = None;
    for l in Loc::ALL {
        if let Some(rest) = t.strip_suffix(l.phrase()) {
            loc = Some(l);
            t = rest;
            break;
        }
    }
    let mut words = t.split_whitespace();
    match words.next() {
        Some("a" | "the") => {}
        _ => return Err(ParseError::new(mission, "expected 'a' or 'the'")),
    }
    let mut color = None;
    let mut word = words.next();
    if let Some(c) = word.and_then(Color::from_name) {
        color = Some(c);
        word = words.next();
    }
    let kind = match word {
        Some("object") => None,
        Some(w) => match Kind::from_name(w) {
            Some(k @ (Kind::Door | Kind::Key | Kind::Ball | Kind::Box)) => Some(k),
            _ => return Err(ParseError::new(mission, "unknown object")),
        },
        None => return Err(ParseError::new(mission, "missing object")),
    };
    if words.next().is_some() {
        return Err(ParseError::new(
            mission,
            "unexpected words after the object",
        ));
    }
    Ok(ObjDesc::new(kind, color, loc))
}

/// A mission that is not a BabyAI instruction this engine knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub mission: String,
    pub reason: &'static str,
}

impl ParseError {
    fn new(mission: &str, reason: &'static str) -> ParseError {
        ParseError {
            mission: mission.to_string(),
            reason,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read mission {:?}: {}", self.mission, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_babyai_missions() {
        let i = Instr::parse("put the blue box next to a grey key").unwrap();
        let Instr::PutNext { moved, fixed } = i else {
            panic!()
        };
        assert_eq!(
            (moved.kind, moved.color),
            (Some(Kind::Box), Some(Color::Blue))
        );
        assert_eq!(
            (fixed.kind, fixed.color),
            (Some(Kind::Key), Some(Color::Grey))
        );
        let Instr::Pickup { desc, .. } = Instr::parse("pick up a ball on your left").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (desc.kind, desc.color, desc.loc),
            (Some(Kind::Ball), None, Some(Loc::Left))
        );
        let Instr::GoTo(d) = Instr::parse("go to the object behind you").unwrap() else {
            panic!()
        };
        assert_eq!((d.kind, d.loc), (None, Some(Loc::Behind)));
        assert!(Instr::parse("open the red key").is_err());
        assert!(Instr::parse("dance with the ball").is_err());
        assert!(Instr::parse("go to the ball please").is_err());
    }

    /// A walled 7x7 room: the agent at (3,3) facing east, a red key ahead at (4,3) and a blue
    /// ball below it at (3,4).
    fn key_and_ball() -> World {
        let mut w = World::new(7, 7, 100);
        for k in 0..7 {
            for p in [
                Pos::new(k, 0),
                Pos::new(k, 6),
                Pos::new(0, k),
                Pos::new(6, k),
            ] {
                w.grid.set(p, Some(Obj::WALL));
            }
        }
        w.grid.set(Pos::new(4, 3), Some(Obj::Key(Color::Red)));
        w.grid.set(Pos::new(3, 4), Some(Obj::Ball(Color::Blue)));
        w.agent_pos = Pos::new(3, 3);
        w
    }

    /// Play `actions`, returning each step's verdict.
    fn play(world: &mut World, instr: &mut Instr, actions: &[Action]) -> Vec<Verdict> {
        actions
            .iter()
            .map(|&a| {
                let (_, ev) = world.step(a);
                instr.verify(world, a, &ev)
            })
            .collect()
    }

    #[test]
    fn a_sequence_needs_its_first_part_done_first() {
        use Action::{Left, Pickup, Right};
        use Verdict::{Continue, Success};
        for (mission, form) in [
            (
                "pick up the red key, then go to the blue ball",
                SeqForm::Then,
            ),
            (
                "go to the blue ball after you pick up the red key",
                SeqForm::AfterYou,
            ),
        ] {
            let mut w = key_and_ball();
            let mut seq = Instr::parse(mission).unwrap();
            seq.reset(&w, None);
            assert_eq!(seq.surface(), mission);
            assert_eq!(seq.kind(), TaskKind::PickUpThenGoTo);
            assert!(matches!(seq, Instr::Seq { form: f, .. } if f == form));
            let mut go_to = Instr::parse("go to the blue ball").unwrap();
            go_to.reset(&w, None);
            // Facing the ball: the go-to alone is done, the sequence is not.
            let (_, ev) = w.step(Right);
            assert_eq!(go_to.verify(&w, Right, &ev), Success);
            assert_eq!(seq.verify(&w, Right, &ev), Continue);
            // Pick up the key (first part), then face the ball again.
            let v = play(&mut w, &mut seq, &[Left, Pickup, Right]);
            assert_eq!(v, [Continue, Continue, Success], "{mission}");
        }
    }

    #[test]
    fn a_waiting_part_follows_its_objects() {
        use Action::{Drop, Left, Pickup, Right};
        use Verdict::{Continue, Success};
        let mut w = key_and_ball();
        let mut seq = Instr::parse("pick up the red key, then go to the blue ball").unwrap();
        seq.reset(&w, None);
        // Carry the ball north to (3,2) before the first part is done; pick up the key; where
        // the ball was counts for nothing, where it is now completes the task.
        let v = play(
            &mut w,
            &mut seq,
            &[Right, Pickup, Left, Left, Drop, Right, Pickup, Right],
        );
        assert!(v.iter().all(|&x| x == Continue), "{v:?}");
        assert_eq!(w.front_pos(), Pos::new(3, 4));
        assert_eq!(play(&mut w, &mut seq, &[Left, Left]), [Continue, Success]);
    }

    #[test]
    fn two_pickups_in_sequence() {
        use Action::{Drop, Left, Pickup, Right};
        use Verdict::{Continue, Success};
        let mut w = key_and_ball();
        let mut seq = Instr::parse("pick up the red key, then pick up the blue ball").unwrap();
        seq.reset(&w, None);
        assert_eq!(seq.kind(), TaskKind::Sequence);
        let v = play(
            &mut w,
            &mut seq,
            &[Pickup, Left, Drop, Right, Right, Pickup],
        );
        assert_eq!(
            v,
            [Continue, Continue, Continue, Continue, Continue, Success]
        );
    }

    #[test]
    fn sequences_parse_and_malformed_ones_say_why() {
        let Instr::Seq {
            form,
            first,
            second,
            first_done,
        } = Instr::parse("go to a red ball after you pick up the green key").unwrap()
        else {
            panic!()
        };
        assert_eq!((form, first_done), (SeqForm::AfterYou, false));
        assert_eq!(first.kind(), TaskKind::PickUp);
        assert_eq!(second.kind(), TaskKind::GoTo);
        let why = |m: &str| Instr::parse(m).unwrap_err().reason;
        assert_eq!(
            why("pick up the key, then go to the ball, then open the door"),
            "a sequence joins exactly two actions"
        );
        assert_eq!(
            why("go to the ball after you pick up the key after you open the door"),
            "a sequence joins exactly two actions"
        );
        assert_eq!(
            why("pick up the key, then "),
            "expected 'go to', 'pick up', 'open' or 'put ... next to'"
        );
        assert_eq!(
            why(", then go to the ball"),
            "expected 'go to', 'pick up', 'open' or 'put ... next to'"
        );
        assert_eq!(
            why("go to the ball after you dance"),
            "expected 'go to', 'pick up', 'open' or 'put ... next to'"
        );
        assert_eq!(
            why("open the key, then go to the ball"),
            "only doors can be opened"
        );
    }

    #[test]
    fn every_action_has_a_task_kind_with_a_name() {
        let kind = |m: &str| TaskKind::of_mission(m).unwrap();
        assert_eq!(kind("go to the red ball"), TaskKind::GoTo);
        assert_eq!(kind("pick up a key on your left"), TaskKind::PickUp);
        assert_eq!(kind("open the door"), TaskKind::Open);
        assert_eq!(
            kind("put the blue box next to a grey key"),
            TaskKind::PutNext
        );
        assert_eq!(
            kind("pick up the red key, then go to a ball"),
            TaskKind::PickUpThenGoTo
        );
        assert_eq!(
            kind("go to a ball after you pick up the red key"),
            TaskKind::PickUpThenGoTo
        );
        // Go to, then pick up is another sequence.
        assert_eq!(
            kind("go to a ball, then pick up the red key"),
            TaskKind::Sequence
        );
        assert!(TaskKind::of_mission("dance").is_err());
        for k in TaskKind::ALL {
            assert_eq!(TaskKind::from_name(k.key()), Some(k));
            assert_eq!(TaskKind::from_name(k.name()), Some(k));
            assert_eq!(k.to_string(), k.name());
        }
        assert_eq!(TaskKind::PickUpThenGoTo.to_string(), "PickUp-then-GoTo");
        assert_eq!(TaskKind::from_name("fly"), None);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn task_kinds_serialise_under_their_keys() {
        for k in TaskKind::ALL {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, alloc::format!("\"{}\"", k.key()));
            assert_eq!(serde_json::from_str::<TaskKind>(&json).unwrap(), k);
        }
    }
}
