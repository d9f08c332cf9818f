//! The embedded SmolLM2-135M-Instruct (feature `smollm2`) as a [`LocalModel`], bare or with a
//! grounded checkpoint's GLAM adapters: only type conversions; the model is `gridmentor-llm`.

use super::local::{Fairness, GenParams, Generated, Local, LocalError, LocalModel, Scored};
use super::{ChatMessage, ModelCard, Score};
use gridmentor_llm::grounding::Grounded;
use gridmentor_llm::{ChatModel, LlmError, Message, SmolLm2};
use std::path::Path;

/// A model of `gridmentor-llm` (the bare SmolLM2 or a grounded one) behind a backend.
pub struct Embedded<M>(pub M);

/// The bare model.
pub type Smol = Embedded<SmolLm2>;
/// A grounded model (GLAM adapters on SmolLM2).
pub type GroundedSmol = Embedded<Grounded>;

fn messages(m: &[ChatMessage]) -> Vec<Message> {
    m.iter()
        .map(|m| Message::new(m.role.clone(), m.content.clone()))
        .collect()
}

/// Parameters and context overflows are the request's fault (400); the rest is the model's.
fn local_error(e: LlmError) -> LocalError {
    match e {
        LlmError::ContextOverflow { .. } => LocalError::ContextOverflow(e.to_string()),
        LlmError::InvalidRequest(m) => LocalError::Invalid(m),
        e => LocalError::Failed(e.to_string()),
    }
}

impl<M: ChatModel> LocalModel for Embedded<M> {
    fn generate(
        &mut self,
        m: &[ChatMessage],
        p: &GenParams,
        on_token: &mut dyn FnMut(&str),
        keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<Generated, LocalError> {
        let params = gridmentor_llm::GenParams {
            max_tokens: p.max_tokens.max(1) as usize,
            temperature: p.temperature as f32,
            top_p: p.top_p as f32,
            seed: p.seed,
            stop: p.stop.clone(),
        };
        let g = self
            .0
            .chat_until(&messages(m), &params, on_token, keep_going)
            .map_err(local_error)?;
        Ok(Generated {
            text: g.text,
            finish_reason: g.finish_reason.as_str().to_string(),
            prompt_tokens: g.prompt_tokens as u64,
            completion_tokens: g.completion_tokens as u64,
        })
    }

    fn score(&mut self, m: &[ChatMessage], candidates: &[String]) -> Result<Scored, LocalError> {
        let msgs = messages(m);
        let prompt_tokens = self.0.prompt_tokens(&msgs).map_err(local_error)?.len() as u64;
        let scores = self
            .0
            .score(&msgs, candidates)
            .map_err(local_error)?
            .into_iter()
            .zip(candidates)
            .map(|(s, c)| Score {
                candidate: c.clone(),
                logprob: s.logprob as f64,
                tokens: s.tokens as u32,
            })
            .collect();
        Ok(Scored {
            scores,
            prompt_tokens,
        })
    }
}

/// Load the model from `path` (slow: it dequantizes the weights) as a backend shared as
/// `fairness` says.
pub fn load(path: &Path, fairness: Fairness) -> Result<Local<Smol>, String> {
    let model = SmolLm2::load(path).map_err(|e| e.to_string())?;
    let card = ModelCard {
        id: SmolLm2::MODEL_ID.into(),
        aliases: vec!["smollm2".into()],
        ..ModelCard::default()
    };
    Ok(Local::new("smollm2", card, Embedded(model), fairness))
}

/// Load a grounded checkpoint onto the model in `path` (both checked) as a backend that answers
/// to `name`.
pub fn load_grounded(
    path: &Path,
    name: &str,
    checkpoint: &Path,
    fairness: Fairness,
) -> Result<Local<GroundedSmol>, String> {
    let base = SmolLm2::load(path).map_err(|e| e.to_string())?;
    let g = Grounded::load(base, path, checkpoint).map_err(|e| e.to_string())?;
    let card = ModelCard {
        id: name.into(),
        aliases: Vec::new(),
        policy_temperature: Some(g.temperature()),
    };
    Ok(Local::new("grounded", card, Embedded(g), fairness))
}

/// Where the model is looked for when `--model-path` is not given.
pub fn default_path() -> std::path::PathBuf {
    SmolLm2::default_path()
}
