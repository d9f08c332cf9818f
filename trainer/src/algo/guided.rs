//! The teacher-guided algorithms on PPO's one update: LLM4Teach (a distillation term), IHAC
//! (guided sampling, an alignment phase) and in5490's shaping (a bonus, an annealed logit bias).

use super::teacher::{Teacher, TeacherStats};
use super::{AlgoSettings, GuideRecord, Resumed, Trainee};
use crate::metric::Metric;
use crate::planner_spec::PlannerSpec;
use crate::ppo::config::defaults_of_args;
use crate::ppo::update::{Guidance, Guide};
use crate::ppo::{Config, Envs, Stats};
use anyhow::Context;
use gridmentor_core::EnvSpec;
use gridmentor_core::world::{Action, Dir, Pos};
use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;

/// The planner of every LLM-using algorithm, and the teacher and schedules of the guided ones,
/// with the papers' defaults.
#[derive(clap::Args, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct GuideArgs {
    /// The planner (the teacher's, When2Ask's): `expert`, `expert:noise=P[,seed=N]`, or
    /// `http://HOST/v1#model`.
    #[arg(long, default_value = "expert")]
    pub planner: PlannerSpec,
    /// Answers asked per abstract observation; their frequencies are the soft plan (LLM4Teach: 10).
    #[arg(long, default_value_t = 10)]
    pub teacher_samples: u32,
    /// A hard teacher: all weight on the most frequent plan.
    #[arg(long)]
    pub hard_teacher: bool,
    /// LLM4Teach: weight c of cross-entropy(teacher, student) at the first update (paper: 10).
    #[arg(long, default_value_t = 10.0)]
    pub teach_coef: f32,
    /// ... minus this per update (paper: 0.005) ...
    #[arg(long, default_value_t = 0.005)]
    pub teach_decay: f32,
    /// ... down to this floor (paper: 0.1) ...
    #[arg(long, default_value_t = 0.1)]
    pub teach_floor: f32,
    /// ... and no term at all after this update (paper: 3000).
    #[arg(long, default_value_t = 3000)]
    pub teach_until: usize,
    /// IHAC: c of softmax(student logits + c log teacher) at the start (paper: 1) ...
    #[arg(long, default_value_t = 1.0)]
    pub guide_coef: f32,
    /// ... multiplied by this (paper: 0.99) ...
    #[arg(long, default_value_t = 0.99)]
    pub guide_decay: f32,
    /// ... every this many updates (paper: 10).
    #[arg(long, default_value_t = 10)]
    pub guide_every: usize,
    /// IHAC: the share of updates spent cloning the teacher first (paper: 0.1).
    #[arg(long, default_value_t = 0.1)]
    pub align_fraction: f64,
    /// Cap on the importance weight student / behaviour of a guided step.
    #[arg(long, default_value_t = 5.0)]
    pub max_weight: f32,
    /// in5490: reward bonus when the action is the planner's suggestion, once per suggestion
    /// (agent pose and suggested action) per episode.
    #[arg(long, default_value_t = 0.1)]
    pub shaping_bonus: f32,
    /// in5490 policy influencing: logit bias on the suggested action at the start (0: off) ...
    #[arg(long, default_value_t = 0.0)]
    pub shaping_bias: f32,
    /// ... annealed linearly to zero over this share of the updates.
    #[arg(long, default_value_t = 0.5)]
    pub shaping_bias_fraction: f64,
}

/// The defaults are the clap attributes above, written once.
impl Default for GuideArgs {
    fn default() -> GuideArgs {
        defaults_of_args::<GuideArgs>()
    }
}

impl GuideArgs {
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.teacher_samples >= 1,
            "--teacher-samples must be at least 1"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.align_fraction)
                && (0.0..=1.0).contains(&self.shaping_bias_fraction),
            "--align-fraction and --shaping-bias-fraction must be within 0..=1"
        );
        anyhow::ensure!(
            self.guide_every >= 1 && self.max_weight > 0.0,
            "--guide-every must be at least 1 and --max-weight positive"
        );
        Ok(())
    }

    /// LLM4Teach's c at update `u` (1-based).
    pub fn teach_coef_at(&self, u: usize) -> f32 {
        if u > self.teach_until {
            return 0.0;
        }
        (self.teach_coef - self.teach_decay * (u - 1) as f32).max(self.teach_floor)
    }

    /// IHAC's guidance c at update `u` (1-based).
    pub fn guide_coef_at(&self, u: usize) -> f32 {
        self.guide_coef * self.guide_decay.powi(((u - 1) / self.guide_every) as i32)
    }
}

/// How the teacher acts on PPO.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Teaching {
    /// LLM4Teach: the distillation term.
    Distill,
    /// IHAC: the distillation term, guided sampling and the alignment phase.
    Ihac,
    /// in5490: the suggestion bonus and logit bias.
    Shaping,
}

/// What the teacher has cost so far, and the shaping bonuses paid: the run's `teacher` result and
/// its counters in `latest.state`.
#[derive(Copy, Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TeacherTotals {
    #[serde(flatten)]
    pub stats: TeacherStats,
    pub shaping_bonuses: u64,
}

/// The teacher as PPO's [`Guide`] for one algorithm.
pub struct Guided {
    pub teaching: Teaching,
    pub args: GuideArgs,
    pub teacher: Teacher,
    /// The teacher's costs and the shaping bonuses, readable while training runs.
    pub totals: Rc<Cell<TeacherTotals>>,
    /// Shaping: each env's suggestion now, and the suggestions already rewarded this episode.
    suggestion: Vec<Option<(Pos, Dir, Action)>>,
    rewarded: Vec<HashSet<(Pos, Dir, Action)>>,
    dist: Vec<f32>,
}

impl Guided {
    pub fn new(teaching: Teaching, args: GuideArgs, env_id: &str) -> anyhow::Result<Guided> {
        args.check()?;
        let planner = args.planner.build()?;
        let teacher = Teacher::new(planner, env_id, args.teacher_samples, args.hard_teacher);
        Ok(Guided {
            teaching,
            args,
            teacher,
            totals: Rc::new(Cell::new(TeacherTotals::default())),
            suggestion: Vec::new(),
            rewarded: Vec::new(),
            dist: vec![0.0; Action::COUNT],
        })
    }

    /// Go on counting from a resumed run's totals.
    fn restore(&mut self, totals: TeacherTotals) {
        self.teacher.stats = totals.stats;
        self.totals.set(totals);
    }

    fn publish(&mut self) {
        let mut t = self.totals.get();
        t.stats = self.teacher.stats;
        self.totals.set(t);
    }
}

const THREADS: &str =
    "the guided algorithms read every env on the training thread: use --env-threads 0";

impl Guide for Guided {
    fn teacher(&mut self, envs: &dyn Envs, out: &mut [f32]) -> anyhow::Result<()> {
        let k = Action::COUNT;
        self.suggestion.resize(envs.info().len(), None);
        self.rewarded.resize_with(envs.info().len(), HashSet::new);
        for i in 0..envs.info().len() {
            let env = envs.env(i).context(THREADS)?;
            self.teacher
                .distribution(i, env, &mut self.dist)
                .map_err(|e| anyhow::anyhow!("the teacher's planner failed: {e}"))?;
            let row = &mut out[i * k..(i + 1) * k];
            row.copy_from_slice(&self.dist);
            if self.teaching == Teaching::Shaping {
                // in5490 suggests one action: the teacher's most likely one.
                let a = gridmentor_core::nn::policy::argmax(&self.dist);
                row.fill(0.0);
                row[a] = 1.0;
                let w = &env.world;
                self.suggestion[i] = Some((w.agent_pos, w.agent_dir, Action::ALL[a]));
            }
        }
        self.publish();
        Ok(())
    }

    fn stepped(&mut self, envs: &dyn Envs, actions: &[u8], bonus: &mut [f32]) {
        let mut totals = self.totals.get();
        for i in 0..envs.info().len() {
            let Some(env) = envs.env(i) else { continue };
            let action = Action::ALL[actions[i] as usize];
            let done = envs.info()[i].done;
            if self.teaching == Teaching::Shaping
                && let Some(s) = self.suggestion[i]
                && s.2 == action
                && self.rewarded[i].insert(s)
            {
                bonus[i] += self.args.shaping_bonus;
                totals.shaping_bonuses += 1;
            }
            if done {
                self.rewarded[i].clear();
            }
            self.teacher.stepped(i, env, action, done);
        }
        self.totals.set(totals);
        self.publish();
    }

    fn guidance(&self, u: usize, updates: usize) -> Guidance {
        let a = &self.args;
        let mut g = Guidance {
            max_weight: a.max_weight,
            ..Guidance::default()
        };
        match self.teaching {
            Teaching::Distill => g.distill = a.teach_coef_at(u),
            Teaching::Ihac => {
                g.distill = a.teach_coef_at(u);
                g.guide = a.guide_coef_at(u);
                g.align = (u as f64) <= a.align_fraction * updates as f64;
            }
            Teaching::Shaping => {
                let end = a.shaping_bias_fraction * updates as f64;
                let left = if end > 0.0 {
                    (1.0 - (u - 1) as f64 / end).max(0.0)
                } else {
                    0.0
                };
                g.bias = a.shaping_bias * left as f32;
            }
        }
        g
    }
}

/// The metrics.csv columns of a guided run: the weights of the update, how the student compares
/// with the teacher, and what the teacher cost.
fn metrics(s: &Stats, t: TeacherTotals) -> Vec<Metric> {
    let g = s.guidance;
    let c = t.stats;
    vec![
        Metric::new("teacher_coef", Some("teacher/coef"), g.distill),
        Metric::new("guide_coef", Some("teacher/guide_coef"), g.guide),
        Metric::new("logit_bias", Some("teacher/logit_bias"), g.bias),
        Metric::new("align", None, g.align),
        Metric::new("teacher_ce", Some("teacher/cross_entropy"), s.teacher_ce),
        Metric::new("agreement", Some("teacher/agreement"), s.agreement),
        Metric::new("llm_calls", Some("llm/calls"), c.llm_calls),
        Metric::new("cache_hits", Some("llm/cache_hits"), c.cache_hits),
        Metric::new("cache_misses", Some("llm/cache_misses"), c.cache_misses),
        Metric::new(
            "tokens",
            Some("llm/tokens"),
            c.prompt_tokens + c.completion_tokens,
        ),
        Metric::new("planner_ms", Some("llm/planner_ms"), c.planner_ms),
        Metric::new(
            "shaping_bonuses",
            Some("shaping/bonuses"),
            t.shaping_bonuses,
        ),
    ]
}

/// `train --algo llm4teach|ihac|shaping`: the student is plain PPO's network on the env's own
/// actions, acting on its own; the teacher reads every env on the training thread.
pub fn setup(
    teaching: Teaching,
    cfg: &Config,
    guide: &GuideArgs,
    env: &'static EnvSpec,
    resumed: Option<&Resumed>,
) -> anyhow::Result<Trainee> {
    anyhow::ensure!(cfg.env_threads == 0, THREADS);
    let mut guided = Guided::new(teaching, guide.clone(), env.id)?;
    if let Some(r) = resumed {
        guided.restore(r.counters()?);
    }
    let mut trainee = super::plain(cfg, env, resumed)?;
    trainee.settings = AlgoSettings {
        guide: Some(GuideRecord {
            args: guide.clone(),
            planner: guided.teacher.planner_name(),
        }),
        ..AlgoSettings::default()
    };
    let totals = guided.totals.clone();
    trainee.metrics = Box::new(move |s| Ok(metrics(s, totals.get())));
    let totals = guided.totals.clone();
    trainee.counters = Box::new(move || serde_json::to_value(totals.get()).unwrap_or_default());
    trainee.guide = Some(guided);
    Ok(trainee)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_papers() {
        let a = GuideArgs::default();
        assert_eq!(a.planner, PlannerSpec::default());
        assert_eq!(
            (a.teacher_samples, a.teach_coef, a.teach_until),
            (10, 10.0, 3000)
        );
        assert_eq!(
            (a.guide_coef, a.guide_decay, a.guide_every),
            (1.0, 0.99, 10)
        );
        assert_eq!(a.align_fraction, 0.1);
    }

    #[test]
    fn schedules_follow_the_papers() {
        let a = GuideArgs::default();
        assert_eq!(a.teach_coef_at(1), 10.0);
        assert!((a.teach_coef_at(201) - 9.0).abs() < 1e-4);
        assert_eq!(a.teach_coef_at(2500), 0.1);
        assert_eq!(a.teach_coef_at(3000), 0.1);
        assert_eq!(a.teach_coef_at(3001), 0.0);
        assert_eq!(a.guide_coef_at(10), 1.0);
        assert!((a.guide_coef_at(11) - 0.99).abs() < 1e-6);
        assert!((a.guide_coef_at(101) - 0.99f32.powi(10)).abs() < 1e-6);
    }

    #[test]
    fn ihac_aligns_first_and_shaping_bias_anneals() {
        let g = Guided::new(Teaching::Ihac, GuideArgs::default(), "SimpleDoorKey").unwrap();
        assert!(g.guidance(10, 100).align);
        assert!(!g.guidance(11, 100).align);
        let args = GuideArgs {
            shaping_bias: 2.0,
            ..GuideArgs::default()
        };
        let s = Guided::new(Teaching::Shaping, args, "SimpleDoorKey").unwrap();
        assert_eq!(s.guidance(1, 100).bias, 2.0);
        assert!((s.guidance(26, 100).bias - 1.0).abs() < 1e-6);
        assert_eq!(s.guidance(60, 100).bias, 0.0);
        assert_eq!(s.guidance(60, 100).distill, 0.0);
    }
}
