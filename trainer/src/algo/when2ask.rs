//! `gridmentor train --algo when2ask`: the mediator, a PPO policy over two actions (0 don't ask,
//! 1 ask) reading the signed memory-map change, trained over the planner + skills agent with
//! When2Ask's query cost (see [`super::ask`]). `eval --agent mediator:PATH` plays it.

use super::ask::{AskStep, AskingAgent, play};
use super::settings::{Algo, AlgoSettings, GuideArgs, GuideRecord};
use super::trainee::{Evaluated, Resumed, Trainee};
use crate::metric::Metric;
use crate::planner_spec::PlannerSpec;
use crate::ppo::vec_env::{Snapshot, StepInfo};
use crate::ppo::{Config, Envs};
use crate::summary::Totals;
use gridmentor_core::mediator::{self, Mediator};
use gridmentor_core::nn::{ActorCritic, NetKind, NetSpec, ObsKind, Observer};
use gridmentor_core::planner::PromptStyle;
use gridmentor_core::rng::Rng;
use gridmentor_core::world::Transition;
use gridmentor_core::{Env, EnvSpec, registry};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

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

/// What the training loop reads from the envs while PPO holds them (and `latest.state` keeps).
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Shared {
    /// The last 100 episodes.
    pub recent: VecDeque<EpisodeUse>,
    pub total_calls: u64,
    #[serde(skip)]
    pub error: Option<String>,
}

struct Slot {
    env: Env,
    seeds: Rng,
    agent: AskingAgent,
    observer: Observer,
    ep_return: f32,
    ep_len: u32,
    ep: EpisodeUse,
    stats_at_start: gridmentor_core::agent::AgentStats,
}

impl Slot {
    /// The mediator said `ask` (or not): one step of the agent, the episode's bookkeeping, and
    /// a fresh episode when it ended. The info's reward is the env's minus the query cost.
    fn step(&mut self, ask: bool, shared: &mut Shared, env_id: &str) -> StepInfo {
        // After a planner failure, end episodes without it so that training stops cleanly.
        let failed = AskStep {
            transition: Transition {
                truncated: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let st = if shared.error.is_some() {
            failed
        } else {
            self.agent.step(&mut self.env, ask).unwrap_or_else(|e| {
                shared.error = Some(format!("planner: {e}"));
                failed
            })
        };
        let t = st.transition;
        self.ep_return += t.reward;
        self.ep_len += 1;
        self.ep.queries += st.queries;
        self.ep.penalty += st.penalty;
        let done = t.terminated || t.truncated;
        let mut info = StepInfo {
            reward: t.reward - st.penalty,
            done,
            episode: None,
        };
        if done {
            // Episodes are scored by the env's return (the success test is `> 0`).
            info.episode = Some((self.ep_return, self.ep_len));
            let now = self.agent.agent.stats;
            let before = self.stats_at_start;
            self.ep.calls = now.planner_calls - before.planner_calls;
            self.ep.tokens = (now.prompt_tokens + now.completion_tokens)
                - (before.prompt_tokens + before.completion_tokens);
            self.ep.planner_ms = now.planner_ms - before.planner_ms;
            shared.total_calls += self.ep.calls;
            shared.recent.push_back(self.ep);
            if shared.recent.len() > 100 {
                shared.recent.pop_front();
            }
            self.ep = EpisodeUse::default();
            self.ep_return = 0.0;
            self.ep_len = 0;
            self.stats_at_start = now;
            let seed = self.seeds.next_u64();
            self.reset(seed, env_id);
        } else {
            self.observer.update(&self.env);
        }
        info
    }

    fn reset(&mut self, seed: u64, env_id: &str) {
        self.env.reset(seed);
        self.agent.reset(&self.env, env_id);
        self.observer.reset(&self.env);
    }
}

/// N copies of the planner + skills agent in an env, stepped by the mediator's decisions.
pub struct When2AskEnvs {
    env_id: &'static str,
    slots: Vec<Slot>,
    obs: Vec<f32>,
    info: Vec<StepInfo>,
    obs_len: usize,
    mirror: Snapshot,
    pub shared: Rc<RefCell<Shared>>,
}

impl When2AskEnvs {
    /// `n` envs, or, with `resumed`, the envs of a saved state: their episodes replayed through
    /// the planner (where they were for a deterministic one) and the saved counters.
    pub fn new(
        env_id: &str,
        planner: &PlannerSpec,
        style: PromptStyle,
        cache_plans: bool,
        n: usize,
        seed: u64,
        resumed: Option<&Resumed>,
    ) -> anyhow::Result<When2AskEnvs> {
        let spec = registry::find(env_id)?;
        let mut slots = Vec::with_capacity(n);
        for i in 0..n {
            let mut seeds = Rng::derive(seed, 2_000 + i as u64);
            let env = Env::new(spec, seeds.next_u64());
            let mut agent = AskingAgent::new(planner.build()?, style, cache_plans);
            agent.reset(&env, spec.id);
            let observer =
                Observer::new(mediator_spec(&env).obs, &env).map_err(anyhow::Error::msg)?;
            slots.push(Slot {
                stats_at_start: agent.agent.stats,
                env,
                seeds,
                agent,
                observer,
                ep_return: 0.0,
                ep_len: 0,
                ep: EpisodeUse::default(),
            });
        }
        let mut mirror = Snapshot::fresh(n);
        let mut shared = Shared::default();
        if let Some(r) = resumed {
            r.envs.expect_envs(n)?;
            for (i, s) in slots.iter_mut().enumerate() {
                for _ in 0..r.envs.resets[i] {
                    let next = s.seeds.next_u64();
                    s.reset(next, spec.id);
                    mirror.record(i, DONT_ASK, true);
                }
                s.stats_at_start = s.agent.agent.stats;
                for &a in &r.envs.actions[i] {
                    let done = s.step(a == ASK, &mut shared, spec.id).done;
                    mirror.record(i, a, done);
                    if done {
                        // Another planner's answers ended the episode sooner: go on from here.
                        break;
                    }
                }
            }
            if let Some(e) = shared.error {
                anyhow::bail!("replaying the saved envs: {e}");
            }
            shared = r.counters()?;
        }
        let obs_len = slots[0].observer.kind().len();
        let mut obs = vec![0.0; n * obs_len];
        for (s, out) in slots.iter_mut().zip(obs.chunks_mut(obs_len)) {
            s.observer.write(&s.env, out);
        }
        Ok(When2AskEnvs {
            env_id: spec.id,
            slots,
            obs,
            info: vec![StepInfo::default(); n],
            obs_len,
            mirror,
            shared: Rc::new(RefCell::new(shared)),
        })
    }
}

impl Envs for When2AskEnvs {
    fn obs(&self) -> &[f32] {
        &self.obs
    }
    fn info(&self) -> &[StepInfo] {
        &self.info
    }
    fn step(&mut self, actions: &[u8]) {
        let mut shared = self.shared.borrow_mut();
        for (i, s) in self.slots.iter_mut().enumerate() {
            self.info[i] = s.step(actions[i] == ASK, &mut shared, self.env_id);
            self.mirror.record(i, actions[i], self.info[i].done);
            s.observer.write(
                &s.env,
                &mut self.obs[i * self.obs_len..(i + 1) * self.obs_len],
            );
        }
    }
    fn snapshot(&self) -> Option<Snapshot> {
        Some(self.mirror.clone())
    }
}

/// The metrics.csv columns of a When2Ask run: the planner's use over the last 100 episodes.
fn metrics(s: &Shared) -> anyhow::Result<Vec<Metric>> {
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

/// Play the mediator (greedy or sampled).
pub fn eval_mediator(
    model: &ActorCritic,
    planner: &PlannerSpec,
    style: PromptStyle,
    env_id: &str,
    episodes: u32,
    seed: u64,
    greedy: bool,
) -> anyhow::Result<Totals> {
    anyhow::ensure!(episodes >= 1, "--episodes must be at least 1");
    let spec = model.spec();
    anyhow::ensure!(
        mediator::is_mediator(spec),
        "not a When2Ask mediator: the network reads {} and has {} actions",
        spec.obs,
        spec.actions
    );
    let mut agent = AskingAgent::new(planner.build()?, style, false);
    let mut mediator: Option<Mediator> = None;
    play(&mut agent, env_id, episodes, seed, |env, _, first| {
        if first {
            match &mut mediator {
                Some(m) => m.reset(env),
                None => {
                    mediator = Some(
                        Mediator::new(model.clone(), env, seed, greedy)
                            .map_err(anyhow::Error::msg)?,
                    )
                }
            }
        } else if let Some(m) = &mut mediator {
            m.observe(env);
        }
        let m = mediator.as_mut().expect("made on the first step");
        Ok(m.choose(env).ask)
    })
}

/// Load a mediator checkpoint trained on `env_id`.
pub fn load_mediator(
    path: &std::path::Path,
    env_id: &str,
) -> anyhow::Result<crate::checkpoint::Loaded> {
    crate::checkpoint::load(path, env_id, Some(&Algo::When2Ask.to_string()))
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
    let envs = When2AskEnvs::new(env.id, &planner, style, cache, cfg.envs, cfg.seed, resumed)?;
    let settings = AlgoSettings {
        planner: Some(planner.to_string()),
        planner_name: Some(planner_name.clone()),
        guide: Some(GuideRecord {
            args: guide.clone(),
            planner: planner_name.clone(),
        }),
        style: Some(style.name().into()),
        cache_plans: Some(cache),
        query_cost: Some(super::ask::QUERY_COST),
        repeat_weight: Some(super::ask::REPEAT_WEIGHT),
        ..AlgoSettings::default()
    };
    let shared = envs.shared.clone();
    let counters = envs.shared.clone();
    let id = env.id;
    Ok(Trainee {
        spec,
        envs: Box::new(envs),
        guide: None,
        teacher: None,
        settings,
        metrics: Box::new(move |_| metrics(&shared.borrow())),
        counters: Box::new(move || serde_json::to_value(&*counters.borrow()).unwrap_or_default()),
        evaluate: Box::new(move |model, episodes, seed| {
            let totals = eval_mediator(model, &planner, style, id, episodes as u32, seed, true)?;
            Ok(Evaluated {
                agent: "mediator",
                planner: planner_name.clone(),
                greedy: true,
                totals,
            })
        }),
    })
}
