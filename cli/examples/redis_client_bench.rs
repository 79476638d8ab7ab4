//! Why the backplane speaks RESP on its own mio loop rather than through the
//! `redis` crate (sync, no tokio): the two measured against the same
//! `redis-server`, 64-byte frames (plus the 8-byte origin tag).
//!
//! - **Publishing**: the `redis` crate's pipelines of B `PUBLISH` commands, one
//!   blocking round trip per pipeline (`pipe().query()`), for B = 1, 16, 256;
//!   against pierhead's backplane end to end: a client sends frames into a room
//!   of a server with `backplane`, and the clock stops when the broker has
//!   confirmed the last one (`Stats::backplane.published`).
//! - **Subscribing**: the `redis` crate's `PubSub::subscribe` on an idle
//!   connection (a blocking round trip; a connection waiting in `get_message`
//!   cannot subscribe at all until its read returns); against pierhead's JOIN of
//!   a room new on the server, answered JOINED once Redis confirmed the
//!   SUBSCRIBE.
//!
//! Usage: redis_client_bench REDIS_PORT [frames, default 200000]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use pierhead::frame::{self, op, FrameType};
use pierhead::{Config, Protocol, Server};

const PAYLOAD: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args
        .get(1)
        .and_then(|p| p.parse().ok())
        .expect("REDIS_PORT");
    let frames: u64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(200_000);
    let url = format!("redis://127.0.0.1:{port}");
    let message = [b'p'; PAYLOAD + 16 + 8];

    println!("| client | what | result |");
    println!("|---|---|---|");
    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut con = client.get_connection().expect("connect to redis");
    for batch in [1u64, 16, 256] {
        let n = (frames / batch.max(16)).max(1) * batch;
        let t = Instant::now();
        let mut sent = 0;
        while sent < n {
            let mut pipe = redis::pipe();
            for _ in 0..batch {
                pipe.cmd("PUBLISH")
                    .arg("bench-ch")
                    .arg(&message[..])
                    .ignore();
            }
            let () = pipe.query(&mut con).expect("publish");
            sent += batch;
        }
        let rate = n as f64 / t.elapsed().as_secs_f64();
        println!(
            "| `redis` crate, pipelines of {batch} | PUBLISH, confirmed | {rate:.0} frames/s |"
        );
    }

    let server = Server::start(
        Config::new()
            .protocol(Protocol::Frame)
            .workers(1)
            .backplane(url.as_str()),
    )
    .expect("server");
    let mut sender = TcpStream::connect(server.local_addr()).expect("connect");
    sender.set_nodelay(true).expect("nodelay");
    join(&mut sender, "flood");
    let mut wire = Vec::new();
    for _ in 0..256 {
        frame::encode(FrameType::Data, &message[..PAYLOAD], &mut wire);
    }
    let t = Instant::now();
    let mut sent = 0;
    while sent < frames {
        sender.write_all(&wire).expect("send");
        sent += 256;
        // Stay under the backplane's queue bound: a client that outruns the broker
        // gets its frames dropped (counted), which is not what is measured here.
        while published(&server) + 20_000 < sent {
            std::thread::yield_now();
        }
    }
    while published(&server) < sent {
        std::thread::yield_now();
    }
    let rate = sent as f64 / t.elapsed().as_secs_f64();
    let unpublished = server.stats().backplane.map_or(0, |b| b.unpublished);
    println!(
        "| pierhead backplane (one worker, its link thread) | frames published, confirmed | {rate:.0} frames/s ({unpublished} unpublished) |"
    );

    let mut sub_times = Vec::new();
    let mut pubsub_con = client.get_connection().expect("connect");
    let mut pubsub = pubsub_con.as_pubsub();
    for i in 0..200 {
        let t = Instant::now();
        pubsub
            .subscribe(format!("bench-sub-{i}"))
            .expect("subscribe");
        sub_times.push(t.elapsed());
    }
    drop(pubsub);
    let mut join_times = Vec::new();
    let mut member = TcpStream::connect(server.local_addr()).expect("connect");
    member.set_nodelay(true).expect("nodelay");
    for i in 0..200 {
        let t = Instant::now();
        join(&mut member, &format!("new-room-{i}"));
        join_times.push(t.elapsed());
    }
    println!(
        "| `redis` crate | SUBSCRIBE round trip, p50 | {:.0} µs |",
        p50(&mut sub_times).as_secs_f64() * 1e6
    );
    println!(
        "| pierhead backplane | JOIN of a new room to JOINED (SUBSCRIBE confirmed), p50 | {:.0} µs |",
        p50(&mut join_times).as_secs_f64() * 1e6
    );
    server.stop(Duration::from_secs(1));
}

fn published(server: &Server) -> u64 {
    server.stats().backplane.map_or(0, |b| b.published)
}

fn join(s: &mut TcpStream, room: &str) {
    let mut f = Vec::new();
    frame::encode_control(op::JOIN, room.as_bytes(), &mut f);
    s.write_all(&f).expect("join");
    let mut joined = vec![0u8; 16 + 1 + room.len()];
    s.read_exact(&mut joined).expect("joined");
    assert_eq!(joined[16], op::JOINED);
}

fn p50(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}
