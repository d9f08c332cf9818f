//! The world state and MiniGrid's `step`: step count first, then the action, then truncation.

use super::action::{Action, Dir};
use super::grid::{Grid, Pos};
use super::object::{DoorState, Obj};

/// Default egocentric view size in MiniGrid.
pub const DEFAULT_VIEW: u8 = 7;
/// Largest supported view (odd sizes from 3 up to this).
pub const MAX_VIEW: u8 = 15;

/// Everything MiniGrid's `MiniGridEnv` holds about one episode, without the task's rules.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct World {
    pub grid: Grid,
    pub agent_pos: Pos,
    pub agent_dir: Dir,
    pub carrying: Option<Obj>,
    pub step_count: u32,
    pub max_steps: u32,
    pub view_size: u8,
    pub see_through_walls: bool,
}

/// What a single step did, for the task's win rule and for anyone watching.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct StepEvent {
    /// The agent moved onto a new cell.
    pub moved: bool,
    /// Where an object was picked up from.
    pub picked_from: Option<Pos>,
    /// Where the carried object was dropped.
    pub dropped_at: Option<Pos>,
    /// The cell toggled (door or box) and what it held before the toggle.
    pub toggled: Option<(Pos, Obj)>,
}

/// MiniGrid's `(reward, terminated, truncated)` for one step.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Transition {
    pub reward: f32,
    pub terminated: bool,
    pub truncated: bool,
}

impl Transition {
    /// The episode ended in success: the task's goal reached (MiniGrid pays a positive reward
    /// only then; lava and other failures terminate with 0).
    pub fn success(&self) -> bool {
        self.terminated && self.reward > 0.0
    }

    /// The episode ended, by the task or by the step limit.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

impl World {
    /// An empty world with walls nowhere; tasks fill it.
    pub fn new(width: i32, height: i32, max_steps: u32) -> World {
        World {
            grid: Grid::new(width, height),
            agent_pos: Pos::new(-1, -1),
            agent_dir: Dir::East,
            carrying: None,
            step_count: 0,
            max_steps,
            view_size: DEFAULT_VIEW,
            see_through_walls: false,
        }
    }

    pub fn width(&self) -> i32 {
        self.grid.width()
    }

    pub fn height(&self) -> i32 {
        self.grid.height()
    }

    pub fn front_pos(&self) -> Pos {
        self.agent_dir.step(self.agent_pos)
    }

    pub fn front_cell(&self) -> Option<Obj> {
        self.grid.get(self.front_pos())
    }

    /// MiniGrid's `_reward()`: `1 - 0.9 * step_count / max_steps`.
    pub fn success_reward(&self) -> f32 {
        (1.0 - 0.9 * (self.step_count as f64 / self.max_steps as f64)) as f32
    }

    /// MiniGrid's `MiniGridEnv.step`: the base dynamics shared by every task (goal and lava
    /// end the episode; the task's own rule is applied by [`crate::Env`]).
    pub fn step(&mut self, action: Action) -> (Transition, StepEvent) {
        self.step_count += 1;
        let mut t = Transition::default();
        let mut ev = StepEvent::default();
        let fwd_pos = self.front_pos();
        let fwd_cell = self.grid.get(fwd_pos);

        match action {
            Action::Left => self.agent_dir = self.agent_dir.left(),
            Action::Right => self.agent_dir = self.agent_dir.right(),
            Action::Forward => {
                if fwd_cell.is_none_or(Obj::can_overlap) {
                    self.agent_pos = fwd_pos;
                    ev.moved = true;
                }
                match fwd_cell {
                    Some(Obj::Goal) => {
                        t.terminated = true;
                        t.reward = self.success_reward();
                    }
                    Some(Obj::Lava) => t.terminated = true,
                    _ => {}
                }
            }
            Action::Pickup => {
                if let Some(o) = fwd_cell
                    && o.can_pickup()
                    && self.carrying.is_none()
                {
                    self.carrying = Some(o);
                    self.grid.set(fwd_pos, None);
                    ev.picked_from = Some(fwd_pos);
                }
            }
            Action::Drop => {
                if fwd_cell.is_none()
                    && let Some(o) = self.carrying.take()
                {
                    self.grid.set(fwd_pos, Some(o));
                    ev.dropped_at = Some(fwd_pos);
                }
            }
            Action::Toggle => {
                if let Some(o) = fwd_cell {
                    match o {
                        Obj::Door(c, DoorState::Locked) => {
                            if self.carrying == Some(Obj::Key(c)) {
                                self.grid.set(fwd_pos, Some(Obj::Door(c, DoorState::Open)));
                            }
                        }
                        Obj::Door(c, DoorState::Open) => self
                            .grid
                            .set(fwd_pos, Some(Obj::Door(c, DoorState::Closed))),
                        Obj::Door(c, DoorState::Closed) => {
                            self.grid.set(fwd_pos, Some(Obj::Door(c, DoorState::Open)))
                        }
                        Obj::Box(_, contents) => {
                            self.grid.set(fwd_pos, contents.map(|i| i.to_obj()))
                        }
                        _ => return self.finish(t, ev),
                    }
                    ev.toggled = Some((fwd_pos, o));
                }
            }
            Action::Done => {}
        }
        self.finish(t, ev)
    }

    fn finish(&self, mut t: Transition, ev: StepEvent) -> (Transition, StepEvent) {
        if self.step_count >= self.max_steps {
            t.truncated = true;
        }
        (t, ev)
    }
}
