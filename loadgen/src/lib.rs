//! pierhead's load generator: a mio client, one event loop per thread, driven
//! from the `pierhead bench` command line, from Python (`pierhead.bench`) and from C
//! (`pierhead_bench_run`) alike.
//!
//! - Protocols ([`BenchProtocol`]): HTTP/1.1 (every response checked: status,
//!   headers, Content-Length or chunked body), echo (every byte compared) and the
//!   frame protocol (members of a room and publishers; latency from a publish until
//!   a member has the frame, and until the last member has it), and WebSocket
//!   (`ws://host:port/`: echo, every message compared; `ws://host:port/<room>`:
//!   the frame protocol's rooms over WebSocket; a handshake per connection, pings
//!   answered).
//! - Closed loop (as fast as answers come, `pipeline` requests per write) or open
//!   loop at a fixed rate ([`BenchConfig::rate`]): each connection follows its own
//!   schedule and latency counts from the intended send time, so a stalled server
//!   shows in the high percentiles instead of hiding (coordinated omission); the
//!   uncorrected latency and how far sends lagged are reported too.
//! - Requests are built once; nothing is allocated or sent through a channel per
//!   request. Each thread records into its own HDR histograms (`hdrhistogram`),
//!   merged at the end; [`BenchResult`] carries them exactly, in JSON too, so that
//!   runs from several machines merge without loss ([`BenchResult::merge`]).
//!
//! ```no_run
//! use pierhead_loadgen::{run, BenchConfig};
//! use std::time::Duration;
//! let result = run(&BenchConfig::new("http://127.0.0.1:8080/").connections(64)
//!     .duration(Duration::from_secs(5)))?;
//! println!("{}", result.summary());
//! # Ok::<(), pierhead_loadgen::BenchError>(())
//! ```
//!
//! Layout: `config` (what to run), `run` (threads, progress, merge), `worker` (one
//! thread: the event loop; `plan`, `conn`, `pacing`, `connections`, `recording`),
//! `timer` (the timerfd of open loop), `proto` (what is sent and how answers are
//! checked: `http`, `echo`, `frame`, `ws`; `answer`, what the readers report), `result`
//! (`types`, `error`, `json`, `merge`, `summary`), `report` (the HTML report),
//! `find_rate` (the search for the highest rate under a latency target).

#![warn(missing_docs)]

mod config;
mod find_rate;
mod proto;
mod report;
mod result;
mod run;
mod timer;
mod worker;

pub use config::{
    BenchConfig, BenchProtocol, ConfigError, ConfigProblem, Progress, ProgressCallback,
    MAX_CONNECTIONS, MAX_PIPELINE, MAX_THREADS,
};
pub use find_rate::{find_rate, FindRate, RateStep};
pub use report::html_report;
pub use result::{BenchResult, ErrorCounts, Latency, Mismatch, ResultError, Second, SCHEMA};
pub use run::{run, run_until, BenchError, NothingMeasured, Unmeasured, DEFAULT_PAYLOAD};
