//! The load generator against real servers on loopback: pierhead (HTTP, echo,
//! frame), Python's `http.server`, and small servers of the test's own that
//! answer wrongly on purpose, close after each answer, or never answer.

mod support;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pierhead::{Config, Fault, Protocol, Response, Route, Server};
use pierhead_loadgen::{
    run, run_until, BenchConfig, BenchError, BenchProtocol, BenchResult, NothingMeasured,
    Unmeasured,
};
use support::{PythonHttp, Reply, Scripted};

fn pierhead(protocol: Protocol) -> Server {
    Server::start(Config::new().protocol(protocol).workers(1)).expect("server starts")
}

fn url(s: &Server) -> String {
    format!("http://{}/", s.local_addr())
}

/// A server of the test's own: every connection gets `answer(request bytes)` for
/// each read, until the client closes.
fn wrong_server(answer: fn(&[u8]) -> Vec<u8>) -> std::net::SocketAddr {
    Scripted::start(Reply::Each(answer)).addr
}

/// The run measured nothing: why, and what it counted.
fn nothing(r: Result<BenchResult, BenchError>) -> NothingMeasured {
    match r {
        Err(BenchError::NothingMeasured(n)) => *n,
        Err(e) => panic!("another error: {e}"),
        Ok(r) => panic!("measured something: {}", r.summary()),
    }
}

#[test]
fn closed_loop_counts_exactly_what_the_server_served() {
    let s = pierhead(Protocol::Http);
    let r = run(&BenchConfig::new(url(&s)).connections(8).requests(2000)).unwrap();
    assert_eq!(
        (r.requests, r.sent, r.errors.total()),
        (2000, 2000, 0),
        "{}",
        r.summary()
    );
    assert_eq!(r.latency.len(), 2000);
    assert!(r.latency.min() >= 1 && r.latency.max() < 2_000_000);
    assert_eq!(s.stats().requests, 2000, "the server saw exactly as many");
    // Pipelined, on two threads.
    let r = run(&BenchConfig::new(url(&s))
        .connections(8)
        .threads(2)
        .pipeline(16)
        .requests(4000))
    .unwrap();
    assert_eq!((r.requests, r.errors.total()), (4000, 0), "{}", r.summary());
    assert_eq!(s.stats().requests, 6000);
    let total: u64 = r.timeline.iter().map(|t| t.requests).sum();
    assert_eq!(total, 4000, "the timeline adds up");
}

#[test]
fn routes_methods_headers_and_bodies_are_sent_as_asked() {
    let s = Server::start(Config::new().workers(1).request_log(100)).unwrap();
    s.add_route(Route::post("/upload").respond(Response::text(201, "made")))
        .unwrap();
    let r = run(
        &BenchConfig::new(format!("http://{}/upload?x=1", s.local_addr()))
            .connections(2)
            .method("POST")
            .header("X-Test", "yes")
            .body(&b"payload"[..])
            .requests(10),
    )
    .unwrap();
    assert_eq!((r.requests, r.errors.total()), (10, 0), "{}", r.summary());
    let log = s.requests();
    assert_eq!(log.len(), 10);
    assert_eq!(
        (log[0].method.as_str(), log[0].target.as_str()),
        ("POST", "/upload?x=1")
    );
    assert_eq!(log[0].header("x-test"), Some(&b"yes"[..]));
    assert_eq!(log[0].body, b"payload");
}

#[test]
fn wrong_answers_are_errors_never_successes() {
    // Not HTTP at all.
    // (A run with no right answer measured nothing: the error says why and
    // holds what was counted.)
    let garbage = wrong_server(|_| b"garbage garbage\r\n\r\n".to_vec());
    let n = nothing(run(&BenchConfig::new(format!("http://{garbage}/"))
        .connections(2)
        .duration(Duration::from_millis(300))));
    assert_eq!(n.why, Unmeasured::AllWrong, "{n:?}");
    assert!(n.result.errors.framing > 0, "{n:?}");
    assert!(n.to_string().contains("every answer was wrong"), "{n}");
    // A keep-alive response without a length.
    let no_length = wrong_server(|_| b"HTTP/1.1 200 OK\r\n\r\nhello".to_vec());
    let n = nothing(run(&BenchConfig::new(format!("http://{no_length}/"))
        .connections(1)
        .duration(Duration::from_millis(300))));
    assert!(n.result.errors.framing > 0, "{n:?}");
    // Every status 500: answered, framed right, and still errors.
    let five = wrong_server(|_| b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n".to_vec());
    let n = nothing(run(&BenchConfig::new(format!("http://{five}/"))
        .connections(2)
        .requests(100)));
    let r = n.result;
    assert_eq!((r.requests, r.errors.status), (0, 100), "{}", r.summary());
    assert_eq!(
        r.latency.len(),
        0,
        "no latency is recorded for a wrong answer"
    );
    // More responses than requests: the first of each pair is right, the second
    // an error (and no latency is recorded for it).
    let twice = wrong_server(|_| b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".repeat(2));
    let r = run(&BenchConfig::new(format!("http://{twice}/"))
        .connections(1)
        .duration(Duration::from_millis(300)))
    .unwrap();
    assert!(r.errors.framing > 0, "{}", r.summary());
    assert_eq!(r.latency.len(), r.requests, "{}", r.summary());
    // An echo server that changes a byte.
    let flip = wrong_server(|b| {
        let mut v = b.to_vec();
        if let Some(x) = v.last_mut() {
            *x ^= 1;
        }
        v
    });
    let n = nothing(run(&BenchConfig::new(flip.to_string())
        .protocol(BenchProtocol::Echo)
        .connections(1)
        .duration(Duration::from_millis(300))));
    assert_eq!(n.why, Unmeasured::AllWrong, "{n:?}");
    assert!(n.result.errors.framing > 0);
}

#[test]
fn timeouts_and_refused_connections_are_counted() {
    let silent = Scripted::black_hole();
    let n = nothing(run(&BenchConfig::new(silent.url())
        .connections(2)
        .timeout(Duration::from_millis(100))
        .duration(Duration::from_millis(450))));
    assert!(n.result.errors.timeout >= 4, "{n:?}");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let n = nothing(run(&BenchConfig::new(format!("http://127.0.0.1:{port}/"))
        .connections(2)
        .duration(Duration::from_millis(200))));
    assert_eq!(n.why, Unmeasured::NoConnection, "{n:?}");
    assert!(n.result.errors.connect > 0, "{n:?}");
    assert!(n.to_string().contains("no connection to"), "{n}");
}

/// Issue 22: a server that never answers (accepts, reads, stays silent) measured
/// nothing, whatever the protocol, and the error says why; its timeouts are
/// counted, the frame protocol's unanswered JOINs too.
#[test]
fn a_black_hole_measures_nothing_and_says_why() {
    let hole = Scripted::black_hole();
    let config = |c: BenchConfig| {
        c.connections(2)
            .timeout(Duration::from_millis(200))
            .duration(Duration::from_secs(1))
    };
    let http = nothing(run(&config(BenchConfig::new(hole.url()))));
    let echo = nothing(run(&config(
        BenchConfig::new(hole.addr.to_string()).protocol(BenchProtocol::Echo),
    )));
    let frame = nothing(run(&config(
        BenchConfig::new(hole.addr.to_string()).protocol(BenchProtocol::Frame),
    )));
    for (n, why) in [
        (&http, Unmeasured::NoAnswer),
        (&echo, Unmeasured::NoAnswer),
        (&frame, Unmeasured::NeverJoined),
    ] {
        assert_eq!(n.why, why, "{n:?}");
        let r = &n.result;
        // 2 connections, each waiting 200 ms at a time for 1 s.
        assert!(r.errors.timeout >= 2, "{n:?}");
        assert_eq!(r.errors.total(), r.errors.timeout, "{n:?}");
        assert_eq!(r.requests, 0);
    }
    assert!(
        frame
            .to_string()
            .starts_with("measured nothing: no member ever got JOINED in room `bench`"),
        "{frame}"
    );
    assert!(
        http.to_string()
            .starts_with("measured nothing: not one answer"),
        "{http}"
    );
}

/// Issue 22: an answer the server closes the connection after (it said so, or
/// its body runs to the close) is a right answer: the connection is opened again
/// and the run goes on, never a read error. Against Python's `http.server`
/// (HTTP/1.0, a Content-Length with the head and the body written apart; and a
/// body that runs to the close) from one process to another.
#[test]
fn python_http_server_answers_are_right_answers() {
    for kind in ["simple", "close-delimited"] {
        let py = PythonHttp::start(kind);
        let r = run(&BenchConfig::new(py.url())
            .connections(4)
            .duration(Duration::from_secs(1))
            .timeout(Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("{kind}: {e:?}"));
        assert_eq!(r.errors.total(), 0, "{kind}: {}", r.summary());
        // Answered but for what is in flight at the end (one per connection).
        assert!(
            r.requests > 0 && r.sent - r.requests <= 4,
            "{kind}: {}",
            r.summary()
        );
        assert_eq!(r.latency.len(), r.requests);
    }
}

/// Issue 22: servers of the test's own that close after every answer, the three
/// ways (a body that runs to the close, `Connection: close` with a length, all
/// in one segment with the close), pipelined or not: every request answered
/// once, no error. What the server left unanswered when it closed is sent again
/// on the next connection (it said it would not answer it there).
#[test]
fn servers_that_close_after_each_answer_are_measured_without_errors() {
    const CLOSE_DELIMITED: &[&[u8]] = &[
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n",
        b"hello\n",
    ];
    const CONNECTION_CLOSE: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 6\r\n\r\n",
        b"hello\n",
    ];
    const IN_ONE_WRITE: &[&[u8]] = &[b"HTTP/1.0 200 OK\r\n\r\nhello\n"];
    for (name, pieces) in [
        ("close-delimited", CLOSE_DELIMITED),
        ("Connection: close", CONNECTION_CLOSE),
        ("in one write", IN_ONE_WRITE),
    ] {
        for pipeline in [1, 4] {
            let s = Scripted::start(Reply::OnceThenClose(pieces));
            let r = run(&BenchConfig::new(s.url())
                .connections(2)
                .pipeline(pipeline)
                .requests(40)
                .timeout(Duration::from_secs(1)))
            .unwrap_or_else(|e| panic!("{name}, pipeline {pipeline}: {e:?}"));
            let what = format!("{name}, pipeline {pipeline}: {}", r.summary());
            assert_eq!(
                (r.requests, r.sent, r.errors.total()),
                (40, 40, 0),
                "{what}"
            );
            assert_eq!(s.answered(), 40, "{what}");
            assert!(s.accepted() >= 40, "{what}");
        }
    }
    // HTTP/1.0 with keep-alive: the connections stay open.
    let s = Scripted::start(Reply::Each(|_| {
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok".to_vec()
    }));
    let r = run(&BenchConfig::new(s.url()).connections(2).requests(200)).unwrap();
    assert_eq!((r.requests, r.errors.total()), (200, 0), "{}", r.summary());
    assert_eq!(s.accepted(), 2, "kept alive");
}

/// Issue 22: a server that closes in the middle of a body (by length or chunked)
/// cut the answer: a read error (what came was right as far as it went), not a
/// wrong answer and never a right one.
#[test]
fn a_body_cut_by_the_close_is_a_read_error() {
    const BY_LENGTH: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"];
    const CHUNKED: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"];
    for pieces in [BY_LENGTH, CHUNKED] {
        let s = Scripted::start(Reply::OnceThenClose(pieces));
        let n = nothing(run(&BenchConfig::new(s.url()).connections(1).requests(5)));
        let e = &n.result.errors;
        assert_eq!((e.read, e.total()), (5, 5), "{n:?}");
        assert_eq!(n.why, Unmeasured::NoAnswer, "{n:?}");
    }
}

/// Issue 22: a run of N seconds has N entries in its timeline (what completes
/// after the end is not counted), and they add up to its totals; a tail shorter
/// than a second is folded into the last entry.
#[test]
fn a_run_of_n_seconds_has_n_seconds_of_timeline() {
    let s = pierhead(Protocol::Http);
    for (ms, entries) in [(1000, 1), (1000, 1), (1000, 1), (2000, 2), (1500, 1)] {
        let r = run(&BenchConfig::new(url(&s))
            .connections(16)
            .duration(Duration::from_millis(ms)))
        .unwrap();
        let what = format!("-d {ms}ms: {:?}", r.timeline);
        assert_eq!(r.timeline.len(), entries, "{what}");
        let answers: u64 = r.timeline.iter().map(|t| t.requests).sum();
        let errors: u64 = r.timeline.iter().map(|t| t.errors).sum();
        assert_eq!((answers, errors), (r.requests, r.errors.total()), "{what}");
        assert_eq!(r.latency.len(), r.requests, "{what}");
        assert!(r.timeline.iter().all(|t| t.requests > 0), "{what}");
    }
}

#[test]
fn echo_checks_every_byte() {
    let s = pierhead(Protocol::Echo);
    let r = run(&BenchConfig::new(s.local_addr().to_string())
        .protocol(BenchProtocol::Echo)
        .connections(4)
        .pipeline(4)
        .body_size(1000)
        .requests(2000))
    .unwrap();
    assert_eq!((r.requests, r.errors.total()), (2000, 0), "{}", r.summary());
    assert_eq!(r.bytes_received, 2000 * 1000);
    assert_eq!(s.stats().bytes_read, 2000 * 1000);
}

#[test]
fn frame_fan_out_delivers_every_frame_to_every_member() {
    let s = Server::start(Config::new().protocol(Protocol::Frame).workers(2)).unwrap();
    let r = run(&BenchConfig::new(s.local_addr().to_string())
        .protocol(BenchProtocol::Frame)
        .connections(10)
        .threads(2)
        .publishers(1)
        .requests(300))
    .unwrap();
    assert_eq!(r.sent, 300, "{}", r.summary());
    assert_eq!(
        (r.requests, r.errors.total()),
        (300 * 9, 0),
        "{}",
        r.summary()
    );
    let fanout = r.fanout.as_ref().expect("last-member latencies");
    assert_eq!(fanout.len(), 300);
    assert!(fanout.value_at_quantile(0.5) >= r.latency.value_at_quantile(0.5));
}

#[test]
fn open_loop_holds_the_rate_and_measures_from_the_schedule() {
    let s = pierhead(Protocol::Http);
    let r = run(&BenchConfig::new(url(&s))
        .connections(16)
        .rate(2000.0)
        .duration(Duration::from_secs(2)))
    .unwrap();
    let rate = r.requests_per_sec();
    // Never over the schedule; under it by what a stall near the end leaves in
    // flight (not counted, as in wrk), so the lower bound is looser.
    assert!(
        (1950.0..2020.0).contains(&rate),
        "{rate} req/s: {}",
        r.summary()
    );
    assert_eq!(r.errors.total(), 0);
    let lag = r.send_lag.as_ref().expect("send lag");
    assert!(lag.len() >= 3900);
    assert!(r.uncorrected.is_some());
}

#[test]
fn a_stall_shows_in_open_loop_and_hides_in_closed_loop() {
    // Every 100th answer waits 100 ms.
    let s = pierhead(Protocol::Http);
    s.add_route(
        Route::get("/")
            .respond(Response::text(200, "ok"))
            .fault(Fault::Delay(Duration::from_millis(100)))
            .fault_every(100),
    )
    .unwrap();
    let open = run(&BenchConfig::new(url(&s))
        .connections(8)
        .rate(1000.0)
        .duration(Duration::from_secs(2)))
    .unwrap();
    let p99 = open.latency.value_at_quantile(0.99);
    assert!(p99 >= 100_000, "open-loop p99 {p99} us: {}", open.summary());
    let uncorrected = open.uncorrected.as_ref().unwrap().value_at_quantile(0.99);
    assert!(uncorrected < p99, "{}", open.summary());
    let closed = run(&BenchConfig::new(url(&s))
        .connections(8)
        .duration(Duration::from_secs(2)))
    .unwrap();
    let p99_closed = closed.latency.value_at_quantile(0.99);
    assert!(
        p99_closed < 100_000,
        "closed-loop p99 {p99_closed} us: {}",
        closed.summary()
    );
}

#[test]
fn json_has_the_documented_schema_and_merges_exactly() {
    let s = pierhead(Protocol::Http);
    let a = run(&BenchConfig::new(url(&s)).connections(2).requests(500)).unwrap();
    let b = run(&BenchConfig::new(url(&s)).connections(3).requests(700)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
    for key in [
        "schema",
        "target",
        "protocol",
        "connections",
        "threads",
        "pipeline",
        "rate",
        "duration_s",
        "requests",
        "sent",
        "requests_per_s",
        "bytes_sent",
        "bytes_received",
        "errors",
        "errors_total",
        "latency",
        "uncorrected_latency",
        "send_lag",
        "fanout_latency",
        "timeline",
        "runs",
        "interrupted",
        "histograms",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["schema"], "pierhead-bench/1");
    for key in [
        "count", "min_us", "mean_us", "stdev_us", "p50_us", "p90_us", "p99_us", "p99_9_us",
        "max_us",
    ] {
        assert!(v["latency"].get(key).is_some(), "latency.{key}");
    }
    for key in ["connect", "read", "write", "timeout", "status", "framing"] {
        assert!(v["errors"].get(key).is_some(), "errors.{key}");
    }
    assert_eq!(
        v["histograms"]["latency"]["encoding"],
        "hdrhistogram-v2-deflate+base64"
    );
    let mut merged = BenchResult::from_json(&a.to_json()).unwrap();
    merged
        .merge(&BenchResult::from_json(&b.to_json()).unwrap())
        .unwrap();
    let mut both = a.latency.clone();
    both.add(&b.latency).unwrap();
    assert_eq!(
        merged.latency, both,
        "the merged histogram is the sum of both"
    );
    assert_eq!(
        (merged.requests, merged.runs, merged.connections),
        (1200, 2, 5)
    );
    assert_eq!(merged.latency.len(), 1200);
    assert_eq!(merged.latency.max(), a.latency.max().max(b.latency.max()));
}

#[test]
fn a_stop_ends_the_run_early_and_keeps_what_was_measured() {
    let s = pierhead(Protocol::Http);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        flag.store(true, Ordering::Relaxed);
    });
    let t = Instant::now();
    let r = run_until(
        &BenchConfig::new(url(&s))
            .connections(4)
            .duration(Duration::from_secs(30)),
        &stop,
    )
    .unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(r.interrupted && r.requests > 0, "{}", r.summary());
}

#[test]
fn bad_configs_name_the_field() {
    let e = run(&BenchConfig::new("localhost:1")).unwrap_err();
    assert!(e.to_string().contains("`target`"), "{e}");
    let e = run(&BenchConfig::new("http://127.0.0.1:1/").connections(0)).unwrap_err();
    assert!(e.to_string().contains("`connections`"), "{e}");
}
