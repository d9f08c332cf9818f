//! The training algorithms on PPO: plain PPO, When2Ask's mediator, skills-rl, and the
//! teacher-guided LLM4Teach, IHAC and shaping; GLAM's LLM policy, zero-shot or grounded by PPO.

pub mod ask;
pub mod glam;
pub mod guided;
pub mod plain;
pub mod settings;
pub mod skills_rl;
pub mod trainee;
pub mod when2ask;

use crate::ppo::Config;
use gridmentor_core::registry;

pub use gridmentor_core::agent::teacher::{Teacher, TeacherStats};
pub use guided::TeacherTotals;
pub use guided::{Guided, Teaching};
pub use settings::{Algo, AlgoSettings, GuideArgs, GuideRecord, SkillsSettings, When2askSettings};
pub use trainee::{Evaluated, Resumed, Trainee};

/// `algo`'s part of a run of `cfg` (the planner and teacher from `guide`), its envs where
/// `resumed` says. The one place the algorithms are told apart.
pub fn setup(
    algo: Algo,
    cfg: &Config,
    guide: &GuideArgs,
    resumed: Option<&Resumed>,
) -> anyhow::Result<Trainee> {
    let env = registry::find(&cfg.env)?;
    match algo {
        Algo::Ppo => plain::setup(cfg, env, resumed),
        Algo::When2ask => when2ask::setup(cfg, guide, env, resumed),
        Algo::SkillsRl => skills_rl::setup(cfg, env, resumed),
        Algo::Llm4teach => guided::setup(Teaching::Distill, cfg, guide, env, resumed),
        Algo::Ihac => guided::setup(Teaching::Ihac, cfg, guide, env, resumed),
        Algo::Shaping => guided::setup(Teaching::Shaping, cfg, guide, env, resumed),
        // GLAM trains the LLM, not a burn network: `train::run_train` hands it to glam::train.
        Algo::Glam => anyhow::bail!("GLAM trains the LLM itself (glam::train), not a network"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_are_named_alike_on_the_command_line_and_in_config_json() {
        use clap::ValueEnum;
        for algo in Algo::value_variants() {
            let json = serde_json::to_value(algo).unwrap();
            assert_eq!(json, algo.to_string());
            assert_eq!(Algo::from_str(&algo.to_string(), false), Ok(*algo));
        }
        assert_eq!(Algo::SkillsRl.to_string(), "skills-rl");
        assert_eq!(Algo::When2ask.to_string(), "when2ask");
    }
}
