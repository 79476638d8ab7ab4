//! The integrity check of rooms spread over several servers: members on each,
//! every member a sender; each must get every other member's frames exactly once
//! and in the order sent, and nothing more.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use pierhead::frame::{self, FrameType};

use super::frame_client::{Client, Got};

/// A payload naming its sender and sequence number (of varying length).
pub fn tagged(sender: usize, seq: u32) -> Vec<u8> {
    format!("{sender}:{seq}:{}", "x".repeat(seq as usize % 40)).into_bytes()
}

pub fn parse_tag(p: &[u8]) -> (usize, u32) {
    let t = std::str::from_utf8(p).unwrap();
    let mut it = t.split(':');
    (
        it.next().unwrap().parse().unwrap(),
        it.next().unwrap().parse().unwrap(),
    )
}

/// `per_server` members on each of `servers` join room `chat`; once all are in,
/// each sends `frames` tagged frames. Panics unless every member gets every
/// other member's frames exactly once, per sender in order, and no more.
pub fn every_member_gets_every_frame_once(servers: &[SocketAddr], per_server: usize, frames: u32) {
    let members = servers.len() * per_server;
    let barrier = Arc::new(Barrier::new(members));
    let threads: Vec<_> = (0..members)
        .map(|id| {
            let addr = servers[id % servers.len()];
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                c.join("chat");
                barrier.wait(); // every member is in before anyone sends
                let mut wire = Vec::new();
                for seq in 0..frames {
                    frame::encode(FrameType::Data, &tagged(id, seq), &mut wire);
                }
                c.send_raw(&wire);
                let mut next: HashMap<usize, u32> = HashMap::new();
                for _ in 0..(members - 1) * frames as usize {
                    let Some(Got::Data(p)) = c.recv() else {
                        panic!("member {id}: connection ended early");
                    };
                    let (from, seq) = parse_tag(&p);
                    assert_ne!(from, id, "member {id} got its own frame back");
                    let want = next.entry(from).or_insert(0);
                    assert_eq!(
                        seq, *want,
                        "member {id}: frame from {from} out of order or twice"
                    );
                    *want += 1;
                }
                assert_eq!(next.len(), members - 1);
                assert!(next.values().all(|&n| n == frames));
                c
            })
        })
        .collect();
    let clients: Vec<Client> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    // Nothing more arrives (no duplicates after the expected count).
    thread::sleep(Duration::from_millis(200));
    for mut c in clients {
        c.s.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        assert!(
            matches!(c.s.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "a member got more than it should"
        );
    }
}
