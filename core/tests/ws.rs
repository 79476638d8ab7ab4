//! The WebSocket service over real sockets: a real client (tungstenite) for echo,
//! rooms across workers and host publishes; raw bytes for what a well-behaved
//! client never sends (the conformance suite in tests/python/ covers the RFC case
//! by case).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::frame_client::{Client as FrameClient, Got};
use common::ws_client::{client, next, Ws};
use common::*;
use pierhead::{Config, Protocol, Server};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

fn ws_server(tweak: impl FnOnce(Config) -> Config) -> Server {
    start(Protocol::Ws, tweak)
}

#[test]
fn echo_keeps_type_and_content() {
    let server = ws_server(|c| c.workers(1));
    let mut ws = client(server.local_addr(), "/");
    for size in [0usize, 1, 125, 126, 65535, 65536, 1 << 20] {
        let text: String = "é".repeat(size / 2);
        ws.send(Message::text(text.clone())).unwrap();
        assert_eq!(next(&mut ws), Message::text(text));
        let bin: Vec<u8> = (0..size).map(|i| i as u8).collect();
        ws.send(Message::binary(bin.clone())).unwrap();
        assert_eq!(next(&mut ws), Message::binary(bin));
    }
    ws.close(None).unwrap();
    let s = server.stats();
    assert_eq!(s.protocol_errors, 0);
}

#[test]
fn room_members_hear_each_other_across_workers_but_not_themselves() {
    let server = ws_server(|c| c.workers(2));
    let addr = server.local_addr();
    let mut members: Vec<Ws> = (0..4).map(|_| client(addr, "/lobby")).collect();
    let mut other = client(addr, "/elsewhere");
    assert!(wait_until(Duration::from_secs(5), || server
        .rooms()
        .iter()
        .any(|(r, n)| r == "lobby" && *n == 4)));
    members[0].send(Message::text("hi all")).unwrap();
    members[1].send(Message::binary(vec![1, 2, 3])).unwrap();
    for (i, m) in members.iter_mut().enumerate() {
        let mut got = Vec::new();
        let expect = if i < 2 { 1 } else { 2 };
        while got.len() < expect {
            got.push(next(m));
        }
        if i != 0 {
            assert!(
                got.contains(&Message::text("hi all")),
                "member {i}: {got:?}"
            );
        }
        if i != 1 {
            assert!(
                got.contains(&Message::binary(vec![1, 2, 3])),
                "member {i}: {got:?}"
            );
        }
    }
    // The other room heard nothing: its next message is the one sent to it.
    let report = server.publish("elsewhere", b"only here").unwrap();
    assert_eq!(report.delivered, 1);
    assert_eq!(next(&mut other), Message::binary(b"only here".to_vec()));
}

#[test]
fn a_host_publish_reaches_websocket_members() {
    let server = ws_server(|c| c.workers(2));
    let mut a = client(server.local_addr(), "/news");
    let mut b = client(server.local_addr(), "/news");
    assert!(wait_until(Duration::from_secs(5), || server.rooms().len() == 1));
    let report = server.publish("news", b"extra").unwrap();
    assert_eq!(report.delivered, 2);
    assert_eq!(next(&mut a), Message::binary(b"extra".to_vec()));
    assert_eq!(next(&mut b), Message::binary(b"extra".to_vec()));
}

/// Sends raw bytes after a valid handshake; returns the stream.
fn raw(addr: SocketAddr) -> TcpStream {
    let mut s = connect(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "));
    s
}

/// What the server answers (until it closes): the close frame's code.
fn close_code(s: &mut TcpStream) -> u16 {
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    assert!(all.len() >= 4, "{all:?}");
    assert_eq!(all[0], 0x88, "a close frame: {all:?}");
    u16::from_be_bytes([all[2], all[3]])
}

#[test]
fn protocol_violations_close_with_their_code_and_are_counted() {
    let server = ws_server(|c| c.workers(1).max_message_bytes(1000));
    let addr = server.local_addr();
    let cases: [(&[u8], u16); 6] = [
        // Not masked.
        (&[0x81, 0x02, b'h', b'i'], 1002),
        // RSV2 set.
        (&[0xA1, 0x80, 0, 0, 0, 0], 1002),
        // Reserved opcode 3.
        (&[0x83, 0x80, 0, 0, 0, 0], 1002),
        // A continuation with no message.
        (&[0x80, 0x80, 0, 0, 0, 0], 1002),
        // Invalid UTF-8 in a text message (mask 0: the payload as is).
        (&[0x81, 0x82, 0, 0, 0, 0, 0xC0, 0xAF], 1007),
        // Longer than max_message_bytes: refused from its header.
        (&[0x82, 0xFE, 0x03, 0xE9, 0, 0, 0, 0], 1009),
    ];
    for (i, (bytes, code)) in cases.iter().enumerate() {
        let mut s = raw(addr);
        s.write_all(bytes).unwrap();
        assert_eq!(close_code(&mut s), *code, "case {i}");
    }
    assert!(wait_until(Duration::from_secs(5), || server
        .stats()
        .protocol_errors
        == cases.len() as u64));
}

#[test]
fn the_clients_close_is_echoed() {
    let server = ws_server(|c| c.workers(1));
    let mut ws = client(server.local_addr(), "/");
    ws.close(Some(tungstenite::protocol::CloseFrame {
        code: CloseCode::Away,
        reason: "bye".into(),
    }))
    .unwrap();
    match next(&mut ws) {
        Message::Close(Some(f)) => assert_eq!(f.code, CloseCode::Away),
        m => panic!("{m:?}"),
    }
}

#[test]
fn a_request_that_is_not_a_handshake_gets_426() {
    let server = ws_server(|c| c.workers(1));
    let r = answer_then_close(server.local_addr(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 426);
    assert_eq!(r.header("Sec-WebSocket-Version"), Some("13"));
}

#[test]
fn a_stop_says_going_away() {
    let server = ws_server(|c| c.workers(1));
    let mut ws = client(server.local_addr(), "/room");
    assert!(wait_until(Duration::from_secs(5), || server.rooms().len() == 1));
    let report = server.stop(Duration::from_secs(5));
    assert!(report.complete);
    match next(&mut ws) {
        Message::Close(Some(f)) => assert_eq!(f.code, CloseCode::Away),
        m => panic!("{m:?}"),
    }
}

/// Reads one server frame (unmasked, short): (first byte, payload).
fn read_frame(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).ok()?;
    let mut payload = vec![0u8; usize::from(h[1] & 0x7f)];
    s.read_exact(&mut payload).ok()?;
    Some((h[0], payload))
}

#[test]
fn an_idle_connection_is_pinged_then_closed_if_it_never_answers() {
    let server = ws_server(|c| c.workers(1).idle_timeout(Duration::from_millis(300)));
    let mut answers = raw(server.local_addr());
    let mut silent = raw(server.local_addr());
    answers
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // Three idle periods: each brings a ping, each answered with a pong.
    for _ in 0..3 {
        let (b0, payload) = read_frame(&mut answers).expect("a ping");
        assert_eq!(b0, 0x89);
        let mut pong = Vec::new();
        pierhead::websocket::encode_masked(true, 0xA, &payload, [1, 2, 3, 4], &mut pong);
        answers.write_all(&pong).unwrap();
    }
    // The silent one got its ping, then was closed.
    let (b0, _) = read_frame(&mut silent).expect("a ping");
    assert_eq!(b0, 0x89);
    assert!(closed_by_peer(&mut silent));
    assert!(server.stats().timeouts >= 1);
    // The answering one is still open: it echoes.
    let mut msg = Vec::new();
    pierhead::websocket::encode_masked(true, 0x1, b"still here", [5, 6, 7, 8], &mut msg);
    answers.write_all(&msg).unwrap();
    loop {
        let (b0, payload) = read_frame(&mut answers).expect("the echo");
        if b0 == 0x81 {
            assert_eq!(payload, b"still here");
            break;
        }
    }
}

#[test]
fn frame_and_websocket_members_of_one_room_hear_each_other() {
    let server = ws_server(|c| c.workers(2));
    let addr = server.local_addr();
    let mut f = FrameClient::connect(addr);
    f.join("mixed");
    let mut w = client(addr, "/mixed");
    let mut echo = FrameClient::connect(addr);
    assert!(wait_until(Duration::from_secs(5), || server
        .rooms()
        .iter()
        .any(|(r, n)| r == "mixed" && *n == 2)));
    // A text message reaches a frame member as a data frame.
    w.send(Message::text("from ws")).unwrap();
    assert_eq!(f.recv(), Some(Got::Data(b"from ws".to_vec())));
    // A data frame reaches a WebSocket member as a binary message.
    f.send(b"from frame");
    assert_eq!(next(&mut w), Message::binary(b"from frame".to_vec()));
    // A frame client in no room is echoed, as on a frame server; PING is answered.
    echo.send(b"alone");
    assert_eq!(echo.recv(), Some(Got::Data(b"alone".to_vec())));
    echo.control(pierhead::frame::op::PING, b"p");
    assert_eq!(echo.recv(), Some(Got::Pong(b"p".to_vec())));
    assert_eq!(server.stats().protocol_errors, 0);
}

#[test]
fn a_text_message_stays_text_across_servers() {
    let redis = common::redis::Redis::start();
    let url = redis.url();
    let east = ws_server(|c| c.workers(1).backplane(url.as_str()));
    let west = ws_server(|c| c.workers(1).backplane(url.as_str()));
    let mut a = client(east.local_addr(), "/across");
    let mut b = client(west.local_addr(), "/across");
    // Both servers subscribed to the room (each member's join waits for it).
    assert!(wait_until(Duration::from_secs(10), || [&east, &west]
        .iter()
        .all(|s| s
            .stats()
            .backplane
            .is_some_and(|b| b.subscriptions == 1))));
    a.send(Message::text("héllo from east")).unwrap();
    assert_eq!(next(&mut b), Message::text("héllo from east"));
    b.send(Message::binary(vec![0, 1, 2])).unwrap();
    assert_eq!(next(&mut a), Message::binary(vec![0, 1, 2]));
}
