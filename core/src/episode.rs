//! Shared episode records (the server's `/api/episodes`, the playground's `#ep=` links): one
//! typed record, checked to exactly what the playground can open and replay.
//!
//! The page builds and reads it through the wasm shell (`web/src/share.rs`): an env registry
//! id, a seed as a decimal string (a u64 is a BigInt in JavaScript), 1 to [`MAX_AGENTS`]
//! agents ([`AgentRef`]s: one plays the board, 2 to 4 are compared), one action list per agent
//! that replays without running past the episode's end, and the LLM transcript whose entries
//! the page shows and replays (`agent`, `step`, `prompt`, `answer`, `latency_ms`, `cached`, and
//! a scoring planner's `scores`). Text limits count characters, as the page and the docs do.

pub use crate::agent_ref::{AgentRef, Seed};
use crate::registry;
use crate::world::Action;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Serialize};

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

/// Candidates one scored ask may carry (the server's `/v1/score` takes at most 64).
pub const MAX_CANDIDATES: usize = 64;

/// One candidate's score, as `/v1/score` gives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    pub candidate: String,
    pub logprob: f64,
    #[serde(default)]
    pub tokens: u32,
}

/// One call of an LLM planner, as the page shows and replays it: a generated answer (usable
/// or not), or the scores of every candidate (then `answer` is the most likely plan, or the
/// action an LLM policy took).
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
    /// A scoring planner's call: every candidate with its score, in the order it was asked;
    /// empty for a generated answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scores: Vec<CandidateScore>,
}

/// A shared episode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRecord {
    /// The record version ([`VERSION`]).
    pub v: u32,
    /// A registry id once [`EpisodeRecord::check`] has run (an alias is replaced by it).
    pub env: String,
    pub seed: Seed,
    /// Checked when read: a record holds only agents the page can name.
    pub agents: Vec<AgentRef>,
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
            if t.scores.len() > MAX_CANDIDATES {
                return fail(format!(
                    "transcript[{k}].scores has more than {MAX_CANDIDATES} candidates"
                ));
            }
            for (j, c) in t.scores.iter().enumerate() {
                // JSON has no infinities: a score that cannot be written back is refused now.
                if !c.logprob.is_finite() {
                    return fail(format!(
                        "transcript[{k}].scores[{j}].logprob must be a finite number"
                    ));
                }
                check_text(
                    &format!("transcript[{k}].scores[{j}].candidate"),
                    &c.candidate,
                    MAX_TEXT_CHARS,
                )?;
            }
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

    const ID: &str = "ab000000000000000000000000000000000000000000000000000000000000cd";

    fn good() -> Value {
        json!({"v": 1, "env": "SimpleDoorKey", "seed": "42",
               "agents": [{"kind": "checkpoint", "id": ID}, {"kind": "planner", "planner": "gridmentor-expert", "style": "when2ask"}],
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
        let cases: [(&str, Value, &str); 13] = [
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
                "64 lowercase hex",
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
            (
                "transcript",
                json!([{"agent": 0, "step": 0, "prompt": "", "answer": "", "latency_ms": 1,
                        "scores": [{"candidate": "a", "logprob": -1.0}, {"candidate": "b"}]}]),
                "missing field `logprob`",
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

    /// A scored call keeps every candidate's score, so the page replays its ranking exactly.
    #[test]
    fn scored_calls_keep_their_scores() {
        let mut v = good();
        v["transcript"][0]["scores"] = json!([{"candidate": "a", "logprob": -1.5, "tokens": 3}, {"candidate": "b", "logprob": -2.0}]);
        let r = check(v.clone()).unwrap();
        assert_eq!(r.transcript[0].scores[1].tokens, 0);
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["transcript"][0]["scores"][0]["tokens"], 3);
        assert!(
            serde_json::to_value(check(good()).unwrap()).unwrap()["transcript"][0]
                .get("scores")
                .is_none(),
            "a generated answer writes no scores"
        );
        let mut r: EpisodeRecord = serde_json::from_value(v).unwrap();
        r.transcript[0].scores[0].logprob = f64::NEG_INFINITY;
        assert!(r.check().unwrap_err().0.contains("finite"));
        r.transcript[0].scores = vec![r.transcript[0].scores[1].clone(); MAX_CANDIDATES + 1];
        assert!(r.check().unwrap_err().0.contains("more than 64"));
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
