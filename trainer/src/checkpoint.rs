//! Checkpoint files: read one for an env (and the algorithm that trained it), with one clear error
//! for a missing, damaged or foreign file; write one so that a crash never leaves half of it.

use anyhow::Context;
use burn::module::Module;
use burn::tensor::Device;
use gridmentor_core::agent::load::{AgentOptions, LoadedAgent};
use gridmentor_core::nn::{ActorCritic, Checkpoint, Metadata};
use std::path::Path;

/// A checkpoint read from a file, its network on the CPU (flex), where every player runs.
pub struct Loaded {
    pub model: ActorCritic,
    /// The sha256 of its weights (what names it on the leaderboard).
    pub sha256: String,
}

/// Read the checkpoint at `path`, trained on `env` (and, when given, by `algorithm`).
pub fn load(path: &Path, env: &str, algorithm: Option<&str>) -> anyhow::Result<Loaded> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading checkpoint {}", path.display()))?;
    let ck = Checkpoint::from_bytes(&bytes)
        .with_context(|| format!("loading checkpoint {}", path.display()))?;
    ck.expect_env(env)
        .with_context(|| format!("checkpoint {}", path.display()))?;
    if let Some(algorithm) = algorithm {
        anyhow::ensure!(
            ck.meta.algorithm == algorithm,
            "checkpoint {} was trained by {:?}, not {algorithm}",
            path.display(),
            ck.meta.algorithm
        );
    }
    let model = ck
        .model(&Device::flex())
        .with_context(|| format!("checkpoint {}", path.display()))?;
    Ok(Loaded {
        model,
        sha256: ck.weights_sha256(),
    })
}

/// The agent of the checkpoint at `path` (core's loader: the header's action space picks it),
/// trained on `env`, and the sha256 of its weights.
pub fn load_agent(
    path: &Path,
    env: &str,
    options: AgentOptions,
) -> anyhow::Result<(LoadedAgent, String)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading checkpoint {}", path.display()))?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let loaded = gridmentor_core::agent::load::load_agent(&bytes, &name, options)
        .with_context(|| format!("loading checkpoint {}", path.display()))?;
    loaded
        .checkpoint
        .expect_env(env)
        .with_context(|| format!("checkpoint {}", path.display()))?;
    let sha = loaded.checkpoint.weights_sha256();
    Ok((loaded, sha))
}

/// Write a checkpoint of `model` to `path`, through a temporary file and a rename.
pub fn save(path: &Path, model: &ActorCritic, meta: Metadata) -> anyhow::Result<()> {
    let ck = Checkpoint::from_model(&model.valid(), meta)?;
    let tmp = path.with_extension("ckpt.tmp");
    std::fs::write(&tmp, ck.to_bytes()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}
