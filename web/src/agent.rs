//! Agents the page can run: a checkpoint (core's networks), the planner + skills agent with
//! core's scripted expert or an LLM reached through the server, When2Ask's mediator deciding
//! when that agent asks, and random actions. The shell only passes data between core and the
//! page; the LLM's HTTP call is made by the page.
//!
//! Every agent keeps, per step of the episode, whether it chose that step and the LLM answers
//! it used, so that after undo / redo it is rebuilt by replaying the kept history: it then
//! remembers exactly what it would have remembered at that point.

use crate::policy::CheckpointPolicy;
use crate::session::Session;
use gridmentor_core::agent::PlannerAgent;
use gridmentor_core::mediator::{MediatorAgent, is_mediator};
use gridmentor_core::nn::{ActorCritic, Checkpoint};
use gridmentor_core::planner::{
    Completion, Exchange, ExpertPlanner, Planner, PlannerError, PlannerInfo, PlannerKind, Prompt,
    PromptStyle, Usage,
};
use gridmentor_core::rng::Rng;
use gridmentor_core::world::Action;
use gridmentor_core::{Env, registry};
use std::collections::VecDeque;
use wasm_bindgen::prelude::*;

/// The planner name core's scripted expert goes by (the server's model name too).
pub const EXPERT: &str = "gridmentor-expert";
/// Marks the planner error raised while the page fetches an answer.
const AWAITING: &str = "awaiting the LLM's answer";
/// Marks the planner error raised when a replay needs an answer that was not kept.
const NOT_KEPT: &str = "the LLM's answer for this step was not kept";

/// A planner whose answers the page fetches from the server's `/v1/chat/completions`: asked
/// without an answer at hand, it records the prompt and fails; the page fetches, calls
/// [`Agent::supply_answer`], and asks the agent again. While the agent is rebuilt it gives the
/// answers kept from the first time instead.
struct BrowserPlanner {
    model: String,
    pending: Option<Prompt>,
    answer: Option<Completion>,
    /// The answers used by the decision in progress, in order.
    used: Vec<Kept>,
    /// While rebuilding: the kept answers of the step being replayed.
    replay: Option<VecDeque<Kept>>,
}

impl Planner for BrowserPlanner {
    fn info(&self) -> PlannerInfo {
        PlannerInfo {
            name: self.model.clone(),
            kind: PlannerKind::Http,
        }
    }

    fn complete(&mut self, prompt: &Prompt, _samples: u32) -> Result<Completion, PlannerError> {
        if let Some(queue) = &mut self.replay {
            return match queue.pop_front() {
                Some((p, c)) if p.as_ref().is_none_or(|p| p == prompt) => Ok(c),
                Some(_) => Err(PlannerError(
                    "the replay asked a different prompt than the first time".into(),
                )),
                None => Err(PlannerError(NOT_KEPT.into())),
            };
        }
        if let Some(c) = self.answer.take() {
            self.pending = None;
            self.used.push((Some(prompt.clone()), c.clone()));
            return Ok(c);
        }
        self.pending = Some(prompt.clone());
        Err(PlannerError(AWAITING.into()))
    }
}

/// An LLM answer kept for replay, with the prompt it answered (unknown for answers taken from a
/// shared episode's transcript, which holds the prompt as text only).
type Kept = (Option<Prompt>, Completion);

/// A mediator checkpoint: the network, and the agent it drives once an episode starts (its
/// observer is sized by the env).
struct MediatorSlot {
    model: ActorCritic,
    trained_env: String,
    agent: Option<MediatorAgent<ExpertPlanner>>,
}

enum Kind {
    Random(Rng, u64),
    Expert(Box<PlannerAgent<ExpertPlanner>>),
    Llm(Box<PlannerAgent<BrowserPlanner>>),
    Checkpoint(Box<CheckpointPolicy>),
    Mediator(Box<MediatorSlot>),
}

/// What the agent did at one step of the episode, kept for rebuilding it.
#[derive(Clone, Default)]
struct StepMemo {
    /// The agent chose this step (not the keyboard).
    chose: bool,
    /// The LLM answers its decision used.
    answers: Vec<Kept>,
}

/// What an agent decided at one step. `action` is 255 when the agent waits for an LLM answer
/// (`needsAnswer`); then `promptRoles`/`promptContents` hold the chat to send.
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

/// What [`Agent::evaluate_batched`] measured.
#[wasm_bindgen]
#[derive(Copy, Clone, Debug)]
pub struct BatchEvaluation {
    pub episodes: u32,
    #[wasm_bindgen(js_name = successRate)]
    pub success_rate: f32,
    #[wasm_bindgen(js_name = meanReturn)]
    pub mean_return: f32,
    #[wasm_bindgen(js_name = meanSteps)]
    pub mean_steps: f32,
}

/// An agent on the page.
#[wasm_bindgen]
pub struct Agent {
    kind: Kind,
    label: String,
    /// Share-link identity: `human`, `random:SEED`, `planner:STYLE:NAME`, `checkpoint:ID`.
    spec: String,
    /// Per step of the episode (and of undone steps, for redo): what the agent did.
    memo: Vec<StepMemo>,
    /// A decision was made since the last observation.
    decided: bool,
    /// Planner calls made before this episode.
    calls_base: u64,
}

fn one_hot(a: Action) -> Vec<f32> {
    let mut p = vec![0.0; Action::COUNT];
    p[a as usize] = 1.0;
    p
}

fn prompt_text(p: &Prompt) -> String {
    p.messages
        .iter()
        .map(|m| format!("[{}]\n{}", m.role.as_str(), m.content))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn record_exchange(d: &mut Decision, ex: &Exchange) {
    d.asked = true;
    d.answer = ex.answers.join("\n");
    d.prompt_text = prompt_text(&ex.prompt);
    d.latency_ms = ex.latency_ms;
    d.cached = ex.cached;
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

impl Agent {
    fn new(kind: Kind, label: String, spec: String) -> Agent {
        Agent {
            kind,
            label,
            spec,
            memo: Vec::new(),
            decided: false,
            calls_base: 0,
        }
    }

    /// What a planner + skills agent did at this step: its action, skill, planner exchange and
    /// current plan.
    fn fill_planner_step<P: Planner>(
        agent: &PlannerAgent<P>,
        x: &gridmentor_core::agent::Decision,
        d: &mut Decision,
    ) {
        d.action = x.action as u8;
        d.probs = one_hot(x.action);
        d.skill = x.skill.map(|s| s.to_string()).unwrap_or_default();
        if let Some(ex) = &x.exchange {
            record_exchange(d, ex);
            d.queries = 1;
        }
        let plan = agent.current_plan();
        d.plan = plan
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ");
    }

    /// Planner calls over the agent's life.
    fn total_calls(&self) -> u64 {
        match &self.kind {
            Kind::Expert(a) => a.stats.planner_calls,
            Kind::Llm(a) => a.stats.planner_calls,
            Kind::Mediator(m) => m
                .agent
                .as_ref()
                .map_or(0, |a| a.asking.agent.stats.planner_calls),
            _ => 0,
        }
    }

    /// Forget the episode and start from `env`'s state (the kept history stays).
    fn start(&mut self, env: &Env, env_id: &str, seed: u64) -> Result<(), String> {
        match &mut self.kind {
            Kind::Random(rng, s) => *rng = Rng::new(*s ^ seed),
            Kind::Expert(a) => a.reset(env, env_id),
            Kind::Llm(a) => {
                a.reset(env, env_id);
                let p = &mut a.planner;
                (p.pending, p.answer, p.replay) = (None, None, None);
                p.used.clear();
            }
            Kind::Checkpoint(p) => p.reset(env)?,
            Kind::Mediator(m) => {
                // Made afresh: the observer is sized by the env, and the plan and the
                // mediator's memory start empty.
                let a = MediatorAgent::new(
                    m.model.clone(),
                    ExpertPlanner::new(),
                    PromptStyle::When2Ask,
                    env,
                    env_id,
                    seed,
                    true,
                )
                .map_err(|e| format!("mediator trained on {}: {e}", m.trained_env))?;
                m.agent = Some(a);
            }
        }
        self.decided = false;
        self.calls_base = self.total_calls();
        Ok(())
    }

    /// The decision for `env`'s current state (not applied).
    fn decide_env(&mut self, env: &Env) -> Result<Decision, PlannerError> {
        let mut d = Decision {
            value: f32::NAN,
            p_ask: f32::NAN,
            ..Decision::default()
        };
        match &mut self.kind {
            Kind::Random(rng, _) => {
                d.action = rng.index(Action::COUNT) as u8;
                d.probs = vec![1.0 / Action::COUNT as f32; Action::COUNT];
            }
            Kind::Checkpoint(p) => {
                let out = p.decide(env).map_err(PlannerError)?;
                d.action = out.action;
                d.probs = out.probs;
                d.value = out.value;
            }
            Kind::Expert(a) => {
                let x = a.act()?;
                Self::fill_planner_step(a, &x, &mut d);
            }
            Kind::Llm(a) => match a.act() {
                Ok(x) => Self::fill_planner_step(a, &x, &mut d),
                Err(e) if e.0 == AWAITING => {
                    let p = a.planner.pending.as_ref().expect("set with the error");
                    d.action = 255;
                    d.needs_answer = true;
                    d.prompt_roles = p.messages.iter().map(|m| m.role.as_str().into()).collect();
                    d.prompt_contents = p.messages.iter().map(|m| m.content.clone()).collect();
                    d.prompt_text = prompt_text(p);
                    return Ok(d);
                }
                Err(e) => return Err(e),
            },
            Kind::Mediator(m) => {
                let a = m
                    .agent
                    .as_mut()
                    .ok_or_else(|| PlannerError("reset the agent first".into()))?;
                let (c, x) = a.decide(env)?;
                Self::fill_planner_step(&a.asking.agent, &x.decision, &mut d);
                if let Some(ex) = x.exchanges.last() {
                    record_exchange(&mut d, ex);
                }
                d.value = c.value;
                d.p_ask = c.p_ask;
                d.forced = x.forced;
                d.queries = x.queries;
                // An ask answered without an exchange still counts as asked.
                d.asked = x.queries > 0;
            }
        }
        self.decided = true;
        Ok(d)
    }

    /// `env` took a step.
    fn observe_env(&mut self, env: &Env) {
        match &mut self.kind {
            Kind::Expert(a) => a.observe(env),
            Kind::Llm(a) => a.observe(env),
            Kind::Checkpoint(p) => p.observe(env),
            Kind::Mediator(m) => {
                if let Some(a) = &mut m.agent {
                    a.observe(env);
                }
            }
            Kind::Random(..) => {}
        }
    }

    /// Replay `actions` from the start of `env_id`'s episode from `seed`, deciding where the
    /// kept history (or, beyond it, `assume_chosen`) says the agent chose.
    fn replay(
        &mut self,
        env_id: &str,
        seed: u64,
        actions: &[u8],
        assume_chosen: bool,
    ) -> Result<(), String> {
        let spec = registry::find(env_id).map_err(|e| e.to_string())?;
        let mut env = Env::new(spec, seed);
        self.start(&env, spec.id, seed)?;
        for (i, &a) in actions.iter().enumerate() {
            let memo = self.memo.get(i).cloned().unwrap_or(StepMemo {
                chose: assume_chosen,
                answers: Vec::new(),
            });
            // A checkpoint's decision changes nothing it keeps: only its observations matter.
            if memo.chose && !matches!(self.kind, Kind::Checkpoint(_)) {
                if let Kind::Llm(p) = &mut self.kind {
                    p.planner.replay = Some(memo.answers.into());
                }
                let d = self.decide_env(&env);
                if let Kind::Llm(p) = &mut self.kind {
                    p.planner.replay = None;
                }
                d.map_err(|e| format!("step {i}: {e}"))?;
            }
            let action = Action::from_index(a).ok_or("recorded actions are valid")?;
            env.step(action);
            self.observe_env(&env);
        }
        self.decided = false;
        Ok(())
    }
}

#[wasm_bindgen]
impl Agent {
    /// Uniformly random actions from core's RNG.
    pub fn random(seed: u64) -> Agent {
        Agent::new(
            Kind::Random(Rng::new(seed), seed),
            format!("random (seed {seed})"),
            format!("random:{seed}"),
        )
    }

    /// The planner + skills agent with core's scripted expert planner (not an LLM). Every ask
    /// is a call (no plan cache), as in the trainer's evaluation.
    pub fn expert(style_name: &str) -> Result<Agent, JsError> {
        let s = style(style_name)?;
        let a = PlannerAgent::new(ExpertPlanner::new(), s);
        Ok(Agent::new(
            Kind::Expert(Box::new(a)),
            format!(
                "planner + skills: scripted expert, not an LLM ({})",
                s.name()
            ),
            format!("planner:{}:{EXPERT}", s.name()),
        ))
    }

    /// The planner + skills agent asking `model` through the server (the page fetches).
    pub fn llm(model: &str, style_name: &str) -> Result<Agent, JsError> {
        let s = style(style_name)?;
        if model.is_empty() || model.contains(char::is_whitespace) {
            return Err(JsError::new(&format!("bad model name {model:?}")));
        }
        let planner = BrowserPlanner {
            model: model.into(),
            pending: None,
            answer: None,
            used: Vec::new(),
            replay: None,
        };
        let mut a = PlannerAgent::new(planner, s);
        a.retries = 0;
        let kind = if model == EXPERT {
            "scripted expert via the server, not an LLM"
        } else {
            "LLM via the server"
        };
        Ok(Agent::new(
            Kind::Llm(Box::new(a)),
            format!("planner + skills: {model} ({kind}, {})", s.name()),
            format!("planner:{}:{model}", s.name()),
        ))
    }

    /// A checkpoint file's agent; the file is checked by core (`Checkpoint::from_bytes`) and a
    /// bad one is refused with core's reason. A When2Ask mediator checkpoint gives the planner
    /// + skills agent (scripted expert) whose asking the mediator decides.
    pub fn checkpoint(bytes: &[u8], id: &str) -> Result<Agent, JsError> {
        let short = if id.len() > 12 { &id[..12] } else { id };
        let spec = format!("checkpoint:{id}");
        let ck = Checkpoint::from_bytes(bytes).map_err(js)?;
        if is_mediator(ck.meta.spec) {
            let model = ck.model(&burn::tensor::Device::flex()).map_err(js)?;
            let label = format!(
                "When2Ask mediator {short} ({} on {}) + skills, scripted expert planner, not an LLM",
                ck.meta.algorithm, ck.meta.env
            );
            let slot = MediatorSlot {
                model,
                trained_env: ck.meta.env.clone(),
                agent: None,
            };
            return Ok(Agent::new(Kind::Mediator(Box::new(slot)), label, spec));
        }
        let policy = CheckpointPolicy::load(bytes).map_err(|e| JsError::new(&e))?;
        let label = format!(
            "checkpoint {short} ({}, {} on {})",
            policy.net_name(),
            policy.algorithm(),
            policy.env()
        );
        Ok(Agent::new(Kind::Checkpoint(Box::new(policy)), label, spec))
    }

    #[wasm_bindgen(getter)]
    pub fn label(&self) -> String {
        self.label.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn spec(&self) -> String {
        self.spec.clone()
    }

    /// Does this agent ask an LLM (its decisions may need the page to fetch an answer)?
    #[wasm_bindgen(getter, js_name = isLlm)]
    pub fn is_llm(&self) -> bool {
        matches!(self.kind, Kind::Llm(_))
    }

    /// Is this When2Ask's mediator agent (its decisions carry `pAsk`)?
    #[wasm_bindgen(getter, js_name = isMediator)]
    pub fn is_mediator(&self) -> bool {
        matches!(self.kind, Kind::Mediator(_))
    }

    /// For a checkpoint (policy or mediator): the env it was trained on; "" otherwise.
    #[wasm_bindgen(getter, js_name = trainedEnv)]
    pub fn trained_env(&self) -> String {
        match &self.kind {
            Kind::Checkpoint(p) => p.env().into(),
            Kind::Mediator(m) => m.trained_env.clone(),
            _ => String::new(),
        }
    }

    /// Planner calls made in this episode.
    #[wasm_bindgen(getter, js_name = plannerCalls)]
    pub fn planner_calls(&self) -> u32 {
        (self.total_calls() - self.calls_base) as u32
    }

    /// Start an episode: the agent forgets what it saw and starts from `session`'s state.
    /// Refuses a checkpoint whose observation does not fit the env.
    pub fn reset(&mut self, session: &Session) -> Result<(), JsError> {
        self.memo.clear();
        self.start(&session.env, session.id(), session.seed())
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
            Ok(()) => {
                // The kept history covers at least the replayed steps now.
                while self.memo.len() < actions.len() {
                    self.memo.push(StepMemo {
                        chose: assume_chosen,
                        answers: Vec::new(),
                    });
                }
                Ok(true)
            }
            Err(e) if e.contains(NOT_KEPT) => {
                self.memo.clear();
                self.start(&session.env, session.id(), session.seed())
                    .map_err(|e| JsError::new(&e))?;
                Ok(false)
            }
            Err(e) => Err(JsError::new(&format!("rebuilding the agent: {e}"))),
        }
    }

    /// The next action for `session` (not applied). For an LLM agent without an answer at hand,
    /// `needsAnswer` is set and the prompt given.
    pub fn decide(&mut self, session: &Session) -> Result<Decision, JsError> {
        self.decide_env(&session.env)
            .map_err(|e| JsError::new(&e.0))
    }

    /// Give an LLM agent the answer the page fetched for the pending prompt.
    #[wasm_bindgen(js_name = supplyAnswer)]
    pub fn supply_answer(
        &mut self,
        answer: String,
        latency_ms: f64,
        cached: bool,
        prompt_tokens: u32,
        completion_tokens: u32,
    ) -> Result<(), JsError> {
        let Kind::Llm(a) = &mut self.kind else {
            return Err(JsError::new("only an LLM agent takes answers"));
        };
        a.planner.answer = Some(Completion {
            answers: vec![answer],
            usage: Usage {
                prompt_tokens,
                completion_tokens,
            },
            latency_ms,
            cached,
            probs: Vec::new(),
        });
        Ok(())
    }

    /// Keep `answer` as the LLM's answer to the agent's ask at `step` (from the transcript of a
    /// shared episode the agent played), so that [`Agent::rebuild`] can replay that step; asks
    /// at one step are kept in order, and every step up to it counts as the agent's.
    #[wasm_bindgen(js_name = keepAnswer)]
    pub fn keep_answer(
        &mut self,
        step: u32,
        answer: String,
        latency_ms: f64,
        cached: bool,
    ) -> Result<(), JsError> {
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
        memo.answers.push((
            None,
            Completion {
                answers: vec![answer],
                usage: Usage::default(),
                latency_ms,
                cached,
                probs: Vec::new(),
            },
        ));
        Ok(())
    }

    /// Tell the agent the world changed (after `session.step`). The step is kept in the
    /// agent's history, replacing any undone future.
    pub fn observe(&mut self, session: &Session) {
        let step = session.actions_slice().len().saturating_sub(1);
        let answers = match &mut self.kind {
            Kind::Llm(a) => std::mem::take(&mut a.planner.used),
            _ => Vec::new(),
        };
        self.memo.resize(step, StepMemo::default());
        self.memo.push(StepMemo {
            chose: self.decided,
            answers,
        });
        self.decided = false;
        self.observe_env(&session.env);
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

    /// Play one whole episode of `env` from `seed` (not for LLM agents: their answers come
    /// from the page, asynchronously).
    #[wasm_bindgen(js_name = runEpisode)]
    pub fn run_episode(&mut self, env: &str, seed: u64) -> Result<EpisodeSummary, JsError> {
        if self.is_llm() {
            return Err(JsError::new(
                "an LLM agent is played step by step by the page, not in one call",
            ));
        }
        let mut s = Session::new(env, seed)?;
        self.reset(&s)?;
        while !s.is_done() {
            self.play(&mut s)?;
        }
        Ok(EpisodeSummary {
            success: s.success(),
            ret: s.total_reward(),
            steps: s.step_count(),
            planner_calls: self.planner_calls(),
        })
    }
    /// For a checkpoint: `episodes` greedy episodes on seeds `seed, seed + 1, ...` with the
    /// network batched over the running episodes (core's `nn::policy::evaluate`, which the
    /// server's leaderboard uses too). Other agents: `None`.
    #[wasm_bindgen(js_name = evaluateBatched)]
    pub fn evaluate_batched(
        &self,
        env: &str,
        seed: u64,
        episodes: u32,
    ) -> Result<Option<BatchEvaluation>, JsError> {
        let Kind::Checkpoint(p) = &self.kind else {
            return Ok(None);
        };
        let e =
            gridmentor_core::nn::policy::evaluate(p.model(), env, episodes as usize, seed, true)
                .map_err(|e| JsError::new(&e))?;
        Ok(Some(BatchEvaluation {
            episodes: e.episodes,
            success_rate: e.success_rate,
            mean_return: e.mean_return,
            mean_steps: e.mean_steps,
        }))
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
