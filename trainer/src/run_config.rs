//! Where a training run's hyper-parameters come from: the defaults, then `--config file.toml`
//! (or, on `--resume`, the run folder's `config.json`), then the flags given on the command line.

use crate::ppo::Config;
use anyhow::{Context, bail};
use std::path::Path;

/// The ids of the arguments the user typed (not defaults) in `matches`.
pub fn explicit_flags(matches: Option<&clap::ArgMatches>) -> Vec<String> {
    let Some(m) = matches else {
        return Vec::new();
    };
    m.ids()
        .filter(|id| m.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine))
        .map(|id| id.as_str().to_string())
        .collect()
}

/// Parse a TOML file of [`Config`] keys; an unknown key or a bad value is one line naming it.
pub fn from_toml(path: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --config {}", path.display()))?;
    toml::from_str::<Config>(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| format!(" (line {})", text[..s.start].matches('\n').count() + 1))
            .unwrap_or_default();
        let msg = e.message().trim().replace('\n', " ");
        anyhow::anyhow!("--config {}{line}: {msg}", path.display())
    })
}

/// `base` with the fields the user gave as flags taken from `flags`.
pub fn overlay(base: &Config, flags: &Config, explicit: &[String]) -> anyhow::Result<Config> {
    let mut merged = serde_json::to_value(base)?;
    let given = serde_json::to_value(flags)?;
    for id in explicit {
        if let Some(v) = given.get(id) {
            merged[id.as_str()] = v.clone();
        }
    }
    serde_json::from_value(merged).context("merging the flags into the configuration")
}

/// What `--resume` may change: how long to go on and how to run, never what is learnt.
const RESUMABLE: [&str; 3] = ["frames", "eval_episodes", "env_threads"];

/// The configuration of the run in `out` (its `config.json`), with the flags `--resume` allows.
pub fn for_resume(out: &Path, flags: &Config, explicit: &[String]) -> anyhow::Result<Config> {
    let path = out.join("config.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("--resume: reading {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("--resume: {} is not JSON: {e}", path.display()))?;
    let saved: Config = serde_json::from_value(json["ppo"].clone())
        .map_err(|e| anyhow::anyhow!("--resume: {} has no usable \"ppo\": {e}", path.display()))?;
    let fields = serde_json::to_value(flags)?;
    let kept = serde_json::to_value(&saved)?;
    for id in explicit {
        // Repeating the run's own value (the original command with `--resume` added) is fine.
        let changes = fields.get(id).is_some_and(|v| kept.get(id) != Some(v));
        if changes && !RESUMABLE.contains(&id.as_str()) {
            bail!(
                "--resume continues {} with its own settings: --{} cannot change (only --frames, \
                 --eval-episodes, --env-threads can)",
                out.display(),
                if id == "lambda" {
                    "gae-lambda".into()
                } else {
                    id.replace('_', "-")
                }
            );
        }
    }
    overlay(&saved, flags, explicit)
}
