//! Fairness: one client pipelining as fast as it can (and one frame publisher
//! flooding a room) next to 100 light clients; the light clients' p99 stays
//! within 3x of what it is without the flood.

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
use pierhead::{Config, Protocol, Response, Route, Server};
use pierhead_reliability::*;

/// p99 (µs) of 100 light clients: 10 threads, 10 keep-alive connections each, one
/// request (or frame round trip) at a time, for `dur`.
fn light_p99(addr: SocketAddr, dur: Duration, request: &'static [u8], answer_len: usize) -> f64 {
    let until = Instant::now() + dur;
    let handles: Vec<_> = (0..10)
        .map(|_| {
            thread::spawn(move || {
                let mut conns: Vec<TcpStream> = (0..10).map(|_| connect(addr).unwrap()).collect();
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
