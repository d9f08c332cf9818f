//! The `gridmentor` command.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use gridmentor_core::registry;
use gridmentor_trainer::{bench, eval, policy_bench, record, report, run_config, train};

/// One line of `gridmentor envs --json`.
#[derive(serde::Serialize)]
struct ListedEnv {
    id: &'static str,
    aliases: &'static [&'static str],
    family: &'static str,
    summary: &'static str,
}

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

/// Print a result: one JSON line (`--json`), or its sentence or table.
fn show(r: &(impl serde::Serialize + std::fmt::Display), json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
    } else {
        println!("{r}");
    }
    Ok(())
}

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
                    let listed = ListedEnv {
                        id: s.id,
                        aliases: s.aliases,
                        family: s.family,
                        summary: s.summary,
                    };
                    println!("{}", serde_json::to_string(&listed)?);
                } else {
                    println!("{:<36} {:<9} {}", s.id, s.family, s.summary);
                }
            }
        }
        Command::Train(mut args) => {
            args.explicit = run_config::explicit_flags(matches.subcommand_matches("train"));
            let r = train::run_train(&args)?;
            println!("{}", serde_json::to_string(&r)?);
        }
        Command::Eval(args) => {
            let mut r = eval::run_eval(&args)?;
            if let Some(path) = &args.record {
                r.record = Some(record::record(&args, path)?);
            }
            show(&r, args.json)?;
        }
        Command::Report(args) => {
            report::run_report(&args)?;
            println!("wrote {}", args.out.join("report.md").display());
        }
        Command::Bench(BenchCommand::Env(args)) => {
            show(&bench::run_env_bench(&args)?, args.json)?;
        }
        Command::Bench(BenchCommand::Policy(args)) => {
            show(&policy_bench::run_policy_bench(&args)?, args.json)?;
        }
    }
    Ok(())
}
