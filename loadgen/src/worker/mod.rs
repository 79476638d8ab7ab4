//! One load-generating thread: its own mio poll, its share of the connections,
//! its own histograms. Nothing is shared with the other threads on the
//! per-request path: requests are pre-built bytes written from a shared buffer,
//! answers are checked by the protocol's reader, latencies go into this thread's
//! histograms (merged once, at the end), and progress is a few single-writer
//! atomics the caller samples once a second.
//!
//! Closed loop: a connection writes `pipeline` requests in one write and the
//! next batch when all are answered. Open loop: each connection has its own
//! schedule (`connections / rate` apart, staggered over all connections); a send
//! due while the connection still has `pipeline` requests unanswered (or is
//! reconnecting) goes out as soon as it can, and its latency counts from the time
//! it was due (wrk2's correction for coordinated omission). Due times are kept
//! in a heap and a timerfd wakes the loop at the next one.
//!
//! | module | what it holds |
//! |---|---|
//! | this one | the loop: events, the timer, checks, the end of the run |
//! | `plan` | what a thread is given and gives back |
//! | `conn` | one connection's state, and why one is closed |
//! | `pacing` | when a connection sends: closed-loop batches, the open-loop schedule |
//! | `connections` | connecting, sending, reading, validating, closing |
//! | `recording` | latencies, errors, the timeline, progress |

mod conn;
mod connections;
mod pacing;
mod plan;
mod recording;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use self::conn::{Conn, Role, Why};
pub(crate) use self::plan::{Clock, Live, Plan, Shared, ThreadResult};
use crate::config::BenchProtocol;
use crate::proto::frame::{self, Event};
use crate::proto::{echo, http, ws, MemberReader, Reader};
use crate::result::{histogram, ErrorCounts};
use crate::timer::Timer;

const TIMER: Token = Token(usize::MAX - 1);
const READ_BUF: usize = 64 * 1024;
/// How often timeouts, reconnects and the end of the run are checked.
const CHECK_EVERY: Duration = Duration::from_millis(10);
/// Requests mode, frame protocol: once every publisher is done, members read on
/// until the room has been quiet this long.
const DRAIN_IDLE: Duration = Duration::from_millis(100);

/// One thread's state: its plan, its poll, its connections, what it records.
struct Worker {
    plan: Plan,
    shared: Arc<Shared>,
    poll: Poll,
    timer: Option<Timer>,
    conns: Vec<Conn>,
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Closed loop: `pipeline` HTTP requests back to back.
    batch: Arc<[u8]>,
    /// Echo: each connection's request on the wire (the payload), and
    /// `pipeline` of them back to back. (WebSocket echo frames each message
    /// afresh: every frame has a mask key of its own.)
    payloads: Vec<Arc<[u8]>>,
    echo_batches: Vec<Arc<[u8]>>,
    /// Echo and WebSocket echo: each connection's payload, as it must come back.
    expected: Vec<Arc<[u8]>>,
    /// WebSocket: the mask keys of this thread's frames.
    mask_keys: ws::MaskKeys,
    /// WebSocket rooms: a publisher's message payload on the way.
    ws_scratch: Vec<u8>,
    buf: Vec<u8>,
    events: Vec<Event>,
    frame_out: Vec<u8>,
    rec: ThreadResult,
    measured_sent: u64,
    publishing: bool,
    /// Requests mode: this thread's share is sent and settled (told `Shared`).
    sent_all: bool,
    /// The last frame delivered to one of this thread's members.
    last_delivery: Instant,
}

/// Runs one thread's share of the load until the end, the quota, or a stop.
pub(crate) fn run(plan: Plan, shared: Arc<Shared>) -> io::Result<ThreadResult> {
    let poll = Poll::new()?;
    let timer = match plan.interval {
        Some(_) => Some(Timer::new(poll.registry(), TIMER)?),
        None => None,
    };
    let open_loop = plan.interval.is_some();
    let rec = ThreadResult {
        latency: histogram(),
        uncorrected: open_loop.then(histogram),
        send_lag: open_loop.then(histogram),
        fanout: HashMap::new(),
        timeline: Vec::new(),
        requests: 0,
        sent: 0,
        bytes_sent: 0,
        bytes_received: 0,
        errors: ErrorCounts::default(),
        opened: 0,
    };
    let id = |i: usize| (plan.first_conn + i) as u64;
    let expected: Vec<Arc<[u8]>> = match plan.target.protocol {
        BenchProtocol::Echo => (0..plan.conns)
            .map(|i| Arc::from(echo::payload(id(i), plan.payload_len)))
            .collect(),
        BenchProtocol::Ws if !plan.fans_out => (0..plan.conns)
            .map(|i| match plan.ws_text {
                true => Arc::from(ws::text_payload(id(i), plan.payload_len)),
                false => Arc::from(echo::payload(id(i), plan.payload_len)),
            })
            .collect(),
        _ => Vec::new(),
    };
    let payloads: Vec<Arc<[u8]>> = match plan.target.protocol {
        BenchProtocol::Echo => expected.clone(),
        _ => Vec::new(),
    };
    let echo_batches: Vec<Arc<[u8]>> = payloads
        .iter()
        .map(|p| Arc::from(p.repeat(plan.pipeline)))
        .collect();
    let batch: Arc<[u8]> = match plan.target.protocol {
        BenchProtocol::Http => Arc::from(plan.request.repeat(plan.pipeline)),
        _ => Arc::from(Vec::new()),
    };
    let start = plan.clock.start;
    let mut w = Worker {
        conns: Vec::with_capacity(plan.conns),
        heap: BinaryHeap::new(),
        batch,
        payloads,
        echo_batches,
        expected,
        mask_keys: ws::MaskKeys::new(plan.first_conn as u64),
        ws_scratch: Vec::new(),
        buf: vec![0; READ_BUF],
        events: Vec::new(),
        frame_out: Vec::new(),
        rec,
        measured_sent: 0,
        publishing: false,
        sent_all: false,
        last_delivery: start,
        timer,
        poll,
        shared,
        plan,
    };
    for i in 0..w.plan.conns {
        let role = w.new_role(i);
        let sender = w.sender_index(i);
        let next_due = match (w.plan.interval, sender) {
            (Some(iv), Some(s)) => {
                start + iv.mul_f64((w.plan.first_sender + s) as f64 / w.plan.total_senders as f64)
            }
            _ => start,
        };
        w.conns.push(Conn {
            stream: None,
            connected: false,
            role,
            unsent: Vec::new(),
            inflight: VecDeque::with_capacity(w.plan.pipeline),
            next_due,
            in_heap: false,
            retry_at: Some(start),
            seq: 0,
            ever_joined: false,
            join_sent: None,
            fresh: true,
            handshake: None,
        });
    }
    w.run();
    Ok(w.rec)
}

impl Worker {
    fn new_role(&self, i: usize) -> Role {
        match self.plan.target.protocol {
            BenchProtocol::Http => {
                Role::Request(Reader::Http(http::Reader::new(self.plan.head_request)))
            }
            BenchProtocol::Echo => {
                Role::Request(Reader::Echo(echo::Reader::new(self.expected[i].clone())))
            }
            BenchProtocol::Ws if !self.plan.fans_out => {
                Role::Request(Reader::Ws(ws::EchoReader::new(
                    self.expected[i].clone(),
                    self.plan.ws_text,
                    ws::MaskKeys::new((self.plan.first_conn + i) as u64),
                )))
            }
            BenchProtocol::Frame | BenchProtocol::Ws => Role::Frame {
                reader: match self.plan.target.protocol {
                    BenchProtocol::Ws => MemberReader::Ws(ws::RoomReader::new(
                        self.plan.payload_len.max(1 << 20),
                        ws::MaskKeys::new((self.plan.first_conn + i) as u64),
                    )),
                    _ => {
                        MemberReader::Frame(frame::Reader::new(self.plan.payload_len.max(1 << 20)))
                    }
                },
                joined: false,
                publisher: self.plan.publishers.get(i).copied(),
            },
        }
    }

    /// The connection's index among this thread's senders, if it sends.
    fn sender_index(&self, i: usize) -> Option<usize> {
        match self.plan.fans_out {
            true => (i < self.plan.publishers.len()).then_some(i),
            false => Some(i),
        }
    }

    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        let mut next_check = Instant::now();
        loop {
            let now = Instant::now();
            if self.shared.stop.load(Ordering::Relaxed) {
                return;
            }
            if self.plan.clock.end.is_some_and(|end| now >= end) {
                return;
            }
            if self.finished(now) {
                return;
            }
            if now >= next_check {
                self.check(now);
                next_check = now + CHECK_EVERY;
            }
            let mut wait = next_check.saturating_duration_since(now);
            if let (Some(timer), Some(Reverse((due, _)))) = (self.timer.as_mut(), self.heap.peek())
            {
                if *due <= now {
                    wait = Duration::ZERO;
                } else if timer.arm(*due).is_err() {
                    wait = wait.min(due.saturating_duration_since(now));
                }
            }
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
            let now = Instant::now();
            for ev in events.iter() {
                let token = ev.token();
                if token == TIMER {
                    if let Some(t) = self.timer.as_mut() {
                        t.fired();
                    }
                    continue;
                }
                let i = token.0;
                if i >= self.conns.len() {
                    continue;
                }
                let hangup = ev.is_error() || ev.is_read_closed();
                if ev.is_writable() || ev.is_error() {
                    self.on_writable(i, now);
                }
                if ev.is_readable() || hangup {
                    self.on_readable(i, now, hangup);
                }
            }
            self.fire_due(Instant::now());
            self.start_publishing(now);
        }
    }

    /// Requests mode: every measured request is sent and settled; for frames,
    /// also every other thread's, and the room has gone quiet (the last
    /// deliveries are in).
    fn finished(&mut self, now: Instant) -> bool {
        let Some(q) = self.plan.quota else {
            return false;
        };
        if !self.sent_all {
            if self.measured_sent < q || self.conns.iter().any(|c| !c.inflight.is_empty()) {
                return false;
            }
            self.sent_all = true;
            self.shared.sending.fetch_sub(1, Ordering::AcqRel);
        }
        if !self.plan.fans_out {
            return true;
        }
        self.shared.sending.load(Ordering::Acquire) == 0
            && now.saturating_duration_since(self.last_delivery) >= DRAIN_IDLE
    }

    /// Timeouts (an answer, or a JOIN's JOINED), and connections to open (again).
    fn check(&mut self, now: Instant) {
        for i in 0..self.conns.len() {
            let c = &self.conns[i];
            let waiting_since = match c.role {
                _ if c.handshake.is_some() => c.join_sent,
                Role::Frame { joined: false, .. } => c.join_sent,
                _ => c.inflight.front().map(|&(_, sent)| sent),
            };
            if c.connected && waiting_since.is_some_and(|t| now >= t + self.plan.timeout) {
                self.close(i, Why::Timeout, now);
            }
            let c = &self.conns[i];
            if c.stream.is_none() && c.retry_at.is_some_and(|t| now >= t) {
                self.connect(i, now);
            }
        }
    }
}
