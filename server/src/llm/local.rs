//! In-process models (the embedded SmolLM2): a synchronous [`LocalModel`] runs on tokio's
//! blocking threads, one request at a time, streaming tokens through a callback; [`Local`]
//! makes it a [`Backend`] with the budget and the streaming handled.
//!
//! Wiring a model is an impl of [`LocalModel`] that converts the types, and one line at start:
//!
//! ```text
//! struct Smol(gridmentor_llm::SmolLm2);
//! impl LocalModel for Smol {
//!     fn generate(&mut self, m: &[ChatMessage], p: &GenParams, on_token: &mut dyn FnMut(&str))
//!         -> Result<Generated, String> { /* self.0.chat(..) with converted messages/params */ }
//!     fn score(&mut self, m: &[ChatMessage], c: &[String]) -> Result<Scored, String> { .. }
//! }
//! let card = ModelCard { id: "smollm2-135m-instruct".into(), aliases: vec!["smollm2".into()] };
//! AppState::with_backends(settings, vec![Arc::new(Local::new("smollm2", card, Smol(model)))])
//! ```

use super::{
    Backend, BoxFuture, Call, ChatMessage, ChatOutput, ChatRequest, Choice, Delta, ModelCard,
    Score, ScoreOutput, ScoreRequest, Usage,
};
use crate::error::ApiError;
use axum::http::StatusCode;
use std::sync::{Arc, Mutex};

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

/// A model that runs in this process, synchronously.
pub trait LocalModel: Send + 'static {
    /// Generate one answer, calling `on_token` with each piece of text as it is decoded.
    fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenParams,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Generated, String>;

    /// The log-likelihood of each candidate as the assistant's reply to `messages`.
    fn score(&mut self, messages: &[ChatMessage], candidates: &[String]) -> Result<Scored, String>;
}

/// A [`LocalModel`] as a backend.
pub struct Local<M: LocalModel> {
    name: String,
    card: ModelCard,
    model: Arc<Mutex<M>>,
}

impl<M: LocalModel> Local<M> {
    /// `name` is the backend's name, `card` the model id and its aliases.
    pub fn new(name: &str, card: ModelCard, model: M) -> Local<M> {
        Local {
            name: name.to_string(),
            card,
            model: Arc::new(Mutex::new(model)),
        }
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

    fn models(&self) -> Vec<ModelCard> {
        vec![self.card.clone()]
    }

    fn chat<'a>(
        &'a self,
        req: &'a ChatRequest,
        call: Call,
    ) -> BoxFuture<'a, Result<ChatOutput, ApiError>> {
        Box::pin(async move {
            let reservation = call.reserve(req.reserve_estimate(call.default_max_tokens))?;
            let model = self.model.clone();
            let messages = req.messages.clone();
            let base = GenParams {
                max_tokens: req.max_tokens.unwrap_or(call.default_max_tokens),
                temperature: req.temperature.unwrap_or(1.0),
                top_p: req.top_p.unwrap_or(1.0),
                seed: req.seed.unwrap_or_else(fresh_seed),
                stop: req.stop.clone(),
            };
            let n = req.n;
            let sink = call.sink.clone();
            let answers = tokio::task::spawn_blocking(move || {
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
                        m.generate(&messages, &params, &mut on_token)
                    })
                    .collect::<Result<Vec<_>, String>>()
            })
            .await
            .map_err(failed)?
            .map_err(failed)?;
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
            let model = self.model.clone();
            let (messages, candidates) = (req.messages.clone(), req.candidates.clone());
            let scored = tokio::task::spawn_blocking(move || {
                model
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .score(&messages, &candidates)
            })
            .await
            .map_err(failed)?
            .map_err(failed)?;
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
