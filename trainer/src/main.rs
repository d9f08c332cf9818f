//! The `gridmentor` command.

mod bench;

use clap::{Parser, Subcommand};

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
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Env steps/s with random actions and the observation computed every step.
    Env(bench::EnvBenchArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
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
    }
    Ok(())
}
