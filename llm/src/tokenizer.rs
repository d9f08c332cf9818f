//! SmolLM2's byte-level BPE built from the GGUF vocabulary, and the ChatML prompt of its
//! chat template (with the default system prompt the template adds).

use candle_core::quantized::gguf_file;
use candle_core::quantized::tokenizer::TokenizerFromGguf;
use tokenizers::Tokenizer;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;

use crate::{LlmError, Message};

/// What SmolLM2's chat template says when the conversation has no system message.
pub const DEFAULT_SYSTEM_PROMPT: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// The tokenizer plus the ids of the ChatML control tokens.
pub struct ChatTokenizer {
    inner: Tokenizer,
    pub im_start: u32,
    pub im_end: u32,
    pub end_of_text: u32,
}

impl ChatTokenizer {
    pub fn from_gguf(ct: &gguf_file::Content) -> Result<ChatTokenizer, LlmError> {
        let mut inner = Tokenizer::from_gguf(ct).map_err(|e| LlmError::Tokenizer(e.to_string()))?;
        // The GGUF names this pre-tokenizer "smollm", which candle maps to plain GPT-2 with a
        // prefix space; SmolLM2's tokenizer.json splits every digit and adds no prefix space.
        let pre: Vec<PreTokenizerWrapper> = vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ];
        inner.with_pre_tokenizer(Some(Sequence::new(pre)));
        // Text is always text: a "<|im_end|>" typed by a user must not end their turn. Control
        // tokens are inserted by id in `chat_prompt`.
        inner.set_encode_special_tokens(true);
        let id = |t: &str| {
            inner
                .token_to_id(t)
                .ok_or_else(|| LlmError::Tokenizer(format!("vocabulary has no {t} token")))
        };
        Ok(ChatTokenizer {
            im_start: id("<|im_start|>")?,
            im_end: id("<|im_end|>")?,
            end_of_text: id("<|endoftext|>")?,
            inner,
        })
    }

    /// Token ids of `text`, control-token look-alikes included as plain text.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| LlmError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of `ids`, control tokens dropped.
    pub fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
        self.inner
            .decode(ids, true)
            .map_err(|e| LlmError::Tokenizer(e.to_string()))
    }

    /// The ChatML prompt of the model's chat template with the generation prompt appended:
    /// `<|im_start|>{role}\n{content}<|im_end|>\n` per message, then `<|im_start|>assistant\n`.
    pub fn chat_prompt(&self, messages: &[Message]) -> Result<Vec<u32>, LlmError> {
        let mut ids = Vec::new();
        let mut turn = |role: &str, content: &str| -> Result<(), LlmError> {
            ids.push(self.im_start);
            ids.extend(self.encode(&format!("{role}\n{content}"))?);
            ids.push(self.im_end);
            ids.extend(self.encode("\n")?);
            Ok(())
        };
        if messages.first().is_none_or(|m| m.role != "system") {
            turn("system", DEFAULT_SYSTEM_PROMPT)?;
        }
        for m in messages {
            if m.role.is_empty() || m.role.contains(char::is_whitespace) {
                return Err(LlmError::InvalidRequest(format!(
                    "message role {:?} must be one word",
                    m.role
                )));
            }
            turn(&m.role, &m.content)?;
        }
        ids.push(self.im_start);
        ids.extend(self.encode("assistant\n")?);
        Ok(ids)
    }
}

/// Turns a growing list of token ids into text pieces without ever emitting half a UTF-8
/// character (byte-level BPE can split one across tokens).
#[derive(Default)]
pub struct TextStream {
    ids: Vec<u32>,
    text: String,
}

impl TextStream {
    /// Adds a token and returns the full text decoded so far (complete characters only).
    pub fn push(&mut self, tok: &ChatTokenizer, id: u32) -> Result<&str, LlmError> {
        self.ids.push(id);
        let decoded = tok.decode(&self.ids)?;
        if !decoded.ends_with('\u{FFFD}') {
            self.text = decoded;
        }
        Ok(&self.text)
    }

    /// All the text, including a trailing incomplete character (as U+FFFD) if any.
    pub fn finish(&self, tok: &ChatTokenizer) -> Result<String, LlmError> {
        tok.decode(&self.ids)
    }
}
