//! GLAM's functional grounding of the embedded model: LoRA adapters on the top decoder blocks and
//! a value head, trained by PPO through the log-likelihoods of the action texts.
//!
//! The adapters act at the decision positions only: the last prompt token and the action
//! tokens. The prompt before them is read by the frozen model, so its keys and values are
//! computed once (without gradients) and kept with the rollout step; a PPO epoch then runs the
//! adapted top blocks over a handful of positions instead of the whole prompt.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use candle_core::backprop::GradStore;
use candle_core::{D, DType, Device, IndexOp, Tensor, Var};
use sha2::{Digest, Sha256};

use crate::model::{Adapter, Frozen, KvCache, Proj};
use crate::{LlmError, Message, Score, SmolLm2};

/// How the action texts are asked for: ChatML with the default system turn, GLAM's prompt as the
/// user's turn, each action text as the assistant's reply. A checkpoint records it; loading
/// refuses another.
pub const PROMPT_FORMAT: &str = "chatml-system-default/glam-prompt/action-as-reply";

/// File magic of a grounded checkpoint (then a little-endian u64 header length, the JSON header,
/// and the tensors' f32 data in the header's order).
const MAGIC: &[u8; 8] = b"GMGLAM1\n";

/// Where the adapters go and how big they are.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoraConfig {
    /// The top `layers` decoder blocks get adapters (the others stay frozen).
    pub layers: usize,
    pub rank: usize,
    /// LoRA's scale is `alpha / rank`.
    pub alpha: f32,
    /// Adapt the MLP projections (gate, up, down) as well as q and v.
    pub mlp: bool,
    /// Width of the value head's hidden layer.
    pub value_hidden: usize,
}

impl Default for LoraConfig {
    fn default() -> LoraConfig {
        LoraConfig {
            layers: 2,
            rank: 8,
            alpha: 16.0,
            mlp: false,
            value_hidden: 64,
        }
    }
}

/// PPO's settings for one minibatch (CleanRL's names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PpoParams {
    pub clip: f32,
    pub vf_coef: f32,
    pub ent_coef: f32,
    pub max_grad_norm: f32,
    pub clip_vloss: bool,
    pub lr: f64,
}

/// One step of a rollout as PPO trains on it.
#[derive(Clone)]
pub struct Sample {
    pub lower: Arc<Lower>,
    pub action: usize,
    /// log pi_old(action | prompt).
    pub logp: f32,
    pub value: f32,
    pub advantage: f32,
    pub ret: f32,
}

/// What a minibatch update measured (means over its samples).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UpdateStats {
    pub policy_loss: f32,
    pub value_loss: f32,
    pub entropy: f32,
    pub approx_kl: f32,
    pub clipfrac: f32,
    /// The global gradient norm before clipping.
    pub grad_norm: f32,
}

/// The policy's view of one prompt: the action texts' log-likelihoods, the value, and the
/// frozen part of the forward pass (kept for training on this step).
pub struct Evaluation {
    pub scores: Vec<f32>,
    pub value: f32,
    pub lower: Arc<Lower>,
}

/// The frozen part of one prompt: the top blocks' keys and values of the prompt before its last
/// token, and the residual stream entering the first adapted block at the decision positions,
/// a token tree `[1, nodes, dim]`: node 0 is the prompt's last token, the others the
/// candidates' proper prefixes (candidates sharing a beginning share its nodes).
pub struct Lower {
    kv: KvCache,
    x: Tensor,
    parents: Vec<Option<usize>>,
    picks: Picks,
}

/// Candidate `b`'s score is the sum of `log p(token | node)` over its `(node, token)` pairs
/// `picks[b]`.
type Picks = Vec<Vec<(usize, u32)>>;

impl Lower {
    /// The decision tree of `cands` after the prompt's last token `last`: its tokens, parents
    /// and each candidate's `(node, next token)` pairs.
    fn tree(last: u32, cands: &[Vec<u32>]) -> (Vec<u32>, Vec<Option<usize>>, Picks) {
        let mut tree = crate::TokenTree::default();
        for c in cands {
            tree.add(c);
        }
        let tokens = std::iter::once(last)
            .chain(tree.tokens.iter().copied())
            .collect();
        let parents = std::iter::once(None)
            .chain(tree.parents.iter().map(|p| Some(p.map_or(0, |i| i + 1))))
            .collect();
        let picks = cands
            .iter()
            .map(|c| {
                (0..c.len())
                    .map(|j| match j {
                        0 => (0, c[0]),
                        _ => (tree.node(&c[..j]) + 1, c[j]),
                    })
                    .collect()
            })
            .collect();
        (tokens, parents, picks)
    }
}

/// A tensor of the trained part, named as in the checkpoint.
struct Param {
    name: String,
    var: Var,
}

/// LoRA's A and B of one adapted projection.
struct LoraPair {
    a: Var,
    b: Var,
}

/// The trained parameters: the adapters of the top blocks and the value head.
pub struct Adapters {
    cfg: LoraConfig,
    first: usize,
    scale: f64,
    /// `(layer, projection) -> (A [rank, in], B [out, rank])`; B starts at zero so a fresh
    /// adapter is the base model exactly.
    lora: HashMap<(usize, Proj), LoraPair>,
    /// Value head: `w2 tanh(w1 x + b1) + b2`, `x` the final hidden state at the prompt's last
    /// token as `value_input` says.
    value_input: ValueInput,
    w1: Var,
    b1: Var,
    w2: Var,
    b2: Var,
    params: Vec<Param>,
}

/// What the value head reads. Checkpoint format 1 read the raw hidden state; format 2 its unit
/// vector (see [`Adapters::value`]). A format-1 checkpoint keeps its head as trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueInput {
    Raw,
    UnitLength,
}

impl ValueInput {
    fn format(self) -> &'static str {
        match self {
            ValueInput::Raw => "gridmentor-glam-1",
            ValueInput::UnitLength => "gridmentor-glam-2",
        }
    }

    fn of_format(format: &str) -> Option<ValueInput> {
        [ValueInput::Raw, ValueInput::UnitLength]
            .into_iter()
            .find(|v| v.format() == format)
    }
}

/// The adapters as [`crate::model::Llama::blocks`] applies them; `grad` records gradients.
struct Applied<'a> {
    adapters: &'a Adapters,
    grad: bool,
}

impl Adapters {
    fn new(cfg: LoraConfig, llama: &crate::model::Llama, seed: u64) -> Result<Adapters, LlmError> {
        let c = &llama.cfg;
        if cfg.layers == 0 || cfg.layers > c.n_layer || cfg.rank == 0 || cfg.value_hidden == 0 {
            return Err(LlmError::InvalidRequest(format!(
                "LoRA layers must be 1..={}, rank and value head width at least 1 (got {:?})",
                c.n_layer, cfg
            )));
        }
        let dev = &Device::Cpu;
        let mut rng = SplitMix(seed);
        let mut params = Vec::new();
        let mut var = |name: String, t: Tensor| -> Result<Var, LlmError> {
            let v = Var::from_tensor(&t)?;
            params.push(Param {
                name,
                var: v.clone(),
            });
            Ok(v)
        };
        let first = c.n_layer - cfg.layers;
        let kv = c.n_kv_head * c.head_dim;
        let hidden_mlp = c.mlp_hidden;
        let mut projs = vec![(Proj::Q, c.dim, c.dim), (Proj::V, c.dim, kv)];
        if cfg.mlp {
            projs.extend([
                (Proj::Gate, c.dim, hidden_mlp),
                (Proj::Up, c.dim, hidden_mlp),
                (Proj::Down, hidden_mlp, c.dim),
            ]);
        }
        let mut lora = HashMap::new();
        for layer in first..c.n_layer {
            for &(p, fan_in, out) in &projs {
                let bound = (1.0 / fan_in as f32).sqrt();
                let a = rng.uniform(cfg.rank * fan_in, bound);
                let a = var(
                    format!("lora.{layer}.{p:?}.a"),
                    Tensor::from_vec(a, (cfg.rank, fan_in), dev)?,
                )?;
                let b = var(
                    format!("lora.{layer}.{p:?}.b"),
                    Tensor::zeros((out, cfg.rank), DType::F32, dev)?,
                )?;
                lora.insert((layer, p), LoraPair { a, b });
            }
        }
        let h = cfg.value_hidden;
        // A unit-length input: bound sqrt(3) gives each hidden unit an input of variance 1.
        let w1 = rng.uniform(h * c.dim, 3f32.sqrt());
        let w1 = var("value.w1".into(), Tensor::from_vec(w1, (h, c.dim), dev)?)?;
        let b1 = var("value.b1".into(), Tensor::zeros(h, DType::F32, dev)?)?;
        let w2 = rng.uniform(h, (1.0 / h as f32).sqrt());
        let w2 = var("value.w2".into(), Tensor::from_vec(w2, (1, h), dev)?)?;
        let b2 = var("value.b2".into(), Tensor::zeros(1, DType::F32, dev)?)?;
        Ok(Adapters {
            cfg,
            first,
            scale: (cfg.alpha / cfg.rank as f32) as f64,
            lora,
            value_input: ValueInput::UnitLength,
            w1,
            b1,
            w2,
            b2,
            params,
        })
    }

    fn value(&self, h: &Tensor, grad: bool) -> candle_core::Result<Tensor> {
        let t = |v: &Var| tensor(v, grad);
        // The value loss trains the head alone, not the adapters the policy shares: with its
        // gradient reaching the LoRA blocks the README's GoToObj command stopped learning
        // (rolling success 0.05 at 2,816 frames, where the run with a constant value, whose
        // head passed no gradient, had 0.55).
        let h = h.detach();
        let h = match self.value_input {
            ValueInput::Raw => h.clone(),
            // Unit length: the final hidden state has an outlier dimension (about 44 where the
            // rest are ~2) and 576 summed inputs, so on the raw state Adam's per-weight steps
            // (lr 5e-3) moved every hidden unit's input by ~6 a step, saturating every tanh
            // within a few updates: one value for every prompt (explained variance 0).
            ValueInput::UnitLength => h.broadcast_div(&h.sqr()?.sum_all()?.sqrt()?)?,
        };
        let x = h.unsqueeze(0)?.matmul(&t(&self.w1).t()?)?;
        let x = x.broadcast_add(&t(&self.b1))?.tanh()?;
        let y = x.matmul(&t(&self.w2).t()?)?.broadcast_add(&t(&self.b2))?;
        y.flatten_all()?.i(0)
    }
}

/// A parameter in a forward pass: tracked when training, a plain tensor otherwise (no graph).
fn tensor(v: &Var, grad: bool) -> Tensor {
    match grad {
        true => v.as_tensor().clone(),
        false => v.as_tensor().detach(),
    }
}

impl Adapter for Applied<'_> {
    fn adapt(
        &self,
        layer: usize,
        proj: Proj,
        h: &Tensor,
        y: Tensor,
    ) -> candle_core::Result<Tensor> {
        let Some(pair) = self.adapters.lora.get(&(layer, proj)) else {
            return Ok(y);
        };
        let dims = h.dims().to_vec();
        let last = dims[dims.len() - 1];
        let rows = h.elem_count() / last;
        let a = tensor(&pair.a, self.grad);
        let b = tensor(&pair.b, self.grad);
        let d = h
            .reshape((rows, last))?
            .matmul(&a.t()?)?
            .matmul(&b.t()?)?
            .affine(self.adapters.scale, 0.0)?;
        let d = d.reshape(y.shape())?;
        y + d
    }

    fn differentiable(&self) -> bool {
        self.grad
    }
}

/// Adam with decoupled weight decay, written out so that its moments go into a checkpoint and
/// `--resume` continues exactly.
struct Adam {
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    t: u64,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const ADAM_EPS: f64 = 1e-8;

impl Adam {
    fn new(params: &[Param]) -> Result<Adam, LlmError> {
        let zeros = |p: &Param| p.var.as_tensor().zeros_like();
        Ok(Adam {
            m: params.iter().map(zeros).collect::<Result<_, _>>()?,
            v: params.iter().map(zeros).collect::<Result<_, _>>()?,
            t: 0,
        })
    }

    fn step(&mut self, params: &[Param], grads: &[Tensor], lr: f64) -> candle_core::Result<()> {
        self.t += 1;
        let c1 = 1.0 - BETA1.powi(self.t as i32);
        let c2 = 1.0 - BETA2.powi(self.t as i32);
        for (i, (p, g)) in params.iter().zip(grads).enumerate() {
            self.m[i] = ((&self.m[i] * BETA1)? + (g * (1.0 - BETA1))?)?;
            self.v[i] = ((&self.v[i] * BETA2)? + (g.sqr()? * (1.0 - BETA2))?)?;
            let mh = (&self.m[i] / c1)?;
            let vh = (&self.v[i] / c2)?;
            let delta = (mh / (vh.sqrt()? + ADAM_EPS)?)?;
            p.var.set(&(p.var.as_tensor() - (delta * lr)?)?)?;
        }
        Ok(())
    }
}

/// The embedded model with GLAM's adapters: the action-text policy, its value, PPO, and the
/// grounded checkpoint.
pub struct Grounded {
    base: SmolLm2,
    base_sha256: String,
    adapters: Adapters,
    adam: Adam,
    actions: Vec<String>,
    action_ids: Vec<Vec<u32>>,
    /// The policy is softmax(log-likelihood / temperature).
    temperature: f32,
    /// Frozen parts by prompt: BabyAI-Text prompts repeat (the same view, the same history).
    lowers: HashMap<Vec<u32>, Arc<Lower>>,
    /// The last prompt run (but its last token) and its KV cache in every block.
    previous: Option<(Vec<u32>, KvCache)>,
}

/// Prompts whose frozen part is kept at once (the top blocks' keys and values: about 0.2 MB a
/// block for a 140-token prompt).
const LOWER_CACHE: usize = 1024;

/// What a grounded checkpoint's header says.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Header {
    pub format: String,
    pub base_model: String,
    pub base_sha256: String,
    pub prompt_format: String,
    pub actions: Vec<String>,
    pub lora: LoraConfig,
    /// `(name, shape)` of every tensor, in the data's order.
    pub tensors: Vec<(String, Vec<usize>)>,
    /// Adam's step count (0 when the moments are not in the file).
    pub adam_steps: u64,
    /// The policy is softmax(log-likelihood / temperature).
    #[serde(default = "one")]
    pub temperature: f32,
    /// What the trainer adds (env, frames, seed).
    pub meta: serde_json::Value,
}

fn one() -> f32 {
    1.0
}

/// sha256 of a file, in hex.
pub fn sha256_file(path: &Path) -> Result<String, LlmError> {
    let mut f = std::fs::File::open(path).map_err(|e| LlmError::Load {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| LlmError::Load {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl Grounded {
    /// Fresh adapters (B = 0: the base model's policy) on `base`, loaded from `base_path`.
    pub fn new(
        base: SmolLm2,
        base_path: &Path,
        cfg: LoraConfig,
        actions: &[&str],
        seed: u64,
    ) -> Result<Grounded, LlmError> {
        let base_sha256 = sha256_file(base_path)?;
        let adapters = Adapters::new(cfg, &base.llama, seed)?;
        let adam = Adam::new(&adapters.params)?;
        let action_ids = actions
            .iter()
            .map(|a| base.encode(a))
            .collect::<Result<Vec<_>, _>>()?;
        if action_ids.iter().any(Vec::is_empty) {
            return Err(LlmError::InvalidRequest("an action text is empty".into()));
        }
        Ok(Grounded {
            base,
            base_sha256,
            adapters,
            adam,
            actions: actions.iter().map(|s| s.to_string()).collect(),
            action_ids,
            temperature: 1.0,
            lowers: HashMap::new(),
            previous: None,
        })
    }

    /// The policy's temperature: softmax(log-likelihood / temperature).
    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// Sets the policy's temperature (training's choice; saved in the checkpoint).
    pub fn set_temperature(&mut self, t: f32) -> Result<(), LlmError> {
        if !(t > 0.0 && t.is_finite()) {
            return Err(LlmError::InvalidRequest(format!(
                "the policy temperature must be positive, not {t}"
            )));
        }
        self.temperature = t;
        Ok(())
    }

    pub fn lora(&self) -> LoraConfig {
        self.adapters.cfg
    }

    pub fn actions(&self) -> &[String] {
        &self.actions
    }

    /// Prompts whose frozen part is kept now.
    pub fn prompts_cached(&self) -> usize {
        self.lowers.len()
    }

    pub fn base(&self) -> &SmolLm2 {
        &self.base
    }

    /// Trained parameters (adapters and value head).
    pub fn parameter_count(&self) -> usize {
        self.adapters
            .params
            .iter()
            .map(|p| p.var.as_tensor().elem_count())
            .sum()
    }

    /// The policy at the ChatML prompt of `messages`: the action texts' log-likelihoods and the
    /// value, without gradients.
    pub fn evaluate(&mut self, messages: &[Message]) -> Result<Evaluation, LlmError> {
        let prompt = self.base.prompt_tokens(messages)?;
        let cands = self.action_ids.clone();
        let lower = self.lower(prompt, &cands, true)?;
        let (scores, value) = self.base.pool.install(|| self.upper(&lower, false))?;
        Ok(Evaluation {
            scores: scores.to_vec1()?,
            value: value.to_scalar()?,
            lower,
        })
    }

    /// [`SmolLm2::score`] through the adapters: each candidate's summed log-probability after
    /// the ChatML prompt of `messages`.
    pub fn score(
        &mut self,
        messages: &[Message],
        candidates: &[String],
    ) -> Result<Vec<Score>, LlmError> {
        let prompt = self.base.prompt_tokens(messages)?;
        let cands = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| match self.base.encode(c)? {
                ids if ids.is_empty() => {
                    Err(LlmError::InvalidRequest(format!("candidate {i} is empty")))
                }
                ids => Ok(ids),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if cands.is_empty() {
            return Ok(Vec::new());
        }
        let longest = cands.iter().map(Vec::len).max().unwrap_or(0);
        let limit = self.base.context_length();
        if prompt.len() + longest > limit {
            return Err(LlmError::ContextOverflow {
                needed: prompt.len() + longest,
                limit,
                prompt: prompt.len(),
                what: format!("longest candidate {longest}"),
            });
        }
        let is_actions = cands == self.action_ids;
        let lower = self.lower(prompt, &cands, is_actions)?;
        let (scores, _) = self.base.pool.install(|| self.upper(&lower, false))?;
        Ok(scores
            .to_vec1::<f32>()?
            .into_iter()
            .zip(&cands)
            .map(|(logprob, c)| Score {
                logprob,
                tokens: c.len(),
            })
            .collect())
    }

    /// The frozen part of `prompt` and `cands` (kept by prompt when `keep`). The KV cache of the
    /// previous prompt is reused up to their common prefix (a rollout's consecutive prompts share
    /// the system turn, the action list and the goal).
    fn lower(
        &mut self,
        prompt: Vec<u32>,
        cands: &[Vec<u32>],
        keep: bool,
    ) -> Result<Arc<Lower>, LlmError> {
        if keep && let Some(l) = self.lowers.get(&prompt) {
            return Ok(l.clone());
        }
        let limit = self.base.context_length();
        let longest = cands.iter().map(Vec::len).max().unwrap_or(1);
        if prompt.len() + longest > limit || prompt.len() < 2 {
            return Err(LlmError::ContextOverflow {
                needed: prompt.len() + longest,
                limit,
                prompt: prompt.len(),
                what: format!("longest candidate {longest}"),
            });
        }
        let first = self.adapters.first;
        let n_layer = self.base.llama.cfg.n_layer;
        let (head, last) = prompt.split_at(prompt.len() - 1);
        let mut kept = self.previous.take();
        let SmolLm2 {
            pool,
            llama,
            f32_weights: w,
            ..
        } = &self.base;
        let (lower, cache) =
            pool.install(|| -> Result<(Lower, (Vec<u32>, KvCache)), LlmError> {
                // The prompt before its last token, through every block, frozen.
                let common = kept.as_ref().map_or(0, |(ids, _)| {
                    ids.iter().zip(head).take_while(|(a, b)| a == b).count()
                });
                let (mut cache, done) = match kept.take() {
                    Some((_, mut c)) if common > 0 => {
                        c.truncate(common)?;
                        (c, common)
                    }
                    _ => (KvCache::new(n_layer), 0),
                };
                for chunk in head[done..].chunks(crate::PREFILL_CHUNK) {
                    let input = Tensor::new(chunk, &Device::Cpu)?.unsqueeze(0)?;
                    llama.forward(w, &input, &mut cache)?;
                }
                // The decision positions, one token tree, through the frozen lower blocks.
                let (tokens, parents, picks) = Lower::tree(last[0], cands);
                let input = Tensor::new(tokens.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
                let x = llama.embed(w, &input)?;
                let mut lower_kv = cache.clone();
                let x = llama.tree_blocks(w, x, &parents, 0..first, &mut lower_kv, &Frozen)?;
                Ok((
                    Lower {
                        kv: cache.upper(first)?,
                        x,
                        parents,
                        picks,
                    },
                    (head.to_vec(), cache),
                ))
            })?;
        self.previous = Some(cache);
        let lower = Arc::new(lower);
        if keep {
            if self.lowers.len() >= LOWER_CACHE {
                self.lowers.clear();
            }
            self.lowers.insert(prompt, lower.clone());
        }
        Ok(lower)
    }

    /// The adapted top blocks on a frozen part: the candidates' summed log-probabilities `[n]`
    /// and the value `[]`.
    fn upper(&self, lower: &Lower, grad: bool) -> Result<(Tensor, Tensor), LlmError> {
        let SmolLm2 {
            llama,
            f32_weights: w,
            ..
        } = &self.base;
        let applied = Applied {
            adapters: &self.adapters,
            grad,
        };
        let layers = self.adapters.first..llama.cfg.n_layer;
        let mut cache = lower.kv.clone();
        let h = llama.tree_blocks(
            w,
            lower.x.clone(),
            &lower.parents,
            layers,
            &mut cache,
            &applied,
        )?;
        let h = llama.final_norm(w, &h.i(0)?, grad)?; // [nodes, dim]
        // Node 0 is the prompt's last token: the value reads it.
        let value = self.adapters.value(&h.i(0)?, grad)?;
        let lp = llama.log_probs_grad(w, &h, grad)?; // [nodes, vocab]
        // Every (node, token) pick in one gather, then summed per candidate by a 0/1 matrix.
        let count: usize = lower.picks.iter().map(Vec::len).sum();
        let mut nodes = Vec::with_capacity(count);
        let mut targets = Vec::with_capacity(count);
        let mut sum = vec![0f32; lower.picks.len() * count];
        for (b, picks) in lower.picks.iter().enumerate() {
            for &(node, token) in picks {
                sum[b * count + nodes.len()] = 1.0;
                nodes.push(node as u32);
                targets.push(token);
            }
        }
        let nodes = Tensor::from_vec(nodes, count, &Device::Cpu)?;
        let targets = Tensor::from_vec(targets, (count, 1), &Device::Cpu)?;
        let sum = Tensor::from_vec(sum, (lower.picks.len(), count), &Device::Cpu)?;
        let picked = lp.index_select(&nodes, 0)?.gather(&targets, 1)?; // [count, 1]
        let scores = sum.matmul(&picked)?.squeeze(1)?;
        Ok((scores, value))
    }

    /// The assistant's reply through the adapters (as [`SmolLm2::chat_until`]): the prompt
    /// before its last token is read by the frozen model, every later position by the adapted
    /// one, as in scoring.
    pub fn chat_until(
        &mut self,
        messages: &[Message],
        params: &crate::GenParams,
        on_token: &mut dyn FnMut(&str),
        keep_going: &mut dyn FnMut() -> bool,
    ) -> Result<crate::Generation, LlmError> {
        let sampler = crate::sampling::Sampler::new(params)?;
        crate::check_gen_params(params)?;
        let prompt = self.base.prompt_tokens(messages)?;
        let limit = self.base.context_length();
        crate::check_context(prompt.len(), params.max_tokens, limit, 2)?;
        let first = self.adapters.first;
        let SmolLm2 {
            pool,
            llama,
            tokenizer,
            f32_weights: w,
            ..
        } = &self.base;
        let applied = Applied {
            adapters: &self.adapters,
            grad: false,
        };
        let n_layer = llama.cfg.n_layer;
        let (head, last) = prompt.split_at(prompt.len() - 1);
        let mut cache = KvCache::new(n_layer);
        pool.install(|| -> Result<(), LlmError> {
            for chunk in head.chunks(crate::PREFILL_CHUNK) {
                let input = Tensor::new(chunk, &Device::Cpu)?.unsqueeze(0)?;
                llama.forward(w, &input, &mut cache)?;
            }
            Ok(())
        })?;
        // The lower blocks' positions and the upper blocks' grow in caches of their own.
        let mut low = cache.clone();
        let mut up = cache.upper(first)?;
        let next_logits = |fed: Option<u32>| {
            let next = fed.unwrap_or(last[0]);
            pool.install(|| -> Result<Vec<f32>, LlmError> {
                let input = Tensor::new(&[[next]], &Device::Cpu)?;
                let x = llama.embed(w, &input)?;
                let x = llama.blocks(w, x, 0..first, &mut low, &Frozen)?;
                let x = llama.blocks(w, x, first..n_layer, &mut up, &applied)?;
                let h = llama.final_norm(w, &x.i((0, 0))?, false)?;
                Ok(llama.logits(w, &h)?.to_vec1::<f32>()?)
            })
        };
        let ctx = crate::Decode {
            tokenizer,
            params,
            prompt_tokens: prompt.len(),
        };
        ctx.run(sampler, next_logits, on_token, keep_going)
    }

    /// One PPO minibatch (clipped surrogate, clipped value loss, entropy bonus) through the
    /// adapters; each sample's gradient is taken alone and summed (prompts differ in length).
    pub fn ppo_minibatch(
        &mut self,
        samples: &[Sample],
        p: &PpoParams,
    ) -> Result<UpdateStats, LlmError> {
        let n = samples.len() as f64;
        let mut sum: Option<Vec<Tensor>> = None;
        let mut st = UpdateStats::default();
        for s in samples {
            let (grads, one) = self
                .base
                .pool
                .install(|| self.sample_grads(s, p, 1.0 / n))?;
            st.policy_loss += one.policy_loss / n as f32;
            st.value_loss += one.value_loss / n as f32;
            st.entropy += one.entropy / n as f32;
            st.approx_kl += one.approx_kl / n as f32;
            st.clipfrac += one.clipfrac / n as f32;
            sum = Some(match sum {
                None => grads,
                Some(acc) => acc
                    .iter()
                    .zip(&grads)
                    .map(|(a, g)| a + g)
                    .collect::<candle_core::Result<_>>()?,
            });
        }
        let Some(mut grads) = sum else {
            return Ok(st);
        };
        let norm2: f32 = grads
            .iter()
            .map(|g| g.sqr()?.sum_all()?.to_scalar::<f32>())
            .sum::<candle_core::Result<f32>>()?;
        st.grad_norm = norm2.sqrt();
        if p.max_grad_norm > 0.0 && st.grad_norm > p.max_grad_norm {
            let k = (p.max_grad_norm / st.grad_norm) as f64;
            grads = grads
                .iter()
                .map(|g| g * k)
                .collect::<candle_core::Result<_>>()?;
        }
        self.adam.step(&self.adapters.params, &grads, p.lr)?;
        Ok(st)
    }

    /// One sample's loss (times `weight`) and its gradient for every parameter.
    fn sample_grads(
        &self,
        s: &Sample,
        p: &PpoParams,
        weight: f64,
    ) -> Result<(Vec<Tensor>, UpdateStats), LlmError> {
        let (scores, value) = self.upper(&s.lower, true)?;
        let scores = (scores / self.temperature as f64)?;
        let logp_all = candle_nn::ops::log_softmax(&scores, D::Minus1)?;
        let probs = logp_all.exp()?;
        let entropy = (probs * &logp_all)?.sum_all()?.neg()?;
        let logp = logp_all.i(s.action)?;
        let ratio = (&logp - s.logp as f64)?.exp()?;
        let adv = s.advantage as f64;
        let surr1 = (&ratio * adv)?;
        let surr2 = (ratio.clamp(1.0 - p.clip, 1.0 + p.clip)? * adv)?;
        let policy_loss = surr1.minimum(&surr2)?.neg()?;
        let v_err = (&value - s.ret as f64)?.sqr()?;
        let value_loss = if p.clip_vloss {
            let clipped = ((&value - s.value as f64)?.clamp(-p.clip, p.clip)? + s.value as f64)?;
            let c_err = (clipped - s.ret as f64)?.sqr()?;
            (v_err.maximum(&c_err)? * 0.5)?
        } else {
            (v_err * 0.5)?
        };
        let loss = ((&policy_loss + (&value_loss * p.vf_coef as f64)?)?
            - (&entropy * p.ent_coef as f64)?)?;
        let loss = (loss * weight)?;
        let store: GradStore = loss.backward()?;
        let grads = self
            .adapters
            .params
            .iter()
            .map(|q| match store.get(q.var.as_tensor()) {
                Some(g) => Ok(g.clone()),
                None => q.var.as_tensor().zeros_like(),
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let lr: f32 = logp.to_scalar::<f32>()? - s.logp;
        let r = lr.exp();
        Ok((
            grads,
            UpdateStats {
                policy_loss: policy_loss.to_scalar()?,
                value_loss: value_loss.to_scalar()?,
                entropy: entropy.to_scalar()?,
                // The low-variance estimator (r - 1) - log r.
                approx_kl: (r - 1.0) - lr,
                clipfrac: ((r - 1.0).abs() > p.clip) as u8 as f32,
                grad_norm: 0.0,
            },
        ))
    }

    /// Writes the grounded checkpoint: the adapters and the value head (and Adam's moments when
    /// `with_optimizer`), the base model's sha256, the prompt format, `meta`.
    pub fn save(
        &self,
        path: &Path,
        meta: serde_json::Value,
        with_optimizer: bool,
    ) -> Result<(), LlmError> {
        let mut tensors: Vec<(String, Tensor)> = self
            .adapters
            .params
            .iter()
            .map(|p| (p.name.clone(), p.var.as_tensor().clone()))
            .collect();
        if with_optimizer {
            for (i, p) in self.adapters.params.iter().enumerate() {
                tensors.push((format!("adam.m.{}", p.name), self.adam.m[i].clone()));
                tensors.push((format!("adam.v.{}", p.name), self.adam.v[i].clone()));
            }
        }
        let header = Header {
            format: self.adapters.value_input.format().into(),
            base_model: crate::MODEL_FILE.into(),
            base_sha256: self.base_sha256.clone(),
            prompt_format: PROMPT_FORMAT.into(),
            actions: self.actions.clone(),
            lora: self.adapters.cfg,
            tensors: tensors
                .iter()
                .map(|(n, t)| (n.clone(), t.dims().to_vec()))
                .collect(),
            adam_steps: if with_optimizer { self.adam.t } else { 0 },
            temperature: self.temperature,
            meta,
        };
        let io = |e: std::io::Error| LlmError::Load {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let json =
            serde_json::to_vec(&header).map_err(|e| LlmError::InvalidRequest(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
        f.write_all(MAGIC).map_err(io)?;
        f.write_all(&(json.len() as u64).to_le_bytes())
            .map_err(io)?;
        f.write_all(&json).map_err(io)?;
        for (_, t) in &tensors {
            for x in t.flatten_all()?.to_vec1::<f32>()? {
                f.write_all(&x.to_le_bytes()).map_err(io)?;
            }
        }
        f.into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }

    /// Reads a grounded checkpoint's header alone.
    pub fn read_header(path: &Path) -> Result<Header, LlmError> {
        Ok(read_checkpoint(path)?.0)
    }

    /// Loads a grounded checkpoint onto `base` (loaded from `base_path`), checking that it was
    /// trained on this very model file and prompt format; Adam's moments come back if saved.
    pub fn load(base: SmolLm2, base_path: &Path, path: &Path) -> Result<Grounded, LlmError> {
        let (header, data) = read_checkpoint(path)?;
        let bad = |reason: String| LlmError::Load {
            path: path.to_path_buf(),
            reason,
        };
        let Some(value_input) = ValueInput::of_format(&header.format) else {
            return Err(bad(format!("unknown format {:?}", header.format)));
        };
        if header.prompt_format != PROMPT_FORMAT {
            return Err(bad(format!(
                "trained with the prompt format {:?}; this build asks with {PROMPT_FORMAT:?}",
                header.prompt_format
            )));
        }
        let actions: Vec<&str> = header.actions.iter().map(String::as_str).collect();
        let mut g = Grounded::new(base, base_path, header.lora, &actions, 0)?;
        g.adapters.value_input = value_input;
        if g.base_sha256 != header.base_sha256 {
            return Err(bad(format!(
                "trained on a base model with sha256 {}, but {} has sha256 {} \
                 (run scripts/fetch-model.sh for the right file)",
                header.base_sha256,
                base_path.display(),
                g.base_sha256
            )));
        }
        let mut off = 0;
        let mut by_name = HashMap::new();
        for (name, shape) in &header.tensors {
            let len: usize = shape.iter().product();
            let end = off + len;
            if end > data.len() {
                return Err(bad("the file is truncated".into()));
            }
            let t = Tensor::from_slice(&data[off..end], shape.as_slice(), &Device::Cpu)?;
            by_name.insert(name.clone(), t);
            off = end;
        }
        for (i, p) in g.adapters.params.iter().enumerate() {
            let t = by_name
                .get(&p.name)
                .ok_or_else(|| bad(format!("tensor {} is missing", p.name)))?;
            if t.dims() != p.var.as_tensor().dims() {
                return Err(bad(format!(
                    "tensor {} has shape {:?}, expected {:?}",
                    p.name,
                    t.dims(),
                    p.var.as_tensor().dims()
                )));
            }
            p.var.set(t)?;
            if header.adam_steps > 0 {
                let m = by_name.get(&format!("adam.m.{}", p.name));
                let v = by_name.get(&format!("adam.v.{}", p.name));
                if let (Some(m), Some(v)) = (m, v) {
                    g.adam.m[i] = m.clone();
                    g.adam.v[i] = v.clone();
                }
            }
        }
        g.adam.t = header.adam_steps;
        g.set_temperature(header.temperature)?;
        Ok(g)
    }
}

fn read_checkpoint(path: &Path) -> Result<(Header, Vec<f32>), LlmError> {
    let bad = |reason: String| LlmError::Load {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(bad("not a grounded checkpoint (GLAM adapters)".into()));
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
    let body = bytes
        .get(16..16 + len)
        .ok_or_else(|| bad("the header is truncated".into()))?;
    let header: Header = serde_json::from_slice(body).map_err(|e| bad(format!("header: {e}")))?;
    let data = bytes[16 + len..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    Ok((header, data))
}

/// SplitMix64: the adapters' initial values, the same for the same seed on every machine.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `n` values uniform in `[-bound, bound)`.
    fn uniform(&mut self, n: usize, bound: f32) -> Vec<f32> {
        (0..n)
            .map(|_| ((self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * bound)
            .collect()
    }
}
