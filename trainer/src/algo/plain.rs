//! `train --algo ppo`: PPO alone on the env's own actions, the network the settings choose.

use super::settings::AlgoSettings;
use super::trainee::{Evaluated, Resumed, Trainee};
use crate::ppo::Config;
use crate::ppo::vec_env::VecEnv;
use crate::summary::Totals;
use gridmentor_core::EnvSpec;
use gridmentor_core::agent::evaluate;
use gridmentor_core::nn::PolicyAgent;

/// PPO alone: `cfg.envs` copies of the env (on `cfg.env_threads` threads), the network `cfg`
/// chooses, evaluated acting as it trained (sampling).
pub fn setup(
    cfg: &Config,
    env: &'static EnvSpec,
    resumed: Option<&Resumed>,
) -> anyhow::Result<Trainee> {
    let spec = cfg.net_spec(env)?;
    let envs = match resumed {
        Some(r) => VecEnv::restore(
            env.id,
            spec.obs,
            cfg.envs,
            cfg.seed,
            cfg.env_threads,
            r.envs,
        )?,
        None => VecEnv::new(env.id, spec.obs, cfg.envs, cfg.seed, cfg.env_threads)?,
    };
    let id = env.id;
    Ok(Trainee {
        spec,
        envs: Box::new(envs),
        guide: None,
        teacher: None,
        settings: AlgoSettings::default(),
        metrics: Box::new(|_| Ok(Vec::new())),
        counters: Box::new(|| serde_json::Value::Null),
        evaluate: Box::new(move |model, episodes, seed| {
            let mut agent =
                PolicyAgent::new(model.clone(), seed, false).map_err(anyhow::Error::msg)?;
            let s = evaluate(&mut agent, id, seed..seed + episodes as u64)
                .map_err(|e| anyhow::anyhow!("evaluating on {id}: {e}"))?;
            Ok(Evaluated {
                agent: "checkpoint",
                planner: "none".into(),
                greedy: false,
                totals: Totals::of(&s, false, false),
                by_kind: s.by_kind(),
            })
        }),
    })
}
