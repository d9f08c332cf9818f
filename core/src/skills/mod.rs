//! Skills: the high-level options of When2Ask and LLM4Teach (`explore`, `go to`, `pick up`,
//! `drop`, `toggle`). Each is a small state machine that reads only what the agent has seen (the
//! memory map), yields primitive actions, and reports when it has finished or failed.

pub(crate) mod path;

use crate::obs::memory_map::MemoryMap;
use crate::world::{Action, Color, DoorState, Kind, Obj, Pos};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
pub use path::{Knowledge, Pose, exploration_first_action, shortest_first_action};

/// An object named by type and, optionally, colour: "the yellow key", "the door".
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub kind: Kind,
    pub color: Option<Color>,
}

impl Target {
    pub fn new(kind: Kind, color: Option<Color>) -> Target {
        Target { kind, color }
    }

    pub fn matches(&self, o: Obj) -> bool {
        o.kind() == self.kind && self.color.is_none_or(|c| o.color() == c)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.color {
            Some(c) => write!(f, "the {c} {}", self.kind.name()),
            None => write!(f, "the {}", self.kind.name()),
        }
    }
}

/// One step of a plan.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skill {
    Explore,
    GoTo(Target),
    PickUp(Target),
    Drop,
    Toggle(Target),
}

impl fmt::Display for Skill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skill::Explore => f.write_str("explore"),
            Skill::GoTo(t) => write!(f, "go to {t}"),
            Skill::PickUp(t) => write!(f, "pick up {t}"),
            Skill::Drop => f.write_str("drop"),
            Skill::Toggle(t) => write!(f, "toggle {t}"),
        }
    }
}

/// What a skill wants next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkillStep {
    Act(Action),
    Finished,
    Failed(String),
}

/// A running skill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkillRun {
    pub skill: Skill,
    /// Objects seen when the skill started (explore finishes once something new shows up).
    known_at_start: Vec<(Pos, Obj)>,
    /// The toggle has been issued at this cell; the next call judges its effect.
    toggled_at: Option<(Pos, Obj)>,
    /// A pickup has been issued; if the next call finds nothing carried, it failed.
    tried_pickup: bool,
    started: bool,
}

impl SkillRun {
    pub fn new(skill: Skill) -> SkillRun {
        SkillRun {
            skill,
            known_at_start: Vec::new(),
            toggled_at: None,
            tried_pickup: false,
            started: false,
        }
    }

    /// The next action from what the map shows now (after the previous action); `view_size`
    /// is the agent's view, which explore needs to know what a pose would reveal.
    pub fn next(&mut self, map: &MemoryMap, view_size: u8) -> SkillStep {
        let k = Knowledge::new(map, view_size);
        if !self.started {
            self.started = true;
            self.known_at_start = map.objects().collect();
        }
        match self.skill {
            Skill::Explore => self.explore(&k),
            Skill::GoTo(t) => go_to(&k, t),
            Skill::PickUp(t) => {
                if map.carrying().is_some_and(|o| t.matches(o)) {
                    return SkillStep::Finished;
                }
                if !matches!(t.kind, Kind::Key | Kind::Ball | Kind::Box) {
                    return SkillStep::Failed(format!("{t} cannot be picked up"));
                }
                if self.tried_pickup {
                    return SkillStep::Failed(format!("could not pick up {t}"));
                }
                if map.carrying().is_some() {
                    return drop_somewhere(&k);
                }
                match go_to(&k, t) {
                    SkillStep::Finished => {
                        self.tried_pickup = true;
                        SkillStep::Act(Action::Pickup)
                    }
                    other => other,
                }
            }
            Skill::Drop => {
                if map.carrying().is_none() {
                    SkillStep::Finished
                } else {
                    drop_somewhere(&k)
                }
            }
            Skill::Toggle(t) => self.toggle(&k, t),
        }
    }

    fn explore(&self, k: &Knowledge) -> SkillStep {
        let new_object = k.map.objects().any(|(p, o)| {
            !self
                .known_at_start
                .iter()
                .any(|&(q, s)| q == p && s.kind() == o.kind())
        });
        if new_object {
            return SkillStep::Finished;
        }
        match exploration_first_action(k) {
            Some(Some(a)) => SkillStep::Act(a),
            // Standing where something new would show: it cannot happen after a look, but if
            // it does, turning reveals more.
            Some(None) => SkillStep::Act(Action::Left),
            None => SkillStep::Failed("nothing left to explore".into()),
        }
    }

    fn toggle(&mut self, k: &Knowledge, t: Target) -> SkillStep {
        if let Some((p, before)) = self.toggled_at {
            let after = k.map.object_at(p);
            return match (before, after) {
                (Obj::Door(c, DoorState::Locked), Some(Obj::Door(_, DoorState::Locked))) => {
                    SkillStep::Failed(format!(
                        "the {c} door is locked and the agent has no {c} key"
                    ))
                }
                _ => SkillStep::Finished,
            };
        }
        match go_to(k, t) {
            SkillStep::Finished => {
                let front = k.front();
                if let Some(o) = k.map.object_at(front) {
                    self.toggled_at = Some((front, o));
                }
                SkillStep::Act(Action::Toggle)
            }
            other => other,
        }
    }
}

/// Walk to a cell facing the nearest seen object that matches `t`.
fn go_to(k: &Knowledge, t: Target) -> SkillStep {
    let targets: Vec<Pos> = k
        .map
        .objects()
        .filter(|&(_, o)| t.matches(o))
        .map(|(p, _)| p)
        .collect();
    if targets.is_empty() {
        return SkillStep::Failed(format!("{t} has not been seen"));
    }
    match shortest_first_action(k, |s| targets.contains(&s.front())) {
        Some(Some(a)) => SkillStep::Act(a),
        // Going to the goal means stepping onto it (which ends the episode).
        Some(None) if t.kind == Kind::Goal => SkillStep::Act(Action::Forward),
        Some(None) => SkillStep::Finished,
        None => SkillStep::Failed(format!("no known path to {t}")),
    }
}

/// Drop the carried object on a free cell that does not block a door.
fn drop_somewhere(k: &Knowledge) -> SkillStep {
    match shortest_first_action(k, |s| k.can_drop_at(s.front())) {
        Some(Some(a)) => SkillStep::Act(a),
        Some(None) => SkillStep::Act(Action::Drop),
        None => SkillStep::Failed("no free cell to drop on".into()),
    }
}

#[cfg(test)]
mod tests;
