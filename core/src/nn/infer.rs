//! The networks' forward pass as plain f32 loops over weights copied once out of the burn module:
//! what acting needs (no tensors, no autodiff graph), fast for one observation and in wasm.
//! [`ActorCritic::forward`] stays the reference and the training path; tests hold the two to
//! the same outputs.

use crate::nn::net::{Activation, ActorCritic, Encoder, Head};
use crate::nn::spec::NetSpec;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use burn::module::Param;
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

fn values<const D: usize>(p: &Param<Tensor<D>>) -> Result<Vec<f32>, String> {
    p.val()
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| format!("reading a parameter as f32: {e:?}"))
}

/// A weight matrix `[rows][n]` (one row per input, as burn stores a linear layer's weight), and
/// in wasm the same as SIMD vectors of four.
#[derive(Clone, Debug)]
struct Matrix {
    n: usize,
    w: Vec<f32>,
    #[cfg(target_arch = "wasm32")]
    v: Vec<core::arch::wasm32::v128>,
}

impl Matrix {
    fn new(w: Vec<f32>, n: usize) -> Matrix {
        debug_assert!(w.len().is_multiple_of(n));
        Matrix {
            #[cfg(target_arch = "wasm32")]
            v: if n.is_multiple_of(16) {
                w.chunks_exact(4)
                    .map(|c| core::arch::wasm32::f32x4(c[0], c[1], c[2], c[3]))
                    .collect()
            } else {
                Vec::new()
            },
            n,
            w,
        }
    }

    /// `out[o] += sum_r x[r] * w[first_row + r][o]`: one input at a time into every output, so
    /// the inner loop runs over contiguous weights; inputs that are 0 (ReLU's, the maps' unseen
    /// cells) are skipped. Every target adds in the same order, so they agree to the bit.
    fn accumulate(&self, out: &mut [f32], x: &[f32], first_row: usize) {
        debug_assert_eq!(out.len(), self.n);
        #[cfg(target_arch = "wasm32")]
        if !self.v.is_empty() {
            // Safe to call in wasm: an engine without simd128 refuses the whole module instead.
            return accumulate_simd128(out, x, &self.v, first_row);
        }
        let n = self.n;
        let rows = &self.w[first_row * n..(first_row + x.len()) * n];
        match n {
            16 => accumulate_n::<16>(out, x, rows),
            32 => accumulate_n::<32>(out, x, rows),
            64 => accumulate_n::<64>(out, x, rows),
            _ => {
                for (&xi, row) in x.iter().zip(rows.chunks_exact(n)) {
                    if xi != 0.0 {
                        for (o, &wi) in out.iter_mut().zip(row) {
                            *o += xi * wi;
                        }
                    }
                }
            }
        }
    }
}

/// [`Matrix::accumulate`] for `N` outputs, with an accumulator the compiler keeps in registers.
fn accumulate_n<const N: usize>(out: &mut [f32], x: &[f32], rows: &[f32]) {
    let mut acc = [0.0f32; N];
    acc.copy_from_slice(out);
    for (&xi, row) in x.iter().zip(rows.chunks_exact(N)) {
        if xi != 0.0 {
            let row: &[f32; N] = row.try_into().expect("a row of N weights");
            for (a, &wi) in acc.iter_mut().zip(row) {
                *a += xi * wi;
            }
        }
    }
    out.copy_from_slice(&acc);
}

/// The playground's wasm is size-optimised (opt-level z), which leaves loops scalar and
/// accumulators in memory: by hand, 16 outputs at a time in four SIMD registers.
#[cfg(target_arch = "wasm32")]
#[target_feature(enable = "simd128")]
fn accumulate_simd128(
    out: &mut [f32],
    x: &[f32],
    v: &[core::arch::wasm32::v128],
    first_row: usize,
) {
    use core::arch::wasm32::{f32x4, f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat};
    let per_row = out.len() / 4;
    for (group, out) in out.chunks_exact_mut(16).enumerate() {
        let lanes = |s: &[f32]| f32x4(s[0], s[1], s[2], s[3]);
        let mut a = [
            lanes(&out[0..4]),
            lanes(&out[4..8]),
            lanes(&out[8..12]),
            lanes(&out[12..16]),
        ];
        for (r, &xi) in x.iter().enumerate() {
            if xi == 0.0 {
                continue;
            }
            let at = (first_row + r) * per_row + 4 * group;
            let &[w0, w1, w2, w3] = &v[at..at + 4] else {
                unreachable!("four vectors")
            };
            let s = f32x4_splat(xi);
            a = [
                f32x4_add(a[0], f32x4_mul(s, w0)),
                f32x4_add(a[1], f32x4_mul(s, w1)),
                f32x4_add(a[2], f32x4_mul(s, w2)),
                f32x4_add(a[3], f32x4_mul(s, w3)),
            ];
        }
        for (o, a) in out.chunks_exact_mut(4).zip(a) {
            o.copy_from_slice(&[
                f32x4_extract_lane::<0>(a),
                f32x4_extract_lane::<1>(a),
                f32x4_extract_lane::<2>(a),
                f32x4_extract_lane::<3>(a),
            ]);
        }
    }
}

/// A linear layer, weights `[d_in][d_out]` as burn stores them.
#[derive(Clone, Debug)]
struct Dense {
    w: Matrix,
    b: Vec<f32>,
}

impl Dense {
    fn new(layer: &Linear) -> Result<Dense, String> {
        let [_, d_out] = layer.weight.dims();
        let b = match &layer.bias {
            Some(b) => values(b)?,
            None => vec![0.0; d_out],
        };
        Ok(Dense {
            w: Matrix::new(values(&layer.weight)?, d_out),
            b,
        })
    }

    fn forward(&self, x: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.extend_from_slice(&self.b);
        self.w.accumulate(out, x, 0);
    }
}

/// A square convolution with stride 1 and symmetric zero padding on channels-last maps, weights
/// `[i][j][c_in][c_out]`, followed by ReLU (as in every encoder here).
#[derive(Clone, Debug)]
struct Conv {
    k: usize,
    padding: usize,
    c_in: usize,
    c_out: usize,
    w: Matrix,
    b: Vec<f32>,
}

impl Conv {
    fn new(conv: &Conv2d, padding: usize) -> Result<Conv, String> {
        let [c_out, c_in, k, k2] = conv.weight.dims();
        if k != k2 {
            return Err(format!("a {k}x{k2} kernel is not square"));
        }
        let burn_w = values(&conv.weight)?; // [c_out][c_in][i][j]
        let mut w = vec![0.0; burn_w.len()];
        for o in 0..c_out {
            for c in 0..c_in {
                for i in 0..k {
                    for j in 0..k {
                        w[((i * k + j) * c_in + c) * c_out + o] =
                            burn_w[((o * c_in + c) * k + i) * k + j];
                    }
                }
            }
        }
        let b = match &conv.bias {
            Some(b) => values(b)?,
            None => vec![0.0; c_out],
        };
        Ok(Conv {
            k,
            padding,
            c_in,
            c_out,
            w: Matrix::new(w, c_out),
            b,
        })
    }

    /// `x` is `[h][w][c_in]`; writes `[ho][wo][c_out]` to `out` and returns `(ho, wo)`.
    fn forward_relu(&self, x: &[f32], h: usize, w: usize, out: &mut Vec<f32>) -> (usize, usize) {
        let (k, p, c_in, c_out) = (self.k, self.padding as isize, self.c_in, self.c_out);
        let (ho, wo) = (h + 2 * self.padding + 1 - k, w + 2 * self.padding + 1 - k);
        out.clear();
        out.resize(ho * wo * c_out, 0.0);
        for (cell_index, cell) in out.chunks_exact_mut(c_out).enumerate() {
            let (oy, ox) = ((cell_index / wo) as isize, (cell_index % wo) as isize);
            cell.copy_from_slice(&self.b);
            // The kernel columns j0..j1 that fall inside the map; taps on the padding add 0.
            let x0 = ox - p;
            let j0 = (-x0).max(0) as usize;
            let j1 = (w as isize - x0).min(k as isize).max(0) as usize;
            if j0 >= j1 {
                continue;
            }
            for i in 0..k {
                let y = oy - p + i as isize;
                if y < 0 || y >= h as isize {
                    continue;
                }
                let first = (y as usize * w) as isize + x0 + j0 as isize;
                let first = first as usize * c_in;
                let xs = &x[first..first + (j1 - j0) * c_in];
                self.w.accumulate(cell, xs, (i * k + j0) * c_in);
            }
            for v in cell.iter_mut() {
                *v = v.max(0.0);
            }
        }
        (ho, wo)
    }
}

/// 2x2 max-pool, stride 2 (floor), on a channels-last `[h][w][c]` map.
fn max_pool_2x2(x: &[f32], h: usize, w: usize, c: usize, out: &mut Vec<f32>) -> (usize, usize) {
    let (h2, w2) = (h / 2, w / 2);
    out.clear();
    out.resize(h2 * w2 * c, 0.0);
    for y in 0..h2 {
        for x_ in 0..w2 {
            let at = |dy: usize, dx: usize| &x[((2 * y + dy) * w + 2 * x_ + dx) * c..][..c];
            let (a, b, d, e) = (at(0, 0), at(0, 1), at(1, 0), at(1, 1));
            let cell = &mut out[(y * w2 + x_) * c..][..c];
            for ch in 0..c {
                cell[ch] = a[ch].max(b[ch]).max(d[ch].max(e[ch]));
            }
        }
    }
    (h2, w2)
}

#[derive(Clone, Debug)]
enum Body {
    /// conv, max-pool, conv, conv.
    MiniGrid([Conv; 3]),
    /// Three padded convs.
    MemoryMap([Conv; 3]),
    /// One tanh layer on the flattened input.
    Mlp(Dense),
}

#[derive(Clone, Debug)]
struct HeadWeights {
    hidden: Dense,
    out: Dense,
}

impl HeadWeights {
    fn new(head: &Head) -> Result<HeadWeights, String> {
        Ok(HeadWeights {
            hidden: Dense::new(&head.hidden)?,
            out: Dense::new(&head.out)?,
        })
    }
}

/// Buffers reused between calls (one observation's activations).
#[derive(Clone, Debug, Default)]
struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
    hidden: Vec<f32>,
    out: Vec<f32>,
}

/// A network's forward pass without burn: built from an [`ActorCritic`] (a copy of its weights),
/// it gives the same logits and values as [`ActorCritic::forward`] up to float rounding.
#[derive(Clone, Debug)]
pub struct Inference {
    spec: NetSpec,
    body: Body,
    actor: HeadWeights,
    critic: HeadWeights,
    head_activation: Activation,
    scratch: Scratch,
}

impl Inference {
    /// Copy `model`'s weights (on any device, with or without autodiff).
    pub fn new(model: &ActorCritic) -> Result<Inference, String> {
        let spec = model.spec();
        let body = match &model.encoder {
            Encoder::MiniGrid(cnn) => Body::MiniGrid([
                Conv::new(&cnn.conv1, 0)?,
                Conv::new(&cnn.conv2, 0)?,
                Conv::new(&cnn.conv3, 0)?,
            ]),
            Encoder::MemoryMap(cnn) => Body::MemoryMap([
                Conv::new(&cnn.conv1, 1)?,
                Conv::new(&cnn.conv2, 1)?,
                Conv::new(&cnn.conv3, 1)?,
            ]),
            Encoder::Mlp(hidden) => Body::Mlp(Dense::new(hidden)?),
        };
        Ok(Inference {
            spec,
            body,
            actor: HeadWeights::new(&model.actor)?,
            critic: HeadWeights::new(&model.critic)?,
            head_activation: model.actor.activation,
            scratch: Scratch::default(),
        })
    }

    pub fn spec(&self) -> NetSpec {
        self.spec
    }

    /// Logits (`batch x actions`) and values (`batch`) for `batch` inputs written one after
    /// another by [`ObsKind::write_input`](crate::nn::ObsKind::write_input).
    pub fn forward(
        &mut self,
        inputs: &[f32],
        batch: usize,
        logits: &mut [f32],
        values: &mut [f32],
    ) {
        let (obs_len, actions) = (self.spec.obs.len(), self.spec.actions);
        assert_eq!(inputs.len(), batch * obs_len, "input length");
        assert_eq!(logits.len(), batch * actions, "logits length");
        assert_eq!(values.len(), batch, "values length");
        for ((x, l), v) in inputs
            .chunks_exact(obs_len)
            .zip(logits.chunks_exact_mut(actions))
            .zip(values.iter_mut())
        {
            *v = self.forward_one(x, l);
        }
    }

    /// One observation: writes its logits, returns its value.
    pub fn forward_one(&mut self, input: &[f32], logits: &mut [f32]) -> f32 {
        let [c, h, w] = self.spec.obs.input_shape();
        let s = &mut self.scratch;
        let embedding: &[f32] = match &self.body {
            Body::Mlp(layer) => {
                layer.forward(input, &mut s.a);
                for v in s.a.iter_mut() {
                    *v = libm::tanhf(*v);
                }
                &s.a
            }
            Body::MiniGrid(convs) | Body::MemoryMap(convs) => {
                // [c][h][w] to channels-last [h][w][c].
                s.a.clear();
                s.a.resize(input.len(), 0.0);
                for ch in 0..c {
                    for (cell, &v) in input[ch * h * w..(ch + 1) * h * w].iter().enumerate() {
                        s.a[cell * c + ch] = v;
                    }
                }
                let (mut h, mut w) = convs[0].forward_relu(&s.a, h, w, &mut s.b);
                if matches!(self.body, Body::MiniGrid(_)) {
                    (h, w) = max_pool_2x2(&s.b, h, w, convs[0].c_out, &mut s.a);
                    core::mem::swap(&mut s.a, &mut s.b);
                }
                (h, w) = convs[1].forward_relu(&s.b, h, w, &mut s.a);
                convs[2].forward_relu(&s.a, h, w, &mut s.b);
                &s.b
            }
        };
        let act = self.head_activation;
        let head = |weights: &HeadWeights, hidden: &mut Vec<f32>, out: &mut Vec<f32>| {
            weights.hidden.forward(embedding, hidden);
            for v in hidden.iter_mut() {
                *v = match act {
                    Activation::Tanh => libm::tanhf(*v),
                    Activation::Relu => v.max(0.0),
                };
            }
            weights.out.forward(hidden, out);
        };
        head(&self.actor, &mut s.hidden, &mut s.out);
        logits.copy_from_slice(&s.out);
        head(&self.critic, &mut s.hidden, &mut s.out);
        debug_assert_eq!(self.critic.out.w.n, 1);
        s.out[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::spec::{NetKind, ObsKind};
    use crate::rng::Rng;
    use burn::tensor::Device;

    fn specs() -> Vec<NetSpec> {
        let map = ObsKind::MemoryMap {
            width: 10,
            height: 10,
        };
        let diff = ObsKind::MemoryMapDiff {
            width: 10,
            height: 8,
        };
        let view = ObsKind::View { size: 7 };
        let mut specs = Vec::new();
        for net in NetKind::ALL {
            let one_hot = ObsKind::EgoMapOneHot {
                width: 6,
                height: 5,
            };
            for obs in [view, map, diff, ObsKind::View { size: 9 }, one_hot] {
                specs.push(NetSpec {
                    net,
                    obs,
                    actions: if matches!(obs, ObsKind::MemoryMapDiff { .. }) {
                        2
                    } else {
                        7
                    },
                });
            }
        }
        specs
    }

    #[test]
    fn matches_the_burn_forward_for_every_net_and_observation() {
        let device = Device::flex();
        let mut rng = Rng::new(11);
        for spec in specs() {
            let model = ActorCritic::new(spec, 5, &device).unwrap();
            let mut fast = Inference::new(&model).unwrap();
            let batch = 3;
            let n = batch * spec.obs.len();
            // Map-like values (small integers, negative too for the diff, many zeros).
            let shift = match spec.obs {
                ObsKind::MemoryMapDiff { .. } => 5.0,
                _ => 0.0,
            };
            let input: Vec<f32> = (0..n)
                .map(|_| match rng.below(3) {
                    0 => 0.0,
                    _ => rng.below(11) as f32 - shift,
                })
                .collect();
            let want = model.forward(model.input(input.clone(), batch, &device));
            let want_logits = want.logits.into_data().try_into_vec::<f32>().unwrap();
            let want_values = want.value.into_data().try_into_vec::<f32>().unwrap();
            let mut logits = vec![0.0; batch * spec.actions];
            let mut values = vec![0.0; batch];
            fast.forward(&input, batch, &mut logits, &mut values);
            for (got, want) in logits
                .iter()
                .chain(&values)
                .zip(want_logits.iter().chain(&want_values))
            {
                assert!(
                    (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                    "{spec:?}: {got} vs {want}"
                );
            }
            // The outputs depend on the input (not a constant network).
            let mut other = vec![0.0; spec.actions];
            fast.forward_one(&vec![1.0; spec.obs.len()], &mut other);
            assert_ne!(other, logits[..spec.actions], "{spec:?}");
        }
    }
}
