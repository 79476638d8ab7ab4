//! The backplane against brokers that misbehave: messages over this server's
//! frame limit, a broker that is frozen (SIGSTOP), servers that are not Redis
//! (a black hole, a garbage sender, an HTTP server), a broker that takes
//! PUBLISHes without confirming them; and the answers a member gets while its
//! room waits for the broker. Real `redis-server`s on free loopback ports, and
//! fake brokers on loopback written here.

mod common;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::frame_client::{count_frames, Client, Got};
use common::redis::Redis;
use common::*;
use pierhead::frame::{self, op, FrameType};
use pierhead::{BackplaneState, Config, Protocol, Server};

fn server(url: &str, tweak: impl FnOnce(Config) -> Config) -> Server {
    start(Protocol::Frame, |c| tweak(c.backplane(url)))
}

fn backplane(s: &Server) -> pierhead::BackplaneStats {
    s.stats().backplane.expect("a backplane is configured")
}

fn wait_state(s: &Server, state: BackplaneState, limit: Duration) {
    assert!(
        wait_until(limit, || backplane(s).state == state),
        "backplane not {state}: {:?}",
        backplane(s)
    );
}

/// Two servers on one broker, both linked.
fn two_servers(redis: &Redis, tweak_first: impl FnOnce(Config) -> Config) -> (Server, Server) {
    let first = server(&redis.url(), tweak_first);
    let second = server(&redis.url(), |c| c);
    wait_state(&first, BackplaneState::Connected, Duration::from_secs(10));
    wait_state(&second, BackplaneState::Connected, Duration::from_secs(10));
    (first, second)
}

fn data_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    frame::encode(FrameType::Data, payload, &mut f);
    f
}

fn control_frame(opcode: u8, arg: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    frame::encode_control(opcode, arg, &mut f);
    f
}

#[test]
fn messages_over_max_frame_bytes_are_skipped_and_the_link_stays_up() {
    // `small` takes frames of 64 KiB at most; `big` (1 MiB) forwards 70 KB ones,
    // and anyone with a PUBLISH sends 200 KB of garbage to the room's channel.
    let redis = Redis::start();
    let (small, big) = two_servers(&redis, |c| c.max_frame_bytes(64 << 10));
    let mut member = Client::connect(small.local_addr());
    member.join("r");
    let mut sender = Client::connect(big.local_addr());
    sender.join("r");
    const SMALL: u32 = 300;
    let large = vec![b'L'; 70_000];
    let garbage = vec![b'G'; 200_000];
    let (mut oversized, mut junk) = (0u64, 0u64);
    for i in 0..SMALL {
        sender.send(&i.to_be_bytes());
        if i % 10 == 0 {
            sender.send(&large);
            oversized += 1;
        }
        if i % 50 == 0 {
            redis.cmd(&[b"PUBLISH", b"pierhead/0/r", &garbage]);
            junk += 1;
        }
    }
    for i in 0..SMALL {
        match member.recv() {
            Some(Got::Data(p)) => assert_eq!(p, i.to_be_bytes(), "frame {i}"),
            other => panic!("frame {i}: {other:?} ({:?})", backplane(&small)),
        }
    }
    let b = backplane(&small);
    assert_eq!(b.outages, 0, "{b:?}");
    assert_eq!(b.state, BackplaneState::Connected, "{b:?}");
    assert!(
        wait_until(Duration::from_secs(5), || backplane(&small).bad_messages
            == oversized + junk),
        "{:?}",
        backplane(&small)
    );
    // The link still carries frames both ways.
    member.send(b"back");
    assert_eq!(sender.recv(), Some(Got::Data(b"back".to_vec())));
}

/// A TCP server that is not Redis: accepts, and does `serve` with each connection.
fn fake(serve: fn(TcpStream)) -> (SocketAddr, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let done = stop.clone();
    listener.set_nonblocking(true).unwrap();
    thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    thread::spawn(move || serve(s));
                }
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (addr, stop)
}

fn black_hole(mut s: TcpStream) {
    let mut buf = [0u8; 4096];
    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
}

fn garbage_sender(mut s: TcpStream) {
    for _ in 0..200 {
        if s.write_all(b"\x00\x17garbage \xff\xfe not resp\r\n")
            .is_err()
        {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn http_server(mut s: TcpStream) {
    let mut buf = [0u8; 4096];
    if matches!(s.read(&mut buf), Ok(n) if n > 0) {
        let _ = s.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
}

#[test]
fn a_server_that_is_not_redis_is_never_connected() {
    for (name, serve, error) in [
        ("black hole", black_hole as fn(TcpStream), "timed out"),
        ("garbage sender", garbage_sender, "is it a Redis server?"),
        ("HTTP server", http_server, "is it a Redis server?"),
    ] {
        let (addr, stop) = fake(serve);
        let s = server(&format!("redis://{addr}"), |c| c);
        // A JOIN and a PING pipelined while the first connection is tried: both
        // answered, in order, once the broker is given up on.
        let mut c = Client::connect(s.local_addr());
        let mut both = control_frame(op::JOIN, b"early");
        both.extend(control_frame(op::PING, b"p"));
        c.send_raw(&both);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let b = backplane(&s);
            assert_ne!(b.state, BackplaneState::Connected, "{name}: {b:?}");
            thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(c.recv(), Some(Got::Joined("early".to_owned())), "{name}");
        assert_eq!(c.recv(), Some(Got::Pong(b"p".to_vec())), "{name}");
        let b = backplane(&s);
        assert_eq!(b.state, BackplaneState::Down, "{name}: {b:?}");
        assert!(b.outages >= 1, "{name}: {b:?}");
        let e = b.last_error.unwrap_or_default();
        assert!(e.contains(error), "{name}: last error {e:?}");
        // Down: a new room does not wait for the broker.
        let t = Instant::now();
        c.join("later");
        assert!(
            t.elapsed() < Duration::from_millis(1500),
            "{name}: {:?}",
            t.elapsed()
        );
        stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn a_frozen_broker_is_down_from_when_it_stopped_answering() {
    let redis = Redis::start();
    let s = server(&redis.url(), |c| c);
    wait_state(&s, BackplaneState::Connected, Duration::from_secs(10));
    let mut member = Client::connect(s.local_addr());
    member.join("before");
    redis.pause();
    let frozen = Instant::now();
    // Found unresponsive within a ping interval and the reply timeout.
    wait_state(&s, BackplaneState::Down, Duration::from_secs(10));
    // Reconnection attempts meanwhile are accepted by the frozen broker's kernel,
    // and answered by nothing: the link stays down.
    for _ in 0..25 {
        let b = backplane(&s);
        assert_eq!(b.state, BackplaneState::Down, "{b:?}");
        thread::sleep(Duration::from_millis(100));
    }
    // Rooms made while it is down are local at once.
    let mut late = Client::connect(s.local_addr());
    let t = Instant::now();
    late.join("during");
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    let frozen_for = frozen.elapsed();
    redis.resume();
    wait_state(&s, BackplaneState::Connected, Duration::from_secs(10));
    let b = backplane(&s);
    // Down from the first request left unanswered (at most a ping interval after
    // the freeze), not from the timeout that noticed it.
    assert!(
        b.down_time + Duration::from_millis(1500) >= frozen_for,
        "frozen {frozen_for:?}, counted down {:?}: {b:?}",
        b.down_time
    );
    assert_eq!(b.outages, 1, "{b:?}");
    // Both rooms are resubscribed.
    assert!(wait_until(Duration::from_secs(5), || redis
        .channels()
        .len()
        == 2));
}

#[test]
fn frames_written_to_a_frozen_broker_are_unconfirmed_not_unpublished() {
    // A publisher on `a`, a member on `b`; the broker freezes while frames flow,
    // long enough for both links to give up, and then resumes (running what was
    // written to it meanwhile). Every frame is counted once, and what other
    // servers got is never counted as missed.
    let redis = Redis::start();
    let (a, b) = two_servers(&redis, |c| c);
    let mut member = Client::connect(b.local_addr());
    member.join("r");
    let mut publisher = Client::connect(a.local_addr());
    publisher.join("r");
    let sent = Arc::new(AtomicU64::new(0));
    let received = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let reader = count_frames(member, received.clone(), finished.clone());
    let send = |n: u64, publisher: &mut Client| {
        for _ in 0..n {
            publisher.send(&[7u8; 512]);
            sent.fetch_add(1, Ordering::Relaxed);
            thread::sleep(Duration::from_millis(2));
        }
    };
    send(100, &mut publisher);
    redis.pause();
    send(500, &mut publisher); // about a second: written, never confirmed
    wait_state(&a, BackplaneState::Down, Duration::from_secs(10));
    send(100, &mut publisher); // while down: never sent
    redis.resume();
    wait_state(&a, BackplaneState::Connected, Duration::from_secs(10));
    wait_state(&b, BackplaneState::Connected, Duration::from_secs(10));
    // Both servers are subscribed again.
    assert!(wait_until(Duration::from_secs(5), || redis
        .numsub("pierhead/0/r")
        == 2));
    send(100, &mut publisher);
    finished.store(true, Ordering::Relaxed);
    let sent = sent.load(Ordering::Relaxed);
    assert!(
        wait_until(Duration::from_secs(10), || {
            let s = backplane(&a);
            s.published + s.unpublished + s.unconfirmed == sent
        }),
        "every frame counted once: sent {sent}, {:?}",
        backplane(&a)
    );
    reader.join().unwrap();
    let s = backplane(&a);
    let received = received.load(Ordering::Relaxed);
    assert!(s.unconfirmed > 0, "{s:?}");
    assert!(s.unpublished >= 100, "{s:?}");
    assert!(
        received + s.unpublished <= sent,
        "frames counted as missed were delivered: sent {sent}, received {received}, {s:?}"
    );
    assert!(received >= 200, "received {received}, {s:?}");
}

/// What a fake broker does with PUBLISH.
const ANSWER: u8 = 0;
const SILENT: u8 = 1;
const BLOCKED: u8 = 2;

/// A fake broker that speaks just enough RESP (PING, SUBSCRIBE, PUBLISH) and
/// counts the PUBLISH commands it received whole; `mode` says whether it answers
/// them, takes them silently, or stops reading.
struct FakeBroker {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    publishes: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
}

impl FakeBroker {
    fn start() -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(AtomicU8::new(ANSWER));
        let publishes = Arc::new(AtomicU64::new(0));
        let closed = Arc::new(AtomicU64::new(0));
        let (m, p, c) = (mode.clone(), publishes.clone(), closed.clone());
        thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let (m, p, c) = (m.clone(), p.clone(), c.clone());
                thread::spawn(move || fake_connection(s, &m, &p, &c));
            }
        });
        FakeBroker {
            addr,
            mode,
            publishes,
            closed,
        }
    }
}

/// One command (an array of bulk strings) from the front of `buf`, if whole.
fn parse_command(buf: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    fn line(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
        let i = buf[from..].windows(2).position(|w| w == b"\r\n")?;
        Some((&buf[from..from + i], from + i + 2))
    }
    let (head, mut pos) = line(buf, 0)?;
    assert_eq!(
        head[0],
        b'*',
        "not a command: {:?}",
        String::from_utf8_lossy(head)
    );
    let n: usize = std::str::from_utf8(&head[1..]).unwrap().parse().unwrap();
    let mut args = Vec::new();
    for _ in 0..n {
        let (len, at) = line(buf, pos)?;
        let len: usize = std::str::from_utf8(&len[1..]).unwrap().parse().unwrap();
        if buf.len() < at + len + 2 {
            return None;
        }
        args.push(buf[at..at + len].to_vec());
        pos = at + len + 2;
    }
    Some((args, pos))
}

fn fake_connection(mut s: TcpStream, mode: &AtomicU8, publishes: &AtomicU64, closed: &AtomicU64) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    let mut subscribed = 0;
    loop {
        while mode.load(Ordering::Relaxed) == BLOCKED {
            thread::sleep(Duration::from_millis(5));
        }
        let n = match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut out = Vec::new();
        while let Some((args, used)) = parse_command(&buf) {
            buf.drain(..used);
            match args[0].as_slice() {
                b"PING" => out.extend_from_slice(b"+PONG\r\n"),
                b"SUBSCRIBE" => {
                    for ch in &args[1..] {
                        subscribed += 1;
                        out.extend_from_slice(b"*3\r\n$9\r\nsubscribe\r\n");
                        out.extend_from_slice(format!("${}\r\n", ch.len()).as_bytes());
                        out.extend_from_slice(ch);
                        out.extend_from_slice(format!("\r\n:{subscribed}\r\n").as_bytes());
                    }
                }
                b"PUBLISH" => {
                    publishes.fetch_add(1, Ordering::Relaxed);
                    if mode.load(Ordering::Relaxed) == ANSWER {
                        out.extend_from_slice(b":0\r\n");
                    }
                }
                other => panic!("fake broker got {:?}", String::from_utf8_lossy(other)),
            }
        }
        if s.write_all(&out).is_err() {
            break;
        }
    }
    closed.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn every_frame_for_the_broker_is_published_unconfirmed_or_unpublished_exactly() {
    let broker = FakeBroker::start();
    let s = server(&format!("redis://{}", broker.addr), |c| c);
    wait_state(&s, BackplaneState::Connected, Duration::from_secs(10));
    let mut member = Client::connect(s.local_addr());
    member.join("r");
    let mut sent = 0u64;
    let mut send = |n: u64, size: usize, member: &mut Client| {
        for _ in 0..n {
            member.send(&vec![1u8; size]);
        }
        sent += n;
    };
    send(100, 100, &mut member);
    assert!(wait_until(Duration::from_secs(5), || backplane(&s)
        .published
        == 100));
    // Taken, never confirmed.
    broker.mode.store(SILENT, Ordering::Relaxed);
    send(100, 100, &mut member);
    assert!(wait_until(Duration::from_secs(5), || broker
        .publishes
        .load(Ordering::Relaxed)
        == 200));
    // Not even read: the socket fills, and the rest waits in the link's buffers.
    broker.mode.store(BLOCKED, Ordering::Relaxed);
    send(1000, 8 << 10, &mut member);
    wait_state(&s, BackplaneState::Down, Duration::from_secs(10));
    // The broker reads what reached it (the link has closed its connections).
    broker.mode.store(SILENT, Ordering::Relaxed);
    assert!(wait_until(Duration::from_secs(10), || broker
        .closed
        .load(Ordering::Relaxed)
        >= 2));
    let taken = broker.publishes.load(Ordering::Relaxed);
    let b = backplane(&s);
    assert_eq!(b.published, 100, "{b:?}");
    assert_eq!(
        b.published + b.unconfirmed,
        taken,
        "unconfirmed must be what the broker received whole: {b:?}"
    );
    assert_eq!(b.published + b.unconfirmed + b.unpublished, sent, "{b:?}");
    assert!(
        b.unpublished > 0,
        "the test must leave some unwritten: {b:?}"
    );
}

/// The answers a client gets for `ops` (control frames, pipelined in one write).
fn answers(c: &mut Client, ops: &[(u8, &[u8])]) -> Vec<Got> {
    let mut bytes = Vec::new();
    for (opcode, arg) in ops {
        bytes.extend(control_frame(*opcode, arg));
    }
    c.send_raw(&bytes);
    ops.iter()
        .map(|_| c.recv().expect("an answer, not EOF"))
        .collect()
}

#[test]
fn every_control_frame_is_answered_in_order_while_rooms_wait_for_the_broker() {
    let redis = Redis::start();
    let s = server(&redis.url(), |c| c);
    wait_state(&s, BackplaneState::Connected, Duration::from_secs(10));
    let joined = |r: &str| Got::Joined(r.to_owned());
    let mut c = Client::connect(s.local_addr());
    assert_eq!(
        answers(
            &mut c,
            &[(op::JOIN, b"a"), (op::JOIN, b"b"), (op::PING, b"x")]
        ),
        [joined("a"), joined("b"), Got::Pong(b"x".to_vec())]
    );
    assert_eq!(
        answers(&mut c, &[(op::JOIN, b"c"), (op::LEAVE, b"")]),
        [joined("c"), Got::Left]
    );
    assert_eq!(
        answers(&mut c, &[(op::JOIN, b"d"), (op::JOIN, b"d")]),
        [joined("d"), joined("d")]
    );
    // A data frame after a JOIN goes to the room it joined.
    let mut other = Client::connect(s.local_addr());
    other.join("e");
    let mut bytes = control_frame(op::JOIN, b"e");
    bytes.extend(data_frame(b"hello e"));
    c.send_raw(&bytes);
    assert_eq!(c.recv(), Some(joined("e")));
    assert_eq!(other.recv(), Some(Got::Data(b"hello e".to_vec())));
    // Pipelined churn from several clients: every answer, in order.
    let addr = s.local_addr();
    let churners: Vec<_> = (0..4)
        .map(|k| {
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                let mut expect = VecDeque::new();
                let mut bytes = Vec::new();
                for i in 0..3000u32 {
                    let room = format!("churn-{}", (i * 7 + k) % 13);
                    match i % 4 {
                        0 | 1 => {
                            bytes.extend(control_frame(op::JOIN, room.as_bytes()));
                            expect.push_back(Got::Joined(room));
                        }
                        2 => {
                            bytes.extend(control_frame(op::PING, &i.to_be_bytes()));
                            expect.push_back(Got::Pong(i.to_be_bytes().to_vec()));
                        }
                        _ => {
                            bytes.extend(control_frame(op::LEAVE, b""));
                            expect.push_back(Got::Left);
                        }
                    }
                }
                c.send_raw(&bytes);
                let mut n = 0;
                while let Some(want) = expect.pop_front() {
                    let got = c.recv();
                    assert_eq!(got.as_ref(), Some(&want), "client {k}, answer {n}");
                    n += 1;
                }
            })
        })
        .collect();
    for t in churners {
        t.join().unwrap();
    }
}
