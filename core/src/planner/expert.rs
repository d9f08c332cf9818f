//! The scripted expert: the seeds' "offline planner" made general. It reads the same text
//! observation an LLM gets and answers with the right plan for every seed task and the
//! MiniGrid/BabyAI door-key tasks. Optional seeded noise plays an unreliable LLM. It is always
//! labelled a scripted expert, never an LLM.

use super::prompt::{Prompt, split_sees_holds};
use super::{Completion, Plan, Planner, PlannerError, PlannerInfo, PlannerKind, Usage};
use crate::rng::Rng;
use crate::skills::{Skill, Target};
use crate::world::{Color, DoorState, Kind};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// An object as a text observation names it: "locked yellow door", "key", "door2", "goal".
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Named {
    kind: Kind,
    color: Option<Color>,
    state: Option<DoorState>,
}

impl Named {
    fn parse(name: &str) -> Option<Named> {
        let mut state = None;
        let mut color = None;
        let mut kind = None;
        for w in name.split_whitespace() {
            match w {
                "locked" => state = Some(DoorState::Locked),
                "open" => state = Some(DoorState::Open),
                "closed" => state = Some(DoorState::Closed),
                "key" => kind = Some(Kind::Key),
                "box" => kind = Some(Kind::Box),
                "ball" => kind = Some(Kind::Ball),
                "goal" => kind = Some(Kind::Goal),
                w if w.starts_with("door") => kind = Some(Kind::Door),
                w => color = color.or(Color::from_name(w)),
            }
        }
        Some(Named {
            kind: kind?,
            color,
            state,
        })
    }

    fn target(self) -> Target {
        Target::new(self.kind, self.color)
    }
}

/// What an observation text says: the objects seen and what is held.
struct Situation {
    seen: Vec<Named>,
    held: Option<Named>,
}

impl Situation {
    fn read(text: &str) -> Situation {
        if text.contains("holds") {
            let (seen, held) = split_sees_holds(text);
            return Situation {
                seen: seen.into_iter().filter_map(Named::parse).collect(),
                held: held.and_then(Named::parse),
            };
        }
        // When2Ask: "observation: {observed a key, observed a door, carry key}".
        let body = text.trim().trim_start_matches("observation:").trim();
        let body = body.trim_start_matches('{').trim_end_matches('}');
        let mut s = Situation {
            seen: Vec::new(),
            held: None,
        };
        for item in body.split(',').map(str::trim) {
            if let Some(o) = item.strip_prefix("observed a ") {
                s.seen.extend(Named::parse(o));
            } else if let Some(o) = item.strip_prefix("carry ") {
                s.held = Named::parse(o);
            }
        }
        s
    }
}

/// The expert's plan for an observation text (either seed format).
pub fn expert_plan(observation: &str) -> Plan {
    let s = Situation::read(observation);
    let held_key = s.held.filter(|h| h.kind == Kind::Key);
    let door = s
        .seen
        .iter()
        .copied()
        .find(|d| d.kind == Kind::Door && d.state != Some(DoorState::Open));
    let fits = |k: &Named, d: Option<Named>| match (k.color, d.and_then(|d| d.color)) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    let key_seen = |d: Option<Named>| {
        s.seen
            .iter()
            .copied()
            .find(|k| k.kind == Kind::Key && fits(k, d))
    };
    let box_seen = s.seen.iter().copied().find(|b| b.kind == Kind::Box);
    let open_door = |d: Named| [Skill::GoTo(d.target()), Skill::Toggle(d.target())];
    let fetch = |k: Named| [Skill::GoTo(k.target()), Skill::PickUp(k.target())];

    let mut plan = Vec::new();
    match door {
        Some(d) if d.state == Some(DoorState::Closed) => plan.extend(open_door(d)),
        Some(d) => {
            if held_key.is_some_and(|k| fits(&k, Some(d))) {
                plan.extend(open_door(d));
            } else if let Some(k) = key_seen(Some(d)) {
                plan.extend(fetch(k));
                plan.extend(open_door(d));
            } else if let Some(b) = box_seen {
                plan.extend([Skill::GoTo(b.target()), Skill::Toggle(b.target())]);
            } else {
                plan.push(Skill::Explore);
            }
        }
        None => {
            let goal = s.seen.iter().copied().find(|g| g.kind == Kind::Goal);
            if let Some(g) = goal {
                plan.push(Skill::GoTo(g.target()));
            } else if held_key.is_none()
                && let Some(k) = key_seen(None)
            {
                plan.extend(fetch(k));
                plan.push(Skill::Explore);
            } else if held_key.is_none()
                && let Some(b) = box_seen
            {
                plan.extend([Skill::GoTo(b.target()), Skill::Toggle(b.target())]);
            } else {
                plan.push(Skill::Explore);
            }
        }
    }
    Plan(plan)
}

/// The plans worth asking a scoring LLM about in the situation `observation` describes: every
/// plan the skills can run on what is seen (fetch a key or ball, open a door or a box, go to an
/// object, fetch a key and open a door with it, drop what is held, explore), in a fixed order.
/// The expert's own plan is among them by construction; the LLM ranks them.
pub fn candidate_plans(observation: &str) -> Vec<Plan> {
    let s = Situation::read(observation);
    let mut plans: Vec<Plan> = alloc::vec![Plan(alloc::vec![Skill::Explore])];
    if s.held.is_some() {
        plans.push(Plan(alloc::vec![Skill::Drop]));
    }
    for o in &s.seen {
        let t = o.target();
        plans.push(Plan(alloc::vec![Skill::GoTo(t)]));
        match o.kind {
            Kind::Key | Kind::Ball => {
                plans.push(Plan(alloc::vec![Skill::GoTo(t), Skill::PickUp(t)]));
                plans.push(Plan(alloc::vec![
                    Skill::GoTo(t),
                    Skill::PickUp(t),
                    Skill::Explore
                ]));
            }
            Kind::Door | Kind::Box => {
                plans.push(Plan(alloc::vec![Skill::GoTo(t), Skill::Toggle(t)]));
            }
            _ => {}
        }
        if o.kind == Kind::Key {
            for d in s.seen.iter().filter(|d| d.kind == Kind::Door) {
                let d = d.target();
                plans.push(Plan(alloc::vec![
                    Skill::GoTo(t),
                    Skill::PickUp(t),
                    Skill::GoTo(d),
                    Skill::Toggle(d)
                ]));
            }
        }
    }
    plans.push(expert_plan(observation));
    let mut seen = alloc::collections::BTreeSet::new();
    plans.retain(|p| seen.insert(p.clone()));
    plans
}

/// The scripted expert as a [`Planner`].
#[derive(Clone, Debug)]
pub struct ExpertPlanner {
    /// Probability that an answer is wrong or incomplete.
    pub noise: f64,
    rng: Rng,
}

impl ExpertPlanner {
    pub fn new() -> ExpertPlanner {
        ExpertPlanner::noisy(0.0, 0)
    }

    /// An unreliable expert: each answer is wrong or incomplete with probability `noise`
    /// (seeded by `seed`).
    pub fn noisy(noise: f64, seed: u64) -> ExpertPlanner {
        ExpertPlanner {
            noise: noise.clamp(0.0, 1.0),
            rng: Rng::new(seed),
        }
    }

    fn perturb(&mut self, plan: Plan, observation: &str) -> Plan {
        if self.noise == 0.0 || !self.rng.chance(self.noise) {
            return plan;
        }
        if self.rng.bool() && plan.0.len() > 1 {
            // Incomplete: only the first step.
            return Plan(plan.0[..1].to_vec());
        }
        // Wrong: a plausible skill on something seen (or explore).
        let s = Situation::read(observation);
        let mut options = alloc::vec![Skill::Explore, Skill::Drop];
        for n in &s.seen {
            options.push(Skill::GoTo(n.target()));
            match n.kind {
                Kind::Key | Kind::Ball => options.push(Skill::PickUp(n.target())),
                Kind::Door | Kind::Box => options.push(Skill::Toggle(n.target())),
                _ => {}
            }
        }
        options.retain(|o| plan.first() != Some(*o));
        Plan(alloc::vec![*self.rng.choose(&options)])
    }
}

impl Default for ExpertPlanner {
    fn default() -> Self {
        ExpertPlanner::new()
    }
}

impl Planner for ExpertPlanner {
    fn info(&self) -> PlannerInfo {
        let name = if self.noise > 0.0 {
            format!("scripted expert (noise {})", self.noise)
        } else {
            String::from("scripted expert")
        };
        PlannerInfo {
            name,
            kind: PlannerKind::Expert,
        }
    }

    fn complete(&mut self, prompt: &Prompt, samples: u32) -> Result<Completion, PlannerError> {
        let obs = prompt.observation();
        let right = expert_plan(obs);
        let answers = (0..samples.max(1))
            .map(|_| format!("action: {{{}}}", self.perturb(right.clone(), obs)))
            .collect();
        Ok(Completion {
            answers,
            usage: Usage::default(),
            latency_ms: 0.0,
            cached: false,
            probs: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn p(obs: &str) -> String {
        expert_plan(obs).to_string()
    }

    #[test]
    fn plans_the_seed_situations() {
        assert_eq!(p("observation: {observed nothing}"), "explore");
        assert_eq!(p("observation: {observed a door}"), "explore");
        assert_eq!(
            p("observation: {observed a key, observed a door}"),
            "go to the key, pick up the key, go to the door, toggle the door"
        );
        assert_eq!(
            p("observation: {observed a door, carry key}"),
            "go to the door, toggle the door"
        );
        assert_eq!(
            p("observation: {observed a key}"),
            "go to the key, pick up the key, explore"
        );
        assert_eq!(
            p("observation: {observed a box, observed a door}"),
            "go to the box, toggle the box"
        );
        assert_eq!(
            p("Agent sees <box>, holds <nothing>."),
            "go to the box, toggle the box"
        );
    }

    #[test]
    fn matches_key_and_door_colours() {
        assert_eq!(
            p("Agent sees <red key>, <blue key>, <blue door>, holds <nothing>."),
            "go to the blue key, pick up the blue key, go to the blue door, toggle the blue door"
        );
        assert_eq!(
            p("observation: {observed a purple door, carry grey key}"),
            "explore"
        );
        assert_eq!(
            p("Agent sees <red key>, <red door>, holds <yellow key>."),
            "go to the red key, pick up the red key, go to the red door, toggle the red door"
        );
    }

    #[test]
    fn finishes_minigrid_doorkey() {
        assert_eq!(
            p("Agent sees <open yellow door>, <goal>, holds <yellow key>."),
            "go to the goal"
        );
        assert_eq!(
            p("Agent sees <locked yellow door>, <goal>, holds <yellow key>."),
            "go to the yellow door, toggle the yellow door"
        );
        assert_eq!(
            p("Agent sees <closed grey door>, holds <nothing>."),
            "go to the grey door, toggle the grey door"
        );
    }

    #[test]
    fn noise_is_seeded_and_labelled() {
        let prompt = Prompt::build(
            super::super::PromptStyle::When2Ask,
            "SimpleDoorKey",
            "",
            "observation: {observed a key, observed a door}",
        );
        let mut a = ExpertPlanner::noisy(0.5, 9);
        let mut b = ExpertPlanner::noisy(0.5, 9);
        let ca = a.complete(&prompt, 20).unwrap();
        assert_eq!(ca, b.complete(&prompt, 20).unwrap());
        let right = "action: {go to the key, pick up the key, go to the door, toggle the door}";
        let wrong = ca.answers.iter().filter(|x| *x != right).count();
        assert!(
            (4..=16).contains(&wrong),
            "{wrong} of 20 wrong at noise 0.5"
        );
        assert!(!a.info().is_llm());
        assert!(a.info().name.contains("scripted expert"));
    }
}
