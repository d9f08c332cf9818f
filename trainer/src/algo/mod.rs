//! The LLM-guided algorithms on the one PPO update: When2Ask's mediator and skills-rl (their
//! own environments: ask / don't ask, options over skills), and the teacher-guided ones here:
//! LLM4Teach (distillation term), IHAC (guided sampling, alignment phase) and in5490's shaping
//! (bonus, annealed logit bias).

pub mod ask;
pub mod glam;
pub mod run;
pub mod skills_rl;
pub mod teacher;
pub mod when2ask;

use crate::ppo::Envs;
use crate::ppo::update::{Guidance, Guide};
use anyhow::Context;
use gridmentor_core::world::{Action, Dir, Pos};
use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;
pub use teacher::{Teacher, TeacherStats};

/// The `--algo` values this module trains.
pub const ALGOS: [&str; 3] = ["llm4teach", "ihac", "shaping"];

/// Which guided algorithm.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Algo {
    Llm4Teach,
    Ihac,
    Shaping,
}

impl Algo {
    pub fn from_name(s: &str) -> Option<Algo> {
        match s {
            "llm4teach" => Some(Algo::Llm4Teach),
            "ihac" => Some(Algo::Ihac),
            "shaping" => Some(Algo::Shaping),
            _ => None,
        }
    }
}

/// The teacher and the schedules of the guided algorithms (paper defaults).
#[derive(clap::Args, serde::Serialize, Clone, Debug)]
pub struct GuideArgs {
    /// The teacher's planner: `expert`, `expert:noise=P[,seed=N]`, or `http://HOST/v1#model`.
    #[arg(long, default_value = "expert")]
    pub planner: String,
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

impl Default for GuideArgs {
    fn default() -> GuideArgs {
        GuideArgs {
            planner: "expert".into(),
            teacher_samples: 10,
            hard_teacher: false,
            teach_coef: 10.0,
            teach_decay: 0.005,
            teach_floor: 0.1,
            teach_until: 3000,
            guide_coef: 1.0,
            guide_decay: 0.99,
            guide_every: 10,
            align_fraction: 0.1,
            max_weight: 5.0,
            shaping_bonus: 0.1,
            shaping_bias: 0.0,
            shaping_bias_fraction: 0.5,
        }
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

/// The teacher as PPO's [`Guide`] for one algorithm.
pub struct Guided {
    pub algo: Algo,
    pub args: GuideArgs,
    pub teacher: Teacher,
    /// The teacher's costs and the shaping bonus paid, readable while training runs.
    pub stats: Rc<Cell<(TeacherStats, u64)>>,
    /// Shaping: each env's suggestion now, and the suggestions already rewarded this episode.
    suggestion: Vec<Option<(Pos, Dir, Action)>>,
    rewarded: Vec<HashSet<(Pos, Dir, Action)>>,
    bonuses: u64,
    dist: Vec<f32>,
}

impl Guided {
    pub fn new(algo: Algo, args: GuideArgs, env_id: &str) -> anyhow::Result<Guided> {
        args.check()?;
        let planner = crate::eval::planner_from_spec(&args.planner)?;
        let teacher = Teacher::new(planner, env_id, args.teacher_samples, args.hard_teacher);
        Ok(Guided {
            algo,
            args,
            teacher,
            stats: Rc::new(Cell::new((TeacherStats::default(), 0))),
            suggestion: Vec::new(),
            rewarded: Vec::new(),
            bonuses: 0,
            dist: vec![0.0; Action::COUNT],
        })
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
            if self.algo == Algo::Shaping {
                // in5490 suggests one action: the teacher's most likely one.
                let a = gridmentor_core::nn::policy::argmax(&self.dist);
                row.fill(0.0);
                row[a] = 1.0;
                let w = &env.world;
                self.suggestion[i] = Some((w.agent_pos, w.agent_dir, Action::ALL[a]));
            }
        }
        self.stats.set((self.teacher.stats, self.bonuses));
        Ok(())
    }

    fn stepped(&mut self, envs: &dyn Envs, actions: &[u8], bonus: &mut [f32]) {
        for i in 0..envs.info().len() {
            let Some(env) = envs.env(i) else { continue };
            let action = Action::ALL[actions[i] as usize];
            let done = envs.info()[i].done;
            if self.algo == Algo::Shaping
                && let Some(s) = self.suggestion[i]
                && s.2 == action
                && self.rewarded[i].insert(s)
            {
                bonus[i] += self.args.shaping_bonus;
                self.bonuses += 1;
            }
            if done {
                self.rewarded[i].clear();
            }
            self.teacher.stepped(i, env, action, done);
        }
        self.stats.set((self.teacher.stats, self.bonuses));
    }

    fn guidance(&self, u: usize, updates: usize) -> Guidance {
        let a = &self.args;
        let mut g = Guidance {
            max_weight: a.max_weight,
            ..Guidance::default()
        };
        match self.algo {
            Algo::Llm4Teach => g.distill = a.teach_coef_at(u),
            Algo::Ihac => {
                g.distill = a.teach_coef_at(u);
                g.guide = a.guide_coef_at(u);
                g.align = (u as f64) <= a.align_fraction * updates as f64;
            }
            Algo::Shaping => {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let g = Guided::new(Algo::Ihac, GuideArgs::default(), "SimpleDoorKey").unwrap();
        assert!(g.guidance(10, 100).align);
        assert!(!g.guidance(11, 100).align);
        let args = GuideArgs {
            shaping_bias: 2.0,
            ..GuideArgs::default()
        };
        let s = Guided::new(Algo::Shaping, args, "SimpleDoorKey").unwrap();
        assert_eq!(s.guidance(1, 100).bias, 2.0);
        assert!((s.guidance(26, 100).bias - 1.0).abs() < 1e-6);
        assert_eq!(s.guidance(60, 100).bias, 0.0);
        assert_eq!(s.guidance(60, 100).distill, 0.0);
    }
}
