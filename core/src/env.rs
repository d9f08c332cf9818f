//! An environment: a world, its task's win rule and mission, and how to regenerate it.

use crate::registry::EnvSpec;
use crate::rng::Rng;
use crate::rules::{RoomLayout, Rule, Verdict};
use crate::world::{Action, StepEvent, Transition, World};
use alloc::string::String;

/// Everything a task generator produces for one episode.
#[derive(Clone, Debug)]
pub struct Setup {
    pub world: World,
    pub rule: Rule,
    pub mission: String,
    /// Room geometry for tasks built on MiniGrid's `RoomGrid` (BabyAI locations need it).
    pub rooms: Option<RoomLayout>,
}

/// One environment, MiniGrid's `MiniGridEnv` plus the task's own `step` override.
#[derive(Clone, Debug)]
pub struct Env {
    pub world: World,
    pub rule: Rule,
    pub mission: String,
    pub rooms: Option<RoomLayout>,
    spec: Option<&'static EnvSpec>,
    seed: u64,
    last_event: StepEvent,
}

impl Env {
    /// A fresh episode of `spec` from `seed`.
    pub fn new(spec: &'static EnvSpec, seed: u64) -> Env {
        let mut env = Env::from_setup(spec.layout(seed));
        env.spec = Some(spec);
        env.seed = seed;
        env
    }

    /// An environment from a given layout (a recorded trace, a shared episode).
    pub fn from_setup(setup: Setup) -> Env {
        let mut env = Env {
            world: setup.world,
            rule: setup.rule,
            mission: setup.mission,
            rooms: setup.rooms,
            spec: None,
            seed: 0,
            last_event: StepEvent::default(),
        };
        env.rule.reset(&env.world, env.rooms.as_ref());
        env
    }

    /// The registered task this env was made from (`None` for a loaded layout).
    pub fn spec(&self) -> Option<&'static EnvSpec> {
        self.spec
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Start a new episode from `seed`. A loaded layout resets to itself only through
    /// [`Env::from_setup`]; this panics for it.
    pub fn reset(&mut self, seed: u64) {
        let spec = self
            .spec
            .expect("Env::reset needs a registered task; rebuild a loaded layout instead");
        *self = Env::new(spec, seed);
    }

    /// MiniGrid's `step`, then the task's rule: success gives `1 - 0.9 * steps / max_steps`,
    /// failure ends the episode with 0.
    pub fn step(&mut self, action: Action) -> Transition {
        let (mut t, ev) = self.world.step(action);
        match self.rule.judge(&self.world, action, &ev) {
            Verdict::Continue => {}
            Verdict::Success => {
                t.terminated = true;
                t.reward = self.world.success_reward();
            }
            Verdict::Failure => {
                t.terminated = true;
                t.reward = 0.0;
            }
        }
        self.last_event = ev;
        t
    }

    /// What the last step did (pickup, drop, toggle, move).
    pub fn last_event(&self) -> StepEvent {
        self.last_event
    }
}

/// Task generation failed for this seed (rejection sampling ran out); callers retry with the
/// next sub-stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenError(pub &'static str);

/// Derive the generator stream for attempt `k` of `seed`.
pub(crate) fn attempt_rng(seed: u64, k: u64) -> Rng {
    if k == 0 {
        Rng::new(seed)
    } else {
        Rng::derive(seed, k)
    }
}
