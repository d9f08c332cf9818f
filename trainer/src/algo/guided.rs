//! The teacher-guided algorithms on PPO's one update: LLM4Teach (a distillation term), IHAC
//! (guided sampling, an alignment phase) and in5490's shaping (a bonus, an annealed logit bias).

use super::settings::{AlgoSettings, GuideArgs, GuideRecord};
use super::trainee::{Resumed, Trainee};
use crate::metric::Metric;
use crate::ppo::update::{Guidance, Guide};
use crate::ppo::{Config, Envs, Stats};
use anyhow::Context;
use gridmentor_core::EnvSpec;
use gridmentor_core::agent::teacher::{Teacher, TeacherStats};
use gridmentor_core::world::{Action, Obj, World};
use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;

/// What the teacher has cost so far, and the shaping bonuses paid: the run's `teacher` result and
/// its counters in `latest.state`.
#[derive(Copy, Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TeacherTotals {
    #[serde(flatten)]
    pub stats: TeacherStats,
    pub shaping_bonuses: u64,
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

/// The teacher as PPO's [`Guide`] for one algorithm.
pub struct Guided {
    pub teaching: Teaching,
    pub args: GuideArgs,
    pub teacher: Teacher,
    /// The teacher's costs and the shaping bonuses, readable while training runs.
    pub totals: Rc<Cell<TeacherTotals>>,
    /// Shaping: each env's suggestion now, and the suggestions already rewarded this episode.
    suggestion: Vec<Option<Suggestion>>,
    rewarded: Vec<HashSet<Suggestion>>,
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

/// A suggestion as in5490's LLM words it ("move forward", "pick up the key", "open the door"):
/// the action and the object it acts on, not where the agent stands. The bonus is paid once per
/// suggestion per episode, so an episode earns at most a handful of them. Keyed by the agent's
/// pose, every new cell made "move forward" a new suggestion: agents learnt to wander for
/// bonuses (about 90 an episode on DoorKey-8x8 at 0.1 each, against a success reward below 1)
/// and stopped finishing.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Suggestion {
    pub action: Action,
    /// What the action acts on: the cell ahead for pick up and toggle, the carried object for
    /// drop; none for moving, turning and done.
    pub object: Option<Obj>,
}

impl Suggestion {
    pub fn of(world: &World, action: Action) -> Suggestion {
        let object = match action {
            Action::Pickup | Action::Toggle => world.front_cell(),
            Action::Drop => world.carrying,
            Action::Left | Action::Right | Action::Forward | Action::Done => None,
        };
        Suggestion { action, object }
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
                self.suggestion[i] = Some(Suggestion::of(&env.world, Action::ALL[a]));
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
            // Without a bonus (policy influencing alone) nothing is paid, and nothing counted.
            if self.teaching == Teaching::Shaping
                && self.args.shaping_bonus > 0.0
                && let Some(s) = self.suggestion[i]
                && s.action == action
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
    let mut trainee = super::plain::setup(cfg, env, resumed)?;
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
    trainee.teacher = Some(guided.totals.clone());
    trainee.guide = Some(Box::new(guided));
    Ok(trainee)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner_spec::PlannerSpec;

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
