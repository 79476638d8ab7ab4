//! What the HTTP server answers to inputs real clients send and to inputs RFC 9110
//! and 9112 say how to refuse: absolute-form targets, escaped paths, Host, versions,
//! transfer codings, long targets, many header fields, and a TLS ClientHello on the
//! plain port. The README's HTTP table lists the same cases.

mod common;

use std::io::{BufReader, Read, Write};
use std::time::Duration;

use common::*;
use pierhead::{Protocol, Response, Route};

fn routed() -> pierhead::Server {
    start(Protocol::Http, |c| {
        c.header_timeout(Duration::from_secs(60))
            .request_log(5)
            .route(Route::get("/health").respond(Response::text(200, "ok")))
            .route(Route::get("/café").respond(Response::text(200, "cafe")))
            .route(Route::get("/~user").respond(Response::text(200, "home")))
            .route(
                Route::get("/%7Eraw")
                    .raw_path()
                    .respond(Response::text(200, "raw")),
            )
            .route(Route::post("/up").respond(Response::text(201, "up")))
    })
}

fn ask(server: &pierhead::Server, request: &str) -> common::Response {
    http_once(server.local_addr(), request.as_bytes())
}

#[test]
fn absolute_form_targets_are_routed_by_their_path() {
    let server = routed();
    let r = ask(
        &server,
        "GET http://example.com/health HTTP/1.1\r\nHost: example.com\r\n\r\n",
    );
    assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
    let r = ask(
        &server,
        "GET HTTP://example.com:80/health?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    let logged = server.requests();
    assert_eq!(logged[0].target, "http://example.com/health");
    assert_eq!(logged[0].path(), "/health");
}

#[test]
fn paths_are_matched_with_escapes_decoded_unless_raw() {
    let server = routed();
    for (target, want) in [
        ("/caf%C3%A9", &b"cafe"[..]),
        ("/caf%c3%a9", b"cafe"),
        ("/%7Euser", b"home"),
        ("/~user", b"home"),
        ("/%7Eraw", b"raw"),
    ] {
        let r = ask(
            &server,
            &format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n"),
        );
        assert_eq!((target, r.status, r.body.as_slice()), (target, 200, want));
    }
    let r = ask(&server, "GET /~raw HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status, 404, "a raw route compares the path as sent");
}

#[test]
fn host_must_be_present_once_and_valid_in_http11() {
    let server = routed();
    for head in [
        "GET /health HTTP/1.1\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: a b\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: a/b\r\n\r\n",
    ] {
        let r = answer_then_close(server.local_addr(), head.as_bytes());
        assert_eq!(r.status, 400, "{head:?}");
    }
    assert_eq!(ask(&server, "GET /health HTTP/1.0\r\n\r\n").status, 200);
    assert_eq!(
        ask(&server, "GET /health HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").status,
        200
    );
    assert_eq!(server.stats().protocol_errors, 4);
}

#[test]
fn expect_100_continue_is_ignored_in_http10() {
    let server = routed();
    let mut s = connect(server.local_addr());
    s.write_all(b"POST /up HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi")
        .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let text = String::from_utf8(all).unwrap();
    assert!(text.starts_with("HTTP/1.1 201 "), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
}

#[test]
fn versions_other_than_1x_get_505_and_later_1x_is_served_as_11() {
    let server = routed();
    for v in ["2.0", "9.9"] {
        let r = answer_then_close(
            server.local_addr(),
            format!("GET /health HTTP/{v}\r\nHost: t\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.status, 505, "HTTP/{v}");
    }
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /health HTTP/1.2\r\nHost: t\r\n\r\nGET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    for _ in 0..2 {
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!((resp.status, resp.body.as_slice()), (200, &b"ok"[..]));
    }
}

#[test]
fn transfer_codings_other_than_chunked_get_501_and_empty_elements_are_ignored() {
    let server = routed();
    let r = answer_then_close(
        server.local_addr(),
        b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 501);
    let r = answer_then_close(
        server.local_addr(),
        b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    );
    assert_eq!(r.status, 400);
    let r = ask(
        &server,
        "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: , chunked,\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 201);
    assert_eq!(server.requests().last().unwrap().body, b"hi");
}

#[test]
fn a_request_target_over_the_limit_gets_414_and_many_headers_431() {
    let server = routed();
    let long = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(20_000));
    assert_eq!(
        answer_then_close(server.local_addr(), long.as_bytes()).status,
        414
    );
    let mut big_head = String::from("GET /health HTTP/1.1\r\nHost: t\r\n");
    big_head.push_str(&"X-F: 1\r\n".repeat(17_000 / 8));
    big_head.push_str("\r\n");
    assert_eq!(
        answer_then_close(server.local_addr(), big_head.as_bytes()).status,
        431
    );
    // 65 header fields in a small head are fine (the default limit is 100) ...
    let fields = |n: usize| {
        let mut h = String::from("GET /health HTTP/1.1\r\nHost: t\r\n");
        for i in 0..n {
            h.push_str(&format!("X-{i}: v\r\n"));
        }
        h + "\r\n"
    };
    assert_eq!(ask(&server, &fields(64)).status, 200);
    assert_eq!(
        answer_then_close(server.local_addr(), fields(100).as_bytes()).status,
        431
    );
    // ... and the limit is configurable.
    let strict = start(Protocol::Http, |c| c.max_headers(10));
    assert_eq!(
        http_once(strict.local_addr(), fields(9).as_bytes()).status,
        200
    );
    assert_eq!(
        answer_then_close(strict.local_addr(), fields(10).as_bytes()).status,
        431
    );
    let roomy = start(Protocol::Http, |c| c.max_headers(256));
    assert_eq!(
        http_once(roomy.local_addr(), fields(200).as_bytes()).status,
        200
    );
}

/// A TLS ClientHello sent to the plain HTTP port is answered 400 and closed at
/// once, not after the header timeout (60 s here; the read would time out).
#[test]
fn tls_client_hello_on_the_plain_port_gets_400_at_once() {
    let server = routed();
    let hello = [
        0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x5a, 0x5b,
    ];
    let r = answer_then_close(server.local_addr(), &hello);
    assert_eq!(r.status, 400);
    assert_eq!(server.stats().timeouts, 0);
}

/// An unexpected request is counted whatever the request log evicts.
#[test]
fn unmatched_requests_are_counted_beyond_the_log() {
    let server = routed();
    assert_eq!(
        ask(&server, "GET /nobody HTTP/1.1\r\nHost: t\r\n\r\n").status,
        404
    );
    for _ in 0..10 {
        assert_eq!(
            ask(&server, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n").status,
            200
        );
    }
    assert!(
        server.requests().iter().all(|r| r.target == "/health"),
        "evicted"
    );
    let (count, first) = server.unmatched_requests();
    assert_eq!((count, first[0].target.as_str()), (1, "/nobody"));
    server.clear_unmatched();
    assert_eq!(server.unmatched_requests().0, 0);
}
