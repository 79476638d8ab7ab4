//! WebSocket routes of the HTTP mock over real sockets: a real client
//! (tungstenite) for echo, scripts, handlers, rooms and the message log; raw
//! frames where a fault is what is tested (frames cut small, no close frame, a
//! reset, an invalid frame).

mod common;
#[path = "common/ws_client.rs"]
mod ws_client;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use pierhead::websocket::{self as wsf, opcode};
use pierhead::{
    Config, Protocol, Route, Server, WebSocket, WsFault, WsMatch, WsMessage, WsPeer, WsReply,
};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;
use ws_client::{client, next, Ws};

fn server(routes: Vec<Route>) -> Server {
    start(Protocol::Http, |c: Config| {
        let mut c = c.workers(2).request_log(100);
        for r in routes {
            c = c.route(r);
        }
        c
    })
}

/// A raw client: the handshake done, frames read and written by hand.
fn raw(addr: SocketAddr, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// Reads one whole server frame: (fin, opcode, payload).
fn read_frame(s: &mut TcpStream) -> (bool, u8, Vec<u8>) {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    loop {
        if let Some(h) = wsf::decode_header(&buf, u64::MAX >> 1, false).unwrap() {
            let mut payload = vec![0u8; h.len as usize];
            s.read_exact(&mut payload).unwrap();
            return (h.fin, h.opcode, payload);
        }
        s.read_exact(&mut b).unwrap();
        buf.push(b[0]);
    }
}

fn send_text(s: &mut TcpStream, text: &str) {
    let mut f = Vec::new();
    wsf::encode_masked(true, opcode::TEXT, text.as_bytes(), [1, 2, 3, 4], &mut f);
    s.write_all(&f).unwrap();
}

#[test]
fn echo_route_echoes_and_logs_in_order() {
    let server = server(vec![Route::get("/echo").websocket(WebSocket::echo())]);
    let mut ws = client(server.local_addr(), "/echo?u=1");
    for i in 0..5 {
        ws.send(Message::text(format!("m{i}"))).unwrap();
        assert_eq!(next(&mut ws), Message::text(format!("m{i}")));
    }
    ws.send(Message::binary(vec![0, 1, 2])).unwrap();
    assert_eq!(next(&mut ws), Message::binary(vec![0, 1, 2]));
    ws.close(Some(tungstenite::protocol::CloseFrame {
        code: CloseCode::Library(4001),
        reason: "done".into(),
    }))
    .unwrap();
    assert!(matches!(next(&mut ws), Message::Close(Some(f)) if u16::from(f.code) == 4001));
    assert!(wait_until(Duration::from_secs(5), || server
        .ws_connections()
        .first()
        .is_some_and(|c| c.closed)));
    let c = &server.ws_connections()[0];
    let mut expect: Vec<WsMessage> = (0..5).map(|i| WsMessage::text(format!("m{i}"))).collect();
    expect.push(WsMessage::binary(vec![0, 1, 2]));
    assert_eq!(c.messages, expect);
    assert_eq!(c.target, "/echo?u=1");
    assert_eq!(
        (c.close_code, c.close_reason.as_str()),
        (Some(4001), "done")
    );
    // It only answered the client's close.
    assert_eq!(c.server_close_code, None);
    // The upgrade is in the request log, answered by the route.
    let r = &server.requests()[0];
    assert_eq!((r.method.as_str(), r.target.as_str()), ("GET", "/echo?u=1"));
    assert_eq!(r.connection_id, c.connection_id);
    assert_eq!(r.route, Some(c.route));
}

#[test]
fn a_plain_request_to_a_websocket_route_gets_426_and_other_routes_still_answer() {
    let server = server(vec![
        Route::get("/ws").websocket(WebSocket::echo()),
        Route::get("/plain").respond(pierhead::Response::text(200, "ok\n")),
    ]);
    let r = http_once(
        server.local_addr(),
        b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 426);
    assert_eq!(r.header("sec-websocket-version"), Some("13"));
    let r = http_once(
        server.local_addr(),
        b"GET /plain HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((r.status, r.body.as_slice()), (200, b"ok\n".as_slice()));
}

#[test]
fn a_script_sends_on_open_replies_by_text_regex_and_json_then_closes() {
    let script = WebSocket::script()
        .send_on_open(WsMessage::text("welcome"))
        .send_on_open(WsMessage::binary(vec![9]))
        .reply(WsMatch::text("ping"), WsMessage::text("pong"))
        .reply(
            WsMatch::regex("^order-[0-9]+$").unwrap(),
            WsMessage::text("queued"),
        )
        .reply(
            WsMatch::json(r#"{"op":"sum","n":[1,2]}"#).unwrap(),
            WsMessage::text("3"),
        )
        .fault_after(
            4,
            WsFault::Close {
                code: 4000,
                reason: "enough".into(),
            },
        );
    let server = server(vec![Route::get("/chat").websocket(script)]);
    let mut ws = client(server.local_addr(), "/chat");
    assert_eq!(next(&mut ws), Message::text("welcome"));
    assert_eq!(next(&mut ws), Message::binary(vec![9]));
    ws.send(Message::text("ping")).unwrap();
    assert_eq!(next(&mut ws), Message::text("pong"));
    ws.send(Message::text("order-42")).unwrap();
    assert_eq!(next(&mut ws), Message::text("queued"));
    // The same JSON value, keys in another order and spaced.
    ws.send(Message::text(r#"{ "n": [1, 2], "op": "sum" }"#))
        .unwrap();
    assert_eq!(next(&mut ws), Message::text("3"));
    // Not in the script: no answer, but it counts; the fourth brings the close.
    ws.send(Message::text("order-x")).unwrap();
    match next(&mut ws) {
        Message::Close(Some(f)) => {
            assert_eq!((u16::from(f.code), f.reason.as_str()), (4000, "enough"));
        }
        m => panic!("expected the close, got {m:?}"),
    }
    // tungstenite answered the close; the server closes the TCP connection.
    loop {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let c = &server.ws_connections()[0];
    assert_eq!(c.messages.len(), 4);
    // The client answered the endpoint's close with the same code.
    assert_eq!(c.close_code, Some(4000));
    assert_eq!(
        (c.server_close_code, c.server_close_reason.as_str()),
        (Some(4000), "enough")
    );
}

#[test]
fn a_handler_answers_each_message_in_order_and_may_close() {
    let handler = |peer: &WsPeer, m: &WsMessage| -> WsReply {
        match m {
            WsMessage::Text(t) if t == "bye" => WsReply {
                messages: vec![WsMessage::text("ciao")],
                close: Some((1000, "bye".into())),
            },
            WsMessage::Text(t) => WsReply {
                messages: vec![
                    WsMessage::text(format!("{}#{}", t, peer.nth)),
                    WsMessage::text(peer.target.clone()),
                ],
                close: None,
            },
            WsMessage::Binary(_) => WsReply::none(),
        }
    };
    let server = server(vec![Route::get("/h").websocket(WebSocket::handler(handler))]);
    let mut ws = client(server.local_addr(), "/h");
    // Sent at once: answered one at a time, in order.
    for t in ["a", "b", "c"] {
        ws.send(Message::text(t)).unwrap();
    }
    for (i, t) in ["a", "b", "c"].iter().enumerate() {
        assert_eq!(next(&mut ws), Message::text(format!("{t}#{}", i + 1)));
        assert_eq!(next(&mut ws), Message::text("/h"));
    }
    ws.send(Message::text("bye")).unwrap();
    assert_eq!(next(&mut ws), Message::text("ciao"));
    assert!(matches!(next(&mut ws), Message::Close(Some(f)) if u16::from(f.code) == 1000));
}

#[test]
fn a_handler_that_panics_or_gives_a_bad_close_code_closes_with_1011_and_counts() {
    let server = server(vec![Route::get("/h").websocket(WebSocket::handler(
        |_: &WsPeer, m: &WsMessage| -> WsReply {
            if m.as_bytes() == b"bad code" {
                return WsReply {
                    messages: vec![],
                    close: Some((1005, String::new())),
                };
            }
            panic!("on purpose")
        },
    ))]);
    for (n, message) in [(1, "x"), (2, "bad code")] {
        let mut ws = client(server.local_addr(), "/h");
        ws.send(Message::text(message)).unwrap();
        assert!(matches!(next(&mut ws), Message::Close(Some(f)) if u16::from(f.code) == 1011));
        assert_eq!(server.stats().handler_errors, n);
    }
    let log = server.ws_connections();
    assert_eq!(log.len(), 2);
    for c in log {
        assert_eq!(c.server_close_code, Some(1011), "{c:?}");
    }
}

#[test]
fn fragment_cuts_every_message_into_frames_of_n_bytes() {
    let server = server(vec![
        Route::get("/f").websocket(WebSocket::echo().fragment(3))
    ]);
    let mut s = raw(server.local_addr(), "/f");
    send_text(&mut s, "abcdefgh");
    let frames: Vec<(bool, u8, Vec<u8>)> = (0..3).map(|_| read_frame(&mut s)).collect();
    assert_eq!(
        frames,
        vec![
            (false, opcode::TEXT, b"abc".to_vec()),
            (false, opcode::CONTINUATION, b"def".to_vec()),
            (true, opcode::CONTINUATION, b"gh".to_vec()),
        ]
    );
    // A real client puts them together again.
    let mut ws = client(server.local_addr(), "/f");
    ws.send(Message::text("é".repeat(50))).unwrap();
    assert_eq!(next(&mut ws), Message::text("é".repeat(50)));
}

#[test]
fn delay_and_drip_hold_each_message() {
    let server = server(vec![
        Route::get("/d").websocket(WebSocket::echo().delay(Duration::from_millis(150))),
        Route::get("/drip").websocket(WebSocket::echo().drip(2, Duration::from_millis(40))),
    ]);
    let mut ws = client(server.local_addr(), "/d");
    let t = Instant::now();
    ws.send(Message::text("1")).unwrap();
    ws.send(Message::text("2")).unwrap();
    assert_eq!(next(&mut ws), Message::text("1"));
    assert_eq!(next(&mut ws), Message::text("2"));
    assert!(t.elapsed() >= Duration::from_millis(150));
    // A 12-byte frame (2-byte header) in 2-byte pieces: 5 waits of 40 ms.
    let mut s = raw(server.local_addr(), "/drip");
    let t = Instant::now();
    send_text(&mut s, "0123456789");
    let mut first = [0u8; 2];
    s.read_exact(&mut first).unwrap();
    assert_eq!(first, [0x81, 10]);
    let mut rest = [0u8; 10];
    s.read_exact(&mut rest).unwrap();
    assert_eq!(&rest, b"0123456789");
    assert!(t.elapsed() >= Duration::from_millis(200));
}

#[test]
fn abort_closes_without_a_close_frame_and_reset_resets() {
    let server = server(vec![
        Route::get("/abort").websocket(WebSocket::echo().fault_after(1, WsFault::Abort)),
        Route::get("/reset").websocket(WebSocket::echo().fault_after(0, WsFault::Reset)),
    ]);
    let mut s = raw(server.local_addr(), "/abort");
    send_text(&mut s, "hi");
    assert_eq!(read_frame(&mut s), (true, opcode::TEXT, b"hi".to_vec()));
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "no close frame: {rest:?}");
    // Reset right after the 101.
    let mut s = raw(server.local_addr(), "/reset");
    let mut b = [0u8; 16];
    let e = s.read(&mut b).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset);
}

#[test]
fn invalid_frames_and_text_are_sent_on_purpose() {
    let server = server(vec![
        Route::get("/bad").websocket(WebSocket::script().fault_after(0, WsFault::InvalidFrame)),
        Route::get("/utf8").websocket(WebSocket::script().fault_after(0, WsFault::InvalidUtf8)),
    ]);
    let mut s = raw(server.local_addr(), "/bad");
    let mut b = [0u8; 2];
    s.read_exact(&mut b).unwrap();
    assert_eq!(b, [0x83, 0x00]);
    // A real client fails the connection: 1002 for the reserved opcode.
    let mut ws = client(server.local_addr(), "/bad");
    assert!(ws.read().is_err());
    let mut s = raw(server.local_addr(), "/utf8");
    let (_, op, payload) = read_frame(&mut s);
    assert_eq!(op, opcode::TEXT);
    assert!(std::str::from_utf8(&payload).is_err());
}

#[test]
fn no_pong_ignores_pings_but_answers_messages() {
    let server = server(vec![Route::get("/p").websocket(WebSocket::echo().no_pong())]);
    let mut s = raw(server.local_addr(), "/p");
    let mut f = Vec::new();
    wsf::encode_masked(true, opcode::PING, b"are you there", [9, 9, 9, 9], &mut f);
    s.write_all(&f).unwrap();
    send_text(&mut s, "still echoing");
    // The first frame back is the echo: the ping got no pong before it.
    assert_eq!(
        read_frame(&mut s),
        (true, opcode::TEXT, b"still echoing".to_vec())
    );
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(s.read(&mut b).is_err(), "nothing more: no pong");
}

#[test]
fn refuse_answers_the_status_and_subprotocols_are_agreed() {
    let server = server(vec![
        Route::get("/down").websocket(WebSocket::echo().refuse(503)),
        Route::get("/proto").websocket(WebSocket::echo().subprotocol("v2").subprotocol("v1")),
    ]);
    let addr = server.local_addr();
    let r = http_once(addr, b"GET /down HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assert_eq!(r.status, 503);
    assert_eq!(server.stats().protocol_errors, 0);
    // The first the client lists that the endpoint offers.
    let req =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/proto"))
            .map(|mut r| {
                r.headers_mut()
                    .insert("Sec-WebSocket-Protocol", "v3, v1, v2".parse().unwrap());
                r
            })
            .unwrap();
    let (mut ws, resp) = tungstenite::client(req, TcpStream::connect(addr).unwrap()).unwrap();
    assert_eq!(resp.headers().get("sec-websocket-protocol").unwrap(), "v1");
    ws.send(Message::text("x")).unwrap();
    assert_eq!(next(&mut ws), Message::text("x"));
    assert!(wait_until(Duration::from_secs(5), || !server
        .ws_connections()
        .is_empty()));
    assert_eq!(
        server.ws_connections()[0].subprotocol.as_deref(),
        Some("v1")
    );
}

#[test]
fn room_routes_share_their_room_and_publish_reaches_them() {
    let server = server(vec![Route::get("/room").websocket(WebSocket::room("lobby"))]);
    let addr = server.local_addr();
    let mut members: Vec<Ws> = (0..3).map(|_| client(addr, "/room")).collect();
    assert!(wait_until(Duration::from_secs(5), || server
        .rooms()
        .iter()
        .any(|(r, n)| r == "lobby" && *n == 3)));
    members[0].send(Message::text("hello room")).unwrap();
    for m in &mut members[1..] {
        assert_eq!(next(m), Message::text("hello room"));
    }
    let report = server.publish("lobby", b"from the host").unwrap();
    assert_eq!(report.delivered, 3);
    for m in &mut members {
        assert_eq!(next(m), Message::binary(b"from the host".to_vec()));
    }
    drop(members);
    assert!(wait_until(Duration::from_secs(5), || server
        .rooms()
        .is_empty()));
}

#[test]
fn bad_endpoints_are_refused_naming_the_field() {
    let field = |w: WebSocket| Route::get("/x").websocket(w).validate().unwrap_err().field;
    assert_eq!(field(WebSocket::echo().refuse(101)), "websocket.refuse");
    assert_eq!(
        field(WebSocket::echo().fault_after(
            0,
            WsFault::Close {
                code: 1005,
                reason: String::new()
            }
        )),
        "websocket.fault"
    );
    assert_eq!(
        field(WebSocket::echo().subprotocol("a b")),
        "websocket.subprotocol"
    );
    assert_eq!(WsMatch::regex("(").unwrap_err().field, "websocket.reply");
    assert_eq!(WsMatch::json("{nope").unwrap_err().field, "websocket.reply");
}

#[test]
fn a_stop_tells_open_endpoints_1001() {
    let server = server(vec![Route::get("/e").websocket(WebSocket::echo())]);
    let mut ws = client(server.local_addr(), "/e");
    ws.send(Message::text("x")).unwrap();
    assert_eq!(next(&mut ws), Message::text("x"));
    let report = server.stop(Duration::from_secs(5));
    assert!(report.complete);
    assert!(matches!(next(&mut ws), Message::Close(Some(f)) if u16::from(f.code) == 1001));
}

#[test]
fn a_websocket_route_after_a_deferred_condition_upgrades_from_the_handler_thread() {
    let server = server(vec![
        Route::get("/ws")
            .when_deferred(|r: &pierhead::Request| r.query() == Some("plain"))
            .respond(pierhead::Response::text(200, "plain\n")),
        Route::get("/ws").websocket(WebSocket::echo().send_on_open(WsMessage::text("hi"))),
    ]);
    let mut ws = client(server.local_addr(), "/ws");
    assert_eq!(next(&mut ws), Message::text("hi"));
    ws.send(Message::text("x")).unwrap();
    assert_eq!(next(&mut ws), Message::text("x"));
    let r = http_once(
        server.local_addr(),
        b"GET /ws?plain HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.body, b"plain\n");
}
