//! gridmentor-trainer: the library behind the `gridmentor` command. Layered bottom up: PPO
//! (`ppo`), the algorithms on it (`algo`), the one run path (`train`), evaluation and the report.

pub mod algo;
pub mod bench;
pub mod checkpoint;
pub mod device;
pub mod eval;
pub mod gif;
pub mod llm;
pub mod metric;
pub mod planner_spec;
pub mod policy_bench;
pub mod ppo;
pub mod record;
pub mod report;
pub mod results;
pub mod run_config;
pub mod run_folder;
pub mod summary;
pub mod tensorboard;
pub mod train;
