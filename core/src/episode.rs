//! Shared episode records (the server's `/api/episodes`, the playground's `#ep=` links): one
//! typed record, checked to exactly what the playground can open and replay.
//!
//! The record is what `www/app.js` writes in `copyLink` and reads in `openFromHash`: an env
//! registry id, a seed as a decimal string (a u64 is a BigInt in JavaScript), 1 to
//! [`MAX_AGENTS`] agents (one plays the board, 2 to 4 are compared), one action list per agent
//! that replays without running past the episode's end, and the LLM transcript whose entries
//! the page shows (`agent`, `step`, `prompt`, `answer`, `latency_ms`, `cached`). Text limits
//! count characters, as the page and the docs do.

use crate::registry;
use crate::world::Action;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Record versions this build reads.
pub const VERSION: u32 = 1;
/// Agents in one record: the page plays one, or compares 2 to 4.
pub const MAX_AGENTS: usize = 4;
/// Actions of one agent before the replay check (every env ends well before this).
pub const MAX_ACTIONS: usize = 100_000;
/// Transcript entries.
pub const MAX_TRANSCRIPT: usize = 10_000;
/// Characters of a prompt or an answer.
pub const MAX_TEXT_CHARS: usize = 100_000;
/// Characters of a planner (model) name.
pub const MAX_PLANNER_CHARS: usize = 256;
/// Hex digits of a checkpoint id (a sha256).
pub const CHECKPOINT_ID_HEX: usize = 64;

/// A u64 written as a decimal string (`"42"`), as JavaScript cannot hold it in a Number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seed(pub u64);

impl Serialize for Seed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Seed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Seed, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal u64 in a string, like \"42\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Seed, E> {
                parse_seed(s)
                    .map(Seed)
                    .ok_or_else(|| E::custom(format!("{:?} is not a decimal u64", clip(s, 40))))
            }
        }
        d.deserialize_str(V)
    }
}

/// Digits only (no sign, no spaces), at most 20 of them, below 2^64: what the page's
/// `parseSeed` accepts.
fn parse_seed(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The first `n` characters of `s`, for messages.
fn clip(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// The prompt style a planner agent was asked in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    When2ask,
    Llm4teach,
}

/// Who played one board, as the page's `specToRecord` writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AgentRecord {
    /// A stored checkpoint (the page fetches `/api/checkpoints/{id}`).
    Checkpoint { id: String },
    /// Planner + skills asking `planner` (a model id) in `style` (when2ask when absent).
    Planner {
        planner: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        style: Option<Style>,
    },
    /// Random actions from `seed`.
    Random {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seed: Option<Seed>,
    },
    /// The keyboard.
    Human,
}

/// One ask of an LLM planner, as the page shows and replays it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// Index into `agents`.
    pub agent: u32,
    /// The agent's step when it asked.
    pub step: u32,
    pub prompt: String,
    pub answer: String,
    pub latency_ms: f64,
    #[serde(default)]
    pub cached: bool,
}

/// A shared episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRecord {
    /// The record version ([`VERSION`]).
    pub v: u32,
    /// A registry id once [`EpisodeRecord::check`] has run (an alias is replaced by it).
    pub env: String,
    pub seed: Seed,
    pub agents: Vec<AgentRecord>,
    /// `actions[i]` is agent i's list, each `0..=6`.
    pub actions: Vec<Vec<u8>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<TranscriptEntry>,
}

/// Why a record cannot be opened by the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpisodeError(pub String);

impl fmt::Display for EpisodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn fail<T>(msg: String) -> Result<T, EpisodeError> {
    Err(EpisodeError(msg))
}

fn check_text(what: &str, s: &str, max: usize) -> Result<(), EpisodeError> {
    if s.chars().count() > max {
        return fail(format!("{what} is longer than {max} characters"));
    }
    Ok(())
}

impl AgentRecord {
    fn check(&self, i: usize) -> Result<(), EpisodeError> {
        match self {
            AgentRecord::Checkpoint { id } => {
                let hex = id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                if id.is_empty() || id.len() > CHECKPOINT_ID_HEX || !hex {
                    return fail(format!(
                        "agents[{i}].id must be a checkpoint id (1 to {CHECKPOINT_ID_HEX} \
                         lowercase hex digits), not {:?}",
                        clip(id, 80)
                    ));
                }
            }
            AgentRecord::Planner { planner, .. } => {
                let n = planner.chars().count();
                if n == 0 || n > MAX_PLANNER_CHARS || planner.chars().any(char::is_control) {
                    return fail(format!(
                        "agents[{i}].planner must be a model id of 1 to {MAX_PLANNER_CHARS} \
                         characters without control characters"
                    ));
                }
            }
            AgentRecord::Random { .. } | AgentRecord::Human => {}
        }
        Ok(())
    }
}

impl EpisodeRecord {
    /// Check the record against what the page can open, replacing an env alias by its registry
    /// id. Every agent's actions are replayed: a list that runs past the end of the episode is
    /// refused, as the page's `Session.fromActions` would refuse it.
    pub fn check(&mut self) -> Result<(), EpisodeError> {
        if self.v != VERSION {
            return fail(format!(
                "episode record version {} is not supported ({VERSION})",
                self.v
            ));
        }
        let spec = registry::find(&self.env).map_err(|e| EpisodeError(e.to_string()))?;
        self.env = spec.id.to_string();
        if self.agents.is_empty() || self.agents.len() > MAX_AGENTS {
            return fail(format!(
                "\"agents\" must hold 1 to {MAX_AGENTS} entries, not {}",
                self.agents.len()
            ));
        }
        for (i, a) in self.agents.iter().enumerate() {
            a.check(i)?;
        }
        if self.actions.len() != self.agents.len() {
            return fail(format!(
                "\"actions\" has {} lists for {} agents",
                self.actions.len(),
                self.agents.len()
            ));
        }
        let top = Action::COUNT - 1;
        for (i, list) in self.actions.iter().enumerate() {
            if list.len() > MAX_ACTIONS {
                return fail(format!("actions[{i}] is longer than {MAX_ACTIONS} actions"));
            }
            if let Some(j) = list.iter().position(|&a| a as usize > top) {
                return fail(format!(
                    "actions[{i}][{j}] = {} is not an action 0..={top}",
                    list[j]
                ));
            }
        }
        for (i, list) in self.actions.iter().enumerate() {
            replay(spec, self.seed.0, list)
                .map_err(|e| EpisodeError(format!("actions[{i}]: {e}")))?;
        }
        if self.transcript.len() > MAX_TRANSCRIPT {
            return fail(format!(
                "\"transcript\" has more than {MAX_TRANSCRIPT} entries"
            ));
        }
        for (k, t) in self.transcript.iter().enumerate() {
            if t.agent as usize >= self.agents.len() {
                return fail(format!("transcript[{k}].agent {} names no agent", t.agent));
            }
            if !(t.latency_ms.is_finite() && t.latency_ms >= 0.0) {
                return fail(format!(
                    "transcript[{k}].latency_ms must be a number of milliseconds >= 0"
                ));
            }
            check_text(
                &format!("transcript[{k}].prompt"),
                &t.prompt,
                MAX_TEXT_CHARS,
            )?;
            check_text(
                &format!("transcript[{k}].answer"),
                &t.answer,
                MAX_TEXT_CHARS,
            )?;
        }
        Ok(())
    }
}

/// Play `actions` from `seed`; the step at which the episode ended if they run past it.
fn replay(spec: &'static registry::EnvSpec, seed: u64, actions: &[u8]) -> Result<(), String> {
    let mut env = crate::env::Env::new(spec, seed);
    for (i, &a) in actions.iter().enumerate() {
        let Some(a) = Action::from_index(a) else {
            return Err(format!("action {a} at step {i} is not 0..=6"));
        };
        let t = env.step(a);
        if (t.terminated || t.truncated) && i + 1 < actions.len() {
            return Err(format!(
                "the episode ended at step {}, but {} actions were given",
                i + 1,
                actions.len()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use serde_json::{Value, json};

    fn good() -> Value {
        json!({"v": 1, "env": "SimpleDoorKey", "seed": "42",
               "agents": [{"kind": "checkpoint", "id": "ab"}, {"kind": "planner", "planner": "gridmentor-expert", "style": "when2ask"}],
               "actions": [[2, 2, 1], [0, 0]],
               "transcript": [{"agent": 1, "step": 0, "prompt": "p", "answer": "a", "latency_ms": 3.5, "cached": false}]})
    }

    fn check(v: Value) -> Result<EpisodeRecord, String> {
        let mut r: EpisodeRecord = serde_json::from_value(v).map_err(|e| e.to_string())?;
        r.check().map_err(|e| e.0)?;
        Ok(r)
    }

    #[test]
    fn accepts_what_the_page_writes_and_normalises_the_env() {
        let r = check(good()).unwrap();
        assert_eq!(r.seed, Seed(42));
        assert_eq!(r.agents.len(), 2);
        let mut v = good();
        v["env"] = json!("empty-5x5");
        v["agents"] = json!([{"kind": "human"}, {"kind": "random", "seed": "7"}]);
        v["transcript"] = json!([]);
        let r = check(v).unwrap();
        assert_eq!(r.env, "MiniGrid-Empty-5x5-v0");
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["seed"], "42");
        assert_eq!(back["agents"][1], json!({"kind": "random", "seed": "7"}));
        assert!(back.get("transcript").is_none());
    }

    #[test]
    fn refuses_what_the_page_cannot_open_with_a_reason() {
        let cases: [(&str, Value, &str); 12] = [
            ("v", json!(2), "version 2"),
            ("env", json!("NoSuchEnv"), "NoSuchEnv"),
            ("seed", json!(42), "decimal u64"),
            ("seed", json!("18446744073709551616"), "not a decimal u64"),
            ("seed", json!("-1"), "not a decimal u64"),
            ("actions", json!([[2, 7], []]), "actions[0][1]"),
            ("actions", json!([[2]]), "1 lists for 2 agents"),
            (
                "agents",
                json!([{"kind": "x"}, {"kind": "human"}]),
                "unknown variant",
            ),
            (
                "agents",
                json!([{"kind": "checkpoint", "id": "../x"}, {"kind": "human"}]),
                "agents[0].id",
            ),
            (
                "agents",
                Value::Array(vec![json!({"kind": "human"}); 5]),
                "1 to 4",
            ),
            (
                "transcript",
                json!([{"agent": 5, "step": 0, "prompt": "", "answer": "", "latency_ms": 1}]),
                "names no agent",
            ),
            (
                "transcript",
                json!([{"agent": 0, "step": 0, "prompt": "", "answer": ""}]),
                "latency_ms",
            ),
        ];
        for (field, value, want) in cases {
            let mut r = good();
            if field == "agents" {
                r["actions"] = json!(vec![Vec::<u8>::new(); value.as_array().unwrap().len()]);
            }
            r[field] = value;
            let e = check(r).unwrap_err();
            assert!(e.contains(want), "{field}: {e}");
        }
    }

    #[test]
    fn text_limits_count_characters() {
        let mut r = good();
        r["transcript"][0]["answer"] = json!("é".repeat(MAX_TEXT_CHARS));
        assert!(
            check(r.clone()).is_ok(),
            "2 bytes a character, at the limit"
        );
        r["transcript"][0]["answer"] = json!("é".repeat(MAX_TEXT_CHARS + 1));
        assert!(check(r).unwrap_err().contains("characters"));
    }

    #[test]
    fn actions_past_the_end_of_the_episode_are_refused() {
        // Empty-5x5 ends after 100 steps (MiniGrid's 4 x size^2).
        let mut r = good();
        r["env"] = json!("MiniGrid-Empty-5x5-v0");
        r["actions"] = json!([vec![0u8; 100], vec![0u8; 101]]);
        let e = check(r).unwrap_err();
        assert!(
            e.contains("actions[1]") && e.contains("ended at step 100"),
            "{e}"
        );
    }
}
