//! Next-token choice: argmax at temperature 0, else nucleus sampling driven by a seeded
//! SplitMix64, so that a seed always gives the same text.

use crate::{GenParams, LlmError};

pub struct Sampler {
    temperature: f32,
    top_p: f32,
    state: u64,
}

impl Sampler {
    pub fn new(p: &GenParams) -> Result<Sampler, LlmError> {
        if !(p.temperature.is_finite() && p.temperature >= 0.0) {
            return Err(LlmError::InvalidRequest(format!(
                "temperature must be a finite number >= 0, got {}",
                p.temperature
            )));
        }
        if !(p.top_p > 0.0 && p.top_p <= 1.0) {
            return Err(LlmError::InvalidRequest(format!(
                "top_p must be in (0, 1], got {}",
                p.top_p
            )));
        }
        Ok(Sampler {
            temperature: p.temperature,
            top_p: p.top_p,
            state: p.seed,
        })
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        let argmax = || {
            logits
                .iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &l)| {
                    if l > best.1 { (i, l) } else { best }
                })
                .0 as u32
        };
        if self.temperature == 0.0 {
            return argmax();
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let t = f64::from(self.temperature);
        let mut probs: Vec<(u32, f64)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u32, ((f64::from(l) - f64::from(max)) / t).exp()))
            .filter(|&(_, p)| p > 0.0)
            .collect();
        let total: f64 = probs.iter().map(|p| p.1).sum();
        if !(total.is_finite() && total > 0.0) {
            return argmax();
        }
        // Most likely first; ties broken by id so the order never depends on the sort.
        probs.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut kept = 0.0;
        let mut n = 0;
        for &(_, p) in &probs {
            kept += p;
            n += 1;
            if kept >= f64::from(self.top_p) * total {
                break;
            }
        }
        let mut r = self.uniform() * kept;
        for &(id, p) in &probs[..n] {
            if r < p {
                return id;
            }
            r -= p;
        }
        probs[n - 1].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(temperature: f32, top_p: f32, seed: u64) -> Sampler {
        Sampler::new(&GenParams {
            temperature,
            top_p,
            seed,
            ..GenParams::default()
        })
        .unwrap()
    }

    #[test]
    fn greedy_takes_the_argmax() {
        assert_eq!(sampler(0.0, 1.0, 1).sample(&[0.1, 3.0, -2.0, 2.9]), 1);
    }

    #[test]
    fn small_top_p_keeps_only_the_most_likely() {
        let mut s = sampler(1.0, 0.1, 7);
        for _ in 0..100 {
            assert_eq!(s.sample(&[0.0, 2.0, 1.0]), 1);
        }
    }

    #[test]
    fn sampling_follows_the_distribution_and_the_seed() {
        let logits = [0.0f32, (3.0f32).ln()]; // p = 1/4, 3/4
        let mut s = sampler(1.0, 1.0, 42);
        let draws: Vec<u32> = (0..4000).map(|_| s.sample(&logits)).collect();
        let ones = draws.iter().filter(|&&d| d == 1).count() as f64 / 4000.0;
        assert!((ones - 0.75).abs() < 0.03, "{ones}");
        let mut again = sampler(1.0, 1.0, 42);
        assert!(draws.iter().all(|&d| d == again.sample(&logits)));
    }

    #[test]
    fn bad_parameters_are_refused() {
        for (t, p) in [(-1.0, 1.0), (f32::NAN, 1.0), (1.0, 0.0), (1.0, 1.5)] {
            let params = GenParams {
                temperature: t,
                top_p: p,
                ..GenParams::default()
            };
            assert!(Sampler::new(&params).is_err(), "{t} {p}");
        }
    }
}
