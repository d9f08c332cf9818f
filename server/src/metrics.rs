//! Counters behind `/api/usage` (JSON) and `/metrics` (Prometheus text format 0.0.4), kept in
//! memory since the server started.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// What one backend and model has cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ModelUsage {
    pub requests: u64,
    pub cache_hits: u64,
    pub errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// A per-model counter: its name, its help text, how to read it.
type UsageField = (&'static str, &'static str, fn(&ModelUsage) -> u64);

#[derive(Default)]
struct Inner {
    counters: BTreeMap<String, u64>,
    models: BTreeMap<(String, String), ModelUsage>,
    /// (route, status) -> (count, seconds)
    http: BTreeMap<(String, u16), (u64, f64)>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Add one to a named counter (`rate_limited`, `upstream_retries`...).
    pub fn count(&self, name: &str) {
        self.with(|m| *m.counters.entry(name.to_string()).or_default() += 1);
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.with(|m| m.counters.get(name).copied().unwrap_or(0))
    }

    /// Record one LLM request.
    pub fn llm(&self, backend: &str, model: &str, f: impl FnOnce(&mut ModelUsage)) {
        self.with(|m| {
            f(m.models
                .entry((backend.to_string(), model.to_string()))
                .or_default())
        });
    }

    pub fn usage(&self) -> Vec<(String, String, ModelUsage)> {
        self.with(|m| {
            m.models
                .iter()
                .map(|((b, n), u)| (b.clone(), n.clone(), *u))
                .collect()
        })
    }

    pub fn http(&self, route: &str, status: u16, took: Duration) {
        self.with(|m| {
            let e = m.http.entry((route.to_string(), status)).or_default();
            e.0 += 1;
            e.1 += took.as_secs_f64();
        });
    }

    /// The Prometheus exposition; `gauges` are added as they are (name, help, value).
    pub fn prometheus(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        self.with(|m| {
            out.push_str("# HELP gridmentor_http_requests_total HTTP requests by route and status.\n# TYPE gridmentor_http_requests_total counter\n");
            for ((route, status), (n, _)) in &m.http {
                let _ = writeln!(
                    out,
                    "gridmentor_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
            out.push_str("# HELP gridmentor_http_request_seconds_total Time spent answering, by route and status.\n# TYPE gridmentor_http_request_seconds_total counter\n");
            for ((route, status), (_, s)) in &m.http {
                let _ = writeln!(
                    out,
                    "gridmentor_http_request_seconds_total{{route=\"{}\",status=\"{status}\"}} {s}",
                    escape(route)
                );
            }
            let fields: [UsageField; 5] = [
                ("llm_requests_total", "LLM requests", |u| u.requests),
                ("llm_cache_hits_total", "LLM requests answered from the cache", |u| {
                    u.cache_hits
                }),
                ("llm_errors_total", "LLM requests that failed", |u| u.errors),
                ("llm_prompt_tokens_total", "Prompt tokens", |u| {
                    u.prompt_tokens
                }),
                ("llm_completion_tokens_total", "Completion tokens", |u| {
                    u.completion_tokens
                }),
            ];
            for (name, help, get) in fields {
                let _ = writeln!(
                    out,
                    "# HELP gridmentor_{name} {help}, by backend and model.\n# TYPE gridmentor_{name} counter"
                );
                for ((b, model), u) in &m.models {
                    let _ = writeln!(
                        out,
                        "gridmentor_{name}{{backend=\"{}\",model=\"{}\"}} {}",
                        escape(b),
                        escape(model),
                        get(u)
                    );
                }
            }
            for (name, n) in &m.counters {
                let _ = writeln!(
                    out,
                    "# TYPE gridmentor_{name}_total counter\ngridmentor_{name}_total {n}"
                );
            }
        });
        for (name, help, v) in gauges {
            let _ = writeln!(
                out,
                "# HELP gridmentor_{name} {help}\n# TYPE gridmentor_{name} gauge\ngridmentor_{name} {v}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.count("rate_limited");
        m.llm("upstream", "gpt\"x", |u| {
            u.requests += 2;
            u.prompt_tokens += 10;
        });
        m.http("/v1/models", 200, Duration::from_millis(5));
        let t = m.prometheus(&[("budget_tokens_used", "Tokens used.", 3.0)]);
        assert!(t.contains("gridmentor_rate_limited_total 1\n"), "{t}");
        assert!(t.contains(
            "gridmentor_llm_requests_total{backend=\"upstream\",model=\"gpt\\\"x\"} 2\n"
        ));
        assert!(
            t.contains("gridmentor_http_requests_total{route=\"/v1/models\",status=\"200\"} 1")
        );
        assert!(t.contains("gridmentor_budget_tokens_used 3\n"));
    }
}
