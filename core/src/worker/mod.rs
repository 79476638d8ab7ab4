//! A worker thread: one `mio::Poll`, one listener handle, one slab of connections.
//!
//! The loop: wait for readiness (the timeout is the nearest deadline), accept,
//! serve connection events, serve connections re-queued for fairness, fire due
//! timers, and when stop was requested, drain and leave. Nothing on this path takes
//! a lock; counters are single-writer atomics.
//!
//! The slab and the I/O state are separate fields ([`Worker::conns`] and [`Io`]) so
//! that a connection borrowed from the slab can be driven by `Io` methods.

mod accept;
mod connection;
mod fanout;
mod gate;
mod output;
mod pool;
mod timers;
mod token;

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll};
use slab::Slab;

use crate::config::{Protocol, SlowConsumer};
use crate::connect_fault::ConnectFault;
use crate::handler_pool::{HandlerPool, Job, Outcome};
use crate::net;
use crate::protocol::http::{self, response, DateCache, Hold};
use crate::protocol::out::Out;
use crate::protocol::{Ctx, Limits, Next, Session};
use crate::rooms::hub::Hub;
use crate::rooms::registry::Incoming;
use crate::routing::table::RouteTable;
use crate::routing::{reason, ConnectionRecord, Prepared, Response};
use crate::shared::Shared;
use crate::stats::{Counters, State};
use crate::tls::session::{TlsRead, TlsSession};
use accept::{AcceptBackoff, AcceptErrorKind, ACCEPT_BATCH};
use connection::{sink, Connection, Phase, Timeouts, Wait};
use pool::BufferPool;
use timers::Timers;
use token::ConnToken;

pub(crate) use token::{LISTENER, WAKER};

/// Size of the per-worker read buffer every connection reads into.
#[cfg(not(feature = "tiny-buffers"))]
const READ_BUFFER: usize = 64 * 1024;
/// The reliability build reads a few bytes at a time: requests and frames arrive
/// in pieces.
#[cfg(feature = "tiny-buffers")]
const READ_BUFFER: usize = 100;
/// Bytes read from one connection per turn before the others get theirs: one
/// full read buffer. A client that sends without pause (a pipelining client, a
/// publisher whose frames fan out to a room) is served this much, then requeued
/// behind everyone else; larger budgets let it stretch a turn to milliseconds.
const READ_BUDGET: usize = READ_BUFFER;
/// Reads from one connection per turn at most, however short (TLS hands over one
/// record at a time).
const READS_PER_EVENT: usize = 16;
/// Bytes of answers one connection gets per turn (its output limit permitting):
/// a pipelining client's further requests wait in its input until the next turn,
/// behind everyone else. A single answer larger than this still goes out whole.
const ANSWER_BUDGET: usize = 64 * 1024;
/// Capacity the answer buffer keeps between batches; a burst beyond it is freed.
const OUT_KEEP: usize = 256 * 1024;
/// Readiness events taken per poll.
const EVENTS: usize = 1024;

/// How a worker's connections ended during a stop.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WorkerReport {
    pub(crate) idle_closed: u64,
    pub(crate) drained: u64,
    pub(crate) force_closed: u64,
}

/// What to do with a connection after driving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Keep,
    Close,
}

/// Why a held answer is being released.
enum Release {
    /// Its deadline passed: a delay or drip step is due, or a handler timed out.
    Due,
    /// Its handler finished.
    Handled(Outcome),
}

/// Why a connection is being closed; decides what a stop report counts it as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseCause {
    /// Its own course: protocol close, client close, error, timeout.
    Natural,
    /// Closed at the start of a stop because nothing was in flight.
    StopIdle,
    /// Still busy at the stop deadline.
    StopForced,
}

/// What an event says about a connection.
#[derive(Debug, Clone, Copy)]
struct Readiness {
    readable: bool,
    writable: bool,
    /// Read until WouldBlock even after a short read. A short read normally means
    /// the socket is empty and later bytes bring a new edge; but when the peer's FIN
    /// arrived before this event was collected, no further edge will announce it,
    /// so then (and for re-queued connections) reading goes on until EOF/WouldBlock.
    read_until_blocked: bool,
}

impl Readiness {
    const REQUEUED: Readiness = Readiness {
        readable: true,
        writable: false,
        read_until_blocked: true,
    };

    fn of(event: &mio::event::Event) -> Readiness {
        let hangup = event.is_read_closed() || event.is_error();
        Readiness {
            readable: event.is_readable() || hangup,
            writable: event.is_writable() || event.is_error(),
            read_until_blocked: hangup,
        }
    }
}

/// Everything a worker thread needs, built before it is spawned so that start can
/// fail cleanly.
pub(crate) struct WorkerSetup {
    pub(crate) index: usize,
    pub(crate) poll: Poll,
    pub(crate) listener: TcpListener,
}

/// Runs a worker to completion; a panic or a failed poll marks the server failed.
pub(crate) fn run(setup: WorkerSetup, shared: Arc<Shared>) -> WorkerReport {
    shared.adopt_current_thread();
    let mut worker = Worker::new(setup, shared.clone());
    let outcome = catch_unwind(AssertUnwindSafe(|| worker.run()));
    let _ = catch_unwind(AssertUnwindSafe(|| worker.release_inbox()));
    let failed = !matches!(outcome, Ok(Ok(())));
    if failed {
        shared.set_state(State::Failed);
        // Free what is left so that the connection count stays right.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            worker.close_all(CloseCause::StopForced)
        }));
    }
    shared.gate.applied(worker.io.index, u64::MAX);
    shared.worker_exited();
    worker.report
}

struct Worker {
    conns: Slab<Connection>,
    io: Io,
    events: Events,
    listener: Option<TcpListener>,
    timers: Timers,
    backoff: AcceptBackoff,
    /// The connect fault in force here, and connections it parked.
    gate: gate::LocalGate,
    /// The accept queue may hold more connections (a batch ended early).
    accept_more: bool,
    next_generation: u32,
    /// Set once this worker has begun stopping.
    stop_deadline: Option<Instant>,
    report: WorkerReport,
    /// Connections closed in this turn of the loop (reliability build only).
    #[cfg(feature = "tiny-buffers")]
    closed_this_turn: u64,
}

/// The per-worker state used to drive one connection.
struct Io {
    shared: Arc<Shared>,
    index: usize,
    poll: Poll,
    protocol: Protocol,
    limits: Limits,
    timeouts: Timeouts,
    max_output: usize,
    read_buf: Vec<u8>,
    /// What the session being driven answers; sent, or queued on its connection.
    out: Out,
    pool: BufferPool,
    date: DateCache,
    now: Instant,
    stopping: bool,
    /// Connections to serve again on the next turn (fairness, resumed reading).
    requeue: Vec<ConnToken>,
    /// This worker's snapshot of the route table and the version it was taken at.
    routes: Arc<RouteTable>,
    routes_version: u64,
    /// The answer when routes exist and none matches.
    unmatched: Arc<Prepared>,
    fixed_response: bool,
    handler_timeout: Duration,
    next_job: u64,
    /// Rooms (frame protocol only).
    hub: Option<Hub>,
    slow_consumer: SlowConsumer,
    /// Deliveries taken from this worker's inbox (kept for its capacity).
    incoming: Vec<Incoming>,
    /// Connections with broadcast frames queued this turn, to flush.
    flushing: Vec<ConnToken>,
    /// Slow consumers to disconnect after this turn's deliveries.
    doomed: Vec<ConnToken>,
    /// Shared segments sent whole this turn (room frames, with rooms), not yet
    /// in the counters.
    delivered: u64,
}

impl Worker {
    fn new(setup: WorkerSetup, shared: Arc<Shared>) -> Worker {
        let c = &shared.config;
        // The version first: a change after it is seen at the next request.
        let routes_version = shared.routes.version();
        let routes = shared.routes.snapshot();
        let io = Io {
            index: setup.index,
            poll: setup.poll,
            protocol: c.protocol,
            limits: Limits::from_config(c),
            timeouts: Timeouts {
                idle: c.idle_timeout,
                request: c.header_timeout,
                write: c.write_timeout,
            },
            max_output: c.max_output_bytes,
            read_buf: vec![0; READ_BUFFER],
            out: Out::with_capacity(READ_BUFFER),
            pool: BufferPool::default(),
            date: DateCache::new(),
            now: Instant::now(),
            stopping: false,
            requeue: Vec::new(),
            routes_version,
            // Changed before this thread started, maybe.
            unmatched: routes
                .unmatched
                .clone()
                .unwrap_or_else(|| Arc::new(unmatched_answer(c.unmatched_status))),
            routes,
            fixed_response: c.fixed_response,
            handler_timeout: c.handler_timeout,
            next_job: 0,
            hub: (c.protocol == Protocol::Frame)
                .then(|| Hub::new(setup.index, c.workers, shared.rooms.clone())),
            slow_consumer: c.slow_consumer,
            incoming: Vec::new(),
            flushing: Vec::new(),
            doomed: Vec::new(),
            delivered: 0,
            shared,
        };
        Worker {
            conns: Slab::new(),
            io,
            events: Events::with_capacity(EVENTS),
            listener: Some(setup.listener),
            timers: Timers::default(),
            backoff: AcceptBackoff::default(),
            gate: gate::LocalGate::default(),
            accept_more: false,
            next_generation: 0,
            stop_deadline: None,
            report: WorkerReport::default(),
            #[cfg(feature = "tiny-buffers")]
            closed_this_turn: 0,
        }
    }

    fn run(&mut self) -> io::Result<()> {
        loop {
            if self.io.shared.stop_requested() && self.stop_deadline.is_none() {
                self.begin_stop();
            }
            if let Some(deadline) = self.stop_deadline {
                if self.conns.is_empty() {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    self.close_all(CloseCause::StopForced);
                    return Ok(());
                }
            }
            let timeout = self.poll_timeout();
            match self.io.poll.poll(&mut self.events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.io.now = Instant::now();
            #[cfg(feature = "tiny-buffers")]
            {
                self.closed_this_turn = 0;
            }
            // A stop requested while polling is seen before this batch is served:
            // whatever a handler answered after calling stop then says `close`.
            if self.io.shared.stop_requested() && self.stop_deadline.is_none() {
                self.begin_stop();
            }
            if self.io.protocol == Protocol::Http {
                self.io.date.refresh(SystemTime::now());
            }
            let mut accept_ready = false;
            let mut woken = false;
            // Swap the event buffer out so that serving may borrow the worker.
            let events = std::mem::replace(&mut self.events, Events::with_capacity(0));
            for event in events.iter() {
                match event.token() {
                    LISTENER => accept_ready = true,
                    WAKER => woken = true,
                    token => {
                        if let Some(ct) = ConnToken::from_token(token) {
                            self.serve(ct, Readiness::of(event));
                        }
                    }
                }
            }
            self.events = events;
            if woken {
                self.apply_gate();
                self.finish_handled();
                self.take_inbox();
            }
            if self.backoff.resume_if_due(self.io.now) {
                self.accept_more = true;
            }
            if accept_ready || self.accept_more {
                self.accept_batch();
            }
            self.serve_requeued();
            if self.gate.next_due().is_some() {
                self.admit_parked();
            }
            self.fire_timers();
            self.fan_out();
            self.io.count_delivered();
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.io.requeue.is_empty() || self.accept_more {
            return Some(Duration::ZERO);
        }
        let next = [
            self.timers.next(),
            self.backoff.paused_until(),
            self.gate.next_due(),
            self.stop_deadline,
        ]
        .into_iter()
        .flatten()
        .min()?;
        // Round up so that the deadline has passed when poll returns.
        Some(next.saturating_duration_since(Instant::now()) + Duration::from_millis(1))
    }

    fn accept_batch(&mut self) {
        self.accept_more = false;
        // A stop requested while this batch of events was collected: accept nothing more.
        if self.backoff.paused_until().is_some()
            || self.io.shared.stop_requested()
            || matches!(
                self.gate.fault,
                Some(ConnectFault::Hold | ConnectFault::Refuse)
            )
        {
            return;
        }
        for _ in 0..ACCEPT_BATCH {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, _peer)) => {
                    self.backoff.reset();
                    if self.gate.fault.is_none() {
                        self.admit(stream);
                    } else {
                        self.admit_faulted(stream);
                    }
                }
                Err(e) => match accept::classify(&e) {
                    AcceptErrorKind::Drained => return,
                    AcceptErrorKind::Skip => continue,
                    AcceptErrorKind::Exhausted | AcceptErrorKind::Other => {
                        self.io.counters().accept_errors.incr();
                        self.backoff.pause(self.io.now);
                        return;
                    }
                },
            }
        }
        // The batch is full: more may be queued, and no new edge will announce them.
        self.accept_more = true;
    }

    fn admit(&mut self, mut stream: TcpStream) {
        let shared = &self.io.shared;
        if shared.active.fetch_add(1, Ordering::AcqRel) >= shared.config.max_connections {
            shared.active.fetch_sub(1, Ordering::AcqRel);
            self.io.counters().connections_refused.incr();
            // (Over TLS the 503 would need a handshake first: the refusal is the close.)
            if self.io.protocol == Protocol::Http && shared.tls.is_none() {
                // Best effort: a fresh socket's send buffer is empty, so this fits.
                if let Ok(n) = stream.write(response::SERVICE_UNAVAILABLE) {
                    self.io.counters().bytes_written.add(n as u64);
                }
                let _ = stream.shutdown(Shutdown::Write);
            }
            return;
        }
        #[cfg(feature = "tiny-buffers")]
        if self.closed_this_turn > 0 {
            crate::test_hooks::SAME_TURN_REUSES.fetch_add(1, Ordering::Relaxed);
        }
        // Latency matters more than packet count for a request/response server.
        let _ = stream.set_nodelay(true);
        let entry = self.conns.vacant_entry();
        let token = ConnToken {
            index: entry.key() as u32,
            generation: self.next_generation,
        };
        self.next_generation = self.next_generation.wrapping_add(1);
        if self
            .io
            .poll
            .registry()
            .register(&mut stream, token.to_token(), Interest::READABLE)
            .is_err()
        {
            self.io.shared.active.fetch_sub(1, Ordering::AcqRel);
            self.io.counters().accept_errors.incr();
            return;
        }
        let tls = match &self.io.shared.tls {
            None => None,
            Some(t) => match TlsSession::new(&t.config, t.fault, t.http) {
                Ok(s) => Some(Box::new(s)),
                Err(_) => {
                    self.io.shared.active.fetch_sub(1, Ordering::AcqRel);
                    self.io.counters().accept_errors.incr();
                    return;
                }
            },
        };
        let session = Session::new(self.io.protocol);
        let conn = entry.insert(Connection::new(stream, token, session, self.io.now));
        if tls.is_some() {
            // The handshake runs against the header timeout, as a request would.
            conn.started = Some(self.io.now);
            conn.tls = tls;
        }
        self.io.counters().connections_accepted.incr();
        arm_timer(&mut self.timers, conn, &self.io.timeouts);
    }

    /// Runs `step` on connection `ct` if it still exists (a stale token is
    /// ignored), with panics caught: a panic closes that connection and is counted
    /// as an internal error. Then closes the connection or re-arms its timer.
    fn step(&mut self, ct: ConnToken, step: impl FnOnce(&mut Io, &mut Connection) -> Fate) {
        let Some(conn) = live(&mut self.conns, ct) else {
            return;
        };
        let io = &mut self.io;
        let fate = catch_unwind(AssertUnwindSafe(|| step(io, conn))).unwrap_or_else(|_| {
            self.io.counters().internal_errors.incr();
            Fate::Close
        });
        self.conclude(ct.index as usize, fate);
    }

    /// Drives one connection for a readiness event.
    fn serve(&mut self, ct: ConnToken, ready: Readiness) {
        self.step(ct, |io, conn| io.drive(conn, ready));
    }

    /// Answers the requests whose handlers have returned.
    fn finish_handled(&mut self) {
        for done in self.io.shared.take_completions(self.io.index) {
            let Some(ct) = ConnToken::from_token(done.token) else {
                continue;
            };
            let awaited = live(&mut self.conns, ct).is_some_and(|conn| {
                matches!(conn.hold.as_deref(),
                    Some(Hold::AwaitHandler { job, .. }) if *job == done.id)
            });
            if !awaited {
                continue; // closed meanwhile, or already answered 500 for a timeout
            }
            let outcome = done.outcome;
            self.step(ct, |io, conn| io.end_hold(conn, Release::Handled(outcome)));
        }
    }

    fn serve_requeued(&mut self) {
        if self.io.requeue.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.io.requeue);
        for &ct in &batch {
            let Some(conn) = live(&mut self.conns, ct) else {
                continue; // closed meanwhile
            };
            conn.requeued = false;
            self.serve(ct, Readiness::REQUEUED);
        }
        if self.io.requeue.is_empty() {
            batch.clear();
            self.io.requeue = batch; // keep the capacity
        }
    }

    /// After driving a connection: close it, or re-arm its timer.
    fn conclude(&mut self, index: usize, fate: Fate) {
        let stop_idle = self.io.stopping && self.conns[index].is_idle();
        if fate == Fate::Close || stop_idle {
            self.close(index, CloseCause::Natural);
        } else {
            arm_timer(&mut self.timers, &mut self.conns[index], &self.io.timeouts);
        }
    }

    fn fire_timers(&mut self) {
        let now = self.io.now;
        while let Some((at, ct)) = self.timers.pop_due(now) {
            let Some(conn) = live(&mut self.conns, ct) else {
                continue;
            };
            if conn.timer_at != Some(at) {
                continue; // stale entry
            }
            conn.timer_at = None;
            let (wait, deadline) = conn.deadline(&self.io.timeouts);
            if deadline > now {
                arm_timer(&mut self.timers, conn, &self.io.timeouts);
                continue;
            }
            self.step(ct, |io, conn| io.expire(conn, wait));
        }
    }

    /// Stop accepting, close idle connections, let the rest finish until the deadline.
    fn begin_stop(&mut self) {
        let request = self.io.shared.stop_request();
        self.stop_deadline = Some(request.map_or_else(Instant::now, |r| r.deadline));
        self.io.stopping = true;
        if let Some(mut listener) = self.listener.take() {
            let _ = self.io.poll.registry().deregister(&mut listener);
        }
        self.accept_more = false;
        self.gate.clear();
        let idle: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.is_idle())
            .map(|(i, _)| i)
            .collect();
        for index in idle {
            self.close(index, CloseCause::StopIdle);
        }
    }

    fn close_all(&mut self, cause: CloseCause) {
        let all: Vec<usize> = self.conns.iter().map(|(i, _)| i).collect();
        for index in all {
            self.close(index, cause);
        }
    }

    /// The one place a connection is closed: socket, slot, buffers and counts.
    fn close(&mut self, index: usize, cause: CloseCause) {
        let Some(mut conn) = self.conns.try_remove(index) else {
            return;
        };
        if let (Session::Frame(s), Some(hub)) = (&mut conn.session, self.io.hub.as_mut()) {
            if let Some(m) = s.take_membership() {
                hub.leave(m);
            }
        }
        if self.io.hub.is_some() {
            // Room frames still queued (or partly sent) never reach this member.
            self.io
                .counters()
                .frames_dropped
                .add(conn.output.shared_pending());
        }
        self.io.pool.reclaim(&mut conn.input);
        conn.output.clear(&mut self.io.pool);
        // Count before closing: a client that sees the close finds it in the stats.
        self.io.shared.active.fetch_sub(1, Ordering::AcqRel);
        self.io.counters().connections_closed.incr();
        #[cfg(feature = "tiny-buffers")]
        {
            self.closed_this_turn += 1;
        }
        if let Some(log) = &self.io.shared.connections {
            log.push(ConnectionRecord {
                id: conn_id(conn.token, self.io.index),
                closed_by: conn.closed_by(),
            });
        }
        drop(conn); // closes the socket, which also removes it from the poll
        if self.stop_deadline.is_some() {
            match cause {
                CloseCause::StopIdle => self.report.idle_closed += 1,
                CloseCause::StopForced => self.report.force_closed += 1,
                CloseCause::Natural => self.report.drained += 1,
            }
        }
    }
}

/// The answer to requests no route matches: `status` and its reason phrase.
pub(crate) fn unmatched_answer(status: u16) -> Prepared {
    Prepared::new(&Response::text(status, format!("{}\n", reason(status))))
}

/// The id a connection's requests carry: unique within the server.
#[inline]
fn conn_id(token: ConnToken, worker: usize) -> u64 {
    u64::from(token.generation) << 8 | worker as u64
}

/// The connection `ct` names, if it is still the one in its slot (a closed
/// connection's slot may hold a newer one: the generation tells them apart).
fn live(conns: &mut Slab<Connection>, ct: ConnToken) -> Option<&mut Connection> {
    conns
        .get_mut(ct.index as usize)
        .filter(|conn| conn.token == ct)
}

/// Makes sure the timer heap holds an entry no later than the connection's deadline.
fn arm_timer(timers: &mut Timers, conn: &mut Connection, timeouts: &Timeouts) {
    let (_, deadline) = conn.deadline(timeouts);
    if conn.timer_at.is_none_or(|at| deadline < at) {
        conn.timer_at = Some(deadline);
        timers.arm(deadline, conn.token);
    }
}

impl Io {
    #[inline]
    fn counters(&self) -> &Counters {
        &self.shared.counters[self.index]
    }

    /// Puts `conn` on the list to serve again next turn, unless it is on it already:
    /// a connection that asks again in the same turn (a new edge while requeued)
    /// still gets one budget per turn.
    fn requeue(&mut self, conn: &mut Connection) {
        if !conn.requeued {
            conn.requeued = true;
            self.requeue.push(conn.token);
        }
    }

    /// What a session gets to work with; its output starts empty in `out`, and it
    /// may answer until the connection's pending output reaches `max_output`, or
    /// [`ANSWER_BUDGET`] this turn.
    /// Takes the newest route table first if it changed (one atomic load otherwise).
    fn protocol_ctx(&mut self, token: ConnToken, pending: usize) -> Ctx<'_> {
        let version = self.shared.routes.version();
        if version != self.routes_version {
            self.routes = self.shared.routes.snapshot();
            self.routes_version = version;
            if let Some(u) = &self.routes.unmatched {
                self.unmatched = u.clone();
            }
        }
        self.out.clear(OUT_KEEP);
        Ctx {
            out: &mut self.out,
            out_budget: self.max_output.saturating_sub(pending).min(ANSWER_BUDGET),
            counters: &self.shared.counters[self.index],
            limits: &self.limits,
            date: self.date.as_bytes(),
            stopping: self.stopping,
            routes: &self.routes,
            log: self.shared.log.as_ref(),
            misses: &self.shared.misses,
            unmatched: &self.unmatched,
            fixed_response: self.fixed_response,
            now: self.now,
            // Unique per server: generations are unique per worker.
            conn_id: conn_id(token, self.index),
            token: token.to_token(),
            hub: self.hub.as_mut(),
        }
    }

    /// Input kept while an answer is held; beyond this, reading pauses.
    fn held_input_limit(&self) -> usize {
        self.limits.max_header_bytes.max(READ_BUFFER)
    }

    /// Serves one readiness event: flush, read and answer, then settle interest.
    fn drive(&mut self, conn: &mut Connection, ready: Readiness) -> Fate {
        if ready.writable && conn.pending_output() > 0 && self.flush(conn) == Fate::Close {
            return Fate::Close;
        }
        if self.can_resume(conn) && self.resume_input(conn) == Fate::Close {
            return Fate::Close;
        }
        if ready.readable && self.read(conn, ready.read_until_blocked) == Fate::Close {
            return Fate::Close;
        }
        self.settle(conn)
    }

    /// Reads until the socket is drained, the read budget is spent, or reading must
    /// pause; every chunk is handed to the protocol as it arrives.
    fn read(&mut self, conn: &mut Connection, until_blocked: bool) -> Fate {
        let mut taken = 0;
        for _ in 0..READS_PER_EVENT {
            if conn.read_closed
                || conn.read_suspended
                || conn.input_paused
                || matches!(conn.phase, Phase::Closing | Phase::Evicted)
            {
                return Fate::Keep;
            }
            if conn.hold.is_some() && conn.input.len() >= self.held_input_limit() {
                return Fate::Keep; // resumed when the hold ends
            }
            let mut buf = std::mem::take(&mut self.read_buf);
            let result = match conn.tls.as_deref_mut() {
                None => read_retrying(&mut conn.stream, &mut buf),
                Some(tls) => {
                    let r = tls.read(&conn.stream, &mut buf);
                    if tls.take_established() && conn.input.is_empty() && conn.session.is_idle() {
                        conn.started = None; // handshake done: the connection is idle
                    }
                    match r {
                        TlsRead::Data(n) => Ok(n),
                        TlsRead::Blocked => Err(io::ErrorKind::WouldBlock.into()),
                        TlsRead::Reset => {
                            let _ = socket2::SockRef::from(&conn.stream)
                                .set_linger(Some(Duration::ZERO));
                            Err(io::ErrorKind::ConnectionReset.into())
                        }
                        TlsRead::Close => {
                            self.counters().protocol_errors.incr();
                            Err(io::ErrorKind::InvalidData.into())
                        }
                    }
                }
            };
            let fate = match result {
                Ok(0) => {
                    conn.read_closed = true;
                    Fate::Keep
                }
                Ok(n) => {
                    self.counters().bytes_read.add(n as u64);
                    conn.last_activity = self.now;
                    let fate = if conn.phase == Phase::Open {
                        self.consume(conn, &buf[..n])
                    } else {
                        Fate::Keep // lingering: drop the input
                    };
                    // (A short TLS read says nothing about the socket: read on.)
                    let drained = n < buf.len() && !until_blocked && conn.tls.is_none();
                    self.read_buf = buf;
                    if fate == Fate::Close || drained {
                        // A short read emptied the socket and the next byte brings a new
                        // edge, unless the FIN came with this edge (see Readiness).
                        return fate;
                    }
                    taken += n;
                    if taken >= READ_BUDGET {
                        break;
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Fate::Keep,
                Err(e) => {
                    conn.peer_reset = e.kind() == io::ErrorKind::ConnectionReset;
                    Fate::Close
                }
            };
            self.read_buf = buf;
            return fate;
        }
        // Budget spent with data still waiting: serve others first, then come back.
        self.requeue(conn);
        Fate::Keep
    }

    /// Feeds newly read bytes (after any buffered partial input) to the session and
    /// sends what it answers. While an answer is held, input is only kept.
    fn consume(&mut self, conn: &mut Connection, data: &[u8]) -> Fate {
        if conn.hold.is_some() {
            if !data.is_empty() {
                if conn.input.capacity() == 0 {
                    conn.input = self.pool.take();
                }
                conn.input.extend_from_slice(data);
            }
            return Fate::Keep;
        }
        let mut ctx = self.protocol_ctx(conn.token, conn.output.len());
        let next = if conn.input.is_empty() {
            let progress = conn.session.on_input(data, &mut ctx);
            let rest = &data[progress.consumed..];
            if !rest.is_empty() && !progress.next.ends() {
                if conn.input.capacity() == 0 {
                    conn.input = self.pool.take();
                }
                conn.input.extend_from_slice(rest);
            }
            progress.next
        } else {
            conn.input.extend_from_slice(data);
            let progress = conn.session.on_input(&conn.input, &mut ctx);
            conn.input.drain(..progress.consumed);
            if progress.next.ends() {
                conn.input.clear();
            }
            progress.next
        };
        if conn.input.is_empty() {
            self.pool.reclaim(&mut conn.input);
        }
        self.apply(conn, next)
    }

    /// Answers one batch (an answer budget) of the input kept back by
    /// [`Next::Pause`]. If more is kept and the socket took the answers at once,
    /// the connection comes back next turn, after the others.
    fn resume_input(&mut self, conn: &mut Connection) -> Fate {
        conn.input_paused = false;
        if self.consume(conn, &[]) == Fate::Close {
            return Fate::Close;
        }
        if self.can_resume(conn) {
            self.requeue(conn);
        }
        Fate::Keep
    }

    /// Input kept back by [`Next::Pause`] may be answered now: nothing is held or
    /// parked, and the output has drained to half its limit.
    #[inline]
    fn can_resume(&self, conn: &Connection) -> bool {
        conn.input_paused
            && conn.hold.is_none()
            && !conn.session.parked()
            && conn.pending_output() <= self.max_output / 2
    }

    /// Acts on what the session decided, then sends what it answered.
    fn apply(&mut self, conn: &mut Connection, next: Next) -> Fate {
        match next {
            Next::Continue => {}
            Next::Pause => conn.input_paused = true,
            Next::Close => conn.phase = Phase::Closing,
            Next::Reset => {
                // What was answered before goes out if the socket takes it now.
                let _ = self.send_answer(conn);
                let _ = socket2::SockRef::from(&conn.stream).set_linger(Some(Duration::ZERO));
                return Fate::Close;
            }
            Next::Hold(hold) => self.hold(conn, hold),
        }
        // The request timer runs while a request is incomplete, not while held or
        // paused for output.
        conn.started = if conn.hold.is_some()
            || conn.input_paused
            || (conn.input.is_empty() && conn.session.is_idle())
        {
            None
        } else {
            Some(conn.started.unwrap_or(self.now))
        };
        self.send_answer(conn)
    }

    /// Parks the connection on an answer to finish later; hands handler requests
    /// to the handler pool.
    fn hold(&mut self, conn: &mut Connection, mut hold: Box<Hold>) {
        if let Hold::RunHandler { .. } = *hold {
            let Hold::RunHandler {
                work,
                request,
                fault,
                meta,
            } = *hold
            else {
                return;
            };
            let id = self.next_job;
            self.next_job += 1;
            let job = Job {
                worker: self.index,
                token: conn.token.to_token(),
                id,
                work,
                request,
            };
            // The pool closes only after every worker has exited, so this succeeds;
            // if it ever did not, the deadline of now answers 500 at once.
            let deadline = if HandlerPool::submit(&self.shared, job) {
                self.now + self.handler_timeout
            } else {
                self.now
            };
            hold = Box::new(Hold::AwaitHandler {
                job: id,
                fault,
                meta,
                deadline,
            });
        }
        conn.hold = Some(hold);
    }

    /// Releases a held answer (see [`Io::release`]) and settles the connection.
    fn end_hold(&mut self, conn: &mut Connection, why: Release) -> Fate {
        if self.release(conn, why) == Fate::Close {
            return Fate::Close;
        }
        self.settle(conn)
    }

    /// A held answer is due or its handler returned: sends it, then resumes with
    /// the input that arrived meanwhile.
    fn release(&mut self, conn: &mut Connection, why: Release) -> Fate {
        let Some(mut hold) = conn.hold.take() else {
            return Fate::Keep;
        };
        let failure = match (&*hold, &why) {
            (Hold::AwaitHandler { .. }, Release::Due) => Some("handler timed out\n"),
            (Hold::AwaitHandler { .. }, Release::Handled(Outcome::Panicked)) => {
                Some("handler failed\n")
            }
            _ => None,
        };
        if failure.is_some()
            || matches!(
                why,
                Release::Handled(Outcome::Failed(_) | Outcome::Routed(Err(_), _))
            )
        {
            self.counters().handler_errors.incr();
        }
        let mut ctx = self.protocol_ctx(conn.token, conn.output.len());
        let next = match &mut *hold {
            Hold::Delay { response, meta, .. } => {
                http::deliver(response.clone(), None, *meta, &mut ctx)
            }
            Hold::Drip { .. } | Hold::Stream { .. } => match http::resume(&mut hold, &mut ctx) {
                Some(next) => next,
                None => {
                    conn.hold = Some(hold);
                    return self.send_answer(conn);
                }
            },
            Hold::AwaitHandler { fault, meta, .. } => {
                let prepared = |r: Response| Arc::new(Prepared::from_response(r));
                match (failure, why) {
                    (None, Release::Handled(Outcome::Answered(r) | Outcome::Failed(r))) => {
                        http::deliver(prepared(r), *fault, *meta, &mut ctx)
                    }
                    // Matches resolved on the handler thread.
                    (None, Release::Handled(Outcome::Static(p, f))) => {
                        http::deliver(p, f, *meta, &mut ctx)
                    }
                    (None, Release::Handled(Outcome::Routed(Ok(r) | Err(r), f))) => {
                        http::deliver(prepared(r), f, *meta, &mut ctx)
                    }
                    (None, Release::Handled(Outcome::Unmatched)) => {
                        http::send_unmatched(*meta, &mut ctx)
                    }
                    (text, _) => http::deliver(
                        prepared(Response::text(500, text.unwrap_or_default())),
                        None,
                        *meta,
                        &mut ctx,
                    ),
                }
            }
            // Never is not due; RunHandler is never stored. Put them back.
            Hold::Never | Hold::RunHandler { .. } => {
                conn.hold = Some(hold);
                return Fate::Keep;
            }
        };
        if self.apply(conn, next) == Fate::Close {
            return Fate::Close;
        }
        if conn.hold.is_some() || conn.phase != Phase::Open {
            return Fate::Keep;
        }
        // Reading may have paused while held; and input kept meanwhile is answered now.
        self.requeue(conn);
        if conn.input.is_empty() {
            Fate::Keep
        } else {
            self.consume(conn, &[])
        }
    }

    /// Sends the session's answer (`out`) after whatever is already queued; keeps
    /// what the socket does not take now in the connection's output queue (large
    /// bodies by reference, the rest copied).
    fn send_answer(&mut self, conn: &mut Connection) -> Fate {
        if self.out.is_empty() {
            return Fate::Keep;
        }
        if conn.output.len() > 0 {
            conn.output.push_rest(&self.out, 0, &mut self.pool);
            return self.flush(conn);
        }
        let Some(bytes) = self.out.as_contiguous() else {
            // Shared bodies: one vectored send straight from the answer; what the
            // socket does not take is queued (bodies by reference).
            let (n, result) =
                output::send_pieces(&mut sink(&conn.stream, &mut conn.tls), &self.out);
            self.note_written(conn, n);
            if result.is_err() {
                return Fate::Close;
            }
            if n < self.out.len() {
                conn.output.push_rest(&self.out, n, &mut self.pool);
            }
            return Fate::Keep;
        };
        let (n, result) = output::send_all(&mut sink(&conn.stream, &mut conn.tls), bytes);
        self.note_written(conn, n);
        if result.is_err() {
            return Fate::Close;
        }
        if n < self.out.len() {
            conn.output.push_rest(&self.out, n, &mut self.pool);
        }
        Fate::Keep
    }

    /// Sends queued output until done or the socket is full.
    fn flush(&mut self, conn: &mut Connection) -> Fate {
        let (n, result) = conn.output.send(
            &mut sink(&conn.stream, &mut conn.tls),
            &mut self.pool,
            &mut self.delivered,
        );
        self.note_written(conn, n);
        if result.is_err() {
            return Fate::Close;
        }
        if conn.output.len() == 0 {
            conn.output.clear(&mut self.pool);
        }
        Fate::Keep
    }

    /// Adds the turn's tally of room frames sent whole (`delivered`) to the
    /// counters: a frame counts as delivered to a member once all of it is
    /// handed to the kernel, never earlier (a slow consumer's queue may still be
    /// cut). (Shared segments of other protocols, large HTTP bodies, are not
    /// frames: without rooms the tally is dropped.)
    #[inline]
    fn count_delivered(&mut self) {
        if self.delivered > 0 && self.hub.is_some() {
            let n = std::mem::take(&mut self.delivered);
            let c = self.counters();
            c.deliveries.add(n);
            c.responses.add(n);
        }
        self.delivered = 0;
    }

    fn note_written(&self, conn: &mut Connection, n: usize) {
        if n > 0 {
            self.counters().bytes_written.add(n as u64);
            conn.last_activity = self.now;
        }
    }

    /// After I/O: apply backpressure, move through the closing phases, and keep
    /// WRITABLE interest registered exactly while output is pending.
    fn settle(&mut self, conn: &mut Connection) -> Fate {
        let pending = conn.pending_output();
        if pending > self.max_output {
            conn.read_suspended = true;
        } else if (conn.read_suspended || (conn.input_paused && !conn.session.parked()))
            && pending <= self.max_output / 2
        {
            conn.read_suspended = false;
            // Input may be waiting (in the socket, or kept back in `input`) with no
            // new edge to announce it.
            self.requeue(conn);
        }
        if pending == 0 {
            match conn.phase {
                Phase::Closing | Phase::Evicted if conn.read_closed && conn.tls.is_none() => {
                    return Fate::Close
                }
                Phase::Closing | Phase::Evicted => {
                    if let Some(tls) = conn.tls.as_deref_mut() {
                        match tls.close(&conn.stream) {
                            Ok(true) if conn.read_closed => return Fate::Close,
                            Ok(true) => {}
                            // close_notify waits for the socket: WRITABLE is wanted.
                            Ok(false) => return self.settle_interest(conn, true),
                            Err(_) => return Fate::Close,
                        }
                    }
                    if conn.stream.shutdown(Shutdown::Write).is_err() {
                        return Fate::Close;
                    }
                    conn.phase = Phase::Lingering;
                    conn.started = Some(self.now);
                    // Input that arrived meanwhile must be drained to see the EOF.
                    self.requeue(conn);
                }
                Phase::Lingering if conn.read_closed => return Fate::Close,
                // The client is gone; an answer still held for it is not, unless it
                // would never come.
                Phase::Open if conn.read_closed && conn.hold.is_none() && !conn.input_paused => {
                    return Fate::Close
                }
                Phase::Open
                    if conn.read_closed && matches!(conn.hold.as_deref(), Some(Hold::Never)) =>
                {
                    return Fate::Close
                }
                _ => {}
            }
        }
        self.settle_interest(conn, pending > 0)
    }

    /// Keeps WRITABLE interest registered exactly while `want_writable`.
    #[inline]
    fn settle_interest(&mut self, conn: &mut Connection, want_writable: bool) -> Fate {
        if want_writable != conn.writable_interest {
            let interest = if want_writable {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let token = conn.token.to_token();
            if self
                .poll
                .registry()
                .reregister(&mut conn.stream, token, interest)
                .is_err()
            {
                return Fate::Close;
            }
            conn.writable_interest = want_writable;
        }
        Fate::Keep
    }

    /// A connection's deadline passed.
    fn expire(&mut self, conn: &mut Connection, wait: Wait) -> Fate {
        match wait {
            Wait::Linger => Fate::Close,
            // A slow consumer (counted once, when it was found slow) that read
            // something since the last look gets another grace.
            Wait::Evict => {
                let backlog = conn.pending_output() + net::kernel_unsent(&conn.stream).unwrap_or(0);
                let reads = match &mut conn.session {
                    Session::Frame(s) => s.evicted_progress(backlog),
                    _ => false,
                };
                if !reads {
                    return Fate::Close;
                }
                conn.started = Some(self.now);
                self.settle(conn)
            }
            Wait::Hold => self.end_hold(conn, Release::Due),
            Wait::Idle | Wait::Write => {
                self.counters().timeouts.incr();
                Fate::Close
            }
            Wait::Request if conn.tls.as_deref().is_some_and(TlsSession::handshaking) => {
                // A handshake not finished in time: nothing to answer over.
                self.counters().timeouts.incr();
                Fate::Close
            }
            Wait::Request => {
                self.counters().timeouts.incr();
                conn.session
                    .on_request_timeout(&mut self.protocol_ctx(conn.token, conn.output.len()));
                conn.input.clear();
                self.pool.reclaim(&mut conn.input);
                conn.phase = Phase::Closing;
                conn.started = None;
                if self.send_answer(conn) == Fate::Close {
                    return Fate::Close;
                }
                self.settle(conn)
            }
        }
    }
}

fn read_retrying(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
