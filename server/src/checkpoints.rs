//! Checkpoints: uploads validated by core's loader, stored content-addressed (sha256 of the file)
//! with atomic writes, listed from the database, and evaluated in the background on a fixed
//! held-out seed set so that the leaderboard compares like with like.

use crate::AppState;
use crate::error::ApiError;
use crate::store::{Table, now_ms, rfc3339, write_atomic};
use axum::http::StatusCode;
use gridmentor_core::nn::Checkpoint;

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One upload of a given file at a time: the others wait, then find it stored (so that many
/// concurrent uploads of one new file validate and write it once).
#[derive(Default)]
pub struct UploadLocks {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

pub struct UploadGuard<'a> {
    locks: &'a UploadLocks,
    id: String,
    mutex: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl UploadLocks {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn lock(&self, id: &str) -> UploadGuard<'_> {
        let mutex = self.map().entry(id.to_string()).or_default().clone();
        let guard = mutex.clone().lock_owned().await;
        UploadGuard {
            locks: self,
            id: id.to_string(),
            mutex,
            guard: Some(guard),
        }
    }

    /// Files being uploaded now.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for UploadGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.map();
        // The map's reference and ours: nobody else waits for this file.
        if map
            .get(&self.id)
            .is_some_and(|m| Arc::strong_count(m) == 2 && Arc::ptr_eq(m, &self.mutex))
        {
            map.remove(&self.id);
        }
    }
}

pub use crate::store::{Entry, EvalState};

pub use gridmentor_core::digest::sha256_hex;

/// A checkpoint id is the 64 lowercase hex digits of a sha256 (core's rule, as share links and
/// episode records read it).
pub fn check_id(id: &str) -> Result<(), ApiError> {
    if gridmentor_core::agent_ref::checkpoint_id_from_hex(id).is_ok() {
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

/// Load and check a checkpoint with core's one loader, as every consumer will (the evaluator,
/// the page, `gridmentor eval`): its parser (which bounds the network before building it), a
/// network that can play its env, weights that fit it, and the agent its action space calls for.
fn validate(bytes: &[u8]) -> Result<Checkpoint, String> {
    gridmentor_core::agent::load::load_agent(bytes, "", Default::default())
        .map(|loaded| loaded.checkpoint)
        .map_err(|e| e.to_string())
}

/// Refuse (429) a new checkpoint from `client` of `more` bytes when it would pass the client's
/// storage quota (`quota_exceeded`), or when the evaluation queue is full (`eval_queue_full`,
/// with Retry-After): overall, or the client's share of it (a quarter).
pub async fn check_limits(state: &AppState, client: &str, more: u64) -> Result<(), ApiError> {
    check_storage_quota(state, Table::Checkpoints, client, more).await?;
    let cap = state.settings.eval_queue as u64;
    let share = (cap / 4).max(1);
    let all = state.store.evaluations_waiting(None).await.map_err(db)?;
    let mine = state
        .store
        .evaluations_waiting(Some(client))
        .await
        .map_err(db)?;
    if all >= cap || mine >= share {
        let (n, whose, limit) = if mine >= share {
            (mine, "of this client's checkpoints", share)
        } else {
            (all, "checkpoints", cap)
        };
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "eval_queue_full",
            format!(
                "{n} {whose} wait for their evaluation, the most this server queues ({limit}; \
                 --eval-queue): upload again when they are done"
            ),
        )
        .with_retry_after(30));
    }
    Ok(())
}

/// Refuse (429 `quota_exceeded`, without Retry-After: waiting does not help) `more` bytes from
/// `client` in `table` when its count or bytes there would pass the client's quota.
pub async fn check_storage_quota(
    state: &AppState,
    table: Table,
    client: &str,
    more: u64,
) -> Result<(), ApiError> {
    let q = state.settings.quotas;
    let (count_cap, bytes_cap, what, flag) = match table {
        Table::Checkpoints => (
            q.checkpoints,
            q.checkpoint_bytes,
            "checkpoints",
            "checkpoint",
        ),
        Table::Episodes => (q.episodes, q.episode_bytes, "episodes", "episode"),
    };
    if count_cap == 0 && bytes_cap == 0 {
        return Ok(());
    }
    let has = state.store.stored_by(table, client).await.map_err(db)?;
    let refuse = |message: String| {
        Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "quota_exceeded",
            message,
        ))
    };
    if count_cap > 0 && has.count >= count_cap {
        return refuse(format!(
            "this client has stored {} {what}, the most one client may store \
             (--quota-{what} {count_cap})",
            has.count
        ));
    }
    if bytes_cap > 0 && has.bytes + more > bytes_cap {
        return refuse(format!(
            "this client has stored {} bytes of {what}; {more} more would pass its quota of \
             {bytes_cap} bytes (--quota-{flag}-bytes)",
            has.bytes
        ));
    }
    Ok(())
}

/// Store an uploaded file. `Ok((true, entry))` when it is new, `(false, entry)` when the same
/// file was stored already. `client` is the uploader's address, `None` for the operator's own
/// files (preloaded): those count against no quota and always queue their evaluation.
pub async fn upload(
    state: &Arc<AppState>,
    bytes: axum::body::Bytes,
    name: Option<String>,
    client: Option<&str>,
) -> Result<(bool, Entry), ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::unprocessable("the checkpoint file is empty"));
    }
    if let Some(n) = &name {
        check_name(n)?;
    }
    let id = sha256_hex(&bytes);
    let _one_at_a_time = state.uploads.lock(&id).await;
    let store = &state.store;
    if let Some(e) = store.checkpoint(&id).await.map_err(db)? {
        return Ok((false, e));
    }
    if let Some(c) = client {
        check_limits(state, c, bytes.len() as u64).await?;
    }
    let ck = {
        let _slot = state
            .validations
            .acquire()
            .await
            .map_err(|e| ApiError::internal("checking the checkpoint", e))?;
        let b = bytes.clone();
        tokio::task::spawn_blocking(move || validate(&b))
            .await
            .map_err(|e| ApiError::internal("checking the checkpoint", e))?
            .map_err(ApiError::unprocessable)?
    };
    let m = &ck.meta;
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
        size: bytes.len() as u64,
        uploaded_at: String::new(),
        eval_episodes: state.settings.eval_episodes as u64,
        eval_seed: state.settings.eval_seed.to_string(),
        eval: EvalState::Pending,
        curve_points: m.curve.len() as u64,
        curve: Some(m.curve.clone()),
    };
    // Written and inserted in a task of its own: a client that goes away mid-way cannot leave
    // a file without its entry (the entry is inserted only once the whole file is on disk).
    let task = tokio::spawn(store_new(
        state.clone(),
        bytes,
        entry,
        client.map(str::to_string),
    ));
    task.await
        .map_err(|e| ApiError::internal("storing the checkpoint", e))?
}

/// Write the file, then insert its entry (checking the limits again, as other uploads of the
/// client may have been stored meanwhile), then wake the evaluator.
async fn store_new(
    state: Arc<AppState>,
    bytes: axum::body::Bytes,
    mut entry: Entry,
    client: Option<String>,
) -> Result<(bool, Entry), ApiError> {
    let store = &state.store;
    let id = entry.id.clone();
    let path = store.checkpoint_path(&id);
    let (tmp, file) = (store.tmp_dir.clone(), path.clone());
    tokio::task::spawn_blocking(move || write_atomic(&tmp, &file, &bytes))
        .await
        .map_err(|e| ApiError::internal("writing the checkpoint", e))?
        .map_err(|e| ApiError::internal("writing the checkpoint", e))?;
    let ms = now_ms();
    entry.uploaded_at = rfc3339(ms);
    let inserted = {
        let _quota = state.quota_lock.lock().await;
        if let Some(c) = &client
            && let Err(e) = check_limits(&state, c, entry.size).await
        {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        store
            .insert_checkpoint(&entry, ms, client.as_deref().unwrap_or(""))
            .await
            .map_err(db)?
    };
    if !inserted {
        // Another server sharing the database stored the same file first; its entry stands.
        let e = store
            .checkpoint(&id)
            .await
            .map_err(db)?
            .ok_or_else(|| ApiError::internal("storing the checkpoint", "entry vanished"))?;
        return Ok((false, e));
    }
    state.metrics.count("checkpoint_uploads");
    state.evaluator.notify_one();
    Ok((true, entry))
}

fn db(e: sqlx::Error) -> ApiError {
    ApiError::internal("the checkpoint database", e)
}

/// Play the held-out episodes with the checkpoint's agent (core's loader picks it from the
/// header's action space; a mediator's planner is core's scripted expert), greedy, through
/// core's one evaluation: the figures `gridmentor eval` and the page print for the same seeds.
fn evaluate(path: &std::path::Path, episodes: usize, seed: u64) -> Result<EvalState, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading the file: {e}"))?;
    let loaded = gridmentor_core::agent::load::load_agent(&bytes, "", Default::default())
        .map_err(|e| e.to_string())?;
    let mut agent = loaded.agent;
    let env = &loaded.checkpoint.meta.env;
    let end = seed
        .checked_add(episodes as u64)
        .ok_or("the seed range overflows")?;
    let s =
        gridmentor_core::agent::evaluate(&mut agent, env, seed..end).map_err(|e| e.to_string())?;
    Ok(EvalState::Done {
        success_rate: s.success_rate(),
        mean_return: s.mean_return(),
        mean_steps: s.mean_steps(),
    })
}

/// Where a baseline row's evaluation stands (the JSON's `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineStatus {
    /// Waiting for the background worker (the LLM planner's row, [`crate::planners`]).
    Pending,
    Running,
    Done,
    /// With the reason in `error`.
    Failed,
}

impl BaselineStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineStatus::Pending => "pending",
            BaselineStatus::Running => "running",
            BaselineStatus::Done => "done",
            BaselineStatus::Failed => "failed",
        }
    }
}

/// An agent that needs no checkpoint, on the leaderboard beside the checkpoints: evaluated by
/// core on the same held-out seeds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Baseline {
    /// Core's name for the agent (`planner:when2ask:gridmentor-expert`, `random:1`).
    pub agent: String,
    pub name: String,
    pub episodes: u64,
    pub seed: String,
    /// `done`, or `failed` (with `error`); the LLM planner's row is `pending` or `running`
    /// until the background worker has evaluated it ([`crate::planners`]).
    pub status: BaselineStatus,
    /// Absent (with `error`) when the agent cannot play this env.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_return: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_steps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The baselines of `env` on `episodes` held-out seeds from `seed`: core's scripted expert
/// planner with skills (not an LLM) and uniformly random actions.
pub fn baselines(env: &str, episodes: usize, seed: u64) -> Vec<Baseline> {
    use gridmentor_core::agent::{Agent, PlannerAgent, RandomAgent};
    use gridmentor_core::agent_ref::AgentRef;
    use gridmentor_core::planner::{ExpertPlanner, PromptStyle};
    let expert = AgentRef::Planner {
        planner: "gridmentor-expert".into(),
        style: PromptStyle::When2Ask,
    };
    let mut agents: Vec<(AgentRef, &str, Box<dyn Agent>)> = vec![
        (
            expert,
            "planner + skills, scripted expert (not an LLM)",
            Box::new(PlannerAgent::new(
                ExpertPlanner::new(),
                PromptStyle::When2Ask,
            )),
        ),
        (
            AgentRef::Random { seed: 1 },
            "random actions",
            Box::new(RandomAgent::new(1)),
        ),
    ];
    agents
        .iter_mut()
        .map(|(agent, name, a)| Baseline::evaluate(a.as_mut(), agent, name, env, episodes, seed))
        .collect()
}

impl Baseline {
    /// `player` (named `agent` by core, `name` for people) on `env`'s `episodes` held-out seeds
    /// from `seed`: a `done` row with its figures, or a `failed` one with core's reason.
    pub fn evaluate(
        player: &mut dyn gridmentor_core::agent::Agent,
        agent: &gridmentor_core::agent_ref::AgentRef,
        name: &str,
        env: &str,
        episodes: usize,
        seed: u64,
    ) -> Baseline {
        let mut row = Baseline {
            agent: agent.to_string(),
            name: name.to_string(),
            episodes: episodes as u64,
            seed: seed.to_string(),
            status: BaselineStatus::Done,
            success_rate: None,
            mean_return: None,
            mean_steps: None,
            error: None,
        };
        let end = seed.saturating_add(episodes as u64);
        match gridmentor_core::agent::evaluate(player, env, seed..end) {
            Ok(s) => {
                row.success_rate = Some(s.success_rate());
                row.mean_return = Some(s.mean_return());
                row.mean_steps = Some(s.mean_steps());
            }
            Err(e) => {
                row.status = BaselineStatus::Failed;
                row.error = Some(e.to_string());
            }
        }
        row
    }
}

/// Start the evaluator: one task that evaluates the stored checkpoints still `pending`, oldest
/// upload first, one at a time (they are CPU-bound), waking when an upload is stored. The
/// queue is the database's pending entries, so it costs no memory and survives a restart
/// (evaluations a stopped server left `running` are pending again).
pub async fn start_evaluator(state: &Arc<AppState>) -> anyhow::Result<()> {
    state.store.requeue_running().await?;
    let weak = Arc::downgrade(state);
    let wake = state.evaluator.clone();
    tokio::spawn(async move {
        loop {
            // A weak reference between rounds: the evaluator does not keep a dropped server
            // alive.
            let next = match weak.upgrade() {
                None => return,
                Some(state) => match state.store.next_pending().await {
                    Ok(Some(id)) => {
                        evaluate_stored(&state, &id).await;
                        continue;
                    }
                    Ok(None) => None,
                    Err(e) => Some(e),
                },
            };
            if let Some(e) = next {
                tracing::error!("the evaluator cannot read the queue: {e}");
            }
            // Woken by an upload; a look now and then too (another server may share the
            // database).
            let _ = tokio::time::timeout(Duration::from_secs(10), wake.notified()).await;
        }
    });
    Ok(())
}

/// Evaluate one stored checkpoint and store the result.
async fn evaluate_stored(state: &Arc<AppState>, id: &str) {
    let _one_at_a_time = state.evaluating.lock().await;
    let store = &state.store;
    if let Err(e) = store.set_eval(id, &EvalState::Running).await {
        tracing::error!("checkpoint {id}: cannot mark the evaluation running: {e}");
        tokio::time::sleep(Duration::from_secs(1)).await;
        return;
    }
    let path = store.checkpoint_path(id);
    let (episodes, seed) = (state.settings.eval_episodes, state.settings.eval_seed);
    let result = tokio::task::spawn_blocking(move || evaluate(&path, episodes, seed))
        .await
        .unwrap_or_else(|e| Err(format!("the evaluation crashed: {e}")));
    let state_now = result.unwrap_or_else(EvalState::Failed);
    state
        .metrics
        .count(&format!("evaluations_{}", state_now.status()));
    tracing::info!("checkpoint {id}: evaluation {}", state_now.status());
    if let Err(e) = store.set_eval(id, &state_now).await {
        tracing::error!("checkpoint {id}: cannot store the evaluation: {e}");
    }
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
        match upload(state, bytes.into(), name, None).await {
            Ok((new, _)) => added += new as usize,
            Err(e) => tracing::warn!("preload {}: {}", path.display(), e.message),
        }
    }
    Ok(added)
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
