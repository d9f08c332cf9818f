//! `gridmentor-llm-bench`: the embedded LLM's speed as `make bench` reports it: prompt and
//! generation tokens per second, and the latency of one plan by scoring (core's planner prompt).
//!
//! Prints one JSON line per figure. Usage: gridmentor-llm-bench [--threads N] [--label L]

use anyhow::Context;
use gridmentor_core::planner::Prompt;
use gridmentor_core::planner::{PromptStyle, answer_text, candidate_plans};
use gridmentor_llm::{GenParams, Message, SmolLm2};
use std::time::Instant;

fn messages(p: &Prompt) -> Vec<Message> {
    p.messages
        .iter()
        .map(|m| Message::new(m.role.as_str(), m.content.clone()))
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> anyhow::Result<()> {
    const USAGE: &str = "usage: gridmentor-llm-bench [--threads N] [--label L]";
    let mut threads = 1usize;
    let mut label = String::from("idle");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .context("--threads takes a number")?
            }
            "--label" => label = args.next().context("--label takes a word")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}; {USAGE}"),
        }
    }
    let path = SmolLm2::default_path();
    let mut model = SmolLm2::load_with_threads(&path, threads)
        .with_context(|| format!("loading {}", path.display()))?;
    let line = |what: &str, value: f64, unit: &str| {
        println!(
            "{{\"bench\": \"llm\", \"model\": \"{}\", \"threads\": {threads}, \"load\": \"{label}\", \
             \"what\": \"{what}\", \"value\": {value:.3}, \"unit\": \"{unit}\"}}",
            SmolLm2::MODEL_ID
        )
    };

    // Prompt speed: the planner's prompt (system prompt with examples + observation) run once.
    let obs = [
        "Agent sees <key>, <door>, holds <nothing>.",
        "Agent sees <door>, holds <key>.",
        "Agent sees <box>, holds <nothing>.",
        "Agent sees <nothing>, holds <nothing>.",
        "Agent sees <key>, holds <nothing>.",
    ];
    let prompt = |o: &str| Prompt::build(PromptStyle::Llm4Teach, "SimpleDoorKey", "", o);
    let one = GenParams {
        max_tokens: 1,
        ..GenParams::default()
    };
    let mut rates = Vec::new();
    for o in obs {
        let m = messages(&prompt(o));
        let t = Instant::now();
        let g = model.chat(&m, &one, &mut |_| {})?;
        rates.push(g.prompt_tokens as f64 / t.elapsed().as_secs_f64());
    }
    line("prompt_tokens_per_sec", median(rates), "tokens/s");

    // Generation speed: tokens after the first, greedy, no early stop wanted.
    let story = vec![Message::new(
        "user",
        "Write a long story about a robot who learns to open doors.",
    )];
    let mut rates = Vec::new();
    for _ in 0..3 {
        let g1 = {
            let t = Instant::now();
            let g = model.chat(&story, &one, &mut |_| {})?;
            (g, t.elapsed().as_secs_f64())
        };
        let params = GenParams {
            max_tokens: 129,
            ..GenParams::default()
        };
        let t = Instant::now();
        let g = model.chat(&story, &params, &mut |_| {})?;
        let secs = t.elapsed().as_secs_f64() - g1.1;
        let tokens = g.completion_tokens.saturating_sub(1) as f64;
        if tokens > 0.0 && secs > 0.0 {
            rates.push(tokens / secs);
        }
    }
    line("generation_tokens_per_sec", median(rates), "tokens/s");

    // One plan by scoring: the valid plans for an observation, ranked by likelihood. The system
    // prompt is shared between steps, so after the first ask only the observation runs anew.
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for (i, o) in obs.iter().cycle().take(10).enumerate() {
        let p = prompt(o);
        let cands: Vec<String> = candidate_plans(o)
            .iter()
            .map(|c| answer_text(p.style, c))
            .collect();
        let m = messages(&p);
        let t = Instant::now();
        model.score(&m, &cands)?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if i == 0 { &mut cold } else { &mut warm }.push(ms);
    }
    line("scored_plan_first_ms", cold[0], "ms");
    line("scored_plan_ms", median(warm), "ms");
    Ok(())
}
