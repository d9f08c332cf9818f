//! The planner protocol: prompts built from text observations, answers parsed into plans, soft
//! plans, and one `Planner` trait for every backend (scripted expert, embedded LLM, HTTP). The
//! prompt text and the parsing live here, so every backend sees the same prompts.

pub mod expert;
pub mod parse;
pub mod prompt;
pub mod retry;
pub mod score;
pub mod soft;

use crate::skills::Skill;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use expert::{ExpertPlanner, candidate_plans};
pub use parse::parse_plan;
pub use prompt::{Message, Prompt, PromptStyle, Role};
pub use score::{
    Ranking, Scorer, Scores, ScoringPlanner, answer_text, candidate_answers,
    candidate_distribution, candidate_probabilities, rank,
};
pub use soft::{SoftPlan, SoftPlanCache};

/// A plan: skills to run in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Plan(pub Vec<Skill>);

impl Plan {
    pub fn first(&self) -> Option<Skill> {
        self.0.first().copied()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// Which kind of backend answers.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum PlannerKind {
    /// The scripted expert: deterministic, never an LLM.
    Expert,
    /// SmolLM2 run in-process by the server.
    EmbeddedLlm,
    /// Any OpenAI-compatible endpoint.
    Http,
}

/// Who answers, for transcripts and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannerInfo {
    pub name: String,
    pub kind: PlannerKind,
}

impl PlannerInfo {
    pub fn is_llm(&self) -> bool {
        self.kind != PlannerKind::Expert
    }
}

/// Token counts of one call, as the backend reports them (0 when it does not).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// What a backend returned for one prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// One answer per sample asked for.
    pub answers: Vec<String>,
    pub usage: Usage,
    /// Wall time of the call, measured by the shell (core has no clock).
    pub latency_ms: f64,
    /// Served from a cache.
    pub cached: bool,
    /// A planner that scores instead of sampling ([`ScoringPlanner`]) answers with every
    /// candidate plan, most likely first, and gives each answer's probability here; empty for
    /// sampled answers (their frequencies are the distribution).
    pub probs: Vec<f32>,
}

/// A planner gave no answer now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlannerError {
    /// The backend failed (transport, HTTP status, budget...).
    Failed(String),
    /// The answer comes later: the shell (the page, whose LLM calls are asynchronous) fetches
    /// the answer to this prompt and decides again.
    Awaiting(Prompt),
}

impl PlannerError {
    pub fn failed(e: impl fmt::Display) -> PlannerError {
        PlannerError::Failed(alloc::format!("{e}"))
    }
}

impl fmt::Display for PlannerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlannerError::Failed(e) => f.write_str(e),
            PlannerError::Awaiting(_) => f.write_str("awaiting the LLM's answer"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PlannerError {}

/// Every planner: given a prompt, `samples` answers.
pub trait Planner {
    fn info(&self) -> PlannerInfo;
    fn complete(&mut self, prompt: &Prompt, samples: u32) -> Result<Completion, PlannerError>;
}

impl<P: Planner + ?Sized> Planner for alloc::boxed::Box<P> {
    fn info(&self) -> PlannerInfo {
        (**self).info()
    }
    fn complete(&mut self, prompt: &Prompt, samples: u32) -> Result<Completion, PlannerError> {
        (**self).complete(prompt, samples)
    }
}

/// One ask, for the transcript panel and the logs: what was sent, what came back, what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Exchange {
    pub planner: PlannerInfo,
    pub prompt: Prompt,
    /// Every answer received, over all attempts.
    pub answers: Vec<String>,
    /// The parsed plan of each answer of the last attempt, or why it could not be read.
    pub plans: Vec<Result<Plan, String>>,
    pub usage: Usage,
    pub latency_ms: f64,
    pub cached: bool,
    /// Calls made (1 + retries after unreadable answers).
    pub attempts: u32,
    /// The probability of each answer of the last attempt when the planner scored candidates
    /// (see [`Completion::probs`]); empty when it sampled.
    pub probs: Vec<f32>,
}

impl Exchange {
    /// The readable plans.
    pub fn good_plans(&self) -> impl Iterator<Item = &Plan> {
        self.plans.iter().filter_map(|p| p.as_ref().ok())
    }
}

/// Ask `planner` for `samples` plans; when no answer can be read, ask again, at most `retries`
/// more times. Fails only when the backend fails; unreadable answers come back in the exchange.
pub fn ask(
    planner: &mut dyn Planner,
    prompt: &Prompt,
    samples: u32,
    retries: u32,
) -> Result<Exchange, PlannerError> {
    let mut ex = Exchange {
        planner: planner.info(),
        prompt: prompt.clone(),
        answers: Vec::new(),
        plans: Vec::new(),
        usage: Usage::default(),
        latency_ms: 0.0,
        cached: true,
        attempts: 0,
        probs: Vec::new(),
    };
    for _ in 0..=retries {
        let c = planner.complete(prompt, samples)?;
        ex.attempts += 1;
        ex.usage.prompt_tokens += c.usage.prompt_tokens;
        ex.usage.completion_tokens += c.usage.completion_tokens;
        ex.latency_ms += c.latency_ms;
        ex.cached &= c.cached;
        ex.plans = c.answers.iter().map(|a| parse_plan(a)).collect();
        ex.answers.extend(c.answers);
        ex.probs = c.probs;
        if ex.good_plans().next().is_some() {
            break;
        }
    }
    Ok(ex)
}
