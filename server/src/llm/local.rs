//! In-process models (the embedded SmolLM2) as a fair shared service: a synchronous
//! [`LocalModel`] runs on tokio's blocking threads one request at a time, in arrival order, behind
//! a bounded queue, with a per-request deadline and token cap, and stops when its client leaves.
//! [`Local`] makes it a [`Backend`] with the budget and the streaming handled.
//!
//! Wiring a model is an impl of [`LocalModel`] that converts the types, and one line at start:
//!
//! ```text
//! struct Smol(gridmentor_llm::SmolLm2);
//! impl LocalModel for Smol {
//!     fn generate(&mut self, m: &[ChatMessage], p: &GenParams, on_token: &mut dyn FnMut(&str),
//!         keep_going: &mut dyn FnMut() -> bool) -> Result<Generated, LocalError> { .. }
//!     fn score(&mut self, m: &[ChatMessage], c: &[String]) -> Result<Scored, LocalError> { .. }
//! }
//! let card = ModelCard { id: "smollm2-135m-instruct".into(), aliases: vec!["smollm2".into()], ..ModelCard::default() };
//! let local = Local::new("smollm2", card, Smol(model), Fairness::default());
//! AppState::with_backends(settings, vec![Arc::new(local)])
//! ```

use super::{
    Backend, BoxFuture, Call, ChatMessage, ChatOutput, ChatRequest, Choice, Delta, ModelCard,
    Score, ScoreOutput, ScoreRequest, Usage,
};
use crate::error::ApiError;
use axum::http::StatusCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedMutexGuard, Semaphore};

/// Sampling settings of one generation.
#[derive(Clone, Debug, PartialEq)]
pub struct GenParams {
    pub max_tokens: u32,
    /// 0 = greedy.
    pub temperature: f64,
    pub top_p: f64,
    pub seed: u64,
    pub stop: Vec<String>,
}

/// One generated answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Generated {
    pub text: String,
    /// `stop` or `length`.
    pub finish_reason: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// Scores of the candidates, in their order, and the prompt's token count.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    pub scores: Vec<Score>,
    pub prompt_tokens: u64,
}

/// Why a local model refused or failed a request.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LocalError {
    /// The request asks for what the model cannot do (bad parameters): 400.
    #[error("{0}")]
    Invalid(String),
    /// Prompt plus completion exceed the model's context: 400, OpenAI's
    /// `context_length_exceeded`.
    #[error("{0}")]
    ContextOverflow(String),
    /// The model itself failed: 500.
    #[error("the model failed: {0}")]
    Failed(String),
}

/// A model that runs in this process, synchronously.
pub trait LocalModel: Send + 'static {
    /// Generate one answer, calling `on_token` with each piece of text as it is decoded and
    /// `keep_going` before each new token (false ends the answer there, as `length`).
    fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenParams,
        on_token: &mut dyn FnMut(&str),
        keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<Generated, LocalError>;

    /// The log-likelihood of each candidate as the assistant's reply to `messages`.
    fn score(
        &mut self,
        messages: &[ChatMessage],
        candidates: &[String],
    ) -> Result<Scored, LocalError>;
}

/// How one in-process model is shared between clients. It runs one request at a time, so
/// without these one long request holds every other client for minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fairness {
    /// Requests waiting for the model at most; more get 503 with `Retry-After` at once.
    pub queue: usize,
    /// Longest a request may take, waiting included: a request still waiting then gets 503; a
    /// generation still running ends there with what it has (`finish_reason: length`).
    pub deadline: Duration,
    /// Largest `max_tokens` (per choice) a request may ask for; more gets 400.
    pub max_tokens: u32,
}

impl Default for Fairness {
    fn default() -> Fairness {
        Fairness {
            queue: 16,
            deadline: Duration::from_secs(120),
            max_tokens: 1024,
        }
    }
}

/// What the model did since start, for tests and `/metrics`.
#[derive(Debug, Default)]
pub struct LocalCounters {
    /// Requests that got the model.
    pub started: AtomicU64,
    /// Generated tokens.
    pub tokens: AtomicU64,
    /// Generations stopped because their client left.
    pub cancelled: AtomicU64,
    /// Generations cut at their deadline.
    pub deadline_cut: AtomicU64,
    /// Requests refused because the queue was full or the wait outlived the deadline.
    pub refused_busy: AtomicU64,
}

/// A [`LocalModel`] as a backend.
pub struct Local<M: LocalModel> {
    name: String,
    card: ModelCard,
    model: Arc<Mutex<M>>,
    /// The model's turn: tokio's mutex hands it out in arrival order.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Places in the queue (waiting or running).
    places: Arc<Semaphore>,
    fairness: Fairness,
    pub counters: Arc<LocalCounters>,
}

impl<M: LocalModel> Local<M> {
    /// `name` is the backend's name, `card` the model id and its aliases.
    pub fn new(name: &str, card: ModelCard, model: M, fairness: Fairness) -> Local<M> {
        Local {
            name: name.to_string(),
            card,
            model: Arc::new(Mutex::new(model)),
            turn: Arc::new(tokio::sync::Mutex::new(())),
            // The running request holds a place too.
            places: Arc::new(Semaphore::new(fairness.queue.max(1) + 1)),
            fairness,
            counters: Arc::default(),
        }
    }

    fn busy(&self, message: String) -> ApiError {
        self.counters.refused_busy.fetch_add(1, Ordering::Relaxed);
        // How long the queue takes to move is unknowable (generations differ by 1000x); a few
        // seconds lets it move without clients hammering it.
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_busy", message).with_retry_after(5)
    }

    /// Wait for the model's turn: a place in the queue at once (or 503), then the turn before
    /// the deadline (or 503). The turn is owned so the blocking job can keep it until it ends.
    async fn take_turn(
        &self,
        deadline: Instant,
    ) -> Result<(tokio::sync::OwnedSemaphorePermit, OwnedMutexGuard<()>), ApiError> {
        let place = self.places.clone().try_acquire_owned().map_err(|_| {
            self.busy(format!(
                "the embedded model {} has {} requests waiting; try again shortly",
                self.card.id, self.fairness.queue
            ))
        })?;
        let turn = tokio::time::timeout_at(deadline.into(), self.turn.clone().lock_owned())
            .await
            .map_err(|_| {
                self.busy(format!(
                    "waited {} s for the embedded model {} (busy with other requests)",
                    self.fairness.deadline.as_secs(),
                    self.card.id
                ))
            })?;
        Ok((place, turn))
    }
}

/// Set when the request's future is dropped: the client went away (hyper drops the handler
/// of a closed connection; the SSE writer aborts the job when the stream's reader is gone).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn to_api(e: LocalError) -> ApiError {
    match e {
        LocalError::Invalid(m) => ApiError::bad_request(m),
        LocalError::ContextOverflow(m) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "context_length_exceeded",
            format!("this model's context is too short for the request: {m}"),
        ),
        LocalError::Failed(m) => failed(m),
    }
}

fn failed(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        format!("the model failed: {e}"),
    )
}

/// A seed for a request that names none (sampled answers then differ between requests).
fn fresh_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    t ^ (std::process::id() as u64).rotate_left(32)
}

impl<M: LocalModel> Backend for Local<M> {
    fn name(&self) -> &str {
        &self.name
    }

    fn is_llm(&self) -> bool {
        true
    }

    fn scores(&self) -> bool {
        true
    }

    fn models(&self) -> Vec<ModelCard> {
        vec![self.card.clone()]
    }

    fn idle(&self) -> bool {
        // Every place free: nothing runs or waits.
        self.places.available_permits() == self.fairness.queue.max(1) + 1
    }

    fn chat<'a>(
        &'a self,
        req: &'a ChatRequest,
        call: Call,
    ) -> BoxFuture<'a, Result<ChatOutput, ApiError>> {
        Box::pin(async move {
            let max_tokens = req.max_tokens.unwrap_or(call.default_max_tokens);
            if max_tokens > self.fairness.max_tokens {
                return Err(ApiError::bad_request(format!(
                    "max_tokens {max_tokens} is more than this server's limit of {} for {}",
                    self.fairness.max_tokens, self.card.id
                )));
            }
            let deadline = Instant::now() + self.fairness.deadline;
            let reservation = call.reserve(req.reserve_estimate(call.default_max_tokens))?;
            let (place, turn) = self.take_turn(deadline).await?;
            let cancelled = Arc::new(AtomicBool::new(false));
            let _guard = CancelOnDrop(cancelled.clone());
            let model = self.model.clone();
            let messages = req.messages.clone();
            let base = GenParams {
                max_tokens,
                temperature: req.temperature.unwrap_or(1.0),
                top_p: req.top_p.unwrap_or(1.0),
                seed: req.seed.unwrap_or_else(fresh_seed),
                stop: req.stop.clone(),
            };
            let n = req.n;
            let sink = call.sink.clone();
            let counters = self.counters.clone();
            let answers = tokio::task::spawn_blocking(move || {
                // Held until the model is free again, even if the request was dropped.
                let _turn = (place, turn);
                counters.started.fetch_add(1, Ordering::Relaxed);
                let mut m = model.lock().unwrap_or_else(|p| p.into_inner());
                (0..n)
                    .map(|i| {
                        let params = GenParams {
                            seed: base.seed.wrapping_add(i as u64),
                            ..base.clone()
                        };
                        let mut on_token = |t: &str| {
                            if let Some(s) = &sink
                                && !t.is_empty()
                            {
                                let _ = s.send(Delta::Text {
                                    index: i,
                                    text: t.to_string(),
                                });
                            }
                        };
                        let mut keep_going = || {
                            counters.tokens.fetch_add(1, Ordering::Relaxed);
                            if cancelled.load(Ordering::Relaxed)
                                || sink.as_ref().is_some_and(|s| s.is_closed())
                            {
                                counters.cancelled.fetch_add(1, Ordering::Relaxed);
                                return false;
                            }
                            if Instant::now() >= deadline {
                                counters.deadline_cut.fetch_add(1, Ordering::Relaxed);
                                return false;
                            }
                            true
                        };
                        m.generate(&messages, &params, &mut on_token, &mut keep_going)
                    })
                    .collect::<Result<Vec<_>, LocalError>>()
            })
            .await
            .map_err(failed)?
            .map_err(to_api)?;
            let usage = Usage {
                prompt_tokens: answers.first().map_or(0, |a| a.prompt_tokens),
                completion_tokens: answers.iter().map(|a| a.completion_tokens).sum(),
            };
            reservation.settle(usage.total());
            Ok(ChatOutput {
                model: self.card.id.clone(),
                choices: answers
                    .into_iter()
                    .map(|a| Choice {
                        text: a.text,
                        finish_reason: a.finish_reason,
                    })
                    .collect(),
                usage,
                raw: None,
                finish_sent: false,
            })
        })
    }

    fn score<'a>(
        &'a self,
        req: &'a ScoreRequest,
        call: Call,
    ) -> BoxFuture<'a, Result<ScoreOutput, ApiError>> {
        Box::pin(async move {
            let estimate: u64 = req
                .messages
                .iter()
                .map(|m| super::limits::estimate_tokens(&m.content) + 4)
                .sum::<u64>()
                + req
                    .candidates
                    .iter()
                    .map(|c| super::limits::estimate_tokens(c))
                    .sum::<u64>();
            let reservation = call.reserve(estimate)?;
            let deadline = Instant::now() + self.fairness.deadline;
            let (place, turn) = self.take_turn(deadline).await?;
            let model = self.model.clone();
            let (messages, candidates) = (req.messages.clone(), req.candidates.clone());
            let scored = tokio::task::spawn_blocking(move || {
                let _turn = (place, turn);
                model
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .score(&messages, &candidates)
            })
            .await
            .map_err(failed)?
            .map_err(to_api)?;
            if scored.scores.len() != req.candidates.len() {
                return Err(failed(format!(
                    "{} scores for {} candidates",
                    scored.scores.len(),
                    req.candidates.len()
                )));
            }
            reservation.settle(scored.prompt_tokens);
            Ok(ScoreOutput {
                model: self.card.id.clone(),
                scores: scored.scores,
                usage: Usage {
                    prompt_tokens: scored.prompt_tokens,
                    completion_tokens: 0,
                },
            })
        })
    }
}
