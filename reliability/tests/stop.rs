//! Stop in the hard cases: under full load, with thousands of idle connections,
//! during EMFILE back-off, with the Redis broker down. Each returns within its
//! deadline, the port can be bound again at once, and no thread is left.

// Runs on the engine as shipped: the tiny-buffers build is for the cross-talk
// scenarios (see Cargo.toml).
#![cfg(not(feature = "tiny-buffers"))]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pierhead::{Config, Protocol, Server};
use pierhead_reliability::*;

fn check_stop(server: Server, grace: Duration, limit: Duration, what: &str, threads_before: usize) {
    let addr = server.local_addr();
    let t0 = Instant::now();
    let report = server.stop(grace);
    let took = t0.elapsed();
    figure(
        &format!("{what}.stop_ms"),
        format!("{:.1}", took.as_secs_f64() * 1000.0),
    );
    assert!(
        took < limit,
        "{what}: stop took {took:?} (limit {limit:?}); {report:?}"
    );
    drop(server);
    drop(TcpListener::bind(addr).unwrap_or_else(|e| panic!("{what}: port not free at once: {e}")));
    // The server's threads are gone (client threads of the test were joined).
    let left = (0..200).find(|_| {
        thread::sleep(Duration::from_millis(5));
        threads() <= threads_before
    });
    assert!(
        left.is_some(),
        "{what}: threads {} > {threads_before} before the server",
        threads()
    );
}

#[test]
fn stop_under_full_load_returns_within_the_grace() {
    let threads_before = threads();
    let server = Server::start(Config::new().protocol(Protocol::Echo).workers(2)).unwrap();
    let addr = server.local_addr();
    let running = Arc::new(AtomicBool::new(true));
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let running = running.clone();
            thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while running.load(Ordering::Relaxed) {
                    let Ok(mut s) = connect(addr) else { continue };
                    while running.load(Ordering::Relaxed) {
                        if s.write_all(&buf[..16 * 1024]).is_err() || s.read(&mut buf).is_err() {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(500));
    let grace = Duration::from_millis(300);
    let addr_server = server;
    running.store(false, Ordering::Relaxed);
    check_stop(
        addr_server,
        grace,
        grace + Duration::from_millis(400),
        "full_load",
        threads_before + 8,
    );
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn stop_with_thousands_of_idle_connections_is_prompt() {
    // The two idle-connection tests would need more than the process's 20,000
    // descriptors together (long run): one at a time.
    let _serial = serial();
    let n = scale(5_000, 9_000);
    let threads_before = threads();
    let server = Server::start(
        Config::new()
            .protocol(Protocol::Echo)
            .workers(2)
            .max_connections(20_000),
    )
    .unwrap();
    let conns: Vec<_> = (0..n)
        .filter_map(|_| connect(server.local_addr()).ok())
        .collect();
    let settled = (0..500).any(|_| {
        thread::sleep(Duration::from_millis(10));
        server.stats().connections_active as usize == conns.len()
    });
    assert!(settled);
    figure("idle.connections", conns.len());
    check_stop(
        server,
        Duration::from_secs(5),
        Duration::from_millis(500),
        "idle",
        threads_before,
    );
}

#[test]
fn stop_with_the_broker_down_is_prompt() {
    let threads_before = threads();
    // Nothing listens on this port: the backplane keeps retrying.
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = Server::start(
        Config::new()
            .protocol(Protocol::Frame)
            .workers(2)
            .backplane(format!("redis://{free}")),
    )
    .unwrap();
    thread::sleep(Duration::from_millis(300));
    check_stop(
        server,
        Duration::from_secs(2),
        Duration::from_millis(800),
        "broker_down",
        threads_before,
    );
}

#[test]
fn stop_with_ten_thousand_idle_connections_from_another_process() {
    // Server and clients in one process would need 20,000 descriptors, the
    // machine's limit: the server runs in a child (tests/../src/bin/limited_server).
    let _serial = serial();
    let n = scale(3_000, 10_000);
    let server = LimitedServer::start(env!("CARGO_BIN_EXE_limited_server"), 19_000);
    let addr = server.addr;
    let mut conns: Vec<_> = (0..n).filter_map(|_| connect(addr).ok()).collect();
    // Each one answered once: accepted and idle, not waiting in the queue.
    for c in conns.iter_mut() {
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
    }
    figure("idle_other_process.connections", conns.len());
    let (report, ms) = server.stop();
    figure("idle_other_process.stop", &report);
    assert!(ms < 1000.0, "stop with {n} idle connections took {ms} ms");
    drop(TcpListener::bind(addr).expect("port free at once"));
}
