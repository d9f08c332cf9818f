//! The random baseline: uniformly random primitive actions from core's RNG, seeded per episode
//! so that an episode replays from the agent's seed and the layout's alone.

use super::{Agent, AgentError, Decision, Step};
use crate::Env;
use crate::rng::Rng;
use crate::world::Action;
use alloc::format;
use alloc::string::String;
use alloc::vec;

/// The random stream of an agent seeded `seed` in the episode of layout seed `layout`: a
/// function of both alone, so an episode replays (and evaluates) without its history.
pub fn episode_rng(seed: u64, layout: u64, stream: u64) -> Rng {
    Rng::derive(seed ^ layout.wrapping_mul(0x9E37_79B9_7F4A_7C15), stream)
}

pub struct RandomAgent {
    seed: u64,
    rng: Rng,
}

impl RandomAgent {
    pub fn new(seed: u64) -> RandomAgent {
        RandomAgent {
            seed,
            rng: Rng::new(seed),
        }
    }
}

impl Agent for RandomAgent {
    fn name(&self) -> String {
        format!("random (seed {})", self.seed)
    }

    fn reset(&mut self, env: &Env, _env_id: &str) -> Result<(), AgentError> {
        self.rng = episode_rng(self.seed, env.seed(), 0x2A4D);
        Ok(())
    }

    fn decide(&mut self, _env: &Env) -> Result<Decision, AgentError> {
        let a = Action::ALL[self.rng.index(Action::COUNT)];
        Ok(Decision::Act(Step::with_probs(
            a,
            vec![1.0 / Action::COUNT as f32; Action::COUNT],
        )))
    }

    fn observe(&mut self, _env: &Env, _taken: Action) {}
}
