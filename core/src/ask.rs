//! When2Ask's asking rule around the planner + skills agent: each step someone (the mediator, or
//! a baseline) says ask / don't ask; a query is forced at the start and whenever the plan has
//! finished; every query costs `0.01 + 0.1 r` with r = 0.5 when the new plan repeats the
//! previous one, -0.1 when it differs, 0 on the first query of the episode.

use crate::Env;
use crate::agent::{Decision, PlannerAgent};
use crate::planner::{Exchange, Plan, Planner, PlannerError, PromptStyle};
use crate::world::Transition;
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
    pub decision: Decision,
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

    pub fn reset(&mut self, env: &Env, env_id: &str) {
        self.env_id = env_id.into();
        self.agent.reset(env, env_id);
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
        Ok(d)
    }

    /// Take in the world after a step.
    pub fn observe(&mut self, env: &Env) {
        self.agent.observe(env);
    }

    /// One env step: ask if `ask` (or forced), then act on the plan.
    pub fn step(&mut self, env: &mut Env, ask: bool) -> Result<AskStep, PlannerError> {
        let d = self.act(ask)?;
        let transition = env.step(d.decision.action);
        self.observe(env);
        Ok(AskStep {
            transition,
            queries: d.queries,
            penalty: d.penalty,
        })
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
        a.reset(&env, id);
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
            a.observe(&env);
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
}
