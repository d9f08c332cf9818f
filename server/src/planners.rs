//! The leaderboard's LLM planner rows: the embedded LLM's planner + skills agent (core's
//! `ScoringPlanner` over this server's scorer) on an env's held-out seeds, in the background.
//!
//! An env's row is computed once, after its leaderboard is first asked for, by one worker that
//! waits while checkpoint evaluations are queued and while the model serves anyone else: it asks
//! the model only when it is idle, so a client waits at most for one of its scorings.

use crate::AppState;
use crate::checkpoints::{Baseline, BaselineStatus};
use crate::llm::limits::Budget;
use crate::llm::{Backend, Call, ScoreRequest};
use gridmentor_core::agent::PlannerAgent;
use gridmentor_core::agent_ref::AgentRef;
use gridmentor_core::planner::{
    Completion, Planner, PlannerError, PlannerInfo, PlannerKind, Prompt, PromptStyle, Scorer,
    Scores, ScoringPlanner, Usage,
};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Where an env's LLM row stands.
#[derive(Clone, Debug, PartialEq)]
pub enum RowState {
    /// Waiting for the worker (behind the checkpoints' evaluations and earlier envs).
    Queued,
    Running,
    Done(Baseline),
}

/// The rows by env and the envs waiting for the worker, oldest request first.
#[derive(Default)]
pub struct PlannerRows {
    rows: Mutex<(HashMap<String, RowState>, VecDeque<String>)>,
    wake: tokio::sync::Notify,
}

impl PlannerRows {
    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<String, RowState>, VecDeque<String>)> {
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The row of `env` as it stands, queueing its evaluation when nobody asked before.
    pub fn request(&self, env: &str) -> RowState {
        let mut g = self.lock();
        let (rows, queue) = &mut *g;
        if let Some(s) = rows.get(env) {
            return s.clone();
        }
        rows.insert(env.to_string(), RowState::Queued);
        queue.push_back(env.to_string());
        drop(g);
        self.wake.notify_one();
        RowState::Queued
    }

    fn next(&self) -> Option<String> {
        let mut g = self.lock();
        let env = g.1.pop_front()?;
        g.0.insert(env.clone(), RowState::Running);
        Some(env)
    }

    fn finish(&self, env: &str, row: Baseline) {
        self.lock().0.insert(env.to_string(), RowState::Done(row));
    }
}

/// The embedded LLM: the first in-process language model among the backends (the base model;
/// grounded ones follow it), and its model id.
pub fn embedded(state: &AppState) -> Option<(Arc<dyn Backend>, String)> {
    state
        .llm
        .backends
        .builtin
        .iter()
        .find(|b| b.is_llm())
        .and_then(|b| Some((b.clone(), b.models().first()?.id.clone())))
}

/// The row's agent as core names it, and its label.
pub fn agent_of(model: &str) -> (AgentRef, String) {
    let agent = AgentRef::Planner {
        planner: model.into(),
        style: PromptStyle::When2Ask,
    };
    (
        agent,
        format!("planner + skills, {model} ranking plans by likelihood (LLM)"),
    )
}

/// Held-out episodes of the row: the first of the checkpoints' seeds.
fn episodes(state: &AppState) -> usize {
    state
        .settings
        .llm_eval_episodes
        .min(state.settings.eval_episodes)
}

/// The row of `env` for the leaderboard's answer: its figures when done, else its status;
/// `None` when this server has no embedded LLM or evaluates none (`--llm-eval-episodes 0`).
pub fn row(state: &AppState, env: &str) -> Option<Value> {
    let n = episodes(state);
    if n == 0 {
        return None;
    }
    let (_, model) = embedded(state)?;
    let (agent, name) = agent_of(&model);
    Some(match state.planner_rows.request(env) {
        RowState::Done(b) => json!(b),
        s => json!({
            "agent": agent.to_string(), "name": name, "episodes": n, "seed": state.settings.eval_seed.to_string(),
            "status": if s == RowState::Running { BaselineStatus::Running } else { BaselineStatus::Pending },
        }),
    })
}

/// core's [`Scorer`] over a backend of this server, called from a blocking thread: each call
/// waits until the model is idle, then goes through the response cache like `/v1/score`.
struct EmbeddedScorer {
    state: Arc<AppState>,
    backend: Arc<dyn Backend>,
    model: String,
    runtime: tokio::runtime::Handle,
    /// The server's own bounded evaluation is not a client's spending: no token budget.
    budget: Arc<Budget>,
}

impl EmbeddedScorer {
    async fn score(&self, body: Value) -> Result<(Value, bool), String> {
        let req = ScoreRequest::parse(body).map_err(|e| e.message)?;
        let name = self.backend.name().to_string();
        let key = crate::llm::cache::key(
            "score",
            &name,
            &self.backend.cache_scope(),
            &self.model,
            &req.raw,
        );
        let cache = &self.state.llm.cache;
        if let Some(hit) = cache.get(&key).await.map_err(|e| e.to_string())?
            && let Ok(v) = serde_json::from_slice::<Value>(&hit)
        {
            return Ok((v, true));
        }
        // Low priority: anyone else's request goes first.
        while !self.backend.idle() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let call = Call {
            sink: None,
            budget: self.budget.clone(),
            default_max_tokens: 0,
        };
        let out = self
            .backend
            .score(&req, call)
            .await
            .map_err(|e| e.message)?;
        let v = out.to_json();
        cache
            .put(&key, &name, &self.model, &v.to_string())
            .await
            .map_err(|e| e.to_string())?;
        Ok((v, false))
    }
}

impl Scorer for EmbeddedScorer {
    fn score_candidates(
        &mut self,
        prompt: &Prompt,
        candidates: &[&str],
    ) -> Result<Scores, PlannerError> {
        let messages: Vec<Value> = prompt
            .messages
            .iter()
            .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        let body = json!({"model": self.model, "messages": messages, "candidates": candidates});
        let t0 = Instant::now();
        let (v, _) = self
            .runtime
            .block_on(self.score(body))
            .map_err(PlannerError::Failed)?;
        let logprobs = v["scores"]
            .as_array()
            .map(|s| s.iter().filter_map(|s| s["logprob"].as_f64()).collect())
            .unwrap_or_default();
        // Each candidate's length, so that the per-token ranking (core's default) ranks here as
        // in the trainer and the page.
        let lengths = v["scores"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter_map(|s| s["tokens"].as_u64())
                    .map(|t| t.min(u32::MAX as u64) as u32)
                    .collect()
            })
            .unwrap_or_default();
        let tokens = |k: &str| v["usage"][k].as_u64().unwrap_or(0).min(u32::MAX as u64) as u32;
        Ok(Scores {
            logprobs,
            tokens: lengths,
            usage: Usage {
                prompt_tokens: tokens("prompt_tokens"),
                completion_tokens: tokens("completion_tokens"),
            },
            latency_ms: t0.elapsed().as_secs_f64() * 1e3,
        })
    }
}

/// [`ScoringPlanner`] names its planner after the scorer's.
impl Planner for EmbeddedScorer {
    fn info(&self) -> PlannerInfo {
        PlannerInfo {
            name: self.model.clone(),
            kind: PlannerKind::EmbeddedLlm,
        }
    }

    fn complete(&mut self, _prompt: &Prompt, _samples: u32) -> Result<Completion, PlannerError> {
        Err(PlannerError::Failed(
            "the leaderboard's scorer only scores (ScoringPlanner asks it)".into(),
        ))
    }
}

/// Play the row's agent on `env`'s first `episodes` held-out seeds from `seed`.
fn evaluate(scorer: EmbeddedScorer, env: &str, episodes: usize, seed: u64) -> Baseline {
    let (agent, name) = agent_of(&scorer.model);
    let mut player = PlannerAgent::new(ScoringPlanner::new(scorer), PromptStyle::When2Ask);
    Baseline::evaluate(&mut player, &agent, &name, env, episodes, seed)
}

/// Start the worker: one env at a time, oldest request first, once no checkpoint evaluation is
/// waiting or running (the checkpoints' rows come first). It holds the server only while it
/// evaluates.
pub fn start(state: &Arc<AppState>) {
    if episodes(state) == 0 || embedded(state).is_none() {
        return;
    }
    let weak: Weak<AppState> = Arc::downgrade(state);
    tokio::spawn(async move {
        loop {
            let Some(state) = weak.upgrade() else { return };
            let busy = state.store.evaluations_waiting(None).await.unwrap_or(1) > 0;
            let next = if busy {
                None
            } else {
                state.planner_rows.next()
            };
            let Some(env) = next else {
                let wake = async { state.planner_rows.wake.notified().await };
                // Checkpoints still queued: look again soon; else sleep until a request.
                let wait = if busy { 2 } else { 10 };
                let _ = tokio::time::timeout(Duration::from_secs(wait), wake).await;
                continue;
            };
            let Some((backend, model)) = embedded(&state) else {
                return;
            };
            let scorer = EmbeddedScorer {
                state: state.clone(),
                backend,
                model,
                runtime: tokio::runtime::Handle::current(),
                budget: Budget::new(0, Duration::from_secs(86_400)),
            };
            let (n, seed) = (episodes(&state), state.settings.eval_seed);
            let e = env.clone();
            let row = tokio::task::spawn_blocking(move || evaluate(scorer, &e, n, seed))
                .await
                .unwrap_or_else(|e| {
                    let (agent, name) = agent_of("the embedded LLM");
                    Baseline {
                        agent: agent.to_string(),
                        name,
                        episodes: n as u64,
                        seed: seed.to_string(),
                        status: BaselineStatus::Failed,
                        success_rate: None,
                        mean_return: None,
                        mean_steps: None,
                        error: Some(format!("the evaluation crashed: {e}")),
                    }
                });
            tracing::info!(
                "leaderboard: the LLM planner on {env}: {}",
                row.status.as_str()
            );
            state.planner_rows.finish(&env, row);
        }
    });
}
