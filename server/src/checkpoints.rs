//! Checkpoints: uploads validated by core's loader, stored content-addressed (sha256 of the file)
//! with atomic writes, listed from the database, and evaluated in the background on a fixed
//! held-out seed set so that the leaderboard compares like with like.

use crate::AppState;
use crate::error::ApiError;
use crate::store::{now_ms, rfc3339, write_atomic};
use gridmentor_core::nn::Checkpoint;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Where a checkpoint's held-out evaluation stands.
#[derive(Clone, Debug, PartialEq)]
pub enum EvalState {
    Pending,
    Running,
    Done {
        success_rate: f64,
        mean_return: f64,
        mean_steps: f64,
    },
    Failed(String),
}

impl EvalState {
    pub fn status(&self) -> &'static str {
        match self {
            EvalState::Pending => "pending",
            EvalState::Running => "running",
            EvalState::Done { .. } => "done",
            EvalState::Failed(_) => "failed",
        }
    }
}

/// A stored checkpoint as the API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: String,
    pub name: String,
    pub env: String,
    pub net: String,
    pub obs: String,
    pub actions: u64,
    pub algo: String,
    pub frames: u64,
    pub seed: String,
    pub size: u64,
    pub uploaded_at: String,
    pub eval_episodes: u64,
    pub eval_seed: String,
    pub eval: EvalState,
}

impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl Entry {
    pub fn to_json(&self) -> Value {
        let mut eval = json!({
            "status": self.eval.status(),
            "episodes": self.eval_episodes,
            "seed": self.eval_seed,
        });
        match &self.eval {
            EvalState::Done {
                success_rate,
                mean_return,
                mean_steps,
            } => {
                eval["success_rate"] = json!(success_rate);
                eval["mean_return"] = json!(mean_return);
                eval["mean_steps"] = json!(mean_steps);
            }
            EvalState::Failed(e) => eval["error"] = json!(e),
            _ => {}
        }
        json!({
            "id": self.id, "name": self.name, "env": self.env, "net": self.net, "obs": self.obs,
            "actions": self.actions, "algo": self.algo, "frames": self.frames, "seed": self.seed,
            "size": self.size, "uploaded_at": self.uploaded_at, "eval": eval,
        })
    }
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A checkpoint id is the 64 lowercase hex digits of a sha256.
pub fn check_id(id: &str) -> Result<(), ApiError> {
    if id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{:?} is not a checkpoint id (64 lowercase hex digits)",
            id.chars().take(80).collect::<String>()
        )))
    }
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "name must be 1 to 100 characters without control characters",
        ));
    }
    Ok(())
}

/// Load and check a checkpoint the way every consumer will: core's parser (which bounds the
/// network before building it), a network that can play its env, and weights that fit it.
fn validate(bytes: &[u8]) -> Result<Checkpoint, String> {
    let ck = Checkpoint::from_bytes(bytes).map_err(|e| e.to_string())?;
    ck.check_playable().map_err(|e| e.to_string())?;
    ck.model(&burn::tensor::Device::flex())
        .map_err(|e| e.to_string())?;
    Ok(ck)
}

/// Store an uploaded file. `Ok((true, entry))` when it is new, `(false, entry)` when the same
/// file was stored already.
pub async fn upload(
    state: &Arc<AppState>,
    bytes: axum::body::Bytes,
    name: Option<String>,
) -> Result<(bool, Entry), ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::unprocessable("the checkpoint file is empty"));
    }
    if let Some(n) = &name {
        check_name(n)?;
    }
    let id = sha256_hex(&bytes);
    let store = &state.store;
    if let Some(e) = store.checkpoint(&id).await.map_err(db)? {
        return Ok((false, e));
    }
    let (ck, bytes) = tokio::task::spawn_blocking(move || validate(&bytes).map(|ck| (ck, bytes)))
        .await
        .map_err(|e| ApiError::internal("checking the checkpoint", e))?
        .map_err(ApiError::unprocessable)?;
    let path = store.checkpoint_path(&id);
    let (tmp, file) = (store.tmp_dir.clone(), path.clone());
    tokio::task::spawn_blocking(move || write_atomic(&tmp, &file, &bytes))
        .await
        .map_err(|e| ApiError::internal("writing the checkpoint", e))?
        .map_err(|e| ApiError::internal("writing the checkpoint", e))?;
    let m = &ck.meta;
    let ms = now_ms();
    let entry = Entry {
        name: name.unwrap_or_else(|| format!("{}-{}-{}", m.env, m.algorithm, &id[..8])),
        id: id.clone(),
        env: m.env.clone(),
        net: m.spec.net.name().to_string(),
        obs: m.spec.obs.to_string(),
        actions: m.spec.actions as u64,
        algo: m.algorithm.clone(),
        frames: m.frames,
        seed: m.seed.to_string(),
        size: std::fs::metadata(&path).map_or(0, |md| md.len()),
        uploaded_at: rfc3339(ms),
        eval_episodes: state.settings.eval_episodes as u64,
        eval_seed: state.settings.eval_seed.to_string(),
        eval: EvalState::Pending,
    };
    let inserted = store.insert_checkpoint(&entry, ms).await.map_err(db)?;
    if !inserted {
        // Another upload of the same file won the race; its entry stands.
        let e = store
            .checkpoint(&id)
            .await
            .map_err(db)?
            .ok_or_else(|| ApiError::internal("storing the checkpoint", "entry vanished"))?;
        return Ok((false, e));
    }
    state.metrics.count("checkpoint_uploads");
    spawn_evaluation(state.clone(), id);
    Ok((true, entry))
}

fn db(e: sqlx::Error) -> ApiError {
    ApiError::internal("the checkpoint database", e)
}

/// Play the held-out episodes with the checkpoint's greedy policy.
fn evaluate(path: &std::path::Path, episodes: usize, seed: u64) -> Result<EvalState, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading the file: {e}"))?;
    let ck = Checkpoint::from_bytes(&bytes).map_err(|e| e.to_string())?;
    let model = ck
        .model(&burn::tensor::Device::flex())
        .map_err(|e| e.to_string())?;
    if gridmentor_core::mediator::is_mediator(ck.meta.spec) {
        // A When2Ask mediator decides when the planner + skills agent asks; the scripted expert
        // answers, so the held-out figures are the mediator's alone.
        let r = gridmentor_core::mediator::evaluate(
            &model,
            gridmentor_core::planner::ExpertPlanner::new(),
            gridmentor_core::planner::PromptStyle::When2Ask,
            &ck.meta.env,
            episodes,
            seed,
            true,
        )?;
        return Ok(EvalState::Done {
            success_rate: r.success_rate as f64,
            mean_return: r.mean_return as f64,
            mean_steps: r.mean_steps as f64,
        });
    }
    let r = gridmentor_core::nn::policy::evaluate(&model, &ck.meta.env, episodes, seed, true)?;
    Ok(EvalState::Done {
        success_rate: r.success_rate as f64,
        mean_return: r.mean_return as f64,
        mean_steps: r.mean_steps as f64,
    })
}

/// Evaluate `id` in the background, one evaluation at a time (they are CPU-bound).
pub fn spawn_evaluation(state: Arc<AppState>, id: String) {
    tokio::spawn(async move {
        let _slot = state.eval_slots.acquire().await;
        let store = &state.store;
        if let Err(e) = store.set_eval(&id, &EvalState::Running).await {
            tracing::error!("checkpoint {id}: cannot mark the evaluation running: {e}");
            return;
        }
        let path = store.checkpoint_path(&id);
        let (episodes, seed) = (state.settings.eval_episodes, state.settings.eval_seed);
        let result = tokio::task::spawn_blocking(move || evaluate(&path, episodes, seed))
            .await
            .unwrap_or_else(|e| Err(format!("the evaluation crashed: {e}")));
        let state_now = result.unwrap_or_else(EvalState::Failed);
        state
            .metrics
            .count(&format!("evaluations_{}", state_now.status()));
        tracing::info!("checkpoint {id}: evaluation {}", state_now.status());
        if let Err(e) = store.set_eval(&id, &state_now).await {
            tracing::error!("checkpoint {id}: cannot store the evaluation: {e}");
        }
    });
}

/// Add every `*.ckpt` in `dir` to the store (named after the file), skipping stored ones; a
/// bad file is reported and skipped. Returns how many were new.
pub async fn preload(state: &Arc<AppState>, dir: &std::path::Path) -> anyhow::Result<usize> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("reading the preload folder {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ckpt"))
        .collect();
    files.sort();
    let mut added = 0;
    for path in files {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("preload {}: {e}", path.display());
                continue;
            }
        };
        match upload(state, bytes.into(), name).await {
            Ok((new, _)) => added += new as usize,
            Err(e) => tracing::warn!("preload {}: {}", path.display(), e.message),
        }
    }
    Ok(added)
}

/// Resume evaluations a previous run left unfinished.
pub async fn resume_evaluations(state: &Arc<AppState>) -> anyhow::Result<()> {
    for id in state.store.unfinished_evaluations().await? {
        spawn_evaluation(state.clone(), id);
    }
    Ok(())
}

/// Compare without leaking the length of a matching prefix through timing.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_sha256_hex() {
        let id = sha256_hex(b"abc");
        assert_eq!(
            id,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(check_id(&id).is_ok());
        assert!(check_id("../etc/passwd").is_err());
        assert!(check_id(&id.to_uppercase()).is_err());
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("tok", "tok"));
        assert!(!same_secret("tok", "tok2"));
    }
}
