//! The upstream proxy: any OpenAI-compatible API. The request goes on as the client sent it,
//! with the server's API key (read from an env var at start, never logged, never returned);
//! each attempt has a timeout and first reserves tokens from the budget; 429, 5xx, timeouts
//! and failed connections are retried a bounded number of times with exponential backoff.

use super::{Backend, BoxFuture, Call, ChatOutput, ChatRequest, Choice, Delta, ModelCard, Usage};
use crate::config;
use crate::error::ApiError;
use crate::metrics::Metrics;
use axum::http::StatusCode;
use futures_util::StreamExt;
use gridmentor_core::planner::retry::{RetryPolicy, retry_after, retryable_status};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const NAME: &str = "upstream";

pub struct UpstreamBackend {
    cfg: config::Upstream,
    client: reqwest::Client,
    metrics: Arc<Metrics>,
}

/// Why an attempt failed in a way worth retrying.
enum Retryable {
    Timeout,
    Connection(String),
    Status {
        status: StatusCode,
        message: String,
        retry_after: Option<Duration>,
    },
}

/// Error bodies longer than this are cut.
const MAX_ERROR_BODY: usize = 64 << 10;

impl UpstreamBackend {
    pub fn new(cfg: config::Upstream, metrics: Arc<Metrics>) -> anyhow::Result<UpstreamBackend> {
        let client = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .user_agent(concat!("gridmentor-server/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(UpstreamBackend {
            cfg,
            client,
            metrics,
        })
    }

    /// `text` without the API key, nor anything that quotes a piece of it (some APIs echo
    /// a masked key such as `sk-abc***xyz` back).
    fn redact(&self, text: &str) -> String {
        let Some(key) = &self.cfg.key else {
            return text.to_string();
        };
        let key = key.0.as_bytes();
        let quoted = key.len() >= 8
            && key
                .windows(6)
                .any(|w| text.as_bytes().windows(6).any(|t| t == w));
        if quoted || text.contains(&*String::from_utf8_lossy(key)) {
            "(the upstream's message quoted the API key and is withheld)".into()
        } else {
            text.to_string()
        }
    }

    fn error_message(&self, body: &[u8]) -> String {
        let body = &body[..body.len().min(MAX_ERROR_BODY)];
        let text = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| {
                v.pointer("/error/message")
                    .or(v.get("error"))
                    .or(v.get("message"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
        self.redact(&text)
    }

    fn final_error(&self, failure: Retryable, attempts: u32) -> ApiError {
        let tries = if attempts == 1 {
            "1 attempt".to_string()
        } else {
            format!("{attempts} attempts")
        };
        match failure {
            Retryable::Timeout => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                format!(
                    "the upstream did not answer within {:.1} s ({tries})",
                    self.cfg.timeout.as_secs_f64()
                ),
            ),
            Retryable::Connection(e) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_unreachable",
                format!("cannot reach the upstream ({tries}): {e}"),
            ),
            Retryable::Status {
                status,
                message,
                retry_after,
            } if status == StatusCode::TOO_MANY_REQUESTS => ApiError::new(
                status,
                "rate_limit_exceeded",
                format!("the upstream is rate limiting ({tries}): {message}"),
            )
            .with_retry_after(retry_after.map_or(1, |d| d.as_secs().max(1))),
            Retryable::Status {
                status, message, ..
            } => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!("the upstream failed with {status} ({tries}): {message}"),
            ),
        }
    }

    async fn read_json(&self, resp: reqwest::Response) -> Result<Value, ApiError> {
        let bytes = tokio::time::timeout(self.cfg.timeout, resp.bytes())
            .await
            .map_err(|_| self.final_error(Retryable::Timeout, 1))?
            .map_err(|e| self.final_error(Retryable::Connection(e.without_url().to_string()), 1))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!("the upstream answered with malformed JSON: {e}"),
            )
        })
    }

    /// Forward an SSE stream chunk by chunk, keeping the text, the finish reasons and the usage.
    async fn read_stream(
        &self,
        resp: reqwest::Response,
        req: &ChatRequest,
        call: &Call,
    ) -> Result<ChatOutput, ApiError> {
        let n = req.n as usize;
        let mut texts = vec![String::new(); n];
        let mut finish: Vec<Option<String>> = vec![None; n];
        let mut usage = None;
        let mut model = req.model.clone();
        let mut stream = resp.bytes_stream();
        let mut buf: Vec<u8> = Vec::new();
        let malformed = |e: String| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!("the upstream sent a malformed stream chunk: {e}"),
            )
        };
        'read: loop {
            let next = tokio::time::timeout(self.cfg.timeout, stream.next())
                .await
                .map_err(|_| self.final_error(Retryable::Timeout, 1))?;
            let Some(piece) = next else { break };
            let piece = piece.map_err(|e| {
                self.final_error(Retryable::Connection(e.without_url().to_string()), 1)
            })?;
            buf.extend_from_slice(&piece);
            while let Some(end) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let Some(data) = line.trim().strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim();
                if data == "[DONE]" {
                    break 'read;
                }
                let chunk: Value =
                    serde_json::from_str(data).map_err(|e| malformed(e.to_string()))?;
                if let Some(u) = Usage::from_json(chunk.get("usage")) {
                    usage = Some(u);
                }
                if let Some(m) = chunk.get("model").and_then(Value::as_str) {
                    model = m.to_string();
                }
                let choices = chunk.get("choices").and_then(Value::as_array);
                if choices.is_none_or(|c| c.is_empty()) {
                    // The usage chunk: the service sends its own, last.
                    continue;
                }
                for c in choices.into_iter().flatten() {
                    let i = c.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                    if i >= n {
                        return Err(malformed(format!("choice index {i} of {n}")));
                    }
                    if let Some(t) = c.pointer("/delta/content").and_then(Value::as_str) {
                        texts[i].push_str(t);
                    }
                    if let Some(f) = c.get("finish_reason").and_then(Value::as_str) {
                        finish[i] = Some(f.to_string());
                    }
                }
                if let Some(s) = &call.sink {
                    let _ = s.send(Delta::Raw(chunk));
                }
            }
        }
        let usage = usage.unwrap_or_else(|| Usage {
            prompt_tokens: req.prompt_estimate(),
            completion_tokens: texts
                .iter()
                .map(|t| super::limits::estimate_tokens(t))
                .sum(),
        });
        Ok(ChatOutput {
            model,
            choices: texts
                .into_iter()
                .zip(finish)
                .map(|(text, f)| Choice {
                    text,
                    finish_reason: f.unwrap_or_else(|| "stop".into()),
                })
                .collect(),
            usage,
            raw: None,
            finish_sent: true,
        })
    }

    async fn chat_impl(&self, req: &ChatRequest, call: Call) -> Result<ChatOutput, ApiError> {
        let url = format!("{}/chat/completions", self.cfg.url);
        let mut body = req.raw.clone();
        if req.stream {
            body.insert("stream".into(), json!(true));
            body.insert("stream_options".into(), json!({"include_usage": true}));
        } else {
            body.remove("stream_options");
        }
        let body = Value::Object(body);
        let reserve = req.reserve_estimate(call.default_max_tokens);
        let mut attempt = 0u32;
        loop {
            // Before every attempt: a retry spends tokens too.
            let reservation = call.reserve(reserve)?;
            self.metrics.count("upstream_attempts");
            let mut rb = self.client.post(&url).json(&body);
            if let Some(key) = &self.cfg.key {
                rb = rb.bearer_auth(&key.0);
            }
            let failure = match tokio::time::timeout(self.cfg.timeout, rb.send()).await {
                Err(_) => {
                    reservation.settle(req.prompt_estimate());
                    Retryable::Timeout
                }
                Ok(Err(e)) => {
                    reservation.settle(0);
                    Retryable::Connection(e.without_url().to_string())
                }
                Ok(Ok(resp)) if resp.status().is_success() => {
                    if req.stream {
                        let out = self.read_stream(resp, req, &call).await?;
                        reservation.settle(out.usage.total());
                        return Ok(out);
                    }
                    let v = self.read_json(resp).await?;
                    let mut out = ChatOutput::from_json(&v).ok_or_else(|| {
                        ApiError::new(
                            StatusCode::BAD_GATEWAY,
                            "upstream_error",
                            "the upstream's answer has no choices",
                        )
                    })?;
                    if Usage::from_json(v.get("usage")).is_none() {
                        out.usage = Usage {
                            prompt_tokens: req.prompt_estimate(),
                            completion_tokens: out
                                .choices
                                .iter()
                                .map(|c| super::limits::estimate_tokens(&c.text))
                                .sum(),
                        };
                    }
                    reservation.settle(out.usage.total());
                    out.raw = Some(v);
                    return Ok(out);
                }
                Ok(Ok(resp)) => {
                    let status = resp.status();
                    let header = |name: &str| resp.headers().get(name)?.to_str().ok();
                    let retry_after = retry_after(header("retry-after-ms"), header("retry-after"));
                    let bytes = tokio::time::timeout(self.cfg.timeout, resp.bytes())
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or_default();
                    let message = self.error_message(&bytes);
                    if retryable_status(status.as_u16()) {
                        reservation.settle(req.prompt_estimate());
                        Retryable::Status {
                            status,
                            message,
                            retry_after,
                        }
                    } else {
                        reservation.settle(0);
                        let status = StatusCode::from_u16(status.as_u16())
                            .unwrap_or(StatusCode::BAD_GATEWAY);
                        return Err(ApiError::new(
                            status,
                            "upstream_error",
                            format!("the upstream refused the request ({status}): {message}"),
                        ));
                    }
                }
            };
            let policy = RetryPolicy {
                retries: self.cfg.retries,
                backoff: self.cfg.backoff,
                max_wait: self.cfg.max_backoff,
            };
            let asked = match &failure {
                Retryable::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            let Some(wait) = policy.wait(attempt, asked) else {
                return Err(self.final_error(failure, attempt + 1));
            };
            self.metrics.count("upstream_retries");
            tracing::warn!(
                "upstream attempt {} failed ({}), retrying in {:.2} s",
                attempt + 1,
                match &failure {
                    Retryable::Timeout => "timeout".to_string(),
                    Retryable::Connection(e) => e.clone(),
                    Retryable::Status { status, .. } => status.to_string(),
                },
                wait.as_secs_f64()
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

impl Backend for UpstreamBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn is_llm(&self) -> bool {
        true
    }

    fn models(&self) -> Vec<ModelCard> {
        self.cfg
            .models
            .iter()
            .map(|m| ModelCard {
                id: m.clone(),
                aliases: Vec::new(),
                ..ModelCard::default()
            })
            .collect()
    }

    fn resolve(&self, model: &str) -> Option<String> {
        Some(model.to_string())
    }

    fn cache_scope(&self) -> String {
        self.cfg.url.clone()
    }

    fn chat<'a>(
        &'a self,
        req: &'a ChatRequest,
        call: Call,
    ) -> BoxFuture<'a, Result<ChatOutput, ApiError>> {
        Box::pin(self.chat_impl(req, call))
    }
}
