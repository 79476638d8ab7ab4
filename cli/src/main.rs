//! `pierhead`: the command line. `serve` runs a server until SIGINT/SIGTERM;
//! `bench` is the load generator. The work is in the library (`pierhead_cli::run`),
//! which `python -m pierhead` runs too.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut interrupts = pierhead_cli::SignalInterrupts::default();
    ExitCode::from(pierhead_cli::run(std::env::args_os(), &mut interrupts))
}
