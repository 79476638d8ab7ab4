//! The engine: worker threads, each with one `mio::Poll`, one listener handle, one
//! slab of connections, and the service that speaks the server's protocol.
//!
//! The loop: wait for readiness (the timeout is the nearest deadline), accept,
//! serve connection events, resume the sessions the service has events for (after
//! a wake-up), serve connections re-queued for fairness, fire due timers, let the
//! service act on other connections ([`crate::service::Service::end_turn`]) and
//! send what it queued, and when stop was requested, drain and leave. Nothing on
//! this path takes a lock; counters are single-writer atomics.
//!
//! The engine knows sockets, readiness, buffers and their pool, timers, the read
//! and answer budgets, send queues, TLS ([`tls_io`], a layer under any service),
//! outbound connections ([`upstream`]) and closing; what bytes mean is the
//! service's ([`crate::service`]). The loop is generic over the service, so each
//! protocol gets its own monomorphised copy and no dynamic dispatch.
//!
//! The slab and the per-worker driving state are separate fields
//! ([`Worker::conns`] and [`Driver`]) so that a connection borrowed from the slab
//! can be driven by `Driver` methods.

mod accept;
mod connection;
mod drive;
mod gate;
mod peers;
mod pool;
pub(crate) mod send_queue;
mod timers;
mod tls_io;
mod token;
mod upstream;

use std::io;
use std::net::Shutdown;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll};
use slab::Slab;

use crate::faults::ConnectFault;
use crate::service::{Reply, Service, Services, Wake};
use crate::shared::Shared;
use crate::stats::{Counters, State};
use crate::tls::session::TlsSession;
use accept::{AcceptBackoff, AcceptErrorKind, ACCEPT_BATCH};
use connection::{Connection, Timeouts};
use drive::Driver;
use pool::BufferPool;
use timers::Timers;
use token::ConnToken;

pub(crate) use peers::{Peer, Peers};
pub(crate) use token::{LISTENER, WAKER};

/// Size of the per-worker read buffer every connection reads into.
#[cfg(not(feature = "tiny-buffers"))]
const READ_BUFFER: usize = 64 * 1024;
/// The reliability build reads a few bytes at a time: requests and frames arrive
/// in pieces.
#[cfg(feature = "tiny-buffers")]
const READ_BUFFER: usize = 100;
/// Readiness events taken per poll.
const EVENTS: usize = 1024;

/// How a worker's connections ended during a stop.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WorkerReport {
    pub(crate) idle_closed: u64,
    pub(crate) drained: u64,
    pub(crate) force_closed: u64,
}

/// What becomes of a connection after driving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Keep,
    Close,
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

/// Runs a worker with service `S` to completion; a panic or a failed poll marks
/// the server failed.
pub(crate) fn run<S: Service>(
    setup: WorkerSetup,
    shared: Arc<Shared>,
    services: Arc<Services>,
) -> WorkerReport {
    shared.adopt_current_thread();
    let mut worker = Worker::<S>::new(setup, shared.clone(), &services);
    let outcome = catch_unwind(AssertUnwindSafe(|| worker.run()));
    let _ = catch_unwind(AssertUnwindSafe(|| worker.service.exit()));
    let failed = !matches!(outcome, Ok(Ok(())));
    if failed {
        shared.set_state(State::Failed);
        // Free what is left so that the connection count stays right.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            worker.close_all(CloseCause::StopForced)
        }));
    }
    shared.gate.applied(worker.driver.index, u64::MAX);
    if shared.worker_exited() {
        services.workers_exited(&shared);
    }
    worker.report
}

struct Worker<S: Service> {
    conns: Slab<Connection<S::Session>>,
    driver: Driver,
    service: S,
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
    /// Events for parked sessions, taken from the service (kept for its capacity).
    wakes: Vec<(mio::Token, S::Event)>,
    /// Connections closed in this turn of the loop (reliability build only).
    #[cfg(feature = "tiny-buffers")]
    closed_this_turn: u64,
}

impl<S: Service> Worker<S> {
    fn new(setup: WorkerSetup, shared: Arc<Shared>, services: &Services) -> Worker<S> {
        let c = &shared.config;
        let driver = Driver {
            index: setup.index,
            poll: setup.poll,
            timeouts: Timeouts {
                idle: c.idle_timeout,
                request: c.header_timeout,
                write: c.write_timeout,
            },
            max_output: c.max_output_bytes,
            held_input_limit: c.max_header_bytes.max(READ_BUFFER),
            read_buf: vec![0; READ_BUFFER],
            out: Reply::with_capacity(READ_BUFFER),
            pool: BufferPool::default(),
            now: Instant::now(),
            stopping: false,
            requeue: Vec::new(),
            flushing: Vec::new(),
            shared_sent: 0,
            upstream: crate::service::Outbound::default(),
            shared_lost: 0,
            evicted: Vec::new(),
            shared: shared.clone(),
        };
        Worker {
            conns: Slab::new(),
            service: S::start(setup.index, &shared, services),
            driver,
            events: Events::with_capacity(EVENTS),
            listener: Some(setup.listener),
            timers: Timers::default(),
            backoff: AcceptBackoff::default(),
            gate: gate::LocalGate::default(),
            accept_more: false,
            next_generation: 0,
            stop_deadline: None,
            report: WorkerReport::default(),
            wakes: Vec::new(),
            #[cfg(feature = "tiny-buffers")]
            closed_this_turn: 0,
        }
    }

    fn run(&mut self) -> io::Result<()> {
        loop {
            if self.driver.shared.stop_requested() && self.stop_deadline.is_none() {
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
            match self.driver.poll.poll(&mut self.events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            self.driver.now = Instant::now();
            #[cfg(feature = "tiny-buffers")]
            {
                self.closed_this_turn = 0;
            }
            // A stop requested while polling is seen before this batch is served:
            // whatever a handler answered after calling stop then says `close`.
            if self.driver.shared.stop_requested() && self.stop_deadline.is_none() {
                self.begin_stop();
            }
            self.service.begin_turn();
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
                self.resume_woken();
            }
            if self.backoff.resume_if_due(self.driver.now) {
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
            self.end_turn();
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.driver.requeue.is_empty() || self.accept_more {
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
            || self.driver.shared.stop_requested()
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
                        self.driver.counters().accept_errors.incr();
                        self.backoff.pause(self.driver.now);
                        return;
                    }
                },
            }
        }
        // The batch is full: more may be queued, and no new edge will announce them.
        self.accept_more = true;
    }

    fn admit(&mut self, mut stream: TcpStream) {
        let shared = &self.driver.shared;
        if shared.active.fetch_add(1, Ordering::AcqRel) >= shared.config.max_connections {
            shared.active.fetch_sub(1, Ordering::AcqRel);
            self.driver.counters().connections_refused.incr();
            // (Over TLS the refusal would need a handshake first: the close is it.)
            if let (Some(refusal), None) = (S::REFUSAL, &shared.tls) {
                use std::io::Write;
                // Best effort: a fresh socket's send buffer is empty, so this fits.
                if let Ok(n) = stream.write(refusal) {
                    self.driver.counters().bytes_written.add(n as u64);
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
        self.next_generation = ConnToken::next_generation(self.next_generation);
        if self
            .driver
            .poll
            .registry()
            .register(&mut stream, token.to_token(), Interest::READABLE)
            .is_err()
        {
            self.driver.shared.active.fetch_sub(1, Ordering::AcqRel);
            self.driver.counters().accept_errors.incr();
            return;
        }
        let tls = match &self.driver.shared.tls {
            None => None,
            Some(t) => match TlsSession::new(&t.config, t.fault, t.http) {
                Ok(s) => Some(Box::new(s)),
                Err(_) => {
                    self.driver.shared.active.fetch_sub(1, Ordering::AcqRel);
                    self.driver.counters().accept_errors.incr();
                    return;
                }
            },
        };
        let session = self.service.open();
        let conn = entry.insert(Connection::new(stream, token, session, self.driver.now));
        if tls.is_some() {
            // The handshake runs against the header timeout, as a request would.
            conn.started = Some(self.driver.now);
            conn.tls = tls;
        }
        self.driver.counters().connections_accepted.incr();
        arm_timer::<S>(&mut self.timers, conn, &self.driver.timeouts);
    }

    /// Runs `step` on connection `ct` if it still exists (a stale token is
    /// ignored), with panics caught: a panic closes that connection and is counted
    /// as an internal error. Then closes the connection or re-arms its timer.
    fn step(
        &mut self,
        ct: ConnToken,
        step: impl FnOnce(&mut Driver, &mut S, &mut Connection<S::Session>) -> Verdict,
    ) {
        let Some(conn) = live(&mut self.conns, ct) else {
            return;
        };
        let (driver, service) = (&mut self.driver, &mut self.service);
        let verdict = catch_unwind(AssertUnwindSafe(|| step(driver, service, conn)))
            .unwrap_or_else(|_| {
                self.driver.counters().internal_errors.incr();
                Verdict::Close
            });
        self.conclude(ct.index as usize, verdict);
    }

    /// Drives one connection (or its outbound side) for a readiness event.
    fn serve(&mut self, ct: ConnToken, ready: Readiness) {
        match ct.side() {
            (ct, false) => self.step(ct, |d, svc, conn| d.drive(svc, conn, ready)),
            (ct, true) => self.step(ct, |d, svc, conn| d.drive_upstream(svc, conn, ready)),
        }
    }

    /// Resumes the parked sessions the service has events for (after a wake-up).
    fn resume_woken(&mut self) {
        let mut wakes = std::mem::take(&mut self.wakes);
        self.service.take_events(&mut wakes);
        for (token, event) in wakes.drain(..) {
            let Some(ct) = ConnToken::from_token(token) else {
                continue;
            };
            if !live(&mut self.conns, ct).is_some_and(|c| c.parked::<S>()) {
                continue; // closed meanwhile, or no longer waiting
            }
            self.step(ct, |d, svc, conn| d.resume(svc, conn, Wake::Event(event)));
        }
        self.wakes = wakes;
    }

    fn serve_requeued(&mut self) {
        if self.driver.requeue.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.driver.requeue);
        for &ct in &batch {
            let (client, upstream) = ct.side();
            let Some(conn) = live(&mut self.conns, client) else {
                continue; // closed meanwhile
            };
            if !upstream {
                conn.requeued = false;
            }
            self.serve(ct, Readiness::REQUEUED);
        }
        if self.driver.requeue.is_empty() {
            batch.clear();
            self.driver.requeue = batch; // keep the capacity
        }
    }

    /// The service acts on other connections (a broadcast); then what it queued is
    /// sent, once per connection, and the turn's shared-segment tally reported.
    fn end_turn(&mut self) {
        let mut peers = Peers::new(&mut self.conns, &mut self.driver);
        self.service.end_turn(&mut peers);
        if !self.driver.flushing.is_empty() {
            let list = std::mem::take(&mut self.driver.flushing);
            for &ct in &list {
                self.step(ct, |d, _, conn| {
                    conn.queued = false;
                    if d.flush(conn) == Verdict::Close {
                        Verdict::Close
                    } else {
                        d.settle::<S>(conn)
                    }
                });
            }
            self.driver.flushing = list;
            self.driver.flushing.clear();
        }
        let (sent, lost) = self.driver.take_shared_tally();
        if sent > 0 || lost > 0 {
            self.service
                .shared_sent(sent, lost, &self.driver.shared.counters[self.driver.index]);
        }
    }

    /// After driving a connection: close it, or re-arm its timer.
    fn conclude(&mut self, index: usize, verdict: Verdict) {
        let stop_idle = self.driver.stopping && self.conns[index].is_idle::<S>();
        if verdict == Verdict::Close || stop_idle {
            self.close(index, CloseCause::Natural);
        } else {
            arm_timer::<S>(
                &mut self.timers,
                &mut self.conns[index],
                &self.driver.timeouts,
            );
        }
    }

    fn fire_timers(&mut self) {
        let now = self.driver.now;
        while let Some((at, ct)) = self.timers.pop_due(now) {
            let Some(conn) = live(&mut self.conns, ct) else {
                continue;
            };
            if conn.timer_at != Some(at) {
                continue; // stale entry
            }
            conn.timer_at = None;
            let (wait, deadline) = conn.deadline::<S>(&self.driver.timeouts);
            if deadline > now {
                arm_timer::<S>(&mut self.timers, conn, &self.driver.timeouts);
                continue;
            }
            self.step(ct, |d, svc, conn| d.expire(svc, conn, wait));
        }
    }

    /// Stop accepting, close idle connections, let the rest finish until the deadline.
    fn begin_stop(&mut self) {
        let request = self.driver.shared.stop_request();
        self.stop_deadline = Some(request.map_or_else(Instant::now, |r| r.deadline));
        self.driver.stopping = true;
        if let Some(mut listener) = self.listener.take() {
            let _ = self.driver.poll.registry().deregister(&mut listener);
        }
        self.accept_more = false;
        self.gate.clear();
        let idle: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.is_idle::<S>())
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
        self.service.close(&mut conn.session);
        if conn.phase == connection::Phase::Evicted {
            self.driver.evicted.retain(|(t, _)| *t != conn.token);
        }
        // Shared segments still queued (or partly sent) never reach this client.
        self.driver.note_lost(conn.output.shared_pending());
        self.driver.pool.reclaim(&mut conn.input);
        conn.output.clear(&mut self.driver.pool);
        if let Some(mut up) = conn.upstream.take() {
            self.driver.pool.reclaim(&mut up.input);
            up.output.clear(&mut self.driver.pool);
            let _ = self.driver.poll.registry().deregister(&mut up.stream);
        }
        // Count before closing: a client that sees the close finds it in the stats.
        self.driver.shared.active.fetch_sub(1, Ordering::AcqRel);
        self.driver.counters().connections_closed.incr();
        #[cfg(feature = "tiny-buffers")]
        {
            self.closed_this_turn += 1;
        }
        self.driver.shared.record_close(
            conn_id(conn.token, self.driver.index),
            conn.client_closed_first(),
        );
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

/// The id a connection's requests carry: unique within the server.
#[inline]
fn conn_id(token: ConnToken, worker: usize) -> u64 {
    u64::from(token.generation) << 8 | worker as u64
}

/// The connection `ct` names, if it is still the one in its slot (a closed
/// connection's slot may hold a newer one: the generation tells them apart).
#[inline]
fn live<Sess>(conns: &mut Slab<Connection<Sess>>, ct: ConnToken) -> Option<&mut Connection<Sess>> {
    conns
        .get_mut(ct.index as usize)
        .filter(|conn| conn.token == ct)
}

/// Makes sure the timer heap holds an entry no later than the connection's deadline.
fn arm_timer<S: Service>(
    timers: &mut Timers,
    conn: &mut Connection<S::Session>,
    timeouts: &Timeouts,
) {
    let (_, deadline) = conn.deadline::<S>(timeouts);
    if conn.timer_at.is_none_or(|at| deadline < at) {
        conn.timer_at = Some(deadline);
        timers.arm(deadline, conn.token);
    }
}

/// The size of a connection's record with sessions of type `Sess` (its memory
/// when idle, with no buffer held).
#[cfg(test)]
pub(crate) fn connection_size<Sess>() -> usize {
    std::mem::size_of::<Connection<Sess>>()
}

impl Driver {
    #[inline]
    fn counters(&self) -> &Counters {
        &self.shared.counters[self.index]
    }
}
