//! Shared episodes: records read into core's typed [`EpisodeRecord`], checked to exactly what
//! the playground can open, and stored under a short content-derived id.

use crate::AppState;
use crate::checkpoints::{check_storage_quota, sha256_hex};
use crate::error::ApiError;
use crate::store::Table;
use gridmentor_core::episode::EpisodeRecord;

/// The id of a record: the first 16 hex digits of its sha256, so posting the same record twice
/// gives the same link.
pub fn episode_id(body: &[u8]) -> String {
    sha256_hex(body)[..16].to_string()
}

pub fn check_id(id: &str) -> Result<(), ApiError> {
    if id.len() == 16 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{:?} is not an episode id (16 lowercase hex digits)",
            id.chars().take(40).collect::<String>()
        )))
    }
}

/// Read and check a record: 400 when the body is not JSON, 422 with the reason (and where in
/// the record) when the page could not open it. Returns the text to store: the body as sent,
/// or, when its env was an alias, the record written again with the registry id.
pub fn parse(bytes: &[u8]) -> Result<String, ApiError> {
    // Read as JSON first, as the page does (JSON.parse: the last of duplicate keys counts), so
    // that what is not JSON is told apart from a record that breaks the contract.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::unprocessable(
            "an episode record must be a JSON object",
        ));
    }
    let mut record: EpisodeRecord = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::unprocessable(inner.to_string())
        } else {
            ApiError::unprocessable(format!("{path}: {inner}"))
        }
    })?;
    let text =
        std::str::from_utf8(bytes).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    let sent_env = record.env.clone();
    record
        .check()
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    if record.env == sent_env {
        return Ok(text.to_string());
    }
    serde_json::to_string(&record).map_err(|e| ApiError::internal("writing the episode", e))
}

/// Store a record for `client`: `(new, id)`. 429 `quota_exceeded` past the client's quota.
pub async fn store(state: &AppState, body: &str, client: &str) -> Result<(bool, String), ApiError> {
    let id = episode_id(body.as_bytes());
    let db = |e: sqlx::Error| ApiError::internal("storing the episode", e);
    if state.store.episode(&id).await.map_err(db)?.is_some() {
        return Ok((false, id));
    }
    let _quota = state.quota_lock.lock().await;
    check_storage_quota(state, Table::Episodes, client, body.len() as u64).await?;
    let new = state
        .store
        .insert_episode(&id, body, client)
        .await
        .map_err(db)?;
    if new {
        state.metrics.count("episodes_stored");
    }
    Ok((new, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use serde_json::{Value, json};

    fn good() -> Value {
        json!({"v": 1, "env": "SimpleDoorKey", "seed": "42",
               "agents": [{"kind": "checkpoint", "id": "ab".repeat(32)}, {"kind": "planner", "planner": "gridmentor-expert"}],
               "actions": [[2, 2, 1], [0, 0]],
               "transcript": [{"agent": 1, "step": 0, "prompt": "p", "answer": "a", "latency_ms": 1.5}]})
    }

    #[test]
    fn keeps_the_body_as_sent_unless_the_env_is_an_alias() {
        let text = format!("{}\n", serde_json::to_string_pretty(&good()).unwrap());
        assert_eq!(parse(text.as_bytes()).unwrap(), text);
        let mut alias = good();
        alias["env"] = json!("simpledoorkey");
        let stored: Value =
            serde_json::from_str(&parse(alias.to_string().as_bytes()).unwrap()).unwrap();
        assert_eq!(stored["env"], "SimpleDoorKey");
        assert_eq!(stored["seed"], "42");
    }

    #[test]
    fn says_where_a_record_breaks_the_contract() {
        let cases: [(&str, Value, &str); 5] = [
            ("actions", json!([[2, -1], [0]]), "actions[0][1]"),
            ("actions", json!([[2, 1.5], [0]]), "actions[0][1]"),
            (
                "agents",
                json!([{"id": "ab"}, {"kind": "human"}]),
                "agents[0]",
            ),
            (
                "transcript",
                json!([{"agent": 0, "step": 0, "prompt": "p", "answer": "a"}]),
                "latency_ms",
            ),
            ("seed", json!(42), "decimal u64"),
        ];
        for (field, value, want) in cases {
            let mut r = good();
            r[field] = value;
            let e = parse(r.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {e}");
            assert!(e.message.contains(want), "{field}: {}", e.message);
        }
        for bad in [&b"{\"v\": 1, \"env\": "[..], &[0x80; 8], b"[[[", b"{} {}"] {
            assert_eq!(parse(bad).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
        assert_eq!(
            parse(b"[1]").unwrap_err().status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
