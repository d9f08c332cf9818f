//! Behaviour of the embedded SmolLM2 against the real model file. Without the file the tests
//! print a skip line, unless `CI` is set: then a missing model is a failure.

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use gridmentor_llm::{FinishReason, GenParams, LlmError, Message, SmolLm2};

/// One model for the whole binary, behind a mutex as in the server.
fn model() -> Option<MutexGuard<'static, SmolLm2>> {
    static MODEL: OnceLock<Option<Mutex<SmolLm2>>> = OnceLock::new();
    let m = MODEL.get_or_init(|| {
        let path = SmolLm2::default_path();
        if !path.is_file() {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "CI is set but the model {} is missing: run scripts/fetch-model.sh",
                    path.display()
                );
            }
            return None;
        }
        let t = Instant::now();
        let m = SmolLm2::load(&path).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("loaded {} in {:.2?}", path.display(), t.elapsed());
        Some(Mutex::new(m))
    });
    match m {
        Some(m) => Some(m.lock().unwrap_or_else(|e| e.into_inner())),
        None => {
            eprintln!(
                "SKIP: model {} missing (run scripts/fetch-model.sh)",
                SmolLm2::default_path().display()
            );
            None
        }
    }
}

fn user(text: &str) -> Vec<Message> {
    vec![Message::new("user", text)]
}

fn greedy(max_tokens: usize) -> GenParams {
    GenParams {
        max_tokens,
        ..GenParams::default()
    }
}

/// Runs `chat` and checks that the streamed pieces add up to the returned text.
fn chat(m: &mut SmolLm2, messages: &[Message], params: &GenParams) -> gridmentor_llm::Generation {
    let mut streamed = String::new();
    let g = m
        .chat(messages, params, &mut |piece| streamed.push_str(piece))
        .unwrap();
    assert_eq!(streamed, g.text, "streamed pieces differ from the text");
    g
}

#[test]
fn greedy_generation_is_deterministic_and_ends_at_im_end() {
    let Some(mut m) = model() else { return };
    let q = user("What is the capital of France? Answer in one word.");
    let t = Instant::now();
    let a = chat(&mut m, &q, &greedy(64));
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "greedy: {:?} ({} prompt + {} completion tokens, {:.1} tok/s incl. prompt)",
        a.text,
        a.prompt_tokens,
        a.completion_tokens,
        a.completion_tokens as f64 / secs
    );
    let b = chat(&mut m, &q, &greedy(64));
    assert_eq!(a, b);
    assert_eq!(a.finish_reason, FinishReason::Stop);
    assert!(a.completion_tokens < 64, "{a:?}");
    assert!(a.text.contains("Paris"), "{a:?}");
    assert!(!a.text.contains("<|im_end|>") && !a.text.contains("<|im_start|>"));
    assert_eq!(a.prompt_tokens, m.prompt_tokens(&q).unwrap().len());
}

#[test]
fn max_tokens_is_honoured_with_finish_reason_length() {
    let Some(mut m) = model() else { return };
    let q = user("Write a long story about a dragon who learns to bake bread.");
    let t = Instant::now();
    let mut first = None;
    let mut pieces = 0;
    let g = m
        .chat(&q, &greedy(40), &mut |_| {
            first.get_or_insert_with(|| t.elapsed());
            pieces += 1;
        })
        .unwrap();
    let total = t.elapsed();
    let first = first.expect("nothing streamed");
    eprintln!(
        "generation: prompt of {} tokens + first token in {first:.2?}, then {:.1} tok/s ({} tokens in {:.2?})",
        g.prompt_tokens,
        (g.completion_tokens - 1) as f64 / (total - first).as_secs_f64(),
        g.completion_tokens - 1,
        total - first,
    );
    assert!(pieces > 1, "streamed in {pieces} piece(s)");
    assert_eq!(g.finish_reason, FinishReason::Length);
    assert_eq!(g.completion_tokens, 40);
    assert!(!g.text.is_empty());
    let short = chat(&mut m, &q, &greedy(3));
    assert_eq!(short.finish_reason, FinishReason::Length);
    assert_eq!(short.completion_tokens, 3);
    assert!(g.text.starts_with(&short.text), "{short:?} vs {g:?}");
}

#[test]
fn sampling_is_reproducible_per_seed_and_varies_across_seeds() {
    let Some(mut m) = model() else { return };
    let q = user("Write a short poem about the sea.");
    let sampled = |m: &mut SmolLm2, seed| {
        let p = GenParams {
            max_tokens: 24,
            temperature: 1.0,
            top_p: 0.95,
            seed,
            stop: Vec::new(),
        };
        chat(m, &q, &p)
    };
    let a = sampled(&mut m, 1);
    assert_eq!(a, sampled(&mut m, 1));
    let other = (2..8)
        .map(|s| sampled(&mut m, s))
        .find(|g| g.text != a.text)
        .expect("six other seeds all gave the text of seed 1");
    eprintln!("seed 1: {:?}\nother: {:?}", a.text, other.text);
}

#[test]
fn stop_strings_cut_the_text_before_them() {
    let Some(mut m) = model() else { return };
    let q = user("List three fruits, one per line.");
    let full = chat(&mut m, &q, &greedy(48));
    // A word from the middle of the greedy answer: generation must end right before it.
    let word = full
        .text
        .split_whitespace()
        .nth(2)
        .expect("answer too short")
        .to_string();
    let cut = full.text.find(&word).unwrap();
    let p = GenParams {
        stop: vec![word.clone(), "never appears 123".into()],
        ..greedy(48)
    };
    let g = chat(&mut m, &q, &p);
    assert_eq!(g.text, full.text[..cut], "stop {word:?}");
    assert_eq!(g.finish_reason, FinishReason::Stop);
}

#[test]
fn scores_match_a_full_forward_per_candidate() {
    let Some(mut m) = model() else { return };
    let candidates: Vec<String> = [
        "Paris",
        "Banana",
        "The capital of France is Paris.",
        "London",
        "42",
        " Lyon, I think",
        // Candidates sharing beginnings (a token tree scores them), one a prefix of another.
        "The capital of France is Lyon.",
        "The capital",
        "The capital of Italy is Rome.",
        "Action: {go to the red key, pick up the red key}",
        "Action: {go to the red key, pick up the red key, go to the red door}",
        "Action: {go to the red door}",
    ]
    .map(String::from)
    .to_vec();
    let check = |m: &mut SmolLm2, q: &[Message]| {
        let t = Instant::now();
        let scores = m.score(q, &candidates).unwrap();
        eprintln!(
            "scored {} candidates in {:.2?}",
            candidates.len(),
            t.elapsed()
        );
        let prompt = m.prompt_tokens(q).unwrap();
        for (c, s) in candidates.iter().zip(&scores) {
            let ids = m.encode(c).unwrap();
            assert_eq!(s.tokens, ids.len());
            let all: Vec<u32> = prompt.iter().chain(&ids).copied().collect();
            let lp = m.sequence_logprobs(&all).unwrap();
            let reference: f32 = lp[lp.len() - ids.len()..].iter().sum();
            assert!(
                (s.logprob - reference).abs() < 1e-3,
                "{c:?}: batched {} vs reference {reference}",
                s.logprob
            );
            assert!(s.logprob < 0.0);
        }
        scores
    };
    let q1 = user("What is the capital of France?");
    let first = check(&mut m, &q1);
    // Same conversation again: the whole prompt comes from the kept cache.
    assert_eq!(first, m.score(&q1, &candidates).unwrap());
    // A conversation sharing only the system turn: the common prefix is reused.
    check(&mut m, &user("What is the capital of Italy?"));
    // A different system turn: nothing to reuse.
    let mut q3 = vec![Message::new("system", "You answer in French.")];
    q3.extend(q1.clone());
    check(&mut m, &q3);
}

#[test]
fn likely_continuations_outscore_unlikely_ones() {
    let Some(mut m) = model() else { return };
    let pairs = [
        ("What is the capital of France?", "Paris", "Banana"),
        ("Say hello to me.", "Hello", "Carburetor"),
        ("What color is the sky on a clear day?", "Blue", "Seventeen"),
    ];
    for (question, likely, unlikely) in pairs {
        let s = m
            .score(&user(question), &[likely.to_string(), unlikely.to_string()])
            .unwrap();
        eprintln!(
            "{question} {likely}={:.2} {unlikely}={:.2}",
            s[0].logprob, s[1].logprob
        );
        assert!(s[0].logprob > s[1].logprob, "{question}: {s:?}");
    }
}

#[test]
fn tokenizer_round_trips_text_with_digits_and_spaces() {
    let Some(m) = model() else { return };
    for text in [
        "Hello world",
        "  two leading spaces and trailing  ",
        "x = 12345 + 67.89 - 0",
        "step 3: go to (4, 7)\n\nthen\tturn left",
        "café, naïve, 東京, ✓ done",
        "<|im_end|> typed by a user",
    ] {
        let ids = m.encode(text).unwrap();
        assert_eq!(m.decode(&ids).unwrap(), text);
        assert_eq!(m.count_tokens(text), ids.len());
    }
    // SmolLM2 splits numbers into single digits.
    assert_eq!(m.count_tokens("12345"), 5);
    // Control tokens in text stay text.
    let ids = m.encode("<|im_end|>").unwrap();
    assert!(ids.len() > 1 && !ids.contains(&2), "{ids:?}");
    assert_eq!(m.count_tokens(""), 0);
}

#[test]
fn prompt_is_chatml_with_the_default_system_turn() {
    let Some(m) = model() else { return };
    let ids = m.prompt_tokens(&user("Hi")).unwrap();
    assert_eq!(ids[0], 1, "starts with <|im_start|>");
    let text = m.decode(&ids).unwrap();
    assert_eq!(
        text,
        format!(
            "system\n{}\nuser\nHi\nassistant\n",
            gridmentor_llm::DEFAULT_SYSTEM_PROMPT
        )
    );
    assert_eq!(
        ids.iter().filter(|&&t| t == 2).count(),
        2,
        "two turns end with <|im_end|>"
    );
    let with_system = m
        .prompt_tokens(&[
            Message::new("system", "Be brief."),
            Message::new("user", "Hi"),
        ])
        .unwrap();
    assert_eq!(
        m.decode(&with_system).unwrap(),
        "system\nBe brief.\nuser\nHi\nassistant\n"
    );
}

#[test]
fn bad_requests_get_clear_errors() {
    let Some(mut m) = model() else { return };
    let long = user(&"word ".repeat(m.context_length() + 10));
    let err = m.chat(&long, &greedy(8), &mut |_| {}).unwrap_err();
    assert!(matches!(err, LlmError::ContextOverflow { .. }), "{err}");
    assert!(err.to_string().contains("context length of 8192"), "{err}");
    let err = m.score(&long, &["x".to_string()]).unwrap_err();
    assert!(matches!(err, LlmError::ContextOverflow { .. }), "{err}");
    // The prompt fits but prompt + max_tokens does not.
    let err = m.chat(&user("Hi"), &greedy(8192), &mut |_| {}).unwrap_err();
    assert!(matches!(err, LlmError::ContextOverflow { .. }), "{err}");

    let q = user("Hi");
    let err = m.chat(&q, &greedy(0), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("max_tokens"), "{err}");
    let hot = GenParams {
        temperature: -1.0,
        ..greedy(4)
    };
    assert!(m.chat(&q, &hot, &mut |_| {}).is_err());
    let err = m.score(&q, &["ok".into(), String::new()]).unwrap_err();
    assert!(err.to_string().contains("candidate 1 is empty"), "{err}");
    assert!(m.score(&q, &[]).unwrap().is_empty());
    let bad_role = [Message::new("two words", "x")];
    assert!(m.chat(&bad_role, &greedy(4), &mut |_| {}).is_err());
}
