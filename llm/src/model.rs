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
        let dims = x.dims().to_vec();
        let last = dims[dims.len() - 1];
        let rows = x.elem_count() / last;
        let y = self.0.forward(&x.reshape((rows, last))?)?;
        let mut out = dims;
        let n = out.len();
        out[n - 1] = y.dim(1)?;
        y.reshape(out)
    }
}

#[derive(Debug, Clone)]
struct Layer {
    attn_norm: Tensor,
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    ffn_norm: Tensor,
    gate: Linear,
    up: Linear,
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
            let mut lin = |n: &str| -> candle_core::Result<Linear> {
                Linear::new(&get(&format!("blk.{i}.{n}.weight"))?, precision, device)
            };
            layers.push(Layer {
                wq: lin("attn_q")?,
                wk: lin("attn_k")?,
                wv: lin("attn_v")?,
                wo: lin("attn_output")?,
                gate: lin("ffn_gate")?,
                up: lin("ffn_up")?,
                down: lin("ffn_down")?,
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
        let (_, seq) = tokens.dims2()?;
        let start = cache.len;
        self.check_room(start + seq)?;
        let cos = self.cos.narrow(0, start, seq)?;
        let sin = self.sin.narrow(0, start, seq)?;
        let mask = if seq > 1 {
            Some(self.causal_mask(seq, start)?)
        } else {
            None
        };
        self.run(w, tokens, cache, &cos, &sin, mask.as_ref())
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
        let n = tokens.len();
        if parents.len() != n
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
        let tokens = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        self.run(w, &tokens, cache, &cos, &sin, Some(&mask))
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

    /// The decoder over `tokens` with their rotary tables and additive attention mask
    /// (`[seq, cache + seq]`; `None` for a single position, which sees everything).
    fn run(
        &self,
        w: &Weights,
        tokens: &Tensor,
        cache: &mut KvCache,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let (b, seq) = tokens.dims2()?;
        let (nh, nkv, hd) = (self.cfg.n_head, self.cfg.n_kv_head, self.cfg.head_dim);
        let mut x =
            w.embed
                .index_select(&tokens.flatten_all()?, 0)?
                .reshape((b, seq, self.cfg.dim))?;
        for (layer, slot) in w.layers.iter().zip(cache.layers.iter_mut()) {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, self.cfg.rms_eps)?;
            let q = layer.wq.forward(&h)?;
            let k = layer.wk.forward(&h)?;
            let v = layer.wv.forward(&h)?;
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
            let q = candle_nn::rotary_emb::rope_i(&q, cos, sin)?;
            let k = candle_nn::rotary_emb::rope_i(&k, cos, sin)?;
            let (k, v) = match slot.take() {
                Some((kc, vc)) => (Tensor::cat(&[&kc, &k], 2)?, Tensor::cat(&[&vc, &v], 2)?),
                None => (k, v),
            };
            *slot = Some((k.clone(), v.clone()));
            let kv_len = k.dim(2)?;
            // Grouped-query attention: fold the query heads sharing a kv head into the rows.
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
            let att = candle_nn::ops::softmax_last_dim(&att)?;
            let y = att.matmul(&v)?; // [b, nkv, group*seq, hd]
            let y = y
                .reshape((b, nh, seq, hd))?
                .transpose(1, 2)?
                .reshape((b, seq, nh * hd))?;
            x = (x + layer.wo.forward(&y)?)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, self.cfg.rms_eps)?;
            let g = candle_nn::ops::silu(&layer.gate.forward(&h)?)?;
            let m = (g * layer.up.forward(&h)?)?;
            x = (x + layer.down.forward(&m)?)?;
        }
        cache.len += seq;
        candle_nn::ops::rms_norm(&x, &w.norm, self.cfg.rms_eps)
    }

    /// Logits `[.., vocab]` of hidden states `[.., dim]`.
    pub fn logits(&self, w: &Weights, hidden: &Tensor) -> candle_core::Result<Tensor> {
        w.output.forward(hidden)
    }

    /// Log-probabilities `[.., vocab]` of hidden states `[.., dim]`.
    pub fn log_probs(&self, w: &Weights, hidden: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::log_softmax(&self.logits(w, hidden)?, D::Minus1)
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
