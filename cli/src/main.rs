//! `pierhead`: the command line. `serve` runs a server until SIGINT/SIGTERM;
//! `bench` is the load generator.

mod args;
mod bench;
mod route_arg;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// An embeddable, high-performance TCP server (discard, echo, HTTP/1.1, frame)
/// and its load generator.
#[derive(Debug, Parser)]
#[command(name = "pierhead", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve until SIGINT or SIGTERM, then stop gracefully and print the stop report.
    Serve(serve::ServeArgs),
    /// Load a target (HTTP, echo or frame), closed or open loop, and report
    /// throughput, latency percentiles and errors; `bench merge` adds JSON results.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
