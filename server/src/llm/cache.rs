//! The response cache's key: a sha256 over the backend, its scope (the upstream URL), the
//! canonical model and every request field that can change the answer, in a canonical JSON
//! form (keys sorted at every depth), so field order and aliases do not matter.

use axum::http::HeaderMap;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

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
