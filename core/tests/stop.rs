//! Graceful stop: idle connections close at once, in-flight work drains, the rest is
//! force-closed at the deadline; stop is idempotent and safe from a callback.

mod common;

use std::io::{BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use pierhead::{Protocol, State, StopReport};

#[test]
fn stop_with_1000_idle_keep_alive_connections_returns_without_waiting_for_the_deadline() {
    let server = start(Protocol::Http, |c| c);
    let addr = server.local_addr();
    let mut clients = Vec::new();
    for _ in 0..1000 {
        let mut s = connect(addr);
        s.write_all(GET).unwrap();
        clients.push(s);
    }
    for s in &clients {
        let resp = read_response(&mut BufReader::new(s), false).unwrap();
        assert_eq!(resp.status, 200);
    }
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .connections_active
        == 1000));
    let grace = Duration::from_secs(10);
    let report = server.stop(grace);
    assert!(report.complete);
    assert_eq!(report.idle_closed, 1000, "{report:?}");
    assert_eq!(report.force_closed, 0);
    // Prompt: nothing was in flight, so it must not have waited for the grace period.
    assert!(report.elapsed < grace / 4, "{report:?}");
    for mut s in clients {
        assert!(closed_by_peer(&mut s));
    }
    assert_eq!(server.state(), State::Stopped);
    assert_eq!(server.stats().connections_active, 0);
}

#[test]
fn in_flight_request_finishes_with_connection_close_and_stuck_one_is_forced() {
    let server = Arc::new(start(Protocol::Http, |c| c));
    let addr = server.local_addr();
    let mut finishing = connect(addr);
    finishing
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let mut stuck = connect(addr);
    stuck.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    let _idle = connect(addr);
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .connections_active
        == 3));
    // The partial heads must have been read, or the server rightly sees idle connections.
    let sent =
        (b"GET / HTTP/1.1\r\nHost: t\r\n".len() + b"GET / HTTP/1.1\r\nHost: t\r\n".len()) as u64;
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .bytes_read
        == sent));
    let stopper = {
        let server = server.clone();
        std::thread::spawn(move || server.stop(Duration::from_millis(500)))
    };
    assert!(wait_until(Duration::from_secs(5), || server.state() == State::Stopping));
    finishing.write_all(b"\r\n").unwrap();
    let resp = read_response(&mut BufReader::new(finishing.try_clone().unwrap()), false).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(closed_by_peer(&mut finishing));
    let report = stopper.join().unwrap();
    assert_eq!(
        (report.idle_closed, report.drained, report.force_closed),
        (1, 1, 1),
        "{report:?}"
    );
    assert!(report.elapsed >= Duration::from_millis(500));
    assert!(closed_by_peer(&mut stuck));
}

#[test]
fn stop_is_idempotent_and_drop_stops() {
    let server = start(Protocol::Echo, |c| c);
    let first = server.stop(Duration::from_secs(1));
    let second = server.stop(Duration::from_secs(1));
    assert_eq!(first, second);
    let addr = server.local_addr();
    drop(server);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listener still open"
    );
    let dropped = start(Protocol::Echo, |c| c);
    let addr = dropped.local_addr();
    drop(dropped);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "drop did not stop"
    );
}

#[test]
fn stop_from_inside_the_stats_callback_does_not_deadlock() {
    type Slot = Arc<Mutex<Option<Arc<pierhead::Server>>>>;
    let slot: Slot = Arc::new(Mutex::new(None));
    let inner: Arc<Mutex<Vec<StopReport>>> = Arc::new(Mutex::new(Vec::new()));
    let (slot2, inner2) = (slot.clone(), inner.clone());
    let server = Arc::new(start(Protocol::Http, move |c| {
        c.stats_interval(Duration::from_millis(20))
            .on_stats(move |_stats| {
                let server = slot2.lock().unwrap().clone();
                if let Some(server) = server {
                    inner2
                        .lock()
                        .unwrap()
                        .push(server.stop(Duration::from_secs(1)));
                }
            })
    }));
    *slot.lock().unwrap() = Some(server.clone());
    assert!(wait_until(Duration::from_secs(5), || server.state() != State::Running));
    // The callback returned at once with an incomplete report...
    let reports = inner.lock().unwrap().clone();
    assert_eq!(reports.len(), 1);
    assert!(!reports[0].complete);
    // ...and a stop from outside completes it.
    let report = server.stop(Duration::from_secs(1));
    assert!(report.complete);
    assert_eq!(server.state(), State::Stopped);
    // No callback fires after stop returned.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(inner.lock().unwrap().len(), 1);
    slot.lock().unwrap().take();
}

#[test]
fn stats_callback_fires_every_interval_and_survives_a_panic() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let calls = Arc::new(AtomicU32::new(0));
    let calls2 = calls.clone();
    let server = start(Protocol::Echo, move |c| {
        c.stats_interval(Duration::from_millis(10))
            .on_stats(move |s| {
                assert_eq!(s.state, State::Running);
                if calls2.fetch_add(1, Ordering::SeqCst) == 1 {
                    panic!("a callback bug");
                }
            })
    });
    assert!(wait_until(Duration::from_secs(5), || calls
        .load(Ordering::SeqCst)
        >= 5));
    assert_eq!(server.stats().handler_errors, 1);
    server.stop(Duration::from_secs(1));
}

#[test]
fn bind_conflict_is_an_error_naming_the_address() {
    let first = start(Protocol::Http, |c| c);
    let addr = first.local_addr();
    let err = pierhead::Server::start(pierhead::Config::new().bind(addr.to_string())).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_eaddrinuse()));
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

fn libc_eaddrinuse() -> i32 {
    98 // EADDRINUSE on Linux
}
