//! `gridmentor eval`: run an agent for N episodes and report what it did (one JSON line, the
//! seeds' eval), with the same figures for every agent.

use crate::algo::glam;
use crate::checkpoint;
use crate::planner_spec::PlannerSpec;
use crate::results::EvalReport;
use crate::summary::Totals;
use anyhow::{Context, bail};
use gridmentor_core::agent::load::AgentOptions;
use gridmentor_core::agent::teacher::{Teacher, TeacherAgent};
use gridmentor_core::agent::{Agent, AskLimits, PlannerAgent, RandomAgent, evaluate};
use gridmentor_core::ask::{AskRule, RuleAgent};
use gridmentor_core::nn::ActionSpace;
use gridmentor_core::planner::PromptStyle;
use gridmentor_core::registry;
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
    /// Prompt style: when2ask or llm4teach (default: when2ask for a mediator checkpoint, which
    /// was trained with it, llm4teach otherwise).
    #[arg(long, value_parser = parse_style)]
    pub style: Option<PromptStyle>,
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
    /// llm-policy: score with the embedded model in this process instead of --planner:
    /// `smollm2` (zero-shot) or a grounded checkpoint (`train --algo glam`'s `latest.glam`, or
    /// its run folder).
    #[arg(long, value_name = "smollm2|PATH")]
    pub llm: Option<String>,
    /// llm-policy: the policy is softmax(log-likelihood / T) [default: the grounded
    /// checkpoint's, else 1 as GLAM].
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,
    /// planner: at most this many planner calls an episode (retries included); past it the
    /// agent explores on its own and counts a fallback [default: no limit].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_calls: Option<u64>,
    /// planner: at most this many prompt + completion tokens an episode, likewise.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tokens: Option<u64>,
}

fn parse_style(s: &str) -> Result<PromptStyle, String> {
    PromptStyle::from_name(s)
        .ok_or_else(|| format!("unknown prompt style {s:?} (when2ask, llm4teach)"))
}

/// The agent `args` names, ready to play `env_id`, with the checkpoint it came from (`path
/// (sha256)`), if any. The one place the trainer tells agent kinds apart; everything after is
/// core's.
pub fn build_agent(
    args: &EvalArgs,
    env_id: &str,
) -> anyhow::Result<(Box<dyn Agent>, Option<String>)> {
    let seed = args.seed;
    let agent: Box<dyn Agent> = match &args.agent {
        AgentKind::Checkpoint(path) | AgentKind::Mediator(path) | AgentKind::Skills(path) => {
            let wants = match &args.agent {
                AgentKind::Mediator(_) => Some(ActionSpace::Ask),
                AgentKind::Skills(_) => Some(ActionSpace::Options),
                _ => None,
            };
            let planner = match wants {
                Some(ActionSpace::Ask) => Some(args.planner.build()?),
                _ => None,
            };
            let options = AgentOptions {
                seed,
                greedy: args.greedy,
                planner,
                style: args.style.unwrap_or(PromptStyle::When2Ask),
            };
            let (loaded, sha) = checkpoint::load_agent(path, env_id, options)?;
            let acts = loaded.checkpoint.meta.acts;
            if let Some(w) = wants.filter(|w| *w != acts) {
                bail!(
                    "{} holds a network over {acts} actions, not {w}: play it with                      --agent checkpoint:PATH",
                    path.display()
                );
            }
            return Ok((loaded.agent, Some(format!("{} ({sha})", path.display()))));
        }
        AgentKind::Ask(rule) => Box::new(RuleAgent::new(
            *rule,
            args.planner.build()?,
            args.style.unwrap_or(PromptStyle::Llm4Teach),
            seed,
        )),
        AgentKind::Random => Box::new(RandomAgent::new(seed)),
        AgentKind::Teacher => {
            let planner = args.planner.build()?;
            let t = Teacher::new(planner, env_id, args.teacher_samples, args.hard_teacher);
            Box::new(TeacherAgent::new(t, seed, args.greedy))
        }
        AgentKind::LlmPolicy => {
            let llm = args.llm.as_deref().map(|l| match l {
                "smollm2" => l.to_string(),
                path => glam::checkpoint_in(std::path::Path::new(path))
                    .display()
                    .to_string(),
            });
            Box::new(glam::agent(
                &args.planner,
                llm.as_deref(),
                args.temperature,
                seed,
                args.greedy,
            )?)
        }
        AgentKind::Planner => {
            let style = args.style.unwrap_or(PromptStyle::Llm4Teach);
            let mut a = PlannerAgent::new(args.planner.build()?, style);
            a.samples = args.samples.max(1);
            a.limits = AskLimits {
                calls_per_episode: args.max_calls,
                tokens_per_episode: args.max_tokens,
            };
            Box::new(a)
        }
    };
    Ok((agent, None))
}

/// Run the evaluation (`--record` is the caller's: see [`crate::record`]).
pub fn run_eval(args: &EvalArgs) -> anyhow::Result<EvalReport> {
    let spec = registry::find(&args.env)?;
    if args.episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    let (id, n, seed) = (spec.id, args.episodes, args.seed);
    if args.agent == AgentKind::LlmPolicy && spec.family != "babyai" {
        bail!(
            "llm-policy plays the BabyAI-Text tasks; {id} is a {} task (see `gridmentor envs`)",
            spec.family
        );
    }
    if (args.max_calls.is_some() || args.max_tokens.is_some()) && args.agent != AgentKind::Planner {
        bail!("--max-calls and --max-tokens bound the planner agent's asking (--agent planner)");
    }
    let (mut agent, checkpoint) = build_agent(args, id)?;
    let end = seed
        .checked_add(n as u64)
        .context("--seed + --episodes overflows")?;
    let summary = evaluate(&mut agent, id, seed..end)?;
    let queries = matches!(args.agent, AgentKind::Ask(_) | AgentKind::Mediator(_));
    let options = matches!(args.agent, AgentKind::Skills(_));
    let totals = Totals::of(&summary, queries, options);
    Ok(EvalReport {
        env: id.into(),
        agent: args.agent.name(),
        planner: agent.name(),
        seed,
        greedy: args.greedy,
        figures: totals.figures(),
        checkpoint,
        record: None,
        by_kind: summary.by_kind(),
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
