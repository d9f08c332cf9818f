//! The LLM4Teach teacher: soft plans cached per abstract observation text, each plan run by the
//! skills on its env's own memory map; the teacher's action distribution is the plans' weights
//! on the actions their running skills take next.

use super::random::episode_rng;
use super::{Agent, AgentError, AgentStats, Decision, Step};
use crate::Env;
use crate::obs::memory_map::MemoryMap;
use crate::obs::text::{self, Naming};
use crate::planner::{self, Planner, PlannerError, Prompt, PromptStyle, SoftPlan};
use crate::planner::{Plan, SoftPlanCache};
use crate::rng::Rng;
use crate::skills::{Skill, SkillRun, SkillStep};
use crate::world::Action;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// What the teacher cost so far.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct TeacherStats {
    /// Calls that reached the planner backend (retries included).
    pub llm_calls: u64,
    /// Abstract observations answered from the soft-plan cache / asked of the planner.
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub planner_ms: f64,
    /// Answers that could not be read as a plan.
    pub unreadable: u64,
}

/// One plan of the soft plan, being executed in one env.
#[derive(Clone, Debug)]
struct PlanRun {
    p: f32,
    rest: VecDeque<Skill>,
    running: Option<SkillRun>,
    /// The action the running skill asked for at the last step.
    proposed: Option<Action>,
}

impl PlanRun {
    fn new(plan: &Plan, p: f32) -> PlanRun {
        PlanRun {
            p,
            rest: plan.0.iter().copied().collect(),
            running: None,
            proposed: None,
        }
    }

    /// The plan's next action; finished skills give way to the next one, a failed skill ends the
    /// plan (`None`: the plan has nothing to say here).
    fn next(&mut self, map: &MemoryMap, view: u8) -> Option<Action> {
        self.proposed = loop {
            if self.running.is_none() {
                match self.rest.pop_front() {
                    Some(s) => self.running = Some(SkillRun::new(s)),
                    None => break None,
                }
            }
            let run = self.running.as_mut().expect("set above");
            match run.next(map, view) {
                SkillStep::Act(a) => break Some(a),
                SkillStep::Finished => self.running = None,
                SkillStep::Failed(_) => {
                    self.running = None;
                    self.rest.clear();
                    break None;
                }
            }
        };
        self.proposed
    }

    /// The student took `action`. A skill that issued pickup or toggle judges that action's
    /// effect at its next call: if the student did something else, the skill starts over rather
    /// than judging an action that never happened. Explore keeps what it had seen at its start.
    fn taken(&mut self, action: Action) {
        if self.proposed != Some(action)
            && let Some(run) = &mut self.running
            && run.skill != Skill::Explore
        {
            *run = SkillRun::new(run.skill);
        }
    }
}

/// The teacher's state in one env.
#[derive(Clone, Debug)]
struct EnvTeacher {
    map: MemoryMap,
    naming: Naming,
    view: u8,
    /// The abstract observation the plans were chosen for.
    text: Option<String>,
    runs: Vec<PlanRun>,
}

/// The teacher of N envs: one planner and one soft-plan cache, a plan executor per env.
pub struct Teacher {
    planner: Box<dyn Planner>,
    pub cache: SoftPlanCache,
    /// Answers asked per abstract observation (LLM4Teach: 10).
    pub samples: u32,
    /// Put all weight on the most frequent plan.
    pub hard: bool,
    pub stats: TeacherStats,
    pub env_id: String,
    envs: Vec<Option<EnvTeacher>>,
}

impl Teacher {
    pub fn new(planner: Box<dyn Planner>, env_id: &str, samples: u32, hard: bool) -> Teacher {
        Teacher {
            planner,
            cache: SoftPlanCache::default(),
            samples: samples.max(1),
            hard,
            stats: TeacherStats::default(),
            env_id: env_id.into(),
            envs: Vec::new(),
        }
    }

    pub fn planner_name(&self) -> String {
        self.planner.info().name
    }

    /// Env `i` starts an episode.
    pub fn reset(&mut self, i: usize, env: &Env) {
        if self.envs.len() <= i {
            self.envs.resize(i + 1, None);
        }
        self.envs[i] = Some(EnvTeacher {
            map: MemoryMap::new(&env.world),
            naming: Naming::for_task(&self.env_id),
            view: env.world.view_size,
            text: None,
            runs: Vec::new(),
        });
    }

    /// Env `i` took `action`; `done` means the episode ended and `env` is already the next one.
    pub fn stepped(&mut self, i: usize, env: &Env, action: Action, done: bool) {
        match self.envs.get_mut(i).and_then(Option::as_mut) {
            Some(t) if !done => {
                t.map.update(&env.world);
                t.runs.iter_mut().for_each(|r| r.taken(action));
            }
            _ => self.reset(i, env),
        }
    }

    /// The abstract observation text of env `i` (LLM4Teach's format).
    pub fn observation(&mut self, i: usize, env: &Env) -> String {
        if self.envs.get(i).is_none_or(Option::is_none) {
            self.reset(i, env);
        }
        let t = self.envs[i].as_ref().expect("reset above");
        text::llm4teach(&t.map, t.naming)
    }

    /// The soft plan for an abstract observation: from the cache, or asked of the planner.
    pub fn soft_plan(
        &mut self,
        observation: &str,
        mission: &str,
    ) -> Result<SoftPlan, PlannerError> {
        if let Some(sp) = self.cache.get(observation) {
            self.stats.cache_hits += 1;
            return Ok(sp.clone());
        }
        self.stats.cache_misses += 1;
        let prompt = Prompt::build(PromptStyle::Llm4Teach, &self.env_id, mission, observation);
        let ex = planner::ask(&mut self.planner, &prompt, self.samples, 2)?;
        self.stats.llm_calls += ex.attempts as u64;
        self.stats.prompt_tokens += ex.usage.prompt_tokens as u64;
        self.stats.completion_tokens += ex.usage.completion_tokens as u64;
        self.stats.planner_ms += ex.latency_ms;
        self.stats.unreadable += (ex.answers.len() - ex.good_plans().count()) as u64;
        // No readable answer: an empty soft plan (the teacher is uniform there).
        let sp = match SoftPlan::from_exchange(&ex) {
            Some(sp) if self.hard => SoftPlan::certain(sp.most_likely().clone()),
            Some(sp) => sp,
            None => SoftPlan { plans: Vec::new() },
        };
        self.cache.insert(observation.into(), sp.clone());
        Ok(sp)
    }

    /// The teacher's action distribution for env `i` now (`out.len() == Action::COUNT`). Call
    /// once per env step: the plans' skills advance with it.
    pub fn distribution(
        &mut self,
        i: usize,
        env: &Env,
        out: &mut [f32],
    ) -> Result<(), PlannerError> {
        let observation = self.observation(i, env);
        let t = self.envs[i].as_ref().expect("observation() resets");
        if t.text.as_deref() != Some(observation.as_str()) {
            let sp = self.soft_plan(&observation, &env.mission)?;
            let t = self.envs[i].as_mut().expect("set");
            t.runs = sp.plans.iter().map(|(p, w)| PlanRun::new(p, *w)).collect();
            t.text = Some(observation);
        }
        let t = self.envs[i].as_mut().expect("set");
        out.fill(0.0);
        let mut rest = 1.0;
        for run in &mut t.runs {
            if let Some(a) = run.next(&t.map, t.view) {
                out[a as usize] += run.p;
                rest -= run.p;
            }
        }
        // Plans with nothing to do here (and an unreadable answer) spread their weight.
        let rest = rest.max(0.0) / out.len() as f32;
        out.iter_mut().for_each(|o| *o += rest);
        Ok(())
    }
}

/// LLM4Teach's teacher acting alone: at each step it samples (or, greedy, takes the most likely)
/// action of its distribution, the soft plans run by the skills.
pub struct TeacherAgent {
    pub teacher: Teacher,
    pub greedy: bool,
    seed: u64,
    rng: Rng,
    /// The step decided but not yet taken (a repeated decision returns it).
    pending: Option<Step>,
}

impl TeacherAgent {
    pub fn new(teacher: Teacher, seed: u64, greedy: bool) -> TeacherAgent {
        TeacherAgent {
            teacher,
            greedy,
            seed,
            rng: Rng::new(seed),
            pending: None,
        }
    }
}

impl Agent for TeacherAgent {
    fn name(&self) -> String {
        format!("teacher of {}", self.teacher.planner_name())
    }

    fn reset(&mut self, env: &Env, env_id: &str) -> Result<(), AgentError> {
        if env_id != self.teacher.env_id {
            // The prompts name the task; a teacher asked about another one would mislead.
            self.teacher.env_id = env_id.into();
            self.teacher.cache = SoftPlanCache::default();
        }
        self.teacher.reset(0, env);
        self.rng = episode_rng(self.seed, env.seed(), 0x7EAC);
        self.pending = None;
        Ok(())
    }

    fn decide(&mut self, env: &Env) -> Result<Decision, AgentError> {
        if let Some(s) = &self.pending {
            return Ok(Decision::Act(s.clone()));
        }
        let mut dist = [0.0f32; Action::COUNT];
        match self.teacher.distribution(0, env, &mut dist) {
            Ok(()) => {}
            Err(PlannerError::Awaiting(p)) => return Ok(Decision::Await(p)),
            Err(PlannerError::Failed(e)) => return Err(AgentError::Planner(e)),
        }
        let k = if self.greedy {
            super::argmax(&dist)
        } else {
            super::sample_probs(&dist, &mut self.rng)
        };
        let step = Step::with_probs(Action::ALL[k], dist.to_vec());
        self.pending = Some(step.clone());
        Ok(Decision::Act(step))
    }

    fn observe(&mut self, env: &Env, taken: Action) {
        self.pending = None;
        // A step the teacher did not choose (the keyboard) restarts skills that proposed another.
        self.teacher.stepped(0, env, taken, false);
    }

    fn stats(&self) -> AgentStats {
        let t = &self.teacher.stats;
        AgentStats {
            asks: t.cache_hits + t.cache_misses,
            planner_calls: t.llm_calls,
            prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            planner_ms: t.planner_ms,
            unreadable: t.unreadable,
            ..AgentStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::ExpertPlanner;
    use crate::registry;

    fn argmax(xs: &[f32]) -> usize {
        crate::agent::argmax(xs)
    }

    /// Acting by the expert teacher's most likely action solves SimpleDoorKey: the skills run
    /// with their state (a stateless first action would toggle an opened door shut again).
    #[test]
    fn the_expert_teacher_solves_simple_door_key() {
        let id = "SimpleDoorKey";
        let mut teacher = Teacher::new(Box::new(ExpertPlanner::new()), id, 10, false);
        let mut wins = 0;
        for seed in 0..50 {
            let mut env = registry::make(id, seed).unwrap();
            teacher.reset(0, &env);
            let mut d = [0.0; Action::COUNT];
            loop {
                teacher.distribution(0, &env, &mut d).unwrap();
                assert!((d.iter().sum::<f32>() - 1.0).abs() < 1e-5);
                let a = Action::ALL[argmax(&d)];
                let t = env.step(a);
                teacher.stepped(0, &env, a, false);
                if t.terminated || t.truncated {
                    wins += t.success() as u32;
                    break;
                }
            }
        }
        assert!(wins >= 49, "{wins}/50");
        // Few distinct abstract observations: most lookups are cache hits.
        assert!(teacher.stats.cache_misses <= 12, "{:?}", teacher.stats);
        assert!(teacher.stats.cache_hits > teacher.stats.cache_misses);
        assert_eq!(teacher.stats.llm_calls, teacher.stats.cache_misses);
    }

    #[test]
    fn a_noisy_planner_gives_a_soft_teacher() {
        let id = "SimpleDoorKey";
        let planner = Box::new(ExpertPlanner::noisy(0.5, 3));
        let mut soft = Teacher::new(planner, id, 10, false);
        let env = registry::make(id, 1).unwrap();
        let text = soft.observation(0, &env);
        let sp = soft.soft_plan(&text, &env.mission).unwrap();
        assert!(sp.plans.len() > 1, "{sp:?}");
        let mut hard = Teacher::new(Box::new(ExpertPlanner::noisy(0.5, 3)), id, 10, true);
        let sp = hard.soft_plan(&text, &env.mission).unwrap();
        assert_eq!(sp.plans.len(), 1);
    }
}
