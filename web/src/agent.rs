//! The page's agents: core's agents (one interface, `gridmentor_core::agent::Agent`) behind one
//! wasm type. The shell only passes data between core and the page; an LLM planner's replies
//! (a generated answer, or the scores of core's candidate plans) are fetched by the page, which
//! the agent asks for with `needsAnswer`, the prompt and, when it plans by scoring, the
//! candidates.
//!
//! Every agent keeps, per step of the episode, whether it chose that step and the LLM replies
//! it used, so that after undo / redo it is rebuilt by replaying the kept history: it then
//! remembers exactly what it would have remembered at that point.

use crate::session::Session;
use gridmentor_core::agent::llm_policy::{ACTION_TEXTS, LlmPolicyAgent, PolicyScorer};
use gridmentor_core::agent::load::{AgentOptions, load_agent};
use gridmentor_core::agent::{
    self as core_agent, AskLimits, Decision as CoreDecision, PlannerAgent, RandomAgent, Step,
};
use gridmentor_core::agent_ref::{
    AgentRef, Sampling, Temperature, check_planner_name, checkpoint_id_from_hex,
};
use gridmentor_core::planner::retry::{RetryPolicy, retry_after, retryable_status};
use gridmentor_core::planner::{
    Completion, ExpertPlanner, Planner, PlannerError, PlannerInfo, PlannerKind, Prompt,
    PromptStyle, Scorer, Scores, ScoringPlanner, Usage, candidate_distribution,
    candidate_probabilities, parse_plan,
};
use gridmentor_core::world::Action;
use gridmentor_core::{Env, registry};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::*;

/// The planner name core's scripted expert goes by (the server's model name too).
pub const EXPERT: &str = "gridmentor-expert";

/// How the page waits and retries an LLM call the server refused for now (429, 5xx): core's
/// policy, with the server's `Retry-After` first. A minute at most, as a person waits.
const PAGE_RETRY: RetryPolicy = RetryPolicy {
    retries: 5,
    backoff: Duration::from_secs(1),
    max_wait: Duration::from_secs(60),
};

/// How much an LLM planner may ask in one episode on the page unless told otherwise: calls
/// (retries included) and prompt + completion tokens. Past either the agent explores on its own
/// (core's `AskLimits`); an episode of a seed task is at most a few hundred steps.
pub const PAGE_CALLS_PER_EPISODE: u32 = 100;
pub const PAGE_TOKENS_PER_EPISODE: u32 = 200_000;

/// One reply the page fetched for the planner.
#[derive(Clone, Debug, PartialEq)]
enum Reply {
    /// A generated answer (`/v1/chat/completions`).
    Text(Completion),
    /// The scores of the candidates, in the order they were asked (`/v1/score`).
    Scores {
        candidates: Vec<String>,
        scores: Scores,
    },
}

/// An LLM reply kept for replay, with the prompt it answered (unknown for replies taken from a
/// shared episode's transcript, which holds the prompt as text only).
type Kept = (Option<Prompt>, Reply);

/// What the page and the LLM agent's planner share. Core undoes a decision that awaits a
/// reply, so each pass of a decision asks for the decision's replies again, in order: the
/// planner gives those it has and awaits the next.
#[derive(Default)]
struct Answers {
    /// The replies of the decision in progress, in the order its calls use them: fetched by
    /// the page, or, while the agent is rebuilt, kept from the first time.
    decision: Vec<Kept>,
    /// How many of `decision` this pass of the decision has used.
    used: usize,
    /// The agent is being rebuilt: a call past `decision` means a reply was not kept.
    replaying: bool,
    /// A replay needed a reply that was not kept.
    missing: bool,
    /// What the call in wait asks for: its prompt, and the candidates when it scores.
    pending: Option<(Prompt, Option<Vec<String>>)>,
}

impl Answers {
    /// The decision's next reply to `prompt` (scoring `candidates` when given).
    fn next(
        &mut self,
        prompt: &Prompt,
        candidates: Option<&[&str]>,
    ) -> Result<Reply, PlannerError> {
        if let Some((p, r)) = self.decision.get(self.used) {
            if p.as_ref().is_some_and(|p| p != prompt) {
                return Err(PlannerError::Failed(
                    "the replay asked a different prompt than the first time".into(),
                ));
            }
            let fits = match (r, candidates) {
                (Reply::Text(_), None) => true,
                (
                    Reply::Scores {
                        candidates: kept, ..
                    },
                    Some(asked),
                ) => kept == asked,
                _ => false,
            };
            if !fits {
                return Err(PlannerError::Failed(
                    "the kept LLM reply does not answer what the planner asks now (a generated \
                     answer for a scoring planner, or scores of other candidates)"
                        .into(),
                ));
            }
            self.used += 1;
            return Ok(r.clone());
        }
        if self.replaying {
            self.missing = true;
            return Err(PlannerError::Failed(
                "the LLM's answer for this step was not kept".into(),
            ));
        }
        let candidates = candidates.map(|c| c.iter().map(|s| s.to_string()).collect());
        self.pending = Some((prompt.clone(), candidates));
        Err(PlannerError::Awaiting(prompt.clone()))
    }
}

/// A planner whose replies the page fetches from the server: asked without a reply at hand,
/// it says it awaits one for this prompt (and these candidates); the page fetches, calls
/// [`Agent::supply_answer`] or [`Agent::supply_scores`], and asks the agent again.
struct BrowserPlanner {
    model: String,
    answers: Rc<RefCell<Answers>>,
}

impl Planner for BrowserPlanner {
    fn info(&self) -> PlannerInfo {
        PlannerInfo {
            name: self.model.clone(),
            kind: PlannerKind::Http,
        }
    }

    fn complete(&mut self, prompt: &Prompt, _samples: u32) -> Result<Completion, PlannerError> {
        match self.answers.borrow_mut().next(prompt, None)? {
            Reply::Text(c) => Ok(c),
            Reply::Scores { .. } => unreachable!("Answers::next checks the kind"),
        }
    }
}

impl Scorer for BrowserPlanner {
    fn score_candidates(
        &mut self,
        prompt: &Prompt,
        candidates: &[&str],
    ) -> Result<Scores, PlannerError> {
        match self.answers.borrow_mut().next(prompt, Some(candidates))? {
            Reply::Scores { scores, .. } => Ok(scores),
            Reply::Text(_) => unreachable!("Answers::next checks the kind"),
        }
    }
}

/// What the agent did at one step of the episode, kept for rebuilding it.
#[derive(Clone, Default)]
struct StepMemo {
    /// The agent chose this step (not the keyboard).
    chose: bool,
    /// The LLM replies its decision used, in order.
    answers: Vec<Kept>,
}

/// What an agent decided at one step. `action` is 255 when the agent waits for an LLM reply
/// (`needsAnswer`); then `promptRoles`/`promptContents` hold the chat to send and, when the
/// agent plans by scoring, `candidates` the answers to score (`/v1/score`).
#[wasm_bindgen(getter_with_clone)]
#[derive(Clone, Debug, Default)]
pub struct Decision {
    pub action: u8,
    /// The action distribution (7 numbers); one-hot for planners.
    pub probs: Vec<f32>,
    /// The critic's value, NaN when the agent has none.
    pub value: f32,
    /// The running skill, or "" .
    pub skill: String,
    /// The rest of the plan, "" when none.
    pub plan: String,
    #[wasm_bindgen(js_name = needsAnswer)]
    pub needs_answer: bool,
    #[wasm_bindgen(js_name = promptRoles)]
    pub prompt_roles: Vec<String>,
    #[wasm_bindgen(js_name = promptContents)]
    pub prompt_contents: Vec<String>,
    /// The candidate answers to score, in core's order; empty when an answer is to be
    /// generated.
    pub candidates: Vec<String>,
    /// Replies this decision already got for the same prompt (a retry after an unusable
    /// answer when > 0).
    pub attempt: u32,
    /// Set when this decision asked the planner: the answer it used.
    pub asked: bool,
    pub answer: String,
    #[wasm_bindgen(js_name = latencyMs)]
    pub latency_ms: f64,
    pub cached: bool,
    /// The prompt of that ask, as one text (for the transcript).
    #[wasm_bindgen(js_name = promptText)]
    pub prompt_text: String,
    /// For a mediator: its probability of asking at this step; NaN for other agents.
    #[wasm_bindgen(js_name = pAsk)]
    pub p_ask: f32,
    /// For a mediator: a query was due whatever it said (start, or the plan finished).
    pub forced: bool,
    /// Plans asked for in this decision (voluntary and forced).
    pub queries: u32,
}

/// The summary of one episode played to its end.
#[wasm_bindgen]
#[derive(Copy, Clone, Debug)]
pub struct EpisodeSummary {
    pub success: bool,
    #[wasm_bindgen(js_name = "return")]
    pub ret: f32,
    pub steps: u32,
    #[wasm_bindgen(js_name = plannerCalls)]
    pub planner_calls: u32,
}

/// What [`Agent::evaluate`] measured: core's evaluation of the episodes, summed, and the seeds
/// that failed (to open them).
#[wasm_bindgen(getter_with_clone)]
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub episodes: u32,
    pub wins: u32,
    #[wasm_bindgen(js_name = returnSum)]
    pub return_sum: f64,
    #[wasm_bindgen(js_name = stepSum)]
    pub step_sum: f64,
    #[wasm_bindgen(js_name = plannerCalls)]
    pub planner_calls: f64,
    #[wasm_bindgen(js_name = failedSeeds)]
    pub failed_seeds: Vec<u64>,
}

/// A checkpoint's learning curve, as columns for a plot (core's `CurvePoint`s): frames (below
/// 2^53 in any run, so a JS Number holds them exactly), rolling mean return, rolling success
/// rate. Empty when the file recorded none (files before format 3).
#[wasm_bindgen(getter_with_clone)]
#[derive(Clone, Debug, Default)]
pub struct TrainingCurve {
    pub frames: Vec<f64>,
    #[wasm_bindgen(js_name = meanReturn)]
    pub mean_return: Vec<f32>,
    #[wasm_bindgen(js_name = successRate)]
    pub success_rate: Vec<f32>,
}

impl TrainingCurve {
    fn of(points: &[gridmentor_core::nn::CurvePoint]) -> TrainingCurve {
        TrainingCurve {
            frames: points.iter().map(|p| p.frames as f64).collect(),
            mean_return: points.iter().map(|p| p.mean_return).collect(),
            success_rate: points.iter().map(|p| p.success_rate).collect(),
        }
    }
}

/// Wilson's 95% interval of `wins` successes in `n` episodes, `[low, high]` (core's).
#[wasm_bindgen(js_name = wilsonInterval)]
pub fn wilson_interval(wins: f64, n: f64) -> Vec<f64> {
    let (lo, hi) = core_agent::wilson(wins, n);
    vec![lo, hi]
}

/// An agent on the page.
#[wasm_bindgen]
pub struct Agent {
    inner: Box<dyn core_agent::Agent>,
    /// An LLM agent's answers, shared with its planner.
    answers: Option<Rc<RefCell<Answers>>>,
    mediator: bool,
    /// For a checkpoint: the env it was trained on.
    trained_env: String,
    /// For a checkpoint: its learning curve (empty when none was recorded).
    curve: TrainingCurve,
    label: String,
    /// Share-link identity: `human`, `random:SEED`, `planner:STYLE:NAME`, `checkpoint:ID`.
    spec: AgentRef,
    /// Per step of the episode (and of undone steps, for redo): what the agent did.
    memo: Vec<StepMemo>,
    /// A decision was made since the last observation.
    decided: bool,
    /// Planner calls made before this episode.
    calls_base: u64,
    /// Decisions refused an ask by the per-episode limits before this episode.
    over_limit_base: u64,
}

fn prompt_text(p: &Prompt) -> String {
    p.messages
        .iter()
        .map(|m| format!("[{}]\n{}", m.role.as_str(), m.content))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn js(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

fn style(name: &str) -> Result<PromptStyle, JsError> {
    PromptStyle::from_name(name).ok_or_else(|| {
        JsError::new(&format!(
            "unknown prompt style {name:?} (when2ask or llm4teach)"
        ))
    })
}

/// Core's step as the page's decision.
fn decision_of(s: Step) -> Decision {
    let mut d = Decision {
        action: s.action as u8,
        probs: s.probs,
        value: s.value.unwrap_or(f32::NAN),
        skill: s.skill.map(|s| s.to_string()).unwrap_or_default(),
        plan: s
            .plan
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        p_ask: f32::NAN,
        queries: s.exchanges.len() as u32,
        ..Decision::default()
    };
    if let Some(ex) = s.exchanges.last() {
        d.asked = true;
        d.answer = ex.answers.join("\n");
        d.prompt_text = prompt_text(&ex.prompt);
        d.latency_ms = ex.latency_ms;
        d.cached = ex.cached;
    }
    if let Some(a) = s.ask {
        d.p_ask = a.p_ask.unwrap_or(f32::NAN);
        d.forced = a.forced;
        d.queries = a.queries;
        // An ask answered from the plan cache has no exchange but still counts as asked.
        d.asked |= a.queries > 0;
    }
    d
}

/// Scores the page fetched, checked against the candidates they score.
fn scores_of(
    candidates: &[String],
    logprobs: Vec<f64>,
    tokens: Vec<u32>,
    latency_ms: f64,
    prompt_tokens: u32,
) -> Result<Scores, JsError> {
    if logprobs.len() != candidates.len() || tokens.len() != candidates.len() {
        return Err(JsError::new(&format!(
            "{} scores and {} token counts for {} candidates",
            logprobs.len(),
            tokens.len(),
            candidates.len()
        )));
    }
    if let Some(i) = logprobs.iter().position(|l| !l.is_finite()) {
        return Err(JsError::new(&format!(
            "the score of candidate {i} is not a finite number"
        )));
    }
    Ok(Scores {
        logprobs,
        tokens,
        usage: Usage {
            prompt_tokens,
            completion_tokens: 0,
        },
        latency_ms,
    })
}

/// A generated answer as core reads it: the plan, or why it cannot be used (thrown).
#[wasm_bindgen(js_name = planOf)]
pub fn plan_of(answer: &str) -> Result<String, JsError> {
    parse_plan(answer).map(|p| p.to_string()).map_err(js)
}

/// The probability the agent named by `spec` gives each candidate of `logprobs` and `tokens`,
/// in the candidates' order: an LLM policy's softmax(log-likelihood / T) over the action texts,
/// else core's plan ranking (what a scoring planner ranked by).
#[wasm_bindgen(js_name = candidateProbs)]
pub fn candidate_probs(
    spec: &str,
    logprobs: Vec<f64>,
    tokens: Vec<u32>,
) -> Result<Vec<f32>, JsError> {
    if let Ok(AgentRef::LlmPolicy { temperature, .. }) = spec.parse() {
        return Ok(candidate_distribution(&logprobs, temperature.get()));
    }
    let scores = Scores {
        logprobs,
        tokens,
        ..Scores::default()
    };
    let agent = ScoringPlanner::new(());
    let n = scores.logprobs.len();
    candidate_probabilities(&scores, n, agent.ranking, agent.temperature).map_err(js)
}

/// GLAM's action texts, in the env's action order (the LLM policy's six actions).
#[wasm_bindgen(js_name = glamActionTexts)]
pub fn glam_action_texts() -> Vec<String> {
    ACTION_TEXTS.iter().map(|t| t.to_string()).collect()
}

/// How long the page waits before calling again after HTTP `status` on its `attempt`-th retry
/// (0-based), in milliseconds, from the `retry-after-ms` and `Retry-After` headers (core's
/// retry policy); `undefined` when the call should not be retried.
#[wasm_bindgen(js_name = retryWaitMs)]
pub fn retry_wait_ms(
    status: u16,
    attempt: u32,
    retry_after_ms: Option<String>,
    retry_after_secs: Option<String>,
) -> Option<f64> {
    if !retryable_status(status) {
        return None;
    }
    let asked = retry_after(retry_after_ms.as_deref(), retry_after_secs.as_deref());
    PAGE_RETRY
        .wait(attempt, asked)
        .map(|d| d.as_secs_f64() * 1e3)
}

impl Agent {
    fn new(inner: Box<dyn core_agent::Agent>, label: String, spec: AgentRef) -> Agent {
        Agent {
            inner,
            answers: None,
            mediator: false,
            trained_env: String::new(),
            curve: TrainingCurve::default(),
            label,
            spec,
            memo: Vec::new(),
            decided: false,
            calls_base: 0,
            over_limit_base: 0,
        }
    }

    /// Forget the episode and start from `env`'s state (the kept history stays).
    fn start(&mut self, env: &Env, env_id: &str) -> Result<(), String> {
        if let Some(a) = &self.answers {
            *a.borrow_mut() = Answers::default();
        }
        self.inner.reset(env, env_id).map_err(|e| {
            if self.trained_env.is_empty() {
                e.to_string()
            } else {
                format!("trained on {}: {e}", self.trained_env)
            }
        })?;
        self.decided = false;
        self.calls_base = self.inner.stats().planner_calls;
        self.over_limit_base = self.inner.stats().over_limit;
        Ok(())
    }

    /// The decision for `env`'s current state (not applied).
    fn decide_env(&mut self, env: &Env) -> Result<Decision, String> {
        if let Some(a) = &self.answers {
            // A new pass of the decision: its replies are given again from the first.
            let mut a = a.borrow_mut();
            a.used = 0;
            a.pending = None;
        }
        let d = match self.inner.decide(env).map_err(|e| e.to_string())? {
            CoreDecision::Act(s) => decision_of(s),
            CoreDecision::Await(p) => {
                let a = self
                    .llm_answers()
                    .map_err(|_| "an agent without an LLM awaits")?;
                let a = a.borrow();
                let candidates = a.pending.as_ref().and_then(|(_, c)| c.clone());
                let attempt = a
                    .decision
                    .iter()
                    .filter(|(q, _)| q.as_ref() == Some(&p))
                    .count();
                return Ok(Decision {
                    action: 255,
                    value: f32::NAN,
                    p_ask: f32::NAN,
                    needs_answer: true,
                    prompt_roles: p.messages.iter().map(|m| m.role.as_str().into()).collect(),
                    prompt_contents: p.messages.iter().map(|m| m.content.clone()).collect(),
                    prompt_text: prompt_text(&p),
                    candidates: candidates.unwrap_or_default(),
                    attempt: attempt as u32,
                    ..Decision::default()
                });
            }
        };
        self.decided = true;
        Ok(d)
    }

    /// Replay `actions` from the start of `env_id`'s episode from `seed`, deciding where the
    /// kept history (or, beyond it, `assume_chosen`) says the agent chose. `Ok(false)` when an
    /// LLM answer the replay needed was not kept.
    fn replay(
        &mut self,
        env_id: &str,
        seed: u64,
        actions: &[u8],
        assume_chosen: bool,
    ) -> Result<bool, String> {
        let spec = registry::find(env_id).map_err(|e| e.to_string())?;
        let mut env = Env::new(spec, seed);
        self.start(&env, spec.id)?;
        for (i, &a) in actions.iter().enumerate() {
            let memo = self.memo.get(i).cloned().unwrap_or(StepMemo {
                chose: assume_chosen,
                answers: Vec::new(),
            });
            if memo.chose {
                if let Some(s) = &self.answers {
                    let mut s = s.borrow_mut();
                    s.decision = memo.answers;
                    s.replaying = true;
                }
                let d = self.decide_env(&env);
                let missing = self.answers.as_ref().is_some_and(|s| {
                    let mut s = s.borrow_mut();
                    s.decision.clear();
                    s.replaying = false;
                    std::mem::take(&mut s.missing)
                });
                if missing {
                    return Ok(false);
                }
                d.map_err(|e| format!("step {i}: {e}"))?;
            }
            let action = Action::from_index(a).ok_or("recorded actions are valid")?;
            env.step(action);
            self.inner.observe(&env, action);
        }
        self.decided = false;
        Ok(true)
    }

    fn llm_answers(&self) -> Result<&Rc<RefCell<Answers>>, JsError> {
        self.answers
            .as_ref()
            .ok_or_else(|| JsError::new("only an LLM agent takes answers"))
    }

    /// Keep `reply` as the LLM's reply to the agent's next call at `step` (see
    /// [`Agent::keep_answer`]).
    fn keep(&mut self, step: u32, reply: Reply) -> Result<(), JsError> {
        if !self.is_llm() {
            return Err(JsError::new("only an LLM agent keeps answers"));
        }
        let step = step as usize;
        if self.memo.len() <= step {
            let chosen = StepMemo {
                chose: true,
                answers: Vec::new(),
            };
            self.memo.resize(step + 1, chosen);
        }
        let memo = &mut self.memo[step];
        memo.chose = true;
        memo.answers.push((None, reply));
        Ok(())
    }

    /// The call in wait, for a reply the page supplies: its prompt and candidates.
    fn pending(&self, scoring: bool) -> Result<(Prompt, Option<Vec<String>>), JsError> {
        let a = self.llm_answers()?.borrow();
        let p = a
            .pending
            .clone()
            .ok_or_else(|| JsError::new("the agent awaits no LLM reply now"))?;
        match (&p.1, scoring) {
            (Some(_), false) => Err(JsError::new(
                "the agent plans by scoring: supply the candidates' scores, not an answer",
            )),
            (None, true) => Err(JsError::new(
                "the agent awaits a generated answer, not scores",
            )),
            _ => Ok(p),
        }
    }
}

#[wasm_bindgen]
impl Agent {
    /// Uniformly random actions from core's RNG (seeded per episode by this seed and the
    /// layout's).
    pub fn random(seed: u64) -> Agent {
        Agent::new(
            Box::new(RandomAgent::new(seed)),
            format!("random (seed {seed})"),
            AgentRef::Random { seed },
        )
    }

    /// The planner + skills agent with core's scripted expert planner (not an LLM). Every ask
    /// is a call (no plan cache), as in the trainer's evaluation.
    pub fn expert(style_name: &str) -> Result<Agent, JsError> {
        let s = style(style_name)?;
        let a = PlannerAgent::new(ExpertPlanner::new(), s);
        Ok(Agent::new(
            Box::new(a),
            format!(
                "planner + skills: scripted expert, not an LLM ({})",
                s.name()
            ),
            AgentRef::Planner {
                planner: EXPERT.into(),
                style: s,
            },
        ))
    }

    /// The planner + skills agent asking `model` through the server (the page fetches). With
    /// `scores` (a model the server can score, `/v1/models`) it plans by scoring core's
    /// candidate plans (one `/v1/score` call an ask, an answer always valid); else by
    /// generating answers that core parses, an unusable one retried as core's agent does.
    ///
    /// At most `max_calls` calls and `max_tokens` tokens an episode ([`PAGE_CALLS_PER_EPISODE`]
    /// and [`PAGE_TOKENS_PER_EPISODE`] when not given); past them it explores on its own.
    pub fn llm(
        model: &str,
        style_name: &str,
        scores: bool,
        max_calls: Option<u32>,
        max_tokens: Option<u32>,
    ) -> Result<Agent, JsError> {
        let s = style(style_name)?;
        let calls = max_calls.unwrap_or(PAGE_CALLS_PER_EPISODE);
        let tokens = max_tokens.unwrap_or(PAGE_TOKENS_PER_EPISODE);
        if calls == 0 || tokens == 0 {
            return Err(JsError::new(
                "the limits on calls and tokens an episode must be at least 1",
            ));
        }
        let limits = AskLimits {
            calls_per_episode: Some(calls as u64),
            tokens_per_episode: Some(tokens as u64),
        };
        if model.contains(char::is_whitespace) {
            return Err(JsError::new(&format!("bad model name {model:?}")));
        }
        check_planner_name(model).map_err(js)?;
        let answers = Rc::new(RefCell::new(Answers::default()));
        let planner = BrowserPlanner {
            model: model.into(),
            answers: answers.clone(),
        };
        let inner: Box<dyn core_agent::Agent> = if scores {
            let mut a = PlannerAgent::new(ScoringPlanner::new(planner), s);
            a.limits = limits;
            Box::new(a)
        } else {
            let mut a = PlannerAgent::new(planner, s);
            a.limits = limits;
            Box::new(a)
        };
        let kind = match (model == EXPERT, scores) {
            (true, _) => "scripted expert via the server, not an LLM",
            (false, true) => "LLM via the server, scoring plans",
            (false, false) => "LLM via the server",
        };
        let mut agent = Agent::new(
            inner,
            format!(
                "planner + skills: {model} ({kind}, {}; at most {calls} calls and {tokens} tokens \
                 an episode)",
                s.name()
            ),
            AgentRef::Planner {
                planner: model.into(),
                style: s,
            },
        );
        agent.answers = Some(answers);
        Ok(agent)
    }

    /// GLAM's LLM policy on a BabyAI-Text level: `model` (the server's, zero-shot or grounded)
    /// scores the six action texts after GLAM's prompt (one `/v1/score` call a step, fetched by
    /// the page); the policy is softmax(log-likelihood / `temperature`), played greedy without
    /// `sample_seed`, else sampled (each episode from a stream of this seed and the layout's).
    #[wasm_bindgen(js_name = llmPolicy)]
    pub fn llm_policy(
        model: &str,
        temperature: f64,
        sample_seed: Option<u64>,
    ) -> Result<Agent, JsError> {
        check_planner_name(model).map_err(js)?;
        let temperature = Temperature::new(temperature).map_err(js)?;
        let sampling = sample_seed.map_or(Sampling::Greedy, Sampling::Seeded);
        let (greedy, seed) = sampling.options();
        let answers = Rc::new(RefCell::new(Answers::default()));
        let scorer = BrowserPlanner {
            model: model.into(),
            answers: answers.clone(),
        };
        let inner = LlmPolicyAgent::new(
            PolicyScorer::Llm {
                scorer,
                name: model.into(),
            },
            seed,
            greedy,
        )
        .with_temperature(temperature.get());
        let how = match sampling {
            Sampling::Greedy => "greedy".to_string(),
            Sampling::Seeded(seed) => format!("sampled (seed {seed})"),
        };
        let mut agent = Agent::new(
            Box::new(inner),
            format!("LLM policy (GLAM): {model} via server, temperature {temperature}, {how}"),
            AgentRef::LlmPolicy {
                model: model.into(),
                temperature,
                sampling,
            },
        );
        agent.answers = Some(answers);
        Ok(agent)
    }

    /// A checkpoint file's agent, by core's one loader: the file is checked (a bad one is
    /// refused with core's reason) and its header's action space picks the agent (a policy,
    /// When2Ask's mediator over planner + skills with the scripted expert, skills-rl's options).
    /// Greedy without `sample_seed`; with it, sampled from the policy (each episode draws from
    /// a stream of this seed and the layout's, so a replay samples the same actions).
    pub fn checkpoint(bytes: &[u8], sample_seed: Option<u64>) -> Result<Agent, JsError> {
        let id = gridmentor_core::digest::sha256_hex(bytes);
        let short = &id[..12];
        let sampling = sample_seed.map_or(Sampling::Greedy, Sampling::Seeded);
        let (greedy, seed) = sampling.options();
        let options = AgentOptions {
            greedy,
            seed,
            ..AgentOptions::default()
        };
        let loaded = load_agent(bytes, short, options).map_err(js)?;
        let meta = &loaded.checkpoint.meta;
        let mediator = meta.acts == gridmentor_core::nn::ActionSpace::Ask;
        let label = if mediator {
            format!(
                "When2Ask mediator {short} ({} on {}) + skills, scripted expert planner, not an LLM",
                meta.algorithm, meta.env
            )
        } else {
            format!(
                "checkpoint {short} ({}, {} on {}, {} actions)",
                meta.spec.net.name(),
                meta.algorithm,
                meta.env,
                meta.acts
            )
        };
        let trained_env = meta.env.clone();
        let curve = TrainingCurve::of(&meta.curve);
        let label = match sampling {
            Sampling::Greedy => format!("{label}, greedy"),
            Sampling::Seeded(seed) => format!("{label}, sampled (seed {seed})"),
        };
        let id = checkpoint_id_from_hex(&id).map_err(js)?;
        let mut agent = Agent::new(loaded.agent, label, AgentRef::Checkpoint { id, sampling });
        agent.mediator = mediator;
        agent.trained_env = trained_env;
        agent.curve = curve;
        Ok(agent)
    }

    #[wasm_bindgen(getter)]
    pub fn label(&self) -> String {
        self.label.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn spec(&self) -> String {
        self.spec.to_string()
    }

    /// Does this agent ask an LLM (its decisions may need the page to fetch an answer)?
    #[wasm_bindgen(getter, js_name = isLlm)]
    pub fn is_llm(&self) -> bool {
        self.answers.is_some()
    }

    /// The words of the agent's actions when it acts by text (an LLM policy: GLAM's six action
    /// texts, in the env's action order); empty for every other agent.
    #[wasm_bindgen(getter, js_name = actionTexts)]
    pub fn action_texts(&self) -> Vec<String> {
        match self.spec {
            AgentRef::LlmPolicy { .. } => glam_action_texts(),
            _ => Vec::new(),
        }
    }

    /// Is this When2Ask's mediator agent (its decisions carry `pAsk`)?
    #[wasm_bindgen(getter, js_name = isMediator)]
    pub fn is_mediator(&self) -> bool {
        self.mediator
    }

    /// For a checkpoint (policy or mediator): the env it was trained on; "" otherwise.
    #[wasm_bindgen(getter, js_name = trainedEnv)]
    pub fn trained_env(&self) -> String {
        self.trained_env.clone()
    }

    /// For a checkpoint: the learning curve its file carries (empty when it has none, and for
    /// every other agent).
    #[wasm_bindgen(getter)]
    pub fn curve(&self) -> TrainingCurve {
        self.curve.clone()
    }

    /// Has an LLM planner reached its per-episode limit of calls or tokens (it then explores
    /// on its own)?
    #[wasm_bindgen(getter, js_name = overLimit)]
    pub fn over_limit(&self) -> bool {
        self.inner.stats().over_limit > self.over_limit_base
    }

    /// Planner calls made in this episode.
    #[wasm_bindgen(getter, js_name = plannerCalls)]
    pub fn planner_calls(&self) -> u32 {
        (self.inner.stats().planner_calls - self.calls_base) as u32
    }

    /// Start an episode: the agent forgets what it saw and starts from `session`'s state.
    /// Refuses an env the agent cannot play (a checkpoint whose observation does not fit).
    pub fn reset(&mut self, session: &Session) -> Result<(), JsError> {
        self.memo.clear();
        self.start(&session.env, session.id())
            .map_err(|e| JsError::new(&e))
    }

    /// Rebuild the agent for `session`'s history (after undo / redo, or when it takes over an
    /// episode): it replays the episode from its start, deciding again at the steps it chose
    /// (LLM answers come from what it kept), so it then remembers, plans and runs its skill
    /// exactly as it did at this point. Steps with nothing kept count as chosen by the agent
    /// when `assume_chosen` (a shared episode it played), else as watched. Returns `false` when
    /// an LLM answer needed was not kept: the agent then starts from what it sees now.
    pub fn rebuild(&mut self, session: &Session, assume_chosen: bool) -> Result<bool, JsError> {
        let actions = session.actions_slice();
        match self.replay(session.id(), session.seed(), actions, assume_chosen) {
            Ok(true) => {
                // The kept history covers at least the replayed steps now.
                while self.memo.len() < actions.len() {
                    self.memo.push(StepMemo {
                        chose: assume_chosen,
                        answers: Vec::new(),
                    });
                }
                Ok(true)
            }
            Ok(false) => {
                self.memo.clear();
                self.start(&session.env, session.id())
                    .map_err(|e| JsError::new(&e))?;
                Ok(false)
            }
            Err(e) => Err(JsError::new(&format!("rebuilding the agent: {e}"))),
        }
    }

    /// The next action for `session` (not applied). For an LLM agent without an answer at hand,
    /// `needsAnswer` is set and the prompt given.
    pub fn decide(&mut self, session: &Session) -> Result<Decision, JsError> {
        self.decide_env(&session.env).map_err(|e| JsError::new(&e))
    }

    /// Give an LLM agent the answer the page generated for the call in wait.
    #[wasm_bindgen(js_name = supplyAnswer)]
    pub fn supply_answer(
        &mut self,
        answer: String,
        latency_ms: f64,
        cached: bool,
        prompt_tokens: u32,
        completion_tokens: u32,
    ) -> Result<(), JsError> {
        let (prompt, _) = self.pending(false)?;
        let c = Completion {
            answers: vec![answer],
            usage: Usage {
                prompt_tokens,
                completion_tokens,
            },
            latency_ms,
            cached,
            probs: Vec::new(),
        };
        let mut a = self.llm_answers()?.borrow_mut();
        a.pending = None;
        a.decision.push((Some(prompt), Reply::Text(c)));
        Ok(())
    }

    /// Give a scoring LLM agent the scores the page fetched for the call in wait: each
    /// candidate's log-likelihood and token count, in the order of `candidates`. Core ranks
    /// them.
    #[wasm_bindgen(js_name = supplyScores)]
    pub fn supply_scores(
        &mut self,
        logprobs: Vec<f64>,
        tokens: Vec<u32>,
        latency_ms: f64,
        prompt_tokens: u32,
    ) -> Result<(), JsError> {
        let (prompt, candidates) = self.pending(true)?;
        let candidates = candidates.unwrap_or_default();
        let scores = scores_of(&candidates, logprobs, tokens, latency_ms, prompt_tokens)?;
        let mut a = self.llm_answers()?.borrow_mut();
        a.pending = None;
        a.decision
            .push((Some(prompt), Reply::Scores { candidates, scores }));
        Ok(())
    }

    /// Keep `answer` as the LLM's generated answer to the agent's next call at `step` (from the
    /// transcript of a shared episode the agent played), so that [`Agent::rebuild`] can replay
    /// that step; calls at one step are kept in order, and every step up to it counts as the
    /// agent's.
    #[wasm_bindgen(js_name = keepAnswer)]
    pub fn keep_answer(
        &mut self,
        step: u32,
        answer: String,
        latency_ms: f64,
        cached: bool,
    ) -> Result<(), JsError> {
        let c = Completion {
            answers: vec![answer],
            usage: Usage::default(),
            latency_ms,
            cached,
            probs: Vec::new(),
        };
        self.keep(step, Reply::Text(c))
    }

    /// Keep the scores of `candidates` as the reply to the agent's next call at `step` (a
    /// scoring planner's call in a shared episode's transcript), as [`Agent::keep_answer`].
    #[wasm_bindgen(js_name = keepScores)]
    pub fn keep_scores(
        &mut self,
        step: u32,
        candidates: Vec<String>,
        logprobs: Vec<f64>,
        tokens: Vec<u32>,
        latency_ms: f64,
    ) -> Result<(), JsError> {
        let scores = scores_of(&candidates, logprobs, tokens, latency_ms, 0)?;
        self.keep(step, Reply::Scores { candidates, scores })
    }

    /// Tell the agent the world changed (after `session.step`). The step is kept in the
    /// agent's history, replacing any undone future.
    pub fn observe(&mut self, session: &Session) {
        let actions = session.actions_slice();
        let step = actions.len().saturating_sub(1);
        let answers = self
            .answers
            .as_ref()
            .map(|a| std::mem::take(&mut a.borrow_mut().decision))
            .unwrap_or_default();
        self.memo.resize(step, StepMemo::default());
        self.memo.push(StepMemo {
            chose: self.decided,
            answers,
        });
        self.decided = false;
        let taken = actions
            .last()
            .and_then(|&a| Action::from_index(a))
            .unwrap_or(Action::Done);
        self.inner.observe(&session.env, taken);
    }

    /// Decide, step `session`, observe: one move. Returns the decision (when it needs an LLM
    /// answer nothing is applied).
    pub fn play(&mut self, session: &mut Session) -> Result<Decision, JsError> {
        let d = self.decide(session)?;
        if !d.needs_answer {
            session.step(d.action)?;
            self.observe(session);
        }
        Ok(d)
    }

    /// Play one whole episode of `env` from `seed` (core's episode loop; not for LLM agents:
    /// their answers come from the page, asynchronously).
    #[wasm_bindgen(js_name = runEpisode)]
    pub fn run_episode(&mut self, env: &str, seed: u64) -> Result<EpisodeSummary, JsError> {
        let e = self.evaluate(env, seed, 1)?;
        Ok(EpisodeSummary {
            success: e.wins == 1,
            ret: e.return_sum as f32,
            steps: e.step_sum as u32,
            planner_calls: e.planner_calls as u32,
        })
    }

    /// `episodes` episodes of `env` on seeds `seed, seed + 1, ...` through core's one
    /// evaluation (what `gridmentor eval` and the server's leaderboard run): the same figures
    /// for the same agent and seeds. Not for LLM agents (their answers come asynchronously).
    pub fn evaluate(&mut self, env: &str, seed: u64, episodes: u32) -> Result<Evaluation, JsError> {
        if self.is_llm() {
            return Err(JsError::new(
                "an LLM agent is played step by step by the page, not in one call",
            ));
        }
        let end = seed
            .checked_add(episodes as u64)
            .ok_or_else(|| JsError::new("the seeds run past 2^64"))?;
        self.memo.clear();
        let s = core_agent::evaluate(&mut self.inner, env, seed..end).map_err(|e| {
            let e = e.to_string();
            if self.trained_env.is_empty() {
                JsError::new(&e)
            } else {
                JsError::new(&format!("trained on {}: {e}", self.trained_env))
            }
        })?;
        Ok(Evaluation {
            episodes: s.len() as u32,
            wins: s.wins() as u32,
            return_sum: s.episodes.iter().map(|e| e.ret as f64).sum(),
            step_sum: s.episodes.iter().map(|e| e.steps as f64).sum(),
            planner_calls: s.totals().planner_calls as f64,
            failed_seeds: s.failed_seeds().collect(),
        })
    }

    /// Make `n` decisions in `env` (resetting at each episode end) and return how many episodes
    /// ended: the page times this for `make bench`.
    pub fn bench(&mut self, env: &str, seed: u64, n: u32) -> Result<u32, JsError> {
        let mut s = Session::new(env, seed)?;
        self.reset(&s)?;
        let mut episodes = 0;
        for _ in 0..n {
            if s.is_done() {
                episodes += 1;
                s.reset(seed.wrapping_add(episodes as u64));
                self.reset(&s)?;
            }
            self.play(&mut s)?;
        }
        Ok(episodes)
    }
}
