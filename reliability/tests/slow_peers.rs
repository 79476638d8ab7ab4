//! Slow peers: slowloris (a header byte at a time, also for TLS handshakes, frame
//! headers and WebSocket handshakes, these answered 408) closed at the header
//! timeout while a normal client's latency holds; a slow reader of a 64 MiB answer through a 4 KiB receive buffer, with the
//! server's memory bounded, and a reader that stops closed at the write timeout.

// Runs on the engine as shipped: the tiny-buffers build is for the cross-talk
// scenarios (see Cargo.toml).
#![cfg(not(feature = "tiny-buffers"))]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use pierhead::websocket::opcode;
use pierhead::{Config, Protocol, Response, Route, Server};
use pierhead_reliability::ws::WsClient;
use pierhead_reliability::*;

/// p99 of `n` sequential keep-alive requests, in microseconds.
fn p99_us(addr: SocketAddr, n: usize) -> f64 {
    let mut s = connect(addr).unwrap();
    let mut buf = [0u8; 512];
    let mut samples: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            s.write_all(b"GET /ok HTTP/1.1\r\nHost: r\r\n\r\n").unwrap();
            let mut got = 0;
            // The whole answer is one small segment; read until its body.
            while !buf[..got].ends_with(b"ok") {
                got += s.read(&mut buf[got..]).unwrap();
            }
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[(n * 99 / 100).min(n - 1)]
}

/// One dribbling connection: its stream, the bytes sent, what the server
/// answered, and whether the server closed it.
struct Dribbler {
    stream: TcpStream,
    sent: usize,
    answer: Vec<u8>,
    closed: bool,
}

/// Opens `n` connections that dribble `prefix` one byte every `every`, round-robin
/// from one thread, until `until`; returns how many the server had closed by then
/// and how many of those it answered with `answer` first.
fn dribble(
    addr: SocketAddr,
    n: usize,
    prefix: &'static [u8],
    every: Duration,
    until: Instant,
    answer: &[u8],
) -> (usize, usize) {
    let mut conns: Vec<Dribbler> = (0..n)
        .filter_map(|_| connect(addr).ok())
        .map(|stream| Dribbler {
            stream,
            sent: 0,
            answer: Vec::new(),
            closed: false,
        })
        .collect();
    for c in &conns {
        c.stream.set_nonblocking(true).unwrap();
    }
    while Instant::now() < until {
        for c in conns.iter_mut().filter(|c| !c.closed) {
            let mut b = [0u8; 64];
            match c.stream.read(&mut b) {
                Ok(0) => c.closed = true,
                Ok(n) => c.answer.extend_from_slice(&b[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => c.closed = true,
                _ => {}
            }
            if !c.closed
                && c.sent < prefix.len()
                && c.stream.write(&prefix[c.sent..c.sent + 1]).is_ok()
            {
                c.sent += 1;
            }
        }
        thread::sleep(every);
    }
    let closed = conns.iter().filter(|c| c.closed);
    (
        closed.clone().count(),
        closed.filter(|c| c.answer.starts_with(answer)).count(),
    )
}

#[test]
fn slowloris_is_closed_at_the_header_timeout_and_others_are_served() {
    let _serial = serial();
    let n = scale(300, 2_000);
    let timeout = Duration::from_millis(1500);
    let http = Server::start(
        Config::new()
            .protocol(Protocol::Http)
            .workers(2)
            .header_timeout(timeout)
            .max_connections(20_000)
            .route(Route::get("/ok").respond(Response::text(200, "ok"))),
    )
    .unwrap();
    let tls = Server::start(
        Config::new()
            .protocol(Protocol::Echo)
            .workers(1)
            .header_timeout(timeout)
            .tls_auto(),
    )
    .unwrap();
    let frames = Server::start(
        Config::new()
            .protocol(Protocol::Frame)
            .workers(1)
            .header_timeout(timeout),
    )
    .unwrap();
    let baseline = p99_us(http.local_addr(), 2000);
    let until = Instant::now() + timeout * 2 + Duration::from_millis(500);
    // An HTTP head, a TLS ClientHello's first bytes and a frame header, each one
    // byte at a time.
    let slow: [(SocketAddr, usize, &'static [u8]); 3] = [
        (
            http.local_addr(),
            n,
            b"GET / HTTP/1.1\r\nHost: slowloris\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaa",
        ),
        (
            tls.local_addr(),
            n / 3,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        ),
        (
            frames.local_addr(),
            n / 3,
            b"\xde\xad\xbe\xef\x00\x00\x00\x01\x00\x00",
        ),
    ];
    let dribblers: Vec<_> = slow
        .into_iter()
        .map(|(addr, count, prefix)| {
            thread::spawn(move || {
                dribble(addr, count, prefix, Duration::from_millis(100), until, b"").0
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    let during = p99_us(http.local_addr(), 2000);
    let closed: Vec<usize> = dribblers.into_iter().map(|d| d.join().unwrap()).collect();
    figure(
        "slowloris.connections",
        format!("http {n}, tls {}, frame {}", n / 3, n / 3),
    );
    figure("slowloris.closed_at_header_timeout", format!("{closed:?}"));
    figure(
        "normal_client.p99_us.idle_vs_during",
        format!("{baseline:.0} {during:.0}"),
    );
    assert_eq!(
        closed,
        [n, n / 3, n / 3],
        "slow connections outlived the header timeout"
    );
    assert_latency("the normal client", baseline, during, 2.0);
}

/// p99 of `n` sequential round trips of a small message over one WebSocket
/// connection (echo), in microseconds.
fn ws_p99_us(addr: SocketAddr, n: usize) -> f64 {
    let mut c = WsClient::connect(addr, "/", false).unwrap();
    let mut samples: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            c.send(opcode::BINARY, b"ok").unwrap();
            let (op, got) = c.read_message().unwrap();
            assert_eq!((op, got.as_slice()), (opcode::BINARY, b"ok".as_slice()));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[(n * 99 / 100).min(n - 1)]
}

#[test]
fn websocket_handshake_slowloris_is_answered_408_and_others_are_served() {
    let _serial = serial();
    let n = scale(300, 2_000);
    let timeout = Duration::from_millis(1500);
    let ws = Server::start(
        Config::new()
            .protocol(Protocol::Ws)
            .workers(2)
            .header_timeout(timeout)
            .max_connections(20_000),
    )
    .unwrap();
    let addr = ws.local_addr();
    let baseline = ws_p99_us(addr, 2000);
    let until = Instant::now() + timeout * 2 + Duration::from_millis(500);
    // A handshake one byte every 100 ms: 15 bytes by the timeout, never whole.
    let handshake: &'static [u8] =
        b"GET /lobby HTTP/1.1\r\nHost: slowloris\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
    let dribbler = thread::spawn(move || {
        dribble(
            addr,
            n,
            handshake,
            Duration::from_millis(100),
            until,
            b"HTTP/1.1 408 ",
        )
    });
    thread::sleep(Duration::from_millis(300));
    let during = ws_p99_us(addr, 2000);
    let (closed, answered_408) = dribbler.join().unwrap();
    figure("ws_slowloris.connections", n);
    figure("ws_slowloris.closed_at_header_timeout", closed);
    figure("ws_slowloris.answered_408", answered_408);
    figure(
        "ws_normal_client.p99_us.idle_vs_during",
        format!("{baseline:.0} {during:.0}"),
    );
    figure("ws_server.timeouts", ws.stats().timeouts);
    assert_eq!(closed, n, "slow handshakes outlived the header timeout");
    assert_eq!(answered_408, n, "a slow handshake closed without its 408");
    assert_latency("the normal WebSocket client", baseline, during, 3.0);
}

#[test]
fn a_slow_reader_holds_no_copy_and_a_stopped_one_is_closed_at_the_write_timeout() {
    let _serial = serial();
    let size = 64 << 20;
    let server = Server::start(
        Config::new()
            .protocol(Protocol::Http)
            .workers(1)
            .write_timeout(Duration::from_secs(1))
            .route(Route::get("/big").respond(Response::new(200).body(vec![b'z'; size]))),
    )
    .unwrap();
    let rss_before = rss_kib(std::process::id());
    let slow = |stop_after: usize| {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        sock.connect(&server.local_addr().into()).unwrap();
        let mut s: TcpStream = sock.into();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /big HTTP/1.1\r\nHost: r\r\n\r\n")
            .unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let (mut got, mut peak) = (0usize, 0u64);
        while got < stop_after {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
            peak = peak.max(rss_kib(std::process::id()));
            if got % (1 << 20) < 65536 {
                thread::sleep(Duration::from_millis(1)); // slow
            }
        }
        (s, got, peak)
    };
    let (first, got, peak) = slow(size + 1000);
    drop(first);
    figure("slow_reader.bytes_read", got);
    figure(
        "slow_reader.rss_growth_kib",
        peak.saturating_sub(rss_before),
    );
    assert!(got > size, "the whole answer arrives: {got}");
    // The body is shared with the route: queueing it for a slow reader copies nothing.
    assert!(
        peak.saturating_sub(rss_before) < 16 * 1024,
        "RSS grew {} KiB",
        peak - rss_before
    );

    // A reader that stops: closed once the write stalls for the write timeout.
    let gone = (0..200).any(|_| {
        thread::sleep(Duration::from_millis(10));
        server.stats().connections_active == 0
    });
    assert!(gone);
    let (s, _, _) = slow(256 * 1024);
    let t0 = Instant::now();
    let closed = (0..400).any(|_| {
        thread::sleep(Duration::from_millis(10));
        server.stats().connections_active == 0
    });
    figure("stopped_reader.closed_after_ms", t0.elapsed().as_millis());
    assert!(closed, "a reader that stopped is still connected");
    assert!(
        t0.elapsed() >= Duration::from_millis(800),
        "closed before the write timeout"
    );
    drop(s);
}
