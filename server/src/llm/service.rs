//! What happens around a backend call: the model is resolved, the cache read (or bypassed),
//! the backend called (streamed as SSE when asked), the usage counted and the answer cached.

use super::cache::{self, CacheMode, ResponseCache};
use super::limits::{Budget, RateLimiter};
use super::{Backend, Backends, Call, ChatOutput, ChatRequest, Delta, ScoreRequest};
use crate::AppState;
use crate::error::ApiError;
use axum::http::{HeaderValue, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// The LLM side of the server state.
pub struct Llm {
    pub backends: Backends,
    pub budget: Arc<Budget>,
    pub limiter: RateLimiter,
    pub default_max_tokens: u32,
    pub cache: ResponseCache,
}

impl Llm {
    fn call(&self, sink: Option<super::Sink>) -> Call {
        Call {
            sink,
            budget: self.budget.clone(),
            default_max_tokens: self.default_max_tokens,
        }
    }
}

fn new_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = crate::store::now_ms() as u64;
    let h = crate::checkpoints::sha256_hex(format!("{t}/{n}/{}", std::process::id()).as_bytes());
    format!("{prefix}-{}", &h[..24])
}

fn now_secs() -> u64 {
    (crate::store::now_ms() / 1000) as u64
}

fn with_cache_header(mut res: Response, hit: bool) -> Response {
    res.headers_mut().insert(
        "x-cache",
        HeaderValue::from_static(if hit { "HIT" } else { "MISS" }),
    );
    res
}

fn db_error(e: sqlx::Error) -> ApiError {
    ApiError::internal("the response cache", e)
}

/// A model's label in `/metrics` and `/api/usage`: its id when its backend lists it, else
/// `other`, so that names chosen by clients cannot grow the label set.
pub fn model_label(backend: &dyn Backend, model: &str) -> String {
    if backend.models().iter().any(|c| c.id == model) {
        model.to_string()
    } else {
        "other".to_string()
    }
}

/// A cached answer as the client asked for it: the stored JSON as it is, or replayed as SSE.
fn cached_answer(body: &axum::body::Bytes, stream: bool) -> Option<Response> {
    let res = if stream {
        replay(&serde_json::from_slice::<Value>(body).ok()?)
    } else {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body.clone(),
        )
            .into_response()
    };
    Some(with_cache_header(res, true))
}

/// Formats the chunks of one streamed answer.
struct Chunks {
    id: String,
    created: u64,
    model: String,
    role_sent: Vec<bool>,
}

impl Chunks {
    fn chunk(&self, choices: Value) -> Event {
        Event::default().data(
            json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                   "model": self.model, "choices": choices})
            .to_string(),
        )
    }

    fn text(&mut self, index: u32, text: &str) -> Event {
        let i = index as usize;
        if self.role_sent.len() <= i {
            self.role_sent.resize(i + 1, false);
        }
        let delta = if self.role_sent[i] {
            json!({"content": text})
        } else {
            self.role_sent[i] = true;
            json!({"role": "assistant", "content": text})
        };
        self.chunk(
            json!([{"index": index, "delta": delta, "logprobs": null, "finish_reason": null}]),
        )
    }

    fn delta(&mut self, d: Delta) -> Event {
        match d {
            Delta::Text { index, text } => self.text(index, &text),
            Delta::Raw(v) => Event::default().data(v.to_string()),
        }
    }

    /// The finishing chunks (unless the backend sent them), the usage chunk.
    fn end(&mut self, out: &ChatOutput) -> Vec<Event> {
        let mut events = Vec::new();
        if !out.finish_sent {
            for (i, c) in out.choices.iter().enumerate() {
                if self.role_sent.get(i) != Some(&true) {
                    events.push(self.text(i as u32, ""));
                }
                events.push(
                    self.chunk(json!([{"index": i, "delta": {}, "logprobs": null,
                                                 "finish_reason": c.finish_reason}])),
                );
            }
        }
        events.push(
            Event::default().data(
                json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                   "model": self.model, "choices": [], "usage": out.usage.to_json()})
                .to_string(),
            ),
        );
        events
    }
}

fn sse(rx: mpsc::Receiver<Event>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Sse::new(stream).into_response()
}

/// A cached answer replayed as a stream.
fn replay(v: &Value) -> Response {
    let out = ChatOutput::from_json(v).unwrap_or(ChatOutput {
        model: String::new(),
        choices: Vec::new(),
        usage: Default::default(),
        raw: None,
        finish_sent: false,
    });
    let mut c = Chunks {
        id: v
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| new_id("chatcmpl"), str::to_string),
        created: v
            .get("created")
            .and_then(Value::as_u64)
            .unwrap_or_else(now_secs),
        model: out.model.clone(),
        role_sent: Vec::new(),
    };
    let mut events: Vec<Event> = out
        .choices
        .iter()
        .enumerate()
        .map(|(i, ch)| c.text(i as u32, &ch.text))
        .collect();
    events.extend(c.end(&out));
    events.push(Event::default().data("[DONE]"));
    let (tx, rx) = mpsc::channel(events.len().max(1));
    for e in events {
        let _ = tx.try_send(e);
    }
    sse(rx)
}

/// `POST /v1/chat/completions`.
pub async fn chat(
    state: &Arc<AppState>,
    client: &str,
    mode: CacheMode,
    body: Value,
) -> Result<Response, ApiError> {
    let req = ChatRequest::parse(body)?;
    let (backend, model) = state.llm.backends.resolve(&req.model)?;
    let name = backend.name().to_string();
    let label = model_label(backend.as_ref(), &model);
    let cacheable = match mode {
        CacheMode::Bypass => false,
        CacheMode::Allow => true,
        CacheMode::Default => backend.deterministic(&req),
    };
    let key =
        cacheable.then(|| cache::key("chat", &name, &backend.cache_scope(), &model, &req.raw));
    let metrics = &state.metrics;
    // A cache hit costs no model call: it is answered before the rate limit.
    if let Some(k) = &key
        && let Some(body) = state.llm.cache.get(k).await.map_err(db_error)?
        && let Some(res) = cached_answer(&body, req.stream)
    {
        metrics.llm(&name, &label, |u| {
            u.requests += 1;
            u.cache_hits += 1;
        });
        return Ok(res);
    }
    limit(state, backend.as_ref(), client)?;
    metrics.llm(&name, &label, |u| u.requests += 1);
    if !req.stream {
        let out = match backend.chat(&req, state.llm.call(None)).await {
            Ok(out) => out,
            Err(e) => {
                metrics.llm(&name, &label, |u| u.errors += 1);
                return Err(e);
            }
        };
        metrics.llm(&name, &label, |u| {
            u.prompt_tokens += out.usage.prompt_tokens;
            u.completion_tokens += out.usage.completion_tokens;
        });
        let v = out.to_json(&new_id("chatcmpl"), now_secs());
        if let Some(k) = &key {
            state
                .llm
                .cache
                .put(k, &name, &model, &v.to_string())
                .await
                .map_err(db_error)?;
        }
        return Ok(with_cache_header(Json(v).into_response(), false));
    }
    stream(state.clone(), backend, req, model, label, key).await
}

async fn stream(
    state: Arc<AppState>,
    backend: Arc<dyn Backend>,
    req: ChatRequest,
    model: String,
    label: String,
    key: Option<String>,
) -> Result<Response, ApiError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let call = state.llm.call(Some(tx));
    let n = req.n as usize;
    let b = backend.clone();
    let job = tokio::spawn(async move { b.chat(&req, call).await });
    let name = backend.name().to_string();
    let first = rx.recv().await;
    // Nothing streamed and the call failed: an ordinary error response, with its status.
    let mut job = Some(job);
    let mut early = None;
    if first.is_none() {
        let r = job
            .take()
            .expect("job")
            .await
            .unwrap_or_else(|e| Err(ApiError::internal("the model call", e)));
        if let Err(e) = r {
            state.metrics.llm(&name, &label, |u| u.errors += 1);
            return Err(e);
        }
        early = Some(r);
    }
    let (ev_tx, ev_rx) = mpsc::channel::<Event>(64);
    tokio::spawn(async move {
        let mut c = Chunks {
            id: new_id("chatcmpl"),
            created: now_secs(),
            model: model.clone(),
            role_sent: vec![false; n],
        };
        let abort = |job: &Option<tokio::task::JoinHandle<_>>| {
            if let Some(j) = job {
                j.abort();
            }
        };
        if let Some(d) = first {
            if ev_tx.send(c.delta(d)).await.is_err() {
                abort(&job);
                return;
            }
            while let Some(d) = rx.recv().await {
                if ev_tx.send(c.delta(d)).await.is_err() {
                    abort(&job);
                    return;
                }
            }
        }
        let result = match (early, job) {
            (Some(r), _) => r,
            (None, Some(j)) => j
                .await
                .unwrap_or_else(|e| Err(ApiError::internal("the model call", e))),
            (None, None) => Err(ApiError::internal("the model call", "lost")),
        };
        let metrics = &state.metrics;
        let events = match result {
            Ok(out) => {
                metrics.llm(&name, &label, |u| {
                    u.prompt_tokens += out.usage.prompt_tokens;
                    u.completion_tokens += out.usage.completion_tokens;
                });
                if let Some(k) = &key {
                    let v = out.to_json(&c.id, c.created);
                    if let Err(e) = state.llm.cache.put(k, &name, &model, &v.to_string()).await {
                        tracing::error!("caching a streamed answer: {e}");
                    }
                }
                c.end(&out)
            }
            Err(e) => {
                metrics.llm(&name, &label, |u| u.errors += 1);
                vec![Event::default().data(e.body().to_string())]
            }
        };
        for e in events {
            if ev_tx.send(e).await.is_err() {
                return;
            }
        }
        let _ = ev_tx.send(Event::default().data("[DONE]")).await;
    });
    Ok(with_cache_header(sse(ev_rx), false))
}

/// `POST /v1/score`. Scores are deterministic: cached unless bypassed.
pub async fn score(
    state: &Arc<AppState>,
    client: &str,
    mode: CacheMode,
    body: Value,
) -> Result<Response, ApiError> {
    let req = ScoreRequest::parse(body)?;
    let (backend, model) = state.llm.backends.resolve(&req.model)?;
    let name = backend.name().to_string();
    let label = model_label(backend.as_ref(), &model);
    let key = (mode != CacheMode::Bypass)
        .then(|| cache::key("score", &name, &backend.cache_scope(), &model, &req.raw));
    if let Some(k) = &key
        && let Some(body) = state.llm.cache.get(k).await.map_err(db_error)?
        && let Some(res) = cached_answer(&body, false)
    {
        state.metrics.llm(&name, &label, |u| {
            u.requests += 1;
            u.cache_hits += 1;
        });
        return Ok(res);
    }
    limit(state, backend.as_ref(), client)?;
    state.metrics.llm(&name, &label, |u| u.requests += 1);
    let out = match backend.score(&req, state.llm.call(None)).await {
        Ok(out) => out,
        Err(e) => {
            state.metrics.llm(&name, &label, |u| u.errors += 1);
            return Err(e);
        }
    };
    state.metrics.llm(&name, &label, |u| {
        u.prompt_tokens += out.usage.prompt_tokens
    });
    let v = out.to_json();
    if let Some(k) = &key {
        state
            .llm
            .cache
            .put(k, &name, &model, &v.to_string())
            .await
            .map_err(db_error)?;
    }
    Ok(with_cache_header(Json(v).into_response(), false))
}

/// `GET /v1/models`.
pub fn models(llm: &Llm) -> Value {
    let data: Vec<Value> = llm
        .backends
        .all()
        .flat_map(|b| {
            b.models().into_iter().map(move |c| {
                let mut m = json!({"id": c.id, "object": "model", "created": 0,
                       "owned_by": if b.name() == super::upstream::NAME { "upstream" } else { "gridmentor" },
                       "backend": b.name(), "llm": b.is_llm(), "scores": b.scores(),
                       "aliases": c.aliases});
                if let Some(t) = c.policy_temperature {
                    m["policy_temperature"] = json!(t);
                }
                m
            })
        })
        .collect();
    json!({"object": "list", "data": data})
}

/// `GET /api/usage`.
pub async fn usage(state: &Arc<AppState>) -> Result<Value, ApiError> {
    let (used, limit, resets) = state.llm.budget.status();
    let mut totals = super::super::metrics::ModelUsage::default();
    let models: Vec<Value> = state
        .metrics
        .usage()
        .into_iter()
        .map(|(backend, model, u)| {
            totals.requests += u.requests;
            totals.cache_hits += u.cache_hits;
            totals.errors += u.errors;
            totals.prompt_tokens += u.prompt_tokens;
            totals.completion_tokens += u.completion_tokens;
            json!({"backend": backend, "model": model, "requests": u.requests,
                   "cache_hits": u.cache_hits, "errors": u.errors,
                   "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens})
        })
        .collect();
    let cache_entries = state.llm.cache.entries().await;
    Ok(json!({
        "since": state.started_at,
        "models": models,
        "totals": totals,
        "budget": {"limit": if limit == 0 { Value::Null } else { json!(limit) }, "used": used,
                   "period_secs": state.llm.budget.period().as_secs(), "resets_in_secs": resets},
        "cache_entries": cache_entries,
        "rate_limited": state.metrics.counter("rate_limited"),
    }))
}

/// The per-client rate limit, for language models only: the scripted expert costs nothing.
fn limit(state: &AppState, backend: &dyn Backend, client: &str) -> Result<(), ApiError> {
    if !backend.is_llm() {
        return Ok(());
    }
    state.llm.limiter.check(client).map_err(|wait| {
        state.metrics.count("rate_limited");
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            format!("too many LLM requests from this client: try again in {wait} s"),
        )
        .with_retry_after(wait)
    })
}
