//! `pierhead bench`: the load generator on the command line (wrk-like flags), a
//! progress line per second on a terminal, the human summary, `--json`, the HTML
//! report, `--find-rate`, and `pierhead bench merge` of JSON results.

use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use pierhead_loadgen::{
    find_rate, html_report, run_until, BenchConfig, BenchError, BenchProtocol, BenchResult,
    Progress, ResultError,
};

use crate::args::{parse_duration, parse_name, parse_size};
use crate::interrupts::{until_interrupted, Interrupts};

/// Options of `pierhead bench`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    /// An http://host:port/path URL, a ws://host:port/path URL (`/`: echo;
    /// `/ROOM`: the room's members and --publishers publishers), or host:port
    /// with --protocol echo|frame.
    #[arg(required = true)]
    target: Option<String>,
    /// http (implied by an http:// URL), echo, frame or ws (implied by a ws://
    /// URL).
    #[arg(long, value_parser = parse_name::<BenchProtocol>)]
    protocol: Option<BenchProtocol>,
    /// Connections to keep open.
    #[arg(short, long, default_value_t = 64)]
    connections: usize,
    /// Event-loop threads.
    #[arg(short, long, default_value_t = 1)]
    threads: usize,
    /// Length of the measured phase (e.g. 10s, 500ms).
    #[arg(short, long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Stop after this many answers instead of after --duration.
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// Load this long before measuring.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    warmup: Duration,
    /// Requests in flight per connection (one write per batch in closed loop).
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Open loop: requests (frames) per second over all connections; latency from
    /// each request's intended send time.
    #[arg(long)]
    rate: Option<f64>,
    /// HTTP method.
    #[arg(short, long, default_value = "GET")]
    method: String,
    /// HTTP header "Name: value" (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Request body (HTTP) or payload (echo, frame, ws); @FILE reads a file.
    #[arg(long, conflicts_with = "body_size")]
    body: Option<String>,
    /// A body (or payload) of this many bytes (sizes: 64, 4k, 1m).
    #[arg(long, value_parser = parse_size)]
    body_size: Option<u64>,
    /// An answer not complete after this long is a timeout error.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    timeout: Duration,
    /// Frame protocol: the room.
    #[arg(long, default_value = "bench")]
    room: String,
    /// Frame protocol and ws rooms: how many connections publish (the others
    /// receive).
    #[arg(long, default_value_t = 1)]
    publishers: usize,
    /// ws echo: text messages instead of binary ones.
    #[arg(long)]
    ws_text: bool,
    /// Write the result as JSON (schema pierhead-bench/1) to this file; `-` for
    /// standard output (the summary then goes to standard error).
    #[arg(long, value_name = "FILE")]
    json: Option<String>,
    /// Write a self-contained HTML report (latency percentiles, requests/s over
    /// time) to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<String>,
    /// Search the highest --rate whose p99 stays under --p99 (each step runs
    /// --duration).
    #[arg(long, requires = "p99")]
    find_rate: bool,
    /// The p99 target of --find-rate (e.g. 5ms).
    #[arg(long, value_parser = parse_duration)]
    p99: Option<Duration>,
    /// No progress line, even on a terminal.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Adds the JSON results of several runs (several machines) into one, exactly.
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// JSON results written by `pierhead bench --json`.
    #[arg(required = true)]
    files: Vec<String>,
    /// Write the merged result as JSON to this file (`-`: standard output).
    #[arg(long, value_name = "FILE")]
    json: Option<String>,
    /// Write an HTML report of the merged result.
    #[arg(long, value_name = "FILE")]
    report: Option<String>,
}

/// The config the flags describe (shared by runs and rate searches).
fn config(a: &BenchArgs, target: &str) -> Result<BenchConfig, String> {
    let mut c = BenchConfig::new(target)
        .connections(a.connections)
        .threads(a.threads)
        .duration(a.duration)
        .warmup(a.warmup)
        .pipeline(a.pipeline)
        .method(a.method.as_str())
        .timeout(a.timeout)
        .room(a.room.as_str())
        .publishers(a.publishers)
        .ws_text(a.ws_text);
    if let Some(p) = a.protocol {
        c = c.protocol(p);
    }
    if let Some(n) = a.requests {
        c = c.requests(n);
    }
    if let Some(r) = a.rate {
        c = c.rate(r);
    }
    for h in &a.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("invalid config field `header`: `{h}` is not `Name: value`"))?;
        c = c.header(name.trim(), value.trim());
    }
    if let Some(b) = &a.body {
        let bytes = match b.strip_prefix('@') {
            Some(path) => std::fs::read(path).map_err(|e| format!("--body {b}: {e}"))?,
            None => b.clone().into_bytes(),
        };
        c = c.body(bytes);
    }
    if let Some(n) = a.body_size {
        c = c.body_size(usize::try_from(n).unwrap_or(usize::MAX));
    }
    Ok(c)
}

/// Prints a progress line a second on standard error, when it is a terminal.
fn with_progress(c: BenchConfig, quiet: bool) -> BenchConfig {
    if quiet || !std::io::stderr().is_terminal() {
        return c;
    }
    c.on_progress(|p: &Progress| {
        eprintln!(
            "{:>5.0}s{} {:>10} answers/s  errors {}  connections {}",
            p.elapsed.as_secs_f64(),
            if p.warming_up { " (warm-up)" } else { "" },
            p.requests,
            p.errors,
            p.connections
        );
    })
}

/// Runs the load (or a merge) and reports; the exit code. An interrupt ends the
/// run early, and what was measured is still reported.
pub fn run(args: BenchArgs, interrupts: &mut dyn Interrupts) -> u8 {
    if let Some(BenchCommand::Merge(m)) = &args.command {
        return merge(m);
    }
    let Some(target) = args.target.as_deref() else {
        eprintln!("pierhead bench: a TARGET is needed");
        return 2;
    };
    let config = match config(&args, target) {
        Ok(c) => with_progress(c, args.quiet),
        Err(e) => {
            eprintln!("pierhead: {e}");
            return 2;
        }
    };
    if let Err(e) = config.validate() {
        eprintln!("pierhead: {e}");
        return 2;
    }
    if let Err(e) = interrupts.listen() {
        eprintln!("pierhead: cannot install signal handlers: {e}");
        return 1;
    }
    let stop = Arc::new(AtomicBool::new(false));
    if args.find_rate {
        let Some(p99) = args.p99 else {
            eprintln!("pierhead: --find-rate needs --p99");
            return 2;
        };
        return until_interrupted(interrupts, &stop, || search(&config, p99, &stop, &args));
    }
    match until_interrupted(interrupts, &stop, || run_until(&config, &stop)) {
        Ok(r) => output(&r, args.json.as_deref(), args.report.as_deref()),
        Err(e) => failed(&e, &args),
    }
}

/// A run that failed: one that measured nothing is still reported (summary,
/// JSON, report: its errors say what happened), then named, and exits 1; one
/// that could not run exits 2.
fn failed(e: &BenchError, args: &BenchArgs) -> u8 {
    if let BenchError::NothingMeasured(n) = e {
        let _ = output(&n.result, args.json.as_deref(), args.report.as_deref());
        eprintln!("pierhead: {n}");
        return 1;
    }
    eprintln!("pierhead: {e}");
    2
}

fn search(config: &BenchConfig, p99: Duration, stop: &Arc<AtomicBool>, args: &BenchArgs) -> u8 {
    let found = match find_rate(config, p99, stop, |step| {
        eprintln!(
            "rate {:>10.0}/s: {:>10.0} answers/s, p99 {}, errors {} -> {}",
            step.rate,
            step.result.requests_per_sec(),
            fmt_us(step.result.latency.value_at_quantile(0.99)),
            step.result.errors.total(),
            if step.ok { "ok" } else { "over" }
        );
    }) {
        Ok(f) => f,
        Err(e) => return failed(&e, args),
    };
    match found.best() {
        Some(best) => {
            println!(
                "highest rate with p99 <= {}: {:.0}/s",
                fmt_us(p99.as_micros() as u64),
                best.rate
            );
            output(&best.result, args.json.as_deref(), args.report.as_deref())
        }
        None => {
            println!(
                "no rate tried kept p99 <= {}",
                fmt_us(p99.as_micros() as u64)
            );
            1
        }
    }
}

fn fmt_us(v: u64) -> String {
    if v >= 1000 {
        format!("{:.2}ms", v as f64 / 1000.0)
    } else {
        format!("{v}us")
    }
}

/// The summary (or JSON) and the report files.
fn output(r: &BenchResult, json: Option<&str>, report: Option<&str>) -> u8 {
    match json {
        Some("-") => {
            println!("{}", r.to_json());
            eprintln!("{}", r.summary());
        }
        Some(path) => {
            println!("{}", r.summary());
            if let Err(e) = std::fs::write(path, r.to_json()) {
                eprintln!("pierhead: cannot write {path}: {e}");
                return 1;
            }
        }
        None => println!("{}", r.summary()),
    }
    if let Some(path) = report {
        if let Err(e) = std::fs::write(path, html_report(r)) {
            eprintln!("pierhead: cannot write {path}: {e}");
            return 1;
        }
    }
    0
}

/// Adds the files' results up; a file that is not a result, or one that measured
/// something else (protocol, loop, pipeline), is refused naming it (exit 2).
fn merge(m: &MergeArgs) -> u8 {
    let mut merged: Option<BenchResult> = None;
    for (k, f) in m.files.iter().enumerate() {
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("pierhead: cannot read {f}: {e}");
                return 2;
            }
        };
        let r = match BenchResult::from_json(&text) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("pierhead: {f}: {e}");
                return 2;
            }
        };
        match merged.as_mut() {
            None => merged = Some(r),
            Some(acc) => match acc.merge(&r) {
                Ok(()) => {}
                Err(ResultError::Mismatch(e)) => {
                    eprintln!("pierhead: {}", e.naming(&m.files[..k].join(" + "), f));
                    return 2;
                }
                Err(e) => {
                    eprintln!("pierhead: {f}: {e}");
                    return 2;
                }
            },
        }
    }
    match merged {
        Some(r) => output(&r, m.json.as_deref(), m.report.as_deref()),
        None => 2,
    }
}
