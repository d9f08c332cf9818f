//! Soft plans (LLM4Teach): k answers to the same observation become a frequency distribution
//! over plans, cached per abstract observation text; the teacher's action distribution is
//! `sum over plans of p(plan) x one-hot(first action of the plan)`.

use super::{Exchange, Plan};
use crate::obs::memory_map::MemoryMap;
use crate::skills::{SkillRun, SkillStep};
use crate::world::Action;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

/// A distribution over plans.
#[derive(Clone, Debug, PartialEq)]
pub struct SoftPlan {
    /// Plans with their probabilities, most likely first; probabilities sum to 1.
    pub plans: Vec<(Plan, f32)>,
}

impl SoftPlan {
    /// The frequencies of the readable plans among `answers` (unreadable ones are dropped);
    /// `None` when none can be read.
    pub fn from_plans<'a>(plans: impl IntoIterator<Item = &'a Plan>) -> Option<SoftPlan> {
        let mut counts: BTreeMap<&Plan, u32> = BTreeMap::new();
        let mut total = 0;
        for p in plans {
            *counts.entry(p).or_default() += 1;
            total += 1;
        }
        if total == 0 {
            return None;
        }
        let mut plans: Vec<(Plan, f32)> = counts
            .into_iter()
            .map(|(p, c)| (p.clone(), c as f32 / total as f32))
            .collect();
        plans.sort_by(|a, b| b.1.total_cmp(&a.1));
        Some(SoftPlan { plans })
    }

    /// The exchange's distribution: the probabilities of a scoring planner's answers, else the
    /// frequencies of the sampled answers. Unreadable answers are dropped.
    pub fn from_exchange(ex: &Exchange) -> Option<SoftPlan> {
        if ex.probs.len() != ex.plans.len() || ex.probs.is_empty() {
            return SoftPlan::from_plans(ex.good_plans());
        }
        let mut weights: BTreeMap<&Plan, f32> = BTreeMap::new();
        for (plan, &p) in ex.plans.iter().zip(&ex.probs) {
            if let Ok(plan) = plan {
                *weights.entry(plan).or_default() += p;
            }
        }
        let total: f32 = weights.values().sum();
        if weights.is_empty() || total.is_nan() || total <= 0.0 {
            return SoftPlan::from_plans(ex.good_plans());
        }
        let mut plans: Vec<(Plan, f32)> = weights
            .into_iter()
            .map(|(p, w)| (p.clone(), w / total))
            .collect();
        plans.sort_by(|a, b| b.1.total_cmp(&a.1));
        Some(SoftPlan { plans })
    }

    /// A fixed plan with probability 1 (a hard teacher).
    pub fn certain(plan: Plan) -> SoftPlan {
        SoftPlan {
            plans: alloc::vec![(plan, 1.0)],
        }
    }

    pub fn most_likely(&self) -> &Plan {
        &self.plans[0].0
    }

    /// The teacher's action distribution in the situation the map shows: each plan's weight
    /// goes to the first primitive action its first skill takes. Plans whose first skill has
    /// finished or failed already put their weight on later skills; a plan with nothing to do
    /// spreads its weight uniformly.
    pub fn action_distribution(&self, map: &MemoryMap, view_size: u8) -> [f32; Action::COUNT] {
        let mut dist = [0.0f32; Action::COUNT];
        for (plan, p) in &self.plans {
            match first_action(plan, map, view_size) {
                Some(a) => dist[a as usize] += p,
                None => dist.iter_mut().for_each(|d| *d += p / Action::COUNT as f32),
            }
        }
        dist
    }
}

/// The first primitive action `plan` takes from the situation in `map`.
pub fn first_action(plan: &Plan, map: &MemoryMap, view_size: u8) -> Option<Action> {
    for skill in &plan.0 {
        match SkillRun::new(*skill).next(map, view_size) {
            SkillStep::Act(a) => return Some(a),
            SkillStep::Finished => continue,
            SkillStep::Failed(_) => return None,
        }
    }
    None
}

/// Soft plans cached per abstract observation text (LLM4Teach asks once per distinct text).
#[derive(Clone, Debug, Default)]
pub struct SoftPlanCache {
    entries: BTreeMap<String, SoftPlan>,
    pub hits: u64,
    pub misses: u64,
}

impl SoftPlanCache {
    pub fn get(&mut self, observation: &str) -> Option<&SoftPlan> {
        let found = self.entries.get(observation);
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }

    pub fn insert(&mut self, observation: String, plan: SoftPlan) {
        self.entries.insert(observation, plan);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &SoftPlan)> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::parse_plan;
    use crate::registry;

    #[test]
    fn frequencies_become_probabilities() {
        let a = parse_plan("explore").unwrap();
        let b = parse_plan("go to the key, pick up the key").unwrap();
        let sp = SoftPlan::from_plans([&a, &b, &b, &b]).unwrap();
        assert_eq!(sp.most_likely(), &b);
        assert_eq!(sp.plans[0].1, 0.75);
        assert_eq!(sp.plans[1].1, 0.25);
        assert!(SoftPlan::from_plans([]).is_none());
    }

    #[test]
    fn teacher_distribution_sums_to_one_and_follows_the_plans() {
        let env = registry::make("MiniGrid-DoorKey-8x8-v0", 4).unwrap();
        let map = MemoryMap::new(&env.world);
        let explore = parse_plan("explore").unwrap();
        let unseen = parse_plan("go to the purple ball").unwrap();
        let sp = SoftPlan::from_plans([&explore, &explore, &explore, &unseen]).unwrap();
        let d = sp.action_distribution(&map, env.world.view_size);
        assert!((d.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let a = first_action(&explore, &map, env.world.view_size).unwrap();
        assert!((d[a as usize] - (0.75 + 0.25 / 7.0)).abs() < 1e-6, "{d:?}");
    }
}
