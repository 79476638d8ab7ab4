//! pierhead: an embeddable, high-performance TCP server engine.
//!
//! A [`Server`] runs `workers` event loops (mio, edge-triggered) on background
//! threads, each with its own poll, its own handle on the shared listening socket and
//! its own table of connections. It speaks one [`Protocol`]: `discard`, `echo`, or
//! `http` (HTTP/1.1 with keep-alive and pipelining, programmable with [`Route`]s,
//! [`Handler`]s and a request log). [`Server::stop`] is graceful with
//! a deadline and returns a [`StopReport`]; [`Server::stats`] reads lock-free
//! per-worker counters from any thread.
//!
//! Layout: `config` (what to run), `server` (the handle and its lifecycle),
//! `worker` (the event loop and connection handling), `protocol` (what bytes mean,
//! free of I/O), `routing` (routes, responses, handlers, the request log),
//! `handler_pool` (threads running handlers), `stats` (counters), `reporter` (the
//! stats-callback thread), `net` (listening sockets), `shared` (state between the
//! handle and its threads), `rooms` (the frame protocol's rooms), `backplane`
//! (rooms shared with other servers through Redis pub/sub), `metrics` (stats as
//! Prometheus text, and the endpoint serving them), `tls` (rustls on the engine's
//! connections, generated certificates, misbehaving certificates and handshakes).

#![warn(missing_docs)]

mod backplane;
mod config;
mod connect_fault;
mod error;
mod handler_pool;
mod metrics;
mod net;
mod protocol;
mod reporter;
mod rooms;
mod routing;
mod server;
mod shared;
mod stats;
mod tls;
mod worker;

pub use backplane::{BackplaneState, BackplaneStats, BackplaneUrl, DEFAULT_REDIS_PORT};
pub use config::{parse_size, Config, Protocol, SlowConsumer, StatsCallback, MAX_WORKERS};
pub use connect_fault::{ConnectFault, ConnectFaultError};
pub use error::{ConfigError, ConfigProblem, StartError};
pub use metrics::{prometheus_text, PROMETHEUS_CONTENT_TYPE};
pub use rooms::publish::{PublishError, PublishReport};
pub use routing::{
    Chaos, ChaosDecision, ClosedBy, ConnectionRecord, Fault, Handler, PathMatch, Request,
    RequestView, Response, Route, RouteId, Sse, SseEvent, Step, Steps,
};
pub use server::{Server, StopReport, DROP_STOP_DEADLINE};
pub use shared::{CallbackGuard, CallbackScope};

/// The frame protocol's wire format, for clients: encode frames and decode what
/// the server sends (the server uses the same code).
pub mod frame {
    pub use crate::protocol::frame::codec::*;
}
pub use stats::{State, Stats};

/// Entry points for the fuzz targets in `fuzz/`: the internal decoders, fed
/// arbitrary bytes. Not an API (feature `fuzzing` only).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Finds the end of a request head in `data` and parses it (with the server's
    /// header-slot limit); must never panic, whatever the bytes.
    pub fn http_head(data: &[u8]) {
        if let Ok(end) = crate::protocol::http::head::find_end(data, 0) {
            let mut slots = crate::protocol::http::head::header_slots();
            let _ = crate::protocol::http::head::parse(&data[..end], &mut slots, 64);
        }
        let _ = crate::protocol::http::head::plausible_start(data);
        let _ = crate::protocol::http::head::request_line_too_long(data, 8192);
    }

    /// Decodes `data` as a chunked body, fed in the pieces `split` cuts it into;
    /// the decoded bytes must be the same however it is cut.
    pub fn chunked(data: &[u8], split: usize) {
        let decode = |pieces: &[&[u8]]| {
            let mut c = crate::protocol::http::chunked::Chunked::default();
            let mut out = Vec::new();
            for p in pieces {
                let mut rest = *p;
                while !rest.is_empty() {
                    match c.feed(rest, 1 << 20, 4096, |d| out.extend_from_slice(d)) {
                        Ok((used, done)) => {
                            if done {
                                return (Some(out), true);
                            }
                            if used == 0 {
                                break;
                            }
                            rest = &rest[used..];
                        }
                        Err(_) => return (None, false),
                    }
                }
            }
            (Some(out), false)
        };
        let whole = decode(&[data]);
        let at = split % (data.len() + 1);
        let cut = decode(&[&data[..at], &data[at..]]);
        assert_eq!(
            whole, cut,
            "a chunked body decodes differently when cut at {at}"
        );
    }
}

/// Counters the reliability build (`tiny-buffers`) keeps for its tests.
#[cfg(feature = "tiny-buffers")]
pub mod test_hooks {
    use std::sync::atomic::{AtomicU64, Ordering};

    pub(crate) static SAME_TURN_REUSES: AtomicU64 = AtomicU64::new(0);

    /// Connections accepted into a slab slot freed earlier in the same turn of the
    /// event loop (the slab reuses the last freed slot first): the case where an
    /// event still queued for the closed connection must not reach the new one.
    pub fn same_turn_slot_reuses() -> u64 {
        SAME_TURN_REUSES.load(Ordering::Relaxed)
    }
}
pub use tls::{BadCert, TlsCert, TlsError, TlsFault, LEAF_NAMES};
