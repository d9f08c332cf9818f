//! `gridmentor train --algo when2ask`: the mediator, a PPO policy over two actions (0 don't ask,
//! 1 ask) reading the signed memory-map change, trained over the planner + skills agent with
//! When2Ask's query cost (see [`super::ask`]). `eval --agent mediator:PATH` plays it.

use super::ask::{AskStep, AskingAgent};
use super::settings::{AlgoSettings, GuideArgs, GuideRecord, When2askSettings};
use super::trainee::{Evaluated, Resumed, Trainee};
use crate::metric::Metric;
use crate::planner_spec::PlannerSpec;
use crate::ppo::Config;
use crate::ppo::slot_envs::{Board, Outcome, Slot, SlotEnvs};
use crate::summary::Totals;
use gridmentor_core::agent::evaluate;
use gridmentor_core::mediator::{self, MediatorAgent};
use gridmentor_core::nn::{ActorCritic, NetKind, NetSpec, ObsKind};
use gridmentor_core::planner::PromptStyle;
use gridmentor_core::world::Transition;
use gridmentor_core::{Env, EnvSpec, registry};
use std::collections::VecDeque;

/// The mediator's actions.
pub const DONT_ASK: u8 = mediator::DONT_ASK as u8;
pub const ASK: u8 = mediator::ASK as u8;

/// The mediator's network for `env_id`.
pub fn mediator_spec(env: &Env) -> NetSpec {
    NetSpec {
        net: NetKind::MemoryMapCnn,
        obs: ObsKind::MemoryMapDiff {
            width: env.world.width() as u16,
            height: env.world.height() as u16,
        },
        actions: 2,
    }
}

/// One finished episode's planner use.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct EpisodeUse {
    pub queries: u32,
    pub calls: u64,
    pub tokens: u64,
    pub planner_ms: f64,
    pub penalty: f32,
}

/// The planner's use so far (the run's metrics; `latest.state` keeps them).
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// The last 100 episodes.
    pub recent: VecDeque<EpisodeUse>,
    pub total_calls: u64,
    /// The planner failed: training stops at the end of the update, with this error.
    #[serde(skip)]
    pub error: Option<String>,
}

/// The planner + skills agent in one env, asking when the mediator says so.
pub struct AskingSlot {
    env_id: &'static str,
    agent: AskingAgent,
    ep: EpisodeUse,
    stats_at_start: gridmentor_core::agent::AgentStats,
}

impl Slot for AskingSlot {
    type Counters = Counters;

    /// One step of the agent, asking if the mediator said so; the reward PPO sees is the env's
    /// minus the query cost.
    fn act(&mut self, board: &mut Board, action: u8, c: &mut Counters) -> Outcome {
        // After a planner failure, end episodes without it so that training stops cleanly.
        let failed = AskStep {
            transition: Transition {
                truncated: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let st = if c.error.is_some() {
            failed
        } else {
            self.agent
                .step(&mut board.env, action == ASK)
                .unwrap_or_else(|e| {
                    c.error = Some(format!("planner: {e}"));
                    failed
                })
        };
        let t = st.transition;
        self.ep.queries += st.queries;
        self.ep.penalty += st.penalty;
        let done = t.terminated || t.truncated;
        if done {
            let now = self.agent.agent.stats;
            let before = self.stats_at_start;
            self.ep.calls = now.planner_calls - before.planner_calls;
            self.ep.tokens = (now.prompt_tokens + now.completion_tokens)
                - (before.prompt_tokens + before.completion_tokens);
            self.ep.planner_ms = now.planner_ms - before.planner_ms;
            c.total_calls += self.ep.calls;
            c.recent.push_back(std::mem::take(&mut self.ep));
            if c.recent.len() > 100 {
                c.recent.pop_front();
            }
            self.stats_at_start = now;
        } else {
            board.observer.update(&board.env);
        }
        // Episodes are scored by the env's return (the success test is `> 0`).
        Outcome {
            reward: t.reward - st.penalty,
            score: t.reward,
            steps: 1,
            done,
        }
    }

    fn started(&mut self, env: &Env) {
        self.agent.start(env, self.env_id);
    }
}

/// N copies of the planner + skills agent in an env, stepped by the mediator's decisions.
pub type When2AskEnvs = SlotEnvs<AskingSlot>;

/// `n` planner + skills agents asking `planner` in `env_id` (or those of a saved state: their
/// episodes replayed through the planner, where they were for a deterministic one).
pub fn when2ask_envs(
    env_id: &str,
    planner: &PlannerSpec,
    style: PromptStyle,
    cache_plans: bool,
    n: usize,
    seed: u64,
    resumed: Option<&Resumed>,
) -> anyhow::Result<When2AskEnvs> {
    let spec = registry::find(env_id)?;
    let obs = |env: &Env| mediator_spec(env).obs;
    let mut slots = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let board = Board::new(spec, seed, 2_000 + i, obs)?;
        let mut agent = AskingAgent::new(planner.build()?, style, cache_plans);
        agent.start(&board.env, spec.id);
        let slot = AskingSlot {
            env_id: spec.id,
            stats_at_start: agent.agent.stats,
            agent,
            ep: EpisodeUse::default(),
        };
        slots.push((board, slot));
    }
    let resumed = match resumed {
        Some(r) => Some((r.envs, r.counters()?)),
        None => None,
    };
    let envs = SlotEnvs::new(slots, resumed)?;
    if let Some(e) = &envs.counters.borrow().error {
        anyhow::bail!("replaying the saved envs: {e}");
    }
    Ok(envs)
}

/// The metrics.csv columns of a When2Ask run: the planner's use over the last 100 episodes.
fn metrics(s: &Counters) -> anyhow::Result<Vec<Metric>> {
    if let Some(e) = &s.error {
        anyhow::bail!("{e}");
    }
    let n = s.recent.len().max(1) as f64;
    let mean = |f: fn(&EpisodeUse) -> f64| s.recent.iter().map(f).sum::<f64>() / n;
    Ok(vec![
        Metric::new(
            "queries_per_episode",
            Some("when2ask/queries_per_episode"),
            mean(|e| e.queries as f64),
        ),
        Metric::new(
            "llm_calls_per_episode",
            Some("when2ask/llm_calls_per_episode"),
            mean(|e| e.calls as f64),
        ),
        Metric::new(
            "tokens_per_episode",
            Some("when2ask/tokens_per_episode"),
            mean(|e| e.tokens as f64),
        ),
        Metric::new(
            "planner_ms_per_episode",
            Some("when2ask/planner_ms_per_episode"),
            mean(|e| e.planner_ms),
        ),
        Metric::new(
            "query_cost_per_episode",
            Some("when2ask/query_cost_per_episode"),
            mean(|e| e.penalty as f64),
        ),
        Metric::new(
            "llm_calls_total",
            Some("when2ask/llm_calls_total"),
            s.total_calls as f64,
        ),
    ])
}

/// Play the mediator (greedy or sampled) through core's evaluation.
pub fn eval_mediator(
    model: &ActorCritic,
    planner: &PlannerSpec,
    style: PromptStyle,
    env_id: &str,
    episodes: u32,
    seed: u64,
    greedy: bool,
) -> anyhow::Result<Totals> {
    let mut agent = MediatorAgent::new(model.clone(), planner.build()?, style, seed, greedy)
        .map_err(anyhow::Error::msg)?;
    let s = evaluate(&mut agent, env_id, seed..seed + episodes as u64)?;
    Ok(Totals::of(&s, true, false))
}

/// `train --algo when2ask`: the mediator over `cfg.envs` planner + skills agents asking
/// `guide.planner`, evaluated greedy (as the paper reports it).
pub fn setup(
    cfg: &Config,
    guide: &GuideArgs,
    env: &'static EnvSpec,
    resumed: Option<&Resumed>,
) -> anyhow::Result<Trainee> {
    let spec = mediator_spec(&Env::new(env, cfg.seed));
    let style = PromptStyle::When2Ask;
    let planner = guide.planner.clone();
    let cache = planner.is_deterministic();
    // A bad endpoint fails here, before the run folder is created.
    let planner_name = planner.name()?;
    let envs = when2ask_envs(env.id, &planner, style, cache, cfg.envs, cfg.seed, resumed)?;
    let settings = AlgoSettings {
        planner: Some(planner.to_string()),
        planner_name: Some(planner_name.clone()),
        guide: Some(GuideRecord {
            args: guide.clone(),
            planner: planner_name.clone(),
        }),
        when2ask: Some(When2askSettings {
            style: style.name().into(),
            cache_plans: cache,
            query_cost: super::ask::QUERY_COST,
            repeat_weight: super::ask::REPEAT_WEIGHT,
        }),
        ..AlgoSettings::default()
    };
    let id = env.id;
    let evaluate = move |model: &ActorCritic, episodes: usize, seed| {
        let totals = eval_mediator(model, &planner, style, id, episodes as u32, seed, true)?;
        Ok(Evaluated {
            agent: "mediator",
            planner: planner_name.clone(),
            greedy: true,
            totals,
            by_kind: Vec::new(),
        })
    };
    Ok(Trainee::of_slots(spec, envs, settings, metrics, evaluate))
}
