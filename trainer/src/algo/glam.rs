//! GLAM on BabyAI-Text: the LLM is the policy (softmax over the six action texts'
//! log-likelihoods given GLAM's prompt, core's `LlmPolicyAgent`), zero-shot or grounded by PPO.
//!
//! `train --algo glam` trains LoRA adapters and a value head on the embedded SmolLM2 (the PPO
//! update is gridmentor-llm's, through candle); the run folder is every algorithm's.

use crate::llm::HttpPlanner;
use crate::metric::{Metric, Num};
use crate::planner_spec::PlannerSpec;
use crate::ppo::Stats;
use crate::ppo::update::gae_of;
use crate::results::{RunConfig, TrainResult};
use crate::run_config::Settings;
use crate::run_folder::{self, Recent, RunLog, Update};
use crate::summary::Totals;
use crate::train::{TrainArgs, eval_seed, progress_bar};
use anyhow::{Context, bail};
use gridmentor_core::agent::evaluate;
use gridmentor_core::agent::llm_policy::{ACTIONS, GlamHistory, LlmPolicyAgent, PolicyScorer};
use gridmentor_core::planner::{PlannerError, Prompt, Scorer, Scores, Usage};
use gridmentor_core::rng::Rng;
use gridmentor_core::rules::shaping::actions_left;
use gridmentor_core::{Env, EnvSpec, registry};
use gridmentor_llm::grounding::{Grounded, LoraConfig, PpoParams, Sample};
use gridmentor_llm::{Message, SmolLm2};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::settings::{AlgoSettings, GuideArgs, GuideRecord};
pub use gridmentor_core::agent::llm_policy::{ACTION_TEXTS, BabyAiExpert, glam_prompt};

/// The embedded model scoring natively: zero-shot, or through a grounded checkpoint's adapters.
pub enum Native {
    Base(Box<SmolLm2>),
    Grounded(Box<Grounded>),
}

impl Native {
    /// `smollm2` (zero-shot) or the path of a grounded checkpoint (`*.glam`).
    pub fn open(name: &str, threads: usize) -> anyhow::Result<Native> {
        let path = SmolLm2::default_path();
        let base = SmolLm2::load_with_threads(&path, threads)?;
        if name == "smollm2" {
            return Ok(Native::Base(Box::new(base)));
        }
        let g = Grounded::load(base, &path, Path::new(name))
            .with_context(|| format!("loading the grounded checkpoint {name}"))?;
        Ok(Native::Grounded(Box::new(g)))
    }

    pub fn name(&self) -> String {
        match self {
            Native::Base(_) => format!("{} (embedded, zero-shot)", SmolLm2::MODEL_ID),
            Native::Grounded(_) => format!("{} + GLAM adapters (embedded)", SmolLm2::MODEL_ID),
        }
    }
}

/// core's messages as the embedded model takes them.
pub fn messages(prompt: &Prompt) -> Vec<Message> {
    prompt
        .messages
        .iter()
        .map(|m| Message::new(m.role.as_str(), m.content.clone()))
        .collect()
}

impl Scorer for Native {
    fn score_candidates(
        &mut self,
        prompt: &Prompt,
        candidates: &[&str],
    ) -> Result<Scores, PlannerError> {
        let t = Instant::now();
        let msgs = messages(prompt);
        let cands: Vec<String> = candidates.iter().map(|c| c.to_string()).collect();
        let (scores, tokens) = match self {
            Native::Base(m) => (m.score(&msgs, &cands), m.prompt_tokens(&msgs)),
            Native::Grounded(g) => (g.score(&msgs, &cands), g.base().prompt_tokens(&msgs)),
        };
        let scores = scores.map_err(|e| PlannerError::Failed(e.to_string()))?;
        let prompt_tokens = tokens.map_or(0, |t| t.len()) as u32;
        Ok(Scores {
            logprobs: scores.iter().map(|s| s.logprob as f64).collect(),
            tokens: scores.iter().map(|s| s.tokens as u32).collect(),
            usage: Usage {
                prompt_tokens,
                completion_tokens: scores.iter().map(|s| s.tokens as u32).sum(),
            },
            latency_ms: t.elapsed().as_secs_f64() * 1e3,
        })
    }
}

/// The LLM policy's agent: `llm` (`smollm2` or a grounded checkpoint) scoring natively, else
/// `spec`: the expert scorer, or `POST /v1/score` of an OpenAI-compatible server (docs/api.md).
pub fn agent(
    spec: &PlannerSpec,
    llm: Option<&str>,
    temperature: Option<f64>,
    seed: u64,
    greedy: bool,
) -> anyhow::Result<LlmPolicyAgent<Box<dyn Scorer>>> {
    // Zero-shot (and through a server) GLAM's T = 1; a grounded checkpoint's own T.
    let mut policy_temperature = temperature.unwrap_or(1.0);
    anyhow::ensure!(
        policy_temperature > 0.0 && policy_temperature.is_finite(),
        "--temperature must be a positive number"
    );
    let scorer = match (llm, spec) {
        (Some(name), _) => {
            let threads = std::env::var("GRIDMENTOR_LLM_THREADS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            let n = Native::open(name, threads)?;
            if let (Native::Grounded(g), None) = (&n, temperature) {
                policy_temperature = g.temperature() as f64;
            }
            let name = match policy_temperature {
                1.0 => n.name(),
                t => format!("{}, policy temperature {t}", n.name()),
            };
            PolicyScorer::Llm {
                scorer: Box::new(n) as Box<dyn Scorer>,
                name,
            }
        }
        (None, PlannerSpec::Http(url)) => {
            let h = HttpPlanner::from_spec(url)?;
            let name = match policy_temperature {
                1.0 => format!("{} (scoring)", h.endpoint()),
                t => format!("{} (scoring), policy temperature {t}", h.endpoint()),
            };
            PolicyScorer::Llm {
                scorer: Box::new(h) as Box<dyn Scorer>,
                name,
            }
        }
        (None, PlannerSpec::Expert { .. }) if spec.is_deterministic() => {
            anyhow::ensure!(
                temperature.is_none(),
                "--temperature applies to an LLM's scores, not the expert scorer's ranking"
            );
            PolicyScorer::Expert
        }
        _ => bail!(
            "llm-policy scores with `expert`, http://HOST/v1#model, or --llm (smollm2 or a \
             grounded checkpoint), not \"{spec}\""
        ),
    };
    Ok(LlmPolicyAgent::new(scorer, seed, greedy).with_temperature(policy_temperature))
}

/// Play `episodes` episodes of a BabyAI env (seeds `seed + i`) with the LLM policy, acting by
/// the most likely action (`greedy`) or sampling from the softmax.
pub fn evaluate_policy(
    env_id: &str,
    spec: &PlannerSpec,
    episodes: u32,
    seed: u64,
    greedy: bool,
) -> anyhow::Result<Totals> {
    let env = babyai(env_id)?;
    let mut a = agent(spec, None, None, seed, greedy)?;
    let s = evaluate(&mut a, env.id, seed..seed + episodes as u64)?;
    Ok(Totals::of(&s, false, false))
}

fn babyai(env_id: &str) -> anyhow::Result<&'static EnvSpec> {
    let env = registry::find(env_id)?;
    if env.family != "babyai" {
        bail!(
            "llm-policy plays the BabyAI-Text tasks; {} is a {} task (see `gridmentor envs`)",
            env.id,
            env.family
        );
    }
    Ok(env)
}

/// What the grounded checkpoint's `meta` and `latest.glam` keep of the run for `--resume`.
#[derive(serde::Serialize, serde::Deserialize, Default, Clone, Debug)]
struct Progress {
    env: String,
    update: usize,
    frames: u64,
    episodes: u64,
    recent: VecDeque<(f32, u32)>,
    rng: [u64; 4],
    /// The next training episode's layout seed.
    next_seed: u64,
    best: Option<f32>,
}

/// One training env and GLAM's memory of its episode.
struct Slot {
    env: Env,
    history: GlamHistory,
    ret: f32,
    len: u32,
}

impl Slot {
    fn new(spec: &'static EnvSpec, seed: u64) -> Slot {
        let env = Env::new(spec, seed);
        let mut history = GlamHistory::default();
        history.reset(&env);
        Slot {
            env,
            history,
            ret: 0.0,
            len: 0,
        }
    }
}

/// The layout seeds of training episodes: far from the final evaluation's ([`eval_seed`]).
fn train_seed(seed: u64, episode: u64) -> u64 {
    seed.wrapping_mul(7_919).wrapping_add(episode)
}

fn lora(g: &GuideArgs) -> LoraConfig {
    LoraConfig {
        layers: g.lora_layers,
        rank: g.lora_rank,
        alpha: g.lora_alpha,
        mlp: g.lora_mlp,
        ..LoraConfig::default()
    }
}

/// GLAM's own metrics.csv columns.
fn own_metrics(cached: usize, shaping: f64, sec_rollout: f64, sec_update: f64) -> Vec<Metric> {
    vec![
        Metric::new("prompts_cached", None, cached),
        Metric::new(
            "shaping_per_step",
            Some("glam/shaping_per_step"),
            Num::Fixed(shaping, 4),
        ),
        Metric::new(
            "rollout_seconds",
            Some("glam/rollout_seconds"),
            Num::Fixed(sec_rollout, 2),
        ),
        Metric::new(
            "update_seconds",
            Some("glam/update_seconds"),
            Num::Fixed(sec_update, 2),
        ),
    ]
}

/// `train --algo glam`: PPO on the embedded LLM's policy, the run folder of every algorithm
/// (config.json, metrics.csv, TensorBoard events, `latest.glam` / `best.glam`, eval.json).
pub fn train(args: &TrainArgs, settings: Settings) -> anyhow::Result<TrainResult> {
    let Settings {
        algo,
        ppo: cfg,
        guide,
    } = settings;
    cfg.check()?;
    let spec = babyai(&cfg.env)?;
    if !args.resume {
        run_folder::refuse_existing(&args.out)?;
    }
    let latest = args.out.join("latest.glam");
    let best_path = args.out.join("best.glam");
    let base_path = SmolLm2::default_path();
    let base = SmolLm2::load_with_threads(&base_path, guide.llm_threads.max(1))?;
    let (mut g, mut progress) = if args.resume {
        let header = Grounded::read_header(&latest)
            .with_context(|| format!("--resume: reading {}", latest.display()))?;
        let progress: Progress = serde_json::from_value(header.meta)
            .context("--resume: the run's progress in latest.glam")?;
        (Grounded::load(base, &base_path, &latest)?, progress)
    } else {
        let mut g = Grounded::new(base, &base_path, lora(&guide), &ACTION_TEXTS, cfg.seed)?;
        g.set_temperature(guide.policy_temperature)?;
        let progress = Progress {
            env: spec.id.into(),
            rng: Rng::new(cfg.seed ^ 0x61A3_0000).state(),
            ..Progress::default()
        };
        (g, progress)
    };
    let config = RunConfig {
        algo,
        env: spec.id.into(),
        net: format!("{}+lora", SmolLm2::MODEL_ID),
        obs: "babyai-text".into(),
        actions: Some(ACTIONS.len()),
        device: "cpu".into(),
        device_reason: "candle on the CPU (the embedded LLM)".into(),
        ppo: Some(cfg.clone()),
        settings: AlgoSettings {
            planner: Some(SmolLm2::MODEL_ID.into()),
            planner_name: Some(format!(
                "{} with LoRA (top {} blocks, rank {}) and a value head: {} trained parameters",
                SmolLm2::MODEL_ID,
                guide.lora_layers,
                guide.lora_rank,
                g.parameter_count()
            )),
            guide: Some(GuideRecord {
                args: guide.clone(),
                planner: SmolLm2::MODEL_ID.into(),
            }),
            ..AlgoSettings::default()
        },
        gridmentor: env!("CARGO_PKG_VERSION").into(),
    };
    run_folder::write_json(&args.out, "config.json", &config)?;
    let template: Vec<Metric> = Update::default()
        .metrics()
        .into_iter()
        .chain(own_metrics(0, 0.0, 0.0, 0.0))
        .collect();
    let resumed_at = args.resume.then_some((progress.update, progress.best));
    let mut log = RunLog::open(&args.out, &template, resumed_at)?;

    let updates = cfg.updates();
    let n = cfg.envs;
    let temperature = g.temperature() as f64;
    let bar = progress_bar(args.quiet, (updates * n * cfg.steps) as u64);
    bar.set_position(progress.frames);
    let mut rng = Rng::from_state(progress.rng);
    let shaping = guide.distance_shaping;
    let potential = |env: &Env| match shaping {
        0.0 => None,
        c => actions_left(env).map(|n| -c * n as f32),
    };
    // A resumed run starts fresh episodes (the LLM's prompts hold no state worth replaying).
    let mut slots: Vec<Slot> = (0..n)
        .map(|_| {
            let s = Slot::new(spec, train_seed(cfg.seed, progress.next_seed));
            progress.next_seed += 1;
            s
        })
        .collect();
    let start = Instant::now();
    let frames0 = progress.frames;
    while progress.update < updates {
        let u = progress.update + 1;
        let t_roll = Instant::now();
        let mut samples: Vec<Sample> = Vec::with_capacity(n * cfg.steps);
        let mut rewards = Vec::with_capacity(n * cfg.steps);
        let mut dones = Vec::with_capacity(n * cfg.steps);
        let mut values = Vec::with_capacity(n * cfg.steps);
        // Env by env: consecutive prompts then share their goal, and the frozen model's KV cache
        // of it is reused. The buffers keep PPO's `t * n + env` layout.
        let mut filled: Vec<Option<(Sample, f32, bool)>> = vec![None; n * cfg.steps];
        let mut shaping_sum = 0.0;
        for (k, slot) in slots.iter_mut().enumerate() {
            for t in 0..cfg.steps {
                let e = g.evaluate(&messages(&slot.history.prompt(&slot.env)))?;
                let scores: Vec<f64> = e.scores.iter().map(|&s| s as f64).collect();
                let dist = gridmentor_core::planner::candidate_distribution(&scores, temperature);
                let a = gridmentor_core::agent::sample_probs(&dist, &mut rng);
                let before = potential(&slot.env);
                let tr = slot.env.step(ACTIONS[a]);
                // Phi of an ended episode is 0; a step without a distance on both sides
                // (e.g. a pick-up task while carrying) gets no shaping.
                let after = match tr.terminated {
                    true => Some(0.0),
                    false => potential(&slot.env),
                };
                let bonus = match (before, after) {
                    (Some(b), Some(a)) => cfg.gamma * a - b,
                    _ => 0.0,
                };
                shaping_sum += bonus as f64;
                slot.history.observe(&slot.env, ACTIONS[a]);
                slot.ret += tr.reward;
                slot.len += 1;
                let done = tr.terminated || tr.truncated;
                let sample = Sample {
                    lower: e.lower,
                    action: a,
                    logp: dist[a].max(1e-30).ln(),
                    value: e.value,
                    advantage: 0.0,
                    ret: 0.0,
                };
                filled[t * n + k] = Some((sample, tr.reward + bonus, done));
                if done {
                    progress.recent.push_back((slot.ret, slot.len));
                    if progress.recent.len() > 100 {
                        progress.recent.pop_front();
                    }
                    progress.episodes += 1;
                    *slot = Slot::new(spec, train_seed(cfg.seed, progress.next_seed));
                    progress.next_seed += 1;
                }
            }
        }
        for (sample, reward, done) in filled.into_iter().flatten() {
            values.push(sample.value);
            samples.push(sample);
            rewards.push(reward);
            dones.push(done);
        }
        let last: Vec<f32> = slots
            .iter()
            .map(|s| Ok(g.evaluate(&messages(&s.history.prompt(&s.env)))?.value))
            .collect::<anyhow::Result<_>>()?;
        let (adv, ret) = gae_of(&rewards, &dones, &values, &last, cfg.gamma, cfg.lambda);
        for (s, (a, r)) in samples.iter_mut().zip(adv.iter().zip(&ret)) {
            s.advantage = *a;
            s.ret = *r;
        }
        if cfg.norm_adv {
            let m = adv.iter().sum::<f32>() / adv.len() as f32;
            let sd = (adv.iter().map(|a| (a - m).powi(2)).sum::<f32>() / adv.len() as f32).sqrt();
            for s in samples.iter_mut() {
                s.advantage = (s.advantage - m) / (sd + 1e-8);
            }
        }
        progress.frames += (n * cfg.steps) as u64;
        let sec_rollout = t_roll.elapsed().as_secs_f64();

        let t_upd = Instant::now();
        let params = PpoParams {
            clip: cfg.clip,
            vf_coef: cfg.vf_coef,
            ent_coef: cfg.ent_coef,
            max_grad_norm: cfg.max_grad_norm,
            clip_vloss: cfg.clip_vloss,
            lr: cfg.lr_at(u),
        };
        let mut stats = Stats {
            learning_rate: params.lr,
            ..Stats::default()
        };
        let mut batches = 0.0;
        for _ in 0..cfg.epochs {
            let mut order: Vec<usize> = (0..samples.len()).collect();
            rng.shuffle(&mut order);
            for chunk in order.chunks(cfg.batch) {
                let mb: Vec<Sample> = chunk.iter().map(|&i| samples[i].clone()).collect();
                let s = g.ppo_minibatch(&mb, &params)?;
                stats.add_minibatch(
                    s.policy_loss,
                    s.value_loss,
                    s.entropy,
                    s.approx_kl,
                    s.clipfrac,
                    s.grad_norm,
                );
                batches += 1.0;
            }
        }
        stats.average_minibatches(batches);
        stats.explained_variance = explained_variance(&values, &ret);
        let sec_update = t_upd.elapsed().as_secs_f64();
        progress.update = u;
        progress.rng = rng.state();

        let wall = log.wall_before() + start.elapsed().as_secs_f64();
        let fps = (progress.frames - frames0) as f64 / start.elapsed().as_secs_f64();
        let update = Update {
            update: u,
            frames: progress.frames,
            episodes: progress.episodes,
            recent: Recent::of_window(&progress.recent),
            fps,
            wall_seconds: wall,
            stats,
        };
        let row: Vec<Metric> = update
            .metrics()
            .into_iter()
            .chain(own_metrics(
                g.prompts_cached(),
                shaping_sum / (n * cfg.steps) as f64,
                sec_rollout,
                sec_update,
            ))
            .collect();
        log.record(progress.frames, &row)?;
        let r = update.recent;
        if r.episodes >= 10 && progress.best.is_none_or(|b| r.mean > b) {
            progress.best = Some(r.mean);
            g.save(&best_path, serde_json::to_value(&progress)?, false)?;
        }
        if u % args.save_every == 0 || u == updates {
            g.save(&latest, serde_json::to_value(&progress)?, true)?;
            log.flush()?;
        }
        bar.set_position(progress.frames);
        bar.set_message(format!(
            "return {:.3} success {:.0}%",
            r.mean,
            100.0 * r.success
        ));
    }
    bar.finish_and_clear();
    log.flush()?;
    g.save(&latest, serde_json::to_value(&progress)?, true)?;
    if !best_path.exists() {
        std::fs::copy(&latest, &best_path)?;
    }
    let wall = start.elapsed().as_secs_f64();

    // The final evaluation: the trained adapters as `eval --agent llm-policy --llm latest.glam`
    // plays them (sampling, as trained), on held-out layouts.
    let seed = eval_seed(cfg.seed);
    let name = format!(
        "{} + GLAM adapters (embedded), policy temperature {temperature}",
        SmolLm2::MODEL_ID
    );
    let mut agent = LlmPolicyAgent::new(
        PolicyScorer::Llm {
            scorer: Box::new(Native::Grounded(Box::new(g))) as Box<dyn Scorer>,
            name: name.clone(),
        },
        seed,
        false,
    )
    .with_temperature(temperature);
    let s = evaluate(&mut agent, spec.id, seed..seed + cfg.eval_episodes as u64)?;
    let figures = Totals::of(&s, false, false).figures();
    let result = TrainResult {
        env: spec.id.into(),
        algo,
        seed: cfg.seed,
        frames: progress.frames,
        seconds: log.wall_before() + wall,
        fps: (progress.frames - frames0) as f64 / wall,
        device: "cpu".into(),
        run: args.out.display().to_string(),
        agent: "llm-policy".into(),
        planner: name,
        eval_seed: seed,
        greedy: false,
        figures,
        teacher: None,
        by_kind: s.by_kind(),
        training: None,
    };
    run_folder::write_json(&args.out, "eval.json", &result)
        .context("writing the final evaluation")?;
    Ok(result)
}

/// `1 - Var(returns - values) / Var(returns)` (CleanRL's diagnostic).
fn explained_variance(values: &[f32], returns: &[f32]) -> f32 {
    let n = returns.len().max(1) as f32;
    let var = |xs: &mut dyn Iterator<Item = f32>| {
        let v: Vec<f32> = xs.collect();
        let m = v.iter().sum::<f32>() / n;
        v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / n
    };
    let vr = var(&mut returns.iter().copied());
    if vr == 0.0 {
        return f32::NAN;
    }
    1.0 - var(&mut returns.iter().zip(values).map(|(r, v)| r - v)) / vr
}

/// The grounded checkpoint of a GLAM run folder (`latest.glam`), or `path` itself.
pub fn checkpoint_in(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("latest.glam")
    } else {
        path.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_has_goal_three_observations_and_two_actions() {
        let o = |s: &str| vec![s.to_string()];
        let p = glam_prompt(
            "go to the red ball",
            &[o("You see a wall 1 step forward"), o("b"), o("c")],
            &["turn left", "go forward"],
        );
        let text = &p.messages[0].content;
        assert!(text.starts_with(
            "Possible action of the agent: turn left, turn right, go forward, pick up, drop, toggle"
        ));
        assert!(text.contains("Goal of the agent: go to the red ball"));
        assert!(
            text.contains("Observation 0: You see a wall 1 step forward\n Action 0: turn left")
        );
        assert!(text.ends_with("Observation 2: c\n Action 2: "), "{text}");
    }

    #[test]
    fn the_expert_upper_bound_solves_go_to_and_pick_up() {
        let expert = "expert".parse::<PlannerSpec>().unwrap();
        for id in ["BabyAI-GoToLocal-v0", "BabyAI-PickupLoc-v0"] {
            let r = evaluate_policy(id, &expert, 20, 0, true).unwrap();
            assert!(r.wins >= 16, "{id}: {}/20", r.wins);
        }
        let err = evaluate_policy("SimpleDoorKey", &expert, 1, 0, true).unwrap_err();
        assert!(err.to_string().contains("BabyAI-Text"), "{err}");
    }

    #[test]
    fn gae_cuts_at_episode_ends() {
        let (adv, ret) = gae_of(&[0.0, 1.0], &[false, true], &[0.5, 0.5], &[9.0], 0.9, 1.0);
        assert!((ret[1] - 1.0).abs() < 1e-6, "{ret:?}");
        assert!((ret[0] - 0.9).abs() < 1e-6, "{ret:?}");
        assert!((adv[0] - 0.4).abs() < 1e-6, "{adv:?}");
    }
}
