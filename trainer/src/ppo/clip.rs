//! Gradient clipping by the global norm over all parameters (PyTorch's `clip_grad_norm_`).
//! burn's `GradientClippingConfig::Norm` clips each parameter by its own norm, which PPO does not.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

/// Sums the squared gradients of every parameter, on the device (one read at the end).
struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.sum = Some(match self.sum.take() {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
}

/// Multiplies every gradient by `scale`.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    scale: f32,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.scale));
        }
    }
}

/// The global L2 norm of `model`'s gradients.
pub fn global_norm<M: Module>(model: &M, grads: &GradientsParams) -> f32 {
    let mut v = SquaredNorm { grads, sum: None };
    model.visit(&mut v);
    v.sum.map_or(0.0, |s| s.into_scalar::<f32>().sqrt())
}

/// Scale all gradients so their global norm is at most `max_norm`; returns the norm before
/// clipping. Same rule as PyTorch: scale by `max_norm / (norm + 1e-6)` when that is below 1.
pub fn clip_global_norm<M: Module>(model: &M, grads: &mut GradientsParams, max_norm: f32) -> f32 {
    let norm = global_norm(model, grads);
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        model.visit(&mut Scale { grads, scale: coef });
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Device, TensorData};

    #[test]
    fn clips_by_the_norm_over_all_parameters() {
        let device = Device::flex().autodiff();
        let layer: Linear = LinearConfig::new(3, 2).init(&device);
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), &device);
        let loss = layer.forward(x).sum().mul_scalar(10.0);
        let mut grads = GradientsParams::from_grads(loss.backward(), &layer);
        // d/dW = 10 * x for each of 2 outputs; d/db = 10 for each: norm^2 = 100 * (2*14 + 2).
        let want = (100.0f32 * 30.0).sqrt();
        let norm = clip_global_norm(&layer, &mut grads, 0.5);
        assert!((norm - want).abs() < 1e-3, "{norm} vs {want}");
        let after = global_norm(&layer, &grads);
        assert!((after - 0.5).abs() < 1e-4, "{after}");
        // Per-parameter clipping would have given each tensor norm 0.5 (global sqrt(0.5)).
        let w = grads.get::<2>(layer.weight.id).unwrap();
        let b = grads.get::<1>(layer.bias.as_ref().unwrap().id).unwrap();
        let ratio = w.square().sum().into_scalar::<f32>().sqrt()
            / b.square().sum().into_scalar::<f32>().sqrt();
        assert!((ratio - 14f32.sqrt()).abs() < 1e-3, "{ratio}");
    }

    #[test]
    fn small_gradients_are_left_alone() {
        let device = Device::flex().autodiff();
        let layer: Linear = LinearConfig::new(3, 2).init(&device);
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.01f32, 0.0, 0.0], [1, 3]), &device);
        let loss = layer.forward(x).sum().mul_scalar(0.01);
        let mut grads = GradientsParams::from_grads(loss.backward(), &layer);
        let before = global_norm(&layer, &grads);
        let norm = clip_global_norm(&layer, &mut grads, 0.5);
        assert_eq!(before, norm);
        assert_eq!(global_norm(&layer, &grads), before);
    }
}
