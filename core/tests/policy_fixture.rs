//! A checkpoint trained natively (`tests/fixtures/doorkey5x5.ckpt`) plays the greedy action
//! sequences recorded in `tests/fixtures/doorkey5x5.greedy.txt`. web/tests/browser.rs checks the
//! same sequences in wasm: the same weights give the same actions on both.
//!
//! The fixture was made by
//! `gridmentor train --env MiniGrid-DoorKey-5x5-v0 --frames 150000 --seed 1 --device cpu --out R`
//! (R/latest.ckpt); after replacing it, rewrite the sequences with
//! `GRIDMENTOR_BLESS=1 cargo test -p gridmentor-core --features nn --test policy_fixture`.
#![cfg(feature = "nn")]

use burn::tensor::Device;
use gridmentor_core::agent::play_episode;
use gridmentor_core::nn::Checkpoint;
use gridmentor_core::nn::policy::PolicyAgent;
use gridmentor_core::registry;

const CKPT: &[u8] = include_bytes!("fixtures/doorkey5x5.ckpt");
const EXPECTED: &str = include_str!("fixtures/doorkey5x5.greedy.txt");
const ENV: &str = "MiniGrid-DoorKey-5x5-v0";

/// The greedy actions of the fixture on episode `seed`, to the episode's end.
fn greedy_actions(seed: u64) -> (Vec<usize>, bool) {
    let ck = Checkpoint::from_bytes(CKPT).expect("the fixture loads");
    ck.expect_env(ENV).unwrap();
    let model = ck.model(&Device::flex()).unwrap();
    let mut env = registry::make(ENV, seed).unwrap();
    let mut agent = PolicyAgent::new(model, seed, true).unwrap();
    let mut actions = Vec::new();
    let out = play_episode(&mut agent, &mut env, ENV, seed, |_, s, _| {
        actions.push(s.action as usize)
    })
    .unwrap();
    (actions, out.success)
}

fn expected() -> Vec<(u64, Vec<usize>)> {
    EXPECTED
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (seed, acts) = l.split_once(':').expect("seed: actions");
            let acts = acts
                .split_whitespace()
                .map(|a| a.parse().unwrap())
                .collect();
            (seed.trim().parse().unwrap(), acts)
        })
        .collect()
}

#[test]
fn the_fixture_plays_its_recorded_greedy_actions() {
    if std::env::var_os("GRIDMENTOR_BLESS").is_some() {
        let mut out = String::from("# seed: greedy actions of fixtures/doorkey5x5.ckpt\n");
        for seed in 0..8u64 {
            let (acts, _) = greedy_actions(seed);
            let acts: Vec<String> = acts.iter().map(|a| a.to_string()).collect();
            out += &format!("{seed}: {}\n", acts.join(" "));
        }
        std::fs::write("tests/fixtures/doorkey5x5.greedy.txt", out).unwrap();
        return; // EXPECTED was compiled in before this write; run again to check.
    }
    let cases = expected();
    assert_eq!(cases.len(), 8);
    let mut solved = 0;
    for (seed, want) in cases {
        let (got, success) = greedy_actions(seed);
        assert_eq!(got, want, "seed {seed}");
        solved += success as u32;
    }
    assert!(
        solved >= 7,
        "the fixture is a trained policy: {solved}/8 solved"
    );
}
