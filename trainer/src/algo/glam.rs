//! GLAM's LLM-as-policy on BabyAI-Text (evaluation only): the six action texts are scored by a
//! language model given GLAM's prompt (goal, last 3 observations, last 2 actions), and the
//! policy is the softmax over the scores. The scripted expert scorer is its upper bound.

use crate::llm::HttpPlanner;
use crate::planner_spec::PlannerSpec;
use crate::summary::Totals;
use anyhow::bail;
use gridmentor_core::Env;
use gridmentor_core::obs::memory_map::MemoryMap;
use gridmentor_core::obs::text;
use gridmentor_core::planner::{
    Message, PlannerError, Prompt, PromptStyle, Role, candidate_distribution,
};
use gridmentor_core::rules::instr::{Instr, ObjDesc};
use gridmentor_core::skills::{Skill, SkillRun, SkillStep, Target};
use gridmentor_core::world::{Action, DoorState, Kind, Obj};
use std::collections::VecDeque;
use std::time::Instant;

/// GLAM's action space, in its words.
pub const ACTION_TEXTS: [&str; 6] = [
    "turn left",
    "turn right",
    "go forward",
    "pick up",
    "drop",
    "toggle",
];
const ACTIONS: [Action; 6] = [
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
        messages: vec![Message {
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
        let skill = match &self.instr {
            Some(Instr::GoTo(d)) => target(d).map(Skill::GoTo),
            Some(Instr::Pickup { desc, .. }) => target(desc).map(Skill::PickUp),
            Some(Instr::Open(d)) => target(d).map(|t| {
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
            // Putting next to needs a drop beside a given object, which no skill does.
            _ => None,
        };
        match skill {
            Some(s @ (Skill::GoTo(t) | Skill::PickUp(t) | Skill::Toggle(t))) if seen(t) => s,
            _ => Skill::Explore,
        }
    }

    /// The expert's next action.
    pub fn action(&mut self) -> Action {
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

/// Who scores the action texts.
pub enum ScorerBackend {
    /// The expert's action scores 0, the others -10 (an upper bound, not an LLM).
    Expert,
    /// `POST /v1/score` of an OpenAI-compatible server (docs/api.md).
    Http(Box<HttpPlanner>),
}

impl ScorerBackend {
    pub fn from_spec(spec: &PlannerSpec) -> anyhow::Result<ScorerBackend> {
        match spec {
            PlannerSpec::Http(url) => {
                Ok(ScorerBackend::Http(Box::new(HttpPlanner::from_spec(url)?)))
            }
            PlannerSpec::Expert { .. } if spec.is_deterministic() => Ok(ScorerBackend::Expert),
            _ => bail!("llm-policy scores with `expert` or http://HOST/v1#model, not \"{spec}\""),
        }
    }

    pub fn name(&self) -> String {
        match self {
            ScorerBackend::Expert => "scripted expert scorer".into(),
            ScorerBackend::Http(h) => format!("{} (scoring)", h.endpoint()),
        }
    }
}

/// Play `episodes` episodes of a BabyAI env (seeds `seed + i`) with the LLM policy, acting by
/// the most likely action (`greedy`) or sampling from the softmax.
pub fn evaluate(
    env_id: &str,
    backend: &mut ScorerBackend,
    episodes: u32,
    seed: u64,
    greedy: bool,
) -> anyhow::Result<Totals> {
    let spec = gridmentor_core::registry::find(env_id)?;
    if spec.family != "babyai" {
        bail!(
            "llm-policy plays the BabyAI-Text tasks; {} is a {} task (see `gridmentor envs`)",
            spec.id,
            spec.family
        );
    }
    let mut rng = gridmentor_core::rng::Rng::new(seed);
    let mut r = Totals::default();
    for i in 0..episodes {
        let mut env = Env::new(spec, seed + i as u64);
        let mut expert = BabyAiExpert::new(&env);
        let mut observations: VecDeque<Vec<String>> = VecDeque::new();
        let mut actions: VecDeque<&str> = VecDeque::new();
        let mut ret = 0.0;
        loop {
            observations.push_back(text::babyai(&env.world));
            if observations.len() > 3 {
                observations.pop_front();
            }
            while actions.len() >= observations.len() {
                actions.pop_front();
            }
            let prompt = glam_prompt(
                &env.mission,
                observations.make_contiguous(),
                actions.make_contiguous(),
            );
            let scores = match backend {
                ScorerBackend::Expert => {
                    let a = expert.action();
                    ACTIONS
                        .iter()
                        .map(|&b| if a == b { 0.0 } else { -10.0 })
                        .collect::<Vec<f64>>()
                }
                ScorerBackend::Http(h) => {
                    let t = Instant::now();
                    let s = h
                        .score(&prompt, &ACTION_TEXTS)
                        .map_err(|e: PlannerError| anyhow::anyhow!("scoring failed: {e}"))?;
                    r.calls += 1;
                    r.tokens += (s.usage.prompt_tokens + s.usage.completion_tokens) as u64;
                    r.planner_ms += t.elapsed().as_secs_f64() * 1e3;
                    s.logprobs
                }
            };
            let dist = candidate_distribution(&scores, 1.0);
            let k = if greedy {
                gridmentor_core::nn::policy::argmax(&dist)
            } else {
                let lp: Vec<f32> = dist.iter().map(|p| p.max(1e-12).ln()).collect();
                gridmentor_core::nn::policy::sample(&lp, &mut rng)
            };
            let t = env.step(ACTIONS[k]);
            actions.push_back(ACTION_TEXTS[k]);
            expert.observe(&env);
            ret += t.reward as f64;
            if t.terminated || t.truncated {
                let success = t.success();
                r.episode(ret, env.world.step_count as u64, success);
                break;
            }
        }
    }
    Ok(r)
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
        for id in ["BabyAI-GoToLocal-v0", "BabyAI-PickupLoc-v0"] {
            let r = evaluate(id, &mut ScorerBackend::Expert, 20, 0, true).unwrap();
            assert!(r.wins >= 16, "{id}: {}/20", r.wins);
        }
        let err = evaluate("SimpleDoorKey", &mut ScorerBackend::Expert, 1, 0, true).unwrap_err();
        assert!(err.to_string().contains("BabyAI-Text"), "{err}");
    }
}
