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
//! `FANOUT_SERVER_PID` set (one pid, or several separated by commas) it also reads
//! the servers' RSS before the members connect and once they are all in the room,
//! idle, and their CPU time over the throughput phase. With
//! `FANOUT_PUBLISH_ADDR` (pierhead only) the publishers connect to that server
//! instead of ADDR: with a backplane, every delivery then crosses Redis. Prints
//! one line: `members p50_ms p99_ms deliveries_per_s rss_before_kib rss_idle_kib
//! server_cpu_ns_per_delivery`.
//!
//! Usage: fanout_bench pierhead|redis ADDR MEMBERS [publishes] [publishers] [burst] [seconds]
//!
//! Members spread over several servers and processes (a room too large for one
//! process's 20,000 descriptors): `fanout_bench cluster ROUNDS ADDR=COUNT ...`
//! starts one member process per server (`fanout_bench members ...`, COUNT members
//! bound to source address 127.0.0.(11 + its index)), then one publisher on the
//! first server sends ROUNDS frames one at a time; each member process reports
//! when its last member had each frame (CLOCK_MONOTONIC, shared by the
//! processes), and the latency of a round is the latest of them. Prints
//! `members p50_ms p99_ms rss_before_kib rss_idle_kib` (RSS summed over the
//! `FANOUT_SERVER_PID` list).

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

/// The pids in `FANOUT_SERVER_PID` (comma-separated; none if unset).
fn server_pids() -> Vec<String> {
    std::env::var("FANOUT_SERVER_PID")
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// VmRSS summed over the server processes, in KiB (0 if none named).
fn server_rss_kib() -> u64 {
    server_pids()
        .iter()
        .filter_map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("VmRSS:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                })
        })
        .sum()
}

/// User + system CPU time of the server processes, in clock ticks.
fn server_cpu_ticks() -> u64 {
    server_pids()
        .iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // Fields after the command name (which is in parentheses).
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

/// CLOCK_MONOTONIC in nanoseconds: the same clock in every process.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `ts`, which is valid.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn arg(args: &[String], i: usize, default: u64) -> u64 {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn connect_joined(addr: SocketAddr, join: &[u8], confirm_len: usize) -> StdStream {
    connect_joined_from(None, addr, join, confirm_len)
}

/// Connects (from `source`, if given: a 127.0.0.x address, so that many
/// connections do not run out of ephemeral ports), joins, waits for the
/// confirmation.
fn connect_joined_from(
    source: Option<std::net::IpAddr>,
    addr: SocketAddr,
    join: &[u8],
    confirm_len: usize,
) -> StdStream {
    let mut s = match source {
        None => StdStream::connect(addr).expect("connect"),
        Some(ip) => {
            let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            // The port is picked at connect, per destination: tens of thousands of
            // connections from one address, TIME_WAIT ones from a previous run too.
            let on: libc::c_int = 1;
            // SAFETY: setsockopt reads one c_int from `on`, valid for the call.
            unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(&sock),
                    libc::IPPROTO_IP,
                    libc::IP_BIND_ADDRESS_NO_PORT,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            sock.bind(&SocketAddr::new(ip, 0).into())
                .expect("bind source");
            sock.connect(&addr.into()).expect("connect");
            sock.into()
        }
    };
    s.set_nodelay(true).expect("nodelay");
    s.write_all(join).expect("join");
    let mut confirm = vec![0u8; confirm_len];
    s.read_exact(&mut confirm).expect("join confirmation");
    s.set_nonblocking(true).expect("nonblocking");
    s
}

/// `members ADDR COUNT SOURCE_IP ROUNDS`: one member process of a cluster run.
/// Prints `ready` once all are in the room, then `done R NS` as its last member
/// gets frame R.
fn members_process(args: &[String]) {
    let addr: SocketAddr = args[2].parse().expect("ADDR");
    let n: usize = args[3].parse().expect("COUNT");
    let source: std::net::IpAddr = args[4].parse().expect("SOURCE_IP");
    let rounds: u64 = args[5].parse().expect("ROUNDS");
    let target = Target::Pierhead;
    let join = target.join();
    let poll = Poll::new().expect("poll");
    let mut members = Vec::with_capacity(n);
    for i in 0..n {
        let std = connect_joined_from(Some(source), addr, &join, target.joined_len());
        let mut stream = TcpStream::from_std(std);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE)
            .expect("register");
        members.push(Member { stream, bytes: 0 });
    }
    let mut room = Room {
        poll,
        events: Events::with_capacity(4096),
        members,
        publishers: Vec::new(),
        buf: vec![0u8; 1 << 16],
        message_len: target.message_len() as u64,
    };
    let mut out = std::io::stdout();
    writeln!(out, "ready")
        .and_then(|_| out.flush())
        .expect("stdout");
    for r in 1..=rounds {
        room.wait_all(r);
        writeln!(out, "done {r} {}", monotonic_ns())
            .and_then(|_| out.flush())
            .expect("stdout");
    }
}

/// `cluster ROUNDS ADDR=COUNT ...`: see the module docs.
fn cluster(args: &[String]) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let rounds: u64 = args[2].parse().expect("ROUNDS");
    let servers: Vec<(SocketAddr, usize)> = args[3..]
        .iter()
        .map(|a| {
            let (addr, count) = a.split_once('=').expect("ADDR=COUNT");
            (addr.parse().expect("ADDR"), count.parse().expect("COUNT"))
        })
        .collect();
    const WARMUP: u64 = 5;
    let total = rounds + WARMUP;
    let rss_before = server_rss_kib();
    let me = std::env::current_exe().expect("own path");
    let mut children: Vec<_> = servers
        .iter()
        .enumerate()
        .map(|(i, (addr, count))| {
            let mut child = Command::new(&me)
                .args(["members", &addr.to_string(), &count.to_string()])
                .arg(format!("127.0.0.{}", 11 + i))
                .arg(total.to_string())
                .stdout(Stdio::piped())
                .spawn()
                .expect("member process");
            let out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
            (child, out)
        })
        .collect();
    let mut line = String::new();
    for (_, out) in &mut children {
        line.clear();
        out.read_line(&mut line).expect("ready");
        assert_eq!(line.trim(), "ready", "a member process failed");
    }
    let target = Target::Pierhead;
    let mut publisher = connect_joined(servers[0].0, &target.join(), target.joined_len());
    publisher.set_nonblocking(false).expect("blocking");
    std::thread::sleep(Duration::from_millis(500));
    let rss_idle = server_rss_kib();
    let one = target.publish(&[b'p'; PAYLOAD]);
    let mut lat = Vec::with_capacity(rounds as usize);
    for r in 1..=total {
        let t0 = monotonic_ns();
        publisher.write_all(&one).expect("publish");
        let mut last = 0u64;
        for (_, out) in &mut children {
            line.clear();
            out.read_line(&mut line).expect("done");
            let mut f = line.split_whitespace();
            assert_eq!(f.next(), Some("done"), "{line}");
            assert_eq!(f.next().and_then(|v| v.parse().ok()), Some(r), "{line}");
            last = last.max(f.next().and_then(|v| v.parse().ok()).expect("ns"));
        }
        if r > WARMUP {
            lat.push(last.saturating_sub(t0) as f64 / 1e6);
        }
    }
    for (mut child, _) in children {
        let _ = child.wait();
    }
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    let members: usize = servers.iter().map(|s| s.1).sum();
    println!(
        "{members} {:.3} {:.3} {rss_before} {rss_idle}",
        pct(0.5),
        pct(0.99)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("members") => return members_process(&args),
        Some("cluster") => return cluster(&args),
        _ => {}
    }
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
    let publish_addr: SocketAddr = std::env::var("FANOUT_PUBLISH_ADDR")
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or(addr);
    let publishers: Vec<StdStream> = (0..publishers)
        .map(|_| match target {
            Target::Pierhead => connect_joined(publish_addr, &join, target.joined_len()),
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
    let cpu0 = server_cpu_ticks();
    let t0 = Instant::now();
    let start = sent;
    while t0.elapsed() < Duration::from_secs(seconds) {
        for p in 0..room.publishers.len() {
            send(&mut room, p, &burst_bytes);
        }
        sent += burst * room.publishers.len() as u64;
        room.wait_all(sent);
    }
    let count = (sent - start) as f64 * n as f64;
    let deliveries = count / t0.elapsed().as_secs_f64();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_ns = (server_cpu_ticks() - cpu0) as f64 / hz * 1e9 / count;
    println!(
        "{n} {:.3} {:.3} {:.0} {rss_before} {rss_idle} {cpu_ns:.0}",
        pct(0.5),
        pct(0.99),
        deliveries
    );
}
