//! Streamed answers on real sockets: chunks with pauses between them, arriving when
//! the timeline says; cuts and resets inside the stream; server-sent events; HTTP/1.0.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{connect, read_response};
use pierhead::{Protocol, Response, Route, Server, Sse, SseEvent, Step};

const MS: Duration = Duration::from_millis(1);

fn http() -> Server {
    common::start(Protocol::Http, |c| c)
}

/// Reads a response head; returns its headers (lower-cased names).
fn read_head(r: &mut impl BufRead) -> Vec<(String, String)> {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1."), "status line {line:?}");
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            return headers;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
}

/// One chunk and when it arrived; `Ok(None)` for the last (empty) chunk, `Err` when
/// the connection ended first.
fn read_chunk(r: &mut impl BufRead, t0: Instant) -> std::io::Result<Option<(Vec<u8>, Duration)>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let at = t0.elapsed();
    let len = usize::from_str_radix(line.trim_end(), 16).expect("chunk size");
    let mut data = vec![0; len + 2];
    r.read_exact(&mut data)?;
    assert_eq!(&data[len..], b"\r\n");
    data.truncate(len);
    Ok((len > 0).then_some((data, at)))
}

/// Chunk k arrived no earlier than it was due (`due[k]` after the request: the
/// pauses before it summed), and the first came well before the last, so the
/// answer was not held to the end. Arrivals are timed from before the request was
/// written, so the lower bounds hold however loaded the machine is; the gaps
/// between arrivals would not (a client late to read one chunk sees a shorter gap
/// to the next).
fn assert_on_timeline(got: &[(Vec<u8>, Duration)], due: &[Duration]) {
    assert_eq!(got.len(), due.len(), "{got:?}");
    for (k, ((_, at), want)) in got.iter().zip(due).enumerate() {
        assert!(
            at >= want,
            "chunk {k} came at {at:?}, before its {want:?}: {got:?}"
        );
    }
    let (first, last) = (got[0].1, got[got.len() - 1].1);
    let spread = due[due.len() - 1] - due[0];
    assert!(first + spread / 2 < last, "held to the end: {got:?}");
}

#[test]
fn chunks_arrive_on_the_timeline_and_the_next_request_follows() {
    let server = http();
    server
        .add_route(Route::get("/tokens").respond(Response::stream(
            200,
            [
                Step::send("Hel"),
                Step::pause(100 * MS),
                Step::send("lo"),
                Step::pause(150 * MS),
                Step::send(""),
                Step::send("!"),
            ],
        )))
        .unwrap();
    let mut s = connect(server.local_addr());
    let t0 = Instant::now();
    s.write_all(b"GET /tokens HTTP/1.1\r\nHost: t\r\n\r\nGET /tokens HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let head = read_head(&mut r);
    assert!(head.contains(&("transfer-encoding".into(), "chunked".into())));
    assert!(!head.iter().any(|(n, _)| n == "content-length"));
    let mut got = Vec::new();
    while let Some(c) = read_chunk(&mut r, t0).unwrap() {
        got.push(c);
    }
    let texts: Vec<&[u8]> = got.iter().map(|(d, _)| d.as_slice()).collect();
    assert_eq!(texts, [&b"Hel"[..], b"lo", b"!"]);
    assert_on_timeline(&got, &[Duration::ZERO, 100 * MS, 250 * MS]);
    // The pipelined second request is answered after the first stream ends.
    read_head(&mut r);
    let mut n = 0;
    while read_chunk(&mut r, t0).unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn cut_ends_the_connection_inside_the_body_and_reset_resets_it() {
    let server = http();
    server
        .add_route(Route::get("/cut").respond(Response::stream(
            200,
            [
                Step::send("part"),
                Step::pause(50 * MS),
                Step::Cut,
                Step::send("never"),
            ],
        )))
        .unwrap();
    server
        .add_route(Route::get("/reset").respond(Response::stream(
            200,
            [Step::send("part"), Step::pause(50 * MS), Step::Reset],
        )))
        .unwrap();
    let t0 = Instant::now();
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /cut HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    read_head(&mut r);
    assert_eq!(read_chunk(&mut r, t0).unwrap().unwrap().0, b"part");
    let end = read_chunk(&mut r, t0).unwrap_err();
    assert_eq!(end.kind(), std::io::ErrorKind::UnexpectedEof, "{end}");
    assert!(t0.elapsed() >= 50 * MS);

    let mut s = connect(server.local_addr());
    s.write_all(b"GET /reset HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    read_head(&mut r);
    assert_eq!(read_chunk(&mut r, t0).unwrap().unwrap().0, b"part");
    let end = read_chunk(&mut r, t0).unwrap_err();
    assert_eq!(end.kind(), std::io::ErrorKind::ConnectionReset, "{end}");
    // The server goes on.
    let ok = common::http_once(
        server.local_addr(),
        b"GET /cut HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn server_sent_events_have_the_wire_form_and_timing() {
    let server = http();
    let sse = Sse::new()
        .retry(Duration::from_millis(2500))
        .event(SseEvent::data("one").id("1").unwrap())
        .comment("keep-alive")
        .event(
            SseEvent::data("two\nlines")
                .id("2")
                .unwrap()
                .name("update")
                .unwrap()
                .after(120 * MS),
        );
    server
        .add_route(Route::get("/events").respond(sse.response()))
        .unwrap();
    let mut s = connect(server.local_addr());
    let t0 = Instant::now();
    s.write_all(b"GET /events HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let head = read_head(&mut r);
    assert!(head.contains(&("content-type".into(), "text/event-stream".into())));
    assert!(head.contains(&("cache-control".into(), "no-cache".into())));
    let mut chunks = Vec::new();
    while let Some(c) = read_chunk(&mut r, t0).unwrap() {
        chunks.push(c);
    }
    let text: Vec<String> = chunks
        .iter()
        .map(|(d, _)| String::from_utf8(d.clone()).unwrap())
        .collect();
    assert_eq!(
        text,
        [
            "retry: 2500\n\n",
            "id: 1\ndata: one\n\n",
            ": keep-alive\n\n",
            "id: 2\nevent: update\ndata: two\ndata: lines\n\n"
        ]
    );
    assert_on_timeline(
        &chunks,
        &[Duration::ZERO, Duration::ZERO, Duration::ZERO, 120 * MS],
    );
}

#[test]
fn http_10_gets_the_stream_delimited_by_close_and_head_gets_no_body() {
    let server = http();
    server
        .add_route(Route::get("/s").respond(Response::stream(
            200,
            [Step::send("a"), Step::pause(20 * MS), Step::send("b")],
        )))
        .unwrap();
    let mut s = connect(server.local_addr());
    s.write_all(b"GET /s HTTP/1.0\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    assert!(all.contains("Connection: close\r\n"), "{all}");
    assert!(!all.contains("chunked"), "{all}");
    assert!(all.ends_with("\r\n\r\nab"), "{all}");

    let mut s = connect(server.local_addr());
    s.write_all(b"HEAD /s HTTP/1.1\r\nHost: t\r\n\r\nGET /s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let head = read_response(&mut r, true).unwrap();
    assert_eq!(head.status, 200);
    // The next response starts right after the HEAD's head: no body was sent.
    let next = read_head(&mut r);
    assert!(next.contains(&("transfer-encoding".into(), "chunked".into())));
}

#[test]
fn many_slow_streams_at_once_cost_no_thread_each() {
    let server = common::start(Protocol::Http, |c| c.workers(1));
    let steps: Vec<Step> = (0..5)
        .flat_map(|i| [Step::send(format!("{i}")), Step::pause(40 * MS)])
        .collect();
    server
        .add_route(Route::get("/slow").respond(Response::stream(200, steps)))
        .unwrap();
    let t0 = Instant::now();
    let conns: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = connect(server.local_addr());
            s.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    for s in conns {
        let mut r = BufReader::new(s);
        read_head(&mut r);
        let mut body = Vec::new();
        while let Some((d, _)) = read_chunk(&mut r, t0).unwrap() {
            body.extend(d);
        }
        assert_eq!(body, b"01234");
    }
    // One worker thread, 300 streams of 200 ms each: concurrent, not one after another.
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(server.stats().responses, 300);
}
