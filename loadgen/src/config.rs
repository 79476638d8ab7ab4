//! What to run: [`BenchConfig`], a builder checked by [`BenchConfig::validate`] (a
//! bad value is a [`ConfigError`] naming its field, as the server's are), and the
//! target it names.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use pierhead::Protocol;
pub use pierhead::{ConfigError, ConfigProblem};

/// What the generator speaks to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchProtocol {
    /// HTTP/1.1 requests on keep-alive connections; every response is checked
    /// (status line, headers, Content-Length or chunked body).
    Http,
    /// A payload per request that must come back byte for byte (an echo server).
    Echo,
    /// The frame protocol: members join a room, publishers send data frames; the
    /// latency of a frame is from its send until a member has it.
    Frame,
    /// WebSocket (`ws://host:port/path`): at `/`, messages that must come back
    /// byte for byte (an echo server); at `/<room>`, the room's members and
    /// publishers, as for `Frame`.
    Ws,
}

impl BenchProtocol {
    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            BenchProtocol::Http => "http",
            BenchProtocol::Echo => "echo",
            BenchProtocol::Frame => "frame",
            BenchProtocol::Ws => "ws",
        }
    }
}

/// The server's protocol names (parsed by the core), less `discard`, which answers
/// nothing to measure.
impl std::str::FromStr for BenchProtocol {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.parse() {
            Ok(Protocol::Http) => Ok(BenchProtocol::Http),
            Ok(Protocol::Echo) => Ok(BenchProtocol::Echo),
            Ok(Protocol::Frame) => Ok(BenchProtocol::Frame),
            Ok(Protocol::Ws) => Ok(BenchProtocol::Ws),
            Ok(Protocol::Discard) | Err(_) => Err(ConfigError {
                field: "protocol",
                problem: ConfigProblem::UnknownName {
                    got: s.to_owned(),
                    expected: "http, echo, frame, ws",
                },
            }),
        }
    }
}

/// Once a second while a run goes on: what the last second did (measured phase
/// and warm-up alike).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Seconds since the run started (warm-up included).
    pub elapsed: Duration,
    /// True during `warmup`.
    pub warming_up: bool,
    /// Answers completed in the last second.
    pub requests: u64,
    /// Errors in the last second.
    pub errors: u64,
    /// Connections open now.
    pub connections: u64,
}

/// Called once a second with [`Progress`], on the thread that called `run`.
pub type ProgressCallback = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A load generator run. Build it with chained setters:
///
/// ```
/// use pierhead_loadgen::BenchConfig;
/// use std::time::Duration;
/// let c = BenchConfig::new("http://127.0.0.1:8080/health")
///     .connections(128)
///     .duration(Duration::from_secs(10))
///     .pipeline(16);
/// assert!(c.validate().is_ok());
/// ```
#[derive(Clone)]
pub struct BenchConfig {
    pub(crate) target: String,
    pub(crate) protocol: Option<BenchProtocol>,
    pub(crate) connections: usize,
    pub(crate) threads: usize,
    pub(crate) duration: Duration,
    pub(crate) requests: Option<u64>,
    pub(crate) warmup: Duration,
    pub(crate) pipeline: usize,
    pub(crate) rate: Option<f64>,
    pub(crate) method: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) timeout: Duration,
    pub(crate) room: String,
    pub(crate) publishers: usize,
    pub(crate) ws_text: bool,
    pub(crate) progress: Option<ProgressCallback>,
}

impl std::fmt::Debug for BenchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchConfig")
            .field("target", &self.target)
            .field("protocol", &self.protocol)
            .field("connections", &self.connections)
            .field("threads", &self.threads)
            .field("duration", &self.duration)
            .field("requests", &self.requests)
            .field("warmup", &self.warmup)
            .field("pipeline", &self.pipeline)
            .field("rate", &self.rate)
            .field("method", &self.method)
            .field("headers", &self.headers)
            .field("body_len", &self.body.len())
            .field("timeout", &self.timeout)
            .field("room", &self.room)
            .field("publishers", &self.publishers)
            .field("ws_text", &self.ws_text)
            .finish()
    }
}

/// How long choosing among a name's addresses waits for each.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// Most connections per run.
pub const MAX_CONNECTIONS: usize = 1_000_000;
/// Most threads per run.
pub const MAX_THREADS: usize = 256;
/// Deepest pipeline.
pub const MAX_PIPELINE: usize = 1024;

impl BenchConfig {
    /// A run against `target`: an `http://host:port/path` URL, a
    /// `ws://host:port/path` URL (`/`: echo; `/<room>`: the room's members and
    /// [`BenchConfig::publishers`] publishers), or `host:port` with
    /// [`BenchConfig::protocol`] `echo` or `frame`. The defaults: 64
    /// connections on one thread for 10 s, closed loop, no pipelining, `GET`, a 2 s
    /// timeout per answer; echo sends 64-byte payloads; frame uses room `bench`
    /// with one publisher.
    pub fn new(target: impl Into<String>) -> BenchConfig {
        BenchConfig {
            target: target.into(),
            protocol: None,
            connections: 64,
            threads: 1,
            duration: Duration::from_secs(10),
            requests: None,
            warmup: Duration::ZERO,
            pipeline: 1,
            rate: None,
            method: "GET".to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(2),
            room: "bench".to_owned(),
            publishers: 1,
            ws_text: false,
            progress: None,
        }
    }

    /// `http` (implied by an `http://` target), `echo`, `frame` or `ws` (implied
    /// by a `ws://` target).
    pub fn protocol(mut self, p: BenchProtocol) -> Self {
        self.protocol = Some(p);
        self
    }

    /// Connections kept open, spread over the threads.
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n;
        self
    }

    /// Event-loop threads (each with its own connections and histograms).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// How long the measured phase lasts (after the warm-up).
    pub fn duration(mut self, d: Duration) -> Self {
        self.duration = d;
        self
    }

    /// Stop after this many answers instead of after a duration.
    pub fn requests(mut self, n: u64) -> Self {
        self.requests = Some(n);
        self
    }

    /// Load the target this long before measuring (nothing recorded meanwhile; an
    /// open-loop schedule runs on through it without a pause).
    pub fn warmup(mut self, d: Duration) -> Self {
        self.warmup = d;
        self
    }

    /// Requests in flight per connection: closed loop sends them in one write and
    /// the next batch when all are answered; open loop lets this many be
    /// outstanding.
    pub fn pipeline(mut self, n: usize) -> Self {
        self.pipeline = n;
        self
    }

    /// Open loop: this many requests per second over all connections, each
    /// connection on its own schedule; latency counts from the intended send time.
    pub fn rate(mut self, per_second: f64) -> Self {
        self.rate = Some(per_second);
        self
    }

    /// Closed loop (the default): each connection sends as soon as it is answered.
    pub fn closed_loop(mut self) -> Self {
        self.rate = None;
        self
    }

    /// The HTTP method (default `GET`).
    pub fn method(mut self, m: impl Into<String>) -> Self {
        self.method = m.into();
        self
    }

    /// An HTTP request header (repeatable; `Host` replaces the default one).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The request body (HTTP, sent with Content-Length) or the echo payload.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A body (or echo payload) of `n` bytes.
    pub fn body_size(mut self, n: usize) -> Self {
        self.body = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
        self
    }

    /// An answer not complete this long after its send is a timeout error; the
    /// connection is closed and opened again.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Frame protocol: the room to load.
    pub fn room(mut self, room: impl Into<String>) -> Self {
        self.room = room.into();
        self
    }

    /// Frame protocol and WebSocket rooms: how many of the connections publish
    /// (the others only receive).
    pub fn publishers(mut self, n: usize) -> Self {
        self.publishers = n;
        self
    }

    /// WebSocket echo: send text messages instead of binary ones (rooms always
    /// send binary: the stamp is binary).
    pub fn ws_text(mut self, text: bool) -> Self {
        self.ws_text = text;
        self
    }

    /// Called once a second during the run, on the calling thread.
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// The target as given.
    pub fn get_target(&self) -> &str {
        &self.target
    }

    /// The requested rate, if open loop.
    pub fn get_rate(&self) -> Option<f64> {
        self.rate
    }

    /// Checks every field; the first bad one is reported by name.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.resolve().map(|_| ())
    }

    /// Validates and resolves the target.
    pub(crate) fn resolve(&self) -> Result<Resolved, ConfigError> {
        let target = Target::parse(&self.target, self.protocol)?;
        range(
            "connections",
            self.connections as u64,
            1,
            MAX_CONNECTIONS as u64,
        )?;
        range("threads", self.threads as u64, 1, MAX_THREADS as u64)?;
        if self.threads > self.connections {
            return Err(problem(
                "threads",
                ConfigProblem::TooLarge {
                    max: self.connections as u64,
                    got: self.threads as u64,
                },
            ));
        }
        range("pipeline", self.pipeline as u64, 1, MAX_PIPELINE as u64)?;
        if self.requests.is_none() && self.duration.is_zero() {
            return Err(problem("duration", ConfigProblem::ZeroDuration));
        }
        if let Some(n) = self.requests {
            range("requests", n, 1, u64::MAX)?;
        }
        if self.timeout.is_zero() {
            return Err(problem("timeout", ConfigProblem::ZeroDuration));
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                return Err(problem(
                    "rate",
                    ConfigProblem::Malformed {
                        got: r.to_string(),
                        expected: "a positive number of requests per second",
                    },
                ));
            }
        }
        if target.protocol == BenchProtocol::Http {
            let m = &self.method;
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(problem(
                    "method",
                    ConfigProblem::Malformed {
                        got: m.clone(),
                        expected: "an HTTP method token such as GET or POST",
                    },
                ));
            }
            for (name, value) in &self.headers {
                let bad_name = name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
                if bad_name || value.bytes().any(|b| b == b'\r' || b == b'\n') {
                    return Err(problem(
                        "header",
                        ConfigProblem::Malformed {
                            got: format!("{name}: {value}"),
                            expected: "`Name: value` with a token name and no line break",
                        },
                    ));
                }
            }
        }
        if target.protocol == BenchProtocol::Frame
            && (self.room.is_empty() || self.room.len() > pierhead::frame::MAX_ROOM_BYTES)
        {
            return Err(problem(
                "room",
                ConfigProblem::Malformed {
                    got: self.room.clone(),
                    expected: "a room name of 1 to 64 bytes",
                },
            ));
        }
        if let Some(room) = target.ws_room() {
            if room.len() > pierhead::frame::MAX_ROOM_BYTES {
                return Err(problem(
                    "target",
                    ConfigProblem::Malformed {
                        got: self.target.clone(),
                        expected: "a ws:// URL whose path (the room) is 1 to 64 bytes",
                    },
                ));
            }
        }
        if target.fans_out() {
            range(
                "publishers",
                self.publishers as u64,
                1,
                self.connections as u64,
            )?;
        }
        Ok(Resolved { target })
    }
}

/// A validated config's target.
pub(crate) struct Resolved {
    pub(crate) target: Target,
}

impl Resolved {
    /// The room loaded: the config's (frame protocol), the URL's path's
    /// (WebSocket rooms), none otherwise.
    pub(crate) fn room(&self, config: &BenchConfig) -> String {
        match (self.target.protocol, self.target.ws_room()) {
            (BenchProtocol::Frame, _) => config.room.clone(),
            (_, Some(room)) => room.to_owned(),
            _ => String::new(),
        }
    }
}

/// Where the load goes.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) protocol: BenchProtocol,
    /// The address connected to.
    pub(crate) addr: SocketAddr,
    /// `host[:port]` as given, for the Host header.
    pub(crate) authority: String,
    /// Path and query (HTTP), `/` when the URL has none.
    pub(crate) path: String,
}

impl Target {
    /// WebSocket rooms: the room the URL's path names (its path less the leading
    /// `/` and any query); `None` for `/` (echo) and for other protocols.
    pub(crate) fn ws_room(&self) -> Option<&str> {
        if self.protocol != BenchProtocol::Ws {
            return None;
        }
        let path = self.path.split('?').next().unwrap_or_default();
        Some(path.trim_start_matches('/')).filter(|r| !r.is_empty())
    }

    /// One publisher, many members: the frame protocol, WebSocket rooms.
    pub(crate) fn fans_out(&self) -> bool {
        self.protocol == BenchProtocol::Frame || self.ws_room().is_some()
    }

    fn parse(text: &str, protocol: Option<BenchProtocol>) -> Result<Target, ConfigError> {
        let bad = |expected: &'static str| {
            problem(
                "target",
                ConfigProblem::Malformed {
                    got: text.to_owned(),
                    expected,
                },
            )
        };
        let (protocol, rest) = match (text.split_once("://"), protocol) {
            (Some(("http", rest)), None | Some(BenchProtocol::Http)) => (BenchProtocol::Http, rest),
            (Some(("https", _)), _) => {
                return Err(bad(
                    "an http:// URL (https is not supported by the generator yet)",
                ))
            }
            (Some(("ws", rest)), None | Some(BenchProtocol::Ws)) => (BenchProtocol::Ws, rest),
            (Some(("wss", _)), _) => {
                return Err(bad(
                    "a ws:// URL (wss, WebSocket over TLS, is not supported by the generator yet)",
                ))
            }
            (_, Some(BenchProtocol::Ws)) => return Err(bad("a ws://host:port/path URL")),
            (Some((_, _)), Some(p)) if p != BenchProtocol::Http => {
                return Err(bad("host:port (no URL) for the echo and frame protocols"))
            }
            (Some(_), _) => {
                return Err(bad("an http:// or ws:// host:port/path URL, or host:port"))
            }
            (None, Some(p)) if p != BenchProtocol::Http => (p, text),
            (None, _) => {
                return Err(bad(
                    "an http://host:port/path URL, or host:port with protocol echo or frame",
                ))
            }
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        if authority.is_empty() {
            return Err(bad("a target with a host"));
        }
        let with_port = if authority.rsplit_once(':').is_some_and(|(h, p)| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (!h.contains(':') || h.ends_with(']'))
        }) {
            authority.to_owned()
        } else if matches!(protocol, BenchProtocol::Http | BenchProtocol::Ws) {
            format!("{authority}:80")
        } else {
            return Err(bad("host:port"));
        };
        let addrs: Vec<SocketAddr> = with_port
            .to_socket_addrs()
            .map_err(|e| {
                problem(
                    "target",
                    ConfigProblem::BadAddress {
                        got: with_port.clone(),
                        reason: e.to_string(),
                    },
                )
            })?
            .collect();
        // A name with several addresses (`localhost`: ::1 and 127.0.0.1): the
        // first that accepts a connection, as a client library would.
        let addr = match addrs.as_slice() {
            [] => {
                return Err(problem(
                    "target",
                    ConfigProblem::BadAddress {
                        got: with_port.clone(),
                        reason: "resolves to no address".to_owned(),
                    },
                ))
            }
            [one] => *one,
            many => *many
                .iter()
                .find(|a| TcpStream::connect_timeout(a, PROBE_TIMEOUT).is_ok())
                .unwrap_or(&many[0]),
        };
        Ok(Target {
            protocol,
            addr,
            authority: authority.to_owned(),
            path,
        })
    }
}

fn problem(field: &'static str, problem: ConfigProblem) -> ConfigError {
    ConfigError { field, problem }
}

fn range(field: &'static str, got: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if got < min {
        Err(problem(field, ConfigProblem::TooSmall { min, got }))
    } else if got > max {
        Err(problem(field, ConfigProblem::TooLarge { max, got }))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("http://127.0.0.1:8080/a?b=1", None).unwrap();
        assert_eq!(
            (t.protocol, t.path.as_str()),
            (BenchProtocol::Http, "/a?b=1")
        );
        assert_eq!(t.addr.port(), 8080);
        let t = Target::parse("http://localhost", None).unwrap();
        assert_eq!((t.addr.port(), t.path.as_str()), (80, "/"));
        let t = Target::parse("[::1]:7000", Some(BenchProtocol::Echo)).unwrap();
        assert!(t.addr.is_ipv6());
        let t = Target::parse("ws://127.0.0.1:9/", None).unwrap();
        assert_eq!(
            (t.protocol, t.ws_room(), t.fans_out()),
            (BenchProtocol::Ws, None, false)
        );
        let t = Target::parse("ws://127.0.0.1:9/lobby?x=1", None).unwrap();
        assert_eq!((t.ws_room(), t.fans_out()), (Some("lobby"), true));
        for (bad, p) in [
            ("127.0.0.1:80", None),
            ("https://h:1/", None),
            ("http://h:1/", Some(BenchProtocol::Echo)),
            ("localhost", Some(BenchProtocol::Frame)),
            ("http://:80/", None),
            ("wss://h:1/", None),
            ("127.0.0.1:80", Some(BenchProtocol::Ws)),
            ("http://127.0.0.1:80/", Some(BenchProtocol::Ws)),
        ] {
            assert_eq!(Target::parse(bad, p).unwrap_err().field, "target", "{bad}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let base = || BenchConfig::new("http://127.0.0.1:1/");
        assert_eq!(
            base().connections(0).validate().unwrap_err().field,
            "connections"
        );
        assert_eq!(base().threads(0).validate().unwrap_err().field, "threads");
        assert_eq!(
            base()
                .connections(2)
                .threads(3)
                .validate()
                .unwrap_err()
                .field,
            "threads"
        );
        assert_eq!(base().pipeline(0).validate().unwrap_err().field, "pipeline");
        assert_eq!(base().rate(0.0).validate().unwrap_err().field, "rate");
        assert_eq!(base().rate(f64::NAN).validate().unwrap_err().field, "rate");
        assert_eq!(
            base()
                .duration(Duration::ZERO)
                .validate()
                .unwrap_err()
                .field,
            "duration"
        );
        assert!(base()
            .duration(Duration::ZERO)
            .requests(5)
            .validate()
            .is_ok());
        assert_eq!(
            base().timeout(Duration::ZERO).validate().unwrap_err().field,
            "timeout"
        );
        assert_eq!(base().method("G T").validate().unwrap_err().field, "method");
        assert_eq!(
            base().header("a b", "c").validate().unwrap_err().field,
            "header"
        );
        assert_eq!(
            base().header("x", "c\r\nd").validate().unwrap_err().field,
            "header"
        );
        let frame = BenchConfig::new("127.0.0.1:1").protocol(BenchProtocol::Frame);
        assert_eq!(frame.clone().room("").validate().unwrap_err().field, "room");
        assert_eq!(
            frame.publishers(0).validate().unwrap_err().field,
            "publishers"
        );
        assert_eq!(
            "gopher".parse::<BenchProtocol>().unwrap_err().field,
            "protocol"
        );
        // The server's names, less discard.
        assert_eq!("ECHO".parse::<BenchProtocol>(), Ok(BenchProtocol::Echo));
        let e = "discard".parse::<BenchProtocol>().unwrap_err();
        assert!(
            e.to_string().ends_with("one of: http, echo, frame, ws"),
            "{e}"
        );
        assert_eq!("ws".parse::<BenchProtocol>(), Ok(BenchProtocol::Ws));
        let long = format!("ws://127.0.0.1:1/{}", "r".repeat(65));
        assert_eq!(
            BenchConfig::new(long).validate().unwrap_err().field,
            "target"
        );
        let e = BenchConfig::new("wss://127.0.0.1:1/")
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("wss"), "{e}");
    }
}
