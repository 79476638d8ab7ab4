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

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::config::{BenchProtocol, Target};
use crate::proto::frame::{self, Event, Stamp};
use crate::proto::{echo, http, Answers, Framing, Reader};
use crate::result::{histogram, ErrorCounts, Second};
use crate::timer::Timer;

const TIMER: Token = Token(usize::MAX - 1);
const READ_BUF: usize = 64 * 1024;
/// How often timeouts, reconnects and the end of the run are checked.
const CHECK_EVERY: Duration = Duration::from_millis(10);
/// Wait before connecting again after a failed connect.
const RECONNECT_DELAY: Duration = Duration::from_millis(10);
/// An open-loop publisher whose unsent output passes this skips sends.
const MAX_UNSENT: usize = 4 << 20;
/// How long publishers wait for every connection to have joined the room.
const JOIN_WAIT: Duration = Duration::from_secs(5);
/// Requests mode, frame protocol: once every publisher is done, members read on
/// until the room has been quiet this long.
const DRAIN_IDLE: Duration = Duration::from_millis(100);
/// Most frames per thread whose last-member latency is tracked.
const MAX_FANOUT_TRACKED: usize = 4_000_000;

/// When things happen, for every thread of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// The run's start: frame stamps count nanoseconds from here.
    pub(crate) start: Instant,
    /// Answers completed from here on are measured (the end of the warm-up).
    pub(crate) measure_start: Instant,
    /// The end of the measured phase (duration mode).
    pub(crate) end: Option<Instant>,
}

/// Progress of one thread, written only by it.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub(crate) answers: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) open: AtomicU64,
}

/// What the threads of a run share.
pub(crate) struct Shared {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) live: Box<[Live]>,
    /// Frame protocol: connections that have joined the room (once each).
    pub(crate) joined: AtomicUsize,
    pub(crate) connections: usize,
    /// Requests mode: threads still sending their share.
    pub(crate) sending: AtomicUsize,
}

/// What one thread does.
pub(crate) struct Plan {
    pub(crate) index: usize,
    pub(crate) target: Target,
    /// This thread's connections, and the global index of its first.
    pub(crate) conns: usize,
    pub(crate) first_conn: usize,
    /// Frame protocol: publisher ids of this thread's publishing connections
    /// (its first `publishers.len()` connections).
    pub(crate) publishers: Vec<u32>,
    pub(crate) pipeline: usize,
    /// Open loop: the time between two sends of one sending connection, and the
    /// global index of this thread's first sender and the number of senders.
    pub(crate) interval: Option<Duration>,
    pub(crate) first_sender: usize,
    pub(crate) total_senders: usize,
    pub(crate) timeout: Duration,
    /// Requests this thread sends in the measured phase (requests mode).
    pub(crate) quota: Option<u64>,
    /// HTTP: one request; echo: the payload length; frame: the payload length.
    pub(crate) request: Arc<[u8]>,
    pub(crate) payload_len: usize,
    pub(crate) head_request: bool,
    pub(crate) room: String,
    pub(crate) clock: Clock,
}

/// What one thread measured.
pub(crate) struct ThreadResult {
    pub(crate) latency: Histogram<u64>,
    pub(crate) uncorrected: Option<Histogram<u64>>,
    pub(crate) send_lag: Option<Histogram<u64>>,
    /// Frame protocol: (publisher, seq) -> latest delivery latency in µs.
    pub(crate) fanout: HashMap<(u32, u64), u64>,
    pub(crate) timeline: Vec<Second>,
    pub(crate) requests: u64,
    pub(crate) sent: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
    pub(crate) errors: ErrorCounts,
    /// Connections made (warm-up included).
    pub(crate) opened: u64,
}

enum Role {
    /// HTTP or echo: requests and their answers, in order.
    Request(Reader),
    /// Frame protocol: a room member, publishing or not.
    Frame {
        reader: frame::Reader,
        joined: bool,
        publisher: Option<u32>,
    },
}

struct Conn {
    stream: Option<TcpStream>,
    connected: bool,
    role: Role,
    /// Bytes not yet taken by the socket.
    unsent: Vec<u8>,
    /// Requests sent and not answered: (intended send time, actual send time).
    /// After the server closed as it said it would, the ones it left unanswered
    /// stay here and are sent again on the next connection.
    inflight: VecDeque<(Instant, Instant)>,
    /// Open loop: when this connection's next send is due.
    next_due: Instant,
    in_heap: bool,
    retry_at: Option<Instant>,
    /// Frame protocol: the next frame's sequence number; joined at least once;
    /// when this connection's JOIN went out (a JOIN unanswered for the timeout
    /// is a timeout error).
    seq: u64,
    ever_joined: bool,
    join_sent: Option<Instant>,
    /// Nothing answered since this connection was made: a close now reconnects
    /// after a pause (a server that refuses connections is not hammered).
    fresh: bool,
}

/// An error's kind, as counted in [`ErrorCounts`].
#[derive(Debug, Clone, Copy)]
enum Kind {
    Connect,
    Read,
    Write,
    Timeout,
    Status,
    Framing,
}

/// Why a connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// The server closed after an answer, as it said it would (Connection:
    /// close, HTTP/1.0) or as the answer's framing has it (a body that runs to
    /// the close): not an error; what it left unanswered is sent again.
    Done,
    Read,
    /// The server closed in the middle of an answer: a read error.
    Cut,
    Write,
    Timeout,
    Framing,
}

struct Worker {
    plan: Plan,
    shared: Arc<Shared>,
    poll: Poll,
    timer: Option<Timer>,
    conns: Vec<Conn>,
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Closed loop: `pipeline` HTTP requests back to back.
    batch: Arc<[u8]>,
    /// Echo: each connection's payload, and `pipeline` of them back to back.
    payloads: Vec<Arc<[u8]>>,
    echo_batches: Vec<Arc<[u8]>>,
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
    let payloads: Vec<Arc<[u8]>> = match plan.target.protocol {
        BenchProtocol::Echo => (0..plan.conns)
            .map(|i| {
                Arc::from(echo::payload(
                    (plan.first_conn + i) as u64,
                    plan.payload_len,
                ))
            })
            .collect(),
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
                Role::Request(Reader::Echo(echo::Reader::new(self.payloads[i].clone())))
            }
            BenchProtocol::Frame => Role::Frame {
                reader: frame::Reader::new(self.plan.payload_len.max(1 << 20)),
                joined: false,
                publisher: self.plan.publishers.get(i).copied(),
            },
        }
    }

    /// The connection's index among this thread's senders, if it sends.
    fn sender_index(&self, i: usize) -> Option<usize> {
        match self.plan.target.protocol {
            BenchProtocol::Frame => (i < self.plan.publishers.len()).then_some(i),
            _ => Some(i),
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
        if self.plan.target.protocol != BenchProtocol::Frame {
            return true;
        }
        self.shared.sending.load(Ordering::Acquire) == 0
            && now.saturating_duration_since(self.last_delivery) >= DRAIN_IDLE
    }

    fn may_send(&self) -> bool {
        self.plan.quota.is_none_or(|q| self.measured_sent < q)
    }

    /// Whether `t` is in the measured phase: after the warm-up, before the end
    /// (what completes after the end, while the last events are handled, is not
    /// counted: the phase lasts exactly its duration).
    #[inline]
    fn measuring(&self, t: Instant) -> bool {
        t >= self.plan.clock.measure_start && self.plan.clock.end.is_none_or(|end| t < end)
    }

    /// The timeline's entry for `t`, if `t` is in the measured phase.
    #[inline]
    fn second(&mut self, t: Instant) -> Option<&mut Second> {
        if !self.measuring(t) {
            return None;
        }
        Some(self.second_of(t))
    }

    /// The timeline's entry for `t`, known to be in the measured phase.
    #[inline]
    fn second_of(&mut self, t: Instant) -> &mut Second {
        let s = (t - self.plan.clock.measure_start).as_secs() as usize;
        if self.rec.timeline.len() <= s {
            self.rec.timeline.resize(s + 1, Second::default());
        }
        &mut self.rec.timeline[s]
    }

    fn count_error(&mut self, now: Instant, n: u64, kind: Kind) {
        if n == 0 {
            return;
        }
        let live = &self.shared.live[self.plan.index].errors;
        live.store(live.load(Ordering::Relaxed) + n, Ordering::Relaxed);
        if let Some(s) = self.second(now) {
            s.errors += n;
            let e = &mut self.rec.errors;
            *match kind {
                Kind::Connect => &mut e.connect,
                Kind::Read => &mut e.read,
                Kind::Write => &mut e.write,
                Kind::Timeout => &mut e.timeout,
                Kind::Status => &mut e.status,
                Kind::Framing => &mut e.framing,
            } += n;
        }
    }

    fn set_open(&self) {
        let open = self.conns.iter().filter(|c| c.connected).count() as u64;
        self.shared.live[self.plan.index]
            .open
            .store(open, Ordering::Relaxed);
    }

    /// Timeouts (an answer, or a JOIN's JOINED), and connections to open (again).
    fn check(&mut self, now: Instant) {
        for i in 0..self.conns.len() {
            let c = &self.conns[i];
            let waiting_since = match c.role {
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

    fn connect(&mut self, i: usize, now: Instant) {
        let c = &mut self.conns[i];
        c.retry_at = None;
        let mut stream = match TcpStream::connect(self.plan.target.addr) {
            Ok(s) => s,
            Err(_) => {
                c.retry_at = Some(now + RECONNECT_DELAY);
                self.count_error(now, 1, Kind::Connect);
                return;
            }
        };
        if self
            .poll
            .registry()
            .register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )
            .is_err()
        {
            c.retry_at = Some(now + RECONNECT_DELAY);
            self.count_error(now, 1, Kind::Connect);
            return;
        }
        c.stream = Some(stream);
        c.connected = false;
        c.fresh = true;
    }

    fn on_writable(&mut self, i: usize, now: Instant) {
        let c = &mut self.conns[i];
        let Some(stream) = c.stream.as_ref() else {
            return;
        };
        if !c.connected {
            let failed = !matches!(stream.take_error(), Ok(None));
            let state = stream.peer_addr();
            if !failed && matches!(&state, Err(e) if e.kind() == io::ErrorKind::NotConnected) {
                return; // still connecting
            }
            if failed || state.is_err() {
                self.drop_stream(i);
                self.conns[i].retry_at = Some(now + RECONNECT_DELAY);
                self.count_error(now, 1, Kind::Connect);
                return;
            }
            let _ = stream.set_nodelay(true);
            c.connected = true;
            self.rec.opened += 1;
            self.set_open();
            self.on_connected(i, now);
            return;
        }
        if !c.unsent.is_empty() && self.flush(i, now) {
            self.after_progress(i, now);
        }
    }

    /// A connection is up: a frame connection JOINs; a request connection first
    /// sends again what the server left unanswered when it closed the last one.
    fn on_connected(&mut self, i: usize, now: Instant) {
        if let Role::Frame { .. } = self.conns[i].role {
            let join = frame::join(&self.plan.room);
            self.conns[i].join_sent = Some(now);
            self.write(i, &join, now);
            return;
        }
        let again = self.conns[i].inflight.len();
        if again > 0 {
            let (bytes, one) = match &self.conns[i].role {
                Role::Request(Reader::Echo(_)) => {
                    (self.echo_batches[i].clone(), self.plan.payload_len)
                }
                _ => (self.batch.clone(), self.plan.request.len()),
            };
            // At most `pipeline` are ever in flight: the batch holds that many.
            if !self.write(i, &bytes[..one * again], now) {
                return;
            }
            for r in self.conns[i].inflight.iter_mut() {
                r.1 = now;
            }
        }
        self.after_progress(i, now);
    }

    /// Writes what was left unsent; false if the connection was closed.
    fn flush(&mut self, i: usize, now: Instant) -> bool {
        let c = &mut self.conns[i];
        let Some(stream) = c.stream.as_mut() else {
            return false;
        };
        let mut written = 0;
        let result = loop {
            if written == c.unsent.len() {
                break Ok(());
            }
            match stream.write(&c.unsent[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        c.unsent.drain(..written);
        self.rec.bytes_sent += written as u64;
        if result.is_err() {
            self.close(i, Why::Write, now);
            return false;
        }
        true
    }

    /// Writes `bytes` (after anything unsent); false if the connection was closed.
    fn write(&mut self, i: usize, bytes: &[u8], now: Instant) -> bool {
        let c = &mut self.conns[i];
        let Some(stream) = c.stream.as_mut() else {
            return false;
        };
        if !c.unsent.is_empty() {
            c.unsent.extend_from_slice(bytes);
            return true;
        }
        let mut written = 0;
        while written < bytes.len() {
            match stream.write(&bytes[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.rec.bytes_sent += written as u64;
                    self.close(i, Why::Write, now);
                    return false;
                }
            }
        }
        self.rec.bytes_sent += written as u64;
        if written < bytes.len() {
            self.conns[i].unsent.extend_from_slice(&bytes[written..]);
        }
        true
    }

    /// After an answer or a write: send what the loop allows now.
    fn after_progress(&mut self, i: usize, now: Instant) {
        if !self.conns[i].connected {
            return;
        }
        match self.plan.interval {
            None => self.send_batch(i, now),
            Some(_) => self.pump(i, now),
        }
    }

    /// Closed loop: the next batch, once the last one is answered.
    fn send_batch(&mut self, i: usize, now: Instant) {
        let c = &self.conns[i];
        if !c.inflight.is_empty() || !c.unsent.is_empty() || !self.may_send() {
            return;
        }
        let mut n = self.plan.pipeline;
        if let Some(q) = self.plan.quota {
            if self.measuring(now) {
                n = n.min((q - self.measured_sent) as usize);
            }
        }
        match &self.conns[i].role {
            Role::Request(Reader::Http(_)) => {
                let batch = self.batch.clone();
                let len = self.plan.request.len() * n;
                if !self.write(i, &batch[..len], now) {
                    return;
                }
            }
            Role::Request(Reader::Echo(_)) => {
                let batch = self.echo_batches[i].clone();
                let len = self.plan.payload_len * n;
                if !self.write(i, &batch[..len], now) {
                    return;
                }
            }
            Role::Frame {
                publisher: Some(id),
                joined: true,
                ..
            } => {
                if !self.publishing {
                    return;
                }
                let id = *id;
                let t = self.ns(now);
                let mut out = std::mem::take(&mut self.frame_out);
                out.clear();
                for _ in 0..n {
                    let seq = self.conns[i].seq;
                    self.conns[i].seq += 1;
                    let stamp = Stamp {
                        intended_ns: t,
                        sent_ns: t,
                        publisher: id,
                        seq,
                    };
                    frame::data(stamp, self.plan.payload_len, &mut out);
                }
                frame::ping(&mut out);
                let ok = self.write(i, &out, now);
                self.frame_out = out;
                if !ok {
                    return;
                }
                self.conns[i].inflight.push_back((now, now));
                self.count_sent(now, n as u64);
                return;
            }
            Role::Frame { .. } => return,
        }
        let c = &mut self.conns[i];
        for _ in 0..n {
            c.inflight.push_back((now, now));
        }
        self.count_sent(now, n as u64);
    }

    fn count_sent(&mut self, now: Instant, n: u64) {
        if self.measuring(now) {
            self.measured_sent += n;
            self.rec.sent += n;
        }
    }

    fn ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.plan.clock.start)
            .as_nanos() as u64
    }

    /// Open loop: every send that is due and allowed, then back into the heap.
    fn pump(&mut self, i: usize, now: Instant) {
        let Some(interval) = self.plan.interval else {
            return;
        };
        if self.sender_index(i).is_none() || !self.conns[i].connected {
            return;
        }
        loop {
            let c = &self.conns[i];
            let due = c.next_due;
            if due > now {
                break;
            }
            let publisher = match &c.role {
                Role::Frame {
                    publisher: Some(id),
                    joined,
                    ..
                } => {
                    if !*joined || !self.publishing {
                        return;
                    }
                    Some(*id)
                }
                Role::Frame { .. } => return,
                Role::Request(_) => None,
            };
            if publisher.is_none() && c.inflight.len() >= self.plan.pipeline {
                return; // answered later: sent then, late
            }
            if !self.may_send() {
                return;
            }
            let sent = match publisher {
                Some(id) => {
                    if c.unsent.len() > MAX_UNSENT {
                        // The server does not take the frames: skip this one (the
                        // lag of later sends shows it).
                        self.conns[i].next_due = due + interval;
                        continue;
                    }
                    let seq = c.seq;
                    let stamp = Stamp {
                        intended_ns: self.ns(due),
                        sent_ns: self.ns(now),
                        publisher: id,
                        seq,
                    };
                    let mut out = std::mem::take(&mut self.frame_out);
                    out.clear();
                    frame::data(stamp, self.plan.payload_len, &mut out);
                    let ok = self.write(i, &out, now);
                    self.frame_out = out;
                    if ok {
                        self.conns[i].seq += 1;
                    }
                    ok
                }
                None => match &self.conns[i].role {
                    Role::Request(Reader::Echo(_)) => {
                        let p = self.payloads[i].clone();
                        self.write(i, &p, now)
                    }
                    _ => {
                        let r = self.plan.request.clone();
                        self.write(i, &r, now)
                    }
                },
            };
            if !sent {
                return;
            }
            if publisher.is_none() {
                self.conns[i].inflight.push_back((due, now));
            }
            if self.measuring(due) {
                if let Some(lag) = self.rec.send_lag.as_mut() {
                    lag.saturating_record(micros(now.saturating_duration_since(due)));
                }
            }
            if self.measuring(due) {
                self.measured_sent += 1;
                self.rec.sent += 1;
            }
            self.conns[i].next_due = due + interval;
        }
        let c = &mut self.conns[i];
        if !c.in_heap && c.next_due > now {
            c.in_heap = true;
            self.heap.push(Reverse((c.next_due, i)));
        }
    }

    /// Open loop: the connections whose next send is due.
    fn fire_due(&mut self, now: Instant) {
        while let Some(Reverse((due, i))) = self.heap.peek().copied() {
            if due > now {
                break;
            }
            self.heap.pop();
            self.conns[i].in_heap = false;
            self.pump(i, now);
        }
    }

    /// Frame protocol: publishers start once every connection has joined (or
    /// after `JOIN_WAIT`).
    fn start_publishing(&mut self, now: Instant) {
        if self.publishing || self.plan.target.protocol != BenchProtocol::Frame {
            return;
        }
        let all = self.shared.joined.load(Ordering::Acquire) >= self.shared.connections;
        if !all && now < self.plan.clock.start + JOIN_WAIT {
            return;
        }
        self.publishing = true;
        for i in 0..self.plan.publishers.len() {
            if self.plan.interval.is_some() {
                // The schedule starts now, not at the run's start.
                let c = &mut self.conns[i];
                if c.next_due < now {
                    c.next_due = now + (c.next_due - self.plan.clock.start);
                }
            }
            self.after_progress(i, now);
        }
    }

    /// Reads what the socket has. A read shorter than the buffer emptied it (the
    /// poll is edge-triggered: more data is a new event), unless the event also
    /// said the peer closed: then the end of the stream is read too, since no
    /// event will come for it.
    fn on_readable(&mut self, i: usize, now: Instant, hangup: bool) {
        loop {
            let c = &mut self.conns[i];
            let Some(stream) = c.stream.as_mut() else {
                return;
            };
            if !c.connected {
                return;
            }
            let mut buf = std::mem::take(&mut self.buf);
            let r = stream.read(&mut buf);
            let outcome = match r {
                Ok(0) => {
                    self.buf = buf;
                    self.on_eof(i, now);
                    return;
                }
                Ok(n) => {
                    self.rec.bytes_received += n as u64;
                    let ok = self.on_data(i, &buf[..n], now);
                    let short = n < buf.len() && !hangup;
                    self.buf = buf;
                    if !ok || short {
                        return;
                    }
                    continue;
                }
                Err(e) => e,
            };
            self.buf = buf;
            match outcome.kind() {
                io::ErrorKind::WouldBlock => return,
                io::ErrorKind::Interrupted => continue,
                _ => {
                    self.close(i, Why::Read, now);
                    return;
                }
            }
        }
    }

    /// The server closed the connection. An answer that runs to the close is
    /// complete, and `answered` reopens the connection (nothing is lost: what
    /// else was sent goes again); a cut answer is a read error; a close between
    /// answers loses those still unanswered (read errors) and reopens.
    fn on_eof(&mut self, i: usize, now: Instant) {
        let mut a = Answers::default();
        let r = match &mut self.conns[i].role {
            Role::Request(reader) => reader.eof(&mut a),
            Role::Frame { .. } => Ok(()),
        };
        if r.is_err() {
            self.close(i, Why::Cut, now);
        } else if a.complete > 0 {
            debug_assert!(a.close, "an answer completed by the close says so");
            self.answered(i, a, now);
        } else {
            self.close(i, Why::Read, now);
        }
    }

    /// Bytes from the server; false if the connection was closed.
    fn on_data(&mut self, i: usize, data: &[u8], now: Instant) -> bool {
        match &mut self.conns[i].role {
            Role::Request(reader) => {
                let mut a = Answers::default();
                if reader.feed(data, &mut a).is_err() {
                    self.close(i, Why::Framing, now);
                    return false;
                }
                if a.complete > 0 {
                    return self.answered(i, a, now);
                }
                true
            }
            Role::Frame { reader, .. } => {
                let mut events = std::mem::take(&mut self.events);
                events.clear();
                let r: Result<(), Framing> = reader.feed(data, |e| events.push(e));
                let ok = r.is_ok();
                for &e in &events {
                    self.frame_event(i, e, now);
                }
                self.events = events;
                if !ok {
                    self.close(i, Why::Framing, now);
                }
                ok
            }
        }
    }

    fn frame_event(&mut self, i: usize, e: Event, now: Instant) {
        match e {
            Event::Joined => {
                let c = &mut self.conns[i];
                c.fresh = false;
                if let Role::Frame { joined, .. } = &mut c.role {
                    *joined = true;
                }
                if !c.ever_joined {
                    c.ever_joined = true;
                    self.shared.joined.fetch_add(1, Ordering::AcqRel);
                }
                self.after_progress(i, now);
            }
            Event::Pong => {
                self.conns[i].inflight.pop_front();
                self.after_progress(i, now);
            }
            Event::Data(stamp) => {
                self.last_delivery = now;
                let live = &self.shared.live[self.plan.index].answers;
                live.store(live.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                if !self.measuring(now) {
                    return;
                }
                let now_ns = self.ns(now);
                let lat = micros(Duration::from_nanos(
                    now_ns.saturating_sub(stamp.intended_ns),
                ));
                self.rec.latency.saturating_record(lat);
                if let Some(h) = self.rec.uncorrected.as_mut() {
                    h.saturating_record(micros(Duration::from_nanos(
                        now_ns.saturating_sub(stamp.sent_ns),
                    )));
                }
                self.rec.requests += 1;
                if let Some(s) = self.second(now) {
                    s.requests += 1;
                }
                if self.rec.fanout.len() < MAX_FANOUT_TRACKED
                    || self.rec.fanout.contains_key(&(stamp.publisher, stamp.seq))
                {
                    let e = self
                        .rec
                        .fanout
                        .entry((stamp.publisher, stamp.seq))
                        .or_insert(0);
                    *e = (*e).max(lat);
                }
            }
        }
    }

    /// Answers completed on connection `i`; false if it was closed.
    fn answered(&mut self, i: usize, a: Answers, now: Instant) -> bool {
        let live = &self.shared.live[self.plan.index].answers;
        live.store(
            live.load(Ordering::Relaxed) + u64::from(a.complete),
            Ordering::Relaxed,
        );
        self.conns[i].fresh = false;
        let good = a.complete - a.bad_status;
        let mut measured_good = 0u64;
        let measuring = self.measuring(now);
        // More answers than requests: those that had one count, then the extra
        // one is a framing error.
        let mut extra = false;
        for k in 0..a.complete {
            let Some((intended, sent)) = self.conns[i].inflight.pop_front() else {
                extra = true;
                break;
            };
            if !measuring || k >= good {
                continue;
            }
            measured_good += 1;
            self.rec.latency.saturating_record(micros(now - intended));
            if let Some(h) = self.rec.uncorrected.as_mut() {
                h.saturating_record(micros(now - sent));
            }
        }
        if measuring {
            self.rec.requests += measured_good;
            self.second_of(now).requests += measured_good;
        }
        self.count_error(now, u64::from(a.bad_status), Kind::Status);
        if extra {
            self.close(i, Why::Framing, now);
            return false;
        }
        if a.close {
            self.close(i, Why::Done, now);
            return false;
        }
        self.after_progress(i, now);
        true
    }

    fn drop_stream(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if let Some(mut s) = c.stream.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        let was = c.connected;
        c.connected = false;
        c.unsent.clear();
        if was {
            self.set_open();
        }
    }

    /// Closes connection `i` and opens it again. After `Why::Done` its unanswered
    /// requests stay in flight, to be sent again on the new connection (the
    /// server said it would not answer them there); otherwise they are errors of
    /// the kind `why` names.
    fn close(&mut self, i: usize, why: Why, now: Instant) {
        self.drop_stream(i);
        let role = self.new_role(i);
        let c = &mut self.conns[i];
        c.role = role;
        c.join_sent = None;
        let per_request = matches!(c.role, Role::Request(_));
        let lost = if why == Why::Done && per_request {
            0
        } else {
            c.inflight
                .drain(..)
                .filter(|&(intended, _)| intended >= self.plan.clock.measure_start)
                .count() as u64
        };
        // A frame connection's loss is one error (a publisher's PING stands for
        // frames already sent; a member has nothing outstanding); a request
        // connection's is one per unanswered request, at least one for a failure.
        let n = match (why, per_request) {
            (Why::Done, _) => 0,
            (_, false) => 1,
            (Why::Read, true) => lost,
            (_, true) => lost.max(1),
        };
        let kind = match why {
            Why::Done | Why::Read | Why::Cut => Kind::Read,
            Why::Write => Kind::Write,
            Why::Timeout => Kind::Timeout,
            Why::Framing => Kind::Framing,
        };
        self.count_error(now, n, kind);
        if self.shared.stop.load(Ordering::Relaxed) {
            return;
        }
        if self.conns[i].fresh {
            self.conns[i].retry_at = Some(now + RECONNECT_DELAY);
        } else {
            self.connect(i, now);
        }
    }
}

fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}
