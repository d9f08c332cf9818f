//! BabyAI instructions (go to, pick up, open, put next to) with the verifier semantics of
//! MiniGrid 3.2's `verifier.py`, and a parser from mission text back to an instruction.

use super::{RoomLayout, Tracked, Verdict};
use crate::world::{Action, Color, DoorState, Kind, Obj, Pos, StepEvent, World};
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

/// A BabyAI action instruction and its verifier state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instr {
    GoTo(ObjDesc),
    Pickup {
        desc: ObjDesc,
        /// The agent carried nothing after the previous step (`preCarrying is None`).
        was_empty_handed: bool,
    },
    Open(ObjDesc),
    PutNext {
        moved: ObjDesc,
        fixed: ObjDesc,
    },
}

impl Instr {
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
        }
    }

    /// `RoomGridLevel.step` after the base step: follow objects, refresh positions after a
    /// drop, then `verify_action`.
    pub fn verify(&mut self, world: &World, action: Action, ev: &StepEvent) -> Verdict {
        let refresh = action == Action::Drop;
        match self {
            Instr::GoTo(d) => {
                d.follow(ev);
                if refresh {
                    d.refresh_positions();
                }
                if d.poss.contains(&world.front_pos()) {
                    Verdict::Success
                } else {
                    Verdict::Continue
                }
            }
            Instr::Open(d) => {
                d.follow(ev);
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
                desc.follow(ev);
                if refresh {
                    desc.refresh_positions();
                }
                let pre_empty = *was_empty_handed;
                *was_empty_handed = world.carrying.is_none();
                if action == Action::Pickup && pre_empty && desc.objs.iter().any(|t| t.carried) {
                    Verdict::Success
                } else {
                    Verdict::Continue
                }
            }
            Instr::PutNext { moved, fixed } => {
                let carried_before: Vec<bool> = moved.objs.iter().map(|t| t.carried).collect();
                moved.follow(ev);
                fixed.follow(ev);
                if refresh {
                    moved.refresh_positions();
                    fixed.refresh_positions();
                }
                if action != Action::Drop {
                    return Verdict::Continue;
                }
                for (t, was_carried) in moved.objs.iter().zip(carried_before) {
                    if was_carried && fixed.poss.iter().any(|&b| t.pos.manhattan(b) == 1) {
                        return Verdict::Success;
                    }
                }
                Verdict::Continue
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
        }
    }

    /// Read a BabyAI mission ("go to the red ball", "pick up a key on your left",
    /// "put the blue box next to the grey key", "open the door").
    pub fn parse(mission: &str) -> Result<Instr, ParseError> {
        let m = mission.trim();
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
}
