//! Server configuration: a builder whose values are checked by [`Config::validate`]
//! (also called by `Server::start`), so that a bad value is an error naming its field.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::backplane::BackplaneUrl;
use crate::routing::Route;
use crate::stats::Stats;
use crate::tls::{BadCert, TlsCert, TlsFault, TlsOptions};

/// The protocol a server speaks on every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Read and drop everything (RFC 863).
    Discard,
    /// Send back every byte received, in order (RFC 862).
    Echo,
    /// HTTP/1.1 (and 1.0) with keep-alive and pipelining.
    Http,
    /// Length-prefixed binary frames with rooms and broadcast.
    Frame,
}

impl Protocol {
    /// The protocol's name as used on the command line and in bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Discard => "discard",
            Protocol::Echo => "echo",
            Protocol::Http => "http",
            Protocol::Frame => "frame",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.to_ascii_lowercase().as_str() {
            "discard" => Ok(Protocol::Discard),
            "echo" => Ok(Protocol::Echo),
            "http" => Ok(Protocol::Http),
            "frame" => Ok(Protocol::Frame),
            _ => Err(ConfigError {
                field: "protocol",
                problem: ConfigProblem::UnknownName {
                    got: s.to_owned(),
                    expected: "discard, echo, http, frame",
                },
            }),
        }
    }
}

/// What happens to a room member whose pending output is over `max_output_bytes`
/// when a broadcast frame arrives for it (frame protocol). The publisher and the
/// other members are never held back; every drop and disconnect is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SlowConsumer {
    /// Send `ERROR "slow consumer"` (best effort) and close it.
    #[default]
    Disconnect,
    /// Drop the frames that do not fit, for that member.
    DropNewest,
    /// Drop queued broadcast frames from the front to make room (a frame partly
    /// sent is finished first, so the stream never breaks mid-frame).
    DropOldest,
}

impl SlowConsumer {
    /// The policy's name as used on the command line and in bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            SlowConsumer::Disconnect => "disconnect",
            SlowConsumer::DropNewest => "drop_newest",
            SlowConsumer::DropOldest => "drop_oldest",
        }
    }
}

impl FromStr for SlowConsumer {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "disconnect" => Ok(SlowConsumer::Disconnect),
            "drop_newest" => Ok(SlowConsumer::DropNewest),
            "drop_oldest" => Ok(SlowConsumer::DropOldest),
            _ => Err(ConfigError {
                field: "slow_consumer",
                problem: ConfigProblem::UnknownName {
                    got: s.to_owned(),
                    expected: "disconnect, drop_newest, drop_oldest",
                },
            }),
        }
    }
}

/// Why a config value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigProblem {
    /// A number below its minimum.
    #[error("must be at least {min}, got {got}")]
    TooSmall {
        /// Smallest accepted value.
        min: u64,
        /// The value given.
        got: u64,
    },
    /// A number above its maximum.
    #[error("must be at most {max}, got {got}")]
    TooLarge {
        /// Largest accepted value.
        max: u64,
        /// The value given.
        got: u64,
    },
    /// A duration that must not be zero.
    #[error("must be longer than zero")]
    ZeroDuration,
    /// An address that does not parse or resolve.
    #[error("`{got}` is not a usable socket address: {reason}")]
    BadAddress {
        /// The text given.
        got: String,
        /// What parsing or resolving said.
        reason: String,
    },
    /// Text that does not have the required form.
    #[error("`{got}` is not {expected}")]
    Malformed {
        /// The text given.
        got: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A value that does not go with the rest of the config.
    #[error("needs {needs}")]
    Requires {
        /// What it needs.
        needs: &'static str,
    },
    /// A name that is not one of the accepted ones.
    #[error("`{got}` is not one of: {expected}")]
    UnknownName {
        /// The text given.
        got: String,
        /// The accepted names.
        expected: &'static str,
    },
}

/// A rejected config value: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid config field `{field}`: {problem}")]
pub struct ConfigError {
    /// The name of the field (as in the builder method and the CLI flag).
    pub field: &'static str,
    /// What is wrong with its value.
    pub problem: ConfigProblem,
}

/// Called with a stats snapshot every `stats_interval`, on the server's stats thread
/// (never on an I/O thread). It may call `Server::stop`.
pub type StatsCallback = Arc<dyn Fn(&Stats) + Send + Sync + 'static>;

/// Upper bound on `workers`.
pub const MAX_WORKERS: usize = 256;

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

    fn tls_options(&mut self) -> &mut TlsOptions {
        self.tls.get_or_insert(TlsOptions {
            cert: TlsCert::Auto,
            bad_cert: None,
            ca_out: None,
            client_ca: None,
            fault: None,
        })
    }

    /// Speak TLS with this certificate chain and private key (PEM files), for
    /// every protocol. The files are read at start (a bad one is a
    /// `StartError::Tls` naming it).
    pub fn tls_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls_options().cert = TlsCert::Files {
            cert: cert.into(),
            key: key.into(),
        };
        self
    }

    /// Speak TLS with a throwaway CA and a leaf for `localhost`, `127.0.0.1` and
    /// `::1` made at start (ECDSA P-256); `Server::tls_ca_pem` gives the CA.
    pub fn tls_auto(mut self) -> Self {
        self.tls_options().cert = TlsCert::Auto;
        self
    }

    /// With `tls_auto`: also write the CA (PEM) to this file at start, for
    /// clients to trust.
    pub fn tls_auto_ca_out(mut self, path: impl Into<PathBuf>) -> Self {
        let o = self.tls_options();
        o.cert = TlsCert::Auto;
        o.ca_out = Some(path.into());
        self
    }

    /// With `tls_auto`: a leaf certificate that misbehaves on purpose (expired, not
    /// yet valid, for the wrong host, self-signed, or from a CA that is not the
    /// exported one), for testing how clients refuse it.
    pub fn tls_bad_cert(mut self, bad: BadCert) -> Self {
        self.tls_options().bad_cert = Some(bad);
        self
    }

    /// Require client certificates signed by this CA (PEM file): mutual TLS.
    pub fn tls_client_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_options().client_ca = Some(path.into());
        self
    }

    /// A handshake that misbehaves on purpose (stall, reset, garbage, no
    /// close_notify), for testing clients' failure paths.
    pub fn tls_fault(mut self, fault: TlsFault) -> Self {
        self.tls_options().fault = Some(fault);
        self
    }

    /// Session resumption (default on, as with nginx and OpenSSL): each handshake
    /// ends with session tickets (stateless, two in TLS 1.3) that let a client
    /// resume with a short handshake. Off: no tickets, every connection makes a
    /// full handshake. It applies once TLS is on (it does not turn TLS on).
    pub fn tls_resumption(mut self, on: bool) -> Self {
        self.tls_resumption = on;
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

    /// Checks every field; the first bad one is reported by name.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.resolve_bind()?;
        range("workers", self.workers as u64, 1, MAX_WORKERS as u64)?;
        range(
            "max_connections",
            self.max_connections as u64,
            1,
            10_000_000,
        )?;
        range("listen_backlog", self.listen_backlog as u64, 1, 65_535)?;
        nonzero("idle_timeout", self.idle_timeout)?;
        nonzero("header_timeout", self.header_timeout)?;
        nonzero("write_timeout", self.write_timeout)?;
        nonzero("stats_interval", self.stats_interval)?;
        range(
            "max_header_bytes",
            self.max_header_bytes as u64,
            64,
            1 << 24,
        )?;
        range(
            "max_headers",
            self.max_headers as u64,
            1,
            crate::service::http::head::MAX_HEADERS as u64,
        )?;
        range("max_body_bytes", self.max_body_bytes, 0, 1 << 40)?;
        range(
            "max_output_bytes",
            self.max_output_bytes as u64,
            1024,
            1 << 32,
        )?;
        range("max_frame_bytes", self.max_frame_bytes as u64, 1, 1 << 30)?;
        check_unmatched_status(self.unmatched_status)?;
        range("request_log", self.request_log as u64, 0, 10_000_000)?;
        range("handler_threads", self.handler_threads as u64, 1, 1024)?;
        nonzero("handler_timeout", self.handler_timeout)?;
        for route in &self.routes {
            route.validate()?;
        }
        self.backplane_url()?;
        if let Some(addr) = &self.metrics {
            resolve("metrics", addr)?;
        }
        if let Some(t) = &self.tls {
            if t.bad_cert.is_some() && t.cert != TlsCert::Auto {
                return Err(ConfigError {
                    field: "tls_bad_cert",
                    problem: ConfigProblem::Requires {
                        needs: "generated certificates (tls_auto), not certificate files",
                    },
                });
            }
        }
        Ok(())
    }

    /// The backplane's URL, parsed, if one is set; it needs the frame protocol.
    pub(crate) fn backplane_url(&self) -> Result<Option<BackplaneUrl>, ConfigError> {
        let Some(text) = &self.backplane else {
            return Ok(None);
        };
        let url = BackplaneUrl::parse(text)?;
        if self.protocol != Protocol::Frame {
            return Err(ConfigError {
                field: "backplane",
                problem: ConfigProblem::Requires {
                    needs: "the frame protocol (rooms are what it shares)",
                },
            });
        }
        Ok(Some(url))
    }

    /// The listen address, parsed, or resolved when it names a host.
    pub(crate) fn resolve_bind(&self) -> Result<SocketAddr, ConfigError> {
        resolve("bind", &self.bind)
    }
}

/// A socket address, parsed, or resolved when it names a host; a bad one is an
/// error for `field`.
fn resolve(field: &'static str, text: &str) -> Result<SocketAddr, ConfigError> {
    let bad = |reason: String| ConfigError {
        field,
        problem: ConfigProblem::BadAddress {
            got: text.to_owned(),
            reason,
        },
    };
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let mut addrs = text.to_socket_addrs().map_err(|e| bad(e.to_string()))?;
    addrs
        .next()
        .ok_or_else(|| bad("resolves to no address".to_owned()))
}

/// Parses a byte size as the command lines take it: a number of bytes, or one with
/// a binary unit: `k`, `m`, `g` (any case, optionally followed by `b`, `ib`),
/// e.g. `65536`, `64k`, `10MiB`, `1g`. Shared by the CLI and `python -m pierhead`.
pub fn parse_size(text: &str) -> Result<u64, ConfigProblem> {
    let bad = || ConfigProblem::Malformed {
        got: text.to_owned(),
        expected: "a size in bytes, optionally with k, m or g (KiB, MiB, GiB)",
    };
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad());
    }
    let n: u64 = t[..digits].parse().map_err(|_| bad())?;
    let unit = t[digits..].trim().to_ascii_lowercase();
    let shift = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(bad()),
    };
    n.checked_mul(1 << shift).ok_or_else(bad)
}

fn range(field: &'static str, got: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if got < min {
        Err(ConfigError {
            field,
            problem: ConfigProblem::TooSmall { min, got },
        })
    } else if got > max {
        Err(ConfigError {
            field,
            problem: ConfigProblem::TooLarge { max, got },
        })
    } else {
        Ok(())
    }
}

fn nonzero(field: &'static str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() {
        Err(ConfigError {
            field,
            problem: ConfigProblem::ZeroDuration,
        })
    } else {
        Ok(())
    }
}

/// The unmatched status must be a three-digit status code.
pub(crate) fn check_unmatched_status(status: u16) -> Result<(), ConfigError> {
    range("unmatched_status", status.into(), 100, 999)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_finite() {
        let c = Config::new();
        c.validate().unwrap();
        assert!(c.idle_timeout < Duration::from_secs(3600));
    }

    #[test]
    fn errors_name_the_field() {
        let e = Config::new().workers(0).validate().unwrap_err();
        assert_eq!(e.field, "workers");
        assert!(e.to_string().contains("`workers`"), "{e}");
        let e = Config::new().bind("not an address").validate().unwrap_err();
        assert_eq!(e.field, "bind");
        let e = Config::new()
            .idle_timeout(Duration::ZERO)
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "idle_timeout");
        let e = Config::new().max_connections(0).validate().unwrap_err();
        assert_eq!(e.field, "max_connections");
        let e = Config::new()
            .protocol(Protocol::Frame)
            .backplane("localhost:6379")
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "backplane");
        let e = Config::new()
            .backplane("redis://localhost:6379")
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "backplane");
        assert!(e.to_string().contains("frame protocol"), "{e}");
        Config::new()
            .protocol(Protocol::Frame)
            .backplane("redis://localhost:6379/1")
            .validate()
            .unwrap();
        let e = "gopher".parse::<Protocol>().unwrap_err();
        assert_eq!(e.field, "protocol");
        assert!(e.to_string().contains("gopher"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("1 g"), Ok(1 << 30));
        assert_eq!(parse_size("2KB"), Ok(2048));
        for bad in ["", "k", "1.5m", "-1", "1t", "99999999999999999999"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bind_accepts_ipv6_and_hostnames() {
        assert!(Config::new()
            .bind("[::1]:0")
            .resolve_bind()
            .unwrap()
            .is_ipv6());
        assert!(Config::new().bind("localhost:0").resolve_bind().is_ok());
    }
}
