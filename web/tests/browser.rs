//! Runs in headless Chromium (`wasm-bindgen-test-runner`): the wasm build must produce exactly
//! the native streams and episodes, and the shell's logic (history, agents, share links, GIF)
//! must hold there.
#![cfg(target_arch = "wasm32")]

use burn::tensor::Device;
use gridmentor_core::digest::{pinned, rollout_digest};
use gridmentor_core::nn::{ActorCritic, Checkpoint, Metadata, NetSpec};
use gridmentor_core::rng::{Rng, SplitMix64, vectors};
use gridmentor_web::{Agent, Session, sha256_hex, share_decode, share_encode};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DOORKEY5: &str = "MiniGrid-DoorKey-5x5-v0";

fn checkpoint_bytes(env: &str) -> Vec<u8> {
    let spec = NetSpec::minigrid(7);
    let model = ActorCritic::new(spec, 3, &Device::flex()).unwrap();
    let meta = Metadata {
        spec,
        env: env.into(),
        algorithm: "ppo".into(),
        frames: 0,
        seed: 3,
        eval: None,
    };
    Checkpoint::from_model(&model, meta).unwrap().to_bytes()
}

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
fn session_plays_and_rejects_bad_input() {
    assert!(Session::new("NoSuchEnv", 1).is_err());
    let mut p = Session::new(DOORKEY5, u64::MAX).unwrap();
    assert_eq!(p.seed(), u64::MAX);
    assert_eq!(p.width(), 5);
    assert_eq!(p.grid().len(), 5 * 5 * 3);
    assert_eq!(p.image().len(), 7 * 7 * 3);
    assert_eq!(p.memory_map().len(), 5 * 5 * 4);
    let before = p.step_count();
    p.step(0).unwrap();
    assert_eq!(p.step_count(), before + 1);
    assert!(p.step(7).is_err());
    assert_eq!(p.step_count(), before + 1, "a bad action must not count");
}

#[wasm_bindgen_test]
fn undo_and_redo_restore_the_exact_episode() {
    let mut s = Session::new(DOORKEY5, 5).unwrap();
    let start = s.digest();
    for a in [1, 2, 2, 0] {
        s.step(a).unwrap();
    }
    let after4 = s.digest();
    let seen4 = s.seen();
    assert!(s.undo());
    assert_eq!(s.step_count(), 3);
    assert!(s.can_redo());
    assert!(s.redo());
    assert_eq!(s.digest(), after4);
    assert_eq!(s.seen(), seen4, "the memory map comes back too");
    while s.undo() {}
    assert_eq!(s.digest(), start);
    let mut redone = 0;
    while s.redo() {
        redone += 1;
    }
    assert_eq!(redone, 4);
    assert_eq!(s.digest(), after4);
    // A new step drops what could be redone.
    s.step(2).unwrap();
    assert!(!s.can_redo());
}

#[wasm_bindgen_test]
fn episode_end_is_final_and_reported() {
    let mut s = Session::new(DOORKEY5, 1).unwrap();
    while !s.is_done() {
        s.step(0).unwrap();
    }
    assert_eq!(s.status(), "out of time");
    assert_eq!(s.step_count(), s.max_steps());
    assert!(s.step(0).is_err(), "no steps after the end");
    // Replaying more actions than the episode holds says where it ended.
    let mut too_many = s.actions();
    too_many.push(0);
    assert!(Session::from_actions(DOORKEY5, 1, &too_many).is_err());
}

#[wasm_bindgen_test]
fn the_expert_solves_doorkey_and_shows_its_plan() {
    let mut agent = Agent::expert("when2ask").unwrap();
    assert!(agent.label().contains("not an LLM"));
    let r = agent.run_episode(DOORKEY5, 11).unwrap();
    assert!(r.success, "expert failed DoorKey-5x5 seed 11");
    assert!(r.planner_calls >= 1);
    let mut s = Session::new(DOORKEY5, 11).unwrap();
    agent.reset(&s).unwrap();
    let d = agent.play(&mut s).unwrap();
    assert_eq!(d.probs.iter().sum::<f32>(), 1.0);
    assert!(!d.skill.is_empty());
    assert!(Agent::expert("chatty").is_err());
}

#[wasm_bindgen_test]
fn checkpoint_agent_gives_probabilities_and_value() {
    let bytes = checkpoint_bytes(DOORKEY5);
    let id = sha256_hex(&bytes);
    assert_eq!(id.len(), 64);
    let mut agent = Agent::checkpoint(&bytes, &id).unwrap();
    assert_eq!(agent.trained_env(), DOORKEY5);
    let mut s = Session::new(DOORKEY5, 2).unwrap();
    agent.reset(&s).unwrap();
    let d = agent.play(&mut s).unwrap();
    assert_eq!(d.probs.len(), 7);
    assert!((d.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    assert!(d.value.is_finite());
    let greedy = d
        .probs
        .iter()
        .enumerate()
        .fold((0, -1.0), |b, (i, &p)| if p > b.1 { (i, p) } else { b })
        .0;
    assert_eq!(d.action as usize, greedy);
    // The same checkpoint decides the same way every time.
    let r1 = agent.run_episode(DOORKEY5, 9).unwrap();
    let r2 = Agent::checkpoint(&bytes, &id)
        .unwrap()
        .run_episode(DOORKEY5, 9)
        .unwrap();
    assert_eq!((r1.steps, r1.ret), (r2.steps, r2.ret));
}

#[wasm_bindgen_test]
fn bad_checkpoint_files_are_refused_with_the_reason() {
    let msg = |bytes: &[u8]| match Agent::checkpoint(bytes, "x") {
        Ok(_) => panic!("accepted a bad file"),
        Err(e) => String::from(js_sys::Error::from(wasm_bindgen::JsValue::from(e)).message()),
    };
    assert!(
        msg(b"hello").contains("not a gridmentor checkpoint"),
        "{}",
        msg(b"hello")
    );
    let mut bytes = checkpoint_bytes(DOORKEY5);
    bytes.truncate(bytes.len() - 10);
    assert!(msg(&bytes).contains("truncated"), "{}", msg(&bytes));
    // A checkpoint for the 7x7 view does not fit an env with a 3x3 view.
    let bytes = checkpoint_bytes(DOORKEY5);
    let mut agent = Agent::checkpoint(&bytes, "x").unwrap();
    let s = Session::new("SimpleDoorKey", 1).unwrap();
    assert!(agent.reset(&s).is_err());
}

#[wasm_bindgen_test]
fn share_links_round_trip_through_the_shell() {
    let mut s = Session::new(DOORKEY5, u64::MAX).unwrap();
    for a in [0, 2, 2, 1, 5] {
        s.step(a).unwrap();
    }
    let id = "ab".repeat(32);
    let agents = vec!["human".to_string(), format!("checkpoint:{id}")];
    let acts = [s.actions(), vec![2, 2, 6]];
    let arrays: Vec<js_sys::Uint8Array> = acts.iter().map(|a| a.as_slice().into()).collect();
    let code = share_encode(DOORKEY5, u64::MAX, agents.clone(), arrays).unwrap();
    let link = share_decode(&code).unwrap();
    assert_eq!(link.env(), DOORKEY5);
    assert_eq!(link.seed(), u64::MAX);
    assert_eq!(link.agents(), agents);
    let replay =
        Session::from_actions(&link.env(), link.seed(), &link.actions(0).unwrap()).unwrap();
    assert_eq!(replay.digest(), s.digest());
    assert!(share_decode("not!base64").is_err());
    assert!(share_decode(&code[..code.len() - 4]).is_err());
    assert!(
        share_encode(
            DOORKEY5,
            1,
            vec!["alien".into()],
            vec![js_sys::Uint8Array::new_with_length(0)]
        )
        .is_err()
    );
}

#[wasm_bindgen_test]
fn gif_export_is_an_animated_gif() {
    let mut s = Session::new(DOORKEY5, 4).unwrap();
    for a in [1, 2, 0] {
        s.step(a).unwrap();
    }
    let gif = s.export_gif(8, 20).unwrap();
    assert_eq!(&gif[..6], b"GIF89a");
    assert_eq!(
        u16::from_le_bytes([gif[6], gif[7]]),
        40,
        "5 cells of 8 pixels"
    );
    assert_eq!(*gif.last().unwrap(), 0x3b, "trailer");
    assert!(s.export_gif(1, 20).is_err());
}

#[wasm_bindgen_test]
fn random_agent_is_reproducible() {
    let a = Agent::random(5).run_episode(DOORKEY5, 3).unwrap();
    let b = Agent::random(5).run_episode(DOORKEY5, 3).unwrap();
    assert_eq!((a.steps, a.ret), (b.steps, b.ret));
}

/// core's plain-loop forward pass (hand-written SIMD in wasm) gives burn's outputs here too.
#[wasm_bindgen_test]
fn inference_matches_the_burn_forward_in_wasm() {
    use gridmentor_core::nn::{Inference, NetKind, ObsKind};
    let device = Device::flex();
    let mut rng = Rng::new(4);
    let map = ObsKind::MemoryMap {
        width: 10,
        height: 10,
    };
    for net in NetKind::ALL {
        for obs in [ObsKind::View { size: 7 }, map] {
            let spec = NetSpec {
                net,
                obs,
                actions: 7,
            };
            let model = ActorCritic::new(spec, 8, &device).unwrap();
            let batch = 2;
            let input: Vec<f32> = (0..batch * obs.len())
                .map(|_| rng.below(3) as f32 * rng.below(11) as f32)
                .collect();
            let want = model.forward(model.input(input.clone(), batch, &device));
            let want_logits = want.logits.into_data().try_into_vec::<f32>().unwrap();
            let want_values = want.value.into_data().try_into_vec::<f32>().unwrap();
            let (mut logits, mut values) = (vec![0.0; batch * 7], vec![0.0; batch]);
            Inference::new(&model)
                .unwrap()
                .forward(&input, batch, &mut logits, &mut values);
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
        }
    }
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
