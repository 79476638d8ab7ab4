//! `pierhead._pierhead`: the extension module under the `pierhead` Python package.
//!
//! It wraps the Rust core (`pierhead`) for Python. Layout: `server` (the handle and
//! its lifecycle, releasing the interpreter whenever it waits), `config` (keyword
//! arguments to a core config), `routes` (expectations as core routes), `http`
//! (Request, Response, Fault, Chaos), `stream` (Step, SseEvent), `body` (bodies
//! and header pairs from Python values), `callbacks` (Python handlers and the
//! stats callback as the core calls them), `executor` (the Python threads handlers
//! run on), `error_sink` (the exceptions kept for `check_assertions()`), `stats`
//! (snapshots), `bench` (the load generator and its result), `frame` (the frame
//! codec), `websocket` (WebSocket endpoints of the HTTP mock, their handlers'
//! values and the message log's connections), `errors` (raising the package's exception classes), `cli` (the
//! `pierhead` command line, which `python -m pierhead` runs). The Python
//! package adds the expectations API and the pytest plugin.

use pyo3::prelude::*;

mod bench;
mod body;
mod callbacks;
mod cli;
mod config;
mod error_sink;
mod errors;
mod executor;
mod frame;
mod http;
mod routes;
mod server;
mod stats;
mod stream;
mod websocket;
mod ws_values;

#[pymodule]
mod _pierhead {
    #[pymodule_export]
    use super::bench::{bench, BenchResult, LatencySummary};
    #[pymodule_export]
    use super::cli::cli;
    #[pymodule_export]
    use super::executor::{_executor_fd, _executor_threads, _take_job, Job};
    #[pymodule_export]
    use super::frame::{frame_control, frame_data, frame_decode};
    #[pymodule_export]
    use super::http::{Chaos, Fault, Request, Response};
    #[pymodule_export]
    use super::routes::{Matcher, Ordering, Route};
    #[pymodule_export]
    use super::server::{stop_all, Server};
    #[pymodule_export]
    use super::stats::{
        _stats_example, _stats_table, BackplaneStats, PublishReport, Stats, StopReport,
    };
    #[pymodule_export]
    use super::stream::{SseEvent, Step};
    #[pymodule_export]
    use super::websocket::{AnyMessage, WebSocket, WsJson};
    #[pymodule_export]
    use super::ws_values::{WsClose, WsConnection, WsPeer};

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("DEFAULT_WORKERS", super::config::DEFAULT_WORKERS)?;
        m.add("DEFAULT_REQUEST_LOG", super::config::DEFAULT_REQUEST_LOG)?;
        m.add(
            "DEFAULT_UNMATCHED_STATUS",
            super::config::DEFAULT_UNMATCHED_STATUS,
        )?;
        m.add("ANY", super::websocket::AnyMessage)?;
        Ok(())
    }
}
