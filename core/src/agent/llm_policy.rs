//! GLAM's LLM policy on BabyAI-Text: the policy is the softmax over the log-likelihoods an LLM
//! gives the six action texts after GLAM's prompt (goal, last observations, last actions).

use super::random::episode_rng;
use super::{Agent, AgentError, AgentStats, Decision, Step};
use crate::Env;
use crate::obs::memory_map::MemoryMap;
use crate::obs::text;
use crate::planner::{
    Message, PlannerError, Prompt, PromptStyle, Role, Scorer, candidate_distribution,
};
use crate::rng::Rng;
use crate::rules::instr::{Instr, ObjDesc};
use crate::skills::{Skill, SkillRun, SkillStep, Target};
use crate::world::{Action, DoorState, Kind, Obj};
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// GLAM's action space, in its words.
pub const ACTION_TEXTS: [&str; 6] = [
    "turn left",
    "turn right",
    "go forward",
    "pick up",
    "drop",
    "toggle",
];
/// The env's actions of [`ACTION_TEXTS`], in order.
pub const ACTIONS: [Action; 6] = [
    Action::Left,
    Action::Right,
    Action::Forward,
    Action::Pickup,
    Action::Drop,
    Action::Toggle,
];

/// GLAM's prompt: the action space, the goal, then the last 3 observations interleaved with the
/// last 2 actions, ending where the next action is to be written.
pub fn glam_prompt(goal: &str, observations: &[Vec<String>], actions: &[&str]) -> Prompt {
    let mut s = format!(
        "Possible action of the agent: {}\n \n Goal of the agent: {goal}",
        ACTION_TEXTS.join(", ")
    );
    for (i, o) in observations.iter().enumerate() {
        s.push_str(&format!("\n Observation {i}: {}", o.join(", ")));
        s.push_str(&format!("\n Action {i}: "));
        if let Some(a) = actions.get(i) {
            s.push_str(a);
        }
    }
    Prompt {
        style: PromptStyle::Llm4Teach,
        messages: alloc::vec![Message {
            role: Role::User,
            content: s,
        }],
    }
}

/// The BabyAI oracle behind the expert scorer: the mission's instruction run by the skills on
/// the memory map (go to, pick up, open; locked doors need their key first).
pub struct BabyAiExpert {
    instr: Option<Instr>,
    map: MemoryMap,
    view: u8,
    run: Option<SkillRun>,
}

fn target(d: &ObjDesc) -> Option<Target> {
    d.kind.map(|k| Target::new(k, d.color))
}

impl BabyAiExpert {
    pub fn new(env: &Env) -> BabyAiExpert {
        BabyAiExpert {
            instr: Instr::parse(&env.mission).ok(),
            map: MemoryMap::new(&env.world),
            view: env.world.view_size,
            run: None,
        }
    }

    pub fn observe(&mut self, env: &Env) {
        self.map.update(&env.world);
    }

    fn wanted(&self) -> Skill {
        let seen = |t: Target| self.map.objects().any(|(_, o)| t.matches(o));
        match self.instr.as_ref().and_then(|i| self.skill_for(i)) {
            Some(s @ (Skill::GoTo(t) | Skill::PickUp(t) | Skill::Toggle(t))) if seen(t) => s,
            _ => Skill::Explore,
        }
    }

    /// The skill that does `instr` from here (`None`: no skill does it).
    fn skill_for(&self, instr: &Instr) -> Option<Skill> {
        match instr {
            Instr::GoTo(d) => target(d).map(Skill::GoTo),
            Instr::Pickup { desc, .. } => target(desc).map(Skill::PickUp),
            Instr::Open(d) => target(d).map(|t| {
                let locked = self.map.objects().find_map(|(_, o)| match o {
                    Obj::Door(c, DoorState::Locked) if t.matches(o) => Some(c),
                    _ => None,
                });
                match locked {
                    Some(c) if self.map.carrying().is_none_or(|k| k != Obj::Key(c)) => {
                        Skill::PickUp(Target::new(Kind::Key, Some(c)))
                    }
                    _ => Skill::Toggle(t),
                }
            }),
            // A sequence whose first part is a pick-up (GLAM's "pick up A, then go to B") is
            // past its first part once A is carried; other first parts are not followed.
            Instr::Seq { first, second, .. } => {
                let first_done = match &**first {
                    Instr::Pickup { desc, .. } => target(desc)
                        .zip(self.map.carrying())
                        .is_some_and(|(t, o)| t.matches(o)),
                    _ => false,
                };
                self.skill_for(if first_done { second } else { first })
            }
            // Fetch the object to move; carried, `put_next_action` takes it beside the other.
            Instr::PutNext { moved, .. } => target(moved).map(Skill::PickUp),
        }
    }

    /// Carrying the object to put next to another: the way to a pose facing an empty cell
    /// beside it, then drop (no skill drops beside a given object). `None` while the object is
    /// not carried (the pick-up skill fetches it) or no such cell is known.
    fn put_next_action(&self) -> Option<Action> {
        use crate::skills::path::{Knowledge, shortest_first_action};
        let Some(Instr::PutNext { moved, fixed }) = &self.instr else {
            return None;
        };
        let (moved, fixed) = (target(moved)?, target(fixed)?);
        if !self.map.carrying().is_some_and(|o| moved.matches(o)) {
            return None;
        }
        let beside: Vec<_> = self
            .map
            .objects()
            .filter(|(_, o)| fixed.matches(*o))
            .map(|(p, _)| p)
            .collect();
        let k = Knowledge::new(&self.map, self.view);
        // BabyAI's `pos_next_to`: one step apart, not diagonally.
        let next_to = |c: crate::world::Pos| beside.iter().any(|&b| c.manhattan(b) == 1);
        match shortest_first_action(&k, |pose| {
            let c = pose.front();
            k.can_drop_at(c) && next_to(c)
        })? {
            Some(a) => Some(a),
            None => Some(Action::Drop),
        }
    }

    /// The expert's next action.
    pub fn action(&mut self) -> Action {
        if let Some(a) = self.put_next_action() {
            self.run = None;
            return a;
        }
        let want = self.wanted();
        if self.run.as_ref().is_none_or(|r| r.skill != want) {
            self.run = Some(SkillRun::new(want));
        }
        for _ in 0..2 {
            let run = self.run.as_mut().expect("set above");
            match run.next(&self.map, self.view) {
                SkillStep::Act(a) => return a,
                // Finished or failed: start the skill again once (explore restarts afresh).
                _ => self.run = Some(SkillRun::new(want)),
            }
        }
        Action::Left
    }
}

/// What GLAM's prompt remembers of an episode: the current text observation, the previous ones
/// and the actions taken after each (the last 3 kept).
#[derive(Clone, Debug, Default)]
pub struct GlamHistory {
    current: Vec<String>,
    observations: VecDeque<Vec<String>>,
    actions: VecDeque<&'static str>,
}

impl GlamHistory {
    /// A new episode in `env`.
    pub fn reset(&mut self, env: &Env) {
        self.current = text::babyai(&env.world);
        self.observations.clear();
        self.actions.clear();
    }

    /// The prompt for the current state (the last 3 observations, the last 2 actions).
    pub fn prompt(&self, env: &Env) -> Prompt {
        let mut obs = self.observations.clone();
        obs.push_back(self.current.clone());
        if obs.len() > 3 {
            obs.pop_front();
        }
        let mut acts = self.actions.clone();
        while acts.len() >= obs.len() {
            acts.pop_front();
        }
        glam_prompt(&env.mission, obs.make_contiguous(), acts.make_contiguous())
    }

    /// `taken` was done and `env` is the state after it.
    pub fn observe(&mut self, env: &Env, taken: Action) {
        let seen = core::mem::replace(&mut self.current, text::babyai(&env.world));
        self.observations.push_back(seen);
        // `done` is not one of GLAM's actions: a keyboard step that took it shows as nothing.
        let said = ACTIONS
            .iter()
            .position(|&a| a == taken)
            .map_or("", |k| ACTION_TEXTS[k]);
        self.actions.push_back(said);
        while self.observations.len() > 3 {
            self.observations.pop_front();
        }
        while self.actions.len() > 3 {
            self.actions.pop_front();
        }
    }
}

/// Who scores the action texts.
pub enum PolicyScorer<S> {
    /// The BabyAI expert's action scores 0, the others -10 (an upper bound, not an LLM).
    Expert,
    /// An LLM (the server's `/v1/score`, or the embedded model).
    Llm { scorer: S, name: String },
}

/// GLAM's LLM policy acting in a BabyAI-Text env.
pub struct LlmPolicyAgent<S: Scorer> {
    pub scorer: PolicyScorer<S>,
    pub greedy: bool,
    /// The policy is softmax(log-likelihood / T) (GLAM: T = 1; a grounded checkpoint records
    /// the T it was trained at).
    pub temperature: f64,
    seed: u64,
    rng: Rng,
    expert: Option<BabyAiExpert>,
    history: GlamHistory,
    stats: AgentStats,
    /// The step decided but not yet taken (a repeated decision returns it).
    pending: Option<Step>,
}

impl<S: Scorer> LlmPolicyAgent<S> {
    pub fn new(scorer: PolicyScorer<S>, seed: u64, greedy: bool) -> LlmPolicyAgent<S> {
        LlmPolicyAgent {
            scorer,
            greedy,
            temperature: 1.0,
            seed,
            rng: Rng::new(seed),
            expert: None,
            history: GlamHistory::default(),
            stats: AgentStats::default(),
            pending: None,
        }
    }

    /// The same agent with policy temperature `t` (positive).
    pub fn with_temperature(mut self, t: f64) -> LlmPolicyAgent<S> {
        self.temperature = t;
        self
    }

    /// The prompt for the current state (the last 3 observations, the last 2 actions).
    pub fn prompt(&self, env: &Env) -> Prompt {
        self.history.prompt(env)
    }
}

impl<S: Scorer> Agent for LlmPolicyAgent<S> {
    fn name(&self) -> String {
        match &self.scorer {
            PolicyScorer::Expert => "scripted expert scorer (not an LLM)".into(),
            PolicyScorer::Llm { name, .. } => format!("LLM policy: {name}"),
        }
    }

    fn reset(&mut self, env: &Env, env_id: &str) -> Result<(), AgentError> {
        if env.spec().is_some_and(|s| s.family != "babyai") {
            return Err(AgentError::Unplayable(format!(
                "the LLM policy plays the BabyAI-Text tasks; {env_id} is not one"
            )));
        }
        self.expert = Some(BabyAiExpert::new(env));
        self.history.reset(env);
        self.rng = episode_rng(self.seed, env.seed(), 0x61A3);
        self.pending = None;
        Ok(())
    }

    fn decide(&mut self, env: &Env) -> Result<Decision, AgentError> {
        if let Some(s) = &self.pending {
            return Ok(Decision::Act(s.clone()));
        }
        let expert = self.expert.as_mut().ok_or(AgentError::NotStarted)?;
        let scores: Vec<f64> = match &mut self.scorer {
            PolicyScorer::Expert => {
                let a = expert.action();
                ACTIONS
                    .iter()
                    .map(|&b| if a == b { 0.0 } else { -10.0 })
                    .collect()
            }
            PolicyScorer::Llm { .. } => {
                let prompt = self.prompt(env);
                let PolicyScorer::Llm { scorer, .. } = &mut self.scorer else {
                    unreachable!("matched above")
                };
                let s = match scorer.score_candidates(&prompt, &ACTION_TEXTS) {
                    Ok(s) => s,
                    Err(PlannerError::Awaiting(p)) => return Ok(Decision::Await(p)),
                    Err(PlannerError::Failed(e)) => return Err(AgentError::Planner(e)),
                };
                if s.logprobs.len() != ACTIONS.len() {
                    return Err(AgentError::Planner(format!(
                        "{} scores for {} actions",
                        s.logprobs.len(),
                        ACTIONS.len()
                    )));
                }
                self.stats.planner_calls += 1;
                self.stats.prompt_tokens += s.usage.prompt_tokens as u64;
                self.stats.completion_tokens += s.usage.completion_tokens as u64;
                self.stats.planner_ms += s.latency_ms;
                s.logprobs
            }
        };
        // The expert's scores are a ranking, not likelihoods: no temperature.
        let t = match self.scorer {
            PolicyScorer::Expert => 1.0,
            PolicyScorer::Llm { .. } => self.temperature,
        };
        let dist = candidate_distribution(&scores, t);
        let k = if self.greedy {
            super::argmax(&dist)
        } else {
            super::sample_probs(&dist, &mut self.rng)
        };
        // The env's 7 actions: GLAM's six, and done never chosen.
        let mut probs = alloc::vec![0.0; Action::COUNT];
        for (&a, &p) in ACTIONS.iter().zip(&dist) {
            probs[a as usize] = p;
        }
        let step = Step::with_probs(ACTIONS[k], probs);
        self.pending = Some(step.clone());
        Ok(Decision::Act(step))
    }

    fn observe(&mut self, env: &Env, taken: Action) {
        self.history.observe(env, taken);
        if let Some(e) = &mut self.expert {
            e.observe(env);
        }
        self.pending = None;
    }

    fn stats(&self) -> AgentStats {
        self.stats
    }
}
