//! The actor-critic networks: one module whose encoder is chosen by [`NetKind`], with an actor
//! head (action logits) and a critic head (state value) on top, as in both seeds.

use crate::nn::init::{self, LinearInit};
use crate::nn::spec::{NetKind, NetSpec};
use crate::rng::Rng;
use alloc::string::String;
use alloc::vec::Vec;
use burn::module::Module;
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::tensor::activation::{relu, tanh};
use burn::tensor::{Device, Int, Tensor, TensorData, s};

/// Hidden units in each head (both seeds).
pub const HEAD_UNITS: usize = 64;

/// What the network says about a batch of observations.
#[derive(Clone, Debug)]
pub struct Output {
    /// Unnormalised action scores, `[batch, actions]`.
    pub logits: Tensor<2>,
    /// State values, `[batch]`.
    pub value: Tensor<1>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Activation {
    Tanh,
    Relu,
}

impl Activation {
    fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Tanh => tanh(x),
            Activation::Relu => relu(x),
        }
    }
}

/// A batch of channels-last feature maps as rows: `[batch * h * w, channels]`, one row per cell.
#[derive(Clone, Debug)]
struct Rows {
    x: Tensor<2>,
    batch: usize,
    h: usize,
    w: usize,
}

impl Rows {
    /// From the network input `[batch, c, h, w]`.
    fn from_input(x: Tensor<4>) -> Rows {
        let [batch, c, h, w] = x.dims();
        let x = x.permute([0, 2, 3, 1]).reshape([batch * h * w, c]);
        Rows { x, batch, h, w }
    }

    fn map(self, f: impl FnOnce(Tensor<2>) -> Tensor<2>) -> Rows {
        Rows {
            x: f(self.x),
            ..self
        }
    }

    /// `[batch, h * w * channels]` (channels-last order).
    fn flatten(self) -> Tensor<2> {
        let [_, c] = self.x.dims();
        self.x.reshape([self.batch, self.h * self.w * c])
    }
}

/// For each output cell of a `k x k` convolution (stride 1, zero padding `padding`) over
/// `batch` maps of `h x w` cells, the input row under each kernel tap, taps in (i, j) order;
/// a tap on the padding reads row `batch * h * w` (a row of zeros appended to the input).
fn patch_rows(batch: usize, h: usize, w: usize, k: usize, padding: usize) -> Vec<i64> {
    let (ho, wo) = (h + 2 * padding + 1 - k, w + 2 * padding + 1 - k);
    let zero_row = (batch * h * w) as i64;
    let mut rows = Vec::with_capacity(batch * ho * wo * k * k);
    for s in 0..batch {
        for oy in 0..ho {
            for ox in 0..wo {
                for i in 0..k {
                    for j in 0..k {
                        let (y, x) = (
                            (oy + i) as isize - padding as isize,
                            (ox + j) as isize - padding as isize,
                        );
                        rows.push(if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                            zero_row
                        } else {
                            ((s * h + y as usize) * w + x as usize) as i64
                        });
                    }
                }
            }
        }
    }
    rows
}

/// A convolution (stride 1, square kernel, symmetric zero padding) as one gather of patches
/// (im2col by row selection) and one matrix product over the whole batch. burn-flex's conv2d
/// runs one small gemm per sample, which for 7x7 inputs costs ~10x more than the arithmetic;
/// building the patches from shifted slices and `cat` costs more than the product in the
/// backward pass (a zero-filled copy of the input per tap), where a gather's backward is one
/// scatter-add.
fn conv_rows(conv: &Conv2d, input: Rows, padding: usize) -> Rows {
    let weight = conv.weight.val(); // [c_out, c_in, k, k]
    let [c_out, c_in, k, _] = weight.dims();
    let Rows { x, batch, h, w } = input;
    let device = x.device();
    let x = if padding > 0 {
        Tensor::cat(alloc::vec![x, Tensor::zeros([1, c_in], &device)], 0)
    } else {
        x
    };
    let (ho, wo) = (h + 2 * padding + 1 - k, w + 2 * padding + 1 - k);
    let rows = patch_rows(batch, h, w, k, padding);
    let n = rows.len();
    let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &device);
    // Patch columns: (i * k + j) * c_in + c.
    let patches = x.select(0, rows).reshape([batch * ho * wo, k * k * c_in]);
    let kernel = weight.permute([2, 3, 1, 0]).reshape([k * k * c_in, c_out]);
    let mut y = patches.matmul(kernel);
    if let Some(bias) = &conv.bias {
        y = y + bias.val().unsqueeze_dim(0);
    }
    Rows {
        x: y,
        batch,
        h: ho,
        w: wo,
    }
}

/// 2x2 max-pool with stride 2 (floor): the max of four strided views (its backward is a mask,
/// where `max_dim`'s is a slow scatter in burn-flex).
fn max_pool_2x2(input: Rows) -> Rows {
    let Rows { x, batch, h, w } = input;
    let [_, c] = x.dims();
    let x = x.reshape([batch, h, w, c]);
    let (h2, w2) = (h / 2 * 2, w / 2 * 2);
    let view = |i: usize, j: usize| x.clone().slice(s![.., i..h2;2, j..w2;2, ..]);
    let y = view(0, 0)
        .max_pair(view(0, 1))
        .max_pair(view(1, 0).max_pair(view(1, 1)));
    Rows {
        x: y.reshape([batch * (h / 2) * (w / 2), c]),
        batch,
        h: h / 2,
        w: w / 2,
    }
}

/// rl-starter-files' image encoder.
#[derive(Module, Debug)]
pub struct MiniGridCnn {
    pub(crate) conv1: Conv2d,
    pool: MaxPool2d,
    pub(crate) conv2: Conv2d,
    pub(crate) conv3: Conv2d,
}

impl MiniGridCnn {
    /// `[batch, c, h, w]` to the flattened embedding (channels-last order).
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = Rows::from_input(x);
        let x = max_pool_2x2(conv_rows(&self.conv1, x, 0).map(relu));
        let x = conv_rows(&self.conv2, x, 0).map(relu);
        conv_rows(&self.conv3, x, 0).map(relu).flatten()
    }

    /// The same with burn's conv2d and max-pool (NCHW; PyTorch's flattening order).
    #[cfg(test)]
    fn forward_nchw(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        relu(self.conv3.forward(relu(self.conv2.forward(x))))
    }
}

/// LLM4Teach's memory-map encoder.
#[derive(Module, Debug)]
pub struct MemoryMapCnn {
    pub(crate) conv1: Conv2d,
    pub(crate) conv2: Conv2d,
    pub(crate) conv3: Conv2d,
}

impl MemoryMapCnn {
    fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = conv_rows(&self.conv1, Rows::from_input(x), 1).map(relu);
        let x = conv_rows(&self.conv2, x, 1).map(relu);
        conv_rows(&self.conv3, x, 1).map(relu).flatten()
    }

    #[cfg(test)]
    fn forward_nchw(&self, x: Tensor<4>) -> Tensor<4> {
        let x = relu(self.conv1.forward(x));
        relu(self.conv3.forward(relu(self.conv2.forward(x))))
    }
}

#[derive(Module, Debug)]
pub enum Encoder {
    MiniGrid(MiniGridCnn),
    MemoryMap(MemoryMapCnn),
    /// The MLP's shared hidden layer (applied to the flattened input).
    Mlp(Linear),
}

/// Linear, activation, linear.
#[derive(Module, Debug)]
pub struct Head {
    pub(crate) hidden: Linear,
    pub(crate) out: Linear,
    #[module(skip)]
    pub(crate) activation: Activation,
}

impl Head {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out
            .forward(self.activation.apply(self.hidden.forward(x)))
    }
}

/// A policy and value network described by a [`NetSpec`].
#[derive(Module, Debug)]
pub struct ActorCritic {
    pub(crate) encoder: Encoder,
    pub(crate) actor: Head,
    pub(crate) critic: Head,
    #[module(skip)]
    spec: NetSpec,
}

impl ActorCritic {
    /// A freshly initialised network; the same `seed` gives the same weights on every target.
    pub fn new(spec: NetSpec, seed: u64, device: &Device) -> Result<ActorCritic, String> {
        spec.check()?;
        let mut rng = Rng::new(seed);
        let [c, h, w] = spec.obs.input_shape();
        let (encoder, embedding, head_init, activation) = match spec.net {
            NetKind::MiniGridCnn => {
                let enc = MiniGridCnn {
                    conv1: init::conv(c, 16, 2, 0, &mut rng, device),
                    pool: MaxPool2dConfig::new([2, 2]).init(),
                    conv2: init::conv(16, 32, 2, 0, &mut rng, device),
                    conv3: init::conv(32, 64, 2, 0, &mut rng, device),
                };
                let side = |n: usize| (n - 1) / 2 - 2;
                let emb = side(h) * side(w) * 64;
                (
                    Encoder::MiniGrid(enc),
                    emb,
                    LinearInit::UnitRows,
                    Activation::Tanh,
                )
            }
            NetKind::MemoryMapCnn => {
                let enc = MemoryMapCnn {
                    conv1: init::conv(c, 16, 3, 1, &mut rng, device),
                    conv2: init::conv(16, 32, 3, 1, &mut rng, device),
                    conv3: init::conv(32, 64, 3, 1, &mut rng, device),
                };
                (
                    Encoder::MemoryMap(enc),
                    h * w * 64,
                    LinearInit::Torch,
                    Activation::Relu,
                )
            }
            NetKind::Mlp => {
                let hidden = init::linear(
                    c * h * w,
                    HEAD_UNITS,
                    LinearInit::UnitRows,
                    &mut rng,
                    device,
                );
                (
                    Encoder::Mlp(hidden),
                    HEAD_UNITS,
                    LinearInit::UnitRows,
                    Activation::Tanh,
                )
            }
        };
        let mut head = |out: usize| Head {
            hidden: init::linear(embedding, HEAD_UNITS, head_init, &mut rng, device),
            out: init::linear(HEAD_UNITS, out, head_init, &mut rng, device),
            activation,
        };
        let actor = head(spec.actions);
        let critic = head(1);
        Ok(ActorCritic {
            encoder,
            actor,
            critic,
            spec,
        })
    }

    pub fn spec(&self) -> NetSpec {
        self.spec
    }

    /// Logits and values for a batch of inputs `[batch, channels, h, w]`.
    pub fn forward(&self, input: Tensor<4>) -> Output {
        let embedding: Tensor<2> = match &self.encoder {
            Encoder::MiniGrid(cnn) => cnn.forward(input),
            Encoder::MemoryMap(cnn) => cnn.forward(input),
            Encoder::Mlp(hidden) => tanh(hidden.forward(input.flatten(1, 3))),
        };
        let logits = self.actor.forward(embedding.clone());
        let value = self.critic.forward(embedding).flatten(0, 1);
        Output { logits, value }
    }

    /// The input tensor for `batch` observations already written by
    /// [`ObsKind::write_input`](crate::nn::ObsKind::write_input), one after another.
    pub fn input(&self, inputs: Vec<f32>, batch: usize, device: &Device) -> Tensor<4> {
        let [c, h, w] = self.spec.obs.input_shape();
        Tensor::from_data(TensorData::new(inputs, [batch, c, h, w]), device)
    }

    /// The most likely action for each observation of a batch.
    pub fn greedy(&self, input: Tensor<4>) -> Vec<usize> {
        let logits = self.forward(input).logits;
        let actions = logits.argmax(1).into_data();
        actions.iter::<i64>().map(|a| a as usize).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::spec::ObsKind;

    fn device() -> Device {
        Device::flex()
    }

    /// The loader bounds a network by `NetSpec::parameters` before building it: the count must
    /// be the built network's.
    #[test]
    fn parameter_count_is_the_built_networks() {
        let mut checked = 0;
        for net in NetKind::ALL {
            for obs in [
                ObsKind::View { size: 5 },
                ObsKind::View { size: 7 },
                ObsKind::View { size: 15 },
                ObsKind::ViewMission { size: 7 },
                ObsKind::MemoryMap {
                    width: 10,
                    height: 6,
                },
                ObsKind::MemoryMapDiff {
                    width: 3,
                    height: 8,
                },
                ObsKind::EgoMap {
                    width: 10,
                    height: 10,
                },
                ObsKind::EgoMapOneHot {
                    width: 10,
                    height: 10,
                },
            ] {
                for actions in [1, 2, 7] {
                    let spec = NetSpec { net, obs, actions };
                    let Ok(model) = ActorCritic::new(spec, 0, &device()) else {
                        continue;
                    };
                    assert_eq!(spec.parameters(), model.num_params(), "{spec:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 54, "{checked}");
    }

    fn specs() -> [NetSpec; 4] {
        [
            NetSpec::minigrid(7),
            NetSpec {
                net: NetKind::MemoryMapCnn,
                obs: ObsKind::MemoryMap {
                    width: 10,
                    height: 10,
                },
                actions: 7,
            },
            NetSpec {
                net: NetKind::MemoryMapCnn,
                obs: ObsKind::MemoryMapDiff {
                    width: 10,
                    height: 10,
                },
                actions: 2,
            },
            NetSpec {
                net: NetKind::Mlp,
                obs: ObsKind::View { size: 7 },
                actions: 7,
            },
        ]
    }

    #[test]
    fn shapes_and_parameter_counts() {
        // rl-starter-files' ACModel on 7x7x3 with 7 actions: convs 208 + 2,080 + 8,256, actor
        // 4,160 + 455, critic 4,160 + 65.
        let want = [19_384usize, 0, 0, 0];
        for (spec, want) in specs().into_iter().zip(want) {
            let net = ActorCritic::new(spec, 1, &device()).unwrap();
            let [c, h, w] = spec.obs.input_shape();
            let x = net.input(alloc::vec![1.0; 5 * c * h * w], 5, &device());
            let out = net.forward(x);
            assert_eq!(out.logits.dims(), [5, spec.actions]);
            assert_eq!(out.value.dims(), [5]);
            if want > 0 {
                assert_eq!(net.num_params(), want, "{spec:?}");
            }
        }
    }

    #[test]
    fn same_seed_same_weights_other_seed_other_weights() {
        let spec = NetSpec::minigrid(7);
        let x = || {
            let net = ActorCritic::new(spec, 0, &device()).unwrap();
            net.input(alloc::vec![0.5; 147 * 2], 2, &device())
        };
        let a = ActorCritic::new(spec, 9, &device())
            .unwrap()
            .forward(x())
            .logits;
        let b = ActorCritic::new(spec, 9, &device())
            .unwrap()
            .forward(x())
            .logits;
        let c = ActorCritic::new(spec, 10, &device())
            .unwrap()
            .forward(x())
            .logits;
        assert_eq!(a.to_data(), b.to_data());
        assert_ne!(a.to_data(), c.to_data());
    }

    #[test]
    fn unit_row_init_gives_unit_norm_columns() {
        let net = ActorCritic::new(NetSpec::minigrid(7), 4, &device()).unwrap();
        let w = net.actor.hidden.weight.val(); // [64 in, 64 out]
        let norms = w.powi_scalar(2).sum_dim(0).sqrt().into_data();
        for n in norms.iter::<f32>() {
            assert!((n - 1.0).abs() < 1e-5, "{n}");
        }
    }

    #[test]
    fn batched_convolution_matches_burns_conv2d() {
        let d = device();
        let mut rng = Rng::new(5);
        for spec in specs().into_iter().take(2) {
            let net = ActorCritic::new(spec, 2, &d).unwrap();
            let [c, h, w] = spec.obs.input_shape();
            let n = 3 * c * h * w;
            let data: Vec<f32> = (0..n).map(|_| rng.below(11) as f32).collect();
            let x = || net.input(data.clone(), 3, &d);
            let (ours, theirs) = match &net.encoder {
                Encoder::MiniGrid(cnn) => (cnn.forward(x()), cnn.forward_nchw(x())),
                Encoder::MemoryMap(cnn) => (cnn.forward(x()), cnn.forward_nchw(x())),
                Encoder::Mlp(_) => unreachable!(),
            };
            // Same values; ours is flattened channels-last.
            let theirs = theirs.permute([0, 2, 3, 1]).flatten::<2>(1, 3);
            let diff = (ours - theirs).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-4, "{spec:?}: {diff}");
        }
    }

    #[test]
    fn too_small_view_is_refused() {
        let spec = NetSpec {
            net: NetKind::MiniGridCnn,
            obs: ObsKind::View { size: 3 },
            actions: 7,
        };
        assert!(ActorCritic::new(spec, 0, &device()).is_err());
    }
}
