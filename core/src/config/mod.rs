//! Server configuration: [`Config`], a builder whose values are checked by
//! [`Config::validate`] (also called by `Server::start`), so that a bad value is an
//! error naming its field. Here: the config and its setters; in [`protocol`] what
//! a server speaks and the slow-consumer policy, with their names; in [`tls`] the
//! TLS setters; in [`validate`] the checks; in [`limits`] the fixed bounds other
//! modules read; in [`size`] byte sizes as the command lines write them.

mod limits;
mod protocol;
mod size;
mod tls;
mod validate;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::backplane::BackplaneUrl;
use crate::routing::Route;
use crate::stats::Stats;
use crate::tls::TlsOptions;

pub(crate) use limits::MAX_HEADERS;
pub use limits::MAX_WORKERS;
pub use protocol::{Protocol, SlowConsumer};
pub use size::parse_size;
pub(crate) use validate::check_unmatched_status;

/// Called with a stats snapshot every `stats_interval`, on the server's stats thread
/// (never on an I/O thread). It may call `Server::stop`.
pub type StatsCallback = Arc<dyn Fn(&Stats) + Send + Sync + 'static>;

/// Configuration of a [`Server`](crate::Server). Build it with chained setters:
///
/// ```
/// use pierhead::{Config, Protocol};
/// use std::time::Duration;
/// let config = Config::new()
///     .protocol(Protocol::Echo)
///     .bind("127.0.0.1:0")
///     .workers(2)
///     .idle_timeout(Duration::from_secs(30));
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) protocol: Protocol,
    pub(crate) bind: String,
    pub(crate) workers: usize,
    pub(crate) max_connections: usize,
    pub(crate) listen_backlog: u32,
    pub(crate) idle_timeout: Duration,
    pub(crate) header_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_body_bytes: u64,
    pub(crate) max_output_bytes: usize,
    pub(crate) max_frame_bytes: usize,
    pub(crate) max_message_bytes: usize,
    pub(crate) ws_deflate: bool,
    pub(crate) slow_consumer: SlowConsumer,
    pub(crate) stats_interval: Duration,
    pub(crate) on_stats: Option<StatsCallback>,
    pub(crate) routes: Vec<Route>,
    pub(crate) unmatched_status: u16,
    pub(crate) fixed_response: bool,
    pub(crate) request_log: usize,
    pub(crate) request_log_body_bytes: usize,
    pub(crate) handler_threads: usize,
    pub(crate) handler_timeout: Duration,
    pub(crate) backplane: Option<String>,
    pub(crate) metrics: Option<String>,
    pub(crate) tls: Option<TlsOptions>,
    /// Session tickets when TLS is on (see [`Config::tls_resumption`]).
    pub(crate) tls_resumption: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("protocol", &self.protocol)
            .field("bind", &self.bind)
            .field("workers", &self.workers)
            .field("max_connections", &self.max_connections)
            .field("listen_backlog", &self.listen_backlog)
            .field("idle_timeout", &self.idle_timeout)
            .field("header_timeout", &self.header_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("max_headers", &self.max_headers)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_output_bytes", &self.max_output_bytes)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("ws_deflate", &self.ws_deflate)
            .field("slow_consumer", &self.slow_consumer)
            .field("stats_interval", &self.stats_interval)
            .field("on_stats", &self.on_stats.as_ref().map(|_| "<callback>"))
            .field("routes", &self.routes)
            .field("unmatched_status", &self.unmatched_status)
            .field("fixed_response", &self.fixed_response)
            .field("request_log", &self.request_log)
            .field("request_log_body_bytes", &self.request_log_body_bytes)
            .field("handler_threads", &self.handler_threads)
            .field("handler_timeout", &self.handler_timeout)
            .field(
                "backplane",
                &self.backplane.as_deref().map(|u| {
                    BackplaneUrl::parse(u)
                        .map_or_else(|_| "<invalid>".to_owned(), |u| u.to_string())
                }),
            )
            .field("metrics", &self.metrics)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// The defaults: HTTP on `127.0.0.1:0` (an ephemeral port), one worker per core,
    /// 10,000 connections, 60 s idle, 10 s to receive a request head, 30 s write stall,
    /// 16 KiB heads of at most 100 header fields, 1 MiB bodies and 1 MiB pending output per connection, stats every 1 s
    /// (only used when a callback is set); no routes (the fixed `hello` response),
    /// 404 for unmatched requests once routes exist, no request log, up to 8 handler
    /// threads (started on demand) and 30 s per handler call.
    pub fn new() -> Config {
        Config {
            protocol: Protocol::Http,
            bind: "127.0.0.1:0".to_owned(),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_connections: 10_000,
            listen_backlog: 1024,
            idle_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_body_bytes: 1024 * 1024,
            max_output_bytes: 1024 * 1024,
            max_frame_bytes: 1024 * 1024,
            max_message_bytes: 16 * 1024 * 1024,
            ws_deflate: true,
            slow_consumer: SlowConsumer::Disconnect,
            stats_interval: Duration::from_secs(1),
            on_stats: None,
            routes: Vec::new(),
            unmatched_status: 404,
            fixed_response: true,
            request_log: 0,
            request_log_body_bytes: 64 * 1024,
            handler_threads: 8,
            handler_timeout: Duration::from_secs(30),
            backplane: None,
            metrics: None,
            tls: None,
            tls_resumption: true,
        }
    }

    /// The protocol spoken on every connection.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Listen address, `host:port`; port 0 picks a free port (read it back with
    /// `Server::local_addr`). IPv6 addresses go in brackets: `[::1]:0`.
    pub fn bind(mut self, addr: impl Into<String>) -> Self {
        self.bind = addr.into();
        self
    }

    /// Number of I/O worker threads, each with its own event loop (1..=256).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Connections served at once over all workers; more are accepted and closed at
    /// once (HTTP: answered 503) and counted as refused.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Length of the kernel's accept queue.
    pub fn listen_backlog(mut self, n: u32) -> Self {
        self.listen_backlog = n;
        self
    }

    /// A connection with nothing in flight is closed after this long without input.
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }

    /// A request started but not complete after this long is answered 408 and closed.
    pub fn header_timeout(mut self, d: Duration) -> Self {
        self.header_timeout = d;
        self
    }

    /// A connection whose pending output makes no progress for this long is closed.
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = d;
        self
    }

    /// Largest HTTP request head (request line and headers); larger gets 431, or
    /// 414 when the request line alone is larger (a request-target too long).
    pub fn max_header_bytes(mut self, n: usize) -> Self {
        self.max_header_bytes = n;
        self
    }

    /// Most header fields in an HTTP request head (1..=256, default 100); more gets
    /// 431.
    pub fn max_headers(mut self, n: usize) -> Self {
        self.max_headers = n;
        self
    }

    /// Largest HTTP request body; larger gets 413.
    pub fn max_body_bytes(mut self, n: u64) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Pending output per connection above which the server stops reading from it
    /// until half of it has drained.
    pub fn max_output_bytes(mut self, n: usize) -> Self {
        self.max_output_bytes = n;
        self
    }

    /// Largest frame payload (frame protocol, default 1 MiB, up to 1 GiB); a longer
    /// frame is refused with `ERROR` as soon as its header arrives, and the
    /// connection closed.
    pub fn max_frame_bytes(mut self, n: usize) -> Self {
        self.max_frame_bytes = n;
        self
    }

    /// Largest WebSocket message (`ws` protocol, default 16 MiB, up to 1 GiB): the
    /// payload of all its frames, after decompression. A longer one is refused with
    /// close code 1009 as soon as a frame header (or the inflater) shows it would be
    /// longer, before it is buffered.
    pub fn max_message_bytes(mut self, n: usize) -> Self {
        self.max_message_bytes = n;
        self
    }

    /// Whether WebSocket connections may negotiate permessage-deflate (RFC 7692;
    /// default on): messages compressed when the client offers it.
    pub fn ws_deflate(mut self, on: bool) -> Self {
        self.ws_deflate = on;
        self
    }

    /// What happens to a room member whose output is over `max_output_bytes`.
    pub fn slow_consumer(mut self, policy: SlowConsumer) -> Self {
        self.slow_consumer = policy;
        self
    }

    /// How often `on_stats` is called.
    pub fn stats_interval(mut self, d: Duration) -> Self {
        self.stats_interval = d;
        self
    }

    /// A callback given a stats snapshot every `stats_interval` on the server's own
    /// stats thread. It may call `Server::stop` (stop then completes once it returns).
    pub fn on_stats(mut self, f: impl Fn(&Stats) + Send + Sync + 'static) -> Self {
        self.on_stats = Some(Arc::new(f));
        self
    }

    /// A route the HTTP server starts with (more can be added while it runs with
    /// `Server::add_route`). Routes are tried in the order given.
    pub fn route(mut self, route: Route) -> Self {
        self.routes.push(route);
        self
    }

    /// The status answered (with its reason phrase as body) when routes exist and
    /// none matches.
    pub fn unmatched_status(mut self, status: u16) -> Self {
        self.unmatched_status = status;
        self
    }

    /// Whether an HTTP server with no routes at all answers every request with the
    /// fixed `200 hello` response (the default, for benchmarks and smoke tests).
    /// `false` answers the unmatched status instead, as a server of expectations
    /// wants: a request nobody expected is an error even before the first route.
    pub fn fixed_response(mut self, on: bool) -> Self {
        self.fixed_response = on;
        self
    }

    /// Keep the last `n` requests (method, target, headers, body, connection id,
    /// time) for `Server::requests`; 0 (the default) records nothing.
    pub fn request_log(mut self, n: usize) -> Self {
        self.request_log = n;
        self
    }

    /// Bytes of each body kept in the request log (the rest is cut off;
    /// `Request::body_len` still gives the full length).
    pub fn request_log_body_bytes(mut self, n: usize) -> Self {
        self.request_log_body_bytes = n;
        self
    }

    /// Most threads running route handlers at once (1..=1024).
    pub fn handler_threads(mut self, n: usize) -> Self {
        self.handler_threads = n;
        self
    }

    /// A handler that has not returned after this long is answered 500 (and counted
    /// in `Stats::handler_errors`); its late result is dropped.
    pub fn handler_timeout(mut self, d: Duration) -> Self {
        self.handler_timeout = d;
        self
    }

    /// Shares this server's rooms with every other server given the same broker
    /// (frame protocol): `redis://[[user]:password@]host[:port][/db]`. A room's
    /// frames reach its members on all of them. The broker is reached off the I/O
    /// threads; start does not wait for it (an unreachable broker is retried, and
    /// [`Stats::backplane`](crate::Stats::backplane) says how the link stands). A
    /// malformed URL is rejected by `validate` (field `backplane`).
    pub fn backplane(mut self, url: impl Into<String>) -> Self {
        self.backplane = Some(url.into());
        self
    }

    /// Serve the stats as Prometheus text at `http://ADDR/metrics`, from a small
    /// HTTP endpoint of the server's own on this address (`host:port`; port 0 picks
    /// a free one: `Server::metrics_addr`). A scrape never runs on the I/O threads.
    pub fn metrics(mut self, addr: impl Into<String>) -> Self {
        self.metrics = Some(addr.into());
        self
    }

    /// The configured protocol.
    pub fn get_protocol(&self) -> Protocol {
        self.protocol
    }

    /// The configured number of workers.
    pub fn get_workers(&self) -> usize {
        self.workers
    }
}
