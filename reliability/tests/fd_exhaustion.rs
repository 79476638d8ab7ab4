//! Descriptor exhaustion: an echo server limited to 256 descriptors, 1,000 clients.
//! At the limit it must not spin (< 5% of a core), it goes on serving the
//! connections it has, the queued ones are served once descriptors free up, and a
//! stop during the accept back-off is prompt.

// Runs on the engine as shipped: the tiny-buffers build is for the cross-talk
// scenarios (see Cargo.toml).
#![cfg(not(feature = "tiny-buffers"))]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use pierhead_reliability::*;

/// How many of the first 100 `clients` echo a ping within `timeout`.
fn echoing(clients: &mut [TcpStream], timeout: Duration) -> usize {
    clients
        .iter_mut()
        .take(100)
        .map(|c| echoes(c, timeout))
        .filter(|ok| *ok)
        .count()
}

fn echoes(s: &mut TcpStream, timeout: Duration) -> bool {
    let _ = s.set_read_timeout(Some(timeout));
    let mut buf = [0u8; 4];
    s.write_all(b"ping").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"ping"
}

#[test]
fn at_the_descriptor_limit_the_server_idles_serves_and_recovers() {
    let clients_n = scale(1_000, 1_000);
    let server = LimitedServer::start(env!("CARGO_BIN_EXE_limited_server"), 256);
    let (addr, pid) = (server.addr, server.pid());

    // 1,000 clients connect; the kernel queues what the server cannot accept.
    let mut clients: Vec<TcpStream> = (0..clients_n).filter_map(|_| connect(addr).ok()).collect();
    figure("clients_connected", clients.len());
    thread::sleep(Duration::from_millis(300));

    // At the limit: CPU over two seconds.
    let (c0, t0) = (cpu_ticks(pid), std::time::Instant::now());
    thread::sleep(Duration::from_secs(2));
    let cpu = (cpu_ticks(pid) - c0) as f64 / ticks_per_second() as f64 / t0.elapsed().as_secs_f64();
    figure("cpu_share_at_the_limit", format!("{:.3}", cpu));
    assert!(
        cpu < 0.05,
        "the server spins at the limit: {:.1}% of a core",
        cpu * 100.0
    );

    // The accepted ones are served (the first connections are the accepted ones).
    let served = echoing(&mut clients, Duration::from_secs(2));
    figure("accepted_connections_served_of_100", served);
    assert!(
        served >= 95,
        "accepted connections not served: {served}/100"
    );

    // Free descriptors: the queued clients are accepted and served.
    let mut late = clients.split_off(600.min(clients.len()));
    drop(clients);
    let served_late = echoing(&mut late, Duration::from_secs(5));
    figure("queued_connections_served_after_free_of_100", served_late);
    assert!(
        served_late >= 95,
        "queued connections not served: {served_late}/100"
    );

    // Fill it again and stop during the back-off.
    let _again: Vec<TcpStream> = (0..400).filter_map(|_| connect(addr).ok()).collect();
    thread::sleep(Duration::from_millis(300));
    let (report, ms) = server.stop();
    figure("stop_during_backoff", &report);
    assert!(ms < 1000.0, "stop during back-off took {ms} ms");
    assert!(report.contains("complete true"), "{report}");
}
