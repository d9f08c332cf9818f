//! `gridmentor eval`: run an agent for N episodes and print one JSON line (the seeds' eval).

use crate::llm::HttpPlanner;
use anyhow::{Context, bail};
use gridmentor_core::agent::{PlannerAgent, run_episode};
use gridmentor_core::nn::Checkpoint;
use gridmentor_core::planner::{ExpertPlanner, Planner, PromptStyle};
use gridmentor_core::registry;
use gridmentor_core::rng::Rng;
use gridmentor_core::world::Action;
use serde_json::{Value, json};

/// Which agent plays: `planner`, `random` or `checkpoint:PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentKind {
    /// Planner + skills, asking when the plan is finished.
    Planner,
    /// Uniformly random primitive actions.
    Random,
    /// A trained policy from a checkpoint file.
    Checkpoint(std::path::PathBuf),
    /// When2Ask's asking baselines over planner + skills: always, hardcoded, random:p=P, never.
    Ask(crate::algo::ask::AskRule),
    /// A trained When2Ask mediator deciding when to ask.
    Mediator(std::path::PathBuf),
    /// A trained skills-rl option policy.
    Skills(std::path::PathBuf),
    /// LLM4Teach's teacher alone: soft plans run by the skills, acting by its distribution.
    Teacher,
    /// GLAM's LLM-as-policy on BabyAI-Text: the action texts scored by `--planner`.
    LlmPolicy,
}

fn parse_agent(s: &str) -> Result<AgentKind, String> {
    if let Some(rule) = crate::algo::ask::AskRule::parse(s) {
        return rule.map(AgentKind::Ask);
    }
    for (prefix, make) in [
        ("mediator:", AgentKind::Mediator as fn(_) -> _),
        ("skills:", AgentKind::Skills),
    ] {
        if let Some(p) = s.strip_prefix(prefix).filter(|p| !p.is_empty()) {
            return Ok(make(p.into()));
        }
    }
    match s {
        "planner" => Ok(AgentKind::Planner),
        "random" => Ok(AgentKind::Random),
        "teacher" => Ok(AgentKind::Teacher),
        "llm-policy" => Ok(AgentKind::LlmPolicy),
        _ => match s.strip_prefix("checkpoint:") {
            Some(p) if !p.is_empty() => Ok(AgentKind::Checkpoint(p.into())),
            _ => Err(format!(
                "unknown agent {s:?} (planner, random, teacher, llm-policy, checkpoint:PATH, \
                 always, hardcoded, random:p=P, never, mediator:PATH, skills:PATH)"
            )),
        },
    }
}

/// Arguments of `gridmentor eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct EvalArgs {
    /// Registered env id (see `gridmentor envs`).
    #[arg(long)]
    pub env: String,
    /// `planner`, `random`, `teacher`, `llm-policy`, `checkpoint:PATH`; When2Ask's `always`,
    /// `hardcoded`, `random:p=P`, `never`, `mediator:PATH`; `skills:PATH` (a skills-rl policy).
    #[arg(long, default_value = "planner", value_parser = parse_agent)]
    pub agent: AgentKind,
    /// Checkpoint, teacher and llm-policy agents take the most likely action instead of
    /// sampling.
    #[arg(long)]
    pub greedy: bool,
    /// `expert`, `expert:noise=0.3[,seed=N]`, or an OpenAI-compatible endpoint
    /// `http://HOST/v1#model`.
    #[arg(long, default_value = "expert")]
    pub planner: String,
    /// Prompt style: when2ask or llm4teach.
    #[arg(long, default_value = "llm4teach", value_parser = parse_style)]
    pub style: PromptStyle,
    /// Answers asked for per query (the most frequent plan is run).
    #[arg(long, default_value_t = 1)]
    pub samples: u32,
    /// The teacher agent: answers per abstract observation (its soft plan; LLM4Teach: 10).
    #[arg(long, default_value_t = 10)]
    pub teacher_samples: u32,
    /// The teacher agent: all weight on the most frequent plan.
    #[arg(long)]
    pub hard_teacher: bool,
    #[arg(long, default_value_t = 100)]
    pub episodes: u32,
    /// Episode i uses layout seed `seed + i`.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one JSON line instead of a sentence.
    #[arg(long)]
    pub json: bool,
    /// Also write episode `--seed` as an animated GIF (core's renderer, 32 px a cell).
    #[arg(long, value_name = "OUT.gif")]
    pub record: Option<std::path::PathBuf>,
}

/// Read a checkpoint file for `env`: a missing, corrupt or foreign file is one clear error.
pub fn load_checkpoint(
    path: &std::path::Path,
    env: &str,
) -> anyhow::Result<gridmentor_core::nn::ActorCritic> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading checkpoint {}", path.display()))?;
    let ck = Checkpoint::from_bytes(&bytes)
        .with_context(|| format!("loading checkpoint {}", path.display()))?;
    ck.expect_env(env)
        .with_context(|| format!("checkpoint {}", path.display()))?;
    ck.model(&burn::tensor::Device::flex())
        .with_context(|| format!("checkpoint {}", path.display()))
}

fn parse_style(s: &str) -> Result<PromptStyle, String> {
    PromptStyle::from_name(s)
        .ok_or_else(|| format!("unknown prompt style {s:?} (when2ask, llm4teach)"))
}

/// A planner from its command-line spec.
pub fn planner_from_spec(spec: &str) -> anyhow::Result<Box<dyn Planner>> {
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return Ok(Box::new(HttpPlanner::from_spec(spec)?));
    }
    let (name, opts) = spec.split_once(':').unwrap_or((spec, ""));
    if name != "expert" {
        bail!(
            "unknown planner {spec:?}: use expert, expert:noise=P[,seed=N], or http://HOST/v1#model"
        );
    }
    let (mut noise, mut seed) = (0.0, 0u64);
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        let (k, v) = opt
            .split_once('=')
            .with_context(|| format!("planner option {opt:?} is not key=value"))?;
        match k {
            "noise" => {
                noise = v
                    .parse()
                    .with_context(|| format!("noise {v:?} is not a number"))?;
                if !(0.0..=1.0).contains(&noise) {
                    bail!("noise must be within 0..=1, got {noise}");
                }
            }
            "seed" => {
                seed = v
                    .parse()
                    .with_context(|| format!("seed {v:?} is not a whole number"))?
            }
            _ => bail!("unknown expert option {k:?} (noise, seed)"),
        }
    }
    Ok(Box::new(ExpertPlanner::noisy(noise, seed)))
}

/// Run the evaluation and return its JSON record.
pub fn run_eval(args: &EvalArgs) -> anyhow::Result<Value> {
    let spec = registry::find(&args.env)?;
    if args.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    let (mut wins, mut ret, mut steps, mut calls) = (0u32, 0f64, 0u64, 0u64);
    let mut tokens = 0u64;
    let mut planner_ms = 0f64;
    let mut planner_name = String::from("none");
    let mut ask_totals = None;
    match &args.agent {
        AgentKind::Ask(rule) => {
            let planner = planner_from_spec(&args.planner)?;
            planner_name = planner.info().name;
            let t = crate::algo::ask::eval_rule(
                rule,
                planner,
                args.style,
                spec.id,
                args.episodes,
                args.seed,
            )?;
            ask_totals = Some(t.json());
        }
        AgentKind::Mediator(path) => {
            let (model, sha) = crate::algo::when2ask::load_mediator(path, spec.id)?;
            planner_name = planner_from_spec(&args.planner)?.info().name;
            let t = crate::algo::when2ask::eval_mediator(
                &model,
                &args.planner,
                args.style,
                spec.id,
                args.episodes,
                args.seed,
                args.greedy,
            )?;
            let mut v = t.json();
            v["checkpoint"] = format!("{} ({sha})", path.display()).into();
            ask_totals = Some(v);
        }
        AgentKind::Skills(path) => {
            let (model, sha) = crate::algo::skills_rl::load_policy(path, spec.id)?;
            let t = crate::algo::skills_rl::eval_policy(
                &model,
                spec.id,
                args.episodes,
                args.seed,
                args.greedy,
            )?;
            planner_name = format!("none (skills policy {} ({sha}))", path.display());
            ask_totals = Some(t.json());
        }
        AgentKind::Checkpoint(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading checkpoint {}", path.display()))?;
            let ck = Checkpoint::from_bytes(&bytes)
                .with_context(|| format!("loading checkpoint {}", path.display()))?;
            ck.expect_env(spec.id)
                .with_context(|| format!("checkpoint {}", path.display()))?;
            let model = ck.model(&burn::tensor::Device::flex())?;
            let e = crate::train::evaluate(
                &model,
                spec.id,
                args.episodes as usize,
                args.seed,
                args.greedy,
            )?;
            let (r, s, n) = (e.mean_return, e.success_rate, e.mean_steps);
            planner_name = format!("checkpoint {} ({})", path.display(), ck.weights_sha256());
            ret = r as f64 * args.episodes as f64;
            wins = (s * args.episodes as f32).round() as u32;
            steps = (n as f64 * args.episodes as f64) as u64;
        }
        AgentKind::Random => {
            let mut rng = Rng::new(args.seed);
            for i in 0..args.episodes {
                let mut env = gridmentor_core::Env::new(spec, args.seed + i as u64);
                loop {
                    let t = env.step(Action::ALL[rng.index(Action::COUNT)]);
                    ret += t.reward as f64;
                    if t.terminated || t.truncated {
                        wins += (t.terminated && t.reward > 0.0) as u32;
                        steps += env.world.step_count as u64;
                        break;
                    }
                }
            }
        }
        AgentKind::Teacher => {
            let planner = planner_from_spec(&args.planner)?;
            let mut teacher = crate::algo::Teacher::new(
                planner,
                spec.id,
                args.teacher_samples,
                args.hard_teacher,
            );
            planner_name = format!("teacher of {}", teacher.planner_name());
            let mut rng = Rng::new(args.seed);
            let mut dist = [0.0f32; Action::COUNT];
            let mut lp = [0.0f32; Action::COUNT];
            for i in 0..args.episodes {
                let mut env = gridmentor_core::Env::new(spec, args.seed + i as u64);
                teacher.reset(0, &env);
                loop {
                    teacher
                        .distribution(0, &env, &mut dist)
                        .with_context(|| format!("episode {i} (seed {})", args.seed + i as u64))?;
                    let k = if args.greedy {
                        gridmentor_core::nn::policy::argmax(&dist)
                    } else {
                        dist.iter()
                            .zip(lp.iter_mut())
                            .for_each(|(p, l)| *l = p.max(1e-12).ln());
                        gridmentor_core::nn::policy::sample(&lp, &mut rng)
                    };
                    let t = env.step(Action::ALL[k]);
                    ret += t.reward as f64;
                    if t.terminated || t.truncated {
                        wins += (t.terminated && t.reward > 0.0) as u32;
                        steps += env.world.step_count as u64;
                        break;
                    }
                    teacher.stepped(0, &env, Action::ALL[k], false);
                }
            }
            calls = teacher.stats.llm_calls;
            tokens = teacher.stats.prompt_tokens + teacher.stats.completion_tokens;
            planner_ms = teacher.stats.planner_ms;
        }
        AgentKind::LlmPolicy => {
            let mut backend = crate::algo::glam::ScorerBackend::from_spec(&args.planner)?;
            planner_name = backend.name();
            let r = crate::algo::glam::evaluate(
                spec.id,
                &mut backend,
                args.episodes,
                args.seed,
                args.greedy,
            )?;
            (wins, ret, steps, calls, tokens) = (r.wins, r.ret, r.steps, r.calls, r.tokens);
            planner_ms = r.planner_ms;
        }
        AgentKind::Planner => {
            let planner = planner_from_spec(&args.planner)?;
            planner_name = planner.info().name;
            let mut agent = PlannerAgent::new(planner, args.style);
            agent.samples = args.samples.max(1);
            for i in 0..args.episodes {
                let mut env = gridmentor_core::Env::new(spec, args.seed + i as u64);
                let r = run_episode(&mut agent, &mut env, spec.id)
                    .with_context(|| format!("episode {i} (seed {})", args.seed + i as u64))?;
                wins += r.success as u32;
                ret += r.ret as f64;
                steps += r.steps as u64;
                calls += r.planner_calls;
            }
            tokens = agent.stats.prompt_tokens + agent.stats.completion_tokens;
            planner_ms = agent.stats.planner_ms;
        }
    }
    let n = args.episodes as f64;
    let recorded = match &args.record {
        Some(path) => Some(crate::record::record(args, spec, path)?),
        None => None,
    };
    if let Some(mut v) = ask_totals {
        let agent = match &args.agent {
            AgentKind::Ask(rule) => rule.name(),
            AgentKind::Mediator(_) => "mediator".into(),
            _ => "skills".into(),
        };
        v["env"] = spec.id.into();
        v["agent"] = agent.into();
        v["planner"] = planner_name.into();
        v["seed"] = args.seed.into();
        v["greedy"] = args.greedy.into();
        return Ok(v);
    }
    let mut record = json!({
        "env": spec.id,
        "agent": match args.agent {
            AgentKind::Planner => "planner",
            AgentKind::Random => "random",
            AgentKind::Checkpoint(_) => "checkpoint",
            AgentKind::Teacher => "teacher",
            AgentKind::LlmPolicy => "llm-policy",
            _ => unreachable!("returned above"),
        },
        "planner": planner_name,
        "episodes": args.episodes,
        "seed": args.seed,
        "greedy": args.greedy,
        "success_rate": wins as f64 / n,
        "mean_return": ret / n,
        "mean_steps": steps as f64 / n,
        "llm_calls_per_episode": calls as f64 / n,
        "tokens_per_episode": tokens as f64 / n,
        "planner_ms_per_episode": planner_ms / n,
    });
    if let (Some(path), Some(r)) = (&args.record, recorded) {
        record["record"] = json!({
            "path": path.display().to_string(), "seed": args.seed, "steps": r.steps,
            "frames": r.frames, "return": r.ret, "success": r.success,
        });
    }
    Ok(record)
}
