//! Win rules: how a task turns a step of the world into success, failure or neither. MiniGrid's
//! goal and lava rule lives in the world's step; these are the per-task additions.

pub mod instr;
pub mod shaping;

use crate::world::{Action, DoorState, Obj, Pos, StepEvent, World};
pub use instr::{Instr, Loc, ObjDesc, ParseError, SeqForm, TaskKind};

/// What a rule says about the step just taken.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    /// Episode ends with MiniGrid's success reward.
    Success,
    /// Episode ends with reward 0.
    Failure,
}

/// One object followed through pickups and drops, standing in for Python's object identity.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tracked {
    /// Where it was last in the grid; `(-1, -1)` while carried (MiniGrid's `cur_pos`).
    pub pos: Pos,
    pub carried: bool,
    /// Still an object of the world (a box toggled open is gone).
    pub exists: bool,
}

impl Tracked {
    pub fn at(pos: Pos) -> Tracked {
        Tracked {
            pos,
            carried: false,
            exists: true,
        }
    }

    pub fn in_grid(&self) -> bool {
        self.exists && !self.carried
    }

    /// Follow the object through one step's pickup, drop and box toggle.
    pub fn follow(&mut self, ev: &StepEvent) {
        if !self.exists {
            return;
        }
        if let Some(p) = ev.picked_from
            && !self.carried
            && p == self.pos
        {
            self.carried = true;
            self.pos = Pos::new(-1, -1);
        }
        if let Some(p) = ev.dropped_at
            && self.carried
        {
            self.carried = false;
            self.pos = p;
        }
        if let Some((p, Obj::Box(..))) = ev.toggled
            && !self.carried
            && p == self.pos
        {
            self.exists = false;
        }
    }
}

/// A task's win rule.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// Only the world's own rule: reaching the goal succeeds, lava ends the episode.
    ReachGoal,
    /// MiniGrid Unlock and the seed tasks: a toggle that leaves this door open succeeds.
    OpenDoor { door: Pos },
    /// UnlockPickup, BlockedUnlockPickup, KeyCorridor: a pickup while carrying the target succeeds.
    PickUp { target: Tracked },
    /// GoToDoor: `done` beside the target door succeeds, `done` elsewhere or any toggle fails.
    GoToDoor { target: Pos },
    /// RedBlueDoors: open the red door, then the blue one; the blue one first fails.
    RedBlueDoors {
        red: Pos,
        blue: Pos,
        red_open: bool,
        blue_open: bool,
    },
    /// A BabyAI instruction with its verifier.
    BabyAi(Instr),
}

impl Rule {
    /// Make a rule ready for the episode that starts in `world` (BabyAI's `reset_verifier`).
    pub fn reset(&mut self, world: &World, rooms: Option<&RoomLayout>) {
        match self {
            Rule::RedBlueDoors {
                red,
                blue,
                red_open,
                blue_open,
            } => {
                *red_open = is_open_door(world, *red);
                *blue_open = is_open_door(world, *blue);
            }
            Rule::BabyAi(instr) => instr.reset(world, rooms),
            _ => {}
        }
    }

    /// Judge a step that has already been applied to `world`.
    pub fn judge(&mut self, world: &World, action: Action, ev: &StepEvent) -> Verdict {
        match self {
            Rule::ReachGoal => Verdict::Continue,
            Rule::OpenDoor { door } => {
                if action == Action::Toggle && is_open_door(world, *door) {
                    Verdict::Success
                } else {
                    Verdict::Continue
                }
            }
            Rule::PickUp { target } => {
                target.follow(ev);
                if action == Action::Pickup && target.carried {
                    Verdict::Success
                } else {
                    Verdict::Continue
                }
            }
            Rule::GoToDoor { target } => match action {
                Action::Toggle => Verdict::Failure,
                Action::Done if world.agent_pos.manhattan(*target) == 1 => Verdict::Success,
                Action::Done => Verdict::Failure,
                _ => Verdict::Continue,
            },
            Rule::RedBlueDoors {
                red,
                blue,
                red_open,
                blue_open,
            } => {
                let (red_before, blue_before) = (*red_open, *blue_open);
                *red_open = is_open_door(world, *red);
                *blue_open = is_open_door(world, *blue);
                if *blue_open {
                    if red_before {
                        Verdict::Success
                    } else {
                        Verdict::Failure
                    }
                } else if *red_open && blue_before {
                    Verdict::Failure
                } else {
                    Verdict::Continue
                }
            }
            Rule::BabyAi(instr) => instr.verify(world, action, ev),
        }
    }
}

fn is_open_door(world: &World, p: Pos) -> bool {
    matches!(world.grid.get(p), Some(Obj::Door(_, DoorState::Open)))
}

/// MiniGrid's `RoomGrid` geometry: `cols` x `rows` rooms of `room_size` cells (walls shared).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoomLayout {
    pub room_size: i32,
    pub rows: i32,
    pub cols: i32,
}

impl RoomLayout {
    /// Top-left corner and size of the room holding `p` (`room_from_pos`).
    pub fn room_of(&self, p: Pos) -> (Pos, Pos) {
        let step = self.room_size - 1;
        let i = (p.x / step).clamp(0, self.cols - 1);
        let j = (p.y / step).clamp(0, self.rows - 1);
        (
            Pos::new(i * step, j * step),
            Pos::new(self.room_size, self.room_size),
        )
    }
}
