//! The playground's wasm shell: exposes core's environments, agents, share links and renderer to
//! the page. No game logic here; seeds cross into JavaScript as BigInt (`u64`), never as Number.

pub mod agent;
pub mod session;
pub mod share;

pub use agent::{
    Agent, Decision, EpisodeSummary, Evaluation, TrainingCurve, candidate_probs, glam_action_texts,
    plan_of, retry_wait_ms,
};
pub use session::{Session, StepOutcome};
pub use share::{
    AgentSpec, SharedEpisode, episode_read, episode_record, share_decode, share_encode,
};

use gridmentor_core::registry;
use wasm_bindgen::prelude::*;

/// Every registered env id, in registry order.
#[wasm_bindgen(js_name = envIds)]
pub fn env_ids() -> Vec<String> {
    registry::all().map(|s| s.id.to_string()).collect()
}

/// The action names, by index (left, right, forward, pickup, drop, toggle, done).
#[wasm_bindgen(js_name = actionNames)]
pub fn action_names() -> Vec<String> {
    gridmentor_core::world::Action::ALL
        .iter()
        .map(|a| a.name().to_string())
        .collect()
}

/// `core::digest::rollout_digest`, for checking wasm against native from the page or tests.
#[wasm_bindgen(js_name = rolloutDigest)]
pub fn rollout_digest(name: &str, seed: u64, action_seed: u64, steps: u32) -> Result<u64, JsError> {
    gridmentor_core::digest::rollout_digest(name, seed, action_seed, steps)
        .map_err(|e| JsError::new(&e.to_string()))
}

/// The sha256 of `bytes` in lowercase hex: a checkpoint's id, as the server names it (core's).
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(bytes: &[u8]) -> String {
    gridmentor_core::digest::sha256_hex(bytes)
}
