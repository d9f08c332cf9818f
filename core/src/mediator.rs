//! When2Ask's mediator acting: a trained two-action network (0 don't ask, 1 ask) reading the
//! signed change of the memory map decides, step by step, whether the planner + skills agent asks
//! its planner again. The trainer's evaluation, the server's leaderboard and the browser use this.

use crate::Env;
use crate::agent::{Agent, AgentError, AgentStats, Decision, planner_outcome};
use crate::ask::{AskDecision, AskingAgent};
use crate::nn::policy::PolicyAgent;
use crate::nn::{ActorCritic, NetSpec, ObsKind};
use crate::planner::{Planner, PlannerError, PromptStyle};
use crate::world::Action;
use alloc::format;
use alloc::string::String;

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
    /// a planner failure, or after the page fetched an answer, must not draw again).
    chosen: Option<MediatorChoice>,
}

impl Mediator {
    /// `model` as a mediator; `seed` drives sampling; `greedy` asks when asking is the more
    /// likely action instead of sampling.
    pub fn new(model: ActorCritic, seed: u64, greedy: bool) -> Result<Mediator, String> {
        let spec = model.spec();
        if !is_mediator(spec) {
            return Err(format!(
                "not a When2Ask mediator: the network reads {} and has {} actions (a mediator \
                 reads the memory map's change and has 2)",
                spec.obs, spec.actions
            ));
        }
        Ok(Mediator {
            agent: PolicyAgent::with_stream(model, seed, 0x3ED1, greedy)?,
            chosen: None,
        })
    }

    pub fn model(&self) -> &ActorCritic {
        self.agent.model()
    }

    /// A new episode began in `env`; refuses an env of another size than the network's.
    pub fn start(&mut self, env: &Env) -> Result<(), String> {
        self.chosen = None;
        self.agent.start(env)
    }

    /// `env` took a step.
    pub fn take_in(&mut self, env: &Env) {
        self.agent.take_in(env);
        self.chosen = None;
    }

    /// Ask or not, for `env`'s current state (`None` before the first episode).
    pub fn choose(&mut self, env: &Env) -> Option<MediatorChoice> {
        if let Some(c) = self.chosen {
            return Some(c);
        }
        let d = self.agent.choose(env)?;
        let c = MediatorChoice {
            ask: d.action == ASK,
            p_ask: d.probs[ASK],
            value: d.value,
        };
        self.chosen = Some(c);
        Some(c)
    }
}

/// The planner + skills agent whose asking the mediator decides.
pub struct MediatorAgent<P: Planner> {
    pub mediator: Mediator,
    pub asking: AskingAgent<P>,
    /// Who this is in results (the checkpoint's name).
    pub label: String,
}

impl<P: Planner> MediatorAgent<P> {
    /// `model` deciding when `planner` is asked. Plans are not cached: every ask is a planner
    /// call.
    pub fn new(
        model: ActorCritic,
        planner: P,
        style: PromptStyle,
        seed: u64,
        greedy: bool,
    ) -> Result<MediatorAgent<P>, String> {
        let mediator = Mediator::new(model, seed, greedy)?;
        let label = format!("When2Ask mediator ({})", planner.info().name);
        Ok(MediatorAgent {
            mediator,
            asking: AskingAgent::new(planner, style, false),
            label,
        })
    }

    /// The mediator's choice and the agent's decision for `env`'s current state (not applied).
    pub fn choose(
        &mut self,
        env: &Env,
    ) -> Result<Option<(MediatorChoice, AskDecision)>, PlannerError> {
        let Some(c) = self.mediator.choose(env) else {
            return Ok(None);
        };
        let d = self.asking.act(c.ask)?;
        Ok(Some((c, d)))
    }
}

impl<P: Planner> Agent for MediatorAgent<P> {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn reset(&mut self, env: &Env, env_id: &str) -> Result<(), AgentError> {
        self.mediator.start(env).map_err(AgentError::Unplayable)?;
        self.asking.start(env, env_id);
        Ok(())
    }

    fn decide(&mut self, env: &Env) -> Result<Decision, AgentError> {
        let r = match self.choose(env) {
            Ok(None) => return Err(AgentError::NotStarted),
            Ok(Some((c, d))) => Ok((c, d)),
            Err(e) => Err(e),
        };
        let asking = &self.asking;
        planner_outcome(r.map(|(c, d)| {
            let mut step = asking.step_of(d, Some(c.p_ask));
            step.value = Some(c.value);
            step
        }))
    }

    fn observe(&mut self, env: &Env, _taken: Action) {
        self.mediator.take_in(env);
        self.asking.take_in(env);
    }

    fn stats(&self) -> AgentStats {
        self.asking.agent.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::NetKind;
    use crate::planner::ExpertPlanner;
    use crate::registry;
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
        let err = Mediator::new(policy, 1, true).err().unwrap();
        assert!(err.contains("not a When2Ask mediator"), "{err}");
    }

    #[test]
    fn a_choice_is_kept_until_the_world_changes() {
        let mut env = registry::make("SimpleDoorKey", 2).unwrap();
        let mut m = Mediator::new(mediator_net(5), 9, false).unwrap();
        assert_eq!(m.choose(&env), None, "no choice before the episode starts");
        m.start(&env).unwrap();
        let first = m.choose(&env).unwrap();
        assert!((0.0..=1.0).contains(&first.p_ask));
        for _ in 0..5 {
            assert_eq!(
                m.choose(&env),
                Some(first),
                "no second draw for the same step"
            );
        }
        env.step(crate::world::Action::Left);
        m.take_in(&env);
        // A new observation gives a new input: the probability moves.
        assert_ne!(m.choose(&env).unwrap().p_ask, first.p_ask);
    }

    /// Every ask the mediator says is a query, and the episode's query count is the steps'.
    #[test]
    fn every_ask_is_a_query() {
        let mut a = MediatorAgent::new(
            mediator_net(3),
            ExpertPlanner::new(),
            PromptStyle::When2Ask,
            20,
            true,
        )
        .unwrap();
        let mut queries = 0u64;
        let mut env = registry::make("SimpleDoorKey", 20).unwrap();
        let out = crate::agent::play_episode(&mut a, &mut env, "SimpleDoorKey", 20, |_, s, _| {
            let info = s.ask.unwrap();
            assert!(
                info.queries >= 1 || info.p_ask.unwrap() <= 0.5,
                "an ask is a query"
            );
            queries += info.queries as u64;
        })
        .unwrap();
        assert_eq!(out.stats.queries, queries);
        assert!(queries >= 1);
        let wrong = registry::make("MiniGrid-DoorKey-5x5-v0", 1).unwrap();
        assert!(matches!(
            a.reset(&wrong, "MiniGrid-DoorKey-5x5-v0"),
            Err(AgentError::Unplayable(_))
        ));
    }
}
