//! `gridmentor train`: PPO with a run folder (config.json, metrics.csv, TensorBoard events,
//! checkpoints `latest.ckpt` and `best.ckpt`) and a progress bar.

pub use crate::device::{DeviceChoice, PickedDevice, pick_device};
use crate::ppo::resume as ppo_resume;
use crate::ppo::vec_env::VecEnv;
use crate::ppo::{Config, Ppo, Stats};
use crate::run_folder::{self, Extra, Num, RunLog, Update};
use anyhow::{Context, bail};
use burn::module::Module;
use gridmentor_core::nn::{ActorCritic, EvalResult, Evaluation, Metadata, policy};
use gridmentor_core::registry;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `gridmentor train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// The training algorithm.
    #[arg(long, default_value = "ppo")]
    pub algo: String,
    /// Run folder (created; an existing run folder is refused rather than overwritten).
    #[arg(long)]
    pub out: PathBuf,
    /// Where PPO's network runs: `auto` takes wgpu for a real GPU (in a build with the `wgpu`
    /// feature), else the CPU; evaluation always runs on the CPU.
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

/// The metrics.csv columns (and TensorBoard tags) the guided algorithms add.
fn guided_extras() -> Vec<Extra> {
    [
        ("teacher_coef", Some("teacher/coef")),
        ("guide_coef", Some("teacher/guide_coef")),
        ("logit_bias", Some("teacher/logit_bias")),
        ("align", None),
        ("teacher_ce", Some("teacher/cross_entropy")),
        ("agreement", Some("teacher/agreement")),
        ("llm_calls", Some("llm/calls")),
        ("cache_hits", Some("llm/cache_hits")),
        ("cache_misses", Some("llm/cache_misses")),
        ("tokens", Some("llm/tokens")),
        ("planner_ms", Some("llm/planner_ms")),
        ("shaping_bonuses", Some("shaping/bonuses")),
    ]
    .into_iter()
    .map(|(column, tag)| Extra::new(column, tag))
    .collect()
}

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
    if !args.resume {
        run_folder::refuse_existing(&args.out, true)?;
    }
    let resumed = if args.resume {
        Some(ppo_resume::load(&args.out.join("latest.state"))?)
    } else {
        None
    };
    let picked = pick_device(args.device)?;
    picked.announce();
    let device_name = picked.name.as_str();
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
        "algo": args.algo, "device": device_name, "device_reason": picked.reason,
        "env": env_spec.id, "net": spec.net.name(),
        "obs": spec.obs.to_string(), "ppo": cfg, "gridmentor": env!("CARGO_PKG_VERSION"),
    });
    run_folder::write_config(&args.out, &config)?;

    let mut ppo = Ppo::new(cfg.clone(), spec, picked.device.clone().autodiff())?;
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
    let extras = if guided.is_some() {
        guided_extras()
    } else {
        Vec::new()
    };
    let best = (best > f32::NEG_INFINITY).then_some(best);
    let resumed_at = resumed.as_ref().map(|state| (state.header.update, best));
    let mut log = RunLog::open(&args.out, extras, resumed_at)?;
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
        let fps = (p.frames - frames0) as f64 / start.elapsed().as_secs_f64();
        let lr = if cfg.anneal_lr {
            cfg.lr * (1.0 - (u - 1) as f64 / updates as f64)
        } else {
            cfg.lr
        };
        let mut mean = 0.0;
        let result = (|| -> anyhow::Result<()> {
            let extras: Vec<Num> = match &teacher_stats {
                Some(ts) => {
                    let (t, bonuses) = ts.get();
                    let g = s.guidance;
                    vec![
                        g.distill.into(),
                        g.guide.into(),
                        g.bias.into(),
                        (g.align as u64).into(),
                        s.teacher_ce.into(),
                        s.agreement.into(),
                        t.llm_calls.into(),
                        t.cache_hits.into(),
                        t.cache_misses.into(),
                        (t.prompt_tokens + t.completion_tokens).into(),
                        t.planner_ms.into(),
                        bonuses.into(),
                    ]
                }
                None => Vec::new(),
            };
            let update = Update {
                update: u,
                ppo: p,
                stats: s,
                fps,
                wall_seconds: log.wall_before() + start.elapsed().as_secs_f64(),
                learning_rate: lr,
            };
            let recent = log.record(&update, &extras)?;
            mean = recent.mean;
            let latest = u % args.save_every == 0 || u as u64 == updates;
            log.checkpoint(&p.model, &recent, latest, || meta(p, None))?;
            if latest {
                ppo_resume::save(&args.out.join("latest.state"), p, meta(p, None), log.best())?;
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
    log.finish(&ppo.model, meta(&ppo, Some(eval.into())))?;
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
        "seconds": log.wall_before() + wall, "fps": trained as f64 / wall, "device": device_name,
        "eval_episodes": cfg.eval_episodes, "mean_return": ret, "success_rate": success,
        "mean_steps": steps, "run": args.out.display().to_string(),
    }))
}
