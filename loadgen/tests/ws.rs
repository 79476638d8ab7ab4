//! The load generator's WebSocket mode against pierhead's WebSocket service
//! (echo at `/`, rooms at `/<room>`, closed and open loop), and against a small
//! WebSocket server of the test's own that misbehaves on purpose: corrupts the
//! echo, refuses the handshake, pings, closes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use pierhead::websocket::{self as wire, opcode};
use pierhead::{Config, Protocol, Server};
use pierhead_loadgen::{run, BenchConfig, BenchError, BenchProtocol, Unmeasured};

fn ws_server() -> Server {
    Server::start(Config::new().protocol(Protocol::Ws).workers(2)).expect("server starts")
}

#[test]
fn echo_closed_loop_checks_every_message() {
    let s = ws_server();
    let r = run(&BenchConfig::new(format!("ws://{}/", s.local_addr()))
        .connections(4)
        .pipeline(4)
        .body_size(1000)
        .requests(2000))
    .unwrap();
    assert_eq!(r.protocol, BenchProtocol::Ws);
    assert_eq!((r.requests, r.errors.total()), (2000, 0), "{}", r.summary());
    assert!(r.fanout.is_none());
    // Each echo: the payload under a 4-byte header; the 101 answers besides.
    assert!(r.bytes_received > 2000 * 1004, "{}", r.bytes_received);
    let text = run(&BenchConfig::new(format!("ws://{}/", s.local_addr()))
        .connections(2)
        .ws_text(true)
        .body_size(100)
        .requests(300))
    .unwrap();
    assert_eq!((text.requests, text.errors.total()), (300, 0));
}

#[test]
fn echo_open_loop_holds_the_rate() {
    let s = ws_server();
    let r = run(&BenchConfig::new(format!("ws://{}/", s.local_addr()))
        .connections(8)
        .rate(1000.0)
        .duration(Duration::from_secs(1)))
    .unwrap();
    assert_eq!(r.errors.total(), 0, "{}", r.summary());
    // Never more than the schedule; less only by what a busy machine stalls.
    assert!((800..=1010).contains(&r.requests), "{}", r.summary());
    assert!(r.send_lag.is_some() && r.uncorrected.is_some());
}

#[test]
fn rooms_deliver_every_message_to_every_member() {
    let s = ws_server();
    let target = format!("ws://{}/lobby", s.local_addr());
    let r = run(&BenchConfig::new(target.as_str())
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
    let open = run(&BenchConfig::new(target.as_str())
        .connections(5)
        .publishers(1)
        .rate(500.0)
        .duration(Duration::from_secs(1)))
    .unwrap();
    assert_eq!(open.errors.total(), 0, "{}", open.summary());
    assert!(
        (4 * 350..=4 * 505).contains(&open.requests),
        "{}",
        open.summary()
    );
}

/// How the test's own server misbehaves.
#[derive(Clone, Copy)]
enum Misbehave {
    /// Echoes every message with its last byte changed.
    Corrupt,
    /// Answers the handshake 403.
    Refuse,
    /// Pings first and holds the echoes until the pong.
    PingFirst,
    /// Echoes one message, then closes with 1011.
    CloseAfterOne,
    /// Echoes every message as binary, whatever it was.
    AsBinary,
}

/// A WebSocket echo server of the test's own, one thread per connection.
fn misbehaving(how: Misbehave) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            thread::spawn(move || {
                let _ = serve(s, how);
            });
        }
    });
    addr
}

fn serve(mut s: TcpStream, how: Misbehave) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    if let Misbehave::Refuse = how {
        return s.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
    }
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let key = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-key"))
        })
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        wire::accept_key(key.as_bytes())
    )
    .into_bytes();
    let mut ponged = !matches!(how, Misbehave::PingFirst);
    if !ponged {
        wire::encode(true, false, opcode::PING, b"are you there", &mut out);
    }
    s.write_all(&out)?;
    buf.drain(..end);
    let mut echoed = 0;
    // Echoes held until the pong.
    let mut held = Vec::new();
    loop {
        while let Ok(Some(h)) = wire::decode_header(&buf, 1 << 24, true) {
            let total = h.header_len + h.len as usize;
            if buf.len() < total {
                break;
            }
            let mut payload = Vec::new();
            let key = h.mask.unwrap_or_default();
            wire::unmask_into(&mut payload, &buf[h.header_len..total], key, 0);
            buf.drain(..total);
            let mut out = Vec::new();
            match h.opcode {
                opcode::PONG => {
                    ponged = payload == b"are you there";
                    if ponged {
                        out = std::mem::take(&mut held);
                    }
                }
                opcode::PING | opcode::CLOSE => {}
                op if !ponged => wire::encode(true, false, op, &payload, &mut held),
                op => {
                    if let (Misbehave::Corrupt, Some(last)) = (how, payload.last_mut()) {
                        *last ^= 1;
                    }
                    let op = match how {
                        Misbehave::AsBinary => opcode::BINARY,
                        _ => op,
                    };
                    wire::encode(true, false, op, &payload, &mut out);
                    echoed += 1;
                    if let (Misbehave::CloseAfterOne, 1) = (how, echoed) {
                        let mut close = Vec::new();
                        wire::encode_close(1011, "going", &mut close);
                        wire::encode(true, false, opcode::CLOSE, &close, &mut out);
                    }
                }
            }
            s.write_all(&out)?;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn against(how: Misbehave) -> Result<pierhead_loadgen::BenchResult, BenchError> {
    run(&BenchConfig::new(format!("ws://{}/", misbehaving(how)))
        .connections(2)
        .timeout(Duration::from_millis(500))
        .duration(Duration::from_millis(600)))
}

#[test]
fn a_wrong_echo_is_an_error_never_a_success() {
    let Err(BenchError::NothingMeasured(n)) = against(Misbehave::Corrupt) else {
        panic!("a corrupted echo measured something");
    };
    assert_eq!(n.why, Unmeasured::AllWrong, "{n}");
    assert!(n.result.errors.framing > 0 && n.result.requests == 0);
}

#[test]
fn ws_text_sends_text_and_a_binary_echo_of_it_is_wrong() {
    let addr = misbehaving(Misbehave::AsBinary);
    let config = |text: bool| {
        BenchConfig::new(format!("ws://{addr}/"))
            .connections(2)
            .ws_text(text)
            .timeout(Duration::from_millis(500))
            .duration(Duration::from_millis(600))
    };
    // Binary sent, binary back: right.
    let r = run(&config(false)).unwrap();
    assert_eq!(r.errors.total(), 0, "{}", r.summary());
    // Text sent (the server saw it as text) and binary back: every echo wrong.
    let Err(BenchError::NothingMeasured(n)) = run(&config(true)) else {
        panic!("a binary echo of a text message measured something");
    };
    assert!(n.result.errors.framing > 0 && n.result.requests == 0, "{n}");
}

#[test]
fn a_refused_handshake_is_a_status_error() {
    let Err(BenchError::NothingMeasured(n)) = against(Misbehave::Refuse) else {
        panic!("a refused handshake measured something");
    };
    assert_eq!(n.why, Unmeasured::AllWrong, "{n}");
    assert!(n.result.errors.status > 0, "{n}");
}

#[test]
fn pings_are_answered_and_a_close_is_an_error() {
    let r = against(Misbehave::PingFirst).unwrap();
    assert_eq!(r.errors.total(), 0, "{}", r.summary());
    assert!(r.requests > 10);
    let r = against(Misbehave::CloseAfterOne).unwrap();
    assert!(r.errors.read > 0, "{}", r.summary());
    // Open loop: sends due while a new connection's handshake is under way wait
    // for its 101.
    let r = run(
        &BenchConfig::new(format!("ws://{}/", misbehaving(Misbehave::CloseAfterOne)))
            .connections(2)
            .rate(400.0)
            .duration(Duration::from_millis(600)),
    )
    .unwrap();
    assert!(
        r.errors.read > 0 && r.errors.framing == 0,
        "{}",
        r.summary()
    );
}

#[test]
fn wss_and_urls_without_ws_are_refused_naming_the_target() {
    for (target, p) in [
        ("wss://127.0.0.1:1/", None),
        ("127.0.0.1:1", Some(BenchProtocol::Ws)),
    ] {
        let mut c = BenchConfig::new(target);
        if let Some(p) = p {
            c = c.protocol(p);
        }
        assert_eq!(c.validate().unwrap_err().field, "target", "{target}");
    }
}
