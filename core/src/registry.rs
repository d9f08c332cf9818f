//! The env registry: every task by name (`"SimpleDoorKey"`, `"MiniGrid-DoorKey-5x5-v0"`, ...).

use crate::env::{Env, GenError, Setup, attempt_rng};
use crate::rng::Rng;
use crate::rules::{RoomLayout, Rule};
use crate::tasks;
use crate::world::World;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Generate one episode's layout from the generator stream.
pub type GenerateFn = fn(&mut Rng) -> Result<Setup, GenError>;
/// Re-derive a task's win rule (and room geometry) from a recorded layout and its mission.
pub type RuleFromLayoutFn = fn(&World, &str) -> Result<(Rule, Option<RoomLayout>), String>;

/// A registered task.
pub struct EnvSpec {
    /// The canonical name (MiniGrid's gym id for MiniGrid and BabyAI tasks).
    pub id: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// `seed`, `minigrid` or `babyai`.
    pub family: &'static str,
    /// One line: what the agent must do.
    pub summary: &'static str,
    pub generate: GenerateFn,
    pub rule_from_layout: RuleFromLayoutFn,
}

impl fmt::Debug for EnvSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvSpec").field("id", &self.id).finish()
    }
}

impl EnvSpec {
    /// The layout for `seed`. Generation is rejection sampling, as in MiniGrid; a failed attempt
    /// moves on to the next derived stream, so every seed yields a layout.
    pub fn layout(&self, seed: u64) -> Setup {
        for k in 0..1000 {
            if let Ok(setup) = (self.generate)(&mut attempt_rng(seed, k)) {
                return setup;
            }
        }
        panic!(
            "{}: layout generation failed 1000 times for seed {seed}",
            self.id
        )
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        core::iter::once(self.id).chain(self.aliases.iter().copied())
    }
}

/// Every task file's list of tasks, in registry order.
const FAMILIES: &[&[EnvSpec]] = &[
    tasks::seed::SPECS,
    tasks::empty::SPECS,
    tasks::doorkey::SPECS,
    tasks::lavagap::SPECS,
    tasks::crossing::SPECS,
    tasks::fourrooms::SPECS,
    tasks::multiroom::SPECS,
    tasks::gotodoor::SPECS,
    tasks::redbluedoors::SPECS,
    tasks::unlock::SPECS,
    tasks::keycorridor::SPECS,
    tasks::babyai::SPECS,
];

/// All registered tasks, in a stable order.
pub fn all() -> impl Iterator<Item = &'static EnvSpec> {
    FAMILIES.iter().flat_map(|f| f.iter())
}

/// The task registered under `name` (its id or an alias; case-insensitive).
pub fn find(name: &str) -> Result<&'static EnvSpec, UnknownEnv> {
    all()
        .find(|s| s.names().any(|n| n.eq_ignore_ascii_case(name)))
        .ok_or_else(|| UnknownEnv::new(name))
}

/// A fresh episode of the task named `name` from `seed`.
pub fn make(name: &str, seed: u64) -> Result<Env, UnknownEnv> {
    Ok(Env::new(find(name)?, seed))
}

/// An unknown env name, with the closest registered names as a hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownEnv {
    pub name: String,
    pub suggestions: Vec<&'static str>,
}

impl UnknownEnv {
    fn new(name: &str) -> UnknownEnv {
        let lower = name.to_ascii_lowercase();
        let key = lower
            .trim_start_matches("minigrid-")
            .trim_start_matches("babyai-");
        let key = key.split('-').next().unwrap_or("");
        let suggestions = all()
            .map(|s| s.id)
            .filter(|id| !key.is_empty() && id.to_ascii_lowercase().contains(key))
            .take(5)
            .collect();
        UnknownEnv {
            name: name.into(),
            suggestions,
        }
    }
}

impl fmt::Display for UnknownEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown env {:?}", self.name)?;
        if self.suggestions.is_empty() {
            write!(f, " (list them with `gridmentor envs`)")
        } else {
            write!(f, "; did you mean {}?", self.suggestions.join(", "))
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UnknownEnv {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn ids_and_aliases_are_unique() {
        let mut names: Vec<String> = all()
            .flat_map(|s| s.names())
            .map(|n| n.to_ascii_lowercase())
            .collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate env names");
    }

    #[test]
    fn unknown_name_is_a_clear_error() {
        let e = make("MiniGrid-DoorKey-7x7-v0", 0).unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown env \"MiniGrid-DoorKey-7x7-v0\"")
        );
    }
}
