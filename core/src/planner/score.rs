//! Candidate scoring (GLAM): an LLM that can score text gives the log-likelihood of each
//! candidate answer given the prompt; a softmax over them is a distribution over candidates.

use super::{PlannerError, Prompt};
use alloc::vec::Vec;

/// A backend that scores candidate completions (the server's embedded LLM does).
pub trait Scorer {
    /// The log-likelihood of each candidate as the assistant's reply to `prompt`.
    fn log_likelihoods(
        &mut self,
        prompt: &Prompt,
        candidates: &[&str],
    ) -> Result<Vec<f64>, PlannerError>;
}

/// Softmax of log-likelihoods at `temperature` (1 = the model's own distribution); the
/// probabilities sum to 1. Non-finite scores get probability 0 unless all are non-finite
/// (then uniform).
pub fn candidate_distribution(log_likelihoods: &[f64], temperature: f64) -> Vec<f32> {
    let t = if temperature > 0.0 { temperature } else { 1e-6 };
    let max = log_likelihoods
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        let n = log_likelihoods.len().max(1) as f32;
        return log_likelihoods.iter().map(|_| 1.0 / n).collect();
    }
    let exps: Vec<f64> = log_likelihoods
        .iter()
        .map(|&x| {
            if x.is_finite() {
                libm_exp((x - max) / t)
            } else {
                0.0
            }
        })
        .collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|&e| (e / sum) as f32).collect()
}

/// `exp` without std: range-reduced Taylor series, accurate to ~1e-15 for x <= 0.
fn libm_exp(x: f64) -> f64 {
    if x < -700.0 {
        return 0.0;
    }
    // exp(x) = 2^k * exp(r), r in [-ln2/2, ln2/2].
    let ln2 = core::f64::consts::LN_2;
    let k = (x / ln2 + if x < 0.0 { -0.5 } else { 0.5 }) as i64;
    let r = x - k as f64 * ln2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..20 {
        term *= r / i as f64;
        sum += term;
    }
    sum * f64::from_bits(((1023 + k) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_of_log_likelihoods() {
        let d = candidate_distribution(&[-1.0, -2.0, f64::NEG_INFINITY], 1.0);
        assert!((d.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let e = core::f64::consts::E as f32;
        assert!((d[0] / d[1] - e).abs() < 1e-4, "{d:?}");
        assert_eq!(d[2], 0.0);
        let sharp = candidate_distribution(&[-1.0, -2.0], 0.01);
        assert!(sharp[0] > 0.999);
        assert_eq!(
            candidate_distribution(&[f64::NAN, f64::NAN], 1.0),
            [0.5, 0.5]
        );
        for x in [-0.3, -5.0, -40.0, 3.0] {
            let want = if x == -0.3 {
                0.740818220681718
            } else if x == -5.0 {
                0.006737946999085467
            } else if x == -40.0 {
                4.248354255291589e-18
            } else {
                20.085536923187668
            };
            assert!((libm_exp(x) / want - 1.0).abs() < 1e-12, "exp({x})");
        }
    }
}
