//! Layer initialisation from core's RNG, so a seed gives the same network on every target
//! (burn's own initialisers draw from a thread RNG natively and a fixed seed in no_std).

use crate::rng::Rng;
use alloc::vec::Vec;
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, TensorData};

/// How a linear layer starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinearInit {
    /// rl-starter-files' `init_params`: N(0, 1) weights with each output unit's incoming weights
    /// scaled to unit norm, zero bias.
    UnitRows,
    /// PyTorch's default: weights and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    Torch,
}

fn uniform(rng: &mut Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| (rng.f32() * 2.0 - 1.0) * bound).collect()
}

/// Standard normal by Box-Muller (one draw per pair of uniforms, for simplicity).
fn normal(rng: &mut Rng) -> f32 {
    let u1 = 1.0 - rng.f64(); // (0, 1]
    let u2 = rng.f64();
    (libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(core::f64::consts::TAU * u2)) as f32
}

pub fn linear(
    d_in: usize,
    d_out: usize,
    init: LinearInit,
    rng: &mut Rng,
    device: &Device,
) -> Linear {
    let mut layer = LinearConfig::new(d_in, d_out)
        .with_initializer(Initializer::Zeros)
        .init(device);
    // burn stores the weight as [d_in, d_out].
    let (weight, bias) = match init {
        LinearInit::UnitRows => {
            let mut w = alloc::vec![0.0f32; d_in * d_out];
            for o in 0..d_out {
                let col: Vec<f32> = (0..d_in).map(|_| normal(rng)).collect();
                let norm = libm::sqrtf(col.iter().map(|v| v * v).sum::<f32>());
                for (i, v) in col.into_iter().enumerate() {
                    w[i * d_out + o] = v / norm;
                }
            }
            (w, alloc::vec![0.0f32; d_out])
        }
        LinearInit::Torch => {
            let bound = 1.0 / libm::sqrtf(d_in as f32);
            let w = uniform(rng, d_in * d_out, bound);
            (w, uniform(rng, d_out, bound))
        }
    };
    layer.weight = Param::from_data(TensorData::new(weight, [d_in, d_out]), device);
    layer.bias = Some(Param::from_data(TensorData::new(bias, [d_out]), device));
    layer
}

/// A square-kernel convolution with PyTorch's default initialisation.
pub fn conv(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    padding: usize,
    rng: &mut Rng,
    device: &Device,
) -> Conv2d {
    let p = padding;
    let mut layer = Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_initializer(Initializer::Zeros)
        .init(device);
    let fan_in = c_in * kernel * kernel;
    let bound = 1.0 / libm::sqrtf(fan_in as f32);
    let w = uniform(rng, c_out * fan_in, bound);
    let b = uniform(rng, c_out, bound);
    layer.weight = Param::from_data(TensorData::new(w, [c_out, c_in, kernel, kernel]), device);
    layer.bias = Some(Param::from_data(TensorData::new(b, [c_out]), device));
    layer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_has_unit_variance() {
        let mut rng = Rng::new(3);
        let xs: Vec<f32> = (0..20000).map(|_| normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / xs.len() as f32;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
