//! Cross-talk, the buffer-reuse bug class of pooled servers: with buffers of 64
//! bytes, a pool of 2 and reads of 100 bytes (the `tiny-buffers` build), clients
//! open and close connections as fast as they can, 30% of them reset mid-request,
//! and every byte each one gets back is checked against the payload only it sent
//! (a nonce mixed with the position of each word). Over echo, HTTP (pipelined, a
//! handler echoing the body), the frame protocol (data frames echoed, and rooms of
//! two: one member's frames reach the other), echo over TLS, and WebSocket (echo,
//! with and without permessage-deflate, whole and fragmented messages, and rooms of
//! two).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pierhead::frame::{op, FrameType};
use pierhead::websocket::opcode;
use pierhead::{Config, Protocol, Request, Response, Route, Server};
use pierhead_reliability::ws::{deflate_message, masked, WsClient};
use pierhead_reliability::*;

#[derive(Default)]
struct Tally {
    connections: AtomicU64,
    resets: AtomicU64,
    verified_bytes: AtomicU64,
    corrupt: AtomicU64,
    errors: AtomicU64,
}

/// 30% of connections are reset mid-request.
fn resets(nonce: u64) -> bool {
    nonce % 10 < 3
}

fn len_of(nonce: u64) -> usize {
    1 + (nonce >> 20) as usize % 3000
}

/// One connection's exchange: `Ok(Some(bytes verified))`, `Ok(None)` if reset on
/// purpose, `Err` for an I/O error (counted, not a failure unless bytes were wrong).
type Outcome = std::io::Result<Option<(usize, bool)>>;

fn echo_once(addr: SocketAddr) -> Outcome {
    let nonce = next_nonce();
    let data = payload(nonce, len_of(nonce));
    let mut s = connect(addr)?;
    let half = data.len() / 2;
    s.write_all(&data[..half])?;
    if resets(nonce) {
        reset(s);
        return Ok(None);
    }
    s.write_all(&data[half..])?;
    let ok = read_matches(&mut s, &data)?;
    Ok(Some((data.len(), ok)))
}

fn tls_echo_once(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> Outcome {
    let nonce = next_nonce();
    let data = payload(nonce, len_of(nonce));
    let mut s = tls_connect(addr, config)?;
    let half = data.len() / 2;
    send(&mut s, &data[..half])?;
    if resets(nonce) {
        reset(s.sock);
        return Ok(None);
    }
    send(&mut s, &data[half..])?;
    let ok = read_matches(&mut s, &data)?;
    Ok(Some((data.len(), ok)))
}

fn http_once(addr: SocketAddr) -> Outcome {
    let nonce = next_nonce();
    let bodies = [
        payload(nonce, len_of(nonce)),
        payload(!nonce, len_of(nonce) / 2 + 1),
    ];
    let mut s = connect(addr)?;
    let mut wire = Vec::new();
    for b in &bodies {
        wire.extend_from_slice(
            format!(
                "POST /echo/{nonce:x} HTTP/1.1\r\nHost: r\r\nContent-Length: {}\r\n\r\n",
                b.len()
            )
            .as_bytes(),
        );
        wire.extend_from_slice(b);
    }
    let cut = wire.len() / 3;
    s.write_all(&wire[..cut])?;
    if resets(nonce) {
        reset(s);
        return Ok(None);
    }
    s.write_all(&wire[cut..])?;
    let mut total = 0;
    let mut ok = true;
    let mut r = std::io::BufReader::new(s);
    for b in &bodies {
        let head = read_head(&mut r)?;
        ok &= head.starts_with("HTTP/1.1 200 ")
            && head.contains(&format!("X-Target: /echo/{nonce:x}\r\n"))
            && head.contains(&format!("Content-Length: {}\r\n", b.len()));
        ok &= read_matches(&mut r, b)?;
        total += b.len();
    }
    Ok(Some((total, ok)))
}

fn read_head(r: &mut impl std::io::BufRead) -> std::io::Result<String> {
    let mut head = String::new();
    loop {
        let n = r.read_line(&mut head)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if head.ends_with("\r\n\r\n") {
            return Ok(head);
        }
    }
}

fn frame_once(addr: SocketAddr) -> Outcome {
    let nonce = next_nonce();
    if nonce.is_multiple_of(2) {
        // Not in a room: data frames come back to the sender.
        let data = payload(nonce, len_of(nonce));
        let mut s = connect(addr)?;
        let f = frame_of(FrameType::Data, &data);
        let cut = f.len() / 2;
        s.write_all(&f[..cut])?;
        if resets(nonce) {
            reset(s);
            return Ok(None);
        }
        s.write_all(&f[cut..])?;
        let (kind, got) = read_frame(&mut s)?;
        return Ok(Some((data.len(), kind == FrameType::Data && got == data)));
    }
    // A room of two: what A sends, B gets, and nothing else.
    let room = format!("r{nonce:x}");
    let mut a = connect(addr)?;
    let mut b = connect(addr)?;
    a.write_all(&control_of(op::JOIN, room.as_bytes()))?;
    b.write_all(&control_of(op::JOIN, room.as_bytes()))?;
    await_joined(&mut a)?;
    await_joined(&mut b)?;
    let data = payload(nonce, len_of(nonce));
    let f = frame_of(FrameType::Data, &data);
    let cut = f.len() / 2;
    a.write_all(&f[..cut])?;
    if resets(nonce) {
        reset(a);
        return Ok(None);
    }
    a.write_all(&f[cut..])?;
    let (kind, got) = read_frame(&mut b)?;
    Ok(Some((data.len(), kind == FrameType::Data && got == data)))
}

/// One message as the client sends it: compressed when `deflate` (RSV1 and
/// raw deflate), in two fragments when `fragmented`.
fn ws_wire(nonce: u64, data: &[u8], deflate: bool, fragmented: bool) -> std::io::Result<Vec<u8>> {
    let body = if deflate {
        deflate_message(data)?
    } else {
        data.to_vec()
    };
    if !fragmented || body.len() < 2 {
        return Ok(masked(true, opcode::BINARY, &body, deflate, nonce));
    }
    let (first, second) = body.split_at(body.len() / 2);
    let mut wire = masked(false, opcode::BINARY, first, deflate, nonce);
    wire.extend_from_slice(&masked(true, opcode::CONTINUATION, second, false, !nonce));
    Ok(wire)
}

fn ws_once(addr: SocketAddr) -> Outcome {
    let nonce = next_nonce();
    let data = payload(nonce, len_of(nonce));
    // Bits of the nonce pick the case: deflate offered, the client's message
    // compressed, fragmented, a room of two.
    let (deflate, compress, fragmented, room) = (
        nonce & 0x100 != 0,
        nonce & 0x200 != 0,
        nonce & 0x400 != 0,
        nonce & 0x800 != 0,
    );
    if !room {
        // Echo: the message comes back to its sender, compressed if agreed.
        let mut c = WsClient::connect(addr, "/", deflate)?;
        let wire = ws_wire(nonce, &data, compress && c.deflate, fragmented)?;
        let cut = wire.len() / 2;
        c.stream.write_all(&wire[..cut])?;
        if resets(nonce) {
            reset(c.stream);
            return Ok(None);
        }
        c.stream.write_all(&wire[cut..])?;
        let (kind, got) = c.read_message()?;
        return Ok(Some((data.len(), kind == opcode::BINARY && got == data)));
    }
    // A room of two: what A sends, B gets, and nothing else.
    let path = format!("/w{nonce:x}");
    let mut a = WsClient::connect(addr, &path, deflate)?;
    let mut b = WsClient::connect(addr, &path, !deflate)?;
    let wire = ws_wire(nonce, &data, compress && a.deflate, fragmented)?;
    let cut = wire.len() / 2;
    a.stream.write_all(&wire[..cut])?;
    if resets(nonce) {
        reset(a.stream);
        return Ok(None);
    }
    a.stream.write_all(&wire[cut..])?;
    let (kind, got) = b.read_message()?;
    Ok(Some((data.len(), kind == opcode::BINARY && got == data)))
}

fn run(
    threads: usize,
    until: Instant,
    tally: &Arc<Tally>,
    once: impl Fn() -> Outcome + Send + Sync + 'static,
) {
    let once = Arc::new(once);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (tally, once) = (tally.clone(), once.clone());
            thread::spawn(move || {
                while Instant::now() < until {
                    tally.connections.fetch_add(1, Ordering::Relaxed);
                    match once() {
                        Ok(None) => {
                            tally.resets.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Some((n, true))) => {
                            tally.verified_bytes.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Ok(Some((_, false))) => {
                            tally.corrupt.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client thread");
    }
}

fn server(protocol: Protocol, tweak: impl FnOnce(Config) -> Config) -> Server {
    Server::start(tweak(
        Config::new()
            .protocol(protocol)
            .workers(2)
            .max_connections(10_000),
    ))
    .expect("server starts")
}

#[test]
fn no_byte_crosses_between_connections_under_churn_and_resets() {
    let _serial = serial();
    let seconds = scale(4, 120);
    let echo = server(Protocol::Echo, |c| c);
    let tls = server(Protocol::Echo, |c| c.tls_auto());
    let http = server(Protocol::Http, |c| {
        c.route(Route::post("/echo/").prefix().handler(|r: &Request| {
            Response::new(200)
                .header("X-Target", r.target.clone())
                .body(r.body.clone())
        }))
    });
    let frames = server(Protocol::Frame, |c| c);
    let tls_config = tls_client(tls.tls_ca_pem().expect("generated CA"));

    let fds_before = open_fds();
    let until = Instant::now() + Duration::from_secs(seconds);
    let t0 = Instant::now();
    let kinds: Vec<(&str, Arc<Tally>)> = ["echo", "http", "frame", "tls"]
        .iter()
        .map(|k| (*k, Arc::new(Tally::default())))
        .collect();
    thread::scope(|scope| {
        let (e, h, f, t) = (
            echo.local_addr(),
            http.local_addr(),
            frames.local_addr(),
            tls.local_addr(),
        );
        let cfg = tls_config.clone();
        let tallies: Vec<_> = kinds.iter().map(|(_, t)| t.clone()).collect();
        scope.spawn(move || run(3, until, &tallies[0], move || echo_once(e)));
        let tallies: Vec<_> = kinds.iter().map(|(_, t)| t.clone()).collect();
        scope.spawn(move || run(3, until, &tallies[1], move || http_once(h)));
        let tallies: Vec<_> = kinds.iter().map(|(_, t)| t.clone()).collect();
        scope.spawn(move || run(3, until, &tallies[2], move || frame_once(f)));
        let tallies: Vec<_> = kinds.iter().map(|(_, t)| t.clone()).collect();
        scope.spawn(move || run(1, until, &tallies[3], move || tls_echo_once(t, &cfg)));
    });
    let elapsed = t0.elapsed().as_secs_f64();

    let mut total_conns = 0;
    for (kind, t) in &kinds {
        let c = t.connections.load(Ordering::Relaxed);
        total_conns += c;
        let corrupt = t.corrupt.load(Ordering::Relaxed);
        figure(&format!("{kind}.connections"), c);
        figure(
            &format!("{kind}.reset_mid_request"),
            t.resets.load(Ordering::Relaxed),
        );
        figure(
            &format!("{kind}.verified_bytes"),
            t.verified_bytes.load(Ordering::Relaxed),
        );
        figure(
            &format!("{kind}.io_errors"),
            t.errors.load(Ordering::Relaxed),
        );
        figure(&format!("{kind}.corrupt_or_misrouted"), corrupt);
        assert_eq!(corrupt, 0, "{kind}: bytes crossed between connections");
        assert!(
            t.verified_bytes.load(Ordering::Relaxed) > 0,
            "{kind}: nothing verified"
        );
    }
    figure(
        "connections_per_second",
        format!("{:.0}", total_conns as f64 / elapsed),
    );
    figure(
        "same_turn_slot_reuses",
        pierhead::test_hooks::same_turn_slot_reuses(),
    );
    assert!(
        pierhead::test_hooks::same_turn_slot_reuses() > 0,
        "no slot was reused within one turn of a loop: the case was not exercised"
    );
    // Every connection is gone, on both sides.
    for s in [&echo, &http, &frames, &tls] {
        let settled = (0..500).any(|_| {
            thread::sleep(Duration::from_millis(10));
            s.stats().connections_active == 0
        });
        assert!(
            settled,
            "connections left: {}",
            s.stats().connections_active
        );
        assert_eq!(s.stats().state, pierhead::State::Running);
    }
    let fds_after = open_fds();
    figure(
        "client_process_fds_before_after",
        format!("{fds_before} {fds_after}"),
    );
    assert!(
        fds_after <= fds_before + 4,
        "descriptors leaked: {fds_before} -> {fds_after}"
    );
}

#[test]
fn no_websocket_byte_crosses_between_connections_under_churn_and_resets() {
    let _serial = serial();
    let seconds = scale(4, 120);
    let ws = server(Protocol::Ws, |c| c);
    let fds_before = open_fds();
    let reuses_before = pierhead::test_hooks::same_turn_slot_reuses();
    let until = Instant::now() + Duration::from_secs(seconds);
    let t0 = Instant::now();
    let tally = Arc::new(Tally::default());
    let addr = ws.local_addr();
    run(6, until, &tally, move || ws_once(addr));
    let elapsed = t0.elapsed().as_secs_f64();
    let c = tally.connections.load(Ordering::Relaxed);
    let corrupt = tally.corrupt.load(Ordering::Relaxed);
    let verified = tally.verified_bytes.load(Ordering::Relaxed);
    figure("ws.exchanges", c);
    figure("ws.reset_mid_message", tally.resets.load(Ordering::Relaxed));
    figure("ws.verified_bytes", verified);
    figure("ws.io_errors", tally.errors.load(Ordering::Relaxed));
    figure("ws.corrupt_or_misrouted", corrupt);
    figure(
        "ws.exchanges_per_second",
        format!("{:.0}", c as f64 / elapsed),
    );
    let reuses = pierhead::test_hooks::same_turn_slot_reuses() - reuses_before;
    figure("ws.same_turn_slot_reuses", reuses);
    let stats = ws.stats();
    figure("ws.server_protocol_errors", stats.protocol_errors);
    assert_eq!(corrupt, 0, "ws: bytes crossed between connections");
    assert!(verified > 0, "ws: nothing verified");
    assert!(
        reuses > 0,
        "no slot was reused within one turn of a loop: the case was not exercised"
    );
    let settled = (0..500).any(|_| {
        thread::sleep(Duration::from_millis(10));
        ws.stats().connections_active == 0
    });
    assert!(
        settled,
        "connections left: {}",
        ws.stats().connections_active
    );
    assert_eq!(ws.stats().state, pierhead::State::Running);
    let fds_after = open_fds();
    figure(
        "ws.client_process_fds_before_after",
        format!("{fds_before} {fds_after}"),
    );
    assert!(
        fds_after <= fds_before + 4,
        "descriptors leaked: {fds_before} -> {fds_after}"
    );
}
