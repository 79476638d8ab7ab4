//! Echo and discard over real sockets: integrity under concurrency, backpressure,
//! half-close.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use common::*;
use pierhead::Protocol;
use rand::{Rng, RngCore, SeedableRng};

/// Every client sends its own random payload in random-sized writes while reading
/// concurrently; every byte must come back to its own sender, in order.
fn echo_integrity(clients: usize, max_output: usize) {
    let server = start(Protocol::Echo, |c| c.max_output_bytes(max_output));
    let addr = server.local_addr();
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            thread::spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(i as u64);
                let mut payload = vec![0u8; rng.random_range(1..=256 * 1024)];
                rng.fill_bytes(&mut payload);
                // A nonce in front makes payloads distinct even if the RNG repeated.
                payload[..8].copy_from_slice(&(i as u64).to_le_bytes());
                let stream = connect(addr);
                let mut reader = stream.try_clone().unwrap();
                let expected = payload.len();
                let receiver = thread::spawn(move || {
                    let mut got = Vec::with_capacity(expected);
                    let mut buf = vec![0u8; 64 * 1024];
                    while got.len() < expected {
                        let n = reader.read(&mut buf).expect("echo read");
                        assert!(n > 0, "server closed early");
                        got.extend_from_slice(&buf[..n]);
                    }
                    got
                });
                let mut writer = stream;
                let mut pos = 0;
                while pos < payload.len() {
                    let n = rng.random_range(1..=8192).min(payload.len() - pos);
                    writer.write_all(&payload[pos..pos + n]).unwrap();
                    pos += n;
                }
                let got = receiver.join().unwrap();
                assert!(got == payload, "client {i}: echoed bytes differ");
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client thread");
    }
    let stats = server.stats();
    assert_eq!(stats.connections_accepted, clients as u64);
    // A worker counts bytes after its write returns, so the last count may land a
    // moment after the client has read them.
    let balanced = wait_until(Duration::from_secs(2), || {
        let s = server.stats();
        s.bytes_read == s.bytes_written
    });
    let stats = server.stats();
    assert!(
        balanced,
        "read {} written {}",
        stats.bytes_read, stats.bytes_written
    );
    let report = server.stop(Duration::from_secs(5));
    assert_eq!(report.force_closed, 0);
}

#[test]
fn echo_200_concurrent_clients_get_their_own_bytes_in_order() {
    echo_integrity(200, 1024 * 1024);
}

#[test]
fn echo_integrity_holds_under_backpressure() {
    // A tiny output limit makes the server suspend and resume reading constantly.
    echo_integrity(50, 1024);
}

#[test]
fn echo_half_close_returns_everything_then_closes() {
    let server = start(Protocol::Echo, |c| c);
    let mut s = connect(server.local_addr());
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    s.write_all(&payload).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert!(got == payload);
}

#[test]
fn discard_reads_everything_and_answers_nothing() {
    let server = start(Protocol::Discard, |c| c);
    let mut s = connect(server.local_addr());
    s.write_all(&vec![7u8; 500_000]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    assert!(got.is_empty());
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .bytes_read
        == 500_000));
    assert_eq!(server.stats().bytes_written, 0);
}

#[test]
fn serves_ipv6_loopback() {
    let Ok(probe) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback on this machine; skipped");
        return;
    };
    drop(probe);
    let server = start(Protocol::Echo, |c| c.bind("[::1]:0"));
    assert!(server.local_addr().is_ipv6());
    let mut s = connect(server.local_addr());
    s.write_all(b"over v6").unwrap();
    let mut got = [0u8; 7];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"over v6");
}
