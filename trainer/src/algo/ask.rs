//! When2Ask's asking rule around the planner + skills agent: each step someone (the mediator, or
//! a baseline) says ask / don't ask; a query is forced at the start and whenever the plan has
//! finished; every query costs `0.01 + 0.1 r` with r = 0.5 when the new plan repeats the
//! previous one, -0.1 when it differs, 0 on the first query of the episode.

use crate::summary::Totals;
use anyhow::{Context, bail};
use gridmentor_core::Env;
use gridmentor_core::planner::{Planner, PromptStyle};
use gridmentor_core::rng::Rng;

pub use gridmentor_core::ask::{AskStep, QUERY_COST, REPEAT_WEIGHT, query_cost};

/// The planner + skills agent with When2Ask's asking rule (core's), over any planner backend.
pub type AskingAgent = gridmentor_core::ask::AskingAgent<Box<dyn Planner>>;

/// Who decides to ask in the baselines.
#[derive(Clone, Debug, PartialEq)]
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
    /// `always`, `hardcoded`, `random:p=0.5`, `never`.
    pub fn parse(s: &str) -> Option<Result<AskRule, String>> {
        Some(Ok(match s {
            "always" => AskRule::Always,
            "hardcoded" => AskRule::Hardcoded,
            "never" => AskRule::Never,
            // Bare `random` is the agent of uniformly random actions (eval's `--agent random`).
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

/// Play `episodes` episodes (seeds `seed + i`), asking when `decide(env, agent)` says so. The
/// return is the env's (query costs are the mediator's training signal, not the task's score).
pub fn play(
    agent: &mut AskingAgent,
    env_id: &str,
    episodes: u32,
    seed: u64,
    mut decide: impl FnMut(&Env, &AskingAgent, bool) -> anyhow::Result<bool>,
) -> anyhow::Result<Totals> {
    let spec = gridmentor_core::registry::find(env_id)?;
    let mut tot = Totals::default();
    let mut queries = 0;
    for i in 0..episodes {
        let s = seed.wrapping_add(i as u64);
        let mut env = Env::new(spec, s);
        agent.reset(&env, spec.id);
        let before = agent.agent.stats;
        let mut first = true;
        let mut ret = 0.0;
        loop {
            let ask = decide(&env, agent, first)?;
            first = false;
            let st = agent
                .step(&mut env, ask)
                .with_context(|| format!("episode {i} (seed {s})"))?;
            queries += st.queries as u64;
            ret += st.transition.reward as f64;
            let t = st.transition;
            if t.terminated || t.truncated {
                tot.episode(ret, env.world.step_count as u64, t.success());
                break;
            }
        }
        let after = agent.agent.stats;
        tot.calls += after.planner_calls - before.planner_calls;
        tot.tokens += (after.prompt_tokens + after.completion_tokens)
            - (before.prompt_tokens + before.completion_tokens);
        tot.planner_ms += after.planner_ms - before.planner_ms;
    }
    tot.queries = Some(queries);
    Ok(tot)
}

/// Evaluate a baseline rule.
pub fn eval_rule(
    rule: &AskRule,
    planner: Box<dyn Planner>,
    style: PromptStyle,
    env_id: &str,
    episodes: u32,
    seed: u64,
) -> anyhow::Result<Totals> {
    if episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    let mut agent = AskingAgent::new(planner, style, false);
    agent.force_when_finished = *rule != AskRule::Never;
    let mut rng = Rng::derive(seed, 0xA5C);
    play(&mut agent, env_id, episodes, seed, |_, _, _| {
        Ok(match rule {
            AskRule::Always => true,
            AskRule::Hardcoded | AskRule::Never => false,
            AskRule::Random { p } => rng.f32() < *p,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridmentor_core::planner::ExpertPlanner;

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
            eval_rule(
                &rule,
                Box::new(ExpertPlanner::new()),
                PromptStyle::When2Ask,
                "SimpleDoorKey",
                20,
                0,
            )
            .unwrap()
        };
        let always = run(AskRule::Always);
        let hard = run(AskRule::Hardcoded);
        let never = run(AskRule::Never);
        assert!(always.wins >= 19 && hard.wins >= 19, "{always:?} {hard:?}");
        assert!(always.calls > 3 * hard.calls, "{always:?} {hard:?}");
        assert_eq!(never.calls, 20, "one call per episode: {never:?}");
        assert!(never.wins < hard.wins, "{never:?}");
    }
}
