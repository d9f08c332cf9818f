//! Runs in headless Chromium (`wasm-bindgen-test-runner`): the wasm build must produce exactly
//! the native streams and episodes.
#![cfg(target_arch = "wasm32")]

use gridmentor_core::digest::{pinned, rollout_digest};
use gridmentor_core::rng::{Rng, SplitMix64, vectors};
use gridmentor_web::Playground;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn rng_streams_match_the_reference_vectors() {
    let mut sm = SplitMix64(0);
    for want in vectors::SPLITMIX64_SEED0 {
        assert_eq!(sm.next_u64(), want);
    }
    let mut r = Rng::new(42);
    for want in vectors::RNG_SEED42 {
        assert_eq!(r.next_u64(), want);
    }
}

#[wasm_bindgen_test]
fn doorkey_rollout_matches_native() {
    let d = rollout_digest("MiniGrid-DoorKey-8x8-v0", 7, 1, 2000).unwrap();
    assert_eq!(d, pinned::DOORKEY8_SEED7);
}

#[wasm_bindgen_test]
fn playground_plays_and_rejects_bad_input() {
    assert!(Playground::new("NoSuchEnv", 1).is_err());
    let mut p = Playground::new("MiniGrid-DoorKey-5x5-v0", u64::MAX).unwrap();
    assert_eq!(p.width(), 5);
    assert_eq!(p.grid().len(), 5 * 5 * 3);
    assert_eq!(p.image().len(), 7 * 7 * 3);
    let before = p.step_count();
    p.step(0).unwrap();
    assert_eq!(p.step_count(), before + 1);
    assert!(p.step(7).is_err());
    assert_eq!(
        p.step_count(),
        before + 1,
        "a bad action must not count as a step"
    );
}

/// The natively trained fixture checkpoint plays, in wasm, the greedy actions recorded natively
/// (core/tests/policy_fixture.rs checks the same file natively).
#[wasm_bindgen_test]
fn native_checkpoint_gives_the_same_greedy_actions() {
    use gridmentor_core::nn::Checkpoint;
    use gridmentor_core::nn::policy::PolicyAgent;
    const CKPT: &[u8] = include_bytes!("../../core/tests/fixtures/doorkey5x5.ckpt");
    const EXPECTED: &str = include_str!("../../core/tests/fixtures/doorkey5x5.greedy.txt");
    let ck = Checkpoint::from_bytes(CKPT).expect("the fixture loads in wasm");
    let mut cases = 0;
    for line in EXPECTED
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (seed, want) = line.split_once(':').unwrap();
        let seed: u64 = seed.trim().parse().unwrap();
        let want: Vec<usize> = want
            .split_whitespace()
            .map(|a| a.parse().unwrap())
            .collect();
        let model = ck.model(&burn::tensor::Device::flex()).unwrap();
        let mut env = gridmentor_core::registry::make("MiniGrid-DoorKey-5x5-v0", seed).unwrap();
        let mut agent = PolicyAgent::new(model, &env, seed, true).unwrap();
        let mut got = Vec::new();
        loop {
            let (d, t) = agent.step(&mut env);
            got.push(d.action);
            if t.terminated || t.truncated {
                break;
            }
        }
        assert_eq!(got, want, "seed {seed}");
        cases += 1;
    }
    assert_eq!(cases, 8);
}
