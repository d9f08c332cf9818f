//! gridmentor-trainer: the library behind the `gridmentor` command (planners over HTTP,
//! evaluation, benchmarks).

pub mod algo;
pub mod bench;
pub mod device;
pub mod eval;
pub mod gif;
pub mod llm;
pub mod policy_bench;
pub mod ppo;
pub mod record;
pub mod report;
pub mod run_config;
pub mod run_folder;
pub mod tensorboard;
pub mod train;
