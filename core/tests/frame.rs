//! The frame protocol over real sockets: codec at every split, control messages,
//! errors, rooms across workers, slow consumers, host publish, stats.

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::thread;
use std::time::Duration;

use common::frame_client::{Client, Got};
use common::*;
use pierhead::frame::{self, op, FrameType};
use pierhead::{Config, Protocol, Server, SlowConsumer};

fn frame_server(tweak: impl FnOnce(Config) -> Config) -> Server {
    start(Protocol::Frame, tweak)
}

#[test]
fn echo_in_no_room_at_every_split() {
    let server = frame_server(|c| c.workers(1));
    let mut wire = Vec::new();
    for i in 0..5u8 {
        frame::encode(FrameType::Data, &vec![i; i as usize * 7], &mut wire);
    }
    frame::encode_control(op::PING, b"p", &mut wire);
    let mut whole = Client::connect(server.local_addr());
    whole.send_raw(&wire);
    let expected: Vec<Got> = (0..6).map(|_| whole.recv().unwrap()).collect();
    assert_eq!(expected[5], Got::Pong(b"p".to_vec()));
    for split in (1..wire.len()).step_by(3) {
        let mut c = Client::connect(server.local_addr());
        c.send_raw(&wire[..split]);
        thread::sleep(Duration::from_millis(1));
        c.send_raw(&wire[split..]);
        let got: Vec<Got> = (0..6).map(|_| c.recv().unwrap()).collect();
        assert_eq!(got, expected, "split at {split}");
    }
    let mut bytewise = Client::connect(server.local_addr());
    for b in &wire {
        bytewise.send_raw(std::slice::from_ref(b));
    }
    let got: Vec<Got> = (0..6).map(|_| bytewise.recv().unwrap()).collect();
    assert_eq!(got, expected);
}

#[test]
fn bad_input_gets_error_text_then_close() {
    let server = frame_server(|c| c.max_frame_bytes(1024));
    let mut ok_header = Vec::new();
    frame::encode_header(FrameType::Data, 4, &mut ok_header);
    let with = |at: usize, value: u32| {
        let mut h = ok_header.clone();
        h[at..at + 4].copy_from_slice(&value.to_be_bytes());
        h
    };
    let mut join_long = Vec::new();
    frame::encode_control(op::JOIN, &[b'r'; 65], &mut join_long);
    let mut unknown_op = Vec::new();
    frame::encode_control(0x42, b"", &mut unknown_op);
    let mut empty_control = Vec::new();
    frame::encode(FrameType::Control, b"", &mut empty_control);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), "bad magic"),
        (with(4, 2), "unknown version 2"),
        (with(8, 7), "unknown frame type 7"),
        (with(12, 1025), "over the limit of 1024"),
        (join_long, "bad room name"),
        (unknown_op, "unknown control opcode 0x42"),
        (empty_control, "empty control frame"),
    ];
    for (input, text) in cases {
        let mut c = Client::connect(server.local_addr());
        c.send_raw(&input);
        match c.recv() {
            Some(Got::Error(e)) => assert!(e.contains(text), "{e:?} lacks {text:?}"),
            other => panic!("{other:?} for {text}"),
        }
        assert!(c.closed(), "{text}: not closed");
    }
    assert_eq!(server.stats().protocol_errors, 7);
}

/// A frame claiming 4 GiB is refused as soon as its header arrives; nothing is
/// allocated for it (the heap check lives in tests/memory.rs style: here, the
/// answer comes without any payload sent).
#[test]
fn a_frame_claiming_4_gib_is_refused_at_once() {
    let server = frame_server(|c| c);
    let mut c = Client::connect(server.local_addr());
    let mut h = Vec::new();
    frame::encode_header(FrameType::Data, 0, &mut h);
    h[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
    c.send_raw(&h);
    match c.recv() {
        Some(Got::Error(e)) => assert!(e.contains("4294967295"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(c.closed());
}

#[test]
fn join_move_leave_and_broadcast_between_two_members() {
    let server = frame_server(|c| c.workers(2));
    let (mut a, mut b, mut c) = (
        Client::connect(server.local_addr()),
        Client::connect(server.local_addr()),
        Client::connect(server.local_addr()),
    );
    a.join("red");
    b.join("red");
    c.join("blue");
    assert_eq!(server.rooms(), vec![("blue".into(), 1), ("red".into(), 2)]);
    a.send(b"to red");
    assert_eq!(b.recv(), Some(Got::Data(b"to red".to_vec())));
    // c moves from blue to red: blue is freed.
    c.join("red");
    assert_eq!(server.rooms(), vec![("red".into(), 3)]);
    b.send(b"hello both");
    assert_eq!(a.recv(), Some(Got::Data(b"hello both".to_vec())));
    assert_eq!(c.recv(), Some(Got::Data(b"hello both".to_vec())));
    a.control(op::LEAVE, b"");
    assert_eq!(a.recv(), Some(Got::Left));
    a.send(b"echo me");
    assert_eq!(a.recv(), Some(Got::Data(b"echo me".to_vec())));
    drop(b);
    assert!(wait_until(IO_TIMEOUT, || server.rooms() == vec![("red".into(), 1)]));
    let s = server.stats();
    assert_eq!((s.rooms, s.members), (1, 1));
    assert!(s.broadcasts >= 2 && s.deliveries >= 3, "{s:?}");
}

#[test]
fn host_publish_reaches_every_member_on_every_worker() {
    let server = frame_server(|c| c.workers(2));
    let mut members: Vec<Client> = (0..8)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    for m in &mut members {
        m.join("news");
    }
    let report = server.publish("news", b"extra").unwrap();
    assert_eq!(
        (report.delivered, report.dropped, report.disconnected),
        (8, 0, 0)
    );
    for m in &mut members {
        assert_eq!(m.recv(), Some(Got::Data(b"extra".to_vec())));
    }
    assert_eq!(server.publish("nobody", b"x").unwrap(), Default::default());
    assert!(server.publish("", b"x").is_err());
    let echo = start(Protocol::Echo, |c| c);
    assert!(matches!(
        echo.publish("news", b"x"),
        Err(pierhead::PublishError::NotFrameProtocol(_))
    ));
    // An HTTP server's rooms are its WebSocket room routes': none has members.
    let http = start(Protocol::Http, |c| c);
    assert_eq!(http.publish("news", b"x").unwrap(), Default::default());
}

/// 500 members over 2 workers, 5 senders with unique payloads: every member gets
/// every other member's frames exactly once, each sender's in order.
#[test]
fn broadcast_integrity_with_500_members_over_2_workers() {
    let server = frame_server(|c| c.workers(2));
    let mut members: Vec<Client> = (0..500)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    for m in &mut members {
        m.join("all");
    }
    const PER_SENDER: u32 = 40;
    let senders = 5usize;
    for round in 0..PER_SENDER {
        for (s, m) in members.iter_mut().take(senders).enumerate() {
            m.send(format!("{s}:{round}").as_bytes());
        }
    }
    let readers: Vec<_> = members
        .into_iter()
        .enumerate()
        .map(|(i, mut m)| {
            thread::spawn(move || {
                let expect = if i < senders { senders - 1 } else { senders } * PER_SENDER as usize;
                let mut next: HashMap<usize, u32> = HashMap::new();
                for _ in 0..expect {
                    let Some(Got::Data(p)) = m.recv() else {
                        panic!("member {i}: early end")
                    };
                    let text = String::from_utf8(p).unwrap();
                    let (s, n) = text.split_once(':').unwrap();
                    let (s, n): (usize, u32) = (s.parse().unwrap(), n.parse().unwrap());
                    assert_ne!(s, i, "member {i} got its own frame");
                    let want = next.entry(s).or_insert(0);
                    assert_eq!(n, *want, "member {i}: sender {s} out of order");
                    *want += 1;
                }
                m
            })
        })
        .collect();
    let mut members: Vec<Client> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    // Nothing more arrives: exactly once.
    members[7]
        .s
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut extra = [0u8; 1];
    assert!(members[7].s.read(&mut extra).is_err());
    let s = server.stats();
    assert_eq!(s.broadcasts, senders as u64 * PER_SENDER as u64);
    assert_eq!(s.deliveries, senders as u64 * PER_SENDER as u64 * 499);
}

/// One member never reads while 10 healthy members get every frame of a 20 MiB
/// stream; the slow one is handled by the policy, and counted. The publisher sends
/// in steps of 8 frames and waits for the healthy members to have them (so they
/// are never over the limit themselves); it is never held back by the slow one,
/// or the steps would stop.
fn slow_consumer_case(policy: SlowConsumer) -> pierhead::Stats {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let server = frame_server(|c| c.workers(2).slow_consumer(policy).max_output_bytes(1 << 20));
    let mut slow = Client::connect(server.local_addr());
    // A small receive buffer so that the server's queue fills fast.
    socket2::SockRef::from(&slow.s)
        .set_recv_buffer_size(4096)
        .unwrap();
    slow.join("stream");
    let mut healthy: Vec<Client> = (0..10)
        .map(|_| Client::connect(server.local_addr()))
        .collect();
    for h in &mut healthy {
        h.join("stream");
    }
    let mut publisher = Client::connect(server.local_addr());
    publisher.join("stream");
    const FRAMES: usize = 320;
    let payload = vec![b'x'; 64 * 1024]; // 320 x 64 KiB = 20 MiB
    let progress: Arc<Vec<AtomicUsize>> = Arc::new((0..10).map(|_| AtomicUsize::new(0)).collect());
    let readers: Vec<_> = healthy
        .into_iter()
        .enumerate()
        .map(|(n, mut h)| {
            let progress = progress.clone();
            thread::spawn(move || {
                for i in 0..FRAMES {
                    match h.recv() {
                        Some(Got::Data(p)) => assert_eq!(p.len(), 64 * 1024, "frame {i}"),
                        other => panic!("member {n}, frame {i}: {other:?}"),
                    }
                    progress[n].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for step in 0..FRAMES / 8 {
        for _ in 0..8 {
            publisher.send(&payload);
        }
        let sent = (step + 1) * 8;
        assert!(
            wait_until(Duration::from_secs(30), || progress
                .iter()
                .all(|p| p.load(Ordering::Relaxed) >= sent)),
            "healthy members stalled at step {step}"
        );
    }
    for r in readers {
        r.join().unwrap();
    }
    // Counted once sent whole: the count may come a moment after the reads.
    assert!(
        wait_until(Duration::from_secs(10), || server.stats().deliveries
            >= 10 * FRAMES as u64),
        "{:?}",
        server.stats()
    );
    let stats = server.stats();
    drop(slow);
    stats
}

#[test]
fn slow_consumer_disconnect() {
    let s = slow_consumer_case(SlowConsumer::Disconnect);
    assert_eq!(s.slow_consumer_disconnects, 1, "{s:?}");
}

#[test]
fn slow_consumer_drop_newest() {
    let s = slow_consumer_case(SlowConsumer::DropNewest);
    assert_eq!(s.slow_consumer_disconnects, 0);
    assert!(s.frames_dropped > 0, "{s:?}");
}

#[test]
fn slow_consumer_drop_oldest() {
    let s = slow_consumer_case(SlowConsumer::DropOldest);
    assert_eq!(s.slow_consumer_disconnects, 0);
    assert!(s.frames_dropped > 0, "{s:?}");
}
