//! `gridmentor eval`: run an agent for N episodes and report what it did (one JSON line, the
//! seeds' eval), with the same figures for every agent.

use crate::algo::ask::AskRule;
use crate::algo::{Teacher, glam, skills_rl, when2ask};
use crate::checkpoint;
use crate::planner_spec::PlannerSpec;
use crate::results::EvalReport;
use crate::summary::Totals;
use anyhow::{Context, bail};
use gridmentor_core::agent::{PlannerAgent, run_episode};
use gridmentor_core::nn::policy;
use gridmentor_core::planner::PromptStyle;
use gridmentor_core::registry;
use gridmentor_core::rng::Rng;
use gridmentor_core::world::Action;
use std::path::PathBuf;

/// Which agent plays: `planner`, `random` or `checkpoint:PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentKind {
    /// Planner + skills, asking when the plan is finished.
    Planner,
    /// Uniformly random primitive actions.
    Random,
    /// A trained policy from a checkpoint file.
    Checkpoint(PathBuf),
    /// When2Ask's asking baselines over planner + skills: always, hardcoded, random:p=P, never.
    Ask(AskRule),
    /// A trained When2Ask mediator deciding when to ask.
    Mediator(PathBuf),
    /// A trained skills-rl option policy.
    Skills(PathBuf),
    /// LLM4Teach's teacher alone: soft plans run by the skills, acting by its distribution.
    Teacher,
    /// GLAM's LLM-as-policy on BabyAI-Text: the action texts scored by `--planner`.
    LlmPolicy,
}

impl AgentKind {
    /// The name results give the agent (`--agent` without its path).
    pub fn name(&self) -> String {
        match self {
            AgentKind::Planner => "planner".into(),
            AgentKind::Random => "random".into(),
            AgentKind::Checkpoint(_) => "checkpoint".into(),
            AgentKind::Ask(rule) => rule.name(),
            AgentKind::Mediator(_) => "mediator".into(),
            AgentKind::Skills(_) => "skills".into(),
            AgentKind::Teacher => "teacher".into(),
            AgentKind::LlmPolicy => "llm-policy".into(),
        }
    }
}

fn parse_agent(s: &str) -> Result<AgentKind, String> {
    if let Some(rule) = AskRule::parse(s) {
        return rule.map(AgentKind::Ask);
    }
    for (prefix, make) in [
        ("mediator:", AgentKind::Mediator as fn(_) -> _),
        ("skills:", AgentKind::Skills),
        ("checkpoint:", AgentKind::Checkpoint),
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
        _ => Err(format!(
            "unknown agent {s:?} (planner, random, teacher, llm-policy, checkpoint:PATH, \
             always, hardcoded, random:p=P, never, mediator:PATH, skills:PATH)"
        )),
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
    pub planner: PlannerSpec,
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
    pub record: Option<PathBuf>,
}

fn parse_style(s: &str) -> Result<PromptStyle, String> {
    PromptStyle::from_name(s)
        .ok_or_else(|| format!("unknown prompt style {s:?} (when2ask, llm4teach)"))
}

/// Who played, as the result names it, and what it found.
struct Played {
    planner: String,
    checkpoint: Option<String>,
    totals: Totals,
}

impl Played {
    fn by(planner: impl Into<String>, totals: Totals) -> Played {
        Played {
            planner: planner.into(),
            checkpoint: None,
            totals,
        }
    }
}

/// Run the evaluation (`--record` is the caller's: see [`crate::record`]).
pub fn run_eval(args: &EvalArgs) -> anyhow::Result<EvalReport> {
    let spec = registry::find(&args.env)?;
    if args.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    let (id, n, seed) = (spec.id, args.episodes, args.seed);
    let episode = |i: u32| format!("episode {i} (seed {})", seed + i as u64);
    let played = match &args.agent {
        AgentKind::Ask(rule) => {
            let planner = args.planner.build()?;
            let name = planner.info().name;
            let t = crate::algo::ask::eval_rule(rule, planner, args.style, id, n, seed)?;
            Played::by(name, t)
        }
        AgentKind::Mediator(path) => {
            let ck = when2ask::load_mediator(path, id)?;
            let p = &args.planner;
            let t = when2ask::eval_mediator(&ck.model, p, args.style, id, n, seed, args.greedy)?;
            Played {
                checkpoint: Some(format!("{} ({})", path.display(), ck.sha256)),
                ..Played::by(p.name()?, t)
            }
        }
        AgentKind::Skills(path) => {
            let ck = skills_rl::load_policy(path, id)?;
            let t = skills_rl::eval_policy(&ck.model, id, n, seed, args.greedy)?;
            let name = format!("none (skills policy {} ({}))", path.display(), ck.sha256);
            Played::by(name, t)
        }
        AgentKind::Checkpoint(path) => {
            let ck = checkpoint::load(path, id, None)?;
            let e = policy::evaluate(&ck.model, id, n as usize, seed, args.greedy)
                .map_err(|e| anyhow::anyhow!("evaluating on {id}: {e}"))?;
            let name = format!("checkpoint {} ({})", path.display(), ck.sha256);
            Played::by(name, e.into())
        }
        AgentKind::Random => {
            let mut rng = Rng::new(seed);
            let mut t = Totals::default();
            for i in 0..n {
                let mut env = gridmentor_core::Env::new(spec, seed + i as u64);
                let mut ret = 0.0;
                loop {
                    let s = env.step(Action::ALL[rng.index(Action::COUNT)]);
                    ret += s.reward as f64;
                    if s.terminated || s.truncated {
                        let success = s.success();
                        t.episode(ret, env.world.step_count as u64, success);
                        break;
                    }
                }
            }
            Played::by("none", t)
        }
        AgentKind::Teacher => {
            let planner = args.planner.build()?;
            let mut teacher = Teacher::new(planner, id, args.teacher_samples, args.hard_teacher);
            let name = format!("teacher of {}", teacher.planner_name());
            let mut rng = Rng::new(seed);
            let mut dist = [0.0f32; Action::COUNT];
            let mut lp = [0.0f32; Action::COUNT];
            let mut t = Totals::default();
            for i in 0..n {
                let mut env = gridmentor_core::Env::new(spec, seed + i as u64);
                teacher.reset(0, &env);
                let mut ret = 0.0;
                loop {
                    teacher
                        .distribution(0, &env, &mut dist)
                        .with_context(|| episode(i))?;
                    let k = if args.greedy {
                        policy::argmax(&dist)
                    } else {
                        dist.iter()
                            .zip(lp.iter_mut())
                            .for_each(|(p, l)| *l = p.max(1e-12).ln());
                        policy::sample(&lp, &mut rng)
                    };
                    let s = env.step(Action::ALL[k]);
                    ret += s.reward as f64;
                    if s.terminated || s.truncated {
                        let success = s.success();
                        t.episode(ret, env.world.step_count as u64, success);
                        break;
                    }
                    teacher.stepped(0, &env, Action::ALL[k], false);
                }
            }
            let c = teacher.stats;
            t.calls = c.llm_calls;
            t.tokens = c.prompt_tokens + c.completion_tokens;
            t.planner_ms = c.planner_ms;
            Played::by(name, t)
        }
        AgentKind::LlmPolicy => {
            let mut backend = glam::ScorerBackend::from_spec(&args.planner)?;
            let t = glam::evaluate(id, &mut backend, n, seed, args.greedy)?;
            Played::by(backend.name(), t)
        }
        AgentKind::Planner => {
            let planner = args.planner.build()?;
            let name = planner.info().name;
            let mut agent = PlannerAgent::new(planner, args.style);
            agent.samples = args.samples.max(1);
            let mut t = Totals::default();
            for i in 0..n {
                let mut env = gridmentor_core::Env::new(spec, seed + i as u64);
                let r = run_episode(&mut agent, &mut env, id).with_context(|| episode(i))?;
                t.episode(r.ret as f64, r.steps as u64, r.success);
                t.calls += r.planner_calls;
            }
            t.tokens = agent.stats.prompt_tokens + agent.stats.completion_tokens;
            t.planner_ms = agent.stats.planner_ms;
            Played::by(name, t)
        }
    };
    Ok(EvalReport {
        env: id.into(),
        agent: args.agent.name(),
        planner: played.planner,
        seed,
        greedy: args.greedy,
        figures: played.totals.figures(),
        checkpoint: played.checkpoint,
        record: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_parse_and_keep_their_names() {
        for (s, name) in [
            ("planner", "planner"),
            ("random", "random"),
            ("random:p=0.5", "random:p=0.5"),
            ("checkpoint:a.ckpt", "checkpoint"),
            ("mediator:m.ckpt", "mediator"),
            ("skills:s.ckpt", "skills"),
            ("llm-policy", "llm-policy"),
        ] {
            assert_eq!(parse_agent(s).unwrap().name(), name);
        }
        assert!(parse_agent("checkpoint:").is_err());
        assert!(parse_agent("oracle").unwrap_err().contains("unknown agent"));
    }
}
