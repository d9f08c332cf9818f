//! `gridmentor train`: PPO with a run folder (config.json, metrics.csv, TensorBoard events,
//! checkpoints `latest.ckpt` and `best.ckpt`) and a progress bar.

use crate::ppo::resume as ppo_resume;
use crate::ppo::vec_env::VecEnv;
use crate::ppo::{Config, Ppo, Stats};
use crate::tensorboard::EventWriter;
use anyhow::{Context, bail};
use burn::module::Module;
use burn::tensor::Device;
use gridmentor_core::nn::{ActorCritic, Checkpoint, EvalResult, Evaluation, Metadata, policy};
use gridmentor_core::registry;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the networks run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum DeviceChoice {
    /// wgpu when this build has it and a real GPU adapter exists, else the CPU.
    Auto,
    /// burn's flex backend on the CPU.
    Cpu,
    /// burn's wgpu backend (needs a build with the `wgpu` feature).
    Wgpu,
}

/// Arguments of `gridmentor train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// The training algorithm.
    #[arg(long, default_value = "ppo")]
    pub algo: String,
    /// Run folder (created; an existing run folder is refused rather than overwritten).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Write `latest.ckpt` every this many updates (and at the end).
    #[arg(long, default_value_t = 10)]
    pub save_every: usize,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Continue the run in --out from its `latest.state` (weights, Adam moments, counters, RNG,
    /// envs) with its own config.json; --frames may extend it.
    #[arg(long)]
    pub resume: bool,
    /// Hyper-parameters from a TOML file (keys: the fields of config.json's "ppo"); flags given
    /// on the command line override it.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// The argument ids given on the command line (filled by main; what overrides --config).
    #[arg(skip)]
    pub explicit: Vec<String>,
    #[command(flatten)]
    pub ppo: Config,
    /// The teacher of `llm4teach`, `ihac` and `shaping`.
    #[command(flatten)]
    pub guide: crate::algo::GuideArgs,
}

/// Pick the device; a software wgpu adapter is slower than flex, so `auto` means flex unless a
/// wgpu build finds real hardware.
pub fn pick_device(choice: DeviceChoice) -> anyhow::Result<(Device, &'static str)> {
    match choice {
        DeviceChoice::Auto | DeviceChoice::Cpu => Ok((Device::flex(), "cpu (flex)")),
        DeviceChoice::Wgpu => bail!(
            "this gridmentor was built without wgpu support; rebuild with \
             `cargo build --release -p gridmentor-trainer --features wgpu`, or use --device cpu"
        ),
    }
}

/// Evaluate a policy on `episodes` episodes (seeds from `seed`), greedy or sampled.
pub fn evaluate(
    model: &ActorCritic,
    env_id: &str,
    episodes: usize,
    seed: u64,
    greedy: bool,
) -> anyhow::Result<Evaluation> {
    policy::evaluate(model, env_id, episodes, seed, greedy)
        .map_err(|e| anyhow::anyhow!("evaluating on {env_id}: {e}"))
}

fn save(path: &Path, model: &ActorCritic, meta: Metadata) -> anyhow::Result<()> {
    let ck = Checkpoint::from_model(&model.valid(), meta)?;
    // Write then rename: a crash never leaves a half-written checkpoint.
    let tmp = path.with_extension("ckpt.tmp");
    std::fs::write(&tmp, ck.to_bytes()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

const CSV_HEADER: &str = "update,frames,fps,episodes,return_mean,return_min,return_max,length_mean,\
policy_loss,value_loss,entropy,approx_kl,clipfrac,explained_variance,grad_norm,learning_rate,success_rate";

const GUIDED_CSV_HEADER: &str = ",teacher_coef,guide_coef,logit_bias,align,teacher_ce,\
agreement,llm_calls,cache_hits,cache_misses,tokens,planner_ms,shaping_bonuses";

/// The run's configuration: defaults < `--config` file (or the run's config.json on `--resume`)
/// < flags given on the command line.
fn resolve_config(args: &TrainArgs) -> anyhow::Result<Config> {
    use crate::run_config;
    match (&args.config, args.resume) {
        (Some(_), true) => {
            bail!("--config and --resume do not go together: a resumed run keeps its config.json")
        }
        (None, true) => run_config::for_resume(&args.out, &args.ppo, &args.explicit),
        (Some(file), false) => {
            run_config::overlay(&run_config::from_toml(file)?, &args.ppo, &args.explicit)
        }
        (None, false) => Ok(args.ppo.clone()),
    }
}

/// `metrics.csv`: new, or on resume cut back to the rows the saved state has seen (rows written
/// after the last save are redone by the resumed run).
fn open_metrics(
    out: &Path,
    resumed: Option<&ppo_resume::State>,
    guided: bool,
) -> anyhow::Result<std::fs::File> {
    let path = out.join("metrics.csv");
    let header = if guided {
        format!("{CSV_HEADER}{GUIDED_CSV_HEADER}")
    } else {
        CSV_HEADER.to_string()
    };
    let mut text = match resumed {
        None => format!("{header}\n"),
        Some(state) => {
            let old = std::fs::read_to_string(&path)
                .with_context(|| format!("--resume: reading {}", path.display()))?;
            let mut kept = String::new();
            for (i, line) in old.lines().enumerate() {
                let update = line.split(',').next().and_then(|u| u.parse::<usize>().ok());
                if i == 0 || update.is_some_and(|u| u <= state.header.update) {
                    kept.push_str(line);
                    kept.push('\n');
                }
            }
            kept
        }
    };
    if text.is_empty() {
        text = format!("{header}\n");
    }
    let tmp = path.with_extension("csv.tmp");
    std::fs::write(&tmp, &text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path)?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))
}

/// The frames progress bar every training run shows (hidden with `--quiet`).
pub fn progress_bar(quiet: bool, frames: u64) -> indicatif::ProgressBar {
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(frames)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} frames {per_sec} ETA {eta} {msg}",
        )
        .expect("valid template"),
    );
    bar
}

/// Train and return the final evaluation as JSON.
pub fn run_train(args: &TrainArgs) -> anyhow::Result<serde_json::Value> {
    match args.algo.as_str() {
        "when2ask" => return crate::algo::when2ask::train(args),
        "skills-rl" => return crate::algo::skills_rl::train(args),
        _ => {}
    }
    let algo = crate::algo::Algo::from_name(&args.algo);
    if args.algo != "ppo" && algo.is_none() {
        bail!(
            "unknown --algo {:?}: ppo, when2ask, skills-rl, {}",
            args.algo,
            crate::algo::ALGOS.join(", ")
        );
    }
    if algo.is_some() && args.ppo.env_threads != 0 {
        bail!(
            "--algo {} reads every env on the training thread: use --env-threads 0",
            args.algo
        );
    }
    let resolved = resolve_config(args)?;
    let cfg = &resolved;
    cfg.check()?;
    let env_spec = registry::find(&cfg.env)?;
    if !args.resume && args.out.join("config.json").exists() {
        bail!(
            "{} already holds a run; choose another --out (or --resume it)",
            args.out.display()
        );
    }
    let resumed = if args.resume {
        Some(ppo_resume::load(&args.out.join("latest.state"))?)
    } else {
        None
    };
    let (device, device_name) = pick_device(args.device)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let spec = cfg.net_spec(env_spec)?;
    let mut guided = match algo {
        Some(a) => Some(crate::algo::Guided::new(
            a,
            args.guide.clone(),
            env_spec.id,
        )?),
        None => None,
    };
    let teacher_stats = guided.as_ref().map(|g| g.stats.clone());
    let config = serde_json::json!({
        "guide": guided.as_ref().map(|g| serde_json::json!({
            "args": &g.args, "planner": g.teacher.planner_name(),
        })),
        "algo": args.algo, "device": device_name, "env": env_spec.id, "net": spec.net.name(),
        "obs": spec.obs.to_string(), "ppo": cfg, "gridmentor": env!("CARGO_PKG_VERSION"),
    });
    std::fs::write(
        args.out.join("config.json"),
        serde_json::to_string_pretty(&config)?,
    )?;
    let mut csv =
        std::io::BufWriter::new(open_metrics(&args.out, resumed.as_ref(), guided.is_some())?);
    let mut tb = EventWriter::create(&args.out).context("creating the TensorBoard event file")?;

    let mut ppo = Ppo::new(cfg.clone(), spec, device.autodiff())?;
    let mut best = f32::NEG_INFINITY;
    let mut envs = match &resumed {
        Some(state) => {
            ppo.restore(state)?;
            best = state.header.best.unwrap_or(f32::NEG_INFINITY);
            let snap = &state.header.envs;
            VecEnv::restore(
                env_spec.id,
                spec.obs,
                cfg.envs,
                cfg.seed,
                cfg.env_threads,
                snap,
            )?
        }
        None => VecEnv::new(env_spec.id, spec.obs, cfg.envs, cfg.seed, cfg.env_threads)?,
    };
    let per_update = (cfg.envs * cfg.steps) as u64;
    let updates = (cfg.frames / per_update).max(1);
    let bar = progress_bar(args.quiet, updates * per_update);
    let meta = |ppo: &Ppo, eval: Option<EvalResult>| Metadata {
        spec,
        env: env_spec.id.into(),
        algorithm: args.algo.clone(),
        frames: ppo.frames,
        seed: cfg.seed,
        eval,
    };
    let start = Instant::now();
    let frames0 = ppo.frames;
    bar.set_position(frames0);
    let mut failure: Option<anyhow::Error> = None;
    let guide = guided.as_mut().map(|g| g as _);
    let trained = ppo.train_guided(&mut envs, guide, |p, u, s: &Stats| {
        if failure.is_some() {
            return;
        }
        let step = p.frames as i64;
        let fps = (p.frames - frames0) as f64 / start.elapsed().as_secs_f64();
        let n = p.recent.len().max(1) as f32;
        let mean = p.recent.iter().map(|r| r.0).sum::<f32>() / n;
        let min = p.recent.iter().map(|r| r.0).fold(f32::INFINITY, f32::min);
        let max = p
            .recent
            .iter()
            .map(|r| r.0)
            .fold(f32::NEG_INFINITY, f32::max);
        let len = p.recent.iter().map(|r| r.1 as f32).sum::<f32>() / n;
        // The seed tasks and MiniGrid reward only success: a positive return is a success.
        let success = p.recent.iter().filter(|r| r.0 > 0.0).count() as f32 / n;
        let lr = if cfg.anneal_lr {
            cfg.lr * (1.0 - (u - 1) as f64 / updates as f64)
        } else {
            cfg.lr
        };
        let result = (|| -> anyhow::Result<()> {
            write!(
                csv,
                "{u},{},{fps:.0},{},{mean},{min},{max},{len},{},{},{},{},{},{},{},{lr},{success}",
                p.frames,
                p.episodes,
                s.policy_loss,
                s.value_loss,
                s.entropy,
                s.approx_kl,
                s.clipfrac,
                s.explained_variance,
                s.grad_norm
            )?;
            if let Some(ts) = &teacher_stats {
                let (t, bonuses) = ts.get();
                let g = s.guidance;
                writeln!(
                    csv,
                    ",{},{},{},{},{},{},{},{},{},{},{},{bonuses}",
                    g.distill,
                    g.guide,
                    g.bias,
                    g.align as u8,
                    s.teacher_ce,
                    s.agreement,
                    t.llm_calls,
                    t.cache_hits,
                    t.cache_misses,
                    t.prompt_tokens + t.completion_tokens,
                    t.planner_ms,
                )?;
                for (tag, v) in [
                    ("teacher/coef", g.distill),
                    ("teacher/guide_coef", g.guide),
                    ("teacher/logit_bias", g.bias),
                    ("teacher/cross_entropy", s.teacher_ce),
                    ("teacher/agreement", s.agreement),
                    ("llm/calls", t.llm_calls as f32),
                    ("llm/cache_hits", t.cache_hits as f32),
                    ("llm/cache_misses", t.cache_misses as f32),
                    ("llm/tokens", (t.prompt_tokens + t.completion_tokens) as f32),
                    ("llm/planner_ms", t.planner_ms as f32),
                    ("shaping/bonuses", bonuses as f32),
                ] {
                    tb.add_scalar(tag, v, step)?;
                }
            } else {
                writeln!(csv)?;
            }
            if !p.recent.is_empty() {
                tb.add_scalar("charts/episodic_return", mean, step)?;
                tb.add_scalar("charts/episodic_length", len, step)?;
                tb.add_scalar("charts/success_rate", success, step)?;
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
            if p.recent.len() >= 10 && mean > best {
                best = mean;
                save(&args.out.join("best.ckpt"), &p.model, meta(p, None))?;
            }
            if u % args.save_every == 0 || u as u64 == updates {
                save(&args.out.join("latest.ckpt"), &p.model, meta(p, None))?;
                let best = (best > f32::NEG_INFINITY).then_some(best);
                ppo_resume::save(&args.out.join("latest.state"), p, meta(p, None), best)?;
                csv.flush()?;
                tb.flush()?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            failure = Some(e);
        }
        bar.set_position(p.frames);
        bar.set_message(format!("return {mean:.3}"));
    });
    bar.finish_and_clear();
    trained?;
    if let Some(e) = failure {
        return Err(e.context(format!("writing the run folder {}", args.out.display())));
    }
    csv.flush()?;
    tb.flush()?;
    let wall = start.elapsed().as_secs_f64();
    let trained = ppo.frames - frames0;
    let eval_seed = cfg.seed.wrapping_mul(1_000_003).wrapping_add(1 << 32);
    let eval = evaluate(
        &ppo.model.valid(),
        env_spec.id,
        cfg.eval_episodes,
        eval_seed,
        false,
    )?;
    let (ret, success, steps) = (eval.mean_return, eval.success_rate, eval.mean_steps);
    save(
        &args.out.join("latest.ckpt"),
        &ppo.model,
        meta(&ppo, Some(eval.into())),
    )?;
    if !args.out.join("best.ckpt").exists() {
        std::fs::copy(args.out.join("latest.ckpt"), args.out.join("best.ckpt"))?;
    }
    Ok(serde_json::json!({
        "teacher": teacher_stats.map(|t| {
            let (t, bonuses) = t.get();
            serde_json::json!({
                "llm_calls": t.llm_calls, "cache_hits": t.cache_hits,
                "cache_misses": t.cache_misses, "prompt_tokens": t.prompt_tokens,
                "completion_tokens": t.completion_tokens, "planner_ms": t.planner_ms,
                "unreadable": t.unreadable, "shaping_bonuses": bonuses,
            })
        }),
        "env": env_spec.id, "algo": args.algo, "seed": cfg.seed, "frames": ppo.frames,
        "seconds": wall, "fps": trained as f64 / wall, "device": device_name,
        "eval_episodes": cfg.eval_episodes, "mean_return": ret, "success_rate": success,
        "mean_steps": steps, "run": args.out.display().to_string(),
    }))
}
