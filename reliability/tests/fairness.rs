//! Fairness: one client pipelining as fast as it can (one frame publisher flooding
//! a room, WebSocket clients sending pings as fast as they can without reading)
//! next to 100 light clients; the light clients' p99 stays within 3x of what it is
//! without the flood, and the ping flood's memory is bounded by the output limit.

// Runs on the engine as shipped: the tiny-buffers build is for the cross-talk
// scenarios (see Cargo.toml).
#![cfg(not(feature = "tiny-buffers"))]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pierhead::frame::{op, FrameType};
use pierhead::websocket::opcode;
use pierhead::{Config, Protocol, Response, Route, Server};
use pierhead_reliability::ws::{masked, WsClient};
use pierhead_reliability::*;

/// p99 (µs) of 100 light clients: 10 threads, 10 keep-alive connections each, one
/// request (or frame round trip) at a time, for `dur`.
fn light_p99(addr: SocketAddr, dur: Duration, request: &'static [u8], answer_len: usize) -> f64 {
    light_p99_over(addr, dur, request, answer_len, |a| connect(a).unwrap())
}

/// [`light_p99`] over connections that `open` makes (a WebSocket handshake first).
fn light_p99_over(
    addr: SocketAddr,
    dur: Duration,
    request: &'static [u8],
    answer_len: usize,
    open: fn(SocketAddr) -> TcpStream,
) -> f64 {
    let until = Instant::now() + dur;
    let handles: Vec<_> = (0..10)
        .map(|_| {
            thread::spawn(move || {
                let mut conns: Vec<TcpStream> = (0..10).map(|_| open(addr)).collect();
                let mut samples = Vec::new();
                let mut buf = vec![0u8; answer_len];
                while Instant::now() < until {
                    for c in &mut conns {
                        let t = Instant::now();
                        c.write_all(request).unwrap();
                        c.read_exact(&mut buf).unwrap();
                        samples.push(t.elapsed().as_secs_f64() * 1e6);
                    }
                }
                samples
            })
        })
        .collect();
    let mut all: Vec<f64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_by(f64::total_cmp);
    all[all.len() * 99 / 100]
}

/// Lowers the calling thread's priority (nice 19). The flooding client runs at the
/// lowest priority so that, on a machine of two cores, the test measures how the
/// server shares itself between connections, not how the kernel shares the CPU
/// between the test's own threads.
fn lowest_priority() {
    // SAFETY: gettid and setpriority have no memory preconditions.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19);
    }
}

/// A client that writes `batch` forever and drains what comes back, until stopped.
fn flood(
    addr: SocketAddr,
    batch: Vec<u8>,
    stop: Arc<AtomicBool>,
    read: Arc<AtomicU64>,
) -> Vec<thread::JoinHandle<()>> {
    let s = connect(addr).unwrap();
    let mut r = s.try_clone().unwrap();
    let mut w = s;
    let stop2 = stop.clone();
    vec![
        thread::spawn(move || {
            lowest_priority();
            while !stop.load(Ordering::Relaxed) {
                if w.write_all(&batch).is_err() {
                    break;
                }
            }
            let _ = w.shutdown(std::net::Shutdown::Both);
        }),
        thread::spawn(move || {
            lowest_priority();
            let mut buf = vec![0u8; 1 << 16];
            while !stop2.load(Ordering::Relaxed) {
                match r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        read.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
            }
        }),
    ]
}

fn ratio_ok(name: &str, idle: f64, flooded: f64, flood_bytes: u64) {
    figure(
        &format!("{name}.light_p99_us.alone_vs_flooded"),
        format!("{idle:.0} {flooded:.0}"),
    );
    figure(&format!("{name}.flood_bytes_answered"), flood_bytes);
    assert!(flood_bytes > 0, "{name}: the flood was not served at all");
    assert_latency(&format!("{name}: light clients"), idle, flooded, 3.0);
}

#[test]
fn a_pipelining_client_does_not_starve_light_ones() {
    let _serial = serial();
    let dur = Duration::from_secs(scale(2, 20));
    let server = Server::start(
        Config::new()
            .protocol(Protocol::Http)
            .workers(2)
            .route(Route::get("/ok").respond(Response::text(200, "ok"))),
    )
    .unwrap();
    let addr = server.local_addr();
    let req: &'static [u8] = b"GET /ok HTTP/1.1\r\nHost: r\r\n\r\n";
    // The answer's length, read once.
    let mut probe = connect(addr).unwrap();
    probe.write_all(req).unwrap();
    let mut head = vec![0u8; 4096];
    let n = probe.read(&mut head).unwrap();
    let alone = light_p99(addr, dur, req, n);
    let (stop, read) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let flooder = flood(addr, req.repeat(256), stop.clone(), read.clone());
    thread::sleep(Duration::from_millis(200));
    let flooded = light_p99(addr, dur, req, n);
    stop.store(true, Ordering::Relaxed);
    for h in flooder {
        let _ = h.join();
    }
    ratio_ok("http", alone, flooded, read.load(Ordering::Relaxed));
}

#[test]
fn a_flooding_publisher_does_not_starve_light_frame_clients() {
    let _serial = serial();
    let dur = Duration::from_secs(scale(2, 20));
    // The members drain at the lowest priority and fall behind: with the default
    // policy they would be disconnected as slow consumers and the flood would fall
    // on an empty room. Dropping their oldest frames keeps them in, so that the
    // flood is delivered for the whole run.
    let server = Server::start(
        Config::new()
            .protocol(Protocol::Frame)
            .workers(2)
            .slow_consumer(pierhead::SlowConsumer::DropOldest),
    )
    .unwrap();
    let addr = server.local_addr();
    // Light clients: data frames echoed (not in a room), one at a time.
    let ping: &'static [u8] = Box::leak(frame_of(FrameType::Data, b"light").into_boxed_slice());
    let alone = light_p99(addr, dur, ping, ping.len());
    // The flood: a publisher sending 1 KiB frames into a room with 2 members.
    let join = control_of(op::JOIN, b"flood");
    let members: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut m = connect(addr).unwrap();
            m.write_all(&join).unwrap();
            m
        })
        .collect();
    let drain: Vec<_> = members
        .into_iter()
        .map(|mut m| {
            thread::spawn(move || {
                lowest_priority();
                let mut buf = vec![0u8; 1 << 16];
                let _ = m.set_read_timeout(Some(Duration::from_millis(500)));
                while let Ok(n) = m.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
            })
        })
        .collect();
    let mut batch = join.clone();
    for _ in 0..64 {
        batch.extend_from_slice(&frame_of(FrameType::Data, &[7u8; 1024]));
    }
    let (stop, read) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let mut flooder = flood(addr, batch, stop.clone(), read.clone());
    thread::sleep(Duration::from_millis(200));
    let flooded = light_p99(addr, dur, ping, ping.len());
    stop.store(true, Ordering::Relaxed);
    for h in flooder.drain(..) {
        let _ = h.join();
    }
    for d in drain {
        let _ = d.join();
    }
    let delivered = server.stats().deliveries;
    ratio_ok(
        "frame",
        alone,
        flooded,
        delivered.max(read.load(Ordering::Relaxed)),
    );
}

#[test]
fn websocket_ping_floods_are_held_by_backpressure_and_do_not_starve_light_clients() {
    let _serial = serial();
    let dur = Duration::from_secs(scale(2, 20));
    let flooders = 4;
    let server = Server::start(Config::new().protocol(Protocol::Ws).workers(2)).unwrap();
    let addr = server.local_addr();
    // Light clients: a small binary message echoed (no deflate: the answer is the
    // same 2 + 5 bytes every time).
    let msg: &'static [u8] =
        Box::leak(masked(true, opcode::BINARY, b"light", false, 1).into_boxed_slice());
    let open = |a| {
        WsClient::connect(a, "/", false)
            .and_then(WsClient::into_stream)
            .unwrap()
    };
    let alone = light_p99_over(addr, dur, msg, 2 + 5, open);
    let rss_before = rss_kib(std::process::id());
    // The flood: clients writing 125-byte pings as fast as they can, never reading.
    let mut batch = Vec::new();
    for i in 0..256u64 {
        batch.extend_from_slice(&masked(true, opcode::PING, &[b'p'; 125], false, i));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let flood: Vec<_> = (0..flooders)
        .map(|_| {
            let mut s = open(addr);
            s.set_write_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let (stop, sent, batch) = (stop.clone(), sent.clone(), batch.clone());
            thread::spawn(move || {
                lowest_priority();
                while !stop.load(Ordering::Relaxed) {
                    match s.write(&batch) {
                        Ok(n) => {
                            sent.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        // Blocked: the server stopped reading (its output is full).
                        Err(e)
                            if e.kind() == std::io::ErrorKind::WouldBlock
                                || e.kind() == std::io::ErrorKind::TimedOut => {}
                        Err(_) => break,
                    }
                }
                s
            })
        })
        .collect();
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(std::process::id()), Ordering::Relaxed);
                thread::sleep(Duration::from_millis(20));
            }
        })
    };
    thread::sleep(Duration::from_millis(200));
    let sent_before_light = sent.load(Ordering::Relaxed);
    let flooded = light_p99_over(addr, dur, msg, 2 + 5, open);
    let sent_during_light = sent.load(Ordering::Relaxed) - sent_before_light;
    stop.store(true, Ordering::Relaxed);
    let conns: Vec<TcpStream> = flood.into_iter().map(|h| h.join().unwrap()).collect();
    sampler.join().unwrap();
    let growth = peak.load(Ordering::Relaxed).saturating_sub(rss_before);
    let pings = sent.load(Ordering::Relaxed) / (batch.len() / 256) as u64;
    figure(
        "ws_ping_flood.light_p99_us.alone_vs_flooded",
        format!("{alone:.0} {flooded:.0}"),
    );
    figure("ws_ping_flood.pings_written", pings);
    figure(
        "ws_ping_flood.bytes_written_while_light_clients_measured",
        sent_during_light,
    );
    figure("ws_ping_flood.rss_growth_kib", growth);
    figure(
        "ws_ping_flood.flooders_still_connected",
        server.stats().connections_active,
    );
    assert!(pings > 1000, "the flood did not happen: {pings} pings");
    // It reached the server, not only the kernel's buffers: each flooder was read
    // until its unsent pongs filled its output limit (1 MiB).
    let stats = server.stats();
    assert!(
        stats.bytes_read > flooders * 512 * 1024,
        "the server read {} bytes of {flooders} ping floods",
        stats.bytes_read
    );
    // And it neither dropped them nor stopped serving: they are still connected.
    assert!(
        stats.connections_active >= flooders,
        "flooders were disconnected: {} active",
        stats.connections_active
    );
    // Each flooder costs at most its output limit (1 MiB) and its read buffer:
    // the server stops reading it while its pongs are unsent.
    assert!(
        growth < flooders * 4 * 1024,
        "RSS grew {growth} KiB under {flooders} ping floods"
    );
    assert_latency("ws ping flood: light clients", alone, flooded, 3.0);
    drop(conns);
}
