//! Routes over real sockets: matching, use counts, changes at run time, the request
//! log, and every fault.

mod common;

use std::io::{BufReader, ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use common::*;
use pierhead::{Fault, Protocol, Response as Reply, Route, Server};

fn http() -> Server {
    start(Protocol::Http, |c| c.request_log(1000))
}

fn get(server: &Server, target: &str) -> Response {
    let req = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
    http_once(server.local_addr(), req.as_bytes())
}

/// Date is a valid IMF-fixdate close to now, Content-Length the body's length.
fn assert_framing(resp: &Response) {
    let date = resp.header("date").expect("Date header");
    let when = httpdate::parse_http_date(date).expect("IMF-fixdate");
    let skew = SystemTime::now()
        .duration_since(when)
        .unwrap_or_else(|e| e.duration());
    assert!(
        skew < Duration::from_secs(5),
        "Date {date} is off by {skew:?}"
    );
    assert_eq!(
        resp.header("content-length"),
        Some(resp.body.len().to_string().as_str())
    );
}

#[test]
fn routes_match_method_path_prefix_query_headers_and_body() {
    let server = http();
    let add = |r: Route| server.add_route(r).unwrap();
    add(Route::get("/exact").respond(Reply::text(200, "exact\n")));
    add(Route::any("/api/")
        .prefix()
        .respond(Reply::json(201, r#"{"api":1}"#)));
    add(Route::get("/q")
        .query("a=1")
        .respond(Reply::text(200, "q1\n")));
    add(Route::get("/h")
        .header("X-Key", "secret")
        .respond(Reply::text(200, "h\n")));
    add(Route::post("/b")
        .body("ping")
        .respond(Reply::text(200, "pong\n")));

    let r = get(&server, "/exact");
    assert_eq!((r.status, r.body.as_slice()), (200, b"exact\n".as_slice()));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_framing(&r);
    assert_eq!(get(&server, "/exact/more").status, 404);
    assert_eq!(
        get(&server, "/exact?x=1").status,
        200,
        "query ignored by path"
    );

    let r = http_once(
        server.local_addr(),
        b"DELETE /api/v1/items HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(
        (r.status, r.body.as_slice()),
        (201, br#"{"api":1}"#.as_slice())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));

    assert_eq!(get(&server, "/q?a=1").status, 200);
    assert_eq!(get(&server, "/q?a=2").status, 404);
    assert_eq!(get(&server, "/h").status, 404);
    let r = http_once(
        server.local_addr(),
        b"GET /h HTTP/1.1\r\nHost: t\r\nx-key:   secret  \r\n\r\n",
    );
    assert_eq!(
        r.body, b"h\n",
        "header name is case-insensitive, value trimmed"
    );

    let post = |body: &str| {
        let req = format!(
            "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        http_once(server.local_addr(), req.as_bytes())
    };
    assert_eq!(post("ping").body, b"pong\n");
    assert_eq!(post("pong").status, 404);
    // The same body, chunked.
    let r = http_once(
        server.local_addr(),
        b"POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\npi\r\n2\r\nng\r\n0\r\n\r\n",
    );
    assert_eq!(r.body, b"pong\n");

    // Unmatched: 404 with its reason as body, framed like every response.
    let r = get(&server, "/nothing");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (404, b"Not Found\n".as_slice())
    );
    assert_framing(&r);
}

#[test]
fn unmatched_status_is_configurable_and_no_routes_means_hello() {
    let server = start(Protocol::Http, |c| {
        c.unmatched_status(418)
            .route(Route::get("/x").respond(Reply::new(204)))
    });
    let r = get(&server, "/other");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (418, b"I'm a teapot\n".as_slice())
    );
    let r = get(&server, "/x");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("content-length"), None, "204 carries no length");
    server.clear_routes();
    assert_eq!(get(&server, "/other").body, b"hello\n");
}

#[test]
fn head_request_on_a_route_gets_the_length_but_no_body() {
    let server = http();
    server
        .add_route(Route::get("/doc").respond(Reply::text(200, "0123456789")))
        .unwrap();
    let mut s = connect(server.local_addr());
    s.write_all(b"HEAD /doc HTTP/1.1\r\nHost: t\r\n\r\nGET /doc HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let head = read_response(&mut r, true).unwrap();
    assert_eq!(head.header("content-length"), Some("10"));
    let full = read_response(&mut r, false).unwrap();
    assert_eq!(full.body, b"0123456789", "HEAD sent no body bytes");
}

#[test]
fn a_route_used_once_answers_then_falls_through() {
    let server = http();
    let first = server
        .add_route(
            Route::get("/seq")
                .respond(Reply::text(200, "first\n"))
                .uses(1),
        )
        .unwrap();
    let twice = server
        .add_route(
            Route::get("/seq")
                .respond(Reply::text(200, "second\n"))
                .uses(2),
        )
        .unwrap();
    let bodies: Vec<_> = (0..4).map(|_| get(&server, "/seq").body).collect();
    assert_eq!(
        bodies,
        [
            b"first\n".to_vec(),
            b"second\n".to_vec(),
            b"second\n".to_vec(),
            b"Not Found\n".to_vec()
        ]
    );
    assert_eq!(server.route_hits(first), Some(1));
    assert_eq!(server.route_hits(twice), Some(2));
}

#[test]
fn a_once_route_is_used_exactly_once_under_concurrency() {
    let server = start(Protocol::Http, |c| c.workers(2));
    let once = server
        .add_route(
            Route::get("/prize")
                .respond(Reply::text(200, "won\n"))
                .uses(1),
        )
        .unwrap();
    let addr = server.local_addr();
    let handles: Vec<_> = (0..32)
        .map(|_| {
            thread::spawn(move || http_once(addr, b"GET /prize HTTP/1.1\r\nHost: t\r\n\r\n").status)
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 1);
    assert_eq!(statuses.iter().filter(|&&s| s == 404).count(), 31);
    assert_eq!(server.route_hits(once), Some(1));
}

#[test]
fn routes_change_while_running() {
    let server = http();
    let id = server
        .add_route(Route::get("/v").respond(Reply::text(200, "v1\n")))
        .unwrap();
    // One keep-alive connection sees each change on its next request.
    let mut s = connect(server.local_addr());
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut ask = |s: &mut std::net::TcpStream| {
        s.write_all(b"GET /v HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        read_response(&mut r, false).unwrap()
    };
    assert_eq!(ask(&mut s).body, b"v1\n");
    assert!(server
        .replace_route(id, Route::get("/v").respond(Reply::text(200, "v2\n")))
        .unwrap());
    assert_eq!(ask(&mut s).body, b"v2\n");
    assert!(server.remove_route(id));
    assert!(!server.remove_route(id));
    assert_eq!(
        ask(&mut s).body,
        b"hello\n",
        "no routes left: fixed response"
    );
    let err = server
        .add_route(Route::get("/bad").respond(Reply::new(200).header("X", "a\r\nb")))
        .unwrap_err();
    assert_eq!(err.field, "response.header");
    assert!(
        server.route_ids().is_empty(),
        "a rejected route is not added"
    );
}

/// A route inserted in the middle is tried at its place, and clients that keep
/// asking while it goes in see the table before or after, never without the
/// routes behind it (the Python package inserted by removing and re-adding those).
#[test]
fn a_route_inserted_at_a_position_is_tried_there_at_once() {
    let server = Arc::new(http());
    let first = server
        .add_route(Route::get("/a").respond(Reply::text(200, "a\n")))
        .unwrap();
    let last = server
        .add_route(Route::get("/").prefix().respond(Reply::text(200, "any\n")))
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let asker = {
        let (addr, done) = (server.local_addr(), done.clone());
        thread::spawn(move || {
            let mut s = connect(addr);
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut seen = Vec::new();
            while !done.load(Ordering::Relaxed) || seen.is_empty() {
                s.write_all(b"GET /b HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
                let resp = read_response(&mut r, false).unwrap();
                seen.push((resp.status, String::from_utf8(resp.body).unwrap()));
            }
            seen
        })
    };
    let mut inserted = Vec::new();
    for i in 0..50 {
        let route = Route::get(format!("/new{i}")).respond(Reply::text(200, "new\n"));
        inserted.push(server.insert_route(1, route).unwrap());
    }
    let b = server
        .insert_route(1, Route::get("/b").respond(Reply::text(200, "b\n")))
        .unwrap();
    let top = server
        .insert_route(0, Route::get("/a").respond(Reply::text(200, "top\n")))
        .unwrap();
    done.store(true, Ordering::Relaxed);
    for (status, body) in asker.join().unwrap() {
        assert!(
            status == 200 && (body == "any\n" || body == "b\n"),
            "{status} {body:?}"
        );
    }
    let ids = server.route_ids();
    assert_eq!(ids.len(), 54);
    assert_eq!(&ids[..3], &[top, first, b]);
    assert_eq!(ids[3], inserted[49]);
    assert_eq!(ids[53], last);
    assert_eq!(get(&server, "/a").body, b"top\n");
    assert_eq!(get(&server, "/b").body, b"b\n");
    assert_eq!(get(&server, "/new0").body, b"new\n");
    // At the end is `add_route`; past it, nothing changes and the error names it.
    let end = server
        .insert_route(54, Route::get("/end").respond(Reply::new(204)))
        .unwrap();
    assert_eq!(server.route_ids().last(), Some(&end));
    let err = server
        .insert_route(99, Route::get("/x").respond(Reply::new(204)))
        .unwrap_err();
    assert_eq!(err.field, "position");
    assert!(err.to_string().contains("at most 55, got 99"), "{err}");
    let err = server.insert_route(0, Route::get("nopath")).unwrap_err();
    assert_eq!(err.field, "route.path");
    assert_eq!(server.route_ids().len(), 55);
}

/// Clients hammer two routes whose bodies differ in length while another thread
/// keeps clearing and re-adding them: every response must be one route's exact
/// response, the fixed one, or a 404, each correctly framed.
#[test]
fn clearing_routes_under_load_never_serves_a_torn_response() {
    let server = Arc::new(start(Protocol::Http, |c| c.workers(2)));
    let long = "L".repeat(3000);
    let routes = {
        let long = long.clone();
        move || {
            vec![
                Route::get("/a").respond(Reply::text(200, "short\n")),
                Route::get("/b").respond(Reply::text(200, long.clone())),
            ]
        }
    };
    let done = Arc::new(AtomicBool::new(false));
    let churn = {
        let (server, done, routes) = (server.clone(), done.clone(), routes.clone());
        thread::spawn(move || {
            let mut changes = 0;
            while !done.load(Ordering::Relaxed) {
                server.clear_routes();
                for r in routes() {
                    server.add_route(r).unwrap();
                }
                changes += 1;
            }
            changes
        })
    };
    let addr = server.local_addr();
    let clients: Vec<_> = (0..4)
        .map(|k| {
            let long = long.clone();
            thread::spawn(move || {
                let mut s = connect(addr);
                let mut r = BufReader::new(s.try_clone().unwrap());
                for i in 0..500 {
                    let path = if (i + k) % 2 == 0 { "/a" } else { "/b" };
                    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
                        .unwrap();
                    let resp = read_response(&mut r, false).unwrap();
                    let ok = match (resp.status, path) {
                        (200, "/a") => resp.body == b"short\n" || resp.body == b"hello\n",
                        (200, _) => resp.body == long.as_bytes() || resp.body == b"hello\n",
                        (404, _) => resp.body == b"Not Found\n",
                        _ => false,
                    };
                    assert!(ok, "torn or wrong: {} {:?}", resp.status, resp.body.len());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let changes = churn.join().unwrap();
    assert!(changes > 10, "routes changed only {changes} times");
}

#[test]
fn request_log_records_what_arrived() {
    let server = start(Protocol::Http, |c| {
        c.request_log(3)
            .request_log_body_bytes(4)
            .route(Route::any("/").prefix())
    });
    let t0 = Instant::now();
    let mut s = connect(server.local_addr());
    s.write_all(
        b"POST /up?x=1 HTTP/1.1\r\nHost: t\r\nX-Tag: one\r\nContent-Length: 10\r\n\r\n0123456789\
          GET /two HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s);
    read_response(&mut r, false).unwrap();
    read_response(&mut r, false).unwrap();
    get(&server, "/other-connection");
    let log = server.requests();
    assert_eq!(log.len(), 3);
    let (a, b, c) = (&log[0], &log[1], &log[2]);
    assert_eq!((a.method.as_str(), a.target.as_str()), ("POST", "/up?x=1"));
    assert_eq!((a.path(), a.query()), ("/up", Some("x=1")));
    assert_eq!(a.header_str("x-tag"), Some("one"));
    assert_eq!((a.body.as_slice(), a.body_len), (b"0123".as_slice(), 10));
    assert_eq!(b.target, "/two");
    assert_eq!(a.connection_id, b.connection_id, "same connection");
    assert_ne!(a.connection_id, c.connection_id, "another connection");
    assert!(t0 <= a.received && a.received <= b.received && b.received <= c.received);
    // The ring keeps the newest 3.
    get(&server, "/four");
    let log = server.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].target, "/four");
    assert_eq!(server.requests_evicted(), 1);
    server.clear_requests();
    assert!(server.requests().is_empty());
}

/// A 100-request pipeline whose 50th request hits a delayed route: all 100
/// responses arrive in request order, the first 49 before the delay is over.
#[test]
fn delayed_route_in_a_pipeline_keeps_response_order() {
    let server = http();
    server
        .add_route(
            Route::get("/slow")
                .respond(Reply::text(200, "slow\n"))
                .fault(Fault::Delay(Duration::from_millis(300))),
        )
        .unwrap();
    server
        .add_route(Route::get("/n").prefix().respond(Reply::text(200, "n\n")))
        .unwrap();
    let mut batch = String::new();
    for i in 0..100 {
        if i == 49 {
            batch.push_str("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
        } else {
            batch.push_str(&format!("GET /n{i} HTTP/1.1\r\nHost: t\r\n\r\n"));
        }
    }
    let t0 = Instant::now();
    let mut s = connect(server.local_addr());
    s.write_all(batch.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    for i in 0..100 {
        let resp = read_response(&mut r, false).unwrap();
        let want: &[u8] = if i == 49 { b"slow\n" } else { b"n\n" };
        assert_eq!(resp.body, want, "response {i}");
        if i == 48 {
            assert!(
                t0.elapsed() < Duration::from_millis(250),
                "early responses waited"
            );
        }
        if i == 49 {
            assert!(
                t0.elapsed() >= Duration::from_millis(300),
                "delay not applied"
            );
        }
    }
    // Other connections are not held up by the delay.
    let mut slow = connect(server.local_addr());
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let t1 = Instant::now();
    assert_eq!(get(&server, "/n1").status, 200);
    assert!(t1.elapsed() < Duration::from_millis(250));
    let resp = read_response(&mut BufReader::new(slow), false).unwrap();
    assert_eq!(resp.body, b"slow\n");
}

#[test]
fn drip_sends_the_body_piece_by_piece() {
    let server = http();
    server
        .add_route(
            Route::get("/drip")
                .respond(Reply::text(200, "abcdefgh"))
                .fault(Fault::Drip {
                    bytes: 2,
                    interval: Duration::from_millis(50),
                }),
        )
        .unwrap();
    let mut s = connect(server.local_addr());
    let t0 = Instant::now();
    s.write_all(b"GET /drip HTTP/1.1\r\nHost: t\r\n\r\nGET /drip HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let first = read_response(&mut r, false).unwrap();
    let took = t0.elapsed();
    assert_eq!(first.body, b"abcdefgh");
    assert_eq!(first.header("content-length"), Some("8"));
    // 4 pieces, the first after one interval.
    assert!(
        took >= Duration::from_millis(200),
        "dripped too fast: {took:?}"
    );
    let second = read_response(&mut r, false).unwrap();
    assert_eq!(
        second.body, b"abcdefgh",
        "the next pipelined request follows"
    );
}

#[test]
fn close_after_headers_announces_a_body_it_never_sends() {
    let server = http();
    server
        .add_route(
            Route::get("/cut")
                .respond(Reply::text(200, "never sent"))
                .fault(Fault::CloseAfterHeaders),
        )
        .unwrap();
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /cut HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let text = String::from_utf8(all).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(text.contains("Content-Length: 10\r\n"));
    assert!(text.ends_with("\r\n\r\n"), "no body bytes: {text:?}");
}

#[test]
fn reset_fault_resets_the_connection() {
    let server = http();
    server
        .add_route(Route::get("/rst").fault(Fault::Reset))
        .unwrap();
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /rst HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let err = s
        .read(&mut buf)
        .expect_err("expected a reset, got data or EOF");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .connections_active
        == 0));
}

#[test]
fn no_response_fault_stays_silent_and_does_not_delay_stop() {
    let server = http();
    server
        .add_route(Route::get("/void").fault(Fault::NoResponse))
        .unwrap();
    let mut s = connect(server.local_addr());
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.write_all(b"GET /void HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let err = s.read(&mut buf).expect_err("expected silence");
    assert!(matches!(
        err.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .requests
        == 1));
    let report = server.stop(Duration::from_secs(5));
    assert!(report.elapsed < Duration::from_secs(1), "{report:?}");
    assert_eq!(report.idle_closed, 1);
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    assert!(closed_by_peer(&mut s));
}

#[test]
fn graceful_stop_lets_a_delayed_response_finish_with_connection_close() {
    let server = http();
    server
        .add_route(
            Route::get("/slow")
                .respond(Reply::text(200, "done\n"))
                .fault(Fault::Delay(Duration::from_millis(200))),
        )
        .unwrap();
    let mut busy = connect(server.local_addr());
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let _idle = connect(server.local_addr());
    // Both connections accepted (the idle one too) and the request read.
    assert!(wait_until(Duration::from_secs(5), || {
        let s = server.stats();
        s.requests == 1 && s.connections_accepted == 2
    }));
    let report = server.stop(Duration::from_secs(5));
    assert_eq!(
        (report.idle_closed, report.drained, report.force_closed),
        (1, 1, 0)
    );
    let resp = read_response(&mut BufReader::new(busy), false).unwrap();
    assert_eq!(resp.body, b"done\n");
    assert_eq!(resp.header("connection"), Some("close"));
}

#[test]
fn when_conditions_see_the_request_and_the_log_names_the_route() {
    let server = http();
    // A condition the built-in matchers cannot express: a header in any case of
    // value, and a body that merely contains a word.
    let loud = server
        .add_route(
            Route::post("/c")
                .when(|r| {
                    r.header("x-mode")
                        .is_some_and(|v| v.eq_ignore_ascii_case(b"loud"))
                })
                .when(|r| r.body().windows(5).any(|w| w == b"hello"))
                .when(|r| {
                    r.headers()
                        .iter()
                        .any(|(n, v)| *n == "X-Mode" && v.len() == 4)
                })
                .respond(Reply::text(200, "LOUD\n")),
        )
        .unwrap();
    let post = |mode: &str, body: &str| {
        let req = format!(
            "POST /c?x=1 HTTP/1.1\r\nHost: t\r\nX-Mode:  {mode} \r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        http_once(server.local_addr(), req.as_bytes())
    };
    assert_eq!(post("LOUD", "say hello now").status, 200);
    assert_eq!(post("quiet", "say hello now").status, 404);
    assert_eq!(post("loud", "say goodbye").status, 404);

    let log = server.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].route, Some(loud));
    assert_eq!((log[1].route, log[2].route), (None, None));

    // Route::matches applies the same test to a logged request, use limits aside.
    let route = Route::post("/c").when(|r| r.query() == Some("x=1") && r.path() == "/c");
    assert!(log.iter().all(|r| route.matches(r)));
    assert!(!Route::get("/c").matches(&log[0]));
    assert!(Route::post("/c").header("x-mode", "LOUD").matches(&log[0]));
}

#[test]
fn without_the_fixed_response_a_routeless_server_answers_unmatched() {
    let server = start(Protocol::Http, |c| {
        c.fixed_response(false)
            .unmatched_status(500)
            .request_log(10)
    });
    let r = get(&server, "/anything");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (500, b"Internal Server Error\n".as_slice())
    );
    assert_eq!(server.requests()[0].route, None);
    // Without the log too (the fast path is skipped either way).
    let bare = start(Protocol::Http, |c| c.fixed_response(false));
    assert_eq!(get(&bare, "/").status, 404);
}

#[test]
fn a_fault_every_nth_answer_hits_exactly_those() {
    let server = http();
    server
        .add_route(
            Route::get("/sometimes")
                .respond(Reply::text(200, "ok"))
                .fault(Fault::Reset)
                .fault_every(3),
        )
        .unwrap();
    let reset = |i: u32| {
        let mut s = connect(server.local_addr());
        s.write_all(b"GET /sometimes HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut buf = Vec::new();
        match s.read_to_end(&mut buf) {
            Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
            Ok(_) if buf.is_empty() => true,
            Ok(_) => {
                assert!(buf.starts_with(b"HTTP/1.1 200"), "answer {i}");
                false
            }
            Err(e) => panic!("answer {i}: {e}"),
        }
    };
    let pattern: Vec<bool> = (1..=9).map(reset).collect();
    assert_eq!(
        pattern,
        [false, false, true, false, false, true, false, false, true]
    );
    let e = Server::start(
        pierhead::Config::new().route(Route::get("/x").fault(Fault::Reset).fault_every(0)),
    )
    .unwrap_err();
    assert!(e.to_string().contains("route.fault_every"), "{e}");
}
