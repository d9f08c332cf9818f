//! When2Ask's asking rule around the planner + skills agent: each step someone (the mediator, or
//! a baseline) says ask / don't ask; a query is forced at the start and whenever the plan has
//! finished; every query costs `0.01 + 0.1 r` with r = 0.5 when the new plan repeats the
//! previous one, -0.1 when it differs, 0 on the first query of the episode.

use crate::Env;
use crate::agent::planner::PlanStep;
use crate::agent::random::episode_rng;
use crate::agent::{
    Agent, AgentError, AgentStats, AskInfo, Decision, PlannerAgent, Step, planner_outcome,
};
use crate::planner::{Exchange, Plan, Planner, PlannerError, PromptStyle};
use crate::rng::Rng;
use crate::world::{Action, Transition};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The fixed part of a query's cost.
pub const QUERY_COST: f32 = 0.01;
/// The weight of the repeat term.
pub const REPEAT_WEIGHT: f32 = 0.1;

/// The cost of one query whose answer is `new`, after `prev` (the episode's previous answer).
pub fn query_cost(prev: Option<&Plan>, new: &Plan) -> f32 {
    let r = match prev {
        None => 0.0,
        Some(p) if p == new => 0.5,
        Some(_) => -0.1,
    };
    QUERY_COST + REPEAT_WEIGHT * r
}

/// What one decision of the asking agent did (the env not yet stepped).
#[derive(Clone, Debug)]
pub struct AskDecision {
    pub decision: PlanStep,
    /// Plans asked for (the voluntary one and any forced ones).
    pub queries: u32,
    /// The summed query cost of those.
    pub penalty: f32,
    /// Some query of this decision was due whatever the asker said (the episode's start, or the
    /// plan finished, before or while choosing the action). Unforced, the decision queried
    /// exactly when the asker said ask.
    pub forced: bool,
    /// The exchanges with the planner, in order (asks answered from the plan cache have none).
    pub exchanges: Vec<Exchange>,
}

/// What one step did.
#[derive(Clone, Copy, Debug, Default)]
pub struct AskStep {
    pub transition: Transition,
    /// Plans asked for this step (the voluntary one and any forced ones).
    pub queries: u32,
    /// The summed query cost of those.
    pub penalty: f32,
}

/// The planner + skills agent with When2Ask's asking rule.
pub struct AskingAgent<P: Planner> {
    pub agent: PlannerAgent<P>,
    /// Force a query when the plan has finished (`false`: the "never" baseline, which only
    /// asks once at the start).
    pub force_when_finished: bool,
    env_id: String,
    prev: Option<Plan>,
    started: bool,
}

impl<P: Planner> AskingAgent<P> {
    pub fn new(planner: P, style: PromptStyle, cache_plans: bool) -> AskingAgent<P> {
        let mut agent = PlannerAgent::new(planner, style);
        agent.cache_plans = cache_plans;
        AskingAgent {
            agent,
            force_when_finished: true,
            env_id: String::new(),
            prev: None,
            started: false,
        }
    }

    pub fn start(&mut self, env: &Env, env_id: &str) {
        self.env_id = env_id.into();
        self.agent.start(env, env_id);
        self.prev = None;
        self.started = false;
    }

    /// Would a query happen now whatever the mediator says?
    pub fn forced(&self) -> bool {
        !self.started || (self.force_when_finished && self.agent.plan_finished())
    }

    /// Choose the next action: ask first if `ask` (or forced), then act on the plan. A planner
    /// failure leaves the agent ready to decide again.
    pub fn act(&mut self, ask: bool) -> Result<AskDecision, PlannerError> {
        let due = self.forced();
        let mut exchanges = Vec::new();
        if ask || due {
            if let Some(ex) = self.agent.ask()? {
                exchanges.push(ex);
            }
            self.started = true;
        }
        let decision = if self.force_when_finished {
            // Asks again (forced) if the plan runs out while choosing the action.
            self.agent.act()?
        } else {
            self.agent.act_without_asking()?
        };
        exchanges.extend(decision.exchange.iter().cloned());
        let mut d = AskDecision {
            decision,
            queries: 0,
            penalty: 0.0,
            forced: due,
            exchanges,
        };
        for plan in self.agent.take_asked_plans() {
            d.queries += 1;
            d.penalty += query_cost(self.prev.as_ref(), &plan);
            self.prev = Some(plan);
        }
        // More queries than the one asked for: the plan ran out while choosing the action.
        d.forced |= d.queries > ask as u32;
        self.agent.stats.queries += d.queries as u64;
        self.agent.stats.query_penalty += d.penalty as f64;
        Ok(d)
    }

    /// Take in the world after a step.
    pub fn take_in(&mut self, env: &Env) {
        self.agent.take_in(env);
    }

    /// A decision as the agent's step (the mediator's probability of asking, if any).
    pub fn step_of(&self, d: AskDecision, p_ask: Option<f32>) -> Step {
        let info = AskInfo {
            p_ask,
            forced: d.forced,
            queries: d.queries,
            penalty: d.penalty,
        };
        let mut step = self.agent.step_of(d.decision);
        step.exchanges = d.exchanges;
        step.ask = Some(info);
        step
    }

    /// One env step: ask if `ask` (or forced), then act on the plan.
    pub fn step(&mut self, env: &mut Env, ask: bool) -> Result<AskStep, PlannerError> {
        let d = self.act(ask)?;
        let transition = env.step(d.decision.action);
        self.take_in(env);
        Ok(AskStep {
            transition,
            queries: d.queries,
            penalty: d.penalty,
        })
    }
}

/// Who decides to ask in When2Ask's baselines.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AskRule {
    /// Every step.
    Always,
    /// Only when forced (the plan finished): the plain planner agent.
    Hardcoded,
    /// With probability p each step (seeded), besides the forced queries.
    Random { p: f32 },
    /// Once at the start, never again.
    Never,
}

/// `p` is checked to lie within 0..=1 (never NaN), so equality is total.
impl Eq for AskRule {}

impl AskRule {
    /// `always`, `hardcoded`, `random:p=0.5`, `never`; `None` when `s` names no rule.
    pub fn parse(s: &str) -> Option<Result<AskRule, String>> {
        Some(Ok(match s {
            "always" => AskRule::Always,
            "hardcoded" => AskRule::Hardcoded,
            "never" => AskRule::Never,
            // Bare `random` is the agent of uniformly random actions.
            _ => {
                let opt = s.strip_prefix("random:")?;
                let p = opt
                    .strip_prefix("p=")
                    .and_then(|v| v.parse::<f32>().ok())
                    .filter(|p| (0.0..=1.0).contains(p));
                return Some(match p {
                    Some(p) => Ok(AskRule::Random { p }),
                    None => Err(format!(
                        "random agent {s:?}: use random:p=P with P within 0..=1"
                    )),
                });
            }
        }))
    }

    pub fn name(&self) -> String {
        match self {
            AskRule::Always => "always".into(),
            AskRule::Hardcoded => "hardcoded".into(),
            AskRule::Random { p } => format!("random:p={p}"),
            AskRule::Never => "never".into(),
        }
    }
}

/// A When2Ask baseline: the asking agent with a fixed rule deciding when it asks.
pub struct RuleAgent<P: Planner> {
    pub rule: AskRule,
    pub asking: AskingAgent<P>,
    seed: u64,
    rng: Rng,
    /// The rule's say for the current step, kept until the world changes (a decision retried
    /// after an answer arrived must not draw again).
    said: Option<bool>,
}

impl<P: Planner> RuleAgent<P> {
    /// `seed` drives the random rule.
    pub fn new(rule: AskRule, planner: P, style: PromptStyle, seed: u64) -> RuleAgent<P> {
        let mut asking = AskingAgent::new(planner, style, false);
        asking.force_when_finished = rule != AskRule::Never;
        RuleAgent {
            rule,
            asking,
            seed,
            rng: Rng::new(seed),
            said: None,
        }
    }
}

impl<P: Planner> Agent for RuleAgent<P> {
    fn name(&self) -> String {
        format!(
            "When2Ask {} ({}, {})",
            self.rule.name(),
            self.asking.agent.planner.info().name,
            self.asking.agent.style.name()
        )
    }

    fn reset(&mut self, env: &Env, env_id: &str) -> Result<(), AgentError> {
        self.asking.start(env, env_id);
        self.rng = episode_rng(self.seed, env.seed(), 0xA5C);
        self.said = None;
        Ok(())
    }

    fn decide(&mut self, _env: &Env) -> Result<Decision, AgentError> {
        let ask = match self.said {
            Some(a) => a,
            None => {
                let a = match self.rule {
                    AskRule::Always => true,
                    AskRule::Hardcoded | AskRule::Never => false,
                    AskRule::Random { p } => self.rng.f32() < p,
                };
                self.said = Some(a);
                a
            }
        };
        let d = self.asking.act(ask);
        planner_outcome(d.map(|d| self.asking.step_of(d, None)))
    }

    fn observe(&mut self, env: &Env, _taken: Action) {
        self.asking.take_in(env);
        self.said = None;
    }

    fn stats(&self) -> AgentStats {
        self.asking.agent.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::ExpertPlanner;
    use crate::registry;
    use crate::skills::Skill;

    #[test]
    fn cost_rewards_new_plans_and_charges_repeats() {
        let a = Plan(alloc::vec![Skill::Explore]);
        let b = Plan(alloc::vec![Skill::Drop]);
        assert!((query_cost(None, &a) - 0.01).abs() < 1e-7);
        assert!((query_cost(Some(&a), &a) - 0.06).abs() < 1e-7);
        assert!(query_cost(Some(&a), &b).abs() < 1e-7);
    }

    /// Play one episode asking per `rule(step)`; (queries, forced decisions, success).
    fn episode(seed: u64, rule: impl Fn(u32) -> bool) -> (u32, u32, bool) {
        let id = "SimpleDoorKey";
        let mut env = registry::make(id, seed).unwrap();
        let mut a = AskingAgent::new(ExpertPlanner::new(), PromptStyle::When2Ask, false);
        a.start(&env, id);
        let (mut queries, mut forced) = (0, 0);
        for i in 0.. {
            let d = a.act(rule(i)).unwrap();
            queries += d.queries;
            forced += d.forced as u32;
            assert_eq!(
                d.exchanges.len() as u32,
                d.queries,
                "every uncached query has its exchange"
            );
            let t = env.step(d.decision.action);
            a.take_in(&env);
            if t.terminated || t.truncated {
                return (queries, forced, t.success());
            }
        }
        unreachable!()
    }

    #[test]
    fn the_first_decision_is_forced_and_asking_always_costs_more_queries() {
        let (never_asked, forced, won) = episode(4, |_| false);
        assert!(won);
        assert!(
            forced >= 1 && never_asked >= forced,
            "{never_asked} {forced}"
        );
        let (always, _, won) = episode(4, |_| true);
        assert!(won);
        assert!(always > 2 * never_asked, "{always} vs {never_asked}");
    }

    #[test]
    fn rules_parse_and_refuse_bad_probabilities() {
        assert_eq!(AskRule::parse("always"), Some(Ok(AskRule::Always)));
        assert_eq!(
            AskRule::parse("random:p=0.25"),
            Some(Ok(AskRule::Random { p: 0.25 }))
        );
        assert!(matches!(AskRule::parse("random:p=2"), Some(Err(_))));
        assert_eq!(AskRule::parse("planner"), None);
    }

    #[test]
    fn baselines_order_by_calls() {
        let run = |rule: AskRule| {
            let mut a = RuleAgent::new(rule, ExpertPlanner::new(), PromptStyle::When2Ask, 0);
            let s = crate::agent::evaluate(&mut a, "SimpleDoorKey", 0..20).unwrap();
            (s.wins(), s.totals())
        };
        let (always, always_t) = run(AskRule::Always);
        let (hard, hard_t) = run(AskRule::Hardcoded);
        let (never, never_t) = run(AskRule::Never);
        assert!(always >= 19 && hard >= 19, "{always} {hard}");
        assert!(always_t.planner_calls > 3 * hard_t.planner_calls);
        assert_eq!(never_t.planner_calls, 20, "one call per episode");
        assert_eq!(never_t.queries, 20);
        assert!(never < hard);
        let (_, half) = run(AskRule::Random { p: 0.5 });
        assert!(half.queries > hard_t.queries && half.queries < always_t.queries);
    }
}
