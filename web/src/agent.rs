//! Agents the page can run: a checkpoint (core's networks), the planner + skills agent with
//! core's scripted expert or an LLM reached through the server, and random actions. The shell
//! only passes data between core and the page; the LLM's HTTP call is made by the page.

use crate::policy::CheckpointPolicy;
use crate::session::Session;
use gridmentor_core::agent::PlannerAgent;
use gridmentor_core::planner::{
    Completion, ExpertPlanner, Planner, PlannerError, PlannerInfo, PlannerKind, Prompt,
    PromptStyle, Usage,
};
use gridmentor_core::rng::Rng;
use gridmentor_core::world::Action;
use wasm_bindgen::prelude::*;

/// The planner name core's scripted expert goes by (the server's model name too).
pub const EXPERT: &str = "gridmentor-expert";
/// Marks the planner error raised while the page fetches an answer.
const AWAITING: &str = "awaiting the LLM's answer";

/// A planner whose answers the page fetches from the server's `/v1/chat/completions`: asked
/// without an answer at hand, it records the prompt and fails; the page fetches, calls
/// [`Agent::supply_answer`], and asks the agent again.
struct BrowserPlanner {
    model: String,
    pending: Option<Prompt>,
    answer: Option<Completion>,
}

impl Planner for BrowserPlanner {
    fn info(&self) -> PlannerInfo {
        PlannerInfo {
            name: self.model.clone(),
            kind: PlannerKind::Http,
        }
    }

    fn complete(&mut self, prompt: &Prompt, _samples: u32) -> Result<Completion, PlannerError> {
        if let Some(c) = self.answer.take() {
            self.pending = None;
            return Ok(c);
        }
        self.pending = Some(prompt.clone());
        Err(PlannerError(AWAITING.into()))
    }
}

enum Kind {
    Random(Rng, u64),
    Expert(Box<PlannerAgent<ExpertPlanner>>),
    Llm(Box<PlannerAgent<BrowserPlanner>>),
    Checkpoint(Box<CheckpointPolicy>),
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

fn style(name: &str) -> Result<PromptStyle, JsError> {
    PromptStyle::from_name(name).ok_or_else(|| {
        JsError::new(&format!(
            "unknown prompt style {name:?} (when2ask or llm4teach)"
        ))
    })
}

impl Agent {
    fn planner_decision<P: Planner>(
        agent: &mut PlannerAgent<P>,
    ) -> Result<gridmentor_core::agent::Decision, PlannerError> {
        agent.act()
    }

    fn fill_plan<P: Planner>(agent: &PlannerAgent<P>, d: &mut Decision) {
        let plan = agent.current_plan();
        d.plan = plan
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ");
    }
}

#[wasm_bindgen]
impl Agent {
    /// Uniformly random actions from core's RNG.
    pub fn random(seed: u64) -> Agent {
        Agent {
            kind: Kind::Random(Rng::new(seed), seed),
            label: format!("random (seed {seed})"),
            spec: format!("random:{seed}"),
        }
    }

    /// The planner + skills agent with core's scripted expert planner (not an LLM).
    pub fn expert(style_name: &str) -> Result<Agent, JsError> {
        let s = style(style_name)?;
        let mut a = PlannerAgent::new(ExpertPlanner::new(), s);
        a.cache_plans = true;
        Ok(Agent {
            kind: Kind::Expert(Box::new(a)),
            label: format!(
                "planner + skills: scripted expert, not an LLM ({})",
                s.name()
            ),
            spec: format!("planner:{}:{EXPERT}", s.name()),
        })
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
        };
        let mut a = PlannerAgent::new(planner, s);
        a.retries = 0;
        let kind = if model == EXPERT {
            "scripted expert via the server, not an LLM"
        } else {
            "LLM via the server"
        };
        Ok(Agent {
            kind: Kind::Llm(Box::new(a)),
            label: format!("planner + skills: {model} ({kind}, {})", s.name()),
            spec: format!("planner:{}:{model}", s.name()),
        })
    }

    /// A checkpoint file's agent; the file is checked by core (`Checkpoint::from_bytes`) and a
    /// bad one is refused with core's reason.
    pub fn checkpoint(bytes: &[u8], id: &str) -> Result<Agent, JsError> {
        let policy = CheckpointPolicy::load(bytes).map_err(|e| JsError::new(&e))?;
        let label = format!(
            "checkpoint {} ({}, {} on {})",
            if id.len() > 12 { &id[..12] } else { id },
            policy.net_name(),
            policy.algorithm(),
            policy.env()
        );
        Ok(Agent {
            kind: Kind::Checkpoint(Box::new(policy)),
            label,
            spec: format!("checkpoint:{id}"),
        })
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

    /// For a checkpoint: the env it was trained on; "" otherwise.
    #[wasm_bindgen(getter, js_name = trainedEnv)]
    pub fn trained_env(&self) -> String {
        match &self.kind {
            Kind::Checkpoint(p) => p.env().into(),
            _ => String::new(),
        }
    }

    /// Planner calls made so far.
    #[wasm_bindgen(getter, js_name = plannerCalls)]
    pub fn planner_calls(&self) -> u32 {
        match &self.kind {
            Kind::Expert(a) => a.stats.planner_calls as u32,
            Kind::Llm(a) => a.stats.planner_calls as u32,
            _ => 0,
        }
    }

    /// Start an episode: the agent forgets what it saw and starts from `session`'s state.
    /// Refuses a checkpoint whose observation does not fit the env.
    pub fn reset(&mut self, session: &Session) -> Result<(), JsError> {
        match &mut self.kind {
            Kind::Random(rng, seed) => *rng = Rng::new(*seed ^ session.seed()),
            Kind::Expert(a) => a.reset(&session.env, session.id()),
            Kind::Llm(a) => {
                a.reset(&session.env, session.id());
                a.planner.pending = None;
                a.planner.answer = None;
            }
            Kind::Checkpoint(p) => p.reset(&session.env).map_err(|e| JsError::new(&e))?,
        }
        Ok(())
    }

    /// The next action for `session` (not applied). For an LLM agent without an answer at hand,
    /// `needsAnswer` is set and the prompt given.
    pub fn decide(&mut self, session: &Session) -> Result<Decision, JsError> {
        let mut d = Decision {
            value: f32::NAN,
            ..Decision::default()
        };
        match &mut self.kind {
            Kind::Random(rng, _) => {
                d.action = rng.index(Action::COUNT) as u8;
                d.probs = vec![1.0 / Action::COUNT as f32; Action::COUNT];
            }
            Kind::Checkpoint(p) => {
                let out = p.decide(&session.env).map_err(|e| JsError::new(&e))?;
                d.action = out.action;
                d.probs = out.probs;
                d.value = out.value;
            }
            Kind::Expert(a) => {
                let x = Self::planner_decision(a).map_err(|e| JsError::new(&e.0))?;
                d.action = x.action as u8;
                d.probs = one_hot(x.action);
                d.skill = x.skill.map(|s| s.to_string()).unwrap_or_default();
                if let Some(ex) = &x.exchange {
                    d.asked = true;
                    d.answer = ex.answers.join("\n");
                    d.prompt_text = prompt_text(&ex.prompt);
                    d.latency_ms = ex.latency_ms;
                    d.cached = ex.cached;
                }
                Self::fill_plan(a, &mut d);
            }
            Kind::Llm(a) => match Self::planner_decision(a) {
                Ok(x) => {
                    d.action = x.action as u8;
                    d.probs = one_hot(x.action);
                    d.skill = x.skill.map(|s| s.to_string()).unwrap_or_default();
                    if let Some(ex) = &x.exchange {
                        d.asked = true;
                        d.answer = ex.answers.join("\n");
                        d.prompt_text = prompt_text(&ex.prompt);
                        d.latency_ms = ex.latency_ms;
                        d.cached = ex.cached;
                    }
                    Self::fill_plan(a, &mut d);
                }
                Err(e) if e.0 == AWAITING => {
                    let p = a.planner.pending.as_ref().expect("set with the error");
                    d.action = 255;
                    d.needs_answer = true;
                    d.prompt_roles = p.messages.iter().map(|m| m.role.as_str().into()).collect();
                    d.prompt_contents = p.messages.iter().map(|m| m.content.clone()).collect();
                    d.prompt_text = prompt_text(p);
                }
                Err(e) => return Err(JsError::new(&e.0)),
            },
        }
        Ok(d)
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
        });
        Ok(())
    }

    /// Tell the agent the world changed (after `session.step`).
    pub fn observe(&mut self, session: &Session) {
        match &mut self.kind {
            Kind::Expert(a) => a.observe(&session.env),
            Kind::Llm(a) => a.observe(&session.env),
            Kind::Checkpoint(p) => p.observe(&session.env),
            Kind::Random(..) => {}
        }
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
        let calls = self.planner_calls();
        while !s.is_done() {
            self.play(&mut s)?;
        }
        Ok(EpisodeSummary {
            success: s.success(),
            ret: s.total_reward(),
            steps: s.step_count(),
            planner_calls: self.planner_calls() - calls,
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
