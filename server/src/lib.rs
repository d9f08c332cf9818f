//! gridmentor-server: the HTTP face of gridmentor. For now it serves the playground's files and
//! the env registry; the LLM endpoint, checkpoints and shared episodes build on this router.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use gridmentor_core::registry;
use serde::Serialize;
use std::path::PathBuf;
use tower_http::services::ServeDir;

/// Server settings that shape the router.
#[derive(Clone, Debug)]
pub struct Config {
    /// Folder with index.html and the wasm package (`pkg/`).
    pub www: PathBuf,
}

#[derive(Serialize)]
struct EnvInfo {
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

/// An error in the shape every JSON API of ours uses: `{"error": {"message", "type", "code"}}`.
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": {"message": self.message, "type": self.kind, "code": self.status.as_u16()}
        });
        (self.status, Json(body)).into_response()
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn list_envs() -> Json<Vec<EnvInfo>> {
    Json(registry::all().map(EnvInfo::of).collect())
}

async fn get_env(Path(id): Path<String>) -> Result<Json<EnvInfo>, ApiError> {
    registry::find(&id)
        .map(|s| Json(EnvInfo::of(s)))
        .map_err(|e| ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "not_found",
            message: e.to_string(),
        })
}

/// The whole HTTP surface.
pub fn router(config: &Config) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/envs", get(list_envs))
        .route("/api/envs/{id}", get(get_env))
        .fallback_service(ServeDir::new(&config.www).append_index_html_on_directories(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn app() -> Router {
        router(&Config {
            www: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../www"),
        })
    }

    async fn get_json(uri: &str) -> (StatusCode, serde_json::Value) {
        let res = app()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn lists_every_registered_env() {
        let (status, v) = get_json("/api/envs").await;
        assert_eq!(status, StatusCode::OK);
        let ids: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), registry::all().count());
        assert!(ids.contains(&"MiniGrid-DoorKey-5x5-v0"));
    }

    #[tokio::test]
    async fn unknown_env_is_a_json_404() {
        let (status, v) = get_json("/api/envs/NoSuchEnv").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("NoSuchEnv")
        );
        let (status, v) = get_json("/api/envs/doorkey-5x5").await;
        assert_eq!(status, StatusCode::OK, "aliases are case-insensitive");
        assert_eq!(v["id"], "MiniGrid-DoorKey-5x5-v0");
    }

    #[tokio::test]
    async fn serves_the_playground_page() {
        let res = app()
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&bytes).contains("gridmentor"));
    }
}
