//! The OpenAI-compatible LLM endpoint: request and answer types, the [`Backend`] trait every
//! model implements (scripted expert, upstream proxy, in-process models through [`local`]),
//! and the service that puts the cache, the budget and the metrics around them.

pub mod cache;
pub mod expert;
pub mod limits;
pub mod local;
pub mod service;
#[cfg(feature = "smollm2")]
pub mod smollm2;
pub mod upstream;

use crate::error::ApiError;
use limits::{Budget, Reservation, estimate_tokens};
use serde_json::{Map, Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One chat message, its content as text (text parts of a multi-part content joined).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// A chat-completions request, checked.
#[derive(Clone, Debug)]
pub struct ChatRequest {
    /// As the client named it.
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub stream: bool,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub max_tokens: Option<u32>,
    pub n: u32,
    pub seed: Option<u64>,
    pub stop: Vec<String>,
    /// The body as sent; the upstream gets it (with `stream_options` added when streaming),
    /// and every field of it is part of the cache key.
    pub raw: Map<String, Value>,
}

/// Answers per request at most.
pub const MAX_N: u64 = 16;

fn parse_messages(v: Option<&Value>) -> Result<Vec<ChatMessage>, ApiError> {
    let list = v
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| ApiError::bad_request("\"messages\" must be a non-empty array"))?;
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let role = m
                .get("role")
                .and_then(Value::as_str)
                .filter(|r| matches!(*r, "system" | "user" | "assistant" | "developer" | "tool"))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "messages[{i}].role must be system, user, assistant, developer or tool"
                    ))
                })?;
            let content = match m.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None if role == "assistant" => String::new(),
                Some(Value::Array(parts)) => parts
                    .iter()
                    .map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "messages[{i}].content parts must be text parts"
                        ))
                    })?
                    .join(""),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "messages[{i}].content must be a string or an array of text parts"
                    )));
                }
            };
            Ok(ChatMessage {
                role: role.to_string(),
                content,
            })
        })
        .collect()
}

fn number(
    obj: &Map<String, Value>,
    field: &str,
    lo: f64,
    hi: f64,
) -> Result<Option<f64>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|x| (lo..=hi).contains(x))
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request(format!("\"{field}\" must be a number from {lo} to {hi}"))
            }),
    }
}

fn model_of(obj: &Map<String, Value>) -> Result<String, ApiError> {
    obj.get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty() && m.len() <= 256)
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_request("\"model\" must be a model id (see /v1/models)"))
}

impl ChatRequest {
    pub fn parse(body: Value) -> Result<ChatRequest, ApiError> {
        let Value::Object(raw) = body else {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        };
        let model = model_of(&raw)?;
        let messages = parse_messages(raw.get("messages"))?;
        let stream = match raw.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(ApiError::bad_request("\"stream\" must be true or false")),
        };
        let max_tokens = match raw.get("max_completion_tokens").or(raw.get("max_tokens")) {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|&t| (1..=1 << 20).contains(&t))
                    .ok_or_else(|| {
                        ApiError::bad_request("\"max_tokens\" must be a positive integer")
                    })? as u32,
            ),
        };
        let n = match raw.get("n") {
            None | Some(Value::Null) => 1,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=MAX_N).contains(n))
                .ok_or_else(|| ApiError::bad_request(format!("\"n\" must be 1 to {MAX_N}")))?
                as u32,
        };
        let seed = match raw.get("seed") {
            None | Some(Value::Null) => None,
            Some(Value::Number(x)) => Some(
                x.as_u64()
                    .or(x.as_i64().map(|i| i as u64))
                    .ok_or_else(|| ApiError::bad_request("\"seed\" must be an integer"))?,
            ),
            Some(Value::String(s)) => Some(s.parse().map_err(|_| {
                ApiError::bad_request("\"seed\" must be an integer or a decimal string")
            })?),
            Some(_) => return Err(ApiError::bad_request("\"seed\" must be an integer")),
        };
        let stop = match raw.get("stop") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) if a.len() <= 4 && a.iter().all(Value::is_string) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "\"stop\" must be a string or up to 4 strings",
                ));
            }
        };
        Ok(ChatRequest {
            model,
            messages,
            stream,
            temperature: number(&raw, "temperature", 0.0, 2.0)?,
            top_p: number(&raw, "top_p", 0.0, 1.0)?,
            max_tokens,
            n,
            seed,
            stop,
            raw,
        })
    }

    /// Tokens to set aside before calling: the prompt (estimated) and the longest answer.
    pub fn reserve_estimate(&self, default_max_tokens: u32) -> u64 {
        let prompt: u64 = self
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content) + 4)
            .sum();
        prompt + self.n as u64 * self.max_tokens.unwrap_or(default_max_tokens) as u64
    }

    pub fn prompt_estimate(&self) -> u64 {
        self.messages
            .iter()
            .map(|m| estimate_tokens(&m.content) + 4)
            .sum()
    }
}

/// A `/v1/score` request.
#[derive(Clone, Debug)]
pub struct ScoreRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub candidates: Vec<String>,
    pub raw: Map<String, Value>,
}

/// Candidates per score request at most.
pub const MAX_CANDIDATES: usize = 64;

impl ScoreRequest {
    pub fn parse(body: Value) -> Result<ScoreRequest, ApiError> {
        let Value::Object(raw) = body else {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        };
        let candidates: Vec<String> = raw
            .get("candidates")
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty() && c.len() <= MAX_CANDIDATES)
            .and_then(|c| c.iter().map(|s| s.as_str().map(str::to_string)).collect())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "\"candidates\" must be 1 to {MAX_CANDIDATES} strings"
                ))
            })?;
        Ok(ScoreRequest {
            model: model_of(&raw)?,
            messages: parse_messages(raw.get("messages"))?,
            candidates,
            raw,
        })
    }
}

/// Token counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    pub fn to_json(self) -> Value {
        json!({"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
               "total_tokens": self.total()})
    }

    pub fn from_json(v: Option<&Value>) -> Option<Usage> {
        let v = v?;
        Some(Usage {
            prompt_tokens: v.get("prompt_tokens")?.as_u64()?,
            completion_tokens: v
                .get("completion_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        })
    }
}

/// One answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub text: String,
    /// `stop`, `length`...
    pub finish_reason: String,
}

/// What a backend answered.
#[derive(Clone, Debug)]
pub struct ChatOutput {
    /// The model that answered (canonical id).
    pub model: String,
    pub choices: Vec<Choice>,
    pub usage: Usage,
    /// The upstream's own response body, returned as it is.
    pub raw: Option<Value>,
    /// A streaming backend already sent the finishing chunks (the service then sends only the
    /// usage chunk and `[DONE]`).
    pub finish_sent: bool,
}

impl ChatOutput {
    /// The non-streaming response body.
    pub fn to_json(&self, id: &str, created: u64) -> Value {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let choices: Vec<Value> = self
            .choices
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({"index": i, "message": {"role": "assistant", "content": c.text},
                       "logprobs": null, "finish_reason": c.finish_reason})
            })
            .collect();
        json!({"id": id, "object": "chat.completion", "created": created, "model": self.model,
               "choices": choices, "usage": self.usage.to_json()})
    }

    /// Read a response body (a cached one, or the upstream's).
    pub fn from_json(v: &Value) -> Option<ChatOutput> {
        let choices = v
            .get("choices")?
            .as_array()?
            .iter()
            .map(|c| Choice {
                text: c
                    .pointer("/message/content")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                finish_reason: c
                    .get("finish_reason")
                    .and_then(Value::as_str)
                    .unwrap_or("stop")
                    .to_string(),
            })
            .collect();
        Some(ChatOutput {
            model: v
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            choices,
            usage: Usage::from_json(v.get("usage")).unwrap_or_default(),
            raw: None,
            finish_sent: false,
        })
    }
}

/// A piece of a streamed answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Delta {
    /// Text of answer `index`.
    Text { index: u32, text: String },
    /// An upstream chunk, forwarded as it is.
    Raw(Value),
}

pub type Sink = tokio::sync::mpsc::UnboundedSender<Delta>;

/// What a backend gets besides the request: where to stream, and the budget to reserve tokens
/// from before each call it makes (retries too).
#[derive(Clone)]
pub struct Call {
    pub sink: Option<Sink>,
    pub budget: Arc<Budget>,
    /// Completion tokens reserved when the request sets no `max_tokens`.
    pub default_max_tokens: u32,
}

impl Call {
    pub fn reserve(&self, tokens: u64) -> Result<Reservation, ApiError> {
        self.budget.reserve(tokens)
    }

    /// Send text of answer `index` to a streaming client (nothing when not streaming).
    pub fn emit(&self, index: u32, text: &str) {
        if let Some(s) = &self.sink
            && !text.is_empty()
        {
            let _ = s.send(Delta::Text {
                index,
                text: text.to_string(),
            });
        }
    }
}

/// One candidate's score.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    pub candidate: String,
    pub logprob: f64,
    pub tokens: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScoreOutput {
    pub model: String,
    pub scores: Vec<Score>,
    pub usage: Usage,
}

impl ScoreOutput {
    pub fn to_json(&self) -> Value {
        let scores: Vec<Value> = self
            .scores
            .iter()
            .map(|s| json!({"candidate": s.candidate, "logprob": s.logprob, "tokens": s.tokens}))
            .collect();
        json!({"object": "score", "model": self.model, "scores": scores,
               "usage": self.usage.to_json()})
    }
}

/// A model listed by `/v1/models`.
#[derive(Clone, Debug, Default)]
pub struct ModelCard {
    pub id: String,
    /// Other names that reach it (case-insensitive).
    pub aliases: Vec<String>,
    /// A grounded model's policy temperature (its policy is softmax(log-likelihood / T) over
    /// the action texts, the T it was trained at), so that a client acts as it was trained.
    pub policy_temperature: Option<f32>,
}

/// Something that answers chat requests (and maybe scores candidates).
///
/// An in-process model that runs synchronously (the embedded SmolLM2) implements
/// [`local::LocalModel`] instead and is wrapped by [`local::Local`].
pub trait Backend: Send + Sync + 'static {
    /// The backend's name in metrics, `/api/usage`, `/v1/models` and the cache key.
    fn name(&self) -> &str;
    /// Is it a language model (false for the scripted expert)?
    fn is_llm(&self) -> bool;
    /// Does it answer `/v1/score` ([`Backend::score`])? `/v1/models` says so, so that clients
    /// (the page) plan by scoring where they can.
    fn scores(&self) -> bool {
        false
    }
    /// The models it lists.
    fn models(&self) -> Vec<ModelCard>;
    /// The canonical id of `model` if this backend answers it.
    fn resolve(&self, model: &str) -> Option<String> {
        self.models()
            .into_iter()
            .find(|c| {
                c.id.eq_ignore_ascii_case(model)
                    || c.aliases.iter().any(|a| a.eq_ignore_ascii_case(model))
            })
            .map(|c| c.id)
    }
    /// What besides the request decides the answer (the upstream URL).
    fn cache_scope(&self) -> String {
        String::new()
    }
    /// Does this request get the same answer every time? Only such requests are cached
    /// unless the client opts in: temperature 0, or a seed.
    fn deterministic(&self, req: &ChatRequest) -> bool {
        req.temperature == Some(0.0) || req.seed.is_some()
    }
    /// Is it free now (nobody's request running or waiting)? Background work asks it only
    /// then, so that it never delays a client by more than one of its own requests.
    fn idle(&self) -> bool {
        true
    }
    /// Answer; when `call.sink` is set, stream the text as it comes ([`Call::emit`]).
    fn chat<'a>(
        &'a self,
        req: &'a ChatRequest,
        call: Call,
    ) -> BoxFuture<'a, Result<ChatOutput, ApiError>>;
    /// Log-likelihoods of the candidates as the assistant's reply.
    fn score<'a>(
        &'a self,
        req: &'a ScoreRequest,
        _call: Call,
    ) -> BoxFuture<'a, Result<ScoreOutput, ApiError>> {
        let msg = format!(
            "model {} cannot score candidates (the embedded LLM can)",
            req.model
        );
        Box::pin(async move { Err(ApiError::bad_request(msg)) })
    }
}

/// The backends, in the order they are asked which models they answer; the upstream, if any,
/// answers every other model.
#[derive(Clone, Default)]
pub struct Backends {
    pub builtin: Vec<Arc<dyn Backend>>,
    pub upstream: Option<Arc<dyn Backend>>,
}

impl Backends {
    /// The backend for `model` and the model's canonical id.
    pub fn resolve(&self, model: &str) -> Result<(Arc<dyn Backend>, String), ApiError> {
        for b in &self.builtin {
            if let Some(id) = b.resolve(model) {
                return Ok((b.clone(), id));
            }
        }
        match &self.upstream {
            Some(u) => Ok((u.clone(), model.to_string())),
            None => Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "model_not_found",
                format!(
                    "model {model:?} does not exist here: see /v1/models (no upstream is \
                     configured for other models)"
                ),
            )),
        }
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Backend>> {
        self.builtin.iter().chain(self.upstream.iter())
    }
}
