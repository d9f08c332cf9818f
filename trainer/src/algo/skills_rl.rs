//! `gridmentor train --algo skills-rl`: PPO choosing among the skills directly, no LLM. One
//! action of this option-level env runs a skill (explore; go to / pick up / toggle each object
//! kind (and colour, where a task has several of a kind) the task holds; drop) until it
//! finishes, fails, or `MAX_OPTION_STEPS` primitive steps pass; its reward is the env reward
//! summed over those steps. A skill that ends without acting costs one `done` step, so time
//! always passes. The policy reads the memory map.

use super::settings::{AlgoSettings, SkillsSettings};
use super::trainee::{Evaluated, Resumed, Trainee};
use crate::metric::Metric;
use crate::ppo::Config;
use crate::ppo::slot_envs::{Board, Outcome, Slot, SlotEnvs};
use crate::summary::Totals;
use gridmentor_core::agent::evaluate;
use gridmentor_core::agent::options::OptionAgent;
use gridmentor_core::nn::ActorCritic;
use gridmentor_core::skills::Skill;
use gridmentor_core::{Env, EnvSpec, registry};

pub use gridmentor_core::agent::options::{
    MAX_OPTION_STEPS, OptionOutcome, net_spec, options, run_option,
};
use std::rc::Rc;

/// What the options did so far (the run's metrics; `latest.state` keeps them).
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// Primitive env steps so far.
    pub env_steps: u64,
    pub options: u64,
    pub failed: u64,
}

/// What plays an option-level env: an action runs a skill.
pub struct OptionSlot {
    options: Rc<[Skill]>,
}

impl Slot for OptionSlot {
    type Counters = Counters;

    fn act(&mut self, board: &mut Board, action: u8, c: &mut Counters) -> Outcome {
        let skill = self.options[action as usize];
        let o = run_option(&mut board.env, &mut board.observer, skill);
        c.env_steps += o.steps as u64;
        c.options += 1;
        c.failed += o.failed as u64;
        Outcome {
            reward: o.reward,
            score: o.reward,
            steps: o.steps,
            done: o.terminated || o.truncated,
        }
    }
}

/// N option-level envs.
pub type SkillEnvs = SlotEnvs<OptionSlot>;

/// `n` option-level envs of `env_id` (or those of a saved state: the skills are deterministic,
/// so replaying the options chosen brings each env back exactly), and their options.
pub fn skill_envs(
    env_id: &str,
    n: usize,
    seed: u64,
    resumed: Option<&Resumed>,
) -> anyhow::Result<(SkillEnvs, Rc<[Skill]>)> {
    let spec = registry::find(env_id)?;
    let options: Rc<[Skill]> = options(spec).into();
    let obs = |env: &Env| net_spec(env, options.len()).obs;
    let slots = (0..n as u64)
        .map(|i| {
            let board = Board::new(spec, seed, 3_000 + i, obs)?;
            let options = options.clone();
            Ok((board, OptionSlot { options }))
        })
        .collect::<anyhow::Result<_>>()?;
    let resumed = match resumed {
        Some(r) => {
            let known = |a: &u8| (*a as usize) < options.len();
            anyhow::ensure!(
                r.envs.actions.iter().flatten().all(known),
                "the saved env state does not replay (another env version?)"
            );
            Some((r.envs, r.counters()?))
        }
        None => None,
    };
    Ok((SlotEnvs::new(slots, resumed)?, options))
}

/// Play a skills-rl agent (a trained network, or random options) through core's evaluation.
pub fn eval_agent(
    agent: &mut OptionAgent,
    env_id: &str,
    episodes: u32,
    seed: u64,
) -> anyhow::Result<Totals> {
    let s = evaluate(agent, env_id, seed..seed + episodes as u64)?;
    Ok(Totals::of(&s, false, true))
}

/// Play a trained option policy.
pub fn eval_policy(
    model: &ActorCritic,
    env_id: &str,
    episodes: u32,
    seed: u64,
    greedy: bool,
) -> anyhow::Result<Totals> {
    let mut agent = OptionAgent::new(model.clone(), seed, greedy).map_err(anyhow::Error::msg)?;
    eval_agent(&mut agent, env_id, episodes, seed)
}

/// A uniformly random option policy (the baseline skills-rl must beat).
pub fn eval_random(env_id: &str, episodes: u32, seed: u64) -> anyhow::Result<Totals> {
    eval_agent(&mut OptionAgent::random(seed), env_id, episodes, seed)
}

/// The metrics.csv columns of a skills-rl run: what the options did so far.
fn metrics(c: &Counters) -> anyhow::Result<Vec<Metric>> {
    Ok(vec![
        Metric::new("env_steps", Some("skills-rl/env_steps"), c.env_steps as f64),
        Metric::new("options", Some("skills-rl/options"), c.options as f64),
        Metric::new(
            "failed_option_share",
            Some("skills-rl/failed_option_share"),
            c.failed as f64 / c.options.max(1) as f64,
        ),
    ])
}

/// `train --algo skills-rl`: the option policy over `cfg.envs` option-level envs, evaluated
/// sampling, as PPO's: a greedy option policy can repeat an option that changes nothing (the
/// memory map stays the same, so it chooses it again).
pub fn setup(
    cfg: &Config,
    env: &'static EnvSpec,
    resumed: Option<&Resumed>,
) -> anyhow::Result<Trainee> {
    let (envs, options) = skill_envs(env.id, cfg.envs, cfg.seed, resumed)?;
    let settings = AlgoSettings {
        planner: Some("none".into()),
        skills: Some(SkillsSettings {
            options: options.iter().map(|s| s.to_string()).collect(),
            max_option_steps: MAX_OPTION_STEPS,
        }),
        ..AlgoSettings::default()
    };
    let spec = net_spec(&Env::new(env, cfg.seed), options.len());
    let id = env.id;
    let evaluate = move |model: &ActorCritic, episodes: usize, seed| {
        Ok(Evaluated {
            agent: "skills",
            planner: "none".into(),
            greedy: false,
            totals: eval_policy(model, id, episodes as u32, seed, false)?,
            by_kind: Vec::new(),
        })
    };
    Ok(Trainee::of_slots(spec, envs, settings, metrics, evaluate))
}
