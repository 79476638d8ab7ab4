//! Handlers over real sockets: they build responses from requests on the handler
//! pool, never on an I/O thread; a slow, panicking or timed-out handler affects
//! only its own request.

mod common;

use std::io::{BufReader, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use pierhead::{Fault, Protocol, Request, Response as Reply, Route, Server};

#[test]
fn handler_builds_the_response_from_the_request_on_a_handler_thread() {
    let server = start(Protocol::Http, |c| c);
    server
        .add_route(Route::post("/who").handler(|req: &Request| {
            let thread = thread::current().name().unwrap_or("").to_owned();
            Reply::text(
                201,
                format!(
                    "{} {} {} {} {}",
                    req.method,
                    req.target,
                    req.header_str("x-name").unwrap_or("-"),
                    String::from_utf8_lossy(&req.body),
                    thread
                ),
            )
            .header("X-Handled", "yes")
        }))
        .unwrap();
    let resp = http_once(
        server.local_addr(),
        b"POST /who?q=1 HTTP/1.1\r\nHost: t\r\nX-Name: ann\r\nContent-Length: 4\r\n\r\nbody",
    );
    assert_eq!(resp.status, 201);
    assert_eq!(resp.header("x-handled"), Some("yes"));
    let text = String::from_utf8(resp.body).unwrap();
    assert!(
        text.starts_with("POST /who?q=1 ann body pierhead-h"),
        "{text}"
    );
}

#[test]
fn slow_handler_stalls_neither_static_routes_nor_other_handlers() {
    let server = start(Protocol::Http, |c| c.workers(1));
    server
        .add_route(Route::get("/slow").handler(|_: &Request| {
            thread::sleep(Duration::from_millis(500));
            Reply::text(200, "slow\n")
        }))
        .unwrap();
    server
        .add_route(Route::get("/fast").handler(|_: &Request| Reply::text(200, "fast\n")))
        .unwrap();
    server
        .add_route(Route::get("/static").respond(Reply::text(200, "static\n")))
        .unwrap();
    let mut slow = connect(server.local_addr());
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    thread::sleep(Duration::from_millis(50)); // the slow handler is running
    let t0 = Instant::now();
    for _ in 0..20 {
        assert_eq!(
            http_once(
                server.local_addr(),
                b"GET /static HTTP/1.1\r\nHost: t\r\n\r\n"
            )
            .body,
            b"static\n"
        );
        assert_eq!(
            http_once(
                server.local_addr(),
                b"GET /fast HTTP/1.1\r\nHost: t\r\n\r\n"
            )
            .body,
            b"fast\n"
        );
    }
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "stalled: {:?}",
        t0.elapsed()
    );
    let resp = read_response(&mut BufReader::new(slow), false).unwrap();
    assert_eq!(resp.body, b"slow\n");
}

#[test]
fn panicking_handler_gets_500_counted_and_the_connection_goes_on() {
    let server = start(Protocol::Http, |c| c);
    server
        .add_route(Route::get("/boom").handler(|_: &Request| -> Reply { panic!("handler bug") }))
        .unwrap();
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\nGET /boom HTTP/1.1\r\nHost: t\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    for _ in 0..2 {
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!(
            (resp.status, resp.body.as_slice()),
            (500, b"handler failed\n".as_slice())
        );
    }
    assert_eq!(read_response(&mut r, false).unwrap().status, 404);
    assert_eq!(server.stats().handler_errors, 2);
    assert_eq!(server.stats().internal_errors, 0);
}

#[test]
fn handler_over_its_timeout_gets_500_and_its_late_answer_is_dropped() {
    let server = start(Protocol::Http, |c| {
        c.handler_timeout(Duration::from_millis(100))
    });
    let calls = Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    server
        .add_route(Route::get("/late").handler(move |_: &Request| {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            if n == 0 {
                thread::sleep(Duration::from_millis(400));
            }
            Reply::text(200, format!("call {n}\n"))
        }))
        .unwrap();
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /late HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(
        (resp.status, resp.body.as_slice()),
        (500, b"handler timed out\n".as_slice())
    );
    // The next request on the same connection gets its own answer, not the late one.
    s.write_all(b"GET /late HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.body, b"call 1\n");
    thread::sleep(Duration::from_millis(400)); // the late answer arrives and is dropped
    s.write_all(b"GET /late HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut r, false).unwrap().body, b"call 2\n");
    assert_eq!(server.stats().handler_errors, 1);
}

#[test]
fn handler_with_a_fault_applies_it_to_its_response() {
    let server = start(Protocol::Http, |c| c);
    server
        .add_route(
            Route::get("/later")
                .handler(|_: &Request| Reply::text(200, "later\n"))
                .fault(Fault::Delay(Duration::from_millis(150))),
        )
        .unwrap();
    let t0 = Instant::now();
    let resp = http_once(
        server.local_addr(),
        b"GET /later HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(resp.body, b"later\n");
    assert!(t0.elapsed() >= Duration::from_millis(150));
}

#[test]
fn stop_from_inside_a_handler_does_not_deadlock() {
    let slot: Arc<Mutex<Option<Arc<Server>>>> = Arc::new(Mutex::new(None));
    let inner = slot.clone();
    let server = Arc::new(start(Protocol::Http, |c| c));
    *slot.lock().unwrap() = Some(server.clone());
    server
        .add_route(Route::get("/stop").handler(move |_: &Request| {
            let server = inner.lock().unwrap().take().unwrap();
            let report = server.stop(Duration::from_secs(2));
            Reply::text(200, format!("complete={}\n", report.complete))
        }))
        .unwrap();
    let resp = http_once(
        server.local_addr(),
        b"GET /stop HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(resp.body, b"complete=false\n");
    assert_eq!(resp.header("connection"), Some("close"), "stopping: close");
    let report = server.stop(Duration::from_secs(2));
    assert!(report.complete);
    assert_eq!(report.handlers_abandoned, 0);
}

/// A handler that hands its work to another thread (as the Python binding does)
/// carries its callback scope there: stop called on that thread starts the stop and
/// returns instead of waiting for the handler that waits for it.
#[test]
fn stop_inside_a_handler_run_on_another_thread_with_its_scope() {
    let slot: Arc<Mutex<Option<Arc<Server>>>> = Arc::new(Mutex::new(None));
    let inner = slot.clone();
    let server = Arc::new(start(Protocol::Http, |c| c));
    *slot.lock().unwrap() = Some(server.clone());
    server
        .add_route(Route::get("/stop").handler(move |_: &Request| {
            let scope = pierhead::CallbackScope::current().expect("a handler thread has a scope");
            let inner = inner.clone();
            let (complete, elapsed) = thread::spawn(move || {
                let _in_scope = scope.enter();
                let server = inner.lock().unwrap().take().unwrap();
                let t = std::time::Instant::now();
                let report = server.stop(Duration::from_secs(5));
                (report.complete, t.elapsed())
            })
            .join()
            .unwrap();
            assert!(pierhead::CallbackScope::current().is_some());
            Reply::text(
                200,
                format!(
                    "complete={complete} quick={}\n",
                    elapsed < Duration::from_secs(1)
                ),
            )
        }))
        .unwrap();
    assert_eq!(pierhead::CallbackScope::current(), None);
    let resp = http_once(
        server.local_addr(),
        b"GET /stop HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(resp.body, b"complete=false quick=true\n");
    let report = server.stop(Duration::from_secs(2));
    assert!(report.complete);
    assert_eq!(report.handlers_abandoned, 0);
}

#[test]
fn stop_abandons_a_stuck_handler_at_the_deadline_instead_of_hanging() {
    let server = start(Protocol::Http, |c| c);
    server
        .add_route(Route::get("/stuck").handler(|_: &Request| {
            thread::sleep(Duration::from_secs(3));
            Reply::new(200)
        }))
        .unwrap();
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /stuck HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .requests
        == 1));
    thread::sleep(Duration::from_millis(20));
    let report = server.stop(Duration::from_millis(200));
    assert!(report.elapsed < Duration::from_secs(1), "{report:?}");
    assert_eq!(report.force_closed, 1);
    assert_eq!(report.handlers_abandoned, 1);
    assert!(closed_by_peer(&mut s));
}

#[test]
fn handler_threads_start_on_demand_up_to_the_limit_and_end_with_the_server() {
    let server = start(Protocol::Http, |c| c.handler_threads(3));
    let tids = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let seen = tids.clone();
    server
        .add_route(Route::get("/h").handler(move |_: &Request| {
            // SAFETY: gettid has no preconditions.
            seen.lock().unwrap().insert(unsafe { libc::gettid() });
            thread::sleep(Duration::from_millis(100));
            Reply::new(200)
        }))
        .unwrap();
    let addr = server.local_addr();
    let clients: Vec<_> = (0..6)
        .map(|_| {
            thread::spawn(move || http_once(addr, b"GET /h HTTP/1.1\r\nHost: t\r\n\r\n").status)
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), 200);
    }
    let tids = tids.lock().unwrap().clone();
    assert!(
        (1..=3).contains(&tids.len()),
        "{} handler threads (limit 3)",
        tids.len()
    );
    let report = server.stop(Duration::from_secs(1));
    assert_eq!(report.handlers_abandoned, 0);
    for tid in tids {
        assert!(thread_gone(tid), "handler thread {tid} outlived stop");
    }
}

/// A handler that reports failure through `try_handle`: its own error response is
/// sent, the connection goes on, and the failure is counted.
struct Picky;

impl pierhead::Handler for Picky {
    fn handle(&self, _: &Request) -> Reply {
        Reply::text(200, "fine\n")
    }

    fn try_handle(&self, req: &Request) -> Result<Reply, Reply> {
        if req.path() == "/bad" {
            Err(Reply::text(500, "raised: ValueError\n"))
        } else {
            Ok(self.handle(req))
        }
    }
}

#[test]
fn a_reported_failure_is_sent_and_counted() {
    let server = start(Protocol::Http, |c| c.request_log(10));
    let id = server
        .add_route(Route::get("/").prefix().handler(Picky))
        .unwrap();
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /bad HTTP/1.1\r\nHost: t\r\n\r\nGET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let bad = read_response(&mut r, false).unwrap();
    let ok = read_response(&mut r, false).unwrap();
    assert_eq!(
        (bad.status, bad.body.as_slice()),
        (500, b"raised: ValueError\n".as_slice())
    );
    assert_eq!((ok.status, ok.body.as_slice()), (200, b"fine\n".as_slice()));
    assert_eq!(server.stats().handler_errors, 1);
    assert!(server.requests().iter().all(|r| r.route == Some(id)));
}
