//! `gridmentor bench policy`: how fast a network acts on the CPU: decisions per second of a
//! greedy agent (observe, forward, step: what the playground's Play does), and the forward pass
//! alone through burn (flex) and through core's plain-loop [`Inference`], one observation at a
//! time and in a batch (what rollouts and batched evaluation do).

use burn::tensor::Device;
use gridmentor_core::nn::{ActorCritic, Inference, NetSpec, Observer, PolicyAgent};
use gridmentor_core::registry;
use gridmentor_core::rng::Rng;
use gridmentor_core::world::Action;
use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::ppo::Config;
use crate::ppo::config::{NetChoice, ObsChoice};

/// Arguments of `gridmentor bench policy`.
#[derive(clap::Args, Debug, Clone)]
pub struct PolicyBenchArgs {
    /// Registered env id.
    #[arg(long, default_value = "MiniGrid-DoorKey-8x8-v0")]
    pub env: String,
    /// The observation (`auto`: the trainer's choice for the env).
    #[arg(long, value_enum, default_value_t = ObsChoice::Auto)]
    pub obs: ObsChoice,
    /// The network (`auto`: the trainer's choice for the observation).
    #[arg(long, value_enum, default_value_t = NetChoice::Auto)]
    pub net: NetChoice,
    /// Observations per batched forward pass (the trainer's default envs).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// Seconds spent on each measurement.
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
    /// Print one JSON line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Calls `f` (which does `items` units of work) until `seconds` have passed; units per second.
fn rate(seconds: f64, items: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up: buffers, caches
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut calls = 0u64;
    while calls < 3 || start.elapsed() < budget {
        f();
        calls += 1;
    }
    (calls as usize * items) as f64 / start.elapsed().as_secs_f64()
}

/// A forward pass's rate through burn (flex) and through core's plain loops.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub burn: f64,
    pub inference: f64,
}

/// What `bench policy` prints (rates per second).
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct PolicyBenchResult {
    /// `policy`.
    pub bench: String,
    pub env: String,
    pub net: String,
    pub obs: String,
    /// Observations per batched forward pass.
    pub batch: usize,
    pub agent_decisions_per_sec: f64,
    pub forward_one_per_sec: Rates,
    pub forward_batch_obs_per_sec: Rates,
}

impl std::fmt::Display for PolicyBenchResult {
    /// The table printed without `--json`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} {} on {} (1 thread)", self.net, self.obs, self.env)?;
        writeln!(
            f,
            "{:<40} {:>12.0}",
            "agent decisions/s (greedy, with env step)", self.agent_decisions_per_sec
        )?;
        writeln!(f, "{:<40} {:>12} {:>12}", "", "burn (flex)", "inference")?;
        let batch = format!("observations/s, batch {}", self.batch);
        let rows = [
            ("forward passes/s, batch 1", &self.forward_one_per_sec),
            (batch.as_str(), &self.forward_batch_obs_per_sec),
        ];
        let lines: Vec<String> = rows
            .iter()
            .map(|(name, r)| format!("{name:<40} {:>12.0} {:>12.0}", r.burn, r.inference))
            .collect();
        write!(f, "{}", lines.join("\n"))
    }
}

/// Runs the benchmark and returns its record.
pub fn run_policy_bench(args: &PolicyBenchArgs) -> anyhow::Result<PolicyBenchResult> {
    anyhow::ensure!(
        args.seconds > 0.0 && args.seconds.is_finite(),
        "--seconds must be positive"
    );
    let env_spec = registry::find(&args.env)?;
    let cfg = Config {
        env: env_spec.id.to_string(),
        obs: args.obs,
        net: args.net,
        ..Config::default()
    };
    let spec: NetSpec = cfg.net_spec(env_spec)?;
    let device = Device::flex();
    let model = ActorCritic::new(spec, 1, &device).map_err(anyhow::Error::msg)?;
    let batch = args.batch as usize;

    // Real observations: `batch` envs after a few random steps each.
    let mut rng = Rng::new(7);
    let mut inputs = vec![0.0f32; batch * spec.obs.len()];
    for (i, input) in inputs.chunks_mut(spec.obs.len()).enumerate() {
        let mut env = registry::make(env_spec.id, i as u64)?;
        let mut observer = Observer::new(spec.obs, &env).map_err(anyhow::Error::msg)?;
        for _ in 0..rng.below(20) {
            let a = Action::ALL[rng.below(Action::COUNT as u64) as usize];
            if env.step(a).terminated {
                break;
            }
            observer.update(&env);
        }
        observer.write(&env, input);
    }
    let one = &inputs[..spec.obs.len()];

    let mut fast = Inference::new(&model).map_err(anyhow::Error::msg)?;
    let mut logits = vec![0.0f32; batch * spec.actions];
    let mut values = vec![0.0f32; batch];
    let burn_forward = |input: &[f32], n: usize| {
        let out = model.forward(model.input(input.to_vec(), n, &device));
        black_box(out.logits.into_data());
    };
    let burn_one = rate(args.seconds, 1, || burn_forward(one, 1));
    let burn_batch = rate(args.seconds, batch, || burn_forward(&inputs, batch));
    let fast_one = rate(args.seconds, 1, || {
        black_box(fast.forward_one(black_box(one), &mut logits[..spec.actions]));
    });
    let fast_batch = rate(args.seconds, batch, || {
        fast.forward(black_box(&inputs), batch, &mut logits, &mut values);
        black_box(&logits);
    });

    // The agent: observe, decide (greedy), step; a new episode on the next seed at each end.
    let mut env = registry::make(env_spec.id, 0)?;
    let mut agent = PolicyAgent::new(model.clone(), 0, true).map_err(anyhow::Error::msg)?;
    agent.start(&env).map_err(anyhow::Error::msg)?;
    let mut seed = 0;
    let agent_rate = rate(args.seconds, 1000, || {
        for _ in 0..1000 {
            let a = agent.choose(&env).map_or(0, |c| c.action);
            let t = env.step(Action::ALL[a]);
            agent.take_in(&env);
            if t.terminated || t.truncated {
                seed += 1;
                env.reset(seed);
                let _ = agent.start(&env);
            }
        }
    });
    Ok(PolicyBenchResult {
        bench: "policy".into(),
        env: env_spec.id.into(),
        net: spec.net.name().into(),
        obs: spec.obs.to_string(),
        batch,
        agent_decisions_per_sec: agent_rate,
        forward_one_per_sec: Rates {
            burn: burn_one,
            inference: fast_one,
        },
        forward_batch_obs_per_sec: Rates {
            burn: burn_batch,
            inference: fast_batch,
        },
    })
}
