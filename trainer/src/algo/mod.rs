//! The training algorithms, each as what the one run path ([`crate::train`]) needs of it: the
//! network, the envs PPO steps, the teacher if any, its own metrics and its final evaluation.

pub mod ask;
pub mod glam;
pub mod guided;
pub mod skills_rl;
pub mod teacher;
pub mod when2ask;

use crate::metric::Metric;
use crate::ppo::vec_env::{Snapshot, VecEnv};
use crate::ppo::{Config, Envs, Stats};
use crate::summary::Totals;
use gridmentor_core::nn::{ActorCritic, NetSpec, policy};
use gridmentor_core::{EnvSpec, registry};
use std::fmt;

pub use guided::{GuideArgs, Guided, TeacherTotals, Teaching};
pub use teacher::{Teacher, TeacherStats};

/// `train --algo`: what PPO's network learns to do, and with whose help.
#[derive(
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
)]
pub enum Algo {
    /// PPO alone on the env's actions.
    #[default]
    #[value(name = "ppo")]
    #[serde(rename = "ppo")]
    Ppo,
    /// When2Ask: a mediator learns when to ask the planner, whose plans the skills run.
    #[value(name = "when2ask")]
    #[serde(rename = "when2ask")]
    When2Ask,
    /// PPO choosing among the skills (options), no LLM.
    #[value(name = "skills-rl")]
    #[serde(rename = "skills-rl")]
    SkillsRl,
    /// LLM4Teach: PPO plus a distillation term towards the planner's soft-plan teacher.
    #[value(name = "llm4teach")]
    #[serde(rename = "llm4teach")]
    Llm4Teach,
    /// IHAC: LLM4Teach plus guided sampling and an alignment phase.
    #[value(name = "ihac")]
    #[serde(rename = "ihac")]
    Ihac,
    /// in5490: a bonus for taking the planner's suggestion, and a logit bias towards it.
    #[value(name = "shaping")]
    #[serde(rename = "shaping")]
    Shaping,
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use clap::ValueEnum;
        let value = self
            .to_possible_value()
            .expect("every algorithm is a value");
        f.write_str(value.get_name())
    }
}

/// What an algorithm adds to config.json beside the PPO settings (flattened into it, as older
/// run folders have these keys).
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
pub struct AlgoSettings {
    /// The planner (When2Ask: its spec; skills-rl: `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planner_name: Option<String>,
    /// The planner's and teacher's settings, for every algorithm that asks a planner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guide: Option<GuideRecord>,
    /// When2Ask: the prompt style, whether plans are cached per observation text, and the
    /// query cost `0.01 + 0.1 r`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_plans: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_cost: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_weight: Option<f32>,
    /// skills-rl: the options (skills) the policy chooses among, and how long one may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_option_steps: Option<u32>,
}

/// config.json's `guide`: the settings `--resume` goes on with, and the planner's name.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
pub struct GuideRecord {
    #[serde(default)]
    pub args: GuideArgs,
    #[serde(default)]
    pub planner: String,
}

/// How a trained network played in the run's final evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated {
    /// `eval --agent` that plays it the same way (`checkpoint`, `mediator`, `skills`).
    pub agent: &'static str,
    pub planner: String,
    pub greedy: bool,
    pub totals: Totals,
}

/// Where a resumed run's algorithm stands (from `latest.state`).
pub struct Resumed<'a> {
    /// The envs, replayed to where they were.
    pub envs: &'a Snapshot,
    /// The algorithm's own counters (what [`Trainee::counters`] gave).
    pub counters: &'a serde_json::Value,
}

impl Resumed<'_> {
    /// The saved counters (their defaults when a state has none).
    pub fn counters<T: serde::de::DeserializeOwned + Default>(&self) -> anyhow::Result<T> {
        if self.counters.is_null() {
            return Ok(T::default());
        }
        serde_json::from_value(self.counters.clone())
            .map_err(|e| anyhow::anyhow!("the saved state's algorithm counters: {e}"))
    }
}

/// One algorithm's part of a training run.
pub struct Trainee {
    /// The network PPO trains; its actions are the algorithm's (the env's, ask / don't ask,
    /// options).
    pub spec: NetSpec,
    pub envs: Box<dyn Envs>,
    /// The teacher of the guided algorithms.
    pub guide: Option<Guided>,
    /// What config.json records of the algorithm.
    pub settings: AlgoSettings,
    /// The algorithm's own metrics.csv columns after an update (their values now).
    pub metrics: Box<dyn Fn(&Stats) -> anyhow::Result<Vec<Metric>>>,
    /// The algorithm's counters, saved in `latest.state` so that a resumed run goes on counting.
    pub counters: Box<dyn Fn() -> serde_json::Value>,
    /// The final evaluation of the trained network (on the CPU): `episodes` from seed `seed`.
    pub evaluate: Box<dyn Fn(&ActorCritic, usize, u64) -> anyhow::Result<Evaluated>>,
}

/// `algo`'s part of a run of `cfg` (the planner and teacher from `guide`), its envs where
/// `resumed` says. The one place the algorithms are told apart.
pub fn setup(
    algo: Algo,
    cfg: &Config,
    guide: &GuideArgs,
    resumed: Option<&Resumed>,
) -> anyhow::Result<Trainee> {
    let env = registry::find(&cfg.env)?;
    match algo {
        Algo::Ppo => plain(cfg, env, resumed),
        Algo::When2Ask => when2ask::setup(cfg, guide, env, resumed),
        Algo::SkillsRl => skills_rl::setup(cfg, env, resumed),
        Algo::Llm4Teach => guided::setup(Teaching::Distill, cfg, guide, env, resumed),
        Algo::Ihac => guided::setup(Teaching::Ihac, cfg, guide, env, resumed),
        Algo::Shaping => guided::setup(Teaching::Shaping, cfg, guide, env, resumed),
    }
}

/// PPO alone: `cfg.envs` copies of the env (on `cfg.env_threads` threads), the network `cfg`
/// chooses, evaluated acting as it trained (sampling).
fn plain(
    cfg: &Config,
    env: &'static EnvSpec,
    resumed: Option<&Resumed>,
) -> anyhow::Result<Trainee> {
    let spec = cfg.net_spec(env)?;
    let envs = match resumed {
        Some(r) => VecEnv::restore(
            env.id,
            spec.obs,
            cfg.envs,
            cfg.seed,
            cfg.env_threads,
            r.envs,
        )?,
        None => VecEnv::new(env.id, spec.obs, cfg.envs, cfg.seed, cfg.env_threads)?,
    };
    let id = env.id;
    Ok(Trainee {
        spec,
        envs: Box::new(envs),
        guide: None,
        settings: AlgoSettings::default(),
        metrics: Box::new(|_| Ok(Vec::new())),
        counters: Box::new(|| serde_json::Value::Null),
        evaluate: Box::new(move |model, episodes, seed| {
            let e = policy::evaluate(model, id, episodes, seed, false)
                .map_err(|e| anyhow::anyhow!("evaluating on {id}: {e}"))?;
            Ok(Evaluated {
                agent: "checkpoint",
                planner: "none".into(),
                greedy: false,
                totals: e.into(),
            })
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_are_named_alike_on_the_command_line_and_in_config_json() {
        use clap::ValueEnum;
        for algo in Algo::value_variants() {
            let json = serde_json::to_value(algo).unwrap();
            assert_eq!(json, algo.to_string());
            assert_eq!(Algo::from_str(&algo.to_string(), false), Ok(*algo));
        }
        assert_eq!(Algo::SkillsRl.to_string(), "skills-rl");
        assert_eq!(Algo::When2Ask.to_string(), "when2ask");
    }
}
