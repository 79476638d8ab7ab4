//! Slow consumers under the `disconnect` policy, as the member sees it: a member
//! that still reads, however slowly, gets whole frames, then `ERROR slow
//! consumer`, then the end of the stream; one that reads nothing is closed when
//! the grace ends. Every frame offered to a member is counted once, as delivered
//! (sent whole) or dropped. A member that half-closes gets its answers and leaves.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::frame_client::{count_frames, Client, Got};
use common::*;
use pierhead::frame::{self, op, Control, FrameType};
use pierhead::{Config, Protocol, Server, SlowConsumer};

fn frame_server(tweak: impl FnOnce(Config) -> Config) -> Server {
    start(Protocol::Frame, tweak)
}

/// Reads `c` until EOF, `chunk` bytes at a time with a pause between reads, and
/// returns what arrived.
fn read_slowly(mut c: Client, chunk: usize, pause: Duration) -> Vec<u8> {
    let mut all = std::mem::take(&mut c.buf);
    let mut buf = vec![0u8; chunk];
    c.s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    loop {
        match c.s.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("read: {e}"),
        }
        thread::sleep(pause);
    }
}

/// Splits a stream into frames: the data payloads, the control frames, and the
/// bytes left over (a frame cut short).
fn frames(mut bytes: &[u8]) -> (Vec<Vec<u8>>, Vec<String>, usize) {
    let (mut data, mut control) = (Vec::new(), Vec::new());
    while let Some((h, payload)) = frame::decode(bytes, 1 << 30).unwrap() {
        match h.kind {
            FrameType::Data => data.push(payload.to_vec()),
            FrameType::Control => match frame::parse_control(payload).unwrap() {
                Control::Error(e) => control.push(format!("ERROR {e}")),
                Control::Joined(r) => control.push(format!("JOINED {r}")),
                other => control.push(format!("{other:?}")),
            },
        }
        bytes = &bytes[h.frame_len()..];
    }
    (data, control, bytes.len())
}

/// One publisher (the host), a member reading at full speed and one reading
/// slowly; frames of `size` until the slow one is disconnected.
fn disconnect_case(size: usize) {
    let server = frame_server(|c| {
        c.workers(2)
            .max_output_bytes(1 << 20)
            .slow_consumer(SlowConsumer::Disconnect)
    });
    let mut slow = Client::connect(server.local_addr());
    slow.join("s");
    let mut fast = Client::connect(server.local_addr());
    fast.join("s");
    // The slow member reads under 1 MB/s until the server ends its stream.
    let slow_reader = thread::spawn(move || read_slowly(slow, 16 << 10, Duration::from_millis(20)));
    let fast_got = Arc::new(AtomicU64::new(0));
    let fast_done = Arc::new(AtomicBool::new(false));
    let fast_reader = count_frames(fast, fast_got.clone(), fast_done.clone());
    let mut payload = vec![b'p'; size];
    let mut offered = 0u64;
    let mut published = 0u64;
    while server.stats().slow_consumer_disconnects == 0 {
        assert!(
            published < 200_000,
            "no slow consumer after {published} frames"
        );
        payload[..8].copy_from_slice(&published.to_be_bytes());
        let r = server.publish("s", &payload).unwrap();
        offered += r.delivered + r.dropped + r.disconnected;
        published += 1;
        // Never get ahead of the fast member by more than two frames (it must
        // never be over its limit itself).
        assert!(
            wait_until(Duration::from_secs(30), || fast_got.load(Ordering::Relaxed)
                + 2
                >= published),
            "the fast member stalled"
        );
    }
    // A few more after the disconnect: only the fast member is offered them.
    for _ in 0..5 {
        let r = server.publish("s", &payload).unwrap();
        assert_eq!(r.delivered + r.dropped + r.disconnected, 1, "{r:?}");
        offered += 1;
        published += 1;
    }
    let stream = slow_reader.join().unwrap();
    let (data, control, rest) = frames(&stream);
    assert_eq!(
        (control.last().map(String::as_str), rest),
        (Some("ERROR slow consumer"), 0),
        "size {size}: whole frames then the ERROR, then the end ({} frames, control {control:?})",
        data.len()
    );
    for (i, p) in data.iter().enumerate() {
        assert_eq!(p.len(), size, "size {size}: frame {i} whole");
        assert_eq!(
            p[..8],
            (i as u64).to_be_bytes(),
            "size {size}: frame {i} in order"
        );
    }
    assert!(wait_until(Duration::from_secs(10), || fast_got
        .load(Ordering::Relaxed)
        == published));
    fast_done.store(true, Ordering::Relaxed);
    fast_reader.join().unwrap();
    // Every frame offered is counted once: delivered (the members read exactly
    // those) or dropped.
    let received = data.len() as u64 + published;
    assert!(
        wait_until(Duration::from_secs(5), || server.stats().deliveries
            == received),
        "size {size}: deliveries {} but the members received {received}",
        server.stats().deliveries
    );
    let s = server.stats();
    assert_eq!(
        s.deliveries + s.frames_dropped,
        offered,
        "size {size}: {s:?}"
    );
    assert_eq!(s.slow_consumer_disconnects, 1, "{s:?}");
}

#[test]
fn a_slow_reader_gets_whole_frames_then_the_error_100_b() {
    disconnect_case(100);
}

#[test]
fn a_slow_reader_gets_whole_frames_then_the_error_10_kb() {
    disconnect_case(10_000);
}

#[test]
fn a_slow_reader_gets_whole_frames_then_the_error_100_kb() {
    disconnect_case(100_000);
}

#[test]
fn a_member_that_reads_nothing_is_closed_when_the_grace_ends() {
    let server = frame_server(|c| {
        c.workers(1)
            .max_output_bytes(64 << 10)
            .slow_consumer(SlowConsumer::Disconnect)
    });
    let mut stuck = Client::connect(server.local_addr());
    socket2::SockRef::from(&stuck.s)
        .set_recv_buffer_size(4096)
        .unwrap();
    stuck.join("s");
    let payload = vec![b'x'; 10_000];
    while server.stats().slow_consumer_disconnects == 0 {
        server.publish("s", &payload).unwrap();
    }
    // Out of the room in the turn it was found slow (the count comes first).
    assert!(wait_until(Duration::from_secs(5), || server
        .rooms()
        .is_empty()));
    assert!(
        wait_until(Duration::from_secs(10), || server
            .stats()
            .connections_active
            == 0),
        "{:?}",
        server.stats()
    );
    let s = server.stats();
    assert_eq!(s.deliveries + s.frames_dropped, s.broadcasts, "{s:?}");
    drop(stuck);
}

#[test]
fn a_member_that_half_closes_gets_its_answers_and_leaves_the_room() {
    let server = frame_server(|c| c.workers(1));
    let mut stays = Client::connect(server.local_addr());
    stays.join("h");
    let mut leaves = Client::connect(server.local_addr());
    leaves.join("h");
    let mut ping = Vec::new();
    frame::encode_control(op::PING, b"last", &mut ping);
    leaves.s.write_all(&ping).unwrap();
    leaves.s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(leaves.recv(), Some(Got::Pong(b"last".to_vec())));
    assert!(leaves.closed(), "closed after its answers");
    assert!(wait_until(Duration::from_secs(5), || server.rooms()
        == [("h".to_owned(), 1)]));
    let r = server.publish("h", b"after").unwrap();
    assert_eq!(r.delivered, 1, "{r:?}");
    assert_eq!(stays.recv(), Some(Got::Data(b"after".to_vec())));
}
