//! Rooms in Rust (the README's example): a frame server, two members, a broadcast,
//! a host publish. `cargo run --example rooms -p pierhead`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use pierhead::frame::{self, op, FrameType};
use pierhead::{Config, Protocol, Server};

/// Reads one whole frame: (type, payload).
fn read_frame(s: &mut TcpStream) -> (FrameType, Vec<u8>) {
    let mut head = [0u8; frame::HEADER_LEN];
    s.read_exact(&mut head).unwrap();
    let h = frame::decode_header(&head, 1 << 20).unwrap().unwrap();
    let mut payload = vec![0u8; h.len];
    s.read_exact(&mut payload).unwrap();
    (h.kind, payload)
}

fn member(server: &Server, room: &str) -> TcpStream {
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    let mut join = Vec::new();
    frame::encode_control(op::JOIN, room.as_bytes(), &mut join);
    s.write_all(&join).unwrap();
    let (_, joined) = read_frame(&mut s); // JOINED: the membership is in force
    assert_eq!(joined[0], op::JOINED);
    s
}

fn main() {
    let server = Server::start(Config::new().protocol(Protocol::Frame).workers(2)).unwrap();
    let mut ann = member(&server, "lobby");
    let mut bob = member(&server, "lobby");
    println!("rooms: {:?}", server.rooms());

    let mut hi = Vec::new();
    frame::encode(FrameType::Data, b"hi bob", &mut hi);
    ann.write_all(&hi).unwrap();
    let (_, got) = read_frame(&mut bob);
    println!("bob got: {}", String::from_utf8_lossy(&got));

    let report = server.publish("lobby", b"server says hello").unwrap();
    println!("{report:?}");
    for s in [&mut ann, &mut bob] {
        let (_, got) = read_frame(s);
        println!("got: {}", String::from_utf8_lossy(&got));
    }
    let report = server.stop(Duration::from_secs(1));
    println!("stopped, complete: {}", report.complete);
}
