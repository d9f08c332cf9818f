//! `gridmentor train --algo when2ask`: the mediator, a PPO policy over two actions (0 don't ask,
//! 1 ask) reading the signed memory-map change, trained over the planner + skills agent with
//! When2Ask's query cost (see [`super::ask`]). `eval --agent mediator:PATH` plays it.

use super::ask::{AskTotals, AskingAgent, play};
use super::run::{self, RunSpec};
use crate::eval::planner_from_spec;
use crate::ppo::Envs;
use crate::ppo::vec_env::StepInfo;
use crate::train::TrainArgs;
use anyhow::Context;
use burn::tensor::Device;
use gridmentor_core::mediator::{self, Mediator};
use gridmentor_core::nn::{ActorCritic, Checkpoint, NetKind, NetSpec, ObsKind, Observer};
use gridmentor_core::planner::PromptStyle;
use gridmentor_core::rng::Rng;
use gridmentor_core::{Env, registry};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// The mediator's actions.
pub const DONT_ASK: u8 = mediator::DONT_ASK as u8;
pub const ASK: u8 = mediator::ASK as u8;

/// Is the planner spec deterministic (its answers may be cached per observation text)?
pub fn deterministic(planner: &str) -> bool {
    planner == "expert" || planner.starts_with("expert:noise=0,") || planner == "expert:noise=0"
}

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
#[derive(Clone, Copy, Debug, Default)]
pub struct EpisodeUse {
    pub queries: u32,
    pub calls: u64,
    pub tokens: u64,
    pub planner_ms: f64,
    pub penalty: f32,
}

/// What the training loop reads from the envs while PPO holds them.
#[derive(Default)]
pub struct Shared {
    /// The last 100 episodes.
    pub recent: VecDeque<EpisodeUse>,
    pub total_calls: u64,
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

/// N copies of the planner + skills agent in an env, stepped by the mediator's decisions.
pub struct When2AskEnvs {
    env_id: &'static str,
    slots: Vec<Slot>,
    obs: Vec<f32>,
    info: Vec<StepInfo>,
    obs_len: usize,
    pub shared: Rc<RefCell<Shared>>,
}

impl When2AskEnvs {
    pub fn new(
        env_id: &str,
        planner: &str,
        style: PromptStyle,
        cache_plans: bool,
        n: usize,
        seed: u64,
    ) -> anyhow::Result<When2AskEnvs> {
        let spec = registry::find(env_id)?;
        let mut slots = Vec::with_capacity(n);
        for i in 0..n {
            let mut seeds = Rng::derive(seed, 2_000 + i as u64);
            let env = Env::new(spec, seeds.next_u64());
            let mut agent = AskingAgent::new(planner_from_spec(planner)?, style, cache_plans);
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
            shared: Rc::new(RefCell::new(Shared::default())),
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
            let out = &mut self.obs[i * self.obs_len..(i + 1) * self.obs_len];
            let st = if shared.error.is_some() {
                // The planner failed: end the episode without it so training can stop cleanly.
                super::ask::AskStep {
                    transition: gridmentor_core::world::Transition {
                        truncated: true,
                        ..Default::default()
                    },
                    ..Default::default()
                }
            } else {
                match s.agent.step(&mut s.env, actions[i] == ASK) {
                    Ok(st) => st,
                    Err(e) => {
                        shared.error = Some(format!("planner: {e}"));
                        super::ask::AskStep {
                            transition: gridmentor_core::world::Transition {
                                truncated: true,
                                ..Default::default()
                            },
                            ..Default::default()
                        }
                    }
                }
            };
            let t = st.transition;
            s.ep_return += t.reward;
            s.ep_len += 1;
            s.ep.queries += st.queries;
            s.ep.penalty += st.penalty;
            let done = t.terminated || t.truncated;
            self.info[i] = StepInfo {
                reward: t.reward - st.penalty,
                done,
                episode: None,
            };
            if done {
                // Episodes are scored by the env's return (the success test is `> 0`).
                self.info[i].episode = Some((s.ep_return, s.ep_len));
                let now = s.agent.agent.stats;
                let before = s.stats_at_start;
                s.ep.calls = now.planner_calls - before.planner_calls;
                s.ep.tokens = (now.prompt_tokens + now.completion_tokens)
                    - (before.prompt_tokens + before.completion_tokens);
                s.ep.planner_ms = now.planner_ms - before.planner_ms;
                shared.total_calls += s.ep.calls;
                shared.recent.push_back(s.ep);
                if shared.recent.len() > 100 {
                    shared.recent.pop_front();
                }
                s.ep = EpisodeUse::default();
                s.ep_return = 0.0;
                s.ep_len = 0;
                s.stats_at_start = now;
                s.env.reset(s.seeds.next_u64());
                s.agent.reset(&s.env, self.env_id);
                s.observer.reset(&s.env);
            } else {
                s.observer.update(&s.env);
            }
            s.observer.write(&s.env, out);
        }
    }
}

/// The metrics.csv columns of a When2Ask run.
pub const COLUMNS: &[&str] = &[
    "queries_per_episode",
    "llm_calls_per_episode",
    "tokens_per_episode",
    "planner_ms_per_episode",
    "query_cost_per_episode",
    "llm_calls_total",
];

/// Play the mediator (greedy or sampled).
pub fn eval_mediator(
    model: &ActorCritic,
    planner: &str,
    style: PromptStyle,
    env_id: &str,
    episodes: u32,
    seed: u64,
    greedy: bool,
) -> anyhow::Result<AskTotals> {
    anyhow::ensure!(episodes >= 1, "--episodes must be at least 1");
    let spec = model.spec();
    anyhow::ensure!(
        mediator::is_mediator(spec),
        "not a When2Ask mediator: the network reads {} and has {} actions",
        spec.obs,
        spec.actions
    );
    let mut agent = AskingAgent::new(planner_from_spec(planner)?, style, false);
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
) -> anyhow::Result<(ActorCritic, String)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading checkpoint {}", path.display()))?;
    let ck = Checkpoint::from_bytes(&bytes)
        .with_context(|| format!("loading checkpoint {}", path.display()))?;
    ck.expect_env(env_id)
        .with_context(|| format!("checkpoint {}", path.display()))?;
    anyhow::ensure!(
        ck.meta.algorithm == "when2ask",
        "checkpoint {} was trained by {:?}, not when2ask",
        path.display(),
        ck.meta.algorithm
    );
    Ok((ck.model(&Device::flex())?, ck.weights_sha256()))
}

/// `gridmentor train --algo when2ask`.
pub fn train(args: &TrainArgs) -> anyhow::Result<serde_json::Value> {
    let cfg = &args.ppo;
    cfg.check()?;
    let env_spec = registry::find(&cfg.env)?;
    let probe = Env::new(env_spec, cfg.seed);
    let spec = mediator_spec(&probe);
    let style = PromptStyle::When2Ask;
    let cache = deterministic(&args.guide.planner);
    // Fail on a bad planner spec before creating the run folder.
    let planner_name = planner_from_spec(&args.guide.planner)?.info().name;
    let mut envs = When2AskEnvs::new(
        env_spec.id,
        &args.guide.planner,
        style,
        cache,
        cfg.envs,
        cfg.seed,
    )?;
    let shared = envs.shared.clone();
    let run = RunSpec {
        args,
        algo: "when2ask",
        env_id: env_spec.id,
        spec,
        config: serde_json::json!({
            "planner": args.guide.planner, "planner_name": planner_name, "style": style.name(),
            "cache_plans": cache, "query_cost": super::ask::QUERY_COST,
            "repeat_weight": super::ask::REPEAT_WEIGHT,
        }),
        columns: COLUMNS,
    };
    let extra = || -> anyhow::Result<Vec<f64>> {
        let s = shared.borrow();
        if let Some(e) = &s.error {
            anyhow::bail!("{e}");
        }
        let n = s.recent.len().max(1) as f64;
        let sum = |f: &dyn Fn(&EpisodeUse) -> f64| s.recent.iter().map(f).sum::<f64>() / n;
        Ok(vec![
            sum(&|e| e.queries as f64),
            sum(&|e| e.calls as f64),
            sum(&|e| e.tokens as f64),
            sum(&|e| e.planner_ms),
            sum(&|e| e.penalty as f64),
            s.total_calls as f64,
        ])
    };
    let eval_seed = cfg.seed.wrapping_mul(1_000_003).wrapping_add(1 << 32);
    let evaluate = |model: &ActorCritic| -> anyhow::Result<serde_json::Value> {
        let t = eval_mediator(
            model,
            &args.guide.planner,
            style,
            env_spec.id,
            cfg.eval_episodes as u32,
            eval_seed,
            true,
        )?;
        let mut v = t.json();
        v["agent"] = "mediator".into();
        v["planner"] = planner_name.clone().into();
        v["eval_seed"] = eval_seed.into();
        v["greedy"] = true.into();
        Ok(v)
    };
    run::train(&run, &mut envs, &extra, &evaluate)
}
