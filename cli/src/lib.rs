//! The `pierhead` command line as a library: [`run`] parses the arguments and
//! runs `serve` or `bench`, returning the exit code. The `pierhead` binary's main
//! calls it, and so does `python -m pierhead` (through the Python extension, in
//! the interpreter's process), so both are this code: same flags, defaults,
//! output, errors and exit codes.

mod args;
mod bench;
mod interrupts;
mod serve;

use std::ffi::OsString;

use clap::{Parser, Subcommand};

pub use interrupts::{Interrupt, Interrupts, SignalInterrupts};

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

/// Runs the command line `args` (the first is the program's name, as in
/// `std::env::args_os()`), printing to standard output and error, and returns
/// the exit code: 0 done, 1 failed, 2 refused arguments (`--help`: 0). `serve`
/// stops, and a `bench` run ends early, when `interrupts` says so.
pub fn run<I, T>(args: I, interrupts: &mut dyn Interrupts) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to standard output, errors to standard error.
            let _ = e.print();
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
    };
    match cli.command {
        Command::Serve(args) => serve::run(args, interrupts),
        Command::Bench(args) => bench::run(args, interrupts),
    }
}
