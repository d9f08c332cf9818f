//! The OpenAI-compatible HTTP planner: core's prompts sent to `POST {base}/v1/chat/completions`
//! (the project's server, vLLM, llama.cpp, Ollama, OpenAI...), with timeouts and bounded retries.

use anyhow::{Context, bail};
use gridmentor_core::planner::retry::{RetryPolicy, retry_after, retryable_status};
use gridmentor_core::planner::{
    Completion, Planner, PlannerError, PlannerInfo, PlannerKind, Prompt, Ranking, Scorer, Scores,
    Usage, candidate_answers, rank,
};
use serde_json::{Value, json};
use std::fmt;
use std::time::{Duration, Instant};

/// How the HTTP planner talks to its endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpSettings {
    /// Whole-request timeout, body included.
    pub timeout: Duration,
    /// Retries after a 429, a 5xx, a timeout or a failed connection (not after other errors).
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Longest wait before a retry, whether from the backoff or from the server's `Retry-After`.
    pub max_wait: Duration,
    pub temperature: f32,
    pub max_tokens: u32,
    /// Sent only when set; not every server honours it.
    pub seed: Option<u64>,
    /// Environment variable holding the API key, sent as `Authorization: Bearer`.
    pub api_key_env: String,
    /// Plan by scoring when the endpoint can (`POST /v1/score`, as the project's server offers
    /// for its embedded LLM): the valid plans for the observation ranked by likelihood, one call
    /// an ask, always a usable answer. The first ask tries it; an endpoint that refuses gets
    /// generated answers from then on.
    pub score_plans: bool,
    /// How scored plans are ranked (core's rule; per token by default).
    pub ranking: Ranking,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout: Duration::from_secs(30),
            max_retries: 3,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(20),
            temperature: 0.0,
            max_tokens: 128,
            seed: None,
            api_key_env: String::from("OPENAI_API_KEY"),
            score_plans: true,
            ranking: Ranking::default(),
        }
    }
}

/// A [`Planner`] over an OpenAI-compatible chat-completions endpoint.
pub struct HttpPlanner {
    base: String,
    endpoint: String,
    model: String,
    settings: HttpSettings,
    api_key: Option<String>,
    agent: ureq::Agent,
    /// Whether the endpoint scores plans: unknown until the first ask tries.
    scores: Option<bool>,
}

// By hand, so that the API key never reaches a log through `{:?}`.
impl fmt::Debug for HttpPlanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpPlanner")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("settings", &self.settings)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl HttpPlanner {
    /// A planner from a spec `BASE_URL#MODEL`, e.g. `http://127.0.0.1:8080/v1#gridmentor-expert`,
    /// with default settings.
    pub fn from_spec(spec: &str) -> anyhow::Result<HttpPlanner> {
        HttpPlanner::from_spec_with(spec, HttpSettings::default())
    }

    pub fn from_spec_with(spec: &str, settings: HttpSettings) -> anyhow::Result<HttpPlanner> {
        let (base, model) = spec.split_once('#').with_context(|| {
            format!("planner spec {spec:?} names no model: write it as BASE_URL#MODEL, e.g. http://127.0.0.1:8080/v1#gridmentor-expert")
        })?;
        HttpPlanner::new(base, model, settings)
            .with_context(|| format!("bad planner spec {spec:?}"))
    }

    /// A planner for `model` at `base_url`, which may end in `/v1` or not. The API key is read
    /// now from `settings.api_key_env` (absent or empty: no `Authorization` header).
    pub fn new(base_url: &str, model: &str, settings: HttpSettings) -> anyhow::Result<HttpPlanner> {
        let model = model.trim();
        if model.is_empty() {
            bail!("no model name after '#'");
        }
        let base = normalize_base(base_url)?;
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(settings.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("gridmentor/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let api_key = std::env::var(&settings.api_key_env)
            .ok()
            .filter(|k| !k.trim().is_empty());
        Ok(HttpPlanner {
            endpoint: format!("{base}/v1/chat/completions"),
            base,
            model: model.to_string(),
            settings,
            api_key,
            agent,
            scores: None,
        })
    }

    /// Use this API key instead of the one from the environment.
    pub fn with_api_key(mut self, key: impl Into<String>) -> HttpPlanner {
        self.api_key = Some(key.into()).filter(|k| !k.trim().is_empty());
        self
    }

    /// The URL every request is posted to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    fn request_body(&self, prompt: &Prompt, n: u32) -> Value {
        let messages: Vec<Value> = prompt
            .messages
            .iter()
            .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "n": n,
            "max_tokens": self.settings.max_tokens,
        });
        if let Some(seed) = self.settings.seed {
            body["seed"] = json!(seed);
        }
        body
    }

    /// One POST, retried on 429, 5xx, timeouts and failed connections.
    fn post(&self, body: &str) -> Result<Reply, PlannerError> {
        self.post_to(&self.endpoint, body)
    }

    fn post_to(&self, url: &str, body: &str) -> Result<Reply, PlannerError> {
        let attempts = self.settings.max_retries + 1;
        for attempt in 0..attempts {
            let wait = match self.try_post(url, body) {
                Attempt::Done(reply) => return Ok(reply),
                Attempt::Fail(msg) => return Err(self.error(msg)),
                Attempt::Retry { msg, retry_after } => {
                    let policy = RetryPolicy {
                        retries: self.settings.max_retries,
                        backoff: self.settings.backoff,
                        max_wait: self.settings.max_wait,
                    };
                    let Some(wait) = policy.wait(attempt, retry_after) else {
                        let tries = if attempts == 1 {
                            String::from("no retries")
                        } else {
                            format!("gave up after {attempts} attempts")
                        };
                        return Err(self.error(format!("{msg} ({tries})")));
                    };
                    wait
                }
            };
            std::thread::sleep(wait);
        }
        unreachable!("the last attempt returns")
    }

    fn try_post(&self, url: &str, body: &str) -> Attempt {
        let mut request = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
        if let Some(key) = &self.api_key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = match request.send(body) {
            Ok(r) => r,
            Err(e) => return self.transport_error(url, e),
        };
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let cached = header("x-cache").is_some_and(|v| v.eq_ignore_ascii_case("hit"));
        let retry_after = retry_after(header("retry-after-ms"), header("retry-after"));
        let text = match response.body_mut().read_to_string() {
            Ok(t) => t,
            Err(e) => return self.transport_error(url, e),
        };
        if status.is_success() {
            return match serde_json::from_str::<Value>(&text) {
                Ok(json) => Attempt::Done(Reply { json, cached }),
                Err(e) => Attempt::Fail(format!(
                    "malformed JSON body from {url} ({e}): {}",
                    snippet(&text)
                )),
            };
        }
        let reason = status.canonical_reason().unwrap_or("");
        let mut msg = format!("HTTP {} {reason} from {url}", status.as_u16());
        if let Some(detail) = server_message(&text) {
            msg.push_str(": ");
            msg.push_str(&detail);
        }
        if retryable_status(status.as_u16()) {
            Attempt::Retry { msg, retry_after }
        } else {
            Attempt::Fail(msg)
        }
    }

    fn transport_error(&self, url: &str, e: ureq::Error) -> Attempt {
        let timeout = self.settings.timeout.as_secs_f64();
        match e {
            ureq::Error::Timeout(_) => Attempt::Retry {
                msg: format!("timed out after {timeout}s waiting for {url}"),
                retry_after: None,
            },
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Attempt::Retry {
                msg: format!("timed out after {timeout}s waiting for {url}"),
                retry_after: None,
            },
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                Attempt::Retry {
                    msg: format!("connection refused to {url}"),
                    retry_after: None,
                }
            }
            ureq::Error::Io(io) => Attempt::Retry {
                msg: format!("connection to {url} failed: {io}"),
                retry_after: None,
            },
            ureq::Error::ConnectionFailed => Attempt::Retry {
                msg: format!("connection to {url} failed"),
                retry_after: None,
            },
            ureq::Error::HostNotFound => Attempt::Fail(format!("host not found for {url}")),
            other => Attempt::Fail(format!("request to {url} failed: {other}")),
        }
    }

    /// An error, with the API key masked should the server have echoed it.
    fn error(&self, msg: String) -> PlannerError {
        match &self.api_key {
            Some(key) if key.len() >= 4 => {
                PlannerError::Failed(msg.replace(key.as_str(), "<api key>"))
            }
            _ => PlannerError::Failed(msg),
        }
    }
}

impl HttpPlanner {
    /// The log-likelihood and token count of each candidate as the assistant's reply to
    /// `prompt`, from the server's scoring endpoint (`POST /v1/score`, docs/api.md; same
    /// retries and timeouts as completions), and whether the server's cache answered.
    pub fn score(
        &self,
        prompt: &Prompt,
        candidates: &[&str],
    ) -> Result<(Scores, bool), PlannerError> {
        let start = Instant::now();
        let url = format!("{}/v1/score", self.base);
        let body = self.score_body(prompt, candidates);
        let reply = self.post_to(&url, &body.to_string())?;
        let mut scores = self.read_scores(&reply.json, &url, candidates)?;
        scores.latency_ms = start.elapsed().as_secs_f64() * 1e3;
        Ok((scores, reply.cached))
    }

    fn score_body(&self, prompt: &Prompt, candidates: &[&str]) -> Value {
        let messages: Vec<Value> = prompt
            .messages
            .iter()
            .map(|m| json!({"role": m.role.as_str(), "content": m.content}))
            .collect();
        json!({"model": self.model, "messages": messages, "candidates": candidates})
    }

    fn read_scores(
        &self,
        json: &Value,
        url: &str,
        candidates: &[&str],
    ) -> Result<Scores, PlannerError> {
        let bad = |why: &str| self.error(format!("{why} in the response from {url}"));
        let scores = json["scores"]
            .as_array()
            .ok_or_else(|| bad("no \"scores\" list"))?;
        let mut logprobs = vec![f64::NAN; candidates.len()];
        let mut counts = vec![0u32; candidates.len()];
        for (i, s) in scores.iter().enumerate() {
            let lp = s["logprob"]
                .as_f64()
                .ok_or_else(|| bad("a score without a numeric \"logprob\""))?;
            // Matched by text when the server names the candidate, else by position.
            let at = s["candidate"]
                .as_str()
                .and_then(|c| candidates.iter().position(|&k| k == c))
                .unwrap_or(i);
            if at < logprobs.len() {
                logprobs[at] = lp;
                counts[at] = s["tokens"].as_u64().unwrap_or(0) as u32;
            }
        }
        if logprobs.iter().any(|l| l.is_nan()) {
            return Err(bad(&format!(
                "{} scores for {} candidates",
                scores.len(),
                candidates.len()
            )));
        }
        let tokens = |k: &str| json["usage"][k].as_u64().unwrap_or(0) as u32;
        Ok(Scores {
            logprobs,
            // 0 when the server does not say: core's per-token rule counts that as one token.
            tokens: counts,
            usage: Usage {
                prompt_tokens: tokens("prompt_tokens"),
                completion_tokens: tokens("completion_tokens"),
            },
            latency_ms: 0.0,
        })
    }
}

impl Scorer for HttpPlanner {
    fn score_candidates(
        &mut self,
        prompt: &Prompt,
        candidates: &[&str],
    ) -> Result<Scores, PlannerError> {
        self.score(prompt, candidates).map(|(s, _)| s)
    }
}

impl Planner for HttpPlanner {
    fn info(&self) -> PlannerInfo {
        PlannerInfo {
            name: format!("{} at {}/v1", self.model, self.base),
            kind: PlannerKind::Http,
        }
    }

    /// `samples` answers; servers that ignore `n` are asked again for the rest, at most
    /// `samples` requests in all (each must bring at least one choice).
    fn complete(&mut self, prompt: &Prompt, samples: u32) -> Result<Completion, PlannerError> {
        if self.settings.score_plans && self.scores != Some(false) {
            match self.score_plans(prompt) {
                Ok(c) => {
                    self.scores = Some(true);
                    return Ok(c);
                }
                Err(e) if self.scores.is_none() => {
                    eprintln!(
                        "planner {}: plans by generating ({} cannot score: {e})",
                        self.model, self.base
                    );
                    self.scores = Some(false);
                }
                Err(e) => return Err(e),
            }
        }
        let start = Instant::now();
        let mut answers = Vec::with_capacity(samples as usize);
        let mut usage = Usage::default();
        let mut cached = true;
        while answers.len() < samples as usize {
            let missing = samples - answers.len() as u32;
            let body = self.request_body(prompt, missing).to_string();
            let reply = self.post(&body)?;
            let (got, used) = read_completion(&reply.json)
                .map_err(|e| self.error(format!("{e} in the response from {}", self.endpoint)))?;
            usage.prompt_tokens += used.prompt_tokens;
            usage.completion_tokens += used.completion_tokens;
            cached &= reply.cached;
            answers.extend(got.into_iter().take(missing as usize));
        }
        Ok(Completion {
            answers,
            usage,
            latency_ms: start.elapsed().as_secs_f64() * 1e3,
            cached: cached && samples > 0,
            probs: Vec::new(),
        })
    }
}

impl HttpPlanner {
    /// Core's candidate plans for the prompt's observation, ranked by core's rule
    /// ([`rank`], as `ScoringPlanner` ranks) from `/v1/score`'s scores.
    fn score_plans(&mut self, prompt: &Prompt) -> Result<Completion, PlannerError> {
        let texts = candidate_answers(prompt);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (scores, cached) = self.score(prompt, &refs)?;
        let mut c = rank(texts, &scores, self.settings.ranking, 1.0)
            .map_err(|e| self.error(e.to_string()))?;
        c.cached = cached;
        Ok(c)
    }
}

struct Reply {
    json: Value,
    cached: bool,
}

enum Attempt {
    Done(Reply),
    Retry {
        msg: String,
        retry_after: Option<Duration>,
    },
    Fail(String),
}

/// `http[s]://host[:port][/prefix]` without a trailing `/`, `/v1` or `/v1/chat/completions`.
fn normalize_base(url: &str) -> anyhow::Result<String> {
    let url = url.trim();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .with_context(|| format!("base URL {url:?} must start with http:// or https://"))?;
    if rest.split('/').next().is_none_or(str::is_empty) {
        bail!("base URL {url:?} has no host");
    }
    let mut base = url.trim_end_matches('/');
    base = base.strip_suffix("/chat/completions").unwrap_or(base);
    base = base.strip_suffix("/v1").unwrap_or(base);
    Ok(base.trim_end_matches('/').to_string())
}

/// The error text of a failed response: OpenAI's `{"error":{"message"}}`, or the other shapes
/// compatible servers use (`{"error":"..."}`, `{"detail":"..."}`), or the start of the body.
fn server_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let Ok(json) = serde_json::from_str::<Value>(body) else {
        return Some(snippet(body));
    };
    let text = [
        &json["error"]["message"],
        &json["error"],
        &json["message"],
        &json["detail"],
    ]
    .into_iter()
    .find_map(|v| v.as_str())
    .map_or_else(|| snippet(body), snippet);
    Some(text)
}

/// The first 200 characters of a body, for error messages.
fn snippet(text: &str) -> String {
    let text = text.trim();
    let mut s: String = text.chars().take(200).collect();
    if s.len() < text.len() {
        s.push_str("...");
    }
    s
}

/// Answers (`choices[].message.content`) and token counts (0 when `usage` is absent).
fn read_completion(json: &Value) -> Result<(Vec<String>, Usage), String> {
    let choices = json["choices"]
        .as_array()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| String::from("no choices"))?;
    let answers = choices
        .iter()
        .map(|c| match &c["message"]["content"] {
            Value::String(s) => Ok(s.clone()),
            // Some servers send a null content with an empty answer.
            Value::Null if c["message"].is_object() => Ok(String::new()),
            _ => Err(String::from("a choice without message.content")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tokens = |name: &str| {
        json["usage"][name]
            .as_u64()
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let usage = Usage {
        prompt_tokens: tokens("prompt_tokens"),
        completion_tokens: tokens("completion_tokens"),
    };
    Ok((answers, usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_with_or_without_v1_posts_to_one_v1() {
        for spec in [
            "http://127.0.0.1:8080/v1#gridmentor-expert",
            "http://127.0.0.1:8080/v1/#gridmentor-expert",
            "http://127.0.0.1:8080#gridmentor-expert",
            "http://127.0.0.1:8080/#gridmentor-expert",
            "http://127.0.0.1:8080/v1/chat/completions#gridmentor-expert",
        ] {
            let p = HttpPlanner::from_spec(spec).unwrap();
            assert_eq!(
                p.endpoint(),
                "http://127.0.0.1:8080/v1/chat/completions",
                "{spec}"
            );
            assert_eq!(p.model(), "gridmentor-expert");
        }
        let p = HttpPlanner::from_spec("https://api.openai.com/v1#gpt-4o-mini").unwrap();
        assert_eq!(p.endpoint(), "https://api.openai.com/v1/chat/completions");
        let p = HttpPlanner::from_spec("http://host/proxy/openai#m").unwrap();
        assert_eq!(p.endpoint(), "http://host/proxy/openai/v1/chat/completions");
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |s: &str| format!("{:#}", HttpPlanner::from_spec(s).unwrap_err());
        assert!(err("http://127.0.0.1:8080/v1").contains("names no model"));
        assert!(err("http://127.0.0.1:8080/v1#").contains("no model name"));
        assert!(err("ftp://example.com#m").contains("must start with http:// or https://"));
        assert!(err("127.0.0.1:8080#m").contains("must start with http:// or https://"));
        assert!(err("http:///v1#m").contains("no host"));
    }

    #[test]
    fn server_messages_in_their_usual_shapes() {
        let m = |b: &str| server_message(b);
        assert_eq!(
            m(r#"{"error":{"message":"bad model"}}"#).unwrap(),
            "bad model"
        );
        assert_eq!(
            m(r#"{"error":"model not found"}"#).unwrap(),
            "model not found"
        );
        assert_eq!(m(r#"{"detail":"Not Found"}"#).unwrap(), "Not Found");
        assert_eq!(m("<html>oops</html>").unwrap(), "<html>oops</html>");
        assert_eq!(m(""), None);
    }

    #[test]
    fn completions_without_usage_count_zero_tokens() {
        let json = json!({"choices": [{"message": {"content": "explore"}}]});
        let (answers, usage) = read_completion(&json).unwrap();
        assert_eq!(answers, ["explore"]);
        assert_eq!(usage, Usage::default());
        assert_eq!(
            read_completion(&json!({"choices": []})).unwrap_err(),
            "no choices"
        );
        assert_eq!(
            read_completion(&json!({"id": "x"})).unwrap_err(),
            "no choices"
        );
    }

    #[test]
    fn debug_hides_the_api_key() {
        let p = HttpPlanner::from_spec("http://127.0.0.1:1/v1#m")
            .unwrap()
            .with_api_key("sk-very-secret");
        assert!(!format!("{p:?}").contains("sk-very-secret"));
    }
}
