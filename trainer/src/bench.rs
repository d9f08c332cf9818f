//! `gridmentor bench env`: raw environment throughput, random actions, the 7x7x3 egocentric
//! observation computed after every step and every reset.
//!
//! Two modes, one JSON object per run:
//! - `single`: one env on one thread (compare with Farama MiniGrid, which is single-threaded);
//! - `batched`: `threads` OS threads (default: all cores), one env each, stepping concurrently
//!   (compare with NAVIX's vmapped batch on the same CPU).
//!
//! Env construction is not timed; resets on `terminated`/`truncated` are.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use gridmentor_core::registry;
use gridmentor_core::rng::Rng;
use gridmentor_core::world::Action;

/// Arguments of `gridmentor bench env`.
#[derive(clap::Args, Debug, Clone)]
pub struct EnvBenchArgs {
    /// Registered env id.
    #[arg(long, default_value = "MiniGrid-DoorKey-8x8-v0")]
    pub env: String,
    /// Total env steps to time (in batched mode: summed over all threads).
    #[arg(long, default_value_t = 1_000_000)]
    pub steps: u64,
    /// Seed for env layouts and the random actions (thread i uses seed + i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run one env per thread on `--threads` threads instead of one env on one thread.
    #[arg(long)]
    pub batched: bool,
    /// Threads for `--batched` (default: available parallelism).
    #[arg(long, requires = "batched", value_parser = clap::value_parser!(u64).range(1..))]
    pub threads: Option<u64>,
    /// Print one JSON line instead of a human sentence.
    #[arg(long)]
    pub json: bool,
}

/// What one thread did.
struct Tally {
    steps: u64,
    episodes: u64,
    /// Sum of a byte of every observation: with `black_box`, keeps the observation work live.
    obs_checksum: u64,
}

/// What `bench env` prints: one record a run.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct EnvBenchResult {
    /// `env`.
    pub bench: String,
    /// `gridmentor` (the peers' scripts write the same record with their name).
    #[serde(rename = "impl")]
    pub implementation: String,
    pub env: String,
    /// `single` or `batched`.
    pub mode: String,
    pub threads: usize,
    pub steps: u64,
    pub episodes: u64,
    pub seconds: f64,
    pub steps_per_sec: f64,
}

impl std::fmt::Display for EnvBenchResult {
    /// The sentence printed without `--json`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} x{}: {} steps in {:.3} s = {:.0} steps/s",
            self.env, self.mode, self.threads, self.steps, self.seconds, self.steps_per_sec
        )
    }
}

/// Runs the benchmark and returns its record.
pub fn run_env_bench(args: &EnvBenchArgs) -> anyhow::Result<EnvBenchResult> {
    if args.steps == 0 {
        bail!("--steps must be > 0");
    }
    // Fail early (and untimed) on an unknown id.
    registry::make(&args.env, args.seed)?;

    let (mode, threads) = if args.batched {
        let t = match args.threads {
            Some(t) => t as usize,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        ("batched", t.max(1))
    } else {
        ("single", 1)
    };

    let (tallies, elapsed) = if threads == 1 {
        let mut runner = Runner::new(&args.env, args.seed)?;
        let start = Instant::now();
        let tally = runner.run(args.steps);
        (vec![tally], start.elapsed())
    } else {
        run_threads(&args.env, args.seed, args.steps, threads)?
    };

    let steps: u64 = tallies.iter().map(|t| t.steps).sum();
    let episodes: u64 = tallies.iter().map(|t| t.episodes).sum();
    black_box(
        tallies
            .iter()
            .map(|t| t.obs_checksum)
            .fold(0u64, u64::wrapping_add),
    );
    let seconds = elapsed.as_secs_f64();
    Ok(EnvBenchResult {
        bench: "env".into(),
        implementation: "gridmentor".into(),
        env: args.env.clone(),
        mode: mode.into(),
        threads,
        steps,
        episodes,
        seconds,
        steps_per_sec: steps as f64 / seconds,
    })
}

/// `threads` runners, each timing its share of `total_steps`; the clock runs from the moment
/// all envs are built until the last thread finishes.
fn run_threads(
    env: &str,
    seed: u64,
    total_steps: u64,
    threads: usize,
) -> anyhow::Result<(Vec<Tally>, Duration)> {
    let n = threads as u64;
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let share = total_steps / n + u64::from(i < total_steps % n);
                let barrier = &barrier;
                s.spawn(move || {
                    let runner = Runner::new(env, seed.wrapping_add(i));
                    barrier.wait();
                    runner.map(|mut r| r.run(share))
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("bench thread panicked"))
            .collect();
        let elapsed = start.elapsed();
        let tallies = results.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
        Ok((tallies, elapsed))
    })
}

/// One env, its action RNG and its observation buffer.
struct Runner {
    env: gridmentor_core::Env,
    rng: Rng,
    obs: Vec<u8>,
    next_seed: u64,
}

impl Runner {
    fn new(id: &str, seed: u64) -> anyhow::Result<Runner> {
        let mut env = registry::make(id, seed).with_context(|| format!("bench env {id:?}"))?;
        env.reset(seed);
        let view = env.world.view_size as usize;
        Ok(Runner {
            env,
            rng: Rng::new(seed ^ 0x9E37_79B9_7F4A_7C15),
            obs: vec![0; view * view * 3],
            next_seed: seed,
        })
    }

    fn run(&mut self, steps: u64) -> Tally {
        let mut episodes = 0;
        let mut checksum = 0u64;
        self.env.world.image_into(&mut self.obs[..]);
        for _ in 0..steps {
            let a = Action::from_index(self.rng.below(7) as u8).expect("7 actions");
            let t = self.env.step(a);
            self.env.world.image_into(&mut self.obs[..]);
            checksum = checksum.wrapping_add(u64::from(black_box(&self.obs)[0]));
            if t.terminated || t.truncated {
                // As gymnasium does: the final step's observation, then the reset's.
                episodes += 1;
                // Seeds stay distinct across threads (thread i starts at seed + i).
                self.next_seed = self.next_seed.wrapping_add(1 << 32);
                self.env.reset(self.next_seed);
                self.env.world.image_into(&mut self.obs[..]);
                checksum = checksum.wrapping_add(u64::from(black_box(&self.obs)[0]));
            }
        }
        Tally {
            steps,
            episodes,
            obs_checksum: checksum,
        }
    }
}
