//! Cross-talk across servers: two frame servers (tiny buffers) sharing rooms
//! through a real redis-server; each room has one member on each server, the one on
//! the first sends a nonce-tagged frame, the one on the second must get exactly it.
//! 30% of the senders reset mid-frame. Skipped (with a message) without
//! `redis-server` on the PATH; scripts/test.sh installs it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pierhead::frame::{self, op, FrameType};
use pierhead::{Config, Protocol, Server};
use pierhead_reliability::*;

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis() -> Option<(Redis, u16)> {
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    let r = Redis(child);
    let up = (0..200).any(|_| {
        thread::sleep(Duration::from_millis(10));
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    up.then_some((r, port))
}

fn frame_of(kind: FrameType, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    frame::encode(kind, payload, &mut f);
    f
}

fn read_frame(r: &mut impl Read) -> std::io::Result<(FrameType, Vec<u8>)> {
    let mut head = [0u8; frame::HEADER_LEN];
    r.read_exact(&mut head)?;
    let h = frame::decode_header(&head, 1 << 20)
        .map_err(|e| std::io::Error::other(format!("{e:?}")))?
        .ok_or_else(|| std::io::Error::other("short header"))?;
    let mut body = vec![0u8; h.len];
    r.read_exact(&mut body)?;
    Ok((h.kind, body))
}

fn join(s: &mut TcpStream, room: &str) -> std::io::Result<()> {
    let mut f = Vec::new();
    frame::encode_control(op::JOIN, room.as_bytes(), &mut f);
    s.write_all(&f)?;
    let (kind, body) = read_frame(s)?;
    if kind == FrameType::Control && body.first() == Some(&op::JOINED) {
        Ok(())
    } else {
        Err(std::io::Error::other("no JOINED"))
    }
}

#[test]
fn no_frame_crosses_rooms_through_the_broker() {
    let Some((_redis, port)) = redis() else {
        eprintln!("skipped: no redis-server on the PATH");
        return;
    };
    let url = format!("redis://127.0.0.1:{port}");
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
    static NONCE: AtomicU64 = AtomicU64::new(1);
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
                    let nonce = NONCE
                        .fetch_add(1, Ordering::Relaxed)
                        .wrapping_mul(0x2545_F491_4F6C_DD1D);
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
