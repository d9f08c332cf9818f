//! Shared episodes on the page: core's agent references, share-link codec and episode record,
//! so the page neither spells an agent spec nor the record's JSON format.

use gridmentor_core::agent_ref::{AgentRef, Sampling, Temperature, checkpoint_id_from_hex};
use gridmentor_core::episode::{self, EpisodeRecord, TranscriptEntry};
use gridmentor_core::planner::PromptStyle;
use gridmentor_core::share::{self, Shared};
use wasm_bindgen::prelude::*;

fn js(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// An agent as core names it ([`AgentRef`]): parsed from and written to its spec text
/// (`human`, `random:SEED`, `planner:STYLE:NAME`, `checkpoint:ID[:sampled:SEED]`).
#[wasm_bindgen(js_name = AgentSpec)]
pub struct AgentSpec(AgentRef);

#[wasm_bindgen(js_class = AgentSpec)]
impl AgentSpec {
    /// Read a spec; the error says why and lists the forms.
    pub fn parse(text: &str) -> Result<AgentSpec, JsError> {
        text.parse().map(AgentSpec).map_err(js)
    }

    /// The checkpoint `id` (64 hex digits), greedy, or sampled from `sample_seed` when given.
    pub fn checkpoint(id: &str, sample_seed: Option<u64>) -> Result<AgentSpec, JsError> {
        Ok(AgentSpec(AgentRef::Checkpoint {
            id: checkpoint_id_from_hex(id).map_err(js)?,
            sampling: sample_seed.map_or(Sampling::Greedy, Sampling::Seeded),
        }))
    }

    /// Planner + skills asking `model` in prompt `style` (`when2ask` or `llm4teach`).
    pub fn planner(style: &str, model: &str) -> Result<AgentSpec, JsError> {
        let style = PromptStyle::from_name(style)
            .ok_or_else(|| JsError::new(&format!("unknown prompt style {style:?}")))?;
        gridmentor_core::agent_ref::check_planner_name(model).map_err(js)?;
        Ok(AgentSpec(AgentRef::Planner {
            planner: model.into(),
            style,
        }))
    }

    /// GLAM's LLM policy with `model` at policy temperature `temperature`, greedy, or sampled
    /// from `sample_seed` when given.
    #[wasm_bindgen(js_name = llmPolicy)]
    pub fn llm_policy(
        model: &str,
        temperature: f64,
        sample_seed: Option<u64>,
    ) -> Result<AgentSpec, JsError> {
        gridmentor_core::agent_ref::check_planner_name(model).map_err(js)?;
        Ok(AgentSpec(AgentRef::LlmPolicy {
            model: model.into(),
            temperature: Temperature::new(temperature).map_err(js)?,
            sampling: sample_seed.map_or(Sampling::Greedy, Sampling::Seeded),
        }))
    }

    /// `human`, `random`, `planner`, `checkpoint` or `llm-policy`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.0.kind().into()
    }

    /// A checkpoint's id in hex, `undefined` for other kinds.
    #[wasm_bindgen(getter, js_name = checkpointId)]
    pub fn checkpoint_id(&self) -> Option<String> {
        match &self.0 {
            AgentRef::Checkpoint { id, .. } => {
                Some(gridmentor_core::agent_ref::checkpoint_id_to_hex(id))
            }
            _ => None,
        }
    }

    /// A sampled checkpoint's or LLM policy's seed, `undefined` when it plays greedy (or
    /// samples nothing).
    #[wasm_bindgen(getter, js_name = sampleSeed)]
    pub fn sample_seed(&self) -> Option<u64> {
        match &self.0 {
            AgentRef::Checkpoint {
                sampling: Sampling::Seeded(s),
                ..
            }
            | AgentRef::LlmPolicy {
                sampling: Sampling::Seeded(s),
                ..
            } => Some(*s),
            _ => None,
        }
    }

    /// The same agent, greedy: the spec a sampled checkpoint's or LLM policy's menu entry goes
    /// by.
    pub fn greedy(&self) -> AgentSpec {
        let mut a = self.0.clone();
        if let AgentRef::Checkpoint { sampling, .. } | AgentRef::LlmPolicy { sampling, .. } = &mut a
        {
            *sampling = Sampling::Greedy;
        }
        AgentSpec(a)
    }

    /// The spec text.
    #[wasm_bindgen(getter)]
    pub fn text(&self) -> String {
        self.0.to_string()
    }
}

/// Specs as core's agents, with the index of a bad one in the error.
fn parse_all(specs: &[String]) -> Result<Vec<AgentRef>, JsError> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| s.parse().map_err(|e| js(format!("agent {i}: {e}"))))
        .collect()
}

/// A shared episode opened from a link (`#s=` code) or a stored record (`#ep=`).
#[wasm_bindgen]
pub struct SharedEpisode {
    shared: Shared,
    transcript: Vec<TranscriptEntry>,
}

#[wasm_bindgen]
impl SharedEpisode {
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
        self.shared.agents.iter().map(|a| a.to_string()).collect()
    }

    /// Agent `i`'s actions.
    pub fn actions(&self, i: usize) -> Result<Vec<u8>, JsError> {
        self.shared
            .actions
            .get(i)
            .cloned()
            .ok_or_else(|| JsError::new(&format!("no agent {i} in this episode")))
    }

    /// The stored LLM transcript as JSON (`[]` for a link), entries as the record holds them.
    #[wasm_bindgen(js_name = transcriptJson)]
    pub fn transcript_json(&self) -> String {
        serde_json::to_string(&self.transcript).unwrap_or_else(|_| "[]".into())
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
    let shared = Shared {
        env: env.into(),
        seed,
        agents: parse_all(&agents)?,
        actions: actions.iter().map(|a| a.to_vec()).collect(),
    };
    share::encode(&shared).map_err(js)
}

/// Decode a code; the error says exactly why it cannot be read.
#[wasm_bindgen(js_name = shareDecode)]
pub fn share_decode(code: &str) -> Result<SharedEpisode, JsError> {
    share::decode(code)
        .map(|shared| SharedEpisode {
            shared,
            transcript: Vec::new(),
        })
        .map_err(js)
}

/// The episode record (JSON) the server stores for `/#ep=` links: core's [`EpisodeRecord`],
/// checked as the server will check it. `transcript_json` is a JSON array of entries
/// (`agent`, `step`, `prompt`, `answer`, `latency_ms`, `cached`; other fields are ignored).
#[wasm_bindgen(js_name = episodeRecord)]
pub fn episode_record(
    env: &str,
    seed: u64,
    agents: Vec<String>,
    actions: Vec<js_sys::Uint8Array>,
    transcript_json: &str,
) -> Result<String, JsError> {
    let transcript: Vec<TranscriptEntry> =
        serde_json::from_str(transcript_json).map_err(|e| js(format!("transcript: {e}")))?;
    let mut record = EpisodeRecord {
        v: episode::VERSION,
        env: env.into(),
        seed: episode::Seed(seed),
        agents: parse_all(&agents)?,
        actions: actions.iter().map(|a| a.to_vec()).collect(),
        transcript,
    };
    record.check().map_err(js)?;
    serde_json::to_string(&record).map_err(js)
}

/// Read a stored record (the server's `/api/episodes/{id}` body), checked by core.
#[wasm_bindgen(js_name = episodeRead)]
pub fn episode_read(json: &str) -> Result<SharedEpisode, JsError> {
    let mut r: EpisodeRecord = serde_json::from_str(json).map_err(js)?;
    r.check().map_err(js)?;
    Ok(SharedEpisode {
        shared: Shared {
            env: r.env,
            seed: r.seed.0,
            agents: r.agents,
            actions: r.actions,
        },
        transcript: r.transcript,
    })
}
