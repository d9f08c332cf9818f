//! The run folder of the algorithms that train PPO over their own environments: config.json,
//! metrics.csv (the RL metrics, the rolling success rate and the algorithm's own columns, e.g.
//! LLM calls per episode), TensorBoard events, `latest.ckpt` / `best.ckpt` with the algorithm's
//! name, and the final `eval.json`.

use crate::ppo::{Envs, Ppo, Stats};
use crate::tensorboard::EventWriter;
use crate::train::{TrainArgs, pick_device};
use anyhow::{Context, bail};
use burn::module::Module;
use gridmentor_core::nn::{ActorCritic, Checkpoint, EvalResult, Metadata, NetSpec};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
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

fn save(path: &Path, model: &ActorCritic, meta: Metadata) -> anyhow::Result<()> {
    let ck = Checkpoint::from_model(&model.valid(), meta)?;
    let tmp = path.with_extension("ckpt.tmp");
    std::fs::write(&tmp, ck.to_bytes()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Create the run folder (refusing an existing run) and write config.json.
pub fn create_run_folder(run: &RunSpec) -> anyhow::Result<()> {
    let out = &run.args.out;
    if out.join("config.json").exists() {
        bail!(
            "{} already holds a run; choose another --out",
            out.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut config = serde_json::json!({
        "algo": run.algo, "device": "cpu (flex)", "env": run.env_id, "net": run.spec.net.name(),
        "obs": run.spec.obs.to_string(), "actions": run.spec.actions, "ppo": run.args.ppo,
        "gridmentor": env!("CARGO_PKG_VERSION"),
    });
    if let (Some(c), Some(extra)) = (config.as_object_mut(), run.config.as_object()) {
        c.extend(extra.clone());
    }
    std::fs::write(
        out.join("config.json"),
        serde_json::to_string_pretty(&config)?,
    )?;
    Ok(())
}

/// Train `envs` with PPO into the run folder; `extra()` gives the values of `run.columns` now,
/// `evaluate` the final evaluation (a JSON object with at least success_rate, mean_return,
/// mean_steps, episodes), written to `eval.json` and returned with the run's totals.
pub fn train(
    run: &RunSpec,
    envs: &mut dyn Envs,
    extra: &dyn Fn() -> anyhow::Result<Vec<f64>>,
    evaluate: &dyn Fn(&ActorCritic) -> anyhow::Result<Value>,
) -> anyhow::Result<Value> {
    let args = run.args;
    let cfg = &args.ppo;
    let (device, device_name) = pick_device(args.device)?;
    create_run_folder(run)?;
    let mut header = String::from(
        "update,frames,fps,episodes,return_mean,length_mean,success_rate,wall_seconds",
    );
    for c in run.columns {
        header.push(',');
        header.push_str(c);
    }
    header.push_str(
        ",policy_loss,value_loss,entropy,approx_kl,clipfrac,explained_variance,grad_norm,learning_rate",
    );
    let mut csv = std::io::BufWriter::new(std::fs::File::create(args.out.join("metrics.csv"))?);
    writeln!(csv, "{header}")?;
    let mut tb = EventWriter::create(&args.out).context("creating the TensorBoard event file")?;

    let mut ppo = Ppo::new(cfg.clone(), run.spec, device.autodiff())?;
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
    let mut best = f32::NEG_INFINITY;
    let mut failure: Option<anyhow::Error> = None;
    ppo.train(envs, |p, u, s: &Stats| {
        if failure.is_some() {
            return;
        }
        let step = p.frames as i64;
        let wall = start.elapsed().as_secs_f64();
        let fps = p.frames as f64 / wall;
        let n = p.recent.len().max(1) as f32;
        let mean = p.recent.iter().map(|r| r.0).sum::<f32>() / n;
        let len = p.recent.iter().map(|r| r.1 as f32).sum::<f32>() / n;
        let success = p.recent.iter().filter(|r| r.0 > 0.0).count() as f32 / n;
        let lr = if cfg.anneal_lr {
            cfg.lr * (1.0 - (u - 1) as f64 / updates as f64)
        } else {
            cfg.lr
        };
        let result = (|| -> anyhow::Result<()> {
            let values = extra()?;
            let mut line = format!(
                "{u},{},{fps:.0},{},{mean},{len},{success},{wall:.3}",
                p.frames, p.episodes
            );
            for v in &values {
                line.push_str(&format!(",{v}"));
            }
            line.push_str(&format!(
                ",{},{},{},{},{},{},{},{lr}",
                s.policy_loss,
                s.value_loss,
                s.entropy,
                s.approx_kl,
                s.clipfrac,
                s.explained_variance,
                s.grad_norm
            ));
            writeln!(csv, "{line}")?;
            if !p.recent.is_empty() {
                tb.add_scalar("charts/episodic_return", mean, step)?;
                tb.add_scalar("charts/episodic_length", len, step)?;
                tb.add_scalar("charts/success_rate", success, step)?;
            }
            for (c, v) in run.columns.iter().zip(&values) {
                tb.add_scalar(&format!("{}/{c}", run.algo), *v as f32, step)?;
            }
            for (tag, v) in [
                ("charts/learning_rate", lr as f32),
                ("charts/SPS", fps as f32),
                ("losses/policy_loss", s.policy_loss),
                ("losses/value_loss", s.value_loss),
                ("losses/entropy", s.entropy),
                ("losses/approx_kl", s.approx_kl),
                ("losses/clipfrac", s.clipfrac),
                ("losses/explained_variance", s.explained_variance),
                ("losses/grad_norm", s.grad_norm),
            ] {
                tb.add_scalar(tag, v, step)?;
            }
            if u % args.save_every == 0 || u as u64 == updates {
                save(&args.out.join("latest.ckpt"), &p.model, meta(p, None))?;
                csv.flush()?;
                tb.flush()?;
            }
            if p.recent.len() >= 10 && mean > best {
                best = mean;
                save(&args.out.join("best.ckpt"), &p.model, meta(p, None))?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            failure = Some(e);
        }
        bar.set_position(p.frames);
        bar.set_message(format!("return {mean:.3} success {:.0}%", 100.0 * success));
    });
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(e.context(format!("training into {}", args.out.display())));
    }
    csv.flush()?;
    tb.flush()?;
    let wall = start.elapsed().as_secs_f64();
    let model = ppo.model.valid();
    let mut eval = evaluate(&model)?;
    let get = |k: &str| eval[k].as_f64().unwrap_or(0.0) as f32;
    let result = EvalResult {
        episodes: eval["episodes"].as_u64().unwrap_or(0) as u32,
        mean_return: get("mean_return"),
        success_rate: get("success_rate"),
    };
    save(
        &args.out.join("latest.ckpt"),
        &ppo.model,
        meta(&ppo, Some(result)),
    )?;
    if !args.out.join("best.ckpt").exists() {
        std::fs::copy(args.out.join("latest.ckpt"), args.out.join("best.ckpt"))?;
    }
    if let Some(o) = eval.as_object_mut() {
        o.extend(serde_json::Map::from_iter([
            ("env".to_string(), Value::from(run.env_id)),
            ("algo".to_string(), Value::from(run.algo)),
            ("seed".to_string(), Value::from(cfg.seed)),
            ("frames".to_string(), Value::from(ppo.frames)),
            ("seconds".to_string(), Value::from(wall)),
            ("fps".to_string(), Value::from(ppo.frames as f64 / wall)),
            ("device".to_string(), Value::from(device_name)),
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
