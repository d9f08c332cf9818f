//! The server's settings: flags, `GRIDMENTOR_*` environment variables and an optional TOML file
//! (`--config`), in that order of precedence, resolved once into [`Settings`].

use anyhow::{Context, bail};
use clap::Parser;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// gridmentor's HTTP server: the browser playground, an OpenAI-compatible LLM endpoint (scripted
/// expert, upstream proxy), checkpoints with a leaderboard, and shared episodes.
///
/// Every setting can be given as a flag, as the environment variable named beside it, or as a
/// key of the TOML file given by --config (the flag's name with '_' for '-', e.g.
/// `upstream_url = "http://127.0.0.1:11434/v1"`). Flags win over variables, variables over the
/// file.
#[derive(Parser, Deserialize, Debug, Default, Clone)]
#[command(version, about, long_about)]
#[serde(default, deny_unknown_fields)]
pub struct Args {
    /// TOML file with any of the settings below.
    #[arg(long, env = "GRIDMENTOR_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "GRIDMENTOR_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Folder holding index.html and the wasm package (pkg/) [default: www].
    #[arg(long, env = "GRIDMENTOR_WWW", value_name = "DIR")]
    pub www: Option<PathBuf>,
    /// Data folder: checkpoint files and the SQLite database [default:
    /// $XDG_DATA_HOME/gridmentor or ~/.local/share/gridmentor].
    #[arg(long, env = "GRIDMENTOR_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Metadata database URL: sqlite://PATH or postgres://USER:PASS@HOST/DB [default:
    /// sqlite://DATA/gridmentor.db].
    #[arg(long, env = "GRIDMENTOR_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Token the admin routes need as `Authorization: Bearer TOKEN`: DELETE
    /// /api/checkpoints/{id}, DELETE /api/episodes/{id}, DELETE /api/cache; without one, they
    /// are refused.
    #[arg(
        long,
        env = "GRIDMENTOR_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,

    /// Largest checkpoint upload in bytes; larger ones get 413 [default: 16777216].
    #[arg(long, env = "GRIDMENTOR_MAX_CHECKPOINT_BYTES", value_name = "BYTES")]
    pub max_checkpoint_bytes: Option<usize>,
    /// Largest episode record in bytes [default: 1048576].
    #[arg(long, env = "GRIDMENTOR_MAX_EPISODE_BYTES", value_name = "BYTES")]
    pub max_episode_bytes: Option<usize>,
    /// Largest request body of the LLM endpoint in bytes [default: 4194304].
    #[arg(long, env = "GRIDMENTOR_MAX_LLM_BYTES", value_name = "BYTES")]
    pub max_llm_bytes: Option<usize>,

    /// Base URL of an OpenAI-compatible API (with its /v1), e.g. https://api.openai.com/v1;
    /// models no built-in backend answers go there. None by default.
    #[arg(long, env = "GRIDMENTOR_UPSTREAM_URL", value_name = "URL")]
    pub upstream_url: Option<String>,
    /// Name of the environment variable holding the upstream API key (the key itself is never
    /// a setting, never logged, never returned) [default: OPENAI_API_KEY].
    #[arg(long, env = "GRIDMENTOR_UPSTREAM_KEY_ENV", value_name = "VAR")]
    pub upstream_key_env: Option<String>,
    /// Upstream models listed by /v1/models, comma-separated (any model name is forwarded
    /// anyway).
    #[arg(
        long,
        env = "GRIDMENTOR_UPSTREAM_MODELS",
        value_delimiter = ',',
        value_name = "IDS"
    )]
    pub upstream_models: Option<Vec<String>>,
    /// Seconds one upstream attempt may take (headers and body; for a stream, the longest
    /// silence between chunks) [default: 60].
    #[arg(long, env = "GRIDMENTOR_UPSTREAM_TIMEOUT", value_name = "SECS")]
    pub upstream_timeout: Option<f64>,
    /// Seconds to open a connection to the upstream [default: 10].
    #[arg(long, env = "GRIDMENTOR_UPSTREAM_CONNECT_TIMEOUT", value_name = "SECS")]
    pub upstream_connect_timeout: Option<f64>,
    /// Retries after a 429, a 5xx, a timeout or a failed connection [default: 3].
    #[arg(long, env = "GRIDMENTOR_UPSTREAM_RETRIES", value_name = "N")]
    pub upstream_retries: Option<u32>,
    /// Seconds before the first retry, doubled for each further one [default: 0.5].
    #[arg(long, env = "GRIDMENTOR_UPSTREAM_BACKOFF", value_name = "SECS")]
    pub upstream_backoff: Option<f64>,
    /// Longest wait before a retry, also caps the upstream's Retry-After [default: 20].
    #[arg(long, env = "GRIDMENTOR_UPSTREAM_MAX_BACKOFF", value_name = "SECS")]
    pub upstream_max_backoff: Option<f64>,

    /// LLM requests (chat and score, not the scripted expert) per minute per client address; 0
    /// turns the limit off [default: 120].
    #[arg(long, env = "GRIDMENTOR_RATE_LIMIT", value_name = "PER_MIN")]
    pub rate_limit: Option<u32>,
    /// Requests a client may make at once before the per-minute rate applies [default: 20].
    #[arg(long, env = "GRIDMENTOR_RATE_BURST", value_name = "N")]
    pub rate_burst: Option<u32>,
    /// LLM tokens (prompt + completion, every attempt) allowed per budget period, over all
    /// clients; 0 = unlimited [default: 0].
    #[arg(long, env = "GRIDMENTOR_TOKEN_BUDGET", value_name = "TOKENS")]
    pub token_budget: Option<u64>,
    /// Length of the budget period in seconds [default: 86400].
    #[arg(long, env = "GRIDMENTOR_BUDGET_PERIOD", value_name = "SECS")]
    pub budget_period: Option<u64>,
    /// Completion tokens reserved against the budget for a request without max_tokens
    /// [default: 512].
    #[arg(
        long,
        env = "GRIDMENTOR_BUDGET_DEFAULT_MAX_TOKENS",
        value_name = "TOKENS"
    )]
    pub budget_default_max_tokens: Option<u32>,

    /// Episodes of the held-out evaluation run on every uploaded checkpoint [default: 100].
    #[arg(long, env = "GRIDMENTOR_EVAL_EPISODES", value_name = "N")]
    pub eval_episodes: Option<usize>,
    /// First seed of the held-out evaluation [default: 1000000].
    #[arg(long, env = "GRIDMENTOR_EVAL_SEED", value_name = "SEED")]
    pub eval_seed: Option<u64>,
    /// Episodes (the first of the held-out seeds) on which the leaderboard evaluates the
    /// embedded LLM's planner + skills agent, in the background when the model is idle; each
    /// episode asks the model a few times; 0 = no LLM row [default: 20].
    #[arg(long, env = "GRIDMENTOR_LLM_EVAL_EPISODES", value_name = "N")]
    pub llm_eval_episodes: Option<usize>,

    /// Serve the embedded SmolLM2-135M-Instruct when this build has it (feature `smollm2`) and
    /// its file is found [default: true].
    #[arg(long, env = "GRIDMENTOR_EMBEDDED_LLM", value_name = "BOOL")]
    pub embedded_llm: Option<bool>,
    /// The embedded model's GGUF file [default: $GRIDMENTOR_MODEL, else
    /// ~/.cache/gridmentor/models/SmolLM2-135M-Instruct.Q4_1.gguf, where
    /// scripts/fetch-model.sh puts it].
    #[arg(long, env = "GRIDMENTOR_MODEL_PATH", value_name = "FILE")]
    pub model_path: Option<PathBuf>,
    /// Grounded models (GLAM adapters on the embedded model, `train --algo glam`'s
    /// `latest.glam`) served by name beside it: `NAME=FILE[,NAME=FILE...]`.
    #[arg(long, env = "GRIDMENTOR_GROUNDED", value_name = "NAME=FILE,...")]
    pub grounded: Option<String>,
    /// Requests that may wait for the embedded model (it answers one at a time); more get 503
    /// with Retry-After [default: 16].
    #[arg(long, env = "GRIDMENTOR_LLM_QUEUE", value_name = "N")]
    pub llm_queue: Option<usize>,
    /// Seconds one embedded-model request may take, waiting included: a request still waiting
    /// gets 503, a generation still running ends with what it has [default: 120].
    #[arg(long, env = "GRIDMENTOR_LLM_DEADLINE", value_name = "SECS")]
    pub llm_deadline: Option<f64>,
    /// Largest max_tokens a request to the embedded model may ask for; more gets 400
    /// [default: 1024].
    #[arg(long, env = "GRIDMENTOR_LLM_MAX_TOKENS", value_name = "TOKENS")]
    pub llm_max_tokens: Option<u32>,
    /// Folder of checkpoint files (*.ckpt) added to the store at start, named after their files
    /// (the shipped agents: agents/). Files already stored are skipped.
    #[arg(long, env = "GRIDMENTOR_PRELOAD", value_name = "DIR")]
    pub preload: Option<PathBuf>,

    /// Origins (scheme://host[:port]) besides the server's own whose pages may write: POST,
    /// PUT and DELETE with another `Origin` get 403, and CORS grants only these,
    /// comma-separated. None by default (the playground is same-origin).
    #[arg(
        long,
        env = "GRIDMENTOR_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGINS"
    )]
    pub allowed_origins: Option<Vec<String>>,
    /// Connections served at once; more are answered 503 and closed [default: 512].
    #[arg(long, env = "GRIDMENTOR_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Seconds a client may take to send a request's headers; an idle keep-alive connection is
    /// closed after as long [default: 10].
    #[arg(long, env = "GRIDMENTOR_HEADER_TIMEOUT", value_name = "SECS")]
    pub header_timeout: Option<f64>,
    /// Seconds a client may take to send a request's body (408 after) [default: 60].
    #[arg(long, env = "GRIDMENTOR_BODY_TIMEOUT", value_name = "SECS")]
    pub body_timeout: Option<f64>,

    /// Checkpoints one client address may store; 0 = unlimited [default: 100].
    #[arg(long, env = "GRIDMENTOR_QUOTA_CHECKPOINTS", value_name = "N")]
    pub quota_checkpoints: Option<u64>,
    /// Bytes of checkpoints one client address may store; 0 = unlimited [default: 268435456].
    #[arg(long, env = "GRIDMENTOR_QUOTA_CHECKPOINT_BYTES", value_name = "BYTES")]
    pub quota_checkpoint_bytes: Option<u64>,
    /// Episode records one client address may store; 0 = unlimited [default: 10000].
    #[arg(long, env = "GRIDMENTOR_QUOTA_EPISODES", value_name = "N")]
    pub quota_episodes: Option<u64>,
    /// Bytes of episode records one client address may store; 0 = unlimited [default:
    /// 67108864].
    #[arg(long, env = "GRIDMENTOR_QUOTA_EPISODE_BYTES", value_name = "BYTES")]
    pub quota_episode_bytes: Option<u64>,
    /// Checkpoint evaluations waiting or running at most, a quarter of them per client; an
    /// upload beyond gets 429 with Retry-After and is not stored [default: 64].
    #[arg(long, env = "GRIDMENTOR_EVAL_QUEUE", value_name = "N")]
    pub eval_queue: Option<usize>,
    /// Entries of the LLM response cache at most, the oldest evicted first; 0 = unlimited
    /// [default: 100000].
    #[arg(long, env = "GRIDMENTOR_CACHE_MAX_ENTRIES", value_name = "N")]
    pub cache_max_entries: Option<u64>,
    /// Bytes of the LLM response cache at most, the oldest entries evicted first; 0 = unlimited
    /// [default: 268435456].
    #[arg(long, env = "GRIDMENTOR_CACHE_MAX_BYTES", value_name = "BYTES")]
    pub cache_max_bytes: Option<u64>,
}

/// A secret that never shows in `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// How the upstream is called.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// Base URL without a trailing slash, e.g. `https://api.openai.com/v1`.
    pub url: String,
    pub key_env: String,
    /// Read from `key_env` at start.
    pub key: Option<Secret>,
    pub models: Vec<String>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
}

/// Every setting, resolved.
#[derive(Clone, Debug)]
pub struct Settings {
    pub addr: SocketAddr,
    pub www: PathBuf,
    pub data: PathBuf,
    pub database_url: String,
    pub admin_token: Option<Secret>,
    pub max_checkpoint_bytes: usize,
    pub max_episode_bytes: usize,
    pub max_llm_bytes: usize,
    pub upstream: Option<Upstream>,
    /// Requests per minute per client; 0 = off.
    pub rate_limit: u32,
    pub rate_burst: u32,
    /// Tokens per period; 0 = unlimited.
    pub token_budget: u64,
    pub budget_period: Duration,
    pub budget_default_max_tokens: u32,
    pub eval_episodes: usize,
    pub eval_seed: u64,
    /// Held-out episodes of the leaderboard's LLM planner row (at most `eval_episodes`; 0: none).
    pub llm_eval_episodes: usize,
    pub embedded_llm: bool,
    pub model_path: Option<PathBuf>,
    /// Grounded models by name: (name, checkpoint file).
    pub grounded: Vec<(String, PathBuf)>,
    /// How the embedded model is shared between clients.
    pub llm_fairness: crate::llm::local::Fairness,
    pub preload: Option<PathBuf>,
    /// Normalised as browsers send them (`http://host:8080`, `https://host`).
    pub allowed_origins: Vec<String>,
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub quotas: Quotas,
    pub eval_queue: usize,
    pub cache_max_entries: u64,
    pub cache_max_bytes: u64,
}

/// What one client address may store; 0 = unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quotas {
    pub checkpoints: u64,
    pub checkpoint_bytes: u64,
    pub episodes: u64,
    pub episode_bytes: u64,
}

/// An origin as browsers send it in `Origin`: lowercase `scheme://host` with the port only when
/// it is not the scheme's default; `None` when `text` is not an http(s) origin.
pub fn normalise_origin(text: &str) -> Option<String> {
    let (scheme, rest) = text.trim().trim_end_matches('/').split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let (host, port) = split_host_port(rest)?;
    let port = port.unwrap_or(default);
    Some(if port == default {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}:{port}")
    })
}

/// `host[:port]` (an IPv6 host in brackets) as a lowercase host and the port if given; `None`
/// when it is not one.
pub fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    let name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let ip6 = |c: char| c.is_ascii_hexdigit() || matches!(c, ':' | '.');
        if h.is_empty() || !h.chars().all(ip6) {
            return None;
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{h}]"), port)
    } else {
        let (h, p) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        if h.is_empty() || !h.chars().all(name) {
            return None;
        }
        (h.to_string(), p)
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
    };
    Some((host.to_ascii_lowercase(), port))
}

fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("gridmentor");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".local/share/gridmentor")
}

fn secs(name: &str, v: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("{name} must be a positive number of seconds, not {v}"))
}

/// A sqlite:// URL for a file (created when missing).
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

impl Args {
    /// Fill what flags and variables left unset from the TOML file named by `--config`.
    pub fn with_file(self) -> anyhow::Result<Args> {
        let Some(path) = self.config.clone() else {
            return Ok(self);
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        let file: Args =
            toml::from_str(&text).with_context(|| format!("config file {}", path.display()))?;
        Ok(self.or(file))
    }

    fn or(self, file: Args) -> Args {
        macro_rules! pick {
            ($($f:ident),*) => { Args { config: self.config, $($f: self.$f.or(file.$f)),* } };
        }
        pick!(
            addr,
            www,
            data,
            database_url,
            admin_token,
            max_checkpoint_bytes,
            max_episode_bytes,
            max_llm_bytes,
            upstream_url,
            upstream_key_env,
            upstream_models,
            upstream_timeout,
            upstream_connect_timeout,
            upstream_retries,
            upstream_backoff,
            upstream_max_backoff,
            rate_limit,
            rate_burst,
            token_budget,
            budget_period,
            budget_default_max_tokens,
            eval_episodes,
            eval_seed,
            llm_eval_episodes,
            embedded_llm,
            model_path,
            grounded,
            llm_queue,
            llm_deadline,
            llm_max_tokens,
            preload,
            allowed_origins,
            max_connections,
            header_timeout,
            body_timeout,
            quota_checkpoints,
            quota_checkpoint_bytes,
            quota_episodes,
            quota_episode_bytes,
            eval_queue,
            cache_max_entries,
            cache_max_bytes
        )
    }

    /// Apply the defaults and check the values.
    pub fn resolve(self) -> anyhow::Result<Settings> {
        let data = self.data.unwrap_or_else(default_data_dir);
        let database_url = self
            .database_url
            .unwrap_or_else(|| sqlite_url(&data.join("gridmentor.db")));
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            bail!("--database-url must start with sqlite: or postgres://, not {database_url:?}");
        }
        let upstream = match self.upstream_url {
            None => None,
            Some(url) => {
                let url = url.trim_end_matches('/').to_string();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    bail!("--upstream-url must be an http:// or https:// URL, not {url:?}");
                }
                let key_env = self
                    .upstream_key_env
                    .unwrap_or_else(|| "OPENAI_API_KEY".into());
                let key = std::env::var(&key_env)
                    .ok()
                    .filter(|k| !k.trim().is_empty())
                    .map(|k| Secret(k.trim().to_string()));
                Some(Upstream {
                    url,
                    key_env,
                    key,
                    models: self.upstream_models.unwrap_or_default(),
                    timeout: secs("--upstream-timeout", self.upstream_timeout.unwrap_or(60.0))?,
                    connect_timeout: secs(
                        "--upstream-connect-timeout",
                        self.upstream_connect_timeout.unwrap_or(10.0),
                    )?,
                    retries: self.upstream_retries.unwrap_or(3),
                    backoff: secs("--upstream-backoff", self.upstream_backoff.unwrap_or(0.5))?,
                    max_backoff: secs(
                        "--upstream-max-backoff",
                        self.upstream_max_backoff.unwrap_or(20.0),
                    )?,
                })
            }
        };
        let budget_period = self.budget_period.unwrap_or(86_400);
        if budget_period == 0 {
            bail!("--budget-period must be at least 1 second");
        }
        let eval_episodes = self.eval_episodes.unwrap_or(100);
        if eval_episodes == 0 {
            bail!("--eval-episodes must be at least 1");
        }
        let allowed_origins = self
            .allowed_origins
            .unwrap_or_default()
            .iter()
            .filter(|o| !o.trim().is_empty())
            .map(|o| {
                normalise_origin(o).with_context(|| {
                    format!(
                        "--allowed-origins: {o:?} is not an origin like https://example.com:8443"
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let max_connections = self.max_connections.unwrap_or(512);
        if max_connections == 0 || max_connections > 1 << 20 {
            bail!("--max-connections must be 1 to 1048576");
        }
        Ok(Settings {
            addr: self
                .addr
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            www: self.www.unwrap_or_else(|| PathBuf::from("www")),
            data,
            database_url,
            admin_token: self.admin_token.filter(|t| !t.is_empty()).map(Secret),
            max_checkpoint_bytes: self.max_checkpoint_bytes.unwrap_or(16 << 20),
            max_episode_bytes: self.max_episode_bytes.unwrap_or(1 << 20),
            max_llm_bytes: self.max_llm_bytes.unwrap_or(4 << 20),
            upstream,
            rate_limit: self.rate_limit.unwrap_or(120),
            rate_burst: self.rate_burst.unwrap_or(20).max(1),
            token_budget: self.token_budget.unwrap_or(0),
            budget_period: Duration::from_secs(budget_period),
            budget_default_max_tokens: self.budget_default_max_tokens.unwrap_or(512),
            eval_episodes,
            eval_seed: self.eval_seed.unwrap_or(1_000_000),
            // On the checkpoints' seeds, so never more episodes than they have.
            llm_eval_episodes: self.llm_eval_episodes.unwrap_or(20).min(eval_episodes),
            embedded_llm: self.embedded_llm.unwrap_or(true),
            model_path: self.model_path,
            grounded: parse_grounded(self.grounded.as_deref().unwrap_or(""))?,
            llm_fairness: crate::llm::local::Fairness {
                queue: self.llm_queue.unwrap_or(16),
                deadline: secs("--llm-deadline", self.llm_deadline.unwrap_or(120.0))?,
                max_tokens: self.llm_max_tokens.unwrap_or(1024).max(1),
            },
            preload: self.preload,
            allowed_origins,
            max_connections,
            header_timeout: secs("--header-timeout", self.header_timeout.unwrap_or(10.0))?,
            body_timeout: secs("--body-timeout", self.body_timeout.unwrap_or(60.0))?,
            quotas: Quotas {
                checkpoints: self.quota_checkpoints.unwrap_or(100),
                checkpoint_bytes: self.quota_checkpoint_bytes.unwrap_or(256 << 20),
                episodes: self.quota_episodes.unwrap_or(10_000),
                episode_bytes: self.quota_episode_bytes.unwrap_or(64 << 20),
            },
            eval_queue: self.eval_queue.unwrap_or(64).max(1),
            cache_max_entries: self.cache_max_entries.unwrap_or(100_000),
            cache_max_bytes: self.cache_max_bytes.unwrap_or(256 << 20),
        })
    }
}

impl Settings {
    /// Defaults with everything stored under `data` (for tests and embedding).
    pub fn in_dir(data: &Path) -> Settings {
        Args {
            data: Some(data.to_path_buf()),
            ..Args::default()
        }
        .resolve()
        .expect("the defaults are valid")
    }
}

/// `--grounded NAME=FILE[,NAME=FILE...]`.
fn parse_grounded(s: &str) -> anyhow::Result<Vec<(String, PathBuf)>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| match p.split_once('=') {
            Some((name, file)) if !name.trim().is_empty() && !file.trim().is_empty() => {
                Ok((name.trim().to_string(), PathBuf::from(file.trim())))
            }
            _ => anyhow::bail!("--grounded: {p:?} is not NAME=FILE"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.toml");
        std::fs::write(
            &file,
            "addr = \"127.0.0.1:9000\"\nrate_limit = 7\nupstream_url = \"http://x/v1/\"\n",
        )
        .unwrap();
        let args = Args::try_parse_from([
            "gridmentor-server",
            "--config",
            file.to_str().unwrap(),
            "--rate-limit",
            "9",
        ])
        .unwrap();
        let s = args.with_file().unwrap().resolve().unwrap();
        assert_eq!(s.addr.port(), 9000);
        assert_eq!(s.rate_limit, 9);
        assert_eq!(s.upstream.unwrap().url, "http://x/v1");
        assert_eq!(s.max_checkpoint_bytes, 16 << 20);
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.toml");
        std::fs::write(&file, "adress = \"x\"\n").unwrap();
        let args = Args {
            config: Some(file),
            ..Args::default()
        };
        let e = format!("{:#}", args.with_file().unwrap_err());
        assert!(e.contains("adress"), "{e}");
        let e = Args {
            upstream_url: Some("ftp://x".into()),
            ..Args::default()
        }
        .resolve()
        .unwrap_err();
        assert!(e.to_string().contains("http://"), "{e}");
    }

    #[test]
    fn origins_are_normalised_as_browsers_send_them() {
        let n = |s: &str| normalise_origin(s);
        assert_eq!(
            n("HTTPS://Example.com:443/").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(
            n("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(n("http://[::1]:80").as_deref(), Some("http://[::1]"));
        for bad in [
            "null",
            "ftp://x",
            "http://",
            "http://a b",
            "http://x:99999",
            "http://x:+1",
            "*",
        ] {
            assert_eq!(n(bad), None, "{bad}");
        }
        let s = Args {
            allowed_origins: Some(vec!["https://Tools.example:8443".into()]),
            ..Args::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(s.allowed_origins, ["https://tools.example:8443"]);
        let e = Args {
            allowed_origins: Some(vec!["tools.example".into()]),
            ..Args::default()
        }
        .resolve()
        .unwrap_err();
        assert!(e.to_string().contains("--allowed-origins"), "{e}");
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let s = Secret("sk-very-secret".into());
        assert!(!format!("{s:?}").contains("sk-"));
    }
}
