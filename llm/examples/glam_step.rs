//! Times GLAM's training step on the embedded model: the frozen part of a BabyAI-Text prompt,
//! the adapted top blocks without gradients, and a PPO sample's forward + backward.
//!
//!   cargo run --release -p gridmentor-llm --example glam_step -- [layers] [rank] [mlp|qv] [last|first]

use gridmentor_core::agent::llm_policy::{ACTION_TEXTS, glam_prompt};
use gridmentor_llm::grounding::{Grounded, LoraConfig, PpoParams, Sample};
use gridmentor_llm::{Message, SmolLm2};
use std::time::Instant;

const ACTIONS: [&str; 6] = ACTION_TEXTS;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let layers = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let rank = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(8);
    let mlp = args.get(3).is_some_and(|s| s == "mlp");
    // `last`: consecutive prompts differ in their last observation only (else from the first).
    let last_only = args.get(4).is_some_and(|s| s == "last");
    let threads = std::env::var("GRIDMENTOR_LLM_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let path = SmolLm2::default_path();
    let base = SmolLm2::load_with_threads(&path, threads)?;
    let cfg = LoraConfig {
        layers,
        rank,
        mlp,
        ..LoraConfig::default()
    };
    let mut g = Grounded::new(base, &path, cfg, &ACTIONS, 1)?;
    // GLAM's prompt (core's) after three observations and two actions.
    let prompt = |i: usize| {
        let seen = |s: String| vec![s];
        let p = glam_prompt(
            "go to the red ball",
            &[
                seen(format!(
                    "You see a wall {} steps forward, You see a red ball 1 step left and 2 steps forward",
                    if last_only { 0 } else { i }
                )),
                seen("You see a wall 2 steps forward".into()),
                seen(format!("You see a red ball {i} steps forward")),
            ],
            &["turn left", "go forward"],
        );
        p.messages
            .into_iter()
            .map(|m| Message::new(m.role.as_str(), m.content))
            .collect::<Vec<_>>()
    };
    let tokens = g.base().prompt_tokens(&prompt(0))?.len();
    let n = 6;
    let t = Instant::now();
    let evals: Vec<_> = (0..n)
        .map(|i| g.evaluate(&prompt(i + 1)))
        .collect::<Result<_, _>>()?;
    let first = t.elapsed().as_secs_f64() / n as f64;
    let t = Instant::now();
    for i in 0..n {
        g.evaluate(&prompt(i + 1))?;
    }
    let cached = t.elapsed().as_secs_f64() / n as f64;
    let samples: Vec<Sample> = evals
        .iter()
        .map(|e| Sample {
            lower: e.lower.clone(),
            action: 2,
            logp: -1.8,
            value: 0.0,
            advantage: 1.0,
            ret: 1.0,
        })
        .collect();
    let p = PpoParams {
        clip: 0.2,
        vf_coef: 0.5,
        ent_coef: 0.01,
        max_grad_norm: 0.5,
        clip_vloss: true,
        lr: 1e-4,
    };
    let t = Instant::now();
    g.ppo_minibatch(&samples, &p)?;
    let train = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "prompt {tokens} tokens, LoRA top {layers} layers rank {rank}{}, {} trained parameters, {threads} threads: \
         rollout step {first:.3} s (frozen part computed), {cached:.3} s (frozen part cached); \
         PPO forward+backward {train:.3} s per sample",
        if mlp { " q,v,mlp" } else { " q,v" },
        g.parameter_count()
    );
    Ok(())
}
