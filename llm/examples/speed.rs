//! Quick speed probe of the embedded model alone (no server, no core): greedy generation
//! tokens/s and the time of one scored candidate set. `cargo run --release -p gridmentor-llm
//! --example speed`; `make bench` reports the full figures (gridmentor-llm-bench).

use gridmentor_llm::{GenParams, Message, SmolLm2};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let threads = std::env::args()
        .nth(1)
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let mut m = SmolLm2::load_with_threads(&SmolLm2::default_path(), threads)?;
    let story = [Message::new(
        "user",
        "Write a long story about a robot who learns to open doors.",
    )];
    let one = GenParams {
        max_tokens: 1,
        ..GenParams::default()
    };
    let long = GenParams {
        max_tokens: 129,
        ..GenParams::default()
    };
    for _ in 0..3 {
        let t = Instant::now();
        m.chat(&story, &one, &mut |_| {})?;
        let first = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let g = m.chat(&story, &long, &mut |_| {})?;
        let secs = t.elapsed().as_secs_f64() - first;
        println!(
            "generation: {:.1} tokens/s",
            (g.completion_tokens - 1) as f64 / secs
        );
    }
    let sys = Message::new("system", "You are a helpful assistant. You plan for an agent in a grid world. Answer with an action in braces, for example Action: {go to the red key, pick up the red key}.".repeat(3));
    let cands: Vec<String> = [
        "Action: {explore}",
        "Action: {go to the key}",
        "Action: {go to the key, pick up the key}",
        "Action: {go to the key, pick up the key, explore}",
        "Action: {go to the key, pick up the key, go to the door, toggle the door}",
        "Action: {go to the door}",
        "Action: {go to the door, toggle the door}",
    ]
    .map(String::from)
    .to_vec();
    for (i, o) in [
        "Agent sees <key>, <door>, holds <nothing>.",
        "Agent sees <door>, holds <key>.",
        "Agent sees <key>, holds <nothing>.",
    ]
    .iter()
    .cycle()
    .take(7)
    .enumerate()
    {
        let q = [sys.clone(), Message::new("user", *o)];
        let t = Instant::now();
        m.score(&q, &cands)?;
        println!("scored plan {i}: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(())
}
