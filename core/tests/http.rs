//! HTTP over real sockets: pipelining, split invariance, half-close, errors,
//! limits and timeouts.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::thread;
use std::time::Duration;

use common::*;
use pierhead::Protocol;

/// 100 requests of mixed kinds (GET, HEAD, POST with a body, HTTP/1.0 keep-alive):
/// a response read in the wrong order or a request read as another's body would
/// desynchronise the reader below.
fn pipeline() -> (Vec<u8>, Vec<bool>) {
    let mut bytes = Vec::new();
    let mut is_head = Vec::new();
    for i in 0..100 {
        match i % 4 {
            0 => {
                bytes.extend_from_slice(format!("GET /r{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            }
            1 => bytes
                .extend_from_slice(format!("HEAD /r{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes()),
            2 => bytes.extend_from_slice(
                format!("POST /r{i} HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nGET / HTTP/")
                    .as_bytes(),
            ),
            _ => bytes.extend_from_slice(
                format!("GET /r{i} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").as_bytes(),
            ),
        }
        is_head.push(i % 4 == 1);
    }
    (bytes, is_head)
}

fn send_pipeline(addr: SocketAddr, parts: &[&[u8]], is_head: &[bool], check_no_extra: bool) {
    let mut s = connect(addr);
    for (k, part) in parts.iter().enumerate() {
        s.write_all(part).unwrap();
        if k + 1 < parts.len() {
            s.flush().unwrap();
        }
    }
    let mut r = BufReader::new(s.try_clone().unwrap());
    for (i, &head) in is_head.iter().enumerate() {
        let resp = read_response(&mut r, head).unwrap_or_else(|e| panic!("response {i}: {e}"));
        assert_eq!(resp.status, 200, "response {i}");
        assert_eq!(resp.header("content-length"), Some("6"));
        assert!(resp.header("date").is_some());
        if !head {
            assert_eq!(resp.body, b"hello\n", "response {i}");
        }
        if i % 4 == 3 {
            assert_eq!(resp.header("connection"), Some("keep-alive"));
        }
    }
    if !check_no_extra {
        return;
    }
    // Nothing more: exactly 100 responses.
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut extra = [0u8; 1];
    assert!(r.read(&mut extra).is_err(), "an extra response");
}

#[test]
fn pipelined_100_requests_in_one_write_get_100_ordered_responses() {
    let server = start(Protocol::Http, |c| c);
    let (bytes, is_head) = pipeline();
    send_pipeline(server.local_addr(), &[&bytes], &is_head, true);
    let s = server.stats();
    assert_eq!((s.requests, s.responses), (100, 100));
}

#[test]
fn pipelined_requests_split_at_every_byte_boundary() {
    let server = start(Protocol::Http, |c| c);
    let addr = server.local_addr();
    let (bytes, is_head) = pipeline();
    let threads = 4;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (bytes, is_head) = (bytes.clone(), is_head.clone());
            thread::spawn(move || {
                for split in (1..bytes.len()).filter(|s| s % threads == t) {
                    let (a, b) = bytes.split_at(split);
                    send_pipeline(addr, &[a, b], &is_head, false);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let st = server.stats();
    assert_eq!(st.protocol_errors, 0);
    // Every response was counted once: no request was lost or answered twice.
    assert_eq!(st.responses, (bytes.len() as u64 - 1) * 100);
}

#[test]
fn half_close_after_a_request_still_gets_the_response() {
    let server = start(Protocol::Http, |c| c);
    let mut s = connect(server.local_addr());
    s.write_all(GET).unwrap();
    s.write_all(GET).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let text = String::from_utf8(all).unwrap();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
}

/// Pipelined requests whose answers exceed the output limit are answered as the
/// output drains; a client that half-closes after sending them still gets all of
/// them (the kept-back requests are not dropped at its EOF).
#[test]
fn pipelined_answers_past_the_output_limit_survive_a_half_close() {
    let body = vec![b'z'; 300 * 1024];
    let server = start(Protocol::Http, |c| {
        c.max_output_bytes(64 * 1024)
            .route(
                pierhead::Route::get("/slow")
                    .respond(pierhead::Response::new(200).body(body.clone()))
                    .fault(pierhead::Fault::Delay(Duration::from_millis(200))),
            )
            .route(
                pierhead::Route::get("/big")
                    .respond(pierhead::Response::new(200).body(body.clone())),
            )
    });
    let mut s = connect(server.local_addr());
    // The first answer is delayed: the rest, and the EOF, arrive while it is held.
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    s.write_all(&b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n".repeat(29))
        .unwrap();
    s.write_all(b"GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    s.shutdown(Shutdown::Write).unwrap();

    let mut r = BufReader::new(s);
    for i in 0..31 {
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!((i, resp.status, resp.body.len()), (i, 200, body.len()));
    }
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn garbage_gets_400_and_close_and_later_requests_are_not_executed() {
    let server = start(Protocol::Http, |c| c);
    let mut s = connect(server.local_addr());
    s.write_all(b"\x16\x03\x01 not http\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(closed_by_peer(&mut s));
    let st = server.stats();
    assert_eq!((st.protocol_errors, st.requests), (1, 0));
}

#[test]
fn head_over_the_limit_gets_431_even_when_split_across_reads() {
    let server = start(Protocol::Http, |c| c.max_header_bytes(1024));
    let mut s = connect(server.local_addr());
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let writer = thread::spawn(move || {
        for _ in 0..200 {
            if s.write_all(b"X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")
                .is_err()
            {
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
    });
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.status, 431);
    writer.join().unwrap();
}

#[test]
fn body_over_the_limit_gets_413() {
    let server = start(Protocol::Http, |c| c.max_body_bytes(10));
    let resp = http_once(
        server.local_addr(),
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n",
    );
    assert_eq!(resp.status, 413);
}

#[test]
fn smuggling_vectors_get_400() {
    let server = start(Protocol::Http, |c| c);
    for headers in [
        "Content-Length: 5\r\nTransfer-Encoding: chunked",
        "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: +5",
        "Content-Length: 0x5",
        "Transfer-Encoding: gzip",
    ] {
        let req = format!("POST / HTTP/1.1\r\nHost: t\r\n{headers}\r\n\r\nhello");
        let resp = http_once(server.local_addr(), req.as_bytes());
        assert_eq!(resp.status, 400, "{headers}");
    }
}

#[test]
fn keep_alive_reuses_one_connection_and_http10_closes() {
    let server = start(Protocol::Http, |c| c);
    let s = connect(server.local_addr());
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    for _ in 0..50 {
        w.write_all(GET).unwrap();
        assert_eq!(read_response(&mut r, false).unwrap().status, 200);
    }
    assert_eq!(server.stats().connections_accepted, 1);
    let mut s10 = connect(server.local_addr());
    s10.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut all = Vec::new();
    s10.read_to_end(&mut all).unwrap();
    assert!(all.ends_with(b"hello\n"));
}

#[test]
fn max_connections_refuses_with_503_and_counts() {
    let server = start(Protocol::Http, |c| c.max_connections(3));
    let addr = server.local_addr();
    let mut held: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    for s in &mut held {
        s.write_all(GET).unwrap();
        let resp = read_response(&mut BufReader::new(s.try_clone().unwrap()), false).unwrap();
        assert_eq!(resp.status, 200);
    }
    let mut extra = connect(addr);
    let mut got = Vec::new();
    let _ = extra.read_to_end(&mut got);
    assert!(
        got.starts_with(b"HTTP/1.1 503"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(server.stats().connections_refused, 1);
    // Freeing a slot lets a new client in.
    drop(held.pop());
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .connections_active
        == 2));
    assert_eq!(http_once(addr, GET).status, 200);
}

#[test]
fn echo_refusal_closes_at_once() {
    let server = start(Protocol::Echo, |c| c.max_connections(1));
    let _held = connect(server.local_addr());
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .connections_active
        == 1));
    let mut extra = connect(server.local_addr());
    assert!(closed_by_peer(&mut extra));
    assert_eq!(server.stats().connections_refused, 1);
}

#[test]
fn idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let server = start(Protocol::Http, |c| {
        c.idle_timeout(Duration::from_millis(200))
    });
    assert_eq!(answer_then_close(server.local_addr(), GET).status, 200);
    assert_eq!(server.stats().timeouts, 1);
    assert_eq!(server.stats().connections_active, 0);
}

#[test]
fn slow_request_head_gets_408() {
    let server = start(Protocol::Http, |c| {
        c.header_timeout(Duration::from_millis(200))
    });
    let resp = answer_then_close(server.local_addr(), b"GET / HTTP/1.1\r\nHost: slow");
    assert_eq!(resp.status, 408);
    assert_eq!(server.stats().timeouts, 1);
}

#[test]
fn stats_are_served_as_prometheus_text_on_their_own_address() {
    let server = start(Protocol::Http, |c| c.metrics("127.0.0.1:0"));
    let metrics = server.metrics_addr().expect("the endpoint is on");
    assert_ne!(metrics, server.local_addr());
    for _ in 0..3 {
        http_once(server.local_addr(), b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    let resp = http_once(metrics, b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some(pierhead::PROMETHEUS_CONTENT_TYPE)
    );
    let body = String::from_utf8(resp.body.clone()).unwrap();
    assert!(body.contains("pierhead_requests_total 3\n"), "{body}");
    assert!(body.contains("pierhead_info{version=\""), "{body}");
    // Scrapes are not counted as the server's own requests.
    assert_eq!(server.stats().requests, 3);
    assert!(server.prometheus().contains("pierhead_requests_total 3\n"));
    let other = http_once(metrics, b"GET /other HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(other.status, 404);
    let report = server.stop(Duration::from_secs(1));
    assert!(report.complete);
    assert!(
        std::net::TcpStream::connect(metrics).is_err(),
        "the endpoint stops with the server"
    );
    let e = pierhead::Server::start(pierhead::Config::new().metrics("nowhere")).unwrap_err();
    assert!(e.to_string().contains("`metrics`"), "{e}");
}
