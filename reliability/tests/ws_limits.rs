//! WebSocket clients that try the server's limits: compression bombs (a small
//! compressed message inflating to 100 MiB against a limit of 1 MiB) closed with
//! 1009 promptly and within bounded memory; thousands of half-finished close
//! handshakes (a close frame never followed by reading or closing, half a close
//! frame, a failure the client never acknowledges) closed by the server within its
//! timeouts and its 2-second lingering close, with descriptors, threads and memory
//! back where they were.

// Runs on the engine as shipped: the tiny-buffers build is for the cross-talk
// scenarios (see Cargo.toml).
#![cfg(not(feature = "tiny-buffers"))]

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pierhead::websocket::{code, encode_close, opcode};
use pierhead::{Config, Protocol, Server};
use pierhead_reliability::ws::{deflate_zeros, masked, WsClient};
use pierhead_reliability::*;

/// How long the engine waits for the client's FIN after its own, once a
/// connection is closing (`core/src/engine/connection.rs`).
const LINGER: Duration = Duration::from_secs(2);

/// Samples this process's RSS every 10 ms until stopped; the peak in KiB.
fn rss_sampler(stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(rss_kib(std::process::id()));
            thread::sleep(Duration::from_millis(10));
        }
        peak
    })
}

/// True if the server closed `s` (EOF, or a reset for bytes it left unread) and
/// sent nothing more.
fn ends(s: &mut std::net::TcpStream) -> bool {
    let mut rest = [0u8; 64];
    match s.read(&mut rest) {
        Ok(0) => true,
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}

#[test]
fn compression_bombs_are_closed_with_1009_in_bounded_time_and_memory() {
    let _serial = serial();
    let bombs = scale(16, 64);
    let inflated = 100 << 20;
    let limit = 1 << 20;
    let server = Server::start(
        Config::new()
            .protocol(Protocol::Ws)
            .workers(2)
            .max_message_bytes(limit),
    )
    .unwrap();
    let addr = server.local_addr();
    let bomb = deflate_zeros(inflated).unwrap();
    figure("bomb.compressed_bytes", bomb.len());
    figure("bomb.inflates_to_bytes", inflated);
    assert!(
        bomb.len() < limit,
        "the bomb itself must be under the limit"
    );
    let wire = Arc::new(masked(true, opcode::BINARY, &bomb, true, 0x5eed));
    let mut clients: Vec<WsClient> = (0..bombs)
        .map(|_| WsClient::connect(addr, "/", true).unwrap())
        .collect();
    assert!(clients.iter().all(|c| c.deflate), "deflate not agreed");
    let rss_before = rss_kib(std::process::id());
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = rss_sampler(stop.clone());
    let t0 = Instant::now();
    let handles: Vec<_> = clients
        .drain(..)
        .map(|mut c| {
            let wire = wire.clone();
            thread::spawn(move || {
                let t = Instant::now();
                // The server may close before it has read the whole bomb.
                let _ = c.stream.write_all(&wire);
                let f = c.read_frame().expect("a close frame");
                (f.close_code(), ends(&mut c.stream), t.elapsed())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let all_ms = t0.elapsed().as_secs_f64() * 1000.0;
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    let growth = peak.saturating_sub(rss_before);
    let slowest = results.iter().map(|r| r.2).max().unwrap_or_default();
    figure("bomb.concurrent", bombs);
    figure(
        "bomb.close_codes",
        format!("{:?}", results.iter().map(|r| r.0).collect::<Vec<_>>()),
    );
    figure(
        "bomb.slowest_close_ms",
        format!("{:.1}", slowest.as_secs_f64() * 1000.0),
    );
    figure("bomb.all_closed_ms", format!("{all_ms:.1}"));
    figure("bomb.rss_growth_kib", growth);
    figure(
        "bomb.server_protocol_errors",
        server.stats().protocol_errors,
    );
    for (i, (code, eof, _)) in results.iter().enumerate() {
        assert_eq!(*code, Some(code::TOO_BIG), "bomb {i}: closed with {code:?}");
        assert!(
            eof,
            "bomb {i}: the connection stayed open after the close frame"
        );
    }
    assert!(
        slowest < Duration::from_secs(2),
        "a bomb took {slowest:?} to be closed"
    );
    // Each bomb may cost its message limit and an inflater (a 32 KiB window and
    // its state) while it is inflated: nowhere near the 100 MiB it inflates to.
    let bound = bombs as u64 * 2 * 1024 + 16 * 1024;
    assert!(
        growth < bound,
        "RSS grew {growth} KiB for {bombs} bombs (bound {bound} KiB)"
    );
    // The server still serves.
    let mut c = WsClient::connect(addr, "/", true).unwrap();
    c.send(opcode::TEXT, b"still here").unwrap();
    assert_eq!(
        c.read_message().unwrap(),
        (opcode::TEXT, b"still here".to_vec())
    );
}

/// How a client leaves its close handshake half-finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HalfClose {
    /// Sends a whole close frame, then neither reads nor closes.
    SentNeverRead,
    /// Sends a close frame's header and half its payload, then nothing.
    HalfAFrame,
    /// Makes the server fail the connection (invalid UTF-8: 1007), then neither
    /// reads nor answers the server's close.
    NeverAcknowledged,
}

impl HalfClose {
    fn of(i: usize) -> HalfClose {
        [
            HalfClose::SentNeverRead,
            HalfClose::HalfAFrame,
            HalfClose::NeverAcknowledged,
        ][i % 3]
    }

    /// The bytes the client sends.
    fn wire(self, i: u64) -> Vec<u8> {
        match self {
            HalfClose::SentNeverRead => {
                let mut body = Vec::new();
                encode_close(code::NORMAL, "bye", &mut body);
                masked(true, opcode::CLOSE, &body, false, i)
            }
            HalfClose::HalfAFrame => {
                let mut body = Vec::new();
                encode_close(code::NORMAL, "bye", &mut body);
                let f = masked(true, opcode::CLOSE, &body, false, i);
                f[..f.len() - 3].to_vec()
            }
            HalfClose::NeverAcknowledged => masked(true, opcode::TEXT, &[0xc3, 0x28], false, i),
        }
    }

    /// The close code the server answers with (none: closed at the idle timeout).
    fn answer(self) -> Option<u16> {
        match self {
            HalfClose::SentNeverRead => Some(code::NORMAL),
            HalfClose::HalfAFrame => None,
            HalfClose::NeverAcknowledged => Some(code::INVALID_PAYLOAD),
        }
    }
}

#[test]
fn thousands_of_half_finished_close_handshakes_are_closed_and_leave_nothing() {
    let _serial = serial();
    let n = scale(3_000, 9_000);
    // Long enough that a close answered at once (gone after LINGER, ~2 s) and one
    // left to the timeout (gone after timeout + LINGER, ~5 s) are far apart.
    let timeout = Duration::from_secs(3);
    let threads_before = threads();
    let server = Server::start(
        Config::new()
            .protocol(Protocol::Ws)
            .workers(2)
            .idle_timeout(timeout)
            .header_timeout(timeout)
            .write_timeout(timeout)
            .max_connections(20_000),
    )
    .unwrap();
    let addr = server.local_addr();
    let threads_with_server = threads();
    // Warm the server (pools, first allocations) before the baseline.
    drop(WsClient::connect(addr, "/", true).unwrap());
    let rss_before = rss_kib(std::process::id());
    let fds_before = open_fds();
    let mut clients: Vec<(HalfClose, WsClient)> = (0..n)
        .map(|i| {
            (
                HalfClose::of(i),
                WsClient::connect(addr, "/", true).unwrap(),
            )
        })
        .collect();
    let connected = server.stats().connections_active;
    let rss_open = rss_kib(std::process::id());
    let t0 = Instant::now();
    for (i, (kind, c)) in clients.iter_mut().enumerate() {
        c.stream.write_all(&kind.wire(i as u64)).unwrap();
    }
    let sent_ms = t0.elapsed().as_secs_f64() * 1000.0;
    // Two thirds are answered at once (the close handshake, or the failure), then
    // the server's lingering close waits up to LINGER for the client's FIN, which
    // never comes; the half frames are cut at the request timeout, then linger too.
    let deadline = timeout + LINGER + Duration::from_millis(1500);
    let mut answered_ms = None;
    let closed = (0..deadline.as_millis() / 10).any(|_| {
        thread::sleep(Duration::from_millis(10));
        let active = server.stats().connections_active as usize;
        if active <= n / 3 && answered_ms.is_none() {
            answered_ms = Some(t0.elapsed().as_secs_f64() * 1000.0);
        }
        active == 0
    });
    let closed_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let left = server.stats().connections_active;
    // What each client was sent: its close code, then EOF.
    let mut wrong = Vec::new();
    for (kind, c) in clients.iter_mut() {
        let _ = c.stream.set_read_timeout(Some(Duration::from_millis(200)));
        let code = match c.read_frame() {
            Ok(f) => f.close_code(),
            Err(_) => None,
        };
        let eof = ends(&mut c.stream);
        if code != kind.answer() || !eof {
            wrong.push((*kind, code, eof));
        }
    }
    drop(clients);
    let rss_closed = rss_kib(std::process::id());
    thread::sleep(Duration::from_millis(500));
    let rss_later = rss_kib(std::process::id());
    let fds_settled = (0..200).any(|_| {
        thread::sleep(Duration::from_millis(10));
        open_fds() <= fds_before + 4
    });
    let fds_with_server = open_fds();
    let threads_now = threads();
    let stats = server.stats();
    figure("half_close.clients", n);
    figure("half_close.connected", connected);
    figure("half_close.sent_ms", format!("{sent_ms:.1}"));
    figure(
        "half_close.answered_closed_ms",
        format!("{:.1}", answered_ms.unwrap_or(f64::NAN)),
    );
    figure("half_close.all_closed_ms", format!("{closed_ms:.1}"));
    figure("half_close.server_timeouts", stats.timeouts);
    figure("half_close.wrong_answers", wrong.len());
    figure(
        "half_close.rss_kib.before_open_closed_later",
        format!("{rss_before} {rss_open} {rss_closed} {rss_later}"),
    );
    figure(
        "half_close.fds.before_after",
        format!("{fds_before} {fds_with_server}"),
    );
    figure(
        "half_close.threads.before_with_server_after",
        format!("{threads_before} {threads_with_server} {threads_now}"),
    );
    assert_eq!(connected as usize, n, "not every client was connected");
    assert!(
        answered_ms.is_some_and(|ms| ms < (LINGER + timeout / 2).as_secs_f64() * 1000.0),
        "answered close handshakes outlived the lingering close: {answered_ms:?} ms"
    );
    assert!(
        closed,
        "{left} connections still open {deadline:?} after their half-finished close"
    );
    assert!(
        wrong.is_empty(),
        "{} clients got the wrong ending, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    assert!(
        fds_settled,
        "descriptors: {fds_before} before, {fds_with_server} after"
    );
    assert!(
        threads_now <= threads_with_server,
        "threads left growing: {threads_with_server} -> {threads_now}"
    );
    // Memory: the idle sessions' cost is back (the allocator may keep some), and
    // nothing grows once they are gone.
    assert!(
        rss_later <= rss_closed + 1024,
        "RSS still growing: {rss_closed} -> {rss_later} KiB"
    );
    assert!(
        rss_later.saturating_sub(rss_before) < 64 * 1024,
        "RSS {rss_before} -> {rss_later} KiB after every connection closed"
    );
    drop(server);
    let threads_after_stop = (0..200).any(|_| {
        thread::sleep(Duration::from_millis(5));
        threads() <= threads_before
    });
    assert!(threads_after_stop, "server threads left after the stop");
}
