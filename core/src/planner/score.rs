//! Candidate scoring (GLAM), and planning by it: an LLM that can score text gives the
//! log-likelihood of each candidate answer given the prompt; a softmax over them is a
//! distribution over candidates, so a scoring planner's answer is always a valid plan and its
//! soft plan is exact (probabilities, not the frequencies of k samples).

use super::expert::candidate_plans;
use super::{Completion, Plan, Planner, PlannerError, PlannerInfo, Prompt, PromptStyle, Usage};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// What a scorer said of the candidates, and what it cost.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scores {
    /// The log-likelihood of each candidate, in the candidates' order.
    pub logprobs: Vec<f64>,
    pub usage: Usage,
    /// Wall time of the call, measured by the shell (core has no clock).
    pub latency_ms: f64,
}

/// A backend that scores candidate completions (the server's embedded LLM does).
pub trait Scorer {
    /// The log-likelihood of each candidate as the assistant's reply to `prompt`.
    fn score_candidates(
        &mut self,
        prompt: &Prompt,
        candidates: &[&str],
    ) -> Result<Scores, PlannerError>;
}

impl<S: Scorer + ?Sized> Scorer for alloc::boxed::Box<S> {
    fn score_candidates(
        &mut self,
        prompt: &Prompt,
        candidates: &[&str],
    ) -> Result<Scores, PlannerError> {
        (**self).score_candidates(prompt, candidates)
    }
}

/// A plan written as the style's prompt asks the LLM to answer (what a scorer scores).
pub fn answer_text(style: PromptStyle, plan: &Plan) -> String {
    match style {
        PromptStyle::When2Ask => format!("action: {{{plan}}}."),
        PromptStyle::Llm4Teach => format!("Action: {{{plan}}}"),
    }
}

/// A planner that ranks the valid plans for the prompt's observation
/// ([`candidate_plans`]) by the likelihood `scorer` gives their answer texts, instead of
/// generating free text: one scoring call per ask, an answer that always parses, and LLM4Teach's
/// soft plan as probabilities. It answers with every candidate, most likely first, with
/// [`Completion::probs`]; `samples` does not matter.
pub struct ScoringPlanner<S> {
    pub scorer: S,
    /// Softmax temperature over the log-likelihoods (1 = the model's own distribution).
    pub temperature: f64,
}

impl<S> ScoringPlanner<S> {
    pub fn new(scorer: S) -> ScoringPlanner<S> {
        ScoringPlanner {
            scorer,
            temperature: 1.0,
        }
    }
}

impl<S: Scorer + Planner> Planner for ScoringPlanner<S> {
    fn info(&self) -> PlannerInfo {
        let inner = self.scorer.info();
        PlannerInfo {
            name: format!("{} (scoring plans)", inner.name),
            kind: inner.kind,
        }
    }

    fn complete(&mut self, prompt: &Prompt, _samples: u32) -> Result<Completion, PlannerError> {
        let plans = candidate_plans(prompt.observation());
        let texts: Vec<String> = plans.iter().map(|p| answer_text(prompt.style, p)).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let scores = self.scorer.score_candidates(prompt, &refs)?;
        if scores.logprobs.len() != texts.len() {
            return Err(PlannerError::Failed(format!(
                "the scorer gave {} scores for {} candidate plans",
                scores.logprobs.len(),
                texts.len()
            )));
        }
        let probs = candidate_distribution(&scores.logprobs, self.temperature);
        let mut ranked: Vec<(String, f32)> = texts.into_iter().zip(probs).collect();
        // Stable: equal probabilities keep the candidates' fixed order.
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (answers, probs) = ranked.into_iter().unzip();
        Ok(Completion {
            answers,
            usage: scores.usage,
            latency_ms: scores.latency_ms,
            cached: false,
            probs,
        })
    }
}

/// Softmax of log-likelihoods at `temperature` (1 = the model's own distribution); the
/// probabilities sum to 1. Non-finite scores get probability 0 unless all are non-finite
/// (then uniform).
pub fn candidate_distribution(log_likelihoods: &[f64], temperature: f64) -> Vec<f32> {
    let t = if temperature > 0.0 { temperature } else { 1e-6 };
    let max = log_likelihoods
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        let n = log_likelihoods.len().max(1) as f32;
        return log_likelihoods.iter().map(|_| 1.0 / n).collect();
    }
    let exps: Vec<f64> = log_likelihoods
        .iter()
        .map(|&x| {
            if x.is_finite() {
                libm_exp((x - max) / t)
            } else {
                0.0
            }
        })
        .collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|&e| (e / sum) as f32).collect()
}

/// `exp` without std: range-reduced Taylor series, accurate to ~1e-15 for x <= 0.
fn libm_exp(x: f64) -> f64 {
    if x < -700.0 {
        return 0.0;
    }
    // exp(x) = 2^k * exp(r), r in [-ln2/2, ln2/2].
    let ln2 = core::f64::consts::LN_2;
    let k = (x / ln2 + if x < 0.0 { -0.5 } else { 0.5 }) as i64;
    let r = x - k as f64 * ln2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..20 {
        term *= r / i as f64;
        sum += term;
    }
    sum * f64::from_bits(((1023 + k) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{PlannerAgent, evaluate};
    use crate::planner::expert::expert_plan;
    use crate::planner::{PlannerKind, SoftPlan, parse_plan};

    /// A scorer that likes the expert's plan (log-likelihood 0) and gives every other candidate
    /// `others`; it counts its calls.
    struct ExpertLiking {
        others: f64,
        calls: u32,
        seen: Vec<(String, Vec<Plan>)>,
    }

    impl Planner for ExpertLiking {
        fn info(&self) -> PlannerInfo {
            PlannerInfo {
                name: "expert-liking scorer".into(),
                kind: PlannerKind::Http,
            }
        }
        fn complete(&mut self, _: &Prompt, _: u32) -> Result<Completion, PlannerError> {
            Err(PlannerError::Failed("a scorer only scores".into()))
        }
    }

    impl Scorer for ExpertLiking {
        fn score_candidates(
            &mut self,
            prompt: &Prompt,
            candidates: &[&str],
        ) -> Result<Scores, PlannerError> {
            self.calls += 1;
            let right = answer_text(prompt.style, &expert_plan(prompt.observation()));
            let plans = candidates.iter().map(|c| parse_plan(c).unwrap()).collect();
            self.seen.push((prompt.observation().into(), plans));
            Ok(Scores {
                logprobs: candidates
                    .iter()
                    .map(|c| if *c == right { 0.0 } else { self.others })
                    .collect(),
                ..Scores::default()
            })
        }
    }

    /// The agent plans by scoring: one scoring call per ask, every candidate a plan the parser
    /// reads back exactly, and with a scorer that likes the right plan it solves the seed tasks.
    #[test]
    fn scoring_planner_answers_with_valid_plans_and_solves_seed_tasks() {
        for id in [
            "SimpleDoorKey",
            "KeyInBox",
            "RandomBoxKey",
            "ColoredDoorKey",
        ] {
            for style in [PromptStyle::When2Ask, PromptStyle::Llm4Teach] {
                let scorer = ExpertLiking {
                    others: -6.0,
                    calls: 0,
                    seen: Vec::new(),
                };
                let mut agent = PlannerAgent::new(ScoringPlanner::new(scorer), style);
                let wins = evaluate(&mut agent, id, 0..40).unwrap().wins();
                assert!(wins >= 39, "{id} {}: {wins}/40", style.name());
                let s = &agent.planner.scorer;
                assert_eq!(
                    s.calls as u64, agent.stats.planner_calls,
                    "one call per ask"
                );
                assert_eq!(agent.stats.unreadable, 0);
                for (obs, plans) in &s.seen {
                    let right = expert_plan(obs);
                    assert!(plans.contains(&right), "{obs}: {right} not a candidate");
                    for (p, q) in plans.iter().zip(candidate_plans(obs)) {
                        assert_eq!(*p, q, "{obs}: a candidate does not parse back");
                    }
                }
            }
        }
    }

    /// The exchange's soft plan is the softmax of the scores, not sample frequencies.
    #[test]
    fn soft_plan_from_scores_is_the_softmax() {
        let scorer = ExpertLiking {
            others: -1.0,
            calls: 0,
            seen: Vec::new(),
        };
        let mut planner = ScoringPlanner::new(scorer);
        let obs = "Agent sees <key>, <door>, holds <nothing>.";
        let prompt = Prompt::build(PromptStyle::Llm4Teach, "SimpleDoorKey", "", obs);
        let ex = crate::planner::ask(&mut planner, &prompt, 10, 2).unwrap();
        assert_eq!(ex.attempts, 1);
        let n = candidate_plans(obs).len();
        assert_eq!(ex.answers.len(), n);
        let soft = SoftPlan::from_exchange(&ex).unwrap();
        assert_eq!(soft.plans.len(), n);
        assert_eq!(*soft.most_likely(), expert_plan(obs));
        let e = core::f32::consts::E;
        let expected = e / (e + (n - 1) as f32);
        assert!((soft.plans[0].1 - expected).abs() < 1e-5, "{soft:?}");
        let total: f32 = soft.plans.iter().map(|p| p.1).sum();
        assert!((total - 1.0).abs() < 1e-5);
    }

    #[test]
    fn softmax_of_log_likelihoods() {
        let d = candidate_distribution(&[-1.0, -2.0, f64::NEG_INFINITY], 1.0);
        assert!((d.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let e = core::f64::consts::E as f32;
        assert!((d[0] / d[1] - e).abs() < 1e-4, "{d:?}");
        assert_eq!(d[2], 0.0);
        let sharp = candidate_distribution(&[-1.0, -2.0], 0.01);
        assert!(sharp[0] > 0.999);
        assert_eq!(
            candidate_distribution(&[f64::NAN, f64::NAN], 1.0),
            [0.5, 0.5]
        );
        for x in [-0.3, -5.0, -40.0, 3.0] {
            let want = if x == -0.3 {
                0.740818220681718
            } else if x == -5.0 {
                0.006737946999085467
            } else if x == -40.0 {
                4.248354255291589e-18
            } else {
                20.085536923187668
            };
            assert!((libm_exp(x) / want - 1.0).abs() < 1e-12, "exp({x})");
        }
    }
}
