//! What an algorithm gives the one run path ([`crate::train`]): its network, the envs PPO
//! steps, the teacher if any, its own metrics and counters, and its final evaluation.

use super::guided::TeacherTotals;
use super::settings::AlgoSettings;
use crate::metric::Metric;
use crate::ppo::slot_envs::{Slot, SlotEnvs};
use crate::ppo::update::Guide;
use crate::ppo::vec_env::Snapshot;
use crate::ppo::{Envs, Stats};
use crate::summary::Totals;
use gridmentor_core::nn::{ActorCritic, NetSpec};
use std::cell::Cell;
use std::rc::Rc;

/// How a trained network played in the run's final evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated {
    /// `eval --agent` that plays it the same way (`checkpoint`, `mediator`, `skills`).
    pub agent: &'static str,
    pub planner: String,
    pub greedy: bool,
    pub totals: Totals,
    /// BabyAI levels: episodes and successes per task kind (empty elsewhere).
    pub by_kind: Vec<gridmentor_core::agent::KindTally>,
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
    /// The teacher of the guided algorithms ...
    pub guide: Option<Box<dyn Guide>>,
    /// ... and what it has cost so far (the run's `teacher` result).
    pub teacher: Option<Rc<Cell<TeacherTotals>>>,
    /// What config.json records of the algorithm.
    pub settings: AlgoSettings,
    /// The algorithm's own metrics.csv columns after an update (their values now).
    pub metrics: MetricsFn,
    /// The algorithm's counters, saved in `latest.state` so that a resumed run goes on counting.
    pub counters: Box<dyn Fn() -> serde_json::Value>,
    /// The final evaluation of the trained network (on the CPU): `episodes` from seed `seed`.
    pub evaluate: EvaluateFn,
}

impl Trainee {
    /// An algorithm over its own [`SlotEnvs`], without a teacher: its metrics are `metrics` of
    /// the envs' counters, which `latest.state` keeps.
    pub fn of_slots<S: Slot + 'static>(
        spec: NetSpec,
        envs: SlotEnvs<S>,
        settings: AlgoSettings,
        metrics: fn(&S::Counters) -> anyhow::Result<Vec<Metric>>,
        evaluate: impl Fn(&ActorCritic, usize, u64) -> anyhow::Result<Evaluated> + 'static,
    ) -> Trainee {
        let (read, keep) = (envs.counters.clone(), envs.counters.clone());
        Trainee {
            spec,
            envs: Box::new(envs),
            guide: None,
            teacher: None,
            settings,
            metrics: Box::new(move |_| metrics(&read.borrow())),
            counters: Box::new(move || serde_json::to_value(&*keep.borrow()).unwrap_or_default()),
            evaluate: Box::new(evaluate),
        }
    }
}

/// An algorithm's metrics.csv columns, given PPO's statistics of the update.
pub type MetricsFn = Box<dyn Fn(&Stats) -> anyhow::Result<Vec<Metric>>>;

/// The final evaluation of a trained network: `(model, episodes, seed)`.
pub type EvaluateFn = Box<dyn Fn(&ActorCritic, usize, u64) -> anyhow::Result<Evaluated>>;
