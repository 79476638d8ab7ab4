//! The seam's two capabilities that the shipped services do not use yet, shown
//! with services of the tests' own over real loopback sockets: a session that
//! switches protocol mid-connection and has its unread input fed again (as
//! HTTP/1.1 `Upgrade` will), and a session that owns an outbound connection the
//! engine dials and drives in the same worker, with backpressure both ways (as
//! the fault proxy will).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::run::Services;
use super::{Cx, Next, Progress, Service, Upstream};
use crate::engine::{self, WorkerReport, WorkerSetup};
use crate::server_core::ServerCore;
use crate::{Config, Server};

/// Lines answered in capitals until `SWITCH`, after which every byte is echoed.
struct Switcher;

#[derive(Default)]
struct SwitchSession {
    echo: bool,
}

impl Service for Switcher {
    type Session = SwitchSession;
    type Event = ();
    type Own = ();

    fn start(_: usize, _: &Arc<ServerCore>, _: &()) -> Switcher {
        Switcher
    }

    fn open(&mut self) -> SwitchSession {
        SwitchSession::default()
    }

    fn on_input(&mut self, s: &mut SwitchSession, input: &[u8], cx: &mut Cx<'_>) -> Progress {
        if s.echo {
            cx.out.extend_from_slice(input);
            return Progress::all(input);
        }
        let mut pos = 0;
        while let Some(end) = input[pos..].iter().position(|&b| b == b'\n') {
            let line = &input[pos..pos + end];
            pos += end + 1;
            if line == b"SWITCH" {
                s.echo = true;
                return Progress {
                    consumed: pos,
                    next: Next::Switched,
                };
            }
            cx.out.extend_from_slice(&line.to_ascii_uppercase());
            cx.out.extend_from_slice(b"\n");
        }
        Progress {
            consumed: pos,
            next: Next::Continue,
        }
    }
}

fn run_switcher(setup: WorkerSetup, shared: Arc<ServerCore>, _: Arc<Services>) -> WorkerReport {
    engine::run::<Switcher>(setup, shared, Arc::new(()))
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn a_session_switches_protocol_and_its_unread_input_is_fed_again() {
    let server = Server::start_with(Config::new().workers(1), run_switcher).unwrap();
    let mut c = connect(server.local_addr());
    // One write: a line, the switch, and bytes for the new protocol after it.
    c.write_all(b"hello\nSWITCH\nraw bytes, no newline")
        .unwrap();
    let want = b"HELLO\nraw bytes, no newline";
    let mut got = vec![0u8; want.len()];
    c.read_exact(&mut got).unwrap();
    assert_eq!(got, want);
    c.write_all(b"more\n").unwrap();
    let mut more = [0u8; 5];
    c.read_exact(&mut more).unwrap();
    assert_eq!(
        &more, b"more\n",
        "echoed, not upper-cased: the switch holds"
    );
}

/// `CONNECT host:port\n`, then every byte goes to that upstream and back.
struct Forward;

#[derive(Default)]
struct ForwardSession {
    dialled: bool,
    failed: Option<std::io::ErrorKind>,
}

impl Service for Forward {
    type Session = ForwardSession;
    type Event = ();
    type Own = ();

    fn start(_: usize, _: &Arc<ServerCore>, _: &()) -> Forward {
        Forward
    }

    fn open(&mut self) -> ForwardSession {
        ForwardSession::default()
    }

    fn on_input(&mut self, s: &mut ForwardSession, input: &[u8], cx: &mut Cx<'_>) -> Progress {
        if s.dialled {
            cx.upstream_out().extend_from_slice(input);
            return Progress::all(input);
        }
        let Some(end) = input.iter().position(|&b| b == b'\n') else {
            return Progress {
                consumed: 0,
                next: Next::Continue,
            };
        };
        let addr = std::str::from_utf8(&input[..end])
            .ok()
            .and_then(|l| l.strip_prefix("CONNECT "))
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            return Progress {
                consumed: input.len(),
                next: Next::Close,
            };
        };
        cx.dial(addr);
        s.dialled = true;
        // What follows the line is for the upstream (queued until connected).
        cx.upstream_out().extend_from_slice(&input[end + 1..]);
        Progress::all(input)
    }

    fn on_upstream(
        &mut self,
        s: &mut ForwardSession,
        what: Upstream<'_>,
        cx: &mut Cx<'_>,
    ) -> Progress {
        match what {
            Upstream::Connected => Progress {
                consumed: 0,
                next: Next::Continue,
            },
            Upstream::Data(bytes) => {
                cx.out.extend_from_slice(bytes);
                Progress::all(bytes)
            }
            Upstream::Eof => Progress {
                consumed: 0,
                next: Next::Close,
            },
            Upstream::Failed(kind) => {
                s.failed = Some(kind);
                cx.out
                    .extend_from_slice(format!("FAILED {kind:?}\n").as_bytes());
                Progress {
                    consumed: 0,
                    next: Next::Close,
                }
            }
        }
    }
}

fn run_forward(setup: WorkerSetup, shared: Arc<ServerCore>, _: Arc<Services>) -> WorkerReport {
    engine::run::<Forward>(setup, shared, Arc::new(()))
}

/// An upstream echo server: one connection, echoing until EOF.
fn echo_upstream() -> (SocketAddr, thread::JoinHandle<u64>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return total,
                Ok(n) => {
                    total += n as u64;
                    if s.write_all(&buf[..n]).is_err() {
                        return total;
                    }
                }
            }
        }
    });
    (addr, t)
}

#[test]
fn a_session_owns_an_outbound_connection_driven_in_the_same_worker() {
    let server = Server::start_with(
        Config::new().workers(1).max_output_bytes(64 << 10),
        run_forward,
    )
    .unwrap();
    let (up, upstream) = echo_upstream();
    let mut c = connect(server.local_addr());
    c.write_all(format!("CONNECT {up}\nfirst bytes|").as_bytes())
        .unwrap();
    // 8 MiB each way, far beyond every buffer and the 64 KiB output limit: the
    // engine stops reading the side whose destination is full, in both
    // directions, and nothing is lost or reordered.
    const TOTAL: usize = 8 << 20;
    let payload: Vec<u8> = (0..TOTAL).map(|i| (i * 7 % 251) as u8).collect();
    let mut writer = c.try_clone().unwrap();
    let sent = payload.clone();
    let w = thread::spawn(move || {
        for chunk in sent.chunks(100_000) {
            writer.write_all(chunk).unwrap();
        }
    });
    let mut got = Vec::with_capacity(TOTAL + 12);
    let mut buf = vec![0u8; 1 << 16];
    while got.len() < TOTAL + 12 {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    w.join().unwrap();
    assert_eq!(&got[..12], b"first bytes|");
    assert!(got[12..] == payload[..], "bytes lost or reordered");
    // The client half-closes: the connection (and the upstream) close.
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.read(&mut buf).unwrap(), 0);
    assert_eq!(upstream.join().unwrap(), (TOTAL + 12) as u64);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.stats().connections_active != 0 {
        assert!(std::time::Instant::now() < deadline, "{:?}", server.stats());
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn an_upstream_that_cannot_be_reached_is_reported_to_the_session() {
    let server = Server::start_with(Config::new().workers(1), run_forward).unwrap();
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut c = connect(server.local_addr());
    c.write_all(format!("CONNECT {closed}\nx").as_bytes())
        .unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "FAILED ConnectionRefused\n");
}

/// The record of an idle connection is most of its memory (it holds no buffer):
/// keep it well under the 500 B per-connection budget, slab slack included.
/// (200 since TLS: the session pointer, None on plain connections; the outbound
/// connection's pointer took the place of HTTP's held answer, which now shares
/// the HTTP session's room.)
#[test]
fn connection_record_stays_small() {
    let http = engine::connection_size::<super::http::HttpSession>();
    let frame = engine::connection_size::<super::frame::Session>();
    let echo = engine::connection_size::<()>();
    println!("size_of Connection: http {http}, frame {frame}, echo {echo}");
    assert!(http <= 200, "Connection grew to {http} bytes (http)");
    assert!(frame <= 200, "Connection grew to {frame} bytes (frame)");
}
