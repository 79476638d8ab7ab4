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
//! `engine` (the event loop, generic over a service, naming no protocol),
//! `service` (the seam, and one module per protocol: `discard`, `echo`, `http`
//! with its handler pool, `frame`), `faults` (misbehaviour on purpose, and the one
//! schedule every service renders), `routing` (routes, responses, handlers, the
//! request log), `rooms` (the frame protocol's rooms), `backplane` (rooms shared
//! with other servers through Redis pub/sub), `tls` (rustls on the engine's
//! connections, generated certificates, misbehaving certificates and handshakes),
//! `stats` (the stats table: counters, snapshots, Prometheus text and its
//! endpoint, the CLI's lines), `reporter` (the stats-callback thread), `net`
//! (sockets), `syntax` (what the bindings share: durations, escapes, query
//! strings), `shared` (state between the handle and its threads).

#![warn(missing_docs)]

mod backplane;
mod config;
mod engine;
mod error;
mod faults;
mod net;
mod reporter;
mod rooms;
mod routing;
mod server;
mod server_core;
mod service;
mod stats;
mod syntax;
mod tls;

pub use backplane::{BackplaneState, BackplaneStats, BackplaneUrl, DEFAULT_REDIS_PORT};
pub use config::{parse_size, Config, Protocol, SlowConsumer, StatsCallback, MAX_WORKERS};
pub use error::{ConfigError, ConfigProblem, StartError, TlsError};
pub use faults::{Chaos, ChaosDecision, ConnectFault, ConnectFaultError, Fault, Step, Steps};
pub use rooms::publish::{PublishError, PublishReport};
pub use routing::{
    ClosedBy, ConnectionRecord, Handler, PathMatch, Request, RequestView, Response, Route, RouteId,
    RouteSpecError, Sse, SseEvent, WebSocket, WsConnection, WsFault, WsHandler, WsHandlerError,
    WsMatch, WsMessage, WsPeer, WsReply,
};
pub use server::{Server, StopReport, DROP_STOP_DEADLINE};
pub use server_core::{CallbackGuard, CallbackScope};
pub use syntax::{parse_duration, percent_decode, query_pairs};

/// The frame protocol's wire format, for clients: encode frames and decode what
/// the server sends (the server uses the same code).
pub mod frame {
    pub use crate::service::frame::codec::*;
}
/// WebSocket's wire format (RFC 6455), for clients: frames (a client masks its
/// own: [`websocket::encode_masked`]), close frames and the handshake's
/// `Sec-WebSocket-Accept` (the server uses the same code).
pub mod websocket {
    pub use crate::service::ws::close::*;
    pub use crate::service::ws::frame::*;
    pub use crate::service::ws::handshake::accept_key;
}
/// HTTP/2's wire format (RFC 9113, RFC 7541), for clients: frames and header
/// compression ([`http2::hpack`]) (the server uses the same code).
pub mod http2 {
    pub use crate::service::h2::frame::*;
    pub use crate::service::h2::hpack;
}
pub use stats::{
    prometheus_text, LineItem, LineSection, StatField, StatGroup, StatKind, StatUnit, StatValue,
    State, Stats, StatsLine, StatsLines, StopLine, PROMETHEUS_CONTENT_TYPE,
};

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "tiny-buffers")]
pub mod test_hooks;
pub use tls::{BadCert, TlsCert, TlsFault, LEAF_NAMES};
