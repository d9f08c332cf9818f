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
    /// Each candidate's length in tokens, in the candidates' order; empty when the scorer does
    /// not say (then [`Ranking::PerToken`] counts every candidate as one token).
    pub tokens: Vec<u32>,
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

/// The answers a scoring planner ranks for `prompt`: the valid plans for its observation
/// ([`candidate_plans`]) written as the prompt asks ([`answer_text`]), in a fixed order.
pub fn candidate_answers(prompt: &Prompt) -> Vec<String> {
    candidate_plans(prompt.observation())
        .iter()
        .map(|p| answer_text(prompt.style, p))
        .collect()
}

/// How a scoring planner turns each candidate's log-likelihood into its ranking score.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Ranking {
    /// The summed log-likelihood, the model's own probability of the whole text. Every token
    /// costs likelihood, so it favours short plans ("go to the box" over "go to the box, toggle
    /// the box").
    Total,
    /// The mean log-likelihood per token. With SmolLM2 over 100 held-out episodes it took
    /// KeyInBox from 0.00 to 0.62 and RandomBoxKey from 0.51 to 0.78 (README), so it is the
    /// default.
    #[default]
    PerToken,
}

impl Ranking {
    pub const ALL: [Ranking; 2] = [Ranking::Total, Ranking::PerToken];

    pub fn name(self) -> &'static str {
        match self {
            Ranking::Total => "total",
            Ranking::PerToken => "per-token",
        }
    }

    pub fn from_name(name: &str) -> Option<Ranking> {
        Ranking::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Each candidate's ranking score, or why `scores` does not fit `candidates` candidates.
    pub fn apply(self, scores: &Scores, candidates: usize) -> Result<Vec<f64>, PlannerError> {
        if scores.logprobs.len() != candidates {
            return Err(PlannerError::Failed(format!(
                "the scorer gave {} scores for {candidates} candidate plans",
                scores.logprobs.len()
            )));
        }
        if !scores.tokens.is_empty() && scores.tokens.len() != candidates {
            return Err(PlannerError::Failed(format!(
                "the scorer gave {} token counts for {candidates} candidate plans",
                scores.tokens.len()
            )));
        }
        Ok(match self {
            Ranking::Total => scores.logprobs.clone(),
            Ranking::PerToken => (0..candidates)
                .map(|i| {
                    // A candidate the scorer did not measure counts as one token.
                    let n = scores.tokens.get(i).copied().unwrap_or(1).max(1);
                    scores.logprobs[i] / n as f64
                })
                .collect(),
        })
    }
}

/// A planner that ranks the valid plans for the prompt's observation
/// ([`candidate_answers`]) by the likelihood `scorer` gives their answer texts, instead of
/// generating free text: one scoring call per ask, an answer that always parses, and LLM4Teach's
/// soft plan as probabilities. It answers with every candidate, most likely first, with
/// [`Completion::probs`]; `samples` does not matter.
pub struct ScoringPlanner<S> {
    pub scorer: S,
    /// Softmax temperature over the ranking scores (1 = the model's own distribution).
    pub temperature: f64,
    pub ranking: Ranking,
}

impl<S> ScoringPlanner<S> {
    pub fn new(scorer: S) -> ScoringPlanner<S> {
        ScoringPlanner {
            scorer,
            temperature: 1.0,
            ranking: Ranking::default(),
        }
    }

    pub fn with_ranking(mut self, ranking: Ranking) -> ScoringPlanner<S> {
        self.ranking = ranking;
        self
    }

    /// The completion for `candidates` scored `scores`: every candidate, most likely first,
    /// with its probability. Every shell that fetches scores itself (the trainer's HTTP
    /// planner, the page) ranks through this, so all rank alike.
    pub fn rank(
        &self,
        candidates: Vec<String>,
        scores: &Scores,
    ) -> Result<Completion, PlannerError> {
        rank(candidates, scores, self.ranking, self.temperature)
    }
}

/// Each of `candidates` candidates' probability, in their order: the softmax at `temperature`
/// of their `ranking` scores.
pub fn candidate_probabilities(
    scores: &Scores,
    candidates: usize,
    ranking: Ranking,
    temperature: f64,
) -> Result<Vec<f32>, PlannerError> {
    Ok(candidate_distribution(
        &ranking.apply(scores, candidates)?,
        temperature,
    ))
}

/// See [`ScoringPlanner::rank`].
pub fn rank(
    candidates: Vec<String>,
    scores: &Scores,
    ranking: Ranking,
    temperature: f64,
) -> Result<Completion, PlannerError> {
    let probs = candidate_probabilities(scores, candidates.len(), ranking, temperature)?;
    let mut ranked: Vec<(String, f32)> = candidates.into_iter().zip(probs).collect();
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

impl<S: Scorer + Planner> Planner for ScoringPlanner<S> {
    fn info(&self) -> PlannerInfo {
        let inner = self.scorer.info();
        PlannerInfo {
            name: format!("{} (scoring plans)", inner.name),
            kind: inner.kind,
        }
    }

    fn complete(&mut self, prompt: &Prompt, _samples: u32) -> Result<Completion, PlannerError> {
        let texts = candidate_answers(prompt);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let scores = self.scorer.score_candidates(prompt, &refs)?;
        self.rank(texts, &scores)
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

    /// The ranking rule is core's: per token (the default) a long right plan beats a short
    /// wrong one with the larger summed log-likelihood, which the total rule prefers; token
    /// counts that do not fit the candidates are an error, not a guess.
    #[test]
    fn per_token_ranking_does_not_favour_short_plans() {
        let obs = "Agent sees <key>, <door>, holds <nothing>.";
        let prompt = Prompt::build(PromptStyle::Llm4Teach, "SimpleDoorKey", "", obs);
        let texts = candidate_answers(&prompt);
        let right = answer_text(prompt.style, &expert_plan(obs));
        assert!(texts.contains(&right));
        let tokens: Vec<u32> = texts
            .iter()
            .map(|t| t.split_whitespace().count() as u32)
            .collect();
        let logprobs: Vec<f64> = texts
            .iter()
            .zip(&tokens)
            .map(|(t, &n)| if *t == right { -0.5 } else { -1.0 } * n as f64)
            .collect();
        let shortest = texts
            .iter()
            .zip(&tokens)
            .min_by_key(|(_, n)| **n)
            .unwrap()
            .0;
        assert_ne!(*shortest, right, "the test needs a shorter wrong plan");
        let scores = Scores {
            logprobs,
            tokens: tokens.clone(),
            ..Scores::default()
        };
        let per_token = ScoringPlanner::new(())
            .rank(texts.clone(), &scores)
            .unwrap();
        assert_eq!(per_token.answers[0], right, "{per_token:?}");
        let total = ScoringPlanner::new(())
            .with_ranking(Ranking::Total)
            .rank(texts.clone(), &scores)
            .unwrap();
        assert_eq!(total.answers[0], *shortest, "{total:?}");
        assert!((per_token.probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);

        // Without token counts, per token is the total.
        let untold = Scores {
            tokens: Vec::new(),
            ..scores.clone()
        };
        let r = ScoringPlanner::new(())
            .rank(texts.clone(), &untold)
            .unwrap();
        assert_eq!(r.answers, total.answers);
        let short = Scores {
            tokens: tokens[1..].to_vec(),
            ..scores
        };
        let e = ScoringPlanner::new(()).rank(texts, &short).unwrap_err();
        assert!(format!("{e}").contains("token counts"), "{e}");
        for r in Ranking::ALL {
            assert_eq!(Ranking::from_name(r.name()), Some(r));
        }
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
