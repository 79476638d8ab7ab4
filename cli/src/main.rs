//! `pierhead`: the command line. `serve` runs a server until SIGINT/SIGTERM.

mod route_arg;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// An embeddable, high-performance TCP server: discard, echo and HTTP/1.1.
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
    }
}
