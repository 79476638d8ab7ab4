//! Fan-out measuring client for `scripts/bench-fanout.sh`: one room (a pierhead
//! frame room or a Redis pub/sub channel), N members, publishers, 64-byte payloads.
//!
//! 1. Latency: one publisher sends one message at a time; the time from the send
//!    until the last of the N members has it, over `publishes` rounds; p50/p99.
//! 2. Throughput: `publishers` publishers send `burst` messages each, then wait
//!    until every member has all of them, for `seconds`; deliveries per second
//!    counted at the N members (a closed loop, so no member falls behind).
//!
//! Single-threaded (mio): the client measures every target the same way. With
//! `FANOUT_SERVER_PID` set it also reads the server's RSS before the members
//! connect and once they are all in the room, idle. Prints one line:
//! `members p50_ms p99_ms deliveries_per_s rss_before_kib rss_idle_kib`.
//!
//! Usage: fanout_bench pierhead|redis ADDR MEMBERS [publishes] [publishers] [burst] [seconds]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

const PAYLOAD: usize = 64;
const ROOM: &str = "bench";

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Pierhead,
    Redis,
}

impl Target {
    /// What a member sends to join.
    fn join(self) -> Vec<u8> {
        match self {
            Target::Pierhead => {
                let mut f = Vec::new();
                pierhead::frame::encode_control(pierhead::frame::op::JOIN, ROOM.as_bytes(), &mut f);
                f
            }
            Target::Redis => {
                format!("*2\r\n$9\r\nSUBSCRIBE\r\n${}\r\n{ROOM}\r\n", ROOM.len()).into_bytes()
            }
        }
    }

    /// Bytes of the join confirmation.
    fn joined_len(self) -> usize {
        match self {
            Target::Pierhead => 16 + 1 + ROOM.len(),
            // A single channel: its subscription count is 1.
            Target::Redis => format!(
                "*3\r\n$9\r\nsubscribe\r\n${}\r\n{ROOM}\r\n:1\r\n",
                ROOM.len()
            )
            .len(),
        }
    }

    /// What a publisher sends for one message.
    fn publish(self, payload: &[u8]) -> Vec<u8> {
        match self {
            Target::Pierhead => pierhead::frame::data_frame(payload),
            Target::Redis => {
                let mut v = format!(
                    "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{ROOM}\r\n${}\r\n",
                    ROOM.len(),
                    payload.len()
                )
                .into_bytes();
                v.extend_from_slice(payload);
                v.extend_from_slice(b"\r\n");
                v
            }
        }
    }

    /// Bytes a member receives per message.
    fn message_len(self) -> usize {
        match self {
            Target::Pierhead => 16 + PAYLOAD,
            Target::Redis => {
                format!(
                    "*3\r\n$7\r\nmessage\r\n${}\r\n{ROOM}\r\n${PAYLOAD}\r\n",
                    ROOM.len()
                )
                .len()
                    + PAYLOAD
                    + 2
            }
        }
    }
}

struct Member {
    stream: TcpStream,
    /// Message bytes received after the join confirmation.
    bytes: u64,
}

/// The members and the poll that reads them.
struct Room {
    poll: Poll,
    events: Events,
    members: Vec<Member>,
    publishers: Vec<StdStream>,
    buf: Vec<u8>,
    message_len: u64,
}

impl Room {
    /// Reads until every member has `want` messages.
    fn wait_all(&mut self, want: u64) {
        let need = want * self.message_len;
        let mut complete = self.members.iter().filter(|m| m.bytes >= need).count();
        while complete < self.members.len() {
            self.poll
                .poll(&mut self.events, Some(Duration::from_millis(5)))
                .expect("poll");
            for ev in self.events.iter() {
                let i = ev.token().0;
                let m = &mut self.members[i];
                let before = m.bytes >= need;
                loop {
                    match m.stream.read(&mut self.buf) {
                        Ok(0) => panic!("member {i} was closed (a slow consumer?)"),
                        Ok(k) => m.bytes += k as u64,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => panic!("member {i}: {e}"),
                    }
                }
                if !before && m.bytes >= need {
                    complete += 1;
                }
            }
            // The publishers' own input (Redis replies, other publishers' frames).
            for p in &mut self.publishers {
                while let Ok(k) = p.read(&mut self.buf) {
                    if k == 0 {
                        break;
                    }
                }
            }
        }
    }
}

/// VmRSS of the server process named by `FANOUT_SERVER_PID`, in KiB (0 if unset).
fn server_rss_kib() -> u64 {
    let Ok(pid) = std::env::var("FANOUT_SERVER_PID") else {
        return 0;
    };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn arg(args: &[String], i: usize, default: u64) -> u64 {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn connect_joined(addr: SocketAddr, join: &[u8], confirm_len: usize) -> StdStream {
    let mut s = StdStream::connect(addr).expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s.write_all(join).expect("join");
    let mut confirm = vec![0u8; confirm_len];
    s.read_exact(&mut confirm).expect("join confirmation");
    s.set_nonblocking(true).expect("nonblocking");
    s
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let target = match args.get(1).map(String::as_str) {
        Some("pierhead") => Target::Pierhead,
        Some("redis") => Target::Redis,
        _ => {
            eprintln!(
                "usage: fanout_bench pierhead|redis ADDR MEMBERS [publishes] [publishers] [burst] [seconds]"
            );
            std::process::exit(2);
        }
    };
    let addr: SocketAddr = args.get(2).and_then(|a| a.parse().ok()).expect("ADDR");
    let n = arg(&args, 3, 100) as usize;
    let publishes = arg(&args, 4, 200) as usize;
    let publishers = arg(&args, 5, 4).max(1) as usize;
    let burst = arg(&args, 6, 50);
    let seconds = arg(&args, 7, 3);

    let join = target.join();
    let rss_before = server_rss_kib();
    let poll = Poll::new().expect("poll");
    let mut members = Vec::with_capacity(n);
    for i in 0..n {
        let mut stream = TcpStream::from_std(connect_joined(addr, &join, target.joined_len()));
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE)
            .expect("register");
        members.push(Member { stream, bytes: 0 });
    }
    // Publishers: pierhead members of the room (a member's frames go to every other
    // member); Redis plain connections sending PUBLISH.
    let publishers: Vec<StdStream> = (0..publishers)
        .map(|_| match target {
            Target::Pierhead => connect_joined(addr, &join, target.joined_len()),
            Target::Redis => {
                let s = StdStream::connect(addr).expect("publisher");
                s.set_nodelay(true).expect("nodelay");
                s.set_nonblocking(true).expect("nonblocking");
                s
            }
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let rss_idle = server_rss_kib();
    let mut room = Room {
        poll,
        events: Events::with_capacity(4096),
        members,
        publishers,
        buf: vec![0u8; 1 << 16],
        message_len: target.message_len() as u64,
    };

    let one = target.publish(&[b'p'; PAYLOAD]);
    let mut sent = 0u64;
    let send = |room: &mut Room, p: usize, bytes: &[u8]| {
        let mut off = 0;
        while off < bytes.len() {
            match room.publishers[p].write(&bytes[off..]) {
                Ok(k) => off += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("publisher {p}: {e}"),
            }
        }
    };
    for _ in 0..5 {
        send(&mut room, 0, &one);
        sent += 1;
        room.wait_all(sent);
    }
    let mut lat: Vec<f64> = Vec::with_capacity(publishes);
    for _ in 0..publishes {
        let t0 = Instant::now();
        send(&mut room, 0, &one);
        sent += 1;
        room.wait_all(sent);
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];

    let burst_bytes = one.repeat(burst as usize);
    let t0 = Instant::now();
    let start = sent;
    while t0.elapsed() < Duration::from_secs(seconds) {
        for p in 0..room.publishers.len() {
            send(&mut room, p, &burst_bytes);
        }
        sent += burst * room.publishers.len() as u64;
        room.wait_all(sent);
    }
    let deliveries = (sent - start) as f64 * n as f64 / t0.elapsed().as_secs_f64();
    println!(
        "{n} {:.3} {:.3} {:.0} {rss_before} {rss_idle}",
        pct(0.5),
        pct(0.99),
        deliveries
    );
}
