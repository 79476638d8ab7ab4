//! Rooms across servers through a real Redis (Debian's `redis-server`, started by
//! each test on a free loopback port): every member gets every other member's
//! frames exactly once and in order, host publish reaches every server, the
//! broker can die and come back, nothing stays subscribed, bad input from the
//! broker is counted and dropped.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::frame_client::{Client, Got};
use common::redis::{free_port, Redis};
use common::rooms_check::every_member_gets_every_frame_once;
use common::*;
use pierhead::frame::{self, op, FrameType};
use pierhead::{BackplaneState, Config, Protocol, Server, SlowConsumer};

fn server(url: &str, tweak: impl FnOnce(Config) -> Config) -> Server {
    start(Protocol::Frame, |c| tweak(c.backplane(url)))
}

fn backplane(s: &Server) -> pierhead::BackplaneStats {
    s.stats().backplane.expect("a backplane is configured")
}

fn wait_connected(servers: &[&Server]) {
    for s in servers {
        assert!(
            wait_until(Duration::from_secs(10), || backplane(s).state
                == BackplaneState::Connected),
            "backplane did not connect: {:?}",
            backplane(s)
        );
    }
}

#[test]
fn three_servers_every_member_gets_every_frame_once_in_order() {
    let redis = Redis::start();
    let servers: Vec<Server> = (0..3).map(|_| server(&redis.url(), |c| c)).collect();
    wait_connected(&servers.iter().collect::<Vec<_>>());
    let addrs: Vec<_> = servers.iter().map(|s| s.local_addr()).collect();
    const PER_SERVER: usize = 4;
    const FRAMES: u32 = 300;
    every_member_gets_every_frame_once(&addrs, PER_SERVER, FRAMES);

    let members = (servers.len() * PER_SERVER) as u64;
    let total_sent = members * FRAMES as u64;
    let mut published = 0;
    let mut received = 0;
    for s in &servers {
        let b = backplane(s);
        published += b.published;
        received += b.received;
        assert_eq!(b.unpublished, 0, "{b:?}");
        assert_eq!(b.bad_messages, 0, "{b:?}");
    }
    assert_eq!(published, total_sent, "each frame published once");
    // Each server receives every frame from the two others.
    assert_eq!(received, total_sent * 2);
}

#[test]
fn host_publish_on_one_server_reaches_members_on_all() {
    let redis = Redis::start();
    let servers: Vec<Server> = (0..3).map(|_| server(&redis.url(), |c| c)).collect();
    wait_connected(&servers.iter().collect::<Vec<_>>());
    let mut members: Vec<Client> = servers
        .iter()
        .flat_map(|s| {
            [
                Client::connect(s.local_addr()),
                Client::connect(s.local_addr()),
            ]
        })
        .collect();
    for m in &mut members {
        m.join("news");
    }
    let report = servers[0].publish("news", b"extra").unwrap();
    assert_eq!(report.delivered, 2, "the two local members");
    assert!(report.forwarded);
    for m in &mut members {
        assert_eq!(m.recv(), Some(Got::Data(b"extra".to_vec())));
    }
    // A room with no member on the publishing server still reaches the others.
    let mut far = Client::connect(servers[2].local_addr());
    far.join("elsewhere");
    let report = servers[0].publish("elsewhere", b"hello there").unwrap();
    assert_eq!((report.delivered, report.forwarded), (0, true));
    assert_eq!(far.recv(), Some(Got::Data(b"hello there".to_vec())));
}

#[test]
fn joined_means_every_later_frame_arrives() {
    // A member on B is told JOINED only once B's subscription is confirmed, so a
    // frame sent on A right after can never be missed, room after room.
    let redis = Redis::start();
    let a = server(&redis.url(), |c| c);
    let b = server(&redis.url(), |c| c);
    wait_connected(&[&a, &b]);
    let mut sender = Client::connect(a.local_addr());
    for i in 0..100 {
        let room = format!("r{i}");
        sender.join(&room);
        let mut member = Client::connect(b.local_addr());
        member.join(&room);
        sender.send(room.as_bytes());
        assert_eq!(member.recv(), Some(Got::Data(room.clone().into_bytes())));
    }
}

#[test]
fn origin_drops_its_echo_and_bad_messages_are_counted() {
    let redis = Redis::start();
    let s = server(&redis.url(), |c| c.workers(1));
    wait_connected(&[&s]);
    let mut a = Client::connect(s.local_addr());
    let mut b = Client::connect(s.local_addr());
    a.join("room");
    b.join("room");
    a.send(b"once");
    assert_eq!(b.recv(), Some(Got::Data(b"once".to_vec())));
    assert!(wait_until(Duration::from_secs(5), || backplane(&s)
        .echoes_dropped
        == 1));

    // Someone else publishes on the room's channel: garbage is dropped and
    // counted; a well-formed message from another origin is delivered.
    let channel = "pierhead/0/room";
    assert_eq!(
        redis.cmd(&[b"PUBLISH", channel.as_bytes(), b"junk"]).int(),
        1
    );
    let mut msg = 42u64.to_be_bytes().to_vec();
    frame::encode(FrameType::Data, b"from outside", &mut msg);
    assert_eq!(redis.cmd(&[b"PUBLISH", channel.as_bytes(), &msg]).int(), 1);
    assert_eq!(a.recv(), Some(Got::Data(b"from outside".to_vec())));
    assert_eq!(b.recv(), Some(Got::Data(b"from outside".to_vec())));
    let st = backplane(&s);
    assert_eq!((st.bad_messages, st.received), (1, 1), "{st:?}");
    // A control frame is not data: dropped too.
    let mut ctl = 42u64.to_be_bytes().to_vec();
    frame::encode_control(op::PING, b"x", &mut ctl);
    redis.cmd(&[b"PUBLISH", channel.as_bytes(), &ctl]);
    assert!(wait_until(Duration::from_secs(5), || backplane(&s)
        .bad_messages
        == 2));
    a.send(b"still fine");
    assert_eq!(b.recv(), Some(Got::Data(b"still fine".to_vec())));
}

#[test]
fn subscriptions_follow_interest_and_stop_leaves_nothing_subscribed() {
    let redis = Redis::start();
    let s = server(&redis.url(), |c| c);
    wait_connected(&[&s]);
    let mut a = Client::connect(s.local_addr());
    let mut b = Client::connect(s.local_addr());
    a.join("one");
    b.join("two");
    assert_eq!(redis.channels(), ["pierhead/0/one", "pierhead/0/two"]);
    assert_eq!(backplane(&s).subscriptions, 2);
    b.control(op::JOIN, b"one"); // moves: "two" has no member left
    assert_eq!(b.recv(), Some(Got::Joined("one".to_owned())));
    assert!(wait_until(Duration::from_secs(5), || redis.channels()
        == ["pierhead/0/one"]));
    a.control(op::LEAVE, b"");
    assert_eq!(a.recv(), Some(Got::Left));
    assert_eq!(redis.channels(), ["pierhead/0/one"], "b is still in it");
    drop(b);
    assert!(wait_until(Duration::from_secs(5), || redis
        .channels()
        .is_empty()));
    // Many rooms at once, then stop: the broker forgets them all.
    let clients: Vec<Client> = (0..600)
        .map(|i| {
            let mut c = Client::connect(s.local_addr());
            c.join(&format!("room-{i}"));
            c
        })
        .collect();
    assert_eq!(redis.channels().len(), 600);
    let report = s.stop(Duration::from_secs(1));
    assert!(report.elapsed < Duration::from_secs(1), "{report:?}");
    let bp = report.backplane.expect("the stop report has the backplane");
    assert_eq!(bp.state, BackplaneState::Stopped);
    assert!(wait_until(Duration::from_secs(5), || redis
        .channels()
        .is_empty()));
    drop(clients);
}

#[test]
fn broker_killed_and_restarted_mid_test() {
    let mut redis = Redis::start();
    let a = server(&redis.url(), |c| c);
    let b = server(&redis.url(), |c| c);
    wait_connected(&[&a, &b]);
    let mut a1 = Client::connect(a.local_addr());
    let mut a2 = Client::connect(a.local_addr());
    let mut b1 = Client::connect(b.local_addr());
    for c in [&mut a1, &mut a2, &mut b1] {
        c.join("live");
    }
    a1.send(b"before");
    assert_eq!(a2.recv(), Some(Got::Data(b"before".to_vec())));
    assert_eq!(b1.recv(), Some(Got::Data(b"before".to_vec())));

    redis.kill();
    assert!(wait_until(Duration::from_secs(5), || backplane(&a).state
        == BackplaneState::Down));
    // Local delivery goes on during the outage; what other servers miss is counted.
    let started = Instant::now();
    for i in 0..50u32 {
        a1.send(&i.to_be_bytes());
        assert_eq!(a2.recv(), Some(Got::Data(i.to_be_bytes().to_vec())));
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "local delivery waited for the broker"
    );
    // A new room during the outage is local at once (JOINED does not wait).
    let mut a3 = Client::connect(a.local_addr());
    a3.join("born-in-outage");
    // Counted just after the local deliveries, in the same loop turn.
    assert!(wait_until(Duration::from_secs(5), || backplane(&a)
        .unpublished
        >= 50));
    let st = backplane(&a);
    assert_eq!(st.outages, 1, "{st:?}");
    assert!(st.last_error.is_some());

    redis.restart();
    wait_connected(&[&a, &b]);
    assert!(wait_until(Duration::from_secs(5), || redis
        .numsub("pierhead/0/live")
        == 2
        && redis.numsub("pierhead/0/born-in-outage") == 1));
    // Rooms span servers again.
    a1.send(b"after");
    assert_eq!(a2.recv(), Some(Got::Data(b"after".to_vec())));
    assert_eq!(b1.recv(), Some(Got::Data(b"after".to_vec())));
    b1.send(b"back");
    assert_eq!(a1.recv(), Some(Got::Data(b"back".to_vec())));
    let st = backplane(&a);
    assert_eq!((st.outages, st.reconnects), (1, 1), "{st:?}");
    assert!(st.down_time > Duration::ZERO);
    let report = a.stop(Duration::from_secs(1));
    let bp = report.backplane.unwrap();
    assert_eq!(bp.outages, 1);
    assert!(bp.unpublished >= 50);
}

#[test]
fn unreachable_broker_at_start_is_retried_and_start_does_not_wait() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let t = Instant::now();
    let s = server(&url, |c| c);
    assert!(t.elapsed() < Duration::from_millis(500));
    assert!(wait_until(Duration::from_secs(5), || backplane(&s).state
        == BackplaneState::Down));
    let mut a = Client::connect(s.local_addr());
    let mut b = Client::connect(s.local_addr());
    a.join("room");
    b.join("room");
    a.send(b"local");
    assert_eq!(b.recv(), Some(Got::Data(b"local".to_vec())));
    let st = backplane(&s);
    assert_eq!(st.outages, 1);
    assert!(
        st.last_error.as_deref().unwrap_or("").contains("connect"),
        "{st:?}"
    );
    let redis = Redis::start_on("127.0.0.1", port);
    wait_connected(&[&s]);
    assert!(wait_until(Duration::from_secs(5), || redis.channels()
        == ["pierhead/0/room"]));
    let t = Instant::now();
    s.stop(Duration::from_secs(1));
    assert!(t.elapsed() < Duration::from_millis(500));
}

#[test]
fn stop_with_the_broker_down_returns_at_once() {
    let mut redis = Redis::start();
    let s = server(&redis.url(), |c| c);
    wait_connected(&[&s]);
    let mut a = Client::connect(s.local_addr());
    a.join("room");
    redis.kill();
    let t = Instant::now();
    let report = s.stop(Duration::from_secs(2));
    assert!(t.elapsed() < Duration::from_millis(500), "{report:?}");
}

#[test]
fn bad_urls_are_rejected_naming_the_field() {
    for url in [
        "localhost:6379",
        "redis://",
        "redis://h:99999",
        "rediss://h",
    ] {
        let e = Server::start(Config::new().protocol(Protocol::Frame).backplane(url)).unwrap_err();
        assert!(e.to_string().contains("`backplane`"), "{url}: {e}");
    }
    let e = Server::start(Config::new().backplane("redis://127.0.0.1:6379")).unwrap_err();
    assert!(e.to_string().contains("frame protocol"), "{e}");
}

#[test]
fn password_is_sent_and_a_wrong_one_is_reported() {
    let redis = Redis::start_with_password("s3cret");
    let wrong = server(&format!("redis://:nope@127.0.0.1:{}", redis.port), |c| c);
    assert!(wait_until(Duration::from_secs(5), || backplane(&wrong)
        .last_error
        .is_some_and(|e| e.contains("AUTH"))));
    assert_ne!(backplane(&wrong).state, BackplaneState::Connected);
    let right = server(&format!("redis://:s3cret@127.0.0.1:{}", redis.port), |c| c);
    wait_connected(&[&right]);
}

#[test]
fn databases_scope_the_rooms() {
    let redis = Redis::start();
    let one = server(&format!("{}/1", redis.url()), |c| c);
    let two = server(&format!("{}/2", redis.url()), |c| c);
    let also_one = server(&format!("{}/1", redis.url()), |c| c);
    wait_connected(&[&one, &two, &also_one]);
    let mut m1 = Client::connect(one.local_addr());
    let mut m2 = Client::connect(two.local_addr());
    let mut m3 = Client::connect(also_one.local_addr());
    for m in [&mut m1, &mut m2, &mut m3] {
        m.join("room");
    }
    m1.send(b"db1");
    assert_eq!(m3.recv(), Some(Got::Data(b"db1".to_vec())));
    m2.send(b"db2");
    m3.send(b"db1 again");
    assert_eq!(m1.recv(), Some(Got::Data(b"db1 again".to_vec())));
    m2.s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(
        std::io::Read::read(&mut m2.s, &mut b).is_err(),
        "db 2 got db 1's frames"
    );
}

#[test]
fn slow_consumers_apply_on_every_server() {
    // A member on B that never reads, while a sender on A streams 20 MiB: B's
    // policy disconnects it, and B's reading member still gets every frame. The
    // sender goes in steps of 8 frames and waits for the reader, so that the
    // reader is never over the limit itself.
    use std::sync::atomic::{AtomicU32, Ordering};
    let redis = Redis::start();
    let a = server(&redis.url(), |c| c);
    let b = server(&redis.url(), |c| {
        c.max_output_bytes(1 << 20)
            .slow_consumer(SlowConsumer::Disconnect)
    });
    wait_connected(&[&a, &b]);
    let mut stuck = Client::connect(b.local_addr());
    socket2::SockRef::from(&stuck.s)
        .set_recv_buffer_size(4096)
        .unwrap();
    stuck.join("flood");
    let mut reader = Client::connect(b.local_addr());
    reader.join("flood");
    let mut sender = Client::connect(a.local_addr());
    sender.join("flood");
    const N: u32 = 320;
    let progress = Arc::new(AtomicU32::new(0));
    let seen = progress.clone();
    let reading = thread::spawn(move || {
        for i in 0..N {
            match reader.recv() {
                Some(Got::Data(p)) => assert_eq!(p[..4], i.to_be_bytes()),
                other => panic!("frame {i}: {other:?}"),
            }
            seen.store(i + 1, Ordering::Relaxed);
        }
    });
    let mut payload = vec![7u8; 64 * 1024];
    for i in 0..N {
        payload[..4].copy_from_slice(&i.to_be_bytes());
        sender.send(&payload);
        if i % 8 == 7 {
            assert!(
                wait_until(Duration::from_secs(30), || progress.load(Ordering::Relaxed)
                    > i),
                "the reader stalled at frame {i}"
            );
        }
    }
    reading.join().unwrap();
    assert!(wait_until(Duration::from_secs(5), || b
        .stats()
        .slow_consumer_disconnects
        == 1));
    drop(stuck);
    assert_eq!(a.stats().slow_consumer_disconnects, 0);
    assert_eq!(backplane(&a).unpublished, 0);
}
