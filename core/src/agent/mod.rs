//! One agent interface for every kind of agent (checkpoint policy, planner + skills, When2Ask's
//! asking agents, LLM4Teach's teacher, skills-rl's option policy, GLAM's LLM policy, random), and
//! the one episode loop and evaluation that the trainer, the server, the wasm shell and the page
//! all call.

pub mod planner;
pub mod random;
pub mod teacher;

pub mod llm_policy;
#[cfg(feature = "nn")]
pub mod load;
#[cfg(feature = "nn")]
pub mod options;

use crate::Env;
use crate::planner::{Exchange, PlannerError, Prompt};
use crate::registry;
use crate::rules::{Rule, TaskKind};
use crate::skills::Skill;
use crate::world::{Action, Transition};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

pub use planner::{AskLimits, PlannerAgent};
pub use random::RandomAgent;

/// Counters over an agent's life; [`evaluate`] reports each episode's share (the difference of
/// two readings).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct AgentStats {
    /// Decisions that asked for a plan (answered from the cache or not).
    pub asks: u64,
    /// Calls that reached the planner backend (retries included).
    pub planner_calls: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Time spent waiting for the planner, as the shell measured it.
    pub planner_ms: f64,
    /// Answers that could not be read as a plan.
    pub unreadable: u64,
    /// Skills that failed (object unseen, no path, locked door...).
    pub skill_failures: u64,
    /// Decisions where no usable plan came back (after the retries), so the agent explored on
    /// its own instead of asking again at once.
    pub fallbacks: u64,
    /// Decisions that would have asked but the episode's call or token limit was spent.
    pub over_limit: u64,
    /// When2Ask: plans asked for (voluntary and forced), and their summed query cost.
    pub queries: u64,
    pub query_penalty: f64,
    /// skills-rl: options (skills) chosen.
    pub options: u64,
}

impl AgentStats {
    pub fn tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    /// What happened between `earlier` and `self` (two readings of one agent).
    pub fn since(&self, earlier: &AgentStats) -> AgentStats {
        AgentStats {
            asks: self.asks - earlier.asks,
            planner_calls: self.planner_calls - earlier.planner_calls,
            prompt_tokens: self.prompt_tokens - earlier.prompt_tokens,
            completion_tokens: self.completion_tokens - earlier.completion_tokens,
            planner_ms: self.planner_ms - earlier.planner_ms,
            unreadable: self.unreadable - earlier.unreadable,
            skill_failures: self.skill_failures - earlier.skill_failures,
            fallbacks: self.fallbacks - earlier.fallbacks,
            over_limit: self.over_limit - earlier.over_limit,
            queries: self.queries - earlier.queries,
            query_penalty: self.query_penalty - earlier.query_penalty,
            options: self.options - earlier.options,
        }
    }

    /// Sum of two readings' differences (totals over episodes).
    pub fn add(&mut self, o: &AgentStats) {
        self.asks += o.asks;
        self.planner_calls += o.planner_calls;
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.planner_ms += o.planner_ms;
        self.unreadable += o.unreadable;
        self.skill_failures += o.skill_failures;
        self.fallbacks += o.fallbacks;
        self.over_limit += o.over_limit;
        self.queries += o.queries;
        self.query_penalty += o.query_penalty;
        self.options += o.options;
    }
}

/// When2Ask's part of a decision: whether the planner was asked, and why.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct AskInfo {
    /// The mediator's probability of asking (`None` for the fixed rules).
    pub p_ask: Option<f32>,
    /// A query was due whatever the asker said (the episode's start, or the plan finished).
    pub forced: bool,
    /// Plans asked for in this decision (voluntary and forced).
    pub queries: u32,
    /// Their summed query cost.
    pub penalty: f32,
}

/// What an agent chose for the current state, and why (for the page's panels and transcripts).
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub action: Action,
    /// The agent's probability of each of the env's actions ([`Action::COUNT`]; one-hot for an
    /// agent that does not sample).
    pub probs: Vec<f32>,
    /// The critic's estimate of the return from here, for agents with one.
    pub value: Option<f32>,
    /// The skill (or option) that chose the action.
    pub skill: Option<Skill>,
    /// The plan still to run after this action (the running skill first).
    pub plan: Vec<Skill>,
    /// The planner exchanges this decision made, in order.
    pub exchanges: Vec<Exchange>,
    /// When2Ask's asking agents: whether and why the planner was asked.
    pub ask: Option<AskInfo>,
}

impl Step {
    /// A step with nothing but its action (chosen with certainty).
    pub fn certain(action: Action) -> Step {
        Step::with_probs(action, one_hot(action))
    }

    pub fn with_probs(action: Action, probs: Vec<f32>) -> Step {
        Step {
            action,
            probs,
            value: None,
            skill: None,
            plan: Vec::new(),
            exchanges: Vec::new(),
            ask: None,
        }
    }
}

/// The one-hot distribution on `a`.
pub fn one_hot(a: Action) -> Vec<f32> {
    let mut p = alloc::vec![0.0; Action::COUNT];
    p[a as usize] = 1.0;
    p
}

/// The first index of the largest value.
pub fn argmax(xs: &[f32]) -> usize {
    (0..xs.len()).fold(0, |b, j| if xs[j] > xs[b] { j } else { b })
}

/// Sample an index from probabilities (summing to about 1) with one uniform draw.
pub fn sample_probs(probs: &[f32], rng: &mut crate::rng::Rng) -> usize {
    let u = rng.f32();
    let mut acc = 0.0;
    for (i, &p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    probs.len().saturating_sub(1)
}

/// An agent's decision: an action, or a prompt whose answer the shell must fetch first (the page
/// asks the server's LLM asynchronously, then gives the answer and asks for the decision again).
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Act(Step),
    Await(Prompt),
}

/// Why an agent could not decide.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentError {
    /// The agent cannot play this env (its network reads another observation, its planner
    /// speaks another family's language...).
    Unplayable(String),
    /// The planner backend failed.
    Planner(String),
    /// `decide` before `reset`.
    NotStarted,
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Unplayable(e) => write!(f, "{e}"),
            AgentError::Planner(e) => write!(f, "the planner failed: {e}"),
            AgentError::NotStarted => f.write_str("reset the agent first"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AgentError {}

/// A planner failure as a decision: an answer still to come is the shell's to fetch.
pub(crate) fn planner_outcome(r: Result<Step, PlannerError>) -> Result<Decision, AgentError> {
    match r {
        Ok(s) => Ok(Decision::Act(s)),
        Err(PlannerError::Awaiting(p)) => Ok(Decision::Await(p)),
        Err(PlannerError::Failed(e)) => Err(AgentError::Planner(e)),
    }
}

/// Every agent: started on an episode, asked for a decision at each state, told of each step.
pub trait Agent {
    /// Who plays, for results and labels (the planner or checkpoint behind it included).
    fn name(&self) -> String;
    /// A new episode of `env` (registry id `env_id`) begins; refuses an env this agent cannot
    /// play.
    fn reset(&mut self, env: &Env, env_id: &str) -> Result<(), AgentError>;
    /// The decision for `env`'s current state (not applied). Deciding again without a step in
    /// between (after an [`Decision::Await`]) continues the same decision.
    fn decide(&mut self, env: &Env) -> Result<Decision, AgentError>;
    /// `env` took a step with action `taken` (whoever chose it: the agent, or the keyboard).
    fn observe(&mut self, env: &Env, taken: Action);
    /// Counters over the agent's life.
    fn stats(&self) -> AgentStats {
        AgentStats::default()
    }
}

impl<A: Agent + ?Sized> Agent for alloc::boxed::Box<A> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn reset(&mut self, env: &Env, env_id: &str) -> Result<(), AgentError> {
        (**self).reset(env, env_id)
    }
    fn decide(&mut self, env: &Env) -> Result<Decision, AgentError> {
        (**self).decide(env)
    }
    fn observe(&mut self, env: &Env, taken: Action) {
        (**self).observe(env, taken)
    }
    fn stats(&self) -> AgentStats {
        (**self).stats()
    }
}

/// How one episode went.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeOutcome {
    /// The layout seed.
    pub seed: u64,
    pub success: bool,
    /// The env's return (When2Ask's query costs are in `stats`, not here).
    pub ret: f32,
    pub steps: u32,
    /// What the agent spent in this episode.
    pub stats: AgentStats,
    /// The kind of task the mission set (BabyAI tasks only), for [`EvalSummary::by_kind`].
    pub kind: Option<TaskKind>,
}

/// Why an episode could not be played to its end.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalError {
    UnknownEnv(String),
    NoEpisodes,
    /// The agent failed in the episode of this seed.
    Agent {
        seed: u64,
        error: AgentError,
    },
    /// The agent waits for an answer that only a shell with an asynchronous LLM can fetch.
    Awaits {
        seed: u64,
    },
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::UnknownEnv(e) => f.write_str(e),
            EvalError::NoEpisodes => f.write_str("evaluate at least one episode"),
            EvalError::Agent { seed, error } => write!(f, "episode with seed {seed}: {error}"),
            EvalError::Awaits { seed } => write!(
                f,
                "episode with seed {seed}: the agent waits for an LLM answer the evaluation \
                 cannot fetch"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for EvalError {}

/// Play one episode of `env` (already reset to its layout, registry id `env_id`) to its end with
/// `agent`, calling `on_step` after every step with the env, the agent's step and the
/// transition.
pub fn play_episode(
    agent: &mut dyn Agent,
    env: &mut Env,
    env_id: &str,
    seed: u64,
    mut on_step: impl FnMut(&Env, &Step, &Transition),
) -> Result<EpisodeOutcome, EvalError> {
    let fail = |error| EvalError::Agent { seed, error };
    let kind = match &env.rule {
        Rule::BabyAi(instr) => Some(instr.kind()),
        _ => None,
    };
    agent.reset(env, env_id).map_err(fail)?;
    let before = agent.stats();
    let mut ret = 0.0;
    loop {
        let step = match agent.decide(env).map_err(fail)? {
            Decision::Act(s) => s,
            Decision::Await(_) => return Err(EvalError::Awaits { seed }),
        };
        let t = env.step(step.action);
        agent.observe(env, step.action);
        ret += t.reward;
        on_step(env, &step, &t);
        if t.done() {
            return Ok(EpisodeOutcome {
                seed,
                success: t.success(),
                ret,
                steps: env.world.step_count,
                stats: agent.stats().since(&before),
                kind,
            });
        }
    }
}

/// What an evaluation found: every episode, and the means the results report.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalSummary {
    pub env: String,
    pub episodes: Vec<EpisodeOutcome>,
}

impl EvalSummary {
    pub fn len(&self) -> usize {
        self.episodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.episodes.is_empty()
    }

    fn mean(&self, f: impl Fn(&EpisodeOutcome) -> f64) -> f64 {
        self.episodes.iter().map(f).sum::<f64>() / self.episodes.len().max(1) as f64
    }

    pub fn wins(&self) -> usize {
        self.episodes.iter().filter(|e| e.success).count()
    }

    pub fn success_rate(&self) -> f64 {
        self.mean(|e| e.success as u8 as f64)
    }

    pub fn mean_return(&self) -> f64 {
        self.mean(|e| e.ret as f64)
    }

    pub fn mean_steps(&self) -> f64 {
        self.mean(|e| e.steps as f64)
    }

    /// The agent's counters summed over the episodes.
    pub fn totals(&self) -> AgentStats {
        let mut t = AgentStats::default();
        self.episodes.iter().for_each(|e| t.add(&e.stats));
        t
    }

    /// Wilson's 95% interval of the success rate.
    pub fn success_interval(&self) -> (f64, f64) {
        wilson(self.wins() as f64, self.episodes.len() as f64)
    }

    /// Episodes and successes per task kind, in [`TaskKind::ALL`]'s order, for the kinds that
    /// occurred (none outside BabyAI): BALROG's per-kind table.
    pub fn by_kind(&self) -> Vec<KindTally> {
        TaskKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let of_kind = self.episodes.iter().filter(|e| e.kind == Some(kind));
                let (episodes, successes) =
                    of_kind.fold((0, 0), |(n, w), e| (n + 1, w + e.success as u32));
                (episodes > 0).then(|| KindTally {
                    kind,
                    episodes,
                    successes,
                    success_rate: successes as f64 / episodes as f64,
                })
            })
            .collect()
    }

    /// The seeds of the episodes that failed, for opening them.
    pub fn failed_seeds(&self) -> impl Iterator<Item = u64> + '_ {
        self.episodes.iter().filter(|e| !e.success).map(|e| e.seed)
    }
}

/// One row of [`EvalSummary::by_kind`].
#[derive(Copy, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KindTally {
    pub kind: TaskKind,
    pub episodes: u32,
    pub successes: u32,
    pub success_rate: f64,
}

/// Wilson's score interval (95%) of `wins` successes in `n` trials.
pub fn wilson(wins: f64, n: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let p = wins / n;
    let z2 = z * z / n;
    let centre = (p + z2 / 2.0) / (1.0 + z2);
    let half = z * libm_sqrt(p * (1.0 - p) / n + z2 / (4.0 * n)) / (1.0 + z2);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// `sqrt` without std (Newton's method; the interval needs a few digits).
fn libm_sqrt(x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let mut r = if x > 1.0 { x } else { 1.0 };
    for _ in 0..60 {
        r = 0.5 * (r + x / r);
    }
    r
}

/// Play `agent` on `env_id` for every seed in `seeds` (episode i has layout seed `seeds.start +
/// i`): the one evaluation every shell calls, so the trainer, the server's leaderboard and the
/// page report the same figures for the same agent and seeds.
pub fn evaluate(
    agent: &mut dyn Agent,
    env_id: &str,
    seeds: Range<u64>,
) -> Result<EvalSummary, EvalError> {
    let spec = registry::find(env_id).map_err(|e| EvalError::UnknownEnv(format!("{e}")))?;
    if seeds.is_empty() {
        return Err(EvalError::NoEpisodes);
    }
    let mut env = Env::new(spec, seeds.start);
    let mut episodes =
        Vec::with_capacity(seeds.end.saturating_sub(seeds.start).min(1 << 16) as usize);
    for seed in seeds {
        env.reset(seed);
        episodes.push(play_episode(agent, &mut env, spec.id, seed, |_, _, _| {})?);
    }
    Ok(EvalSummary {
        env: spec.id.into(),
        episodes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_brackets_the_rate() {
        let (lo, hi) = wilson(50.0, 100.0);
        assert!(
            (lo - 0.4038).abs() < 1e-3 && (hi - 0.5962).abs() < 1e-3,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(100.0, 100.0);
        assert!(lo > 0.96 && hi == 1.0);
        assert_eq!(wilson(0.0, 0.0), (0.0, 1.0));
    }

    #[test]
    fn evaluation_reports_each_episode_and_refuses_none() {
        let mut a = RandomAgent::new(3);
        let s = evaluate(&mut a, "MiniGrid-DoorKey-5x5-v0", 10..14).unwrap();
        assert_eq!(
            s.episodes.iter().map(|e| e.seed).collect::<Vec<_>>(),
            [10, 11, 12, 13]
        );
        assert!(s.episodes.iter().all(|e| e.steps >= 1 && e.steps <= 250));
        let again = evaluate(&mut RandomAgent::new(3), "MiniGrid-DoorKey-5x5-v0", 10..14).unwrap();
        assert_eq!(s, again, "seeded agents evaluate the same twice");
        assert_eq!(
            evaluate(&mut a, "MiniGrid-DoorKey-5x5-v0", 5..5),
            Err(EvalError::NoEpisodes)
        );
        assert!(matches!(
            evaluate(&mut a, "NoSuchEnv", 0..1),
            Err(EvalError::UnknownEnv(_))
        ));
    }

    #[test]
    fn by_kind_counts_each_kind_of_episode() {
        let ep = |kind, success| EpisodeOutcome {
            seed: 0,
            success,
            ret: 0.0,
            steps: 1,
            stats: AgentStats::default(),
            kind,
        };
        let s = EvalSummary {
            env: "x".into(),
            episodes: alloc::vec![
                ep(Some(TaskKind::Open), false),
                ep(Some(TaskKind::GoTo), true),
                ep(Some(TaskKind::GoTo), false),
                ep(None, true),
            ],
        };
        let rows: Vec<_> = s
            .by_kind()
            .iter()
            .map(|r| (r.kind, r.episodes, r.successes, r.success_rate))
            .collect();
        assert_eq!(
            rows,
            [(TaskKind::GoTo, 2, 1, 0.5), (TaskKind::Open, 1, 0, 0.0)]
        );
    }

    #[test]
    fn an_evaluation_tallies_the_kinds_its_missions_set() {
        let id = "BabyAI-MixedTrainLocal-v0";
        let s = evaluate(&mut RandomAgent::new(3), id, 0..40).unwrap();
        let spec = registry::find(id).unwrap();
        let rows = s.by_kind();
        assert!(rows.len() >= 4, "{rows:?}");
        for r in &rows {
            let want = (0..40)
                .filter(|&seed| match spec.layout(seed).rule {
                    Rule::BabyAi(i) => i.kind() == r.kind,
                    _ => false,
                })
                .count();
            assert_eq!(r.episodes as usize, want, "{r:?}");
            assert!(r.successes <= r.episodes);
        }
        assert_eq!(
            rows.iter().map(|r| r.successes as usize).sum::<usize>(),
            s.wins()
        );
        assert_eq!(rows.iter().map(|r| r.episodes).sum::<u32>(), 40);
        // Outside BabyAI there is no kind.
        let e = evaluate(&mut RandomAgent::new(3), "MiniGrid-Empty-5x5-v0", 0..3).unwrap();
        assert!(e.by_kind().is_empty());
    }
}
