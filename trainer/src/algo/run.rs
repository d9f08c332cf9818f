//! The training loop of the algorithms that train PPO over their own environments (When2Ask,
//! skills-rl): their run folder through [`crate::run_folder`] (config.json, metrics.csv with the
//! algorithm's own columns, e.g. LLM calls per episode, TensorBoard events, `latest.ckpt` /
//! `best.ckpt` with the algorithm's name) and the final `eval.json`.

use crate::ppo::{Envs, Ppo, Stats};
use crate::run_folder::{self, Extra, Num, RunLog, Update};
use crate::train::{PickedDevice, TrainArgs, pick_device};
use burn::module::Module;
use burn::tensor::Device;
use gridmentor_core::nn::{ActorCritic, EvalResult, Metadata, NetSpec};
use serde_json::Value;
use std::time::Instant;

/// One algorithm's run, as the shared loop needs it.
pub struct RunSpec<'a> {
    pub args: &'a TrainArgs,
    pub algo: &'static str,
    pub env_id: &'static str,
    pub spec: NetSpec,
    /// Merged into config.json.
    pub config: Value,
    /// Extra metrics.csv columns (TensorBoard tags are `algo/NAME`), read by `extra` each update.
    pub columns: &'static [&'static str],
}

/// Create the run folder (refusing an existing run) and write config.json, with the device the
/// run trains on.
pub fn create_run_folder(run: &RunSpec, device: &PickedDevice) -> anyhow::Result<()> {
    let out = &run.args.out;
    run_folder::refuse_existing(out, false)?;
    let mut config = serde_json::json!({
        "algo": run.algo, "device": device.name, "device_reason": device.reason,
        "env": run.env_id, "net": run.spec.net.name(),
        "obs": run.spec.obs.to_string(), "actions": run.spec.actions, "ppo": run.args.ppo,
        "gridmentor": env!("CARGO_PKG_VERSION"),
    });
    if let (Some(c), Some(extra)) = (config.as_object_mut(), run.config.as_object()) {
        c.extend(extra.clone());
    }
    run_folder::write_config(out, &config)
}

/// Train `envs` with PPO into the run folder; `extra()` gives the values of `run.columns` now,
/// `evaluate` the final evaluation (a JSON object with at least success_rate, mean_return,
/// mean_steps, episodes), written to `eval.json` and returned with the run's totals. PPO trains on
/// `--device`; `evaluate` always gets the network on the CPU (flex), where the algorithms' players
/// (the When2Ask mediator, skills-rl's policy) run.
pub fn train(
    run: &RunSpec,
    envs: &mut dyn Envs,
    extra: &dyn Fn() -> anyhow::Result<Vec<f64>>,
    evaluate: &dyn Fn(&ActorCritic) -> anyhow::Result<Value>,
) -> anyhow::Result<Value> {
    let args = run.args;
    let cfg = &args.ppo;
    let picked = pick_device(args.device)?;
    create_run_folder(run, &picked)?;
    picked.announce();
    let extras = run
        .columns
        .iter()
        .map(|c| Extra::new(c, Some(&format!("{}/{c}", run.algo))))
        .collect();
    let mut log = RunLog::open(&args.out, extras, None)?;

    let mut ppo = Ppo::new(cfg.clone(), run.spec, picked.device.clone().autodiff())?;
    let per_update = (cfg.envs * cfg.steps) as u64;
    let updates = (cfg.frames / per_update).max(1);
    let bar = crate::train::progress_bar(args.quiet, updates * per_update);
    let meta = |ppo: &Ppo, eval: Option<EvalResult>| Metadata {
        spec: run.spec,
        env: run.env_id.into(),
        algorithm: run.algo.into(),
        frames: ppo.frames,
        seed: cfg.seed,
        eval,
    };
    let start = Instant::now();
    let mut failure: Option<anyhow::Error> = None;
    ppo.train(envs, |p, u, s: &Stats| {
        if failure.is_some() {
            return;
        }
        let wall = start.elapsed().as_secs_f64();
        let lr = if cfg.anneal_lr {
            cfg.lr * (1.0 - (u - 1) as f64 / updates as f64)
        } else {
            cfg.lr
        };
        let mut recent = None;
        let result = (|| -> anyhow::Result<()> {
            let values: Vec<Num> = extra()?.into_iter().map(Num::from).collect();
            let update = Update {
                update: u,
                ppo: p,
                stats: s,
                fps: p.frames as f64 / wall,
                wall_seconds: wall,
                learning_rate: lr,
            };
            let r = log.record(&update, &values)?;
            recent = Some(r);
            let latest = u % args.save_every == 0 || u as u64 == updates;
            log.checkpoint(&p.model, &r, latest, || meta(p, None))
        })();
        if let Err(e) = result {
            failure = Some(e);
        }
        bar.set_position(p.frames);
        if let Some(r) = recent {
            bar.set_message(format!(
                "return {:.3} success {:.0}%",
                r.mean,
                100.0 * r.success
            ));
        }
    });
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(e.context(format!("training into {}", args.out.display())));
    }
    let wall = start.elapsed().as_secs_f64();
    let model = ppo.model.valid().to_device(&Device::flex());
    let mut eval = evaluate(&model)?;
    let get = |k: &str| eval[k].as_f64().unwrap_or(0.0) as f32;
    let result = EvalResult {
        episodes: eval["episodes"].as_u64().unwrap_or(0) as u32,
        mean_return: get("mean_return"),
        success_rate: get("success_rate"),
    };
    log.finish(&ppo.model, meta(&ppo, Some(result)))?;
    if let Some(o) = eval.as_object_mut() {
        o.extend(serde_json::Map::from_iter([
            ("env".to_string(), Value::from(run.env_id)),
            ("algo".to_string(), Value::from(run.algo)),
            ("seed".to_string(), Value::from(cfg.seed)),
            ("frames".to_string(), Value::from(ppo.frames)),
            ("seconds".to_string(), Value::from(wall)),
            ("fps".to_string(), Value::from(ppo.frames as f64 / wall)),
            ("device".to_string(), Value::from(picked.name.as_str())),
            (
                "run".to_string(),
                Value::from(args.out.display().to_string()),
            ),
        ]));
    }
    std::fs::write(
        args.out.join("eval.json"),
        serde_json::to_string_pretty(&eval)?,
    )?;
    Ok(eval)
}
