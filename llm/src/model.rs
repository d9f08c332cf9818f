//! The llama decoder of SmolLM2, written out so that it returns every position's hidden state
//! (scoring needs them) and keeps its KV cache outside the weights (a prompt prefix is reused).

use candle_core::quantized::{GgmlDType, QMatMul, QTensor, gguf_file};
use candle_core::{D, DType, Device, Module, Tensor};

/// Shape of the network, read from the GGUF metadata.
#[derive(Debug, Clone)]
pub struct Config {
    pub n_layer: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    pub dim: usize,
    /// Width of the MLP's hidden layer.
    pub mlp_hidden: usize,
    pub context_length: usize,
    pub rms_eps: f32,
    pub rope_base: f32,
}

impl Config {
    pub fn from_gguf(ct: &gguf_file::Content) -> candle_core::Result<Config> {
        let u = |key: &str| -> candle_core::Result<usize> {
            match ct.metadata.get(key) {
                Some(v) => Ok(v.to_u32()? as usize),
                None => candle_core::bail!("missing GGUF metadata key `{key}`"),
            }
        };
        let arch = ct
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        if arch != "llama" {
            candle_core::bail!("unsupported architecture `{arch}` (expected llama)");
        }
        let n_head = u("llama.attention.head_count")?;
        let dim = u("llama.embedding_length")?;
        let rms_eps = match ct.metadata.get("llama.attention.layer_norm_rms_epsilon") {
            Some(v) => v.to_f32()?,
            None => 1e-5,
        };
        let rope_base = match ct.metadata.get("llama.rope.freq_base") {
            Some(v) => v.to_f32()?,
            None => 10_000.0,
        };
        Ok(Config {
            n_layer: u("llama.block_count")?,
            n_head,
            n_kv_head: u("llama.attention.head_count_kv")?,
            head_dim: dim / n_head,
            dim,
            mlp_hidden: u("llama.feed_forward_length")?,
            context_length: u("llama.context_length")?,
            rms_eps,
            rope_base,
        })
    }
}

/// How the quantized matrices of the file are held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Dequantized to f32: exact w.r.t. the file and fast for many positions at once (gemm).
    F32,
    /// Requantized to Q8_0, which has SIMD kernels: fast for one position at a time.
    Q8_0,
}

/// A matrix applied to the last dimension; flattens the leading dims so f32 weights run as one
/// gemm instead of a broadcast batched matmul.
#[derive(Debug, Clone)]
struct Linear(QMatMul);

impl Linear {
    fn new(q: &QTensor, precision: Precision, device: &Device) -> candle_core::Result<Linear> {
        let inner = match precision {
            Precision::F32 => QMatMul::Tensor(q.dequantize(device)?),
            Precision::Q8_0 => {
                QMatMul::from_qtensor(QTensor::quantize(&q.dequantize(device)?, GgmlDType::Q8_0)?)?
            }
        };
        Ok(Linear(inner))
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.forward_grad(x, false)
    }

    /// `differentiable`: the gradient flows to `x` only. candle's matmul backward would also
    /// build the gradient of the frozen weight (for the 49152 x 576 output head, a 113 MB
    /// zero-filled buffer and a sum, per sample), which nothing reads.
    fn forward_grad(&self, x: &Tensor, differentiable: bool) -> candle_core::Result<Tensor> {
        let dims = x.dims().to_vec();
        let last = dims[dims.len() - 1];
        let rows = x.elem_count() / last;
        let x2 = x.reshape((rows, last))?;
        let y = match (&self.0, differentiable) {
            (QMatMul::Tensor(w), true) => x2.contiguous()?.apply_op1(FrozenMatmul(w.clone()))?,
            _ => self.0.forward(&x2)?,
        };
        let mut out = dims;
        let n = out.len();
        out[n - 1] = y.dim(1)?;
        y.reshape(out)
    }
}

/// `x W^T` for a frozen `W`: the backward gives `x`'s gradient alone.
struct FrozenMatmul(Tensor);

impl candle_core::CustomOp1 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-matmul"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("frozen-matmul needs a contiguous input");
        };
        let x = &storage.as_slice::<f32>()?[start..end];
        let x = Tensor::from_slice(x, layout.shape(), &Device::Cpu)?;
        let y = x.matmul(&self.0.t()?)?;
        let shape = y.shape().clone();
        let data = y.flatten_all()?.to_vec1::<f32>()?;
        Ok((candle_core::CpuStorage::F32(data), shape))
    }

    fn bwd(&self, _x: &Tensor, _y: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad.matmul(&self.0)?))
    }
}

/// Projections that read the same input: apart (f32, exact per matrix), or stacked into one
/// matrix (Q8_0: one quantized matvec and one thread-pool round per group when decoding,
/// instead of one per projection; a Q8_0 block lies within a row, so stacking rows changes no
/// value).
#[derive(Debug, Clone)]
enum Group {
    Apart(Vec<Linear>),
    Stacked(Linear, Vec<usize>),
}

impl Group {
    fn new(qs: &[QTensor], precision: Precision, device: &Device) -> candle_core::Result<Group> {
        match precision {
            Precision::F32 => Ok(Group::Apart(
                qs.iter()
                    .map(|q| Linear::new(q, precision, device))
                    .collect::<candle_core::Result<_>>()?,
            )),
            Precision::Q8_0 => {
                let rows = qs.iter().map(|q| q.shape().dims()[0]).collect();
                let ws = qs
                    .iter()
                    .map(|q| q.dequantize(device))
                    .collect::<candle_core::Result<Vec<_>>>()?;
                let w = QTensor::quantize(&Tensor::cat(&ws, 0)?, GgmlDType::Q8_0)?;
                Ok(Group::Stacked(Linear(QMatMul::from_qtensor(w)?), rows))
            }
        }
    }

    /// Each projection's output, in the order given to [`Group::new`].
    fn forward_grad(&self, x: &Tensor, differentiable: bool) -> candle_core::Result<Vec<Tensor>> {
        match self {
            Group::Apart(ls) => ls
                .iter()
                .map(|l| l.forward_grad(x, differentiable))
                .collect(),
            Group::Stacked(l, rows) => {
                let y = l.forward_grad(x, differentiable)?;
                let mut at = 0;
                rows.iter()
                    .map(|&n| {
                        at += n;
                        y.narrow(D::Minus1, at - n, n)
                    })
                    .collect()
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Layer {
    attn_norm: Tensor,
    /// Q, K, V.
    qkv: Group,
    wo: Linear,
    ffn_norm: Tensor,
    /// Gate, up.
    gate_up: Group,
    down: Linear,
}

/// Per-layer keys and values of the positions seen so far, shaped `[batch, kv_heads, len, head_dim]`.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl KvCache {
    pub fn new(n_layer: usize) -> KvCache {
        KvCache {
            layers: vec![None; n_layer],
            len: 0,
        }
    }

    /// Forgets every position from `len` on.
    pub fn truncate(&mut self, len: usize) -> candle_core::Result<()> {
        if len >= self.len {
            return Ok(());
        }
        for (k, v) in self.layers.iter_mut().flatten() {
            *k = k.narrow(2, 0, len)?.contiguous()?;
            *v = v.narrow(2, 0, len)?.contiguous()?;
        }
        self.len = len;
        Ok(())
    }

    /// The blocks from `first` on (the others emptied): what the adapted top blocks attend to.
    pub fn upper(&self, first: usize) -> candle_core::Result<KvCache> {
        let layers = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| if i >= first { l.clone() } else { None })
            .collect();
        Ok(KvCache {
            layers,
            len: self.len,
        })
    }
}

/// The weights at one precision.
#[derive(Debug, Clone)]
pub struct Weights {
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Linear,
}

impl Weights {
    pub fn load<R: std::io::Read + std::io::Seek>(
        ct: &gguf_file::Content,
        reader: &mut R,
        cfg: &Config,
        precision: Precision,
        device: &Device,
    ) -> candle_core::Result<Weights> {
        let mut get = |name: &str| ct.tensor(reader, name, device);
        let embed_q = get("token_embd.weight")?;
        let embed = embed_q.dequantize(device)?;
        // SmolLM2 ties the output head to the embedding; use a separate head if the file has one.
        let output = match ct.tensor_infos.contains_key("output.weight") {
            true => Linear::new(&get("output.weight")?, precision, device)?,
            false => Linear::new(&embed_q, precision, device)?,
        };
        let norm = get("output_norm.weight")?.dequantize(device)?;
        let mut layers = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let mut q = |n: &str| get(&format!("blk.{i}.{n}.weight"));
            let qkv = [q("attn_q")?, q("attn_k")?, q("attn_v")?];
            let gate_up = [q("ffn_gate")?, q("ffn_up")?];
            let (wo, down) = (q("attn_output")?, q("ffn_down")?);
            layers.push(Layer {
                qkv: Group::new(&qkv, precision, device)?,
                wo: Linear::new(&wo, precision, device)?,
                gate_up: Group::new(&gate_up, precision, device)?,
                down: Linear::new(&down, precision, device)?,
                attn_norm: get(&format!("blk.{i}.attn_norm.weight"))?.dequantize(device)?,
                ffn_norm: get(&format!("blk.{i}.ffn_norm.weight"))?.dequantize(device)?,
            });
        }
        Ok(Weights {
            embed,
            layers,
            norm,
            output,
        })
    }
}

/// The projections of a decoder block, as an [`Adapter`] sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proj {
    Q,
    K,
    V,
    O,
    Gate,
    Up,
    Down,
}

/// What [`Llama::blocks`] adds to each projection's output `y` of input `h` (LoRA adapters); a
/// differentiable adapter makes the blocks use ops that record gradients.
pub trait Adapter {
    fn adapt(&self, layer: usize, proj: Proj, h: &Tensor, y: Tensor)
    -> candle_core::Result<Tensor>;
    fn differentiable(&self) -> bool;
}

/// No adapter: the base model, with candle's fused (gradient-free) kernels.
pub struct Frozen;

impl Adapter for Frozen {
    fn adapt(&self, _: usize, _: Proj, _: &Tensor, y: Tensor) -> candle_core::Result<Tensor> {
        Ok(y)
    }
    fn differentiable(&self) -> bool {
        false
    }
}

/// RMS norm: candle's fused kernel records no gradient, so training takes the composed form.
fn rms_norm(
    x: &Tensor,
    alpha: &Tensor,
    eps: f32,
    differentiable: bool,
) -> candle_core::Result<Tensor> {
    match differentiable {
        true => candle_nn::ops::rms_norm_slow(x, alpha, eps),
        false => candle_nn::ops::rms_norm(x, alpha, eps),
    }
}

/// The decoder: configuration plus the rotary tables shared by every precision.
#[derive(Debug, Clone)]
pub struct Llama {
    pub cfg: Config,
    cos: Tensor,
    sin: Tensor,
    device: Device,
}

impl Llama {
    pub fn new(cfg: Config, device: &Device) -> candle_core::Result<Llama> {
        let half = cfg.head_dim / 2;
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| 1.0 / cfg.rope_base.powf(2.0 * i as f32 / cfg.head_dim as f32))
            .collect();
        let inv_freq = Tensor::from_vec(inv_freq, (1, half), device)?;
        let pos = Tensor::arange(0u32, cfg.context_length as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((cfg.context_length, 1))?;
        let angles = pos.matmul(&inv_freq)?;
        Ok(Llama {
            cos: angles.cos()?,
            sin: angles.sin()?,
            cfg,
            device: device.clone(),
        })
    }

    /// Runs `tokens` (`[batch, seq]`, u32) after the positions in `cache` and returns the final
    /// normalised hidden states `[batch, seq, dim]`; the cache grows by `seq`.
    pub fn forward(
        &self,
        w: &Weights,
        tokens: &Tensor,
        cache: &mut KvCache,
    ) -> candle_core::Result<Tensor> {
        let x = self.embed(w, tokens)?;
        let x = self.blocks(w, x, 0..self.cfg.n_layer, cache, &Frozen)?;
        self.final_norm(w, &x, false)
    }

    /// Token embeddings `[batch, seq, dim]` of `tokens` (`[batch, seq]`, u32).
    pub fn embed(&self, w: &Weights, tokens: &Tensor) -> candle_core::Result<Tensor> {
        let (b, seq) = tokens.dims2()?;
        w.embed
            .index_select(&tokens.flatten_all()?, 0)?
            .reshape((b, seq, self.cfg.dim))
    }

    /// The final RMS norm (`differentiable`: the composed form that records gradients).
    pub fn final_norm(
        &self,
        w: &Weights,
        x: &Tensor,
        differentiable: bool,
    ) -> candle_core::Result<Tensor> {
        rms_norm(x, &w.norm, self.cfg.rms_eps, differentiable)
    }

    /// Runs the residual stream `x` (`[batch, seq, dim]`) through the decoder blocks `layers`
    /// after the positions in `cache` (of those layers), `adapter` adding to each projection;
    /// the cache grows by `seq`. Splitting the stack lets a trainer run the frozen lower blocks
    /// once and only the adapted upper ones with gradients.
    pub fn blocks(
        &self,
        w: &Weights,
        x: Tensor,
        layers: std::ops::Range<usize>,
        cache: &mut KvCache,
        adapter: &dyn Adapter,
    ) -> candle_core::Result<Tensor> {
        let (_, seq, _) = x.dims3()?;
        let start = cache.len;
        self.check_room(start + seq)?;
        let cos = self.cos.narrow(0, start, seq)?;
        let sin = self.sin.narrow(0, start, seq)?;
        let mask = if seq > 1 {
            Some(self.causal_mask(seq, start)?)
        } else {
            None
        };
        self.blocks_at(w, x, layers, cache, adapter, (&cos, &sin), mask.as_ref())
    }

    /// Runs a token tree after the positions in `cache` (batch of one): `parents[i]` is the
    /// index of node `i`'s parent among the earlier nodes (`None`: a child of the cache's last
    /// position). Each node sits at the position after its parent and attends to the cache and
    /// its own ancestors only, so its hidden state equals the one it would have at the end of
    /// its own path run alone (tree attention, as in speculative decoding): candidates that
    /// share a beginning run it once. Returns `[1, nodes, dim]`; the cache grows by the node
    /// count and should be dropped afterwards (its positions are not a sequence).
    pub fn forward_tree(
        &self,
        w: &Weights,
        tokens: &[u32],
        parents: &[Option<usize>],
        cache: &mut KvCache,
    ) -> candle_core::Result<Tensor> {
        let tokens = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let x = self.embed(w, &tokens)?;
        let layers = 0..self.cfg.n_layer;
        let x = self.tree_blocks(w, x, parents, layers, cache, &Frozen)?;
        self.final_norm(w, &x, false)
    }

    /// [`Llama::blocks`] for the residual stream `x` (`[1, nodes, dim]`) of a token tree laid
    /// out as in [`Llama::forward_tree`]: a trainer runs the frozen lower blocks and the adapted
    /// upper ones of the same tree apart.
    pub fn tree_blocks(
        &self,
        w: &Weights,
        x: Tensor,
        parents: &[Option<usize>],
        layers: std::ops::Range<usize>,
        cache: &mut KvCache,
        adapter: &dyn Adapter,
    ) -> candle_core::Result<Tensor> {
        let n = parents.len();
        if x.dims3()?.1 != n
            || parents
                .iter()
                .enumerate()
                .any(|(i, p)| p.is_some_and(|p| p >= i))
        {
            candle_core::bail!("each tree node needs an earlier parent");
        }
        let start = cache.len;
        let mut depth: Vec<usize> = Vec::with_capacity(n);
        for p in parents {
            let d = p.map_or(0, |p| depth[p] + 1);
            depth.push(d);
        }
        self.check_room(start + depth.iter().max().map_or(0, |d| d + 1))?;
        let kv = start + n;
        let mut data = vec![f32::NEG_INFINITY; n * kv];
        for (i, row) in data.chunks_mut(kv).enumerate() {
            row[..start].fill(0.0);
            let mut node = Some(i);
            while let Some(a) = node {
                row[start + a] = 0.0;
                node = parents[a];
            }
        }
        let mask = Tensor::from_vec(data, (n, kv), &self.device)?;
        let pos: Vec<u32> = depth.iter().map(|d| (start + d) as u32).collect();
        let pos = Tensor::new(pos.as_slice(), &self.device)?;
        let cos = self.cos.index_select(&pos, 0)?;
        let sin = self.sin.index_select(&pos, 0)?;
        self.blocks_at(w, x, layers, cache, adapter, (&cos, &sin), Some(&mask))
    }

    fn check_room(&self, positions: usize) -> candle_core::Result<()> {
        if positions > self.cfg.context_length {
            candle_core::bail!(
                "{positions} positions exceed the context length {}",
                self.cfg.context_length
            );
        }
        Ok(())
    }

    /// [`Llama::blocks`] at the given rotary tables (`[seq, head_dim / 2]` each) and additive
    /// attention mask (`[seq, cache + seq]`; `None` for a single position, which sees all).
    #[allow(clippy::too_many_arguments)]
    fn blocks_at(
        &self,
        w: &Weights,
        mut x: Tensor,
        layers: std::ops::Range<usize>,
        cache: &mut KvCache,
        adapter: &dyn Adapter,
        (cos, sin): (&Tensor, &Tensor),
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let (b, seq, _) = x.dims3()?;
        let grad = adapter.differentiable();
        let (nh, nkv, hd) = (self.cfg.n_head, self.cfg.n_kv_head, self.cfg.head_dim);
        let eps = self.cfg.rms_eps;
        let rope = |t: &Tensor| match grad {
            true => candle_nn::rotary_emb::rope_i_slow(t, cos, sin),
            false => candle_nn::rotary_emb::rope_i(t, cos, sin),
        };
        for i in layers {
            let layer = &w.layers[i];
            let slot = &mut cache.layers[i];
            let proj = |p: Proj, lin: &Linear, h: &Tensor| {
                adapter.adapt(i, p, h, lin.forward_grad(h, grad)?)
            };
            let group = |ps: &[Proj], g: &Group, h: &Tensor| -> candle_core::Result<Vec<Tensor>> {
                let ys = g.forward_grad(h, grad)?;
                ps.iter()
                    .zip(ys)
                    .map(|(&p, y)| adapter.adapt(i, p, h, y))
                    .collect()
            };
            let h = rms_norm(&x, &layer.attn_norm, eps, grad)?;
            let [q, k, v]: [Tensor; 3] = group(&[Proj::Q, Proj::K, Proj::V], &layer.qkv, &h)?
                .try_into()
                .map_err(|_| candle_core::Error::Msg("three projections".into()))?;
            let q = q.reshape((b, seq, nh, hd))?.transpose(1, 2)?.contiguous()?;
            let k = k
                .reshape((b, seq, nkv, hd))?
                .transpose(1, 2)?
                .contiguous()?;
            let v = v
                .reshape((b, seq, nkv, hd))?
                .transpose(1, 2)?
                .contiguous()?;
            // GGUF llama weights are permuted for the interleaved (non-NeoX) rotary convention.
            let q = rope(&q)?;
            let k = rope(&k)?;
            let (k, v) = match slot.take() {
                Some((kc, vc)) => (Tensor::cat(&[&kc, &k], 2)?, Tensor::cat(&[&vc, &v], 2)?),
                None => (k, v),
            };
            *slot = Some((k.clone(), v.clone()));
            let y = if !grad && seq == 1 && mask.is_none() {
                // Decoding one position: plain loops over the cache instead of ten small tensor
                // ops (each f32 matmul of candle reads /proc/cpuinfo for its thread count).
                decode_attention(&q, &k, &v)?
            } else {
                attention(&q, &k, &v, mask, grad)?
            };
            x = (x + proj(Proj::O, &layer.wo, &y)?)?;
            let h = rms_norm(&x, &layer.ffn_norm, eps, grad)?;
            let [g, u]: [Tensor; 2] = group(&[Proj::Gate, Proj::Up], &layer.gate_up, &h)?
                .try_into()
                .map_err(|_| candle_core::Error::Msg("two projections".into()))?;
            let m = (candle_nn::ops::silu(&g)? * u)?;
            x = (x + proj(Proj::Down, &layer.down, &m)?)?;
        }
        cache.len += seq;
        Ok(x)
    }

    /// Logits `[.., vocab]` of hidden states `[.., dim]`.
    pub fn logits(&self, w: &Weights, hidden: &Tensor) -> candle_core::Result<Tensor> {
        w.output.forward(hidden)
    }

    /// Log-probabilities `[.., vocab]` of hidden states `[.., dim]`.
    pub fn log_probs(&self, w: &Weights, hidden: &Tensor) -> candle_core::Result<Tensor> {
        self.log_probs_grad(w, hidden, false)
    }

    /// [`Llama::log_probs`]; `differentiable`: recording the gradient to `hidden`.
    pub fn log_probs_grad(
        &self,
        w: &Weights,
        hidden: &Tensor,
        differentiable: bool,
    ) -> candle_core::Result<Tensor> {
        let logits = w.output.forward_grad(hidden, differentiable)?;
        candle_nn::ops::log_softmax(&logits, D::Minus1)
    }

    /// Additive mask `[seq, start + seq]`: 0 where query `start + i` may see key `j`, -inf after.
    fn causal_mask(&self, seq: usize, start: usize) -> candle_core::Result<Tensor> {
        let kv = start + seq;
        let data: Vec<f32> = (0..seq)
            .flat_map(|i| {
                (0..kv).map(move |j| {
                    if j <= start + i {
                        0.0
                    } else {
                        f32::NEG_INFINITY
                    }
                })
            })
            .collect();
        Tensor::from_vec(data, (seq, kv), &self.device)
    }
}

/// Grouped-query attention of queries `[b, heads, seq, hd]` over keys and values
/// `[b, kv_heads, kv_len, hd]` with the additive `mask` (`[seq, kv_len]`; `None`: every key is
/// visible); returns `[b, seq, heads * hd]`.
fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    differentiable: bool,
) -> candle_core::Result<Tensor> {
    let (b, nh, seq, hd) = q.dims4()?;
    let (_, nkv, kv_len, _) = k.dims4()?;
    // Fold the query heads sharing a kv head into the rows.
    let group = nh / nkv;
    let q = q.reshape((b, nkv, group * seq, hd))?;
    let att = (q.matmul(&k.t()?)? * (1.0 / (hd as f64).sqrt()))?;
    let att = match mask {
        Some(m) => {
            let att = att.reshape((b, nkv, group, seq, kv_len))?;
            att.broadcast_add(m)?
                .reshape((b, nkv, group * seq, kv_len))?
        }
        None => att,
    };
    let att = match differentiable {
        true => candle_nn::ops::softmax(&att, D::Minus1)?,
        false => candle_nn::ops::softmax_last_dim(&att)?,
    };
    let y = att.matmul(&v.contiguous()?)?; // [b, nkv, group*seq, hd]
    y.reshape((b, nh, seq, hd))?
        .transpose(1, 2)?
        .reshape((b, seq, nh * hd))
}

/// [`attention`] of one query position (`q`: `[b, heads, 1, hd]`) over the whole cache, no
/// gradient: what each generated token runs 30 times.
fn decode_attention(q: &Tensor, k: &Tensor, v: &Tensor) -> candle_core::Result<Tensor> {
    let (b, nh, seq, hd) = q.dims4()?;
    let (_, nkv, len, _) = k.dims4()?;
    if seq != 1 || nh % nkv != 0 {
        candle_core::bail!("decode attention takes one position and whole kv groups");
    }
    let group = nh / nkv;
    let q = q.flatten_all()?.to_vec1::<f32>()?;
    let scale = 1.0 / (hd as f32).sqrt();
    let mut out = vec![0f32; b * nh * hd];
    let mut p = vec![0f32; len];
    with_f32(k, |ks| {
        with_f32(v, |vs| {
            for bi in 0..b {
                for h in 0..nh {
                    let kv = (bi * nkv + h / group) * len * hd;
                    let qh = &q[(bi * nh + h) * hd..][..hd];
                    let mut max = f32::NEG_INFINITY;
                    for (j, pj) in p.iter_mut().enumerate() {
                        *pj = dot(qh, &ks[kv + j * hd..][..hd]) * scale;
                        max = max.max(*pj);
                    }
                    let mut sum = 0.0;
                    for pj in p.iter_mut() {
                        *pj = (*pj - max).exp();
                        sum += *pj;
                    }
                    let o = &mut out[(bi * nh + h) * hd..][..hd];
                    for (j, pj) in p.iter().enumerate() {
                        let w = pj / sum;
                        for (o, x) in o.iter_mut().zip(&vs[kv + j * hd..][..hd]) {
                            *o += w * x;
                        }
                    }
                }
            }
            Ok(())
        })
    })?;
    Tensor::from_vec(out, (b, 1, nh * hd), k.device())
}

/// Runs `f` on the f32 elements of `t` in row-major order, without a copy when `t` is a
/// contiguous CPU tensor.
fn with_f32<R>(
    t: &Tensor,
    f: impl FnOnce(&[f32]) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    {
        let (storage, layout) = t.storage_and_layout();
        if let (candle_core::Storage::Cpu(cpu), Some((start, end))) =
            (&*storage, layout.contiguous_offsets())
        {
            return f(&cpu.as_slice::<f32>()?[start..end]);
        }
    }
    f(&t.flatten_all()?.to_vec1::<f32>()?)
}

/// A dot product in eight lanes, which the compiler turns into SIMD (a single running sum
/// cannot be reordered, so it would not be).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(shape: &[usize], seed: u64) -> Tensor {
        let n: usize = shape.iter().product();
        let mut s = seed;
        let data: Vec<f32> = (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect();
        Tensor::from_vec(data, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn decode_attention_matches_the_batched_attention() {
        // SmolLM2's grouping: 9 query heads on 3 kv heads.
        let q = random(&[2, 9, 1, 64], 1);
        let k = random(&[2, 3, 17, 64], 2);
        let v = random(&[2, 3, 17, 64], 3);
        let want = attention(&q, &k, &v, None, false).unwrap();
        let got = decode_attention(&q, &k, &v).unwrap();
        assert_eq!(got.dims(), want.dims());
        let diff = (got - want)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-5, "max difference {diff}");
    }

    #[test]
    fn stacked_q8_projections_equal_the_separate_ones() {
        let qs: Vec<QTensor> = [(96, 64), (32, 64), (32, 64)]
            .iter()
            .enumerate()
            .map(|(i, &(r, c))| {
                QTensor::quantize(&random(&[r, c], 10 + i as u64), GgmlDType::Q4_1).unwrap()
            })
            .collect();
        let stacked = Group::new(&qs, Precision::Q8_0, &Device::Cpu).unwrap();
        assert!(matches!(stacked, Group::Stacked(..)));
        for rows in [1, 5] {
            let x = random(&[1, rows, 64], 20 + rows as u64);
            let ys = stacked.forward_grad(&x, false).unwrap();
            assert_eq!(ys.len(), 3);
            for (q, y) in qs.iter().zip(ys) {
                let want = Linear::new(q, Precision::Q8_0, &Device::Cpu)
                    .unwrap()
                    .forward(&x)
                    .unwrap();
                assert_eq!(y.dims(), want.dims());
                let (y, want) = (
                    y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                    want.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                );
                assert_eq!(y, want, "{rows} rows");
            }
        }
    }
}
