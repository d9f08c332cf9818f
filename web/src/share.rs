//! Share links on the page: core's codec with agents written as short specs
//! (`human`, `random:SEED`, `planner:STYLE:NAME`, `checkpoint:HEX`).

use gridmentor_core::planner::PromptStyle;
use gridmentor_core::share::{self, AgentRef, Shared};
use wasm_bindgen::prelude::*;

/// An agent spec as the codec's agent.
pub fn parse_agent(spec: &str) -> Result<AgentRef, String> {
    let bad = || {
        format!("bad agent spec {spec:?} (human, random:SEED, planner:STYLE:NAME, checkpoint:ID)")
    };
    let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
    match kind {
        "human" if rest.is_empty() => Ok(AgentRef::Human),
        "random" => Ok(AgentRef::Random {
            seed: rest.parse().map_err(|_| bad())?,
        }),
        "planner" => {
            let (style, name) = rest.split_once(':').ok_or_else(bad)?;
            let style = PromptStyle::from_name(style).ok_or_else(bad)?;
            Ok(AgentRef::Planner {
                planner: name.into(),
                style,
            })
        }
        "checkpoint" => Ok(AgentRef::Checkpoint {
            id: share::checkpoint_id_from_hex(rest)?,
        }),
        _ => Err(bad()),
    }
}

/// The codec's agent as a spec.
pub fn agent_spec(a: &AgentRef) -> String {
    match a {
        AgentRef::Human => "human".into(),
        AgentRef::Random { seed } => format!("random:{seed}"),
        AgentRef::Planner { planner, style } => format!("planner:{}:{planner}", style.name()),
        AgentRef::Checkpoint { id } => format!("checkpoint:{}", share::checkpoint_id_to_hex(id)),
    }
}

/// A decoded share link.
#[wasm_bindgen]
pub struct ShareLink {
    shared: Shared,
}

#[wasm_bindgen]
impl ShareLink {
    #[wasm_bindgen(getter)]
    pub fn env(&self) -> String {
        self.shared.env.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// The agents as specs.
    pub fn agents(&self) -> Vec<String> {
        self.shared.agents.iter().map(agent_spec).collect()
    }

    /// Agent `i`'s actions.
    pub fn actions(&self, i: usize) -> Result<Vec<u8>, JsError> {
        self.shared
            .actions
            .get(i)
            .cloned()
            .ok_or_else(|| JsError::new(&format!("no agent {i} in this link")))
    }
}

/// Encode an episode: `agents[i]` (a spec) played `actions[i]` (a Uint8Array).
#[wasm_bindgen(js_name = shareEncode)]
pub fn share_encode(
    env: &str,
    seed: u64,
    agents: Vec<String>,
    actions: Vec<js_sys::Uint8Array>,
) -> Result<String, JsError> {
    let agents = agents
        .iter()
        .map(|s| parse_agent(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| JsError::new(&e))?;
    let shared = Shared {
        env: env.into(),
        seed,
        agents,
        actions: actions.iter().map(|a| a.to_vec()).collect(),
    };
    share::encode(&shared).map_err(|e| JsError::new(&e.to_string()))
}

/// Decode a code; the error says exactly why it cannot be read.
#[wasm_bindgen(js_name = shareDecode)]
pub fn share_decode(code: &str) -> Result<ShareLink, JsError> {
    share::decode(code)
        .map(|shared| ShareLink { shared })
        .map_err(|e| JsError::new(&e.to_string()))
}
