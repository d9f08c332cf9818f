//! The `gridmentor` command.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use gridmentor_core::registry;
use gridmentor_trainer::{bench, eval, policy_bench, report, train};

#[derive(Parser)]
#[command(
    name = "gridmentor",
    version,
    about = "LLM-guided RL in MiniGrid-style gridworlds"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the registered envs.
    Envs {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Train a policy (PPO) and write a run folder.
    Train(Box<train::TrainArgs>),
    /// Evaluate an agent (checkpoint, planner + skills, or random) over N episodes.
    Eval(eval::EvalArgs),
    /// Markdown table and SVG learning curves over run folders and eval results.
    Report(report::ReportArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Env steps/s with random actions and the observation computed every step.
    Env(bench::EnvBenchArgs),
    /// A network's decisions/s and forward passes/s on the CPU (burn and core's plain loops).
    Policy(policy_bench::PolicyBenchArgs),
}

/// burn-flex allocates a fresh buffer for every intermediate tensor. glibc serves the large ones
/// (a minibatch's im2col patches: ~30 MB) with new mmaps and unmaps them on free, so each
/// training step paid a page fault per 4 KB touched: about a third of PPO's time on the
/// memory-map CNN. Keep them on the heap and keep freed memory for the next step.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn reuse_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters; nothing else runs yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20); // glibc's maximum
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn reuse_freed_memory() {}

/// burn's `Device::default()` is wgpu's default adapter in a build with the `wgpu` feature, and
/// burn materialises a loaded optimizer state there (`--resume`) before moving it to the
/// parameters' device: that would open a second wgpu runtime beside the chosen one, or panic on a
/// machine without any adapter. Default to flex unless the user chose (`BURN_DEVICE`); the
/// training device itself is always explicit (`--device`).
#[cfg(feature = "wgpu")]
fn default_device_flex() {
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
}

#[cfg(not(feature = "wgpu"))]
fn default_device_flex() {}

/// Failures are one line on stderr (the error and its causes), whatever RUST_BACKTRACE says.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    reuse_freed_memory();
    default_device_flex();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Envs { json } => {
            for s in registry::all() {
                if json {
                    let v = serde_json::json!({
                        "id": s.id, "aliases": s.aliases, "family": s.family, "summary": s.summary,
                    });
                    println!("{v}");
                } else {
                    println!("{:<36} {:<9} {}", s.id, s.family, s.summary);
                }
            }
        }
        Command::Train(mut args) => {
            args.explicit =
                gridmentor_trainer::run_config::explicit_flags(matches.subcommand_matches("train"));
            let r = train::run_train(&args)?;
            // The final evaluation beside the run, for `gridmentor report`.
            let eval_json = args.out.join("eval.json");
            if !eval_json.exists() {
                std::fs::write(&eval_json, serde_json::to_string_pretty(&r)?)?;
            }
            println!("{r}");
        }
        Command::Eval(args) => {
            let r = eval::run_eval(&args)?;
            if args.json {
                println!("{r}");
            } else {
                println!(
                    "{} with {} ({}): success {:.1}%, mean return {:.3}, mean steps {:.1}, LLM calls/episode {:.2}",
                    r["env"].as_str().unwrap_or_default(),
                    r["agent"].as_str().unwrap_or_default(),
                    r["planner"].as_str().unwrap_or_default(),
                    100.0 * r["success_rate"].as_f64().unwrap_or_default(),
                    r["mean_return"].as_f64().unwrap_or_default(),
                    r["mean_steps"].as_f64().unwrap_or_default(),
                    r["llm_calls_per_episode"].as_f64().unwrap_or_default(),
                );
            }
        }
        Command::Report(args) => {
            report::run_report(&args)?;
            println!("wrote {}", args.out.join("report.md").display());
        }
        Command::Bench(BenchCommand::Env(args)) => {
            let record = bench::run_env_bench(&args)?;
            if args.json {
                println!("{record}");
            } else {
                println!(
                    "{} {} x{}: {} steps in {:.3} s = {:.0} steps/s",
                    record["env"].as_str().unwrap_or_default(),
                    record["mode"].as_str().unwrap_or_default(),
                    record["threads"],
                    record["steps"],
                    record["seconds"].as_f64().unwrap_or_default(),
                    record["steps_per_sec"].as_f64().unwrap_or_default(),
                );
            }
        }
        Command::Bench(BenchCommand::Policy(args)) => {
            let r = policy_bench::run_policy_bench(&args)?;
            if args.json {
                println!("{r}");
            } else {
                let f = |v: &serde_json::Value| format!("{:.0}", v.as_f64().unwrap_or_default());
                println!(
                    "{} {} on {} (1 thread)",
                    r["net"].as_str().unwrap_or_default(),
                    r["obs"].as_str().unwrap_or_default(),
                    r["env"].as_str().unwrap_or_default()
                );
                println!(
                    "{:<40} {:>12}",
                    "agent decisions/s (greedy, with env step)",
                    f(&r["agent_decisions_per_sec"])
                );
                println!("{:<40} {:>12} {:>12}", "", "burn (flex)", "inference");
                for (name, key) in [
                    ("forward passes/s, batch 1", "forward_one_per_sec"),
                    ("observations/s, batch N", "forward_batch_obs_per_sec"),
                ] {
                    let name = name.replace('N', &r["batch"].to_string());
                    println!(
                        "{:<40} {:>12} {:>12}",
                        name,
                        f(&r[key]["burn"]),
                        f(&r[key]["inference"])
                    );
                }
            }
        }
    }
    Ok(())
}
