//! `gridmentor train`: the one run path of every algorithm. Settings, the device, `--resume`,
//! the run folder (config.json, metrics.csv, TensorBoard events, checkpoints, eval.json).

use crate::algo::{self, Algo, GuideArgs, Resumed};
use crate::device::{DeviceChoice, pick_device};
use crate::ppo::resume as ppo_resume;
use crate::ppo::{Config, Guide, Ppo, Stats};
use crate::results::{RunConfig, TrainResult, TrainingEpisodes};
use crate::run_config::{self, Flags, Settings};
use crate::run_folder::{self, RunLog, Update};
use anyhow::{Context, bail};
use burn::module::Module;
use burn::tensor::Device;
use gridmentor_core::nn::{EvalResult, Metadata};
use gridmentor_core::registry;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `gridmentor train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// The training algorithm.
    #[arg(long, value_enum, default_value_t = Algo::Ppo)]
    pub algo: Algo,
    /// Run folder (created; an existing run folder is refused rather than overwritten).
    #[arg(long)]
    pub out: PathBuf,
    /// Where PPO's network runs: `auto` takes wgpu for a real GPU (in a build with the `wgpu`
    /// feature), else the CPU; evaluation always runs on the CPU.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Write `latest.ckpt` and `latest.state` every this many updates (and at the end).
    #[arg(long, default_value_t = 10)]
    pub save_every: usize,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Continue the run in --out from its `latest.state` (weights, Adam moments, counters, RNG,
    /// envs) with its own config.json (algorithm, PPO settings, planner and teacher); --frames
    /// may extend it.
    #[arg(long)]
    pub resume: bool,
    /// PPO's settings from a TOML file (keys: the fields of config.json's "ppo"), for every
    /// algorithm; flags given on the command line override it.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// The argument ids given on the command line (filled by main; what overrides --config).
    #[arg(skip)]
    pub explicit: Vec<String>,
    #[command(flatten)]
    pub ppo: Config,
    /// The planner of `when2ask`, and the teacher of `llm4teach`, `ihac` and `shaping`.
    #[command(flatten)]
    pub guide: GuideArgs,
}

impl TrainArgs {
    /// The run's settings: defaults < `--config` file (or the run's config.json on `--resume`)
    /// < flags given on the command line.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let given = Settings {
            algo: self.algo,
            ppo: self.ppo.clone(),
            guide: self.guide.clone(),
        };
        let flags = Flags {
            settings: &given,
            explicit: &self.explicit,
        };
        match (&self.config, self.resume) {
            (Some(_), true) => {
                bail!(
                    "--config and --resume do not go together: a resumed run keeps its config.json"
                )
            }
            (None, true) => run_config::for_resume(&self.out, &flags),
            (file, false) => run_config::for_new_run(file.as_deref(), &flags),
        }
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

/// The first layout seed of a run's final evaluation: far from the training envs' seeds.
pub fn eval_seed(seed: u64) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(1 << 32)
}

/// Train, write the run folder, and return the final result (also written as eval.json).
pub fn run_train(args: &TrainArgs) -> anyhow::Result<TrainResult> {
    let settings = args.settings()?;
    if settings.algo == Algo::Glam {
        // The LLM is the policy: its PPO runs through candle (gridmentor-llm), into the same
        // run folder.
        return algo::glam::train(args, settings);
    }
    let Settings {
        algo,
        ppo: cfg,
        guide: guide_args,
    } = settings;
    cfg.check()?;
    guide_args.check()?;
    let env = registry::find(&cfg.env)?;
    if !args.resume {
        run_folder::refuse_existing(&args.out)?;
    }
    let state = if args.resume {
        Some(ppo_resume::load(&args.out.join("latest.state"))?)
    } else {
        None
    };
    let resumed = state.as_ref().map(|s| Resumed {
        envs: &s.header.envs,
        counters: &s.header.counters,
    });
    // Everything that can fail on the settings fails here, before the run folder is written.
    let algo::Trainee {
        spec,
        mut envs,
        mut guide,
        teacher,
        settings,
        metrics,
        counters,
        evaluate,
    } = algo::setup(algo, &cfg, &guide_args, resumed.as_ref())?;
    let picked = pick_device(args.device)?;
    picked.announce();
    let config = RunConfig {
        algo,
        env: env.id.into(),
        net: spec.net.name().into(),
        obs: spec.obs.to_string(),
        actions: Some(spec.actions),
        device: picked.name.clone(),
        device_reason: picked.reason.clone(),
        ppo: Some(cfg.clone()),
        settings,
        gridmentor: env!("CARGO_PKG_VERSION").into(),
    };
    run_folder::write_json(&args.out, "config.json", &config)?;

    let mut ppo = Ppo::new(cfg.clone(), spec, picked.device.clone().autodiff())?;
    let mut resumed_at = None;
    if let Some(state) = &state {
        ppo.restore(state)?;
        resumed_at = Some((state.header.update, state.header.best));
    }
    let template: Vec<_> = Update::default()
        .metrics()
        .into_iter()
        .chain(metrics(&Stats::default())?)
        .collect();
    let mut log = RunLog::open(&args.out, &template, resumed_at)?;
    let updates = cfg.updates();
    let bar = progress_bar(args.quiet, (updates * cfg.envs * cfg.steps) as u64);
    let meta = |ppo: &Ppo, eval: Option<EvalResult>| Metadata {
        spec,
        acts: algo.action_space(),
        env: env.id.into(),
        algorithm: algo.to_string(),
        frames: ppo.frames,
        seed: cfg.seed,
        eval,
        // The run log adds the learning curve to every checkpoint it writes.
        curve: Vec::new(),
    };
    let start = Instant::now();
    let frames0 = ppo.frames;
    bar.set_position(frames0);
    let mut failure: Option<anyhow::Error> = None;
    let guide = guide.as_mut().map(|g| &mut **g as &mut dyn Guide);
    let trained = ppo.train(&mut *envs, guide, |p, u, s: &Stats| {
        if failure.is_some() {
            return;
        }
        let fps = (p.frames - frames0) as f64 / start.elapsed().as_secs_f64();
        let wall = log.wall_before() + start.elapsed().as_secs_f64();
        let update = Update::of(u, p, s, fps, wall);
        let result = (|| -> anyhow::Result<()> {
            let row: Vec<_> = update.metrics().into_iter().chain(metrics(s)?).collect();
            log.record(p.frames, &row)?;
            let latest = u % args.save_every == 0 || u == updates;
            log.checkpoint(&p.model, &update.recent, latest, || meta(p, None))?;
            if latest {
                let state = args.out.join("latest.state");
                ppo_resume::save(&state, p, meta(p, None), log.best(), counters())?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            failure = Some(e);
        }
        bar.set_position(p.frames);
        let r = update.recent;
        bar.set_message(format!(
            "return {:.3} success {:.0}%",
            r.mean,
            100.0 * r.success
        ));
    });
    bar.finish_and_clear();
    trained?;
    if let Some(e) = failure {
        return Err(e.context(format!("writing the run folder {}", args.out.display())));
    }
    let wall = start.elapsed().as_secs_f64();
    let seed = eval_seed(cfg.seed);
    // Every player of a trained network runs on the CPU (see `crate::device`).
    let model = ppo.model.valid().to_device(&Device::flex());
    let eval = evaluate(&model, cfg.eval_episodes, seed)?;
    let figures = eval.totals.figures();
    let in_checkpoint = EvalResult {
        episodes: figures.episodes,
        mean_return: figures.mean_return as f32,
        success_rate: figures.success_rate as f32,
    };
    log.finish(&ppo.model, meta(&ppo, Some(in_checkpoint)))?;
    let result = TrainResult {
        env: env.id.into(),
        algo,
        seed: cfg.seed,
        frames: ppo.frames,
        seconds: log.wall_before() + wall,
        fps: (ppo.frames - frames0) as f64 / wall,
        device: picked.name,
        run: args.out.display().to_string(),
        agent: eval.agent.into(),
        planner: eval.planner,
        eval_seed: seed,
        greedy: eval.greedy,
        figures,
        teacher: teacher.map(|t| t.get()),
        by_kind: eval.by_kind,
        training: ppo
            .return_total
            .filter(|_| ppo.episodes > 0)
            .map(|total| TrainingEpisodes {
                episodes: ppo.episodes,
                mean_return: total / ppo.episodes as f64,
            }),
    };
    run_folder::write_json(&args.out, "eval.json", &result)
        .context("writing the final evaluation")?;
    Ok(result)
}
