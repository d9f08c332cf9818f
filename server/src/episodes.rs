//! Shared episodes: records (env, seed, agents, actions, the planner transcript) checked against
//! the contract, stored exactly as sent under a short content-derived id.

use crate::checkpoints::sha256_hex;
use crate::error::ApiError;
use gridmentor_core::registry;
use gridmentor_core::world::Action;
use serde_json::Value;

/// Record versions this server reads.
pub const VERSIONS: [u64; 1] = [1];
/// Agents in one episode.
pub const MAX_AGENTS: usize = 16;
/// Actions of one agent (the longest MiniGrid episodes have a few thousand steps).
pub const MAX_ACTIONS: usize = 100_000;
/// Transcript entries.
pub const MAX_TRANSCRIPT: usize = 10_000;
/// Characters of an agent's `kind`.
const MAX_KIND: usize = 64;

/// The id of a record: the first 16 hex digits of its sha256, so posting the same record twice
/// gives the same link.
pub fn episode_id(body: &[u8]) -> String {
    sha256_hex(body)[..16].to_string()
}

pub fn check_id(id: &str) -> Result<(), ApiError> {
    if id.len() == 16 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{:?} is not an episode id (16 lowercase hex digits)",
            id.chars().take(40).collect::<String>()
        )))
    }
}

/// Check a record against the contract; the reason when it breaks it.
pub fn validate(v: &Value) -> Result<(), String> {
    let obj = v
        .as_object()
        .ok_or("an episode record must be a JSON object")?;
    match obj.get("v").and_then(Value::as_u64) {
        Some(n) if VERSIONS.contains(&n) => {}
        Some(n) => return Err(format!("episode record version {n} is not supported (1)")),
        None => return Err("\"v\" (the record version, 1) is missing or not a number".into()),
    }
    let env = obj
        .get("env")
        .and_then(Value::as_str)
        .ok_or("\"env\" must be the id of a registered env")?;
    registry::find(env).map_err(|e| e.to_string())?;
    let seed = obj
        .get("seed")
        .and_then(Value::as_str)
        .ok_or("\"seed\" must be a decimal u64 in a string, like \"42\"")?;
    if seed.is_empty() || !seed.bytes().all(|b| b.is_ascii_digit()) || seed.parse::<u64>().is_err()
    {
        return Err(format!("\"seed\" {seed:?} is not a decimal u64"));
    }
    let agents = obj
        .get("agents")
        .and_then(Value::as_array)
        .ok_or("\"agents\" must be an array")?;
    if agents.is_empty() || agents.len() > MAX_AGENTS {
        return Err(format!("\"agents\" must hold 1 to {MAX_AGENTS} entries"));
    }
    for (i, a) in agents.iter().enumerate() {
        let kind = a
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("agents[{i}] has no \"kind\" string"))?;
        if kind.is_empty() || kind.len() > MAX_KIND {
            return Err(format!(
                "agents[{i}].kind must be 1 to {MAX_KIND} characters"
            ));
        }
    }
    let actions = obj
        .get("actions")
        .and_then(Value::as_array)
        .ok_or("\"actions\" must be an array with one action list per agent")?;
    if actions.len() != agents.len() {
        return Err(format!(
            "\"actions\" has {} lists for {} agents",
            actions.len(),
            agents.len()
        ));
    }
    let top = Action::COUNT as u64 - 1;
    for (i, list) in actions.iter().enumerate() {
        let list = list
            .as_array()
            .ok_or_else(|| format!("actions[{i}] must be an array of actions"))?;
        if list.len() > MAX_ACTIONS {
            return Err(format!("actions[{i}] is longer than {MAX_ACTIONS} actions"));
        }
        for (j, a) in list.iter().enumerate() {
            match a.as_u64() {
                Some(x) if x <= top => {}
                _ => {
                    return Err(format!(
                        "actions[{i}][{j}] = {a} is not an action 0..={top}"
                    ));
                }
            }
        }
    }
    if let Some(t) = obj.get("transcript") {
        let t = t.as_array().ok_or("\"transcript\" must be an array")?;
        if t.len() > MAX_TRANSCRIPT {
            return Err(format!(
                "\"transcript\" has more than {MAX_TRANSCRIPT} entries"
            ));
        }
        for (k, e) in t.iter().enumerate() {
            let e = e
                .as_object()
                .ok_or_else(|| format!("transcript[{k}] must be an object"))?;
            if let Some(a) = e.get("agent") {
                match a.as_u64() {
                    Some(a) if (a as usize) < agents.len() => {}
                    _ => return Err(format!("transcript[{k}].agent {a} names no agent")),
                }
            }
            for field in ["prompt", "answer"] {
                if e.get(field).is_some_and(|x| !x.is_string()) {
                    return Err(format!("transcript[{k}].{field} must be a string"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({"v": 1, "env": "SimpleDoorKey", "seed": "42",
               "agents": [{"kind": "checkpoint", "id": "ab"}, {"kind": "planner"}],
               "actions": [[2, 2, 1], [6, 0]],
               "transcript": [{"agent": 1, "step": 0, "prompt": "p", "answer": "a"}]})
    }

    #[test]
    fn accepts_the_documented_record() {
        assert_eq!(validate(&good()), Ok(()));
    }

    #[test]
    fn refuses_with_a_reason() {
        let cases: [(&str, Value, &str); 8] = [
            ("v", json!(2), "version 2"),
            ("env", json!("NoSuchEnv"), "NoSuchEnv"),
            ("seed", json!(42), "decimal u64"),
            ("seed", json!("18446744073709551616"), "not a decimal u64"),
            ("actions", json!([[2, 7], []]), "actions[0][1]"),
            ("actions", json!([[2]]), "1 lists for 2 agents"),
            ("agents", json!([{"id": 1}, {"kind": "x"}]), "agents[0]"),
            ("transcript", json!([{"agent": 5}]), "names no agent"),
        ];
        for (field, value, want) in cases {
            let mut r = good();
            r[field] = value;
            let e = validate(&r).unwrap_err();
            assert!(e.contains(want), "{field}: {e}");
        }
        assert!(validate(&json!([1])).is_err());
    }
}
