//! When2Ask's mediator acting: a trained two-action network (0 don't ask, 1 ask) reading the
//! signed change of the memory map decides, step by step, whether the planner + skills agent asks
//! its planner again. The trainer's evaluation, the server's leaderboard and the browser use this.

use crate::Env;
use crate::ask::{AskDecision, AskStep, AskingAgent};
use crate::nn::policy::PolicyAgent;
use crate::nn::{ActorCritic, NetSpec, ObsKind};
use crate::planner::{Planner, PlannerError, PromptStyle};
use crate::registry;
use alloc::format;
use alloc::string::{String, ToString};

/// The mediator's actions.
pub const DONT_ASK: usize = 0;
pub const ASK: usize = 1;

/// Is `spec` a mediator's network (two actions over the memory map's change)?
pub fn is_mediator(spec: NetSpec) -> bool {
    spec.actions == 2 && matches!(spec.obs, ObsKind::MemoryMapDiff { .. })
}

/// What the mediator said about the current step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MediatorChoice {
    pub ask: bool,
    /// The network's probability of asking.
    pub p_ask: f32,
    /// The critic's value.
    pub value: f32,
}

/// The network and what it remembers between steps: a [`PolicyAgent`] over the two actions.
pub struct Mediator {
    agent: PolicyAgent,
    /// The choice for the current step, kept until the world changes (a decision retried after
    /// a planner failure must not draw again).
    chosen: Option<MediatorChoice>,
}

impl Mediator {
    /// `model` mediating in `env` (at the start of an episode); `seed` drives sampling; `greedy`
    /// asks when asking is the more likely action instead of sampling.
    pub fn new(model: ActorCritic, env: &Env, seed: u64, greedy: bool) -> Result<Mediator, String> {
        let spec = model.spec();
        if !is_mediator(spec) {
            return Err(format!(
                "not a When2Ask mediator: the network reads {} and has {} actions (a mediator \
                 reads the memory map's change and has 2)",
                spec.obs, spec.actions
            ));
        }
        Ok(Mediator {
            agent: PolicyAgent::with_stream(model, env, seed, 0x3ED1, greedy)?,
            chosen: None,
        })
    }

    pub fn model(&self) -> &ActorCritic {
        self.agent.model()
    }

    /// A new episode began in `env` (the sampling stream goes on).
    pub fn reset(&mut self, env: &Env) {
        self.agent.reset(env);
        self.chosen = None;
    }

    /// `env` took a step.
    pub fn observe(&mut self, env: &Env) {
        self.agent.observe(env);
        self.chosen = None;
    }

    /// Ask or not, for `env`'s current state.
    pub fn choose(&mut self, env: &Env) -> MediatorChoice {
        if let Some(c) = self.chosen {
            return c;
        }
        let d = self.agent.decide(env);
        let c = MediatorChoice {
            ask: d.action == ASK,
            p_ask: d.probs[ASK],
            value: d.value,
        };
        self.chosen = Some(c);
        c
    }
}

/// The planner + skills agent whose asking the mediator decides.
pub struct MediatorAgent<P: Planner> {
    pub mediator: Mediator,
    pub asking: AskingAgent<P>,
}

impl<P: Planner> MediatorAgent<P> {
    /// `model` deciding when `planner` is asked, in `env` (its registry id `env_id`). Plans are
    /// not cached: every ask is a planner call, as in the trainer's evaluation.
    pub fn new(
        model: ActorCritic,
        planner: P,
        style: PromptStyle,
        env: &Env,
        env_id: &str,
        seed: u64,
        greedy: bool,
    ) -> Result<MediatorAgent<P>, String> {
        let mediator = Mediator::new(model, env, seed, greedy)?;
        let mut asking = AskingAgent::new(planner, style, false);
        asking.reset(env, env_id);
        Ok(MediatorAgent { mediator, asking })
    }

    /// A new episode began in `env`.
    pub fn reset(&mut self, env: &Env, env_id: &str) {
        self.mediator.reset(env);
        self.asking.reset(env, env_id);
    }

    /// The mediator's choice and the agent's decision for `env`'s current state (not applied).
    pub fn decide(&mut self, env: &Env) -> Result<(MediatorChoice, AskDecision), PlannerError> {
        let c = self.mediator.choose(env);
        let d = self.asking.act(c.ask)?;
        Ok((c, d))
    }

    /// `env` took a step.
    pub fn observe(&mut self, env: &Env) {
        self.mediator.observe(env);
        self.asking.observe(env);
    }

    /// Decide, step `env`, observe.
    pub fn step(&mut self, env: &mut Env) -> Result<(MediatorChoice, AskStep), PlannerError> {
        let (c, d) = self.decide(env)?;
        let transition = env.step(d.decision.action);
        self.observe(env);
        Ok((
            c,
            AskStep {
                transition,
                queries: d.queries,
                penalty: d.penalty,
            },
        ))
    }
}

/// How a mediator did over a set of episodes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MediatorEvaluation {
    pub episodes: u32,
    pub success_rate: f32,
    pub mean_return: f32,
    pub mean_steps: f32,
    /// Queries to the planner per episode (voluntary and forced).
    pub queries_per_episode: f32,
}

/// Play `episodes` episodes of `env_id` (seeds `seed, seed + 1, ...`) with `planner`, the
/// mediator deciding when it is asked.
pub fn evaluate<P: Planner>(
    model: &ActorCritic,
    planner: P,
    style: PromptStyle,
    env_id: &str,
    episodes: usize,
    seed: u64,
    greedy: bool,
) -> Result<MediatorEvaluation, String> {
    if episodes == 0 {
        return Err("evaluate at least one episode".to_string());
    }
    let spec = registry::find(env_id).map_err(|e| e.to_string())?;
    let mut env = Env::new(spec, seed);
    let mut agent = MediatorAgent::new(model.clone(), planner, style, &env, spec.id, seed, greedy)?;
    let (mut wins, mut ret, mut steps, mut queries) = (0u32, 0.0f32, 0u64, 0u64);
    for i in 0..episodes as u64 {
        env.reset(seed.wrapping_add(i));
        agent.reset(&env, spec.id);
        loop {
            let (_, s) = agent.step(&mut env).map_err(|e| e.to_string())?;
            ret += s.transition.reward;
            queries += s.queries as u64;
            if s.transition.terminated || s.transition.truncated {
                wins += s.transition.success() as u32;
                steps += env.world.step_count as u64;
                break;
            }
        }
    }
    let n = episodes as f32;
    Ok(MediatorEvaluation {
        episodes: episodes as u32,
        success_rate: wins as f32 / n,
        mean_return: ret / n,
        mean_steps: steps as f32 / n,
        queries_per_episode: queries as f32 / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::NetKind;
    use crate::planner::ExpertPlanner;
    use burn::tensor::Device;

    fn mediator_net(seed: u64) -> ActorCritic {
        let spec = NetSpec {
            net: NetKind::MemoryMapCnn,
            obs: ObsKind::MemoryMapDiff {
                width: 10,
                height: 10,
            },
            actions: 2,
        };
        ActorCritic::new(spec, seed, &Device::flex()).unwrap()
    }

    #[test]
    fn refuses_a_network_that_is_not_a_mediator() {
        let env = registry::make("SimpleDoorKey", 1).unwrap();
        let policy = ActorCritic::new(
            NetSpec {
                net: NetKind::MemoryMapCnn,
                obs: ObsKind::MemoryMap {
                    width: 10,
                    height: 10,
                },
                actions: 7,
            },
            1,
            &Device::flex(),
        )
        .unwrap();
        let err = Mediator::new(policy, &env, 1, true).err().unwrap();
        assert!(err.contains("not a When2Ask mediator"), "{err}");
    }

    #[test]
    fn a_choice_is_kept_until_the_world_changes() {
        let mut env = registry::make("SimpleDoorKey", 2).unwrap();
        let mut m = Mediator::new(mediator_net(5), &env, 9, false).unwrap();
        let first = m.choose(&env);
        assert!((0.0..=1.0).contains(&first.p_ask));
        for _ in 0..5 {
            assert_eq!(m.choose(&env), first, "no second draw for the same step");
        }
        env.step(crate::world::Action::Left);
        m.observe(&env);
        // A new observation gives a new input: the probability moves.
        assert_ne!(m.choose(&env).p_ask, first.p_ask);
    }

    #[test]
    fn evaluation_matches_step_by_step_play() {
        let model = mediator_net(3);
        let e = evaluate(
            &model,
            ExpertPlanner::new(),
            PromptStyle::When2Ask,
            "SimpleDoorKey",
            3,
            20,
            true,
        )
        .unwrap();
        let (mut queries, mut steps) = (0u32, 0u32);
        for s in 20..23 {
            let mut env = registry::make("SimpleDoorKey", s).unwrap();
            let mut a = MediatorAgent::new(
                model.clone(),
                ExpertPlanner::new(),
                PromptStyle::When2Ask,
                &env,
                "SimpleDoorKey",
                20,
                true,
            )
            .unwrap();
            loop {
                let (c, st) = a.step(&mut env).unwrap();
                assert!(st.queries >= 1 || !c.ask, "an ask is a query");
                queries += st.queries;
                if st.transition.terminated || st.transition.truncated {
                    steps += env.world.step_count;
                    break;
                }
            }
        }
        assert_eq!(e.mean_steps, steps as f32 / 3.0);
        assert_eq!(e.queries_per_episode, queries as f32 / 3.0);
    }
}
