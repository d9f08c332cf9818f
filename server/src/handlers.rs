//! The handlers: each translates HTTP into one call of a service module and back. Bodies are
//! read as bytes and parsed here so that every rejection (too large, not JSON) has our error
//! shape.

use crate::AppState;
use crate::checkpoints::{self, check_id};
use crate::episodes;
use crate::error::{ApiError, from_rejection};
use crate::guard::{Accepts, Admin, check_content_type};
use crate::llm::cache::CacheMode;
use crate::llm::service;
use axum::body::Bytes;
use axum::extract::{
    ConnectInfo, FromRequest, MatchedPath, Multipart, Path, Query, Request, State,
};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Redirect, Response};
use gridmentor_core::registry;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

type St = State<Arc<AppState>>;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Count every request by route and status.
pub async fn track(State(state): St, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("static", |m| m.as_str())
        .to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    state
        .metrics
        .http(&route, res.status().as_u16(), start.elapsed());
    res
}

/// The client a request comes from, for the rate limit (its address; "local" without one).
fn client_of(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "local".to_string(), |c| c.0.ip().to_string())
}

pub async fn no_route(req: Request) -> ApiError {
    let path: String = req.uri().path().chars().take(200).collect();
    ApiError::not_found(format!("no route {} {path}", req.method()))
}

fn json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
}

/// 413 before reading anything when `Content-Length` says the body is over `limit`.
fn check_length(req: &Request, limit: usize) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => Err(ApiError::too_large(limit)),
        _ => Ok(()),
    }
}

/// The body of a request whose type is `accepts`: 415 for another type, 413 over `limit`
/// (from `Content-Length` before reading, or while reading), 408 when it takes longer than
/// `--body-timeout`.
async fn read_body(
    state: &AppState,
    req: Request,
    accepts: Accepts,
    limit: usize,
) -> Result<Bytes, ApiError> {
    check_content_type(req.headers(), accepts)?;
    check_length(&req, limit)?;
    let timeout = state.settings.body_timeout;
    tokio::time::timeout(timeout, Bytes::from_request(req, &()))
        .await
        .map_err(|_| ApiError::body_timeout(timeout.as_secs_f64()))?
        .map_err(|e| from_rejection(e.status(), e.body_text(), limit))
}

// ---- LLM ----

pub async fn models(State(state): St) -> Json<Value> {
    Json(service::models(&state.llm))
}

pub async fn chat(
    State(state): St,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    let mode = CacheMode::from_headers(&headers)?;
    let client = client_of(&req);
    let limit = state.settings.max_llm_bytes;
    let body = json_body(&read_body(&state, req, Accepts::Json, limit).await?)?;
    service::chat(&state, &client, mode, body).await
}

pub async fn score(
    State(state): St,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, ApiError> {
    let mode = CacheMode::from_headers(&headers)?;
    let client = client_of(&req);
    let limit = state.settings.max_llm_bytes;
    let body = json_body(&read_body(&state, req, Accepts::Json, limit).await?)?;
    service::score(&state, &client, mode, body).await
}

pub async fn usage(State(state): St) -> Result<Json<Value>, ApiError> {
    service::usage(&state).await.map(Json)
}

pub async fn metrics(State(state): St) -> Response {
    let (used, limit, _) = state.llm.budget.status();
    let text = state.metrics.prometheus(&[
        (
            "budget_tokens_used",
            "Tokens spent in this budget period.",
            used as f64,
        ),
        (
            "budget_tokens_limit",
            "Tokens allowed per budget period (0 = unlimited).",
            limit as f64,
        ),
    ]);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

// ---- envs ----

#[derive(serde::Serialize)]
pub struct EnvInfo {
    id: &'static str,
    aliases: &'static [&'static str],
    family: &'static str,
    summary: &'static str,
}

impl EnvInfo {
    fn of(s: &'static gridmentor_core::EnvSpec) -> EnvInfo {
        EnvInfo {
            id: s.id,
            aliases: s.aliases,
            family: s.family,
            summary: s.summary,
        }
    }
}

pub async fn list_envs() -> Json<Vec<EnvInfo>> {
    Json(registry::all().map(EnvInfo::of).collect())
}

pub async fn get_env(Path(id): Path<String>) -> Result<Json<EnvInfo>, ApiError> {
    registry::find(&id)
        .map(|s| Json(EnvInfo::of(s)))
        .map_err(|e| ApiError::not_found(e.to_string()))
}

// ---- checkpoints ----

#[derive(Deserialize)]
pub struct EnvQuery {
    env: Option<String>,
}

#[derive(Deserialize)]
pub struct NameQuery {
    name: Option<String>,
}

fn env_id(env: &str) -> Result<&'static str, ApiError> {
    registry::find(env)
        .map(|s| s.id)
        .map_err(|e| ApiError::not_found(e.to_string()))
}

fn db(e: sqlx::Error) -> ApiError {
    ApiError::internal("the checkpoint database", e)
}

fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

pub async fn upload_checkpoint(
    State(state): St,
    q: Result<Query<NameQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> Result<Response, ApiError> {
    let name = query(q)?.name;
    let client = client_of(&req);
    let limit = state.settings.max_checkpoint_bytes;
    check_content_type(req.headers(), Accepts::Upload)?;
    let multipart =
        crate::guard::media_type(req.headers()).as_deref() == Some("multipart/form-data");
    let bytes = if multipart {
        check_length(&req, limit)?;
        let timeout = state.settings.body_timeout;
        tokio::time::timeout(timeout, read_multipart_file(req, limit))
            .await
            .map_err(|_| ApiError::body_timeout(timeout.as_secs_f64()))??
    } else {
        read_body(&state, req, Accepts::Upload, limit).await?
    };
    let (new, entry) = checkpoints::upload(&state, bytes, name, Some(&client)).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(entry)).into_response())
}

/// The field `file` of a multipart form.
async fn read_multipart_file(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        from_rejection(e.status(), e.body_text(), limit)
    };
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| from_rejection(e.status(), e.body_text(), limit))?;
    while let Some(field) = form.next_field().await.map_err(bad)? {
        if field.name() == Some("file") {
            return field.bytes().await.map_err(bad);
        }
    }
    Err(ApiError::bad_request(
        "the multipart upload has no field \"file\"",
    ))
}

pub async fn list_checkpoints(
    State(state): St,
    q: Result<Query<EnvQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let env = query(q)?.env.map(|e| env_id(&e)).transpose()?;
    let list = state.store.checkpoints(env).await.map_err(db)?;
    Ok(Json(json!({ "checkpoints": list })))
}

async fn entry(state: &AppState, id: &str) -> Result<checkpoints::Entry, ApiError> {
    check_id(id)?;
    state
        .store
        .checkpoint(id)
        .await
        .map_err(db)?
        .ok_or_else(|| ApiError::not_found(format!("no checkpoint {id}")))
}

pub async fn checkpoint_meta(
    State(state): St,
    Path(id): Path<String>,
) -> Result<Json<checkpoints::Entry>, ApiError> {
    Ok(Json(entry(&state, &id).await?))
}

pub async fn download_checkpoint(
    State(state): St,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let e = entry(&state, &id).await?;
    let bytes = tokio::fs::read(state.store.checkpoint_path(&e.id))
        .await
        .map_err(|err| ApiError::internal("reading the checkpoint file", err))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.ckpt\"", e.id),
            ),
        ],
        bytes,
    )
        .into_response())
}

pub async fn delete_checkpoint(
    _admin: Admin,
    State(state): St,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    check_id(&id)?;
    if state.store.delete_checkpoint(&id).await.map_err(db)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no checkpoint {id}")))
    }
}

pub async fn leaderboard(
    State(state): St,
    q: Result<Query<EnvQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let env = query(q)?
        .env
        .ok_or_else(|| ApiError::bad_request("the leaderboard needs ?env=ENV"))?;
    let env = env_id(&env)?;
    let entries = state.store.leaderboard(env).await.map_err(db)?;
    let cached = state
        .baselines
        .lock()
        .ok()
        .and_then(|m| m.get(env).cloned());
    let baselines = match cached {
        Some(b) => b,
        None => {
            let (n, seed) = (state.settings.eval_episodes, state.settings.eval_seed);
            let b = tokio::task::spawn_blocking(move || checkpoints::baselines(env, n, seed))
                .await
                .map_err(|e| ApiError::internal("evaluating the baselines", e))?;
            if let Ok(mut m) = state.baselines.lock() {
                m.insert(env.to_string(), b.clone());
            }
            b
        }
    };
    let mut baselines: Vec<Value> = baselines.iter().map(|b| json!(b)).collect();
    baselines.extend(crate::planners::row(&state, env));
    Ok(Json(
        json!({ "env": env, "entries": entries, "baselines": baselines }),
    ))
}

// ---- episodes ----

pub async fn post_episode(State(state): St, req: Request) -> Result<Response, ApiError> {
    let client = client_of(&req);
    let limit = state.settings.max_episode_bytes;
    let bytes = read_body(&state, req, Accepts::Json, limit).await?;
    let body = episodes::parse(&bytes)?;
    let (new, id) = episodes::store(&state, &body, &client).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "id": id }))).into_response())
}

pub async fn delete_episode(
    _admin: Admin,
    State(state): St,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    episodes::check_id(&id)?;
    let deleted = state
        .store
        .delete_episode(&id)
        .await
        .map_err(|e| ApiError::internal("deleting the episode", e))?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no episode {id}")))
    }
}

/// `DELETE /api/cache`: empty the LLM response cache.
pub async fn clear_cache(_admin: Admin, State(state): St) -> Result<Json<Value>, ApiError> {
    let n = state
        .llm
        .cache
        .clear()
        .await
        .map_err(|e| ApiError::internal("clearing the cache", e))?;
    Ok(Json(json!({ "deleted": n })))
}

pub async fn get_episode(State(state): St, Path(id): Path<String>) -> Result<Response, ApiError> {
    episodes::check_id(&id)?;
    let body = state
        .store
        .episode(&id)
        .await
        .map_err(|e| ApiError::internal("reading the episode", e))?
        .ok_or_else(|| ApiError::not_found(format!("no episode {id}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `/e/{id}`: the playground, opened on a stored episode.
pub async fn open_episode(Path(id): Path<String>) -> Result<Redirect, ApiError> {
    episodes::check_id(&id)?;
    Ok(Redirect::to(&format!("/#ep={id}")))
}
