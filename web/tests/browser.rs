//! Runs in headless Chromium (`wasm-bindgen-test-runner`): the wasm build must produce exactly
//! the native streams and episodes, and the shell's logic (history, agents, share links, GIF)
//! must hold there.
#![cfg(target_arch = "wasm32")]

use burn::tensor::Device;
use gridmentor_core::digest::{pinned, rollout_digest};
use gridmentor_core::nn::{ActorCritic, Checkpoint, Metadata, NetSpec};
use gridmentor_core::rng::{Rng, SplitMix64, vectors};
use gridmentor_web::{
    Agent, AgentSpec, Session, episode_read, episode_record, sha256_hex, share_decode, share_encode,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const DOORKEY5: &str = "MiniGrid-DoorKey-5x5-v0";

fn checkpoint_bytes(env: &str) -> Vec<u8> {
    let spec = NetSpec::minigrid(7);
    let model = ActorCritic::new(spec, 3, &Device::flex()).unwrap();
    let meta = Metadata {
        spec,
        acts: gridmentor_core::nn::ActionSpace::Primitive,
        env: env.into(),
        algorithm: "ppo".into(),
        frames: 0,
        seed: 3,
        eval: None,
        curve: Vec::new(),
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
    let mut agent = Agent::checkpoint(&bytes, None).unwrap();
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
    let r2 = Agent::checkpoint(&bytes, None)
        .unwrap()
        .run_episode(DOORKEY5, 9)
        .unwrap();
    assert_eq!((r1.steps, r1.ret), (r2.steps, r2.ret));
}

#[wasm_bindgen_test]
fn bad_checkpoint_files_are_refused_with_the_reason() {
    let msg = |bytes: &[u8]| match Agent::checkpoint(bytes, None) {
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
    let mut agent = Agent::checkpoint(&bytes, None).unwrap();
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
    let agents = vec!["human".to_string(), format!("checkpoint:{id}:sampled:7")];
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
fn agent_specs_and_episode_records_are_cores() {
    let id = "cd".repeat(32);
    let spec = AgentSpec::checkpoint(&id, Some(u64::MAX)).unwrap();
    assert_eq!(spec.text(), format!("checkpoint:{id}:sampled:{}", u64::MAX));
    assert_eq!(spec.sample_seed(), Some(u64::MAX));
    assert_eq!(spec.greedy().text(), format!("checkpoint:{id}"));
    let parsed = AgentSpec::parse(&spec.text()).unwrap();
    assert_eq!(
        (parsed.kind(), parsed.checkpoint_id()),
        ("checkpoint".into(), Some(id.clone()))
    );
    assert!(AgentSpec::parse("checkpoint:ab").is_err());
    assert_eq!(
        AgentSpec::planner("llm4teach", "smollm2").unwrap().text(),
        "planner:llm4teach:smollm2"
    );
    assert!(AgentSpec::planner("chatty", "smollm2").is_err());

    let mut s = Session::new("SimpleDoorKey", 3).unwrap();
    for a in [2, 2, 1] {
        s.step(a).unwrap();
    }
    let arrays = || -> Vec<js_sys::Uint8Array> { vec![s.actions().as_slice().into()] };
    let transcript = r#"[{"agent":0,"step":1,"prompt":"p","answer":"a","latency_ms":2.5,"cached":true,"llm":true}]"#;
    let agents = vec!["planner:when2ask:smollm2".to_string()];
    let json = episode_record("simpledoorkey", 3, agents.clone(), arrays(), transcript).unwrap();
    assert!(
        json.contains(r#""seed":"3""#) && json.contains(r#""env":"SimpleDoorKey""#),
        "{json}"
    );
    assert!(
        !json.contains("llm\":true"),
        "fields the record does not have are not stored"
    );
    let ep = episode_read(&json).unwrap();
    assert_eq!(
        (ep.env(), ep.seed(), ep.agents()),
        ("SimpleDoorKey".into(), 3, agents.clone())
    );
    assert_eq!(ep.actions(0).unwrap(), s.actions());
    assert!(ep.transcript_json().contains(r#""answer":"a""#));
    // What the server would refuse is refused here, with the reason.
    assert!(episode_record("SimpleDoorKey", 3, agents.clone(), vec![], "[]").is_err());
    assert!(episode_record("SimpleDoorKey", 3, vec!["alien".into()], arrays(), "[]").is_err());
    assert!(episode_record("SimpleDoorKey", 3, agents, arrays(), "{").is_err());
    assert!(episode_read(r#"{"v": 2}"#).is_err());
}

#[wasm_bindgen_test]
fn a_sampled_checkpoint_replays_exactly_from_its_seed() {
    let bytes = checkpoint_bytes(DOORKEY5);
    let run = |seed: Option<u64>| {
        let mut a = Agent::checkpoint(&bytes, seed).unwrap();
        let mut s = Session::new(DOORKEY5, 5).unwrap();
        a.reset(&s).unwrap();
        for _ in 0..30 {
            if s.is_done() {
                break;
            }
            a.play(&mut s).unwrap();
        }
        (a.spec(), s.actions())
    };
    let (spec, sampled) = run(Some(11));
    assert!(spec.ends_with(":sampled:11"), "{spec}");
    assert_eq!(
        run(Some(11)).1,
        sampled,
        "the same seed samples the same actions"
    );
    let others: Vec<Vec<u8>> = (12..16).map(|k| run(Some(k)).1).collect();
    assert!(
        others.iter().any(|o| *o != sampled),
        "other seeds sample other actions"
    );
    assert!(!run(None).0.contains("sampled"));
}

#[wasm_bindgen_test]
fn the_board_frame_is_the_gifs_frame() {
    let mut s = Session::new(DOORKEY5, 4).unwrap();
    for a in [1, 2] {
        s.step(a).unwrap();
    }
    let frame = s.frame(12).unwrap();
    assert_eq!(frame.len(), (5 * 12) * (5 * 12) * 4);
    let mut env = gridmentor_core::registry::make(DOORKEY5, 4).unwrap();
    for a in [1, 2] {
        env.step(gridmentor_core::world::Action::from_index(a).unwrap());
    }
    let rgb = gridmentor_core::render::render_rgb(&env.world, 12, true);
    assert_eq!(frame, rgb.to_rgba(), "the view highlighted, as in the GIF");
    assert!(frame.chunks_exact(4).all(|p| p[3] == 255));
    assert!(s.frame(0).is_err() && s.frame(257).is_err());
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
    let ego = ObsKind::EgoMap {
        width: 10,
        height: 10,
    };
    let one_hot = ObsKind::EgoMapOneHot {
        width: 10,
        height: 10,
    };
    for net in NetKind::ALL {
        for obs in [ObsKind::View { size: 7 }, map, ego, one_hot] {
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
        let mut agent = PolicyAgent::new(model, seed, true).unwrap();
        let mut got = Vec::new();
        gridmentor_core::agent::play_episode(
            &mut agent,
            &mut env,
            "MiniGrid-DoorKey-5x5-v0",
            seed,
            |_, s, _| got.push(s.action as usize),
        )
        .unwrap();
        assert_eq!(got, want, "seed {seed}");
        cases += 1;
    }
    assert_eq!(cases, 8);
}

/// The shipped When2Ask mediator (agents/README.md says how it was trained).
const MEDIATOR: &[u8] = include_bytes!("../../agents/simpledoorkey-when2ask.ckpt");
const SIMPLE: &str = "SimpleDoorKey";

/// Plays `agent` to the end of `s`; the decisions made.
fn play_out(agent: &mut Agent, s: &mut Session) -> Vec<gridmentor_web::Decision> {
    let mut ds = Vec::new();
    while !s.is_done() {
        ds.push(agent.play(s).unwrap());
    }
    ds
}

/// Queries and success of the planner + skills agent asking at every step (When2Ask's
/// always-ask baseline, core's asking rule).
fn always_ask(seed: u64) -> (u32, bool) {
    use gridmentor_core::ask::AskingAgent;
    use gridmentor_core::planner::{ExpertPlanner, PromptStyle};
    let mut env = gridmentor_core::registry::make(SIMPLE, seed).unwrap();
    let mut a = AskingAgent::new(ExpertPlanner::new(), PromptStyle::When2Ask, false);
    a.start(&env, SIMPLE);
    let mut queries = 0;
    loop {
        let st = a.step(&mut env, true).unwrap();
        queries += st.queries;
        let t = st.transition;
        if t.terminated || t.truncated {
            return (queries, t.success());
        }
    }
}

#[wasm_bindgen_test]
fn the_shipped_mediator_asks_less_than_always_asking_and_succeeds() {
    let mut agent = Agent::checkpoint(MEDIATOR, None).unwrap();
    assert!(agent.is_mediator(), "{}", agent.label());
    assert_eq!(agent.trained_env(), SIMPLE);
    let (mut mediated, mut always) = (0, 0);
    for seed in 1000..1004 {
        let mut s = Session::new(SIMPLE, seed).unwrap();
        agent.reset(&s).unwrap();
        let ds = play_out(&mut agent, &mut s);
        assert!(s.success(), "the mediated agent failed seed {seed}");
        let queries: u32 = ds.iter().map(|d| d.queries).sum();
        assert_eq!(
            agent.planner_calls(),
            queries,
            "every ask is a call (no plan cache)"
        );
        assert!(ds[0].forced && ds[0].queries >= 1, "the first step asks");
        for (i, d) in ds.iter().enumerate() {
            assert!((0.0..=1.0).contains(&d.p_ask), "seed {seed} step {i}");
            // Greedy: a step without a forced query asks exactly when asking is the likelier
            // action.
            if !d.forced {
                assert_eq!(d.queries > 0, d.p_ask > 0.5, "seed {seed} step {i}: {d:?}");
            }
        }
        let (q, won) = always_ask(seed);
        assert!(won);
        mediated += queries;
        always += q;
    }
    assert!(
        mediated * 3 < always,
        "the mediator asked {mediated} times, always-ask {always}"
    );
}

#[wasm_bindgen_test]
fn a_mediator_refuses_an_env_of_another_size() {
    let mut agent = Agent::checkpoint(MEDIATOR, None).unwrap();
    let s = Session::new(DOORKEY5, 1).unwrap();
    let err = match agent.reset(&s) {
        Ok(()) => panic!("a 10x10 mediator accepted a 5x5 env"),
        Err(e) => String::from(js_sys::Error::from(wasm_bindgen::JsValue::from(e)).message()),
    };
    assert!(err.contains("10x10"), "{err}");
}

/// A skills-rl checkpoint plays its options (each action comes from a named skill), as core's
/// evaluation plays it; as a primitive-action policy it would not even load (7 != its options).
#[wasm_bindgen_test]
fn a_skills_rl_checkpoint_plays_its_options() {
    use gridmentor_core::agent::options;
    let env = gridmentor_core::registry::make(SIMPLE, 0).unwrap();
    let n = options::options(env.spec().unwrap()).len();
    let spec = options::net_spec(&env, n);
    let model = ActorCritic::new(spec, 4, &Device::flex()).unwrap();
    let meta = Metadata {
        spec,
        acts: gridmentor_core::nn::ActionSpace::Options,
        env: SIMPLE.into(),
        algorithm: "skills-rl".into(),
        frames: 0,
        seed: 4,
        eval: None,
        curve: Vec::new(),
    };
    let bytes = Checkpoint::from_model(&model, meta).unwrap().to_bytes();
    let mut agent = Agent::checkpoint(&bytes, None).unwrap();
    assert!(agent.label().contains("options"), "{}", agent.label());
    let mut s = Session::new(SIMPLE, 3).unwrap();
    agent.reset(&s).unwrap();
    let ds = play_out(&mut agent, &mut s);
    assert!(
        ds.iter().all(|d| !d.skill.is_empty()),
        "an action without a skill"
    );
    let e = agent.evaluate(SIMPLE, 3, 1).unwrap();
    assert_eq!(
        e.step_sum as u32,
        s.step_count(),
        "evaluate plays as step by step"
    );
}

/// Plays `make()`'s agent through `seed` once, then again with undo (and redo) in the middle,
/// rebuilding the agent each time: the continuation must be the original trajectory. The first
/// `human` actions are the keyboard's, which the agent watches.
fn undo_resumes_exactly(make: impl Fn() -> Agent, env: &str, seed: u64, human: &[u8]) -> bool {
    let start = |agent: &mut Agent| {
        let mut s = Session::new(env, seed).unwrap();
        agent.reset(&s).unwrap();
        for &a in human {
            s.step(a).unwrap();
            agent.observe(&s);
        }
        s
    };
    let mut agent = make();
    let mut s = start(&mut agent);
    play_out(&mut agent, &mut s);
    let original = s.actions();
    assert!(
        original.len() > human.len() + 6,
        "a longer episode is needed"
    );

    let mut agent = make();
    let mut s = start(&mut agent);
    let mid = (human.len() + original.len()) / 2;
    while s.actions().len() < mid {
        agent.play(&mut s).unwrap();
    }
    for _ in 0..4 {
        assert!(s.undo());
    }
    assert!(agent.rebuild(&s, false).unwrap());
    assert!(s.redo());
    assert!(agent.rebuild(&s, false).unwrap());
    play_out(&mut agent, &mut s);
    s.actions() == original
}

#[wasm_bindgen_test]
fn undo_then_play_continues_exactly_as_before() {
    let ck = include_bytes!("../../core/tests/fixtures/doorkey5x5.ckpt");
    for seed in [3, 8] {
        assert!(
            undo_resumes_exactly(|| Agent::expert("when2ask").unwrap(), SIMPLE, seed, &[1]),
            "expert, seed {seed}"
        );
        assert!(
            undo_resumes_exactly(
                || Agent::checkpoint(MEDIATOR, None).unwrap(),
                SIMPLE,
                seed,
                &[]
            ),
            "mediator, seed {seed}"
        );
        assert!(
            undo_resumes_exactly(|| Agent::random(seed), DOORKEY5, seed, &[2]),
            "random, seed {seed}"
        );
        assert!(
            undo_resumes_exactly(|| Agent::checkpoint(ck, None).unwrap(), DOORKEY5, seed, &[]),
            "checkpoint, seed {seed}"
        );
    }
}

/// Without the rebuild (the agent reset to what it sees after undo) the continuation differs:
/// the test above would catch an agent that forgets.
#[wasm_bindgen_test]
fn forgetting_on_undo_changes_the_continuation() {
    let diverged = (0..8u64).filter(|&seed| {
        let mut agent = Agent::expert("when2ask").unwrap();
        let mut s = Session::new(SIMPLE, seed).unwrap();
        agent.reset(&s).unwrap();
        play_out(&mut agent, &mut s);
        let original = s.actions();
        let mid = original.len() / 2;
        let mut agent = Agent::expert("when2ask").unwrap();
        let mut s = Session::from_actions(SIMPLE, seed, &original[..mid + 1]).unwrap();
        assert!(s.undo());
        agent.reset(&s).unwrap();
        play_out(&mut agent, &mut s);
        s.actions() != original
    });
    assert!(diverged.count() >= 1);
}

#[wasm_bindgen_test]
fn rebuilding_replays_a_shared_episode_as_the_agents_own() {
    // A shared episode of the expert: taking it over mid-way as "chosen by the agent" gives the
    // same continuation as the expert that played it.
    let mut agent = Agent::expert("when2ask").unwrap();
    let mut s = Session::new(SIMPLE, 5).unwrap();
    agent.reset(&s).unwrap();
    play_out(&mut agent, &mut s);
    let original = s.actions();
    let mid = original.len() / 2;
    let mut fresh = Agent::expert("when2ask").unwrap();
    let mut shared = Session::from_actions(SIMPLE, 5, &original[..mid]).unwrap();
    assert!(fresh.rebuild(&shared, true).unwrap());
    assert!(fresh.planner_calls() > 0, "the replayed asks count");
    play_out(&mut fresh, &mut shared);
    assert_eq!(shared.actions(), original);
}

/// The prompt a decision hands out, as core's type.
fn prompt_of(d: &gridmentor_web::Decision) -> gridmentor_core::planner::Prompt {
    use gridmentor_core::planner::{Message, Prompt, PromptStyle, Role};
    let role = |r: &str| match r {
        "system" => Role::System,
        "assistant" => Role::Assistant,
        _ => Role::User,
    };
    let messages: Vec<Message> = d
        .prompt_roles
        .iter()
        .zip(&d.prompt_contents)
        .map(|(r, c)| Message {
            role: role(r),
            content: c.clone(),
        })
        .collect();
    let style = if messages.iter().any(|m| m.content.contains("Agent sees")) {
        PromptStyle::Llm4Teach
    } else {
        PromptStyle::When2Ask
    };
    Prompt { style, messages }
}

/// What the page's fake server answers: the scripted expert's plan, as text or as scores
/// that like it; `babble` calls in a row (from the first) answer nonsense.
struct FakeServer {
    calls: u32,
    babble: u32,
}

/// One call the page made: the answer (or the most liked candidate) and, when scored, the
/// candidates with their scores.
#[derive(Clone, Debug, PartialEq)]
struct Call {
    step: u32,
    answer: String,
    scores: Vec<(String, f64, u32)>,
}

impl FakeServer {
    /// The page's loop for one move of an LLM agent: fetch what it awaits, supply it, decide
    /// again. Returns the calls made.
    fn play(&mut self, agent: &mut Agent, s: &mut Session) -> Vec<Call> {
        use gridmentor_core::planner::{ExpertPlanner, Planner, answer_text, parse_plan};
        let step = s.actions().len() as u32;
        let mut calls = Vec::new();
        loop {
            let d = agent.play(s).unwrap();
            if !d.needs_answer {
                return calls;
            }
            assert!(calls.len() < 20, "the agent keeps asking");
            self.calls += 1;
            let prompt = prompt_of(&d);
            let c = ExpertPlanner::new().complete(&prompt, 1).unwrap();
            let babble = self.calls <= self.babble;
            if d.candidates.is_empty() {
                let answer = if babble {
                    "questioning the rogue agent".to_string()
                } else {
                    c.answers[0].clone()
                };
                agent
                    .supply_answer(answer.clone(), 1.0, false, 10, 5)
                    .unwrap();
                calls.push(Call {
                    step,
                    answer,
                    scores: Vec::new(),
                });
            } else {
                let plan = parse_plan(&c.answers[0]).unwrap();
                let right = answer_text(prompt.style, &plan);
                let scores: Vec<(String, f64, u32)> = d
                    .candidates
                    .iter()
                    .map(|k| (k.clone(), if *k == right { -2.0 } else { -9.0 }, 4))
                    .collect();
                let (lp, tk): (Vec<f64>, Vec<u32>) = scores.iter().map(|s| (s.1, s.2)).unzip();
                agent.supply_scores(lp, tk, 1.0, 10).unwrap();
                calls.push(Call {
                    step,
                    answer: right,
                    scores,
                });
            }
        }
    }
}

/// An LLM agent generating or scoring through the page plays SimpleDoorKey; after undo it is
/// rebuilt from the replies it kept (nothing fetched again), and a shared episode's transcript
/// lets a fresh agent take over exactly.
fn an_llm_agent_is_rebuilt_from_the_replies_it_kept(scores: bool) {
    let make = || Agent::llm("scripted", "when2ask", scores, None, None).unwrap();
    let mut server = FakeServer {
        calls: 0,
        babble: 0,
    };
    let mut a = make();
    let mut s = Session::new(SIMPLE, 7).unwrap();
    a.reset(&s).unwrap();
    let mut calls_at = vec![0];
    let mut transcript = Vec::new();
    while !s.is_done() {
        transcript.extend(server.play(&mut a, &mut s));
        calls_at.push(a.planner_calls());
    }
    assert!(s.success());
    assert_eq!(
        transcript.len() as u32,
        a.planner_calls(),
        "one call per reply"
    );
    assert_eq!(
        transcript.iter().all(|c| !c.scores.is_empty()),
        scores,
        "{transcript:?}"
    );
    let original = s.actions();

    let mut a = make();
    let mut s = Session::new(SIMPLE, 7).unwrap();
    a.reset(&s).unwrap();
    let mid = original.len() * 2 / 3;
    while s.actions().len() < mid {
        server.play(&mut a, &mut s);
    }
    for _ in 0..5 {
        s.undo();
    }
    // Rebuilt from the kept replies: nothing to fetch, and the calls are those made so far.
    assert!(a.rebuild(&s, false).unwrap());
    assert_eq!(a.planner_calls(), calls_at[mid - 5]);
    s.redo();
    assert!(a.rebuild(&s, false).unwrap());
    assert_eq!(a.planner_calls(), calls_at[mid - 4]);
    while !s.is_done() {
        server.play(&mut a, &mut s);
    }
    assert_eq!(s.actions(), original);

    // A shared episode without its replies: the agent says it starts from what it sees.
    let mut fresh = make();
    let mut shared = Session::from_actions(SIMPLE, 7, &original[..mid]).unwrap();
    assert!(!fresh.rebuild(&shared, true).unwrap());
    // With the replies of its stored transcript it takes over exactly.
    let mut fresh = make();
    for c in transcript.iter().filter(|t| (t.step as usize) < mid) {
        if c.scores.is_empty() {
            fresh
                .keep_answer(c.step, c.answer.clone(), 1.0, false)
                .unwrap();
        } else {
            let (k, (lp, tk)): (Vec<String>, (Vec<f64>, Vec<u32>)) =
                c.scores.iter().map(|s| (s.0.clone(), (s.1, s.2))).unzip();
            fresh.keep_scores(c.step, k, lp, tk, 1.0).unwrap();
        }
    }
    assert!(fresh.rebuild(&shared, true).unwrap());
    assert_eq!(fresh.planner_calls(), calls_at[mid]);
    while !shared.is_done() {
        server.play(&mut fresh, &mut shared);
    }
    assert_eq!(shared.actions(), original);
}

#[wasm_bindgen_test]
fn a_generating_llm_agent_is_rebuilt_from_the_answers_it_kept() {
    an_llm_agent_is_rebuilt_from_the_replies_it_kept(false);
}

#[wasm_bindgen_test]
fn a_scoring_llm_agent_is_rebuilt_from_the_scores_it_kept() {
    an_llm_agent_is_rebuilt_from_the_replies_it_kept(true);
}

/// Unusable answers are counted calls, retried a bounded number of times; then the agent
/// explores on its own (core's fallback) instead of failing, and after undo it is rebuilt
/// from the same replies, the rejected ones included.
#[wasm_bindgen_test]
fn unusable_answers_are_retried_then_the_agent_falls_back() {
    let mut server = FakeServer {
        calls: 0,
        babble: 3,
    };
    let mut a = Agent::llm("scripted", "llm4teach", false, None, None).unwrap();
    let mut s = Session::new(SIMPLE, 3).unwrap();
    a.reset(&s).unwrap();
    let first = server.play(&mut a, &mut s);
    assert_eq!(first.len(), 3, "one ask and its two retries: {first:?}");
    assert!(
        first
            .iter()
            .all(|c| gridmentor_web::plan_of(&c.answer).is_err())
    );
    assert_eq!(s.actions().len(), 1, "the agent moved on its own");
    assert_eq!(a.planner_calls(), 3);
    // It explores a while before it asks again, then plays with the usable answers.
    let mut later = Vec::new();
    while !s.is_done() {
        later.extend(server.play(&mut a, &mut s));
    }
    assert!(later.first().is_some_and(|c| c.step >= 8), "{later:?}");
    assert!(s.success(), "{later:?}");
    let calls = a.planner_calls();
    let all = s.actions();
    s.undo();
    assert!(a.rebuild(&s, false).unwrap());
    server.play(&mut a, &mut s);
    assert_eq!(s.actions(), all);
    assert_eq!(a.planner_calls(), calls);
    // A reply of the wrong kind is refused with the reason, not taken.
    let mut a = Agent::llm("scripted", "when2ask", true, None, None).unwrap();
    let s = Session::new(SIMPLE, 3).unwrap();
    a.reset(&s).unwrap();
    let d = a.decide(&s).unwrap();
    assert!(d.needs_answer && !d.candidates.is_empty());
    assert!(
        a.supply_answer("action: {explore}.".into(), 1.0, false, 0, 0)
            .is_err()
    );
    let n = d.candidates.len() + 1;
    assert!(
        a.supply_scores(vec![-1.0; n], vec![1; n], 1.0, 0).is_err(),
        "more scores than candidates"
    );
    let n = n - 1;
    assert!(
        a.supply_scores(vec![f64::NAN; n], vec![1; n], 1.0, 0)
            .is_err()
    );
    a.supply_scores(vec![-1.0; n], vec![1; n], 1.0, 0).unwrap();
    assert!(
        !a.decide(&s).unwrap().needs_answer,
        "scored: the agent acts"
    );
}

/// The page's waits on a refused call are core's retry policy: the server's `retry-after-ms`
/// first, then `Retry-After`, capped, bounded; errors that will not pass are not retried.
#[wasm_bindgen_test]
fn rate_limited_calls_wait_as_the_server_asks() {
    use gridmentor_web::retry_wait_ms;
    assert_eq!(
        retry_wait_ms(429, 0, Some("1500".into()), Some("9".into())),
        Some(1500.0)
    );
    assert_eq!(retry_wait_ms(429, 0, None, Some("2".into())), Some(2000.0));
    assert_eq!(
        retry_wait_ms(429, 0, None, Some("7200".into())),
        Some(60000.0)
    );
    assert_eq!(
        retry_wait_ms(503, 1, None, None),
        Some(2000.0),
        "backoff doubles"
    );
    assert_eq!(
        retry_wait_ms(429, 5, None, Some("1".into())),
        None,
        "retries spent"
    );
    assert_eq!(retry_wait_ms(400, 0, None, Some("1".into())), None);
}

/// Scores a fake server gives the LLM policy: a fixed function of the prompt and the candidate,
/// so that the policy differs from step to step and a replay can check it got the same.
fn fake_policy_scores(prompt: &str, candidates: &[String]) -> Vec<f64> {
    candidates
        .iter()
        .map(|c| {
            let fnv = |b: &[u8]| {
                b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
                    (h ^ x as u64).wrapping_mul(0x0100_0000_01b3)
                })
            };
            let mut h = SplitMix64(fnv(prompt.as_bytes()) ^ fnv(c.as_bytes()));
            let k = h.next_u64();
            -((k % 4000) as f64) / 1000.0 - 0.5
        })
        .collect()
}

/// One move of an LLM policy through the page's loop: at most one `/v1/score` call of the six
/// action texts. Returns the decision and the call's scores.
fn policy_move(a: &mut Agent, s: &mut Session) -> (gridmentor_web::Decision, Vec<f64>) {
    let d = a.play(s).unwrap();
    assert!(d.needs_answer, "every step asks the model");
    assert_eq!(d.candidates, gridmentor_web::glam_action_texts());
    let text: String = d.prompt_contents.concat();
    let lp = fake_policy_scores(&text, &d.candidates);
    a.supply_scores(lp.clone(), vec![2; 6], 1.0, 50).unwrap();
    let done = a.play(s).unwrap();
    assert!(!done.needs_answer, "one call a step");
    (done, lp)
}

/// GLAM's LLM policy on the page: its probabilities are softmax(score / T) over the six action
/// texts (the page's transcript computes the same from the spec), greedy takes the most likely,
/// a sampled one replays exactly from its seed and the scores it kept, and a MiniGrid task is
/// refused with the reason.
#[wasm_bindgen_test]
fn an_llm_policy_acts_by_the_action_texts_scores_and_replays_from_them() {
    const GOTO: &str = "BabyAI-GoToObj-v0";
    let make = || Agent::llm_policy("grounded:v1", 2.0, Some(5)).unwrap();
    let mut a = make();
    assert_eq!(a.spec(), "llm-policy:2:5:grounded:v1");
    assert_eq!(a.action_texts().len(), 6);
    let mut s = Session::new(GOTO, 11).unwrap();
    a.reset(&s).unwrap();
    let mut kept = Vec::new();
    while !s.is_done() {
        let step = s.actions().len() as u32;
        let (d, lp) = policy_move(&mut a, &mut s);
        let z: f64 = lp.iter().map(|l| (l / 2.0).exp()).sum();
        for (k, l) in lp.iter().enumerate() {
            assert!((d.probs[k] as f64 - (l / 2.0).exp() / z).abs() < 1e-5);
        }
        assert_eq!(d.probs[6], 0.0, "done is not one of GLAM's actions");
        let page = gridmentor_web::candidate_probs(&a.spec(), lp.clone(), vec![2; 6]).unwrap();
        assert_eq!(page, d.probs[..6].to_vec());
        kept.push((step, lp));
    }
    let original = s.actions();
    assert_eq!(a.planner_calls() as usize, original.len());
    assert!(original.iter().any(|&x| x != original[0]), "it samples");

    // Greedy takes the most likely action of the same scores.
    let mut g = Agent::llm_policy("grounded:v1", 2.0, None).unwrap();
    let mut s2 = Session::new(GOTO, 11).unwrap();
    g.reset(&s2).unwrap();
    for _ in 0..5 {
        let (d, lp) = policy_move(&mut g, &mut s2);
        let best = (0..6).max_by(|&i, &j| lp[i].total_cmp(&lp[j])).unwrap();
        assert_eq!(d.action as usize, best);
    }

    // After undo it is rebuilt from what it kept; a fresh one takes over a shared episode
    // from the transcript's scores and plays on exactly.
    for _ in 0..3 {
        s.undo();
    }
    assert!(a.rebuild(&s, false).unwrap());
    while !s.is_done() {
        policy_move(&mut a, &mut s);
    }
    assert_eq!(s.actions(), original, "the same scores, the same samples");
    let mid = original.len() / 2;
    let mut shared = Session::from_actions(GOTO, 11, &original[..mid]).unwrap();
    let mut fresh = make();
    let texts = gridmentor_web::glam_action_texts();
    for (step, lp) in kept.iter().filter(|(st, _)| (*st as usize) < mid) {
        fresh
            .keep_scores(*step, texts.clone(), lp.clone(), vec![2; 6], 1.0)
            .unwrap();
    }
    assert!(fresh.rebuild(&shared, true).unwrap());
    while !shared.is_done() {
        policy_move(&mut fresh, &mut shared);
    }
    assert_eq!(shared.actions(), original);

    let mut m = make();
    let e = m
        .reset(&Session::new(SIMPLE, 1).unwrap())
        .map(|_| ())
        .unwrap_err();
    let e = format!("{:?}", wasm_bindgen::JsValue::from(e));
    assert!(e.contains("BabyAI-Text"), "{e}");
    assert!(Agent::llm_policy("m", 0.0, None).is_err());
    assert!(Agent::llm_policy("m", f64::NAN, None).is_err());
}

/// The page bounds an LLM planner's asking per episode: a model that only babbles gets the
/// calls the limit allows (the last ask's retries cut to fit), then the agent explores on its
/// own to the episode's end; the next episode may ask again.
#[wasm_bindgen_test]
fn an_llm_planner_stops_asking_at_its_limit_and_says_so() {
    let mut server = FakeServer {
        calls: 0,
        babble: u32::MAX,
    };
    let mut a = Agent::llm("scripted", "llm4teach", false, Some(5), None).unwrap();
    assert!(a.label().contains("at most 5 calls"), "{}", a.label());
    let mut s = Session::new(SIMPLE, 3).unwrap();
    a.reset(&s).unwrap();
    let mut made = 0;
    while !s.is_done() {
        made += server.play(&mut a, &mut s).len();
    }
    assert_eq!(made, 5);
    assert_eq!(a.planner_calls(), 5);
    assert!(a.over_limit(), "the limit was reached and refused an ask");
    s.reset(4);
    a.reset(&s).unwrap();
    assert!(!a.over_limit());
    assert_eq!(
        server.play(&mut a, &mut s).len(),
        3,
        "a fresh episode asks again"
    );
    assert!(Agent::llm("m", "when2ask", true, Some(0), None).is_err());
}
