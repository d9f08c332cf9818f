//! PPO on burn: vectorised envs, rollouts, GAE, the clipped update with global-norm gradient
//! clipping. Written once; the LLM-guided algorithms add their term or sampling rule to it.

pub mod clip;
pub mod config;
pub mod resume;
pub mod slot_envs;
pub mod update;
pub mod vec_env;

pub use config::Config;
pub use update::{Envs, Guidance, Guide, Ppo, Stats};
