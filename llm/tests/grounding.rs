//! GLAM's grounding on the real model file: fresh adapters are the base model, PPO raises the
//! likelihood of rewarded actions, and the grounded checkpoint round-trips with its checks.
//! Without the file the tests print a skip line, unless `CI` is set.

use gridmentor_core::agent::llm_policy::{ACTION_TEXTS, glam_prompt};
use gridmentor_llm::grounding::{Grounded, LoraConfig, PpoParams, Sample};
use gridmentor_llm::{Message, SmolLm2};
use std::path::PathBuf;

// GLAM's action texts and prompt as the agent uses them (core), so these tests train what runs.
const ACTIONS: [&str; 6] = ACTION_TEXTS;

fn base() -> Option<(SmolLm2, PathBuf)> {
    let path = SmolLm2::default_path();
    if !path.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the model {} is missing: run scripts/fetch-model.sh",
            path.display()
        );
        eprintln!("SKIP: model {} missing", path.display());
        return None;
    }
    Some((SmolLm2::load_with_threads(&path, 2).unwrap(), path))
}

fn prompt(goal: &str, seen: &str) -> Vec<Message> {
    let p = glam_prompt(goal, &[vec![seen.to_string()]], &[]);
    p.messages
        .into_iter()
        .map(|m| Message::new(m.role.as_str(), m.content))
        .collect()
}

fn probs(scores: &[f32]) -> Vec<f32> {
    let m = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = scores.iter().map(|s| (s - m).exp()).collect();
    let z: f32 = e.iter().sum();
    e.iter().map(|x| x / z).collect()
}

fn small() -> LoraConfig {
    LoraConfig {
        layers: 2,
        rank: 4,
        ..LoraConfig::default()
    }
}

#[test]
fn fresh_adapters_score_exactly_like_the_base_model() {
    let Some((mut base, path)) = base() else {
        return;
    };
    let p = prompt("go to the red ball", "You see a red ball 2 steps forward");
    let cands: Vec<String> = ACTIONS.iter().map(|s| s.to_string()).collect();
    let want = base.score(&p, &cands).unwrap();
    let mut g = Grounded::new(base, &path, small(), &ACTIONS, 3).unwrap();
    let got = g.score(&p, &cands).unwrap();
    let eval = g.evaluate(&p).unwrap();
    for ((w, s), e) in want.iter().zip(&got).zip(&eval.scores) {
        assert_eq!(w.tokens, s.tokens);
        assert!((w.logprob - s.logprob).abs() < 2e-3, "{want:?} vs {got:?}");
        assert!(
            (w.logprob - e).abs() < 2e-3,
            "{want:?} vs {:?}",
            eval.scores
        );
    }
}

/// A two-situation bandit: PPO with the reward on "go forward" when the ball is ahead and on
/// "turn left" when it is on the left must raise those actions' probabilities.
#[test]
fn ppo_raises_the_likelihood_of_rewarded_actions() {
    let Some((base, path)) = base() else {
        return;
    };
    let mut g = Grounded::new(base, &path, small(), &ACTIONS, 5).unwrap();
    let cases = [
        (
            prompt("go to the red ball", "You see a red ball 2 steps forward"),
            2,
        ),
        (
            prompt("go to the red ball", "You see a red ball 2 steps left"),
            0,
        ),
    ];
    let before: Vec<f32> = cases
        .iter()
        .map(|(p, a)| probs(&g.evaluate(p).unwrap().scores)[*a])
        .collect();
    let params = PpoParams {
        clip: 0.2,
        vf_coef: 0.5,
        ent_coef: 0.0,
        max_grad_norm: 1.0,
        clip_vloss: true,
        lr: 3e-3,
    };
    for _ in 0..4 {
        // Every action of each situation, weighted by its advantage: +1 rewarded, -0.2 not.
        let mut batch = Vec::new();
        for (p, good) in &cases {
            let e = g.evaluate(p).unwrap();
            let pr = probs(&e.scores);
            for (a, pa) in pr.iter().enumerate().take(ACTIONS.len()) {
                let r = if a == *good { 1.0 } else { 0.0 };
                batch.push(Sample {
                    lower: e.lower.clone(),
                    action: a,
                    logp: pa.ln(),
                    value: e.value,
                    advantage: if a == *good { 1.0 } else { -0.2 },
                    ret: r,
                });
            }
        }
        g.ppo_minibatch(&batch, &params).unwrap();
    }
    let after: Vec<f32> = cases
        .iter()
        .map(|(p, a)| probs(&g.evaluate(p).unwrap().scores)[*a])
        .collect();
    // In log-likelihood: the zero-shot model gives "go forward" about 1e-4 here.
    for (b, a) in before.iter().zip(&after) {
        assert!(
            (a / b).ln() > 0.3,
            "rewarded action: {before:?} -> {after:?}"
        );
    }
}

/// The value head tells situations apart: trained on a return of 1 with the ball ahead and 0
/// with only walls in view, at the learning rate of the measured GLAM run, its values must
/// separate. (Its first version read the final hidden state as it comes, whose one outlier
/// dimension (about 44) and 576 summed inputs let Adam saturate every tanh unit in a few steps:
/// the value was the same number for every prompt, explained variance 0 in every run.)
#[test]
fn the_value_head_learns_to_tell_situations_apart() {
    let Some((base, path)) = base() else {
        return;
    };
    let mut g = Grounded::new(base, &path, small(), &ACTIONS, 9).unwrap();
    let cases = [
        (
            prompt("go to the red ball", "You see a red ball 1 step forward"),
            1.0,
        ),
        (
            prompt("go to the red ball", "You see a wall 3 steps forward"),
            0.0,
        ),
    ];
    let params = PpoParams {
        clip: 0.2,
        vf_coef: 0.5,
        ent_coef: 0.0,
        max_grad_norm: 0.5,
        clip_vloss: true,
        lr: 5e-3,
    };
    let values = |g: &mut Grounded| -> Vec<f32> {
        cases
            .iter()
            .map(|(p, _)| g.evaluate(p).unwrap().value)
            .collect()
    };
    // 90 updates: the head trains alone on the detached hidden state (the adapters get no value
    // gradient), which took [0.60, 0.51] after 30 and [1.00, 0.01] after 90.
    for _ in 0..90 {
        // Advantage 0: only the value loss moves anything.
        let batch: Vec<Sample> = cases
            .iter()
            .map(|(p, ret)| {
                let e = g.evaluate(p).unwrap();
                Sample {
                    lower: e.lower.clone(),
                    action: 2,
                    logp: probs(&e.scores)[2].ln(),
                    value: e.value,
                    advantage: 0.0,
                    ret: *ret,
                }
            })
            .collect();
        g.ppo_minibatch(&batch, &params).unwrap();
    }
    let v = values(&mut g);
    assert!(v[0] - v[1] > 0.5, "values after training: {v:?}");
    assert!((v[0] - 1.0).abs() < 0.3 && v[1].abs() < 0.3, "{v:?}");
}

#[test]
fn the_grounded_checkpoint_round_trips_and_checks_its_base() {
    let Some((base, path)) = base() else {
        return;
    };
    let mut g = Grounded::new(base, &path, small(), &ACTIONS, 7).unwrap();
    let p = prompt("pick up the blue key", "You see a blue key 1 step forward");
    let e = g.evaluate(&p).unwrap();
    let params = PpoParams {
        clip: 0.2,
        vf_coef: 0.5,
        ent_coef: 0.01,
        max_grad_norm: 1.0,
        clip_vloss: true,
        lr: 1e-3,
    };
    let s = Sample {
        lower: e.lower.clone(),
        action: 3,
        logp: -1.5,
        value: e.value,
        advantage: 1.0,
        ret: 1.0,
    };
    g.ppo_minibatch(&[s], &params).unwrap();
    let trained = g.evaluate(&p).unwrap();
    let dir = std::env::temp_dir().join(format!("gm-glam-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a.glam");
    g.save(&file, serde_json::json!({"env": "test"}), true)
        .unwrap();
    let base = SmolLm2::load_with_threads(&path, 2).unwrap();
    let mut back = Grounded::load(base, &path, &file).unwrap();
    let again = back.evaluate(&p).unwrap();
    assert_eq!(trained.scores, again.scores);
    assert_eq!(trained.value, again.value);

    // Another base file (same bytes but one) is refused, naming both hashes.
    let other = dir.join("other.gguf");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&other, bytes).unwrap();
    let base = SmolLm2::load_with_threads(&path, 2).unwrap();
    let err = match Grounded::load(base, &other, &file) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("loaded adapters onto another base model"),
    };
    assert!(err.contains("sha256"), "{err}");
    // Not a checkpoint at all.
    let base = SmolLm2::load_with_threads(&path, 2).unwrap();
    let err = match Grounded::load(base, &path, &other) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("loaded a model file as adapters"),
    };
    assert!(err.contains("not a grounded checkpoint"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
