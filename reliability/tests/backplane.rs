//! Cross-talk across servers: two frame servers (tiny buffers) sharing rooms
//! through a real redis-server; each room has one member on each server, the one on
//! the first sends a nonce-tagged frame, the one on the second must get exactly it.
//! 30% of the senders reset mid-frame. It needs `redis-server` (scripts/test.sh
//! installs it) and fails, naming the package, without it.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pierhead::frame::FrameType;
use pierhead::{Config, Protocol, Server};
use pierhead_reliability::*;

#[test]
fn no_frame_crosses_rooms_through_the_broker() {
    let redis = redis::Redis::start();
    let url = redis.url();
    let start = || {
        Server::start(
            Config::new()
                .protocol(Protocol::Frame)
                .workers(2)
                .backplane(url.clone()),
        )
        .unwrap()
    };
    let (a, b) = (start(), start());
    let (aa, ba): (SocketAddr, SocketAddr) = (a.local_addr(), b.local_addr());
    let until = Instant::now() + Duration::from_secs(scale(4, 60));
    let (rooms, resets, verified, corrupt, errors) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (rooms, resets, verified, corrupt, errors) = (
                rooms.clone(),
                resets.clone(),
                verified.clone(),
                corrupt.clone(),
                errors.clone(),
            );
            thread::spawn(move || {
                while Instant::now() < until {
                    let nonce = next_nonce();
                    let room = format!("x{nonce:x}");
                    rooms.fetch_add(1, Ordering::Relaxed);
                    let result = (|| -> std::io::Result<Option<bool>> {
                        let mut sender = connect(aa)?;
                        let mut receiver = connect(ba)?;
                        join(&mut receiver, &room)?;
                        join(&mut sender, &room)?;
                        let data = payload(nonce, 1 + (nonce >> 24) as usize % 2000);
                        let f = frame_of(FrameType::Data, &data);
                        let cut = f.len() / 2;
                        sender.write_all(&f[..cut])?;
                        if nonce % 10 < 3 {
                            reset(sender);
                            return Ok(None);
                        }
                        sender.write_all(&f[cut..])?;
                        let (kind, got) = read_frame(&mut receiver)?;
                        Ok(Some(kind == FrameType::Data && got == data))
                    })();
                    match result {
                        Ok(None) => resets.fetch_add(1, Ordering::Relaxed),
                        Ok(Some(true)) => verified.fetch_add(1, Ordering::Relaxed),
                        Ok(Some(false)) => corrupt.fetch_add(1, Ordering::Relaxed),
                        Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    figure("backplane.rooms", rooms.load(Ordering::Relaxed));
    figure("backplane.reset_mid_frame", resets.load(Ordering::Relaxed));
    figure(
        "backplane.frames_verified_across_servers",
        verified.load(Ordering::Relaxed),
    );
    figure("backplane.io_errors", errors.load(Ordering::Relaxed));
    figure(
        "backplane.corrupt_or_misrouted",
        corrupt.load(Ordering::Relaxed),
    );
    assert_eq!(
        corrupt.load(Ordering::Relaxed),
        0,
        "a frame crossed rooms through the broker"
    );
    assert!(verified.load(Ordering::Relaxed) > 100);
    for s in [&a, &b] {
        assert_eq!(s.stats().state, pierhead::State::Running);
    }
}
