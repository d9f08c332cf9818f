//! gridmentor-server: the HTTP face of gridmentor. One router (below) over one state: the
//! OpenAI-compatible LLM endpoint ([`llm`]), checkpoints with their leaderboard
//! ([`checkpoints`]), shared episodes ([`episodes`]), metrics, and the playground's files.

pub mod checkpoints;
pub mod config;
pub mod episodes;
pub mod error;
pub mod guard;
pub mod handlers;
pub mod llm;
pub mod metrics;
pub mod net;
pub mod planners;
pub mod store;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{any, delete, get, post};
use llm::Backend;
use llm::cache::ResponseCache;
use llm::limits::{Budget, RateLimiter};
use llm::service::Llm;
use metrics::Metrics;
use std::sync::Arc;
use store::Store;
use tower::Layer;
use tower_http::compression::{Compression, CompressionLayer, CompressionLevel};
use tower_http::services::ServeDir;

pub use config::{Args, Settings};
pub use error::ApiError;

/// Everything the handlers share.
pub struct AppState {
    pub settings: Settings,
    pub store: Store,
    pub llm: Llm,
    pub metrics: Arc<Metrics>,
    /// Wakes the checkpoint evaluator ([`checkpoints::start_evaluator`]).
    pub evaluator: Arc<tokio::sync::Notify>,
    /// Held by the evaluator while it evaluates (one evaluation at a time; tests hold it to
    /// keep uploads pending).
    pub evaluating: tokio::sync::Mutex<()>,
    /// One upload of a given file at a time.
    pub uploads: checkpoints::UploadLocks,
    /// Uploads checked by core's loader at once (CPU and memory).
    pub validations: tokio::sync::Semaphore,
    /// Held from a client's quota check to the insert that uses it up.
    pub quota_lock: tokio::sync::Mutex<()>,
    /// The leaderboard's baselines per env, evaluated once (they never change).
    pub baselines: std::sync::Mutex<std::collections::HashMap<String, Vec<checkpoints::Baseline>>>,
    /// The leaderboard's LLM planner row per env, evaluated in the background.
    pub planner_rows: planners::PlannerRows,
    pub started_at: String,
}

impl AppState {
    /// Open the store and set up the built-in backends (the scripted expert, the upstream when
    /// configured).
    pub async fn new(settings: Settings) -> anyhow::Result<Arc<AppState>> {
        AppState::with_backends(settings, Vec::new()).await
    }

    /// Like [`AppState::new`], with more backends (the embedded LLM: [`llm::local::Local`]),
    /// asked before the upstream for the models they list.
    pub async fn with_backends(
        settings: Settings,
        extra: Vec<Arc<dyn Backend>>,
    ) -> anyhow::Result<Arc<AppState>> {
        let store = Store::open(&settings.data, &settings.database_url).await?;
        let metrics = Arc::new(Metrics::default());
        let mut builtin: Vec<Arc<dyn Backend>> = vec![Arc::new(llm::expert::Expert)];
        builtin.extend(extra);
        let upstream = match &settings.upstream {
            Some(u) => {
                if u.key.is_none() {
                    tracing::warn!(
                        "the upstream API key variable {} is not set: calls go without a key",
                        u.key_env
                    );
                }
                Some(Arc::new(llm::upstream::UpstreamBackend::new(
                    u.clone(),
                    metrics.clone(),
                )?) as Arc<dyn Backend>)
            }
            None => None,
        };
        let cache = ResponseCache::new(
            store.clone(),
            settings.cache_max_entries,
            settings.cache_max_bytes,
        )
        .await?;
        let state = Arc::new(AppState {
            llm: Llm {
                backends: llm::Backends { builtin, upstream },
                budget: Budget::new(settings.token_budget, settings.budget_period),
                limiter: RateLimiter::new(settings.rate_limit, settings.rate_burst),
                default_max_tokens: settings.budget_default_max_tokens,
                cache,
            },
            store,
            metrics,
            evaluator: Arc::new(tokio::sync::Notify::new()),
            evaluating: tokio::sync::Mutex::new(()),
            uploads: checkpoints::UploadLocks::default(),
            validations: tokio::sync::Semaphore::new(2),
            quota_lock: tokio::sync::Mutex::new(()),
            baselines: Default::default(),
            planner_rows: Default::default(),
            started_at: store::rfc3339(store::now_ms()),
            settings,
        });
        checkpoints::start_evaluator(&state).await?;
        planners::start(&state);
        Ok(state)
    }
}

/// The whole HTTP surface.
pub fn router(state: Arc<AppState>) -> Router {
    use handlers as h;
    let s = &state.settings;
    let llm = Router::new()
        .route("/v1/chat/completions", post(h::chat))
        .route("/v1/score", post(h::score))
        .layer(DefaultBodyLimit::max(s.max_llm_bytes))
        .route("/v1/models", get(h::models))
        .route("/v1/{*rest}", any(h::no_route));
    let mut app = Router::new()
        .merge(llm)
        .route("/healthz", get(h::healthz))
        .route("/metrics", get(h::metrics))
        .route("/api/usage", get(h::usage))
        .route("/api/cache", delete(h::clear_cache))
        .route("/api/envs", get(h::list_envs))
        .route("/api/envs/{id}", get(h::get_env))
        .route(
            "/api/checkpoints",
            get(h::list_checkpoints)
                .post(h::upload_checkpoint)
                .layer(DefaultBodyLimit::max(s.max_checkpoint_bytes)),
        )
        .route(
            "/api/checkpoints/{id}",
            get(h::download_checkpoint).delete(h::delete_checkpoint),
        )
        .route("/api/checkpoints/{id}/meta", get(h::checkpoint_meta))
        .route("/api/leaderboard", get(h::leaderboard))
        .route(
            "/api/episodes",
            post(h::post_episode).layer(DefaultBodyLimit::max(s.max_episode_bytes)),
        )
        .route(
            "/api/episodes/{id}",
            get(h::get_episode).delete(h::delete_episode),
        )
        .route("/e/{id}", get(h::open_episode))
        .route("/api/{*rest}", any(h::no_route))
        .fallback_service(page_files(&s.www))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::origin_guard,
        ));
    if let Some(cors) = guard::cors(&s.allowed_origins) {
        app = app.layer(cors);
    }
    app.layer(middleware::from_fn_with_state(state.clone(), h::track))
        .layer(middleware::from_fn(error::json_errors))
        .layer(middleware::from_fn(guard::security_headers))
        .layer(middleware::from_fn(net::close_if_body_unread))
        .with_state(state)
}

/// The playground's files, compressed with brotli or gzip when the browser takes it (the wasm
/// shrinks about fourfold). Level 5: most of the gain, a few milliseconds per file.
fn page_files(www: &std::path::Path) -> Compression<ServeDir> {
    CompressionLayer::new()
        .br(true)
        .gzip(true)
        .quality(CompressionLevel::Precise(5))
        .layer(ServeDir::new(www).append_index_html_on_directories(true))
}

/// Serve the router of `state` on `listener` (see [`net::serve`]) until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let limits = net::ConnLimits::of(&state.settings);
    let metrics = state.metrics.clone();
    net::serve(listener, router(state), limits, metrics, shutdown).await
}
