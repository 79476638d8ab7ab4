//! Seeded chaos replayed from its seed, and the connection log (reuse, who closed).

mod common;

use std::io::{BufReader, Read, Write};
use std::time::Duration;

use common::{connect, read_response};
use pierhead::{Chaos, ChaosDecision, ClosedBy, Fault, Protocol, Response, Route, Server};

fn http() -> Server {
    common::start(Protocol::Http, |c| c.request_log(10_000))
}

/// Sends `n` requests, one connection each; true where the answer was a 200.
fn run(server: &Server, n: usize) -> Vec<bool> {
    (0..n)
        .map(|_| {
            let mut s = connect(server.local_addr());
            s.write_all(b"GET /flaky HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            matches!(read_response(&mut BufReader::new(s), false), Ok(r) if r.status == 200)
        })
        .collect()
}

#[test]
fn chaos_is_logged_and_replays_from_its_seed() {
    let chaos = Chaos::new(1234)
        .with(0.3, Fault::Reset)
        .with(0.1, Fault::Delay(Duration::from_millis(20)));
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let server = http();
        server
            .add_route(
                Route::get("/flaky")
                    .respond(Response::text(200, "ok"))
                    .chaos(chaos.clone()),
            )
            .unwrap();
        let ok = run(&server, 200);
        let log = server.requests();
        assert_eq!(log.len(), 200);
        for (i, r) in log.iter().enumerate() {
            let nth = i as u64 + 1;
            assert_eq!(r.chaos, Some(ChaosDecision { seed: 1234, nth }));
            assert_eq!(r.fault, chaos.decide(nth), "answer {nth}");
            // Whatever the log says is what the client saw.
            assert_eq!(ok[i], r.fault != Some(Fault::Reset), "answer {nth}");
        }
        let resets = log.iter().filter(|r| r.fault == Some(Fault::Reset)).count();
        assert!((35..90).contains(&resets), "{resets} resets of 200 at 30%");
        outcomes.push(ok);
    }
    assert_eq!(
        outcomes[0], outcomes[1],
        "the same seed replays the same faults"
    );
    // A bad probability is refused with the field named.
    let server = http();
    let err = server
        .add_route(Route::get("/x").chaos(Chaos::new(1).with(2.0, Fault::Reset)))
        .unwrap_err();
    assert_eq!(err.field, "route.chaos");
}

#[test]
fn the_connection_log_shows_reuse_and_who_closed() {
    let server = http();
    server
        .add_route(Route::get("/a").respond(Response::text(200, "a")))
        .unwrap();
    // Three requests on one connection, closed by the client.
    let mut s = connect(server.local_addr());
    let mut r = BufReader::new(s.try_clone().unwrap());
    for _ in 0..3 {
        s.write_all(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        read_response(&mut r, false).unwrap();
    }
    drop(r);
    drop(s);
    // One request with Connection: close: the server closes first.
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    assert!(common::wait_until(Duration::from_secs(5), || server
        .connections()
        .len()
        == 2));
    let log = server.requests();
    let conns = server.connections();
    let first = log[0].connection_id;
    assert!(log[..3].iter().all(|r| r.connection_id == first));
    assert_ne!(log[3].connection_id, first);
    let by = |id| conns.iter().find(|c| c.id == id).map(|c| c.closed_by);
    assert_eq!(by(first), Some(ClosedBy::Client));
    assert_eq!(by(log[3].connection_id), Some(ClosedBy::Server));
    server.clear_requests();
    assert!(server.connections().is_empty());
}
