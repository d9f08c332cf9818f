//! GLAM's LLM-as-policy on BabyAI-Text (evaluation only, core's `LlmPolicyAgent`): the six action
//! texts are scored by a language model given GLAM's prompt, and the policy is the softmax over
//! the scores. The scripted expert scorer is its upper bound.

use crate::llm::HttpPlanner;
use crate::planner_spec::PlannerSpec;
use crate::summary::Totals;
use anyhow::bail;
use gridmentor_core::agent::evaluate;
use gridmentor_core::agent::llm_policy::{LlmPolicyAgent, PolicyScorer};
use gridmentor_core::planner::Scorer;

pub use gridmentor_core::agent::llm_policy::{ACTION_TEXTS, BabyAiExpert, glam_prompt};

/// The LLM policy's agent for `spec`: the expert scorer, or `POST /v1/score` of an
/// OpenAI-compatible server (docs/api.md).
pub fn agent(
    spec: &PlannerSpec,
    seed: u64,
    greedy: bool,
) -> anyhow::Result<LlmPolicyAgent<Box<dyn Scorer>>> {
    let scorer = match spec {
        PlannerSpec::Http(url) => {
            let h = HttpPlanner::from_spec(url)?;
            let name = format!("{} (scoring)", h.endpoint());
            PolicyScorer::Llm {
                scorer: Box::new(h) as Box<dyn Scorer>,
                name,
            }
        }
        PlannerSpec::Expert { .. } if spec.is_deterministic() => PolicyScorer::Expert,
        _ => bail!("llm-policy scores with `expert` or http://HOST/v1#model, not \"{spec}\""),
    };
    Ok(LlmPolicyAgent::new(scorer, seed, greedy))
}

/// Play `episodes` episodes of a BabyAI env (seeds `seed + i`) with the LLM policy, acting by
/// the most likely action (`greedy`) or sampling from the softmax.
pub fn evaluate_policy(
    env_id: &str,
    spec: &PlannerSpec,
    episodes: u32,
    seed: u64,
    greedy: bool,
) -> anyhow::Result<Totals> {
    let env = gridmentor_core::registry::find(env_id)?;
    if env.family != "babyai" {
        bail!(
            "llm-policy plays the BabyAI-Text tasks; {} is a {} task (see `gridmentor envs`)",
            env.id,
            env.family
        );
    }
    let mut a = agent(spec, seed, greedy)?;
    let s = evaluate(&mut a, env.id, seed..seed + episodes as u64)?;
    Ok(Totals::of(&s, false, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_has_goal_three_observations_and_two_actions() {
        let o = |s: &str| vec![s.to_string()];
        let p = glam_prompt(
            "go to the red ball",
            &[o("You see a wall 1 step forward"), o("b"), o("c")],
            &["turn left", "go forward"],
        );
        let text = &p.messages[0].content;
        assert!(text.starts_with(
            "Possible action of the agent: turn left, turn right, go forward, pick up, drop, toggle"
        ));
        assert!(text.contains("Goal of the agent: go to the red ball"));
        assert!(
            text.contains("Observation 0: You see a wall 1 step forward\n Action 0: turn left")
        );
        assert!(text.ends_with("Observation 2: c\n Action 2: "), "{text}");
    }

    #[test]
    fn the_expert_upper_bound_solves_go_to_and_pick_up() {
        let expert = "expert".parse::<PlannerSpec>().unwrap();
        for id in ["BabyAI-GoToLocal-v0", "BabyAI-PickupLoc-v0"] {
            let r = evaluate_policy(id, &expert, 20, 0, true).unwrap();
            assert!(r.wins >= 16, "{id}: {}/20", r.wins);
        }
        let err = evaluate_policy("SimpleDoorKey", &expert, 1, 0, true).unwrap_err();
        assert!(err.to_string().contains("BabyAI-Text"), "{err}");
    }
}
