//! Request bodies over real sockets: chunked decoding, the smuggling vectors, what
//! happens to pipelined requests after a bad body, and 413 to a client that is still
//! uploading.

mod common;

use std::io::{BufReader, Write};
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use common::*;
use pierhead::{Protocol, Response as Reply, Route, Server};

/// A server whose `/echo` handler answers with the request body, logging requests.
fn echo_server(max_body: u64) -> Server {
    start(Protocol::Http, |c| {
        c.max_body_bytes(max_body)
            .request_log(100)
            .route(
                Route::post("/echo")
                    .handler(|req: &pierhead::Request| Reply::new(200).body(req.body.clone())),
            )
            .route(Route::any("/").prefix().respond(Reply::text(200, "ok\n")))
    })
}

#[test]
fn chunked_bodies_are_decoded_at_any_split() {
    let server = echo_server(1 << 20);
    let request = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
        5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n\
        GET /after HTTP/1.1\r\nHost: t\r\n\r\n";
    for split in (1..request.len()).step_by(7).chain([request.len() - 1]) {
        let mut s = connect(server.local_addr());
        s.write_all(&request[..split]).unwrap();
        s.flush().unwrap();
        thread::sleep(Duration::from_millis(1));
        s.write_all(&request[split..]).unwrap();
        let mut r = BufReader::new(s);
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!(resp.body, b"hello world", "split at {split}");
        assert_eq!(read_response(&mut r, false).unwrap().body, b"ok\n");
    }
}

#[test]
fn large_chunked_body_streams_in_without_trouble() {
    let server = echo_server(4 << 20);
    let s = connect(server.local_addr());
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let writer = {
        let mut s = s.try_clone().unwrap();
        let body = body.clone();
        thread::spawn(move || {
            s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
                .unwrap();
            for piece in body.chunks(65_000) {
                s.write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .unwrap();
                s.write_all(piece).unwrap();
                s.write_all(b"\r\n").unwrap();
            }
            s.write_all(b"0\r\n\r\n").unwrap();
        })
    };
    let resp = read_response(&mut BufReader::new(s.try_clone().unwrap()), false).unwrap();
    writer.join().unwrap();
    assert_eq!(resp.body.len(), body.len());
    assert!(resp.body == body, "body corrupted");
    s.shutdown(Shutdown::Both).ok();
}

/// Every vector gets 400 and a close, and the request smuggled behind it is never
/// executed (it would show up in the request log).
#[test]
fn smuggling_vectors_get_400_and_the_smuggled_request_never_runs() {
    let server = echo_server(1 << 20);
    let vectors: [(&str, &str); 10] = [
        (
            "Content-Length: 5\r\nTransfer-Encoding: chunked",
            "0\r\n\r\n",
        ),
        ("Transfer-Encoding: chunked, chunked", "0\r\n\r\n"),
        (
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
            "0\r\n\r\n",
        ),
        ("Transfer-Encoding: gzip", "0\r\n\r\n"),
        ("Content-Length: 5\r\nContent-Length: 5", "hello"),
        ("Content-Length: +5", "hello"),
        ("Content-Length: 0x5", "hello"),
        ("Transfer-Encoding: chunked", "\r\nhello\r\n0\r\n\r\n"), // empty chunk size
        (
            "Transfer-Encoding: chunked",
            "10000000000000005\r\nhello\r\n0\r\n\r\n",
        ), // 17 digits
        ("Transfer-Encoding: chunked", "5\r\nhelloXX0\r\n\r\n"),  // data overruns size
    ];
    for (headers, body) in vectors {
        server.clear_requests();
        let req =
            format!("POST /echo HTTP/1.1\r\nHost: t\r\n{headers}\r\n\r\n{body}GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n");
        let resp = answer_then_close(server.local_addr(), req.as_bytes());
        assert_eq!(resp.status, 400, "{headers:?} {body:?}");
        assert_eq!(resp.header("connection"), Some("close"));
        let seen: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
        assert!(
            !seen.iter().any(|t| t == "/smuggled"),
            "smuggled request executed after {headers:?}: {seen:?}"
        );
    }
    assert!(server.stats().protocol_errors >= 10);
}

/// A bad chunk in the middle of a pipeline: the requests before it are answered,
/// nothing after it is.
#[test]
fn pipelined_requests_after_a_bad_chunk_are_never_executed() {
    let server = echo_server(1 << 20);
    let batch = b"GET /one HTTP/1.1\r\nHost: t\r\n\r\n\
        POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZ\r\n\r\n\
        GET /three HTTP/1.1\r\nHost: t\r\n\r\nGET /four HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut s = connect(server.local_addr());
    s.write_all(batch).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(read_response(&mut r, false).unwrap().status, 200);
    assert_eq!(read_response(&mut r, false).unwrap().status, 400);
    assert!(closed_by_peer(&mut s));
    let seen: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(seen, ["/one"], "only the request before the bad chunk ran");
}

/// The client is still sending its 8 MiB body when the 413 comes; it reads the 413
/// instead of a reset, because the server drains its input before closing.
#[test]
fn body_over_the_limit_gets_a_413_the_uploading_client_can_read() {
    let server = echo_server(64 * 1024);
    for chunked in [false, true] {
        let s = connect(server.local_addr());
        let head = if chunked {
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned()
        } else {
            format!(
                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                8 << 20
            )
        };
        let uploader = {
            let mut s = s.try_clone().unwrap();
            thread::spawn(move || {
                s.write_all(head.as_bytes()).unwrap();
                let piece = vec![b'x'; 64 * 1024];
                for _ in 0..128 {
                    let r = if chunked {
                        s.write_all(b"10000\r\n")
                            .and_then(|_| s.write_all(&piece))
                            .and_then(|_| s.write_all(b"\r\n"))
                    } else {
                        s.write_all(&piece)
                    };
                    if r.is_err() {
                        return false; // the server closed: fine once the 413 is read
                    }
                }
                true
            })
        };
        let resp = read_response(&mut BufReader::new(s.try_clone().unwrap()), false)
            .expect("the 413 is readable");
        assert_eq!(resp.status, 413, "chunked={chunked}");
        assert_eq!(resp.header("connection"), Some("close"));
        uploader.join().unwrap();
    }
}

#[test]
fn expect_100_continue_with_a_chunked_body() {
    let server = echo_server(1 << 20);
    let mut s = connect(server.local_addr());
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(read_response(&mut r, false).unwrap().status, 100);
    s.write_all(b"4\r\nbody\r\n0\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut r, false).unwrap().body, b"body");
}

#[test]
fn http10_closes_unless_keep_alive_and_connection_close_closes() {
    let server = echo_server(1 << 20);
    let resp = answer_then_close(server.local_addr(), b"GET /x HTTP/1.0\r\n\r\n");
    assert_eq!(resp.header("connection"), Some("close"));
    let resp = answer_then_close(
        server.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert_eq!(resp.body, b"hi");
}
