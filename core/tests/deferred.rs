//! Deferred conditions (run on the handler threads, may block) with pytest-style
//! fall-through, and the unmatched status changed while running.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{connect, http_once};
use pierhead::{Fault, Protocol, Response, Route, Server};

fn http() -> Server {
    common::start(Protocol::Http, |c| c.request_log(1000).handler_threads(4))
}

fn get(server: &Server, path: &str) -> common::Response {
    http_once(
        server.local_addr(),
        format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

#[test]
fn a_false_deferred_condition_falls_through_to_later_routes_in_order() {
    let server = http();
    let asked = Arc::new(AtomicUsize::new(0));
    let a = asked.clone();
    let first = server
        .add_route(
            Route::any("/item")
                .prefix()
                .when_deferred(move |r| {
                    a.fetch_add(1, Ordering::SeqCst);
                    r.path().ends_with("/7")
                })
                .respond(Response::text(200, "seven"))
                .uses(1),
        )
        .unwrap();
    let second = server
        .add_route(
            Route::any("/item")
                .prefix()
                .respond(Response::text(200, "any")),
        )
        .unwrap();
    assert_eq!(get(&server, "/item/3").body, b"any");
    assert_eq!(get(&server, "/item/7").body, b"seven");
    // Used up: the next /item/7 falls through too.
    assert_eq!(get(&server, "/item/7").body, b"any");
    assert_eq!(server.route_hits(first), Some(1));
    assert_eq!(server.route_hits(second), Some(2));
    // A request that fails the other conditions never reaches the deferred one.
    assert_eq!(get(&server, "/other").status, 404);
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "asked for /item/3 and the first /item/7"
    );
    let log = server.requests();
    let routes: Vec<_> = log.iter().map(|r| r.route).collect();
    assert_eq!(routes, [Some(second), Some(first), Some(second), None]);
    assert_eq!(server.unmatched_requests().0, 1);
}

#[test]
fn unmatched_after_a_deferred_route_is_counted_and_answered() {
    let server = http();
    server
        .add_route(
            Route::any("/")
                .prefix()
                .when_deferred(|_| false)
                .respond(Response::new(200)),
        )
        .unwrap();
    assert_eq!(get(&server, "/x").status, 404);
    let (count, first) = server.unmatched_requests();
    assert_eq!((count, first[0].target.as_str()), (1, "/x"));
    assert_eq!(server.requests()[0].route, None);
}

#[test]
fn deferred_conditions_block_no_io_thread() {
    let server = common::start(Protocol::Http, |c| c.workers(1).handler_threads(2));
    server
        .add_route(
            Route::get("/slow")
                .when_deferred(|_| {
                    thread::sleep(Duration::from_millis(400));
                    true
                })
                .respond(Response::text(200, "slow")),
        )
        .unwrap();
    server
        .add_route(Route::get("/fast").respond(Response::text(200, "fast")))
        .unwrap();
    let addr = server.local_addr();
    let slow = thread::spawn(move || {
        let t0 = Instant::now();
        let r = http_once(
            addr,
            b"GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        (r.body, t0.elapsed())
    });
    thread::sleep(Duration::from_millis(50));
    // The one I/O thread answers /fast while the condition for /slow sleeps.
    let t0 = Instant::now();
    for _ in 0..20 {
        assert_eq!(get(&server, "/fast").body, b"fast");
    }
    let fast_took = t0.elapsed();
    let (body, slow_took) = slow.join().unwrap();
    assert_eq!(body, b"slow");
    assert!(slow_took >= Duration::from_millis(400));
    assert!(
        fast_took < slow_took,
        "fast {fast_took:?} waited for slow {slow_took:?}"
    );
}

#[test]
fn a_resolved_route_keeps_its_fault_and_handler_and_a_panic_is_a_500() {
    let server = http();
    server
        .add_route(
            Route::get("/reset")
                .when_deferred(|_| true)
                .fault(Fault::Reset),
        )
        .unwrap();
    server
        .add_route(
            Route::get("/handled")
                .when_deferred(|r| r.header_str("x-key") == Some("k"))
                .handler(|r: &pierhead::Request| Response::text(200, format!("for {}", r.target))),
        )
        .unwrap();
    server
        .add_route(Route::get("/boom").when_deferred(|_| panic!("condition failed")))
        .unwrap();
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /reset HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert!(common::closed_by_peer(&mut s));
    let r = http_once(
        server.local_addr(),
        b"GET /handled HTTP/1.1\r\nHost: t\r\nX-Key: k\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.body, b"for /handled");
    assert_eq!(get(&server, "/handled").status, 404);
    assert_eq!(get(&server, "/boom").status, 500);
    assert_eq!(server.stats().handler_errors, 1);
    // Route::matches runs deferred conditions too (for assertions on the log).
    let log = server.requests();
    let route = Route::get("/handled").when_deferred(|r| r.header_str("x-key") == Some("k"));
    assert_eq!(log.iter().filter(|r| route.matches(r)).count(), 1);
}

#[test]
fn the_unmatched_status_changes_while_running() {
    let server = http();
    server
        .add_route(Route::get("/known").respond(Response::new(204)))
        .unwrap();
    assert_eq!(get(&server, "/nope").status, 404);
    server.set_unmatched_status(500).unwrap();
    let r = get(&server, "/nope");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (500, &b"Internal Server Error\n"[..])
    );
    // It survives route changes, and keep-alive connections see it too.
    server
        .add_route(Route::get("/more").respond(Response::new(204)))
        .unwrap();
    assert_eq!(get(&server, "/nope").status, 500);
    let err = server.set_unmatched_status(42).unwrap_err();
    assert_eq!(err.field, "unmatched_status");
    assert_eq!(get(&server, "/known").status, 204);
}

#[test]
fn the_unmatched_status_changes_with_no_routes_at_all() {
    let server = common::start(Protocol::Http, |c| {
        c.fixed_response(false).unmatched_status(500)
    });
    assert_eq!(get(&server, "/nope").status, 500);
    server.set_unmatched_status(404).unwrap();
    assert_eq!(get(&server, "/nope").status, 404);
}
