//! The response cache: answers kept in the database under a key, at most so many entries and
//! bytes (the oldest evicted first), the most recent ones also in memory for fast hits.
//!
//! The key is a sha256 over the backend, its scope (the upstream URL), the canonical model and
//! every request field that can change the answer, in a canonical JSON form (keys sorted at
//! every depth), so field order and aliases do not matter.

use axum::http::HeaderMap;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::error::ApiError;
use crate::store::{Store, Stored};
use axum::body::Bytes;

/// Bytes of answers kept in memory besides the database.
pub const MEMORY_BYTES: usize = 16 << 20;

/// The most recently written or read answers, bounded by bytes, oldest dropped first.
#[derive(Default)]
struct Memory {
    map: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
}

impl Memory {
    fn insert(&mut self, key: &str, body: Bytes) {
        if body.len() > MEMORY_BYTES / 16 || self.map.contains_key(key) {
            return;
        }
        self.bytes += body.len();
        self.map.insert(key.to_string(), body);
        self.order.push_back(key.to_string());
        while self.bytes > MEMORY_BYTES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(b) = self.map.remove(&old) {
                self.bytes -= b.len();
            }
        }
    }

    fn clear(&mut self) {
        *self = Memory::default();
    }
}

/// The response cache over the store.
pub struct ResponseCache {
    store: Store,
    /// 0 = unlimited.
    max_entries: u64,
    /// 0 = unlimited.
    max_bytes: u64,
    /// What the database holds, read at start and kept up to date (resynchronised after each
    /// eviction, as another server may share a PostgreSQL database).
    stored: tokio::sync::Mutex<Stored>,
    memory: Mutex<Memory>,
}

impl ResponseCache {
    pub async fn new(
        store: Store,
        max_entries: u64,
        max_bytes: u64,
    ) -> Result<ResponseCache, sqlx::Error> {
        let stored = store.cache_stats().await?;
        let cache = ResponseCache {
            store,
            max_entries,
            max_bytes,
            stored: tokio::sync::Mutex::new(stored),
            memory: Mutex::default(),
        };
        // The caps may have been lowered since the last run.
        cache.evict_if_over().await?;
        Ok(cache)
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The stored answer for `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, sqlx::Error> {
        if let Some(b) = self.memory().map.get(key) {
            return Ok(Some(b.clone()));
        }
        let Some(body) = self.store.cache_get(key).await? else {
            return Ok(None);
        };
        let body = Bytes::from(body);
        self.memory().insert(key, body.clone());
        Ok(Some(body))
    }

    /// Keep `body` under `key` (unless one is there), then evict the oldest entries while the
    /// cache is over a cap. An answer larger than an eighth of the byte cap is not kept.
    pub async fn put(
        &self,
        key: &str,
        backend: &str,
        model: &str,
        body: &str,
    ) -> Result<(), sqlx::Error> {
        let size = body.len() as u64;
        if self.max_bytes > 0 && size > self.max_bytes / 8 {
            return Ok(());
        }
        if !self.store.cache_put(key, backend, model, body).await? {
            return Ok(());
        }
        self.memory()
            .insert(key, Bytes::copy_from_slice(body.as_bytes()));
        {
            let mut s = self.stored.lock().await;
            s.count += 1;
            s.bytes += size;
        }
        self.evict_if_over().await
    }

    fn over(&self, s: &Stored) -> bool {
        (self.max_entries > 0 && s.count > self.max_entries)
            || (self.max_bytes > 0 && s.bytes > self.max_bytes)
    }

    /// Evict the oldest entries down to 90% of the caps (so that not every write evicts).
    async fn evict_if_over(&self) -> Result<(), sqlx::Error> {
        let mut s = self.stored.lock().await;
        if !self.over(&s) {
            return Ok(());
        }
        let entries_goal = self.max_entries - self.max_entries / 10;
        let bytes_goal = self.max_bytes - self.max_bytes / 10;
        loop {
            let by_count = if self.max_entries > 0 {
                s.count.saturating_sub(entries_goal)
            } else {
                0
            };
            let by_bytes = if self.max_bytes > 0 && s.bytes > bytes_goal {
                // Entries of the average size, at least a batch.
                let avg = (s.bytes / s.count.max(1)).max(1);
                ((s.bytes - bytes_goal) / avg).max(16)
            } else {
                0
            };
            let n = by_count.max(by_bytes);
            if n == 0 {
                break;
            }
            let gone = self.store.cache_evict_oldest(n).await?;
            *s = self.store.cache_stats().await?;
            if gone.count == 0 {
                break;
            }
        }
        // Evicted answers are still right; memory keeps its own bound.
        Ok(())
    }

    /// Empty the cache; how many entries the database held.
    pub async fn clear(&self) -> Result<u64, sqlx::Error> {
        let mut s = self.stored.lock().await;
        let n = self.store.cache_clear().await?;
        self.memory().clear();
        *s = Stored::default();
        Ok(n)
    }

    /// Entries in the database.
    pub async fn entries(&self) -> u64 {
        self.stored.lock().await.count
    }
}

/// Request fields that never change the answer (transport and bookkeeping).
const IGNORED: [&str; 6] = [
    "model",
    "stream",
    "stream_options",
    "user",
    "metadata",
    "store",
];

/// How the client wants the cache used (`X-Gridmentor-Cache`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CacheMode {
    /// Deterministic requests only (temperature 0 or a seed).
    Default,
    /// `bypass`: neither read nor write.
    Bypass,
    /// `allow`: cache this request even though it samples.
    Allow,
}

pub const HEADER: &str = "x-gridmentor-cache";

impl CacheMode {
    pub fn from_headers(h: &HeaderMap) -> Result<CacheMode, ApiError> {
        match h
            .get(HEADER)
            .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        {
            None => Ok(CacheMode::Default),
            Some(v) if v == "bypass" || v == "no-cache" => Ok(CacheMode::Bypass),
            Some(v) if v == "allow" => Ok(CacheMode::Allow),
            Some(v) if v.is_empty() || v == "default" => Ok(CacheMode::Default),
            Some(v) => Err(ApiError::bad_request(format!(
                "X-Gridmentor-Cache must be bypass or allow, not {v:?}"
            ))),
        }
    }
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        // Numbers: 0 and 0.0 mean the same temperature.
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (_, Some(u), _) => out.push_str(&u.to_string()),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => {
                out.push_str(&(f as i64).to_string())
            }
            _ => out.push_str(&n.to_string()),
        },
        other => out.push_str(&other.to_string()),
    }
}

/// The key of a request of `kind` (`chat`, `score`) to `backend`.
pub fn key(
    kind: &str,
    backend: &str,
    scope: &str,
    model: &str,
    raw: &Map<String, Value>,
) -> String {
    let mut fields = raw.clone();
    for f in IGNORED {
        fields.remove(f);
    }
    // `max_tokens` and `max_completion_tokens` are one setting.
    if let Some(v) = fields.remove("max_completion_tokens") {
        fields.insert("max_tokens".into(), v);
    }
    let mut text = String::new();
    canonical(&Value::Object(fields), &mut text);
    let mut h = Sha256::new();
    for part in [kind, backend, scope, model, &text] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn k(v: Value) -> String {
        key(
            "chat",
            "upstream",
            "http://u/v1",
            "m",
            v.as_object().unwrap(),
        )
    }

    #[test]
    fn order_transport_fields_and_number_forms_do_not_matter() {
        let a = k(
            json!({"messages": [{"role": "user", "content": "hi"}], "temperature": 0, "stream": true}),
        );
        let b = k(
            json!({"temperature": 0.0, "user": "x", "messages": [{"content": "hi", "role": "user"}]}),
        );
        assert_eq!(a, b);
    }

    #[test]
    fn answer_fields_backend_scope_and_model_do() {
        let base = json!({"messages": [{"role": "user", "content": "hi"}], "temperature": 0});
        let a = k(base.clone());
        for (f, v) in [
            ("temperature", json!(0.5)),
            ("max_tokens", json!(5)),
            ("stop", json!(["x"])),
            ("seed", json!(1)),
            ("n", json!(2)),
            ("top_p", json!(0.5)),
            ("messages", json!([{"role": "user", "content": "ho"}])),
        ] {
            let mut b = base.clone();
            b[f] = v;
            assert_ne!(a, k(b), "{f}");
        }
        let raw = base.as_object().unwrap();
        assert_ne!(a, key("chat", "upstream", "http://other/v1", "m", raw));
        assert_ne!(a, key("chat", "upstream", "http://u/v1", "m2", raw));
        assert_ne!(a, key("score", "upstream", "http://u/v1", "m", raw));
    }

    #[test]
    fn reads_the_header() {
        let mut h = HeaderMap::new();
        assert_eq!(CacheMode::from_headers(&h).unwrap(), CacheMode::Default);
        h.insert(HEADER, "Bypass".parse().unwrap());
        assert_eq!(CacheMode::from_headers(&h).unwrap(), CacheMode::Bypass);
        h.insert(HEADER, "allow".parse().unwrap());
        assert_eq!(CacheMode::from_headers(&h).unwrap(), CacheMode::Allow);
        h.insert(HEADER, "maybe".parse().unwrap());
        assert!(CacheMode::from_headers(&h).is_err());
    }
}
