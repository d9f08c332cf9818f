//! The trainer state beside `latest.ckpt` (`latest.state`): everything `--resume` needs to go on
//! exactly as if the run had not stopped: the weights (a whole checkpoint), Adam's moments (a
//! burnpack optimizer record), the update counter, frames, episode statistics, the sampling RNG
//! and where every env stands. One file, written then renamed, so it is never half-written and
//! never disagrees with itself.

use crate::ppo::Ppo;
use crate::ppo::vec_env::Snapshot;
use anyhow::{Context, bail};
use burn::module::Module;
use burn::optim::AdamConfig;
use burn::tensor::Bytes;
use gridmentor_core::nn::{Checkpoint, Metadata};
use gridmentor_core::rng::Rng;
use std::collections::VecDeque;
use std::path::Path;

const MAGIC: &[u8; 8] = b"GMSTATE1";

/// The small part of the state, as JSON.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
pub struct Header {
    pub update: usize,
    pub frames: u64,
    pub episodes: u64,
    /// The sum of every finished episode's return (absent in states written before it was kept).
    #[serde(default)]
    pub return_total: Option<f64>,
    pub recent: Vec<(f32, u32)>,
    pub rng: [u64; 4],
    /// The best mean return seen (what `best.ckpt` holds), if any.
    pub best: Option<f32>,
    pub envs: Snapshot,
    /// The algorithm's own counters (LLM calls, options run...), as it wrote them.
    #[serde(default)]
    pub counters: serde_json::Value,
}

/// A loaded `latest.state`.
pub struct State {
    pub header: Header,
    pub checkpoint: Checkpoint,
    optim: Vec<u8>,
}

fn section(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Write `ppo`'s state to `path` (atomically: a temporary file renamed over it), with the
/// algorithm's `counters`.
pub fn save(
    path: &Path,
    ppo: &Ppo,
    meta: Metadata,
    best: Option<f32>,
    counters: serde_json::Value,
) -> anyhow::Result<()> {
    let header = Header {
        update: ppo.update,
        frames: ppo.frames,
        episodes: ppo.episodes,
        return_total: ppo.return_total,
        recent: ppo.recent.iter().copied().collect(),
        rng: ppo.rng.state(),
        best,
        envs: ppo
            .env_snapshot
            .clone()
            .context("no env snapshot: save the state after an update")?,
        counters,
    };
    let ck = Checkpoint::from_model(&ppo.model.valid(), meta)?;
    let optim = ppo
        .optim
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("recording the optimizer: {e}"))?;
    let mut out = MAGIC.to_vec();
    section(&mut out, &serde_json::to_vec(&header)?);
    section(&mut out, &ck.to_bytes());
    section(&mut out, &optim);
    let tmp = path.with_extension("state.tmp");
    std::fs::write(&tmp, &out).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Read a state written by [`save`]; a missing, foreign or damaged file is a clear error.
pub fn load(path: &Path) -> anyhow::Result<State> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bad =
        |why: &str| anyhow::anyhow!("{} is not a usable trainer state: {why}", path.display());
    let Some(mut rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
        return Err(bad("it does not start with GMSTATE1"));
    };
    let mut take = || -> anyhow::Result<&[u8]> {
        if rest.len() < 8 {
            return Err(bad("truncated"));
        }
        let (len, tail) = rest.split_at(8);
        let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
        if len > tail.len() as u64 {
            return Err(bad("truncated"));
        }
        let (section, tail) = tail.split_at(len as usize);
        rest = tail;
        Ok(section)
    };
    let header: Header =
        serde_json::from_slice(take()?).map_err(|e| bad(&format!("its header: {e}")))?;
    let checkpoint =
        Checkpoint::from_bytes(take()?).map_err(|e| bad(&format!("its weights: {e}")))?;
    let optim = take()?.to_vec();
    if !rest.is_empty() {
        bail!(bad("trailing bytes"));
    }
    Ok(State {
        header,
        checkpoint,
        optim,
    })
}

impl Ppo {
    /// Continue from `state`: weights, optimizer moments, counters, RNG. The weights load onto
    /// this run's device; burn loads Adam's moments onto `Device::default()` and moves them to
    /// each parameter's device at the first step (the `gridmentor` binary keeps that default on
    /// flex in a wgpu build, see main.rs).
    pub fn restore(&mut self, state: &State) -> anyhow::Result<()> {
        let h = &state.header;
        state
            .checkpoint
            .expect(self.model.spec().obs, self.model.spec().actions)?;
        anyhow::ensure!(
            state.checkpoint.meta.spec == self.model.spec(),
            "the saved state holds another network ({:?})",
            state.checkpoint.meta.spec
        );
        self.model = state.checkpoint.model(&self.device)?;
        let fresh = AdamConfig::new().with_epsilon(self.cfg.adam_eps).init();
        let optim = std::mem::replace(&mut self.optim, fresh);
        self.optim = optim
            .from_bytes(Bytes::from_bytes_vec(state.optim.clone()))
            .map_err(|e| anyhow::anyhow!("the saved optimizer state: {e}"))?;
        self.update = h.update;
        self.frames = h.frames;
        self.episodes = h.episodes;
        self.return_total = h.return_total;
        self.recent = h.recent.iter().copied().collect::<VecDeque<_>>();
        self.rng = Rng::from_state(h.rng);
        self.env_snapshot = Some(h.envs.clone());
        Ok(())
    }
}
