//! A worker thread: one `mio::Poll`, one listener handle, one slab of connections,
//! and the service that speaks the server's protocol.
//!
//! The loop: wait for readiness (the timeout is the nearest deadline), accept
//! ([`super::admission`]), serve connection events, resume the sessions the
//! service has events for (after a wake-up), serve connections re-queued for
//! fairness, fire due timers, let the service act on other connections
//! ([`Service::end_turn`]) and send what it queued, and when stop was requested,
//! drain and leave. Nothing on this path takes a lock; counters are single-writer
//! atomics.
//!
//! The slab and the per-worker driving state are separate fields
//! ([`Worker::conns`] and [`Driver`]) so that a connection borrowed from the slab
//! can be driven by `Driver` methods.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Poll};
use slab::Slab;

use super::accept::AcceptBackoff;
use super::connection::{conn_id, live, Connection, Phase, Timeouts};
use super::drive::{deadline, is_idle, parked};
use super::driver::{Driver, Readiness, Verdict, READ_BUFFER};
use super::gate::LocalGate;
use super::peers::Peers;
use super::pool::BufferPool;
use super::timers::Timers;
use super::token::{ConnToken, LISTENER, WAKER};
use super::upstream::Outbound;
use crate::server_core::ServerCore;
use crate::service::{Reply, Service, Wake};
use crate::stats::State;

/// Readiness events taken per poll.
const EVENTS: usize = 1024;

/// How a worker's connections ended during a stop.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WorkerReport {
    pub(crate) idle_closed: u64,
    pub(crate) drained: u64,
    pub(crate) force_closed: u64,
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
    shared: Arc<ServerCore>,
    own: Arc<S::Own>,
) -> WorkerReport {
    shared.adopt_current_thread();
    let mut worker = Worker::<S>::new(setup, shared.clone(), &own);
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
        S::last_exited(&own, &shared);
    }
    worker.report
}

pub(super) struct Worker<S: Service> {
    pub(super) conns: Slab<Connection<S::Session>>,
    pub(super) driver: Driver,
    pub(super) service: S,
    pub(super) events: Events,
    pub(super) listener: Option<TcpListener>,
    pub(super) timers: Timers,
    pub(super) backoff: AcceptBackoff,
    /// The connect fault in force here, and connections it parked.
    pub(super) gate: LocalGate,
    /// The accept queue may hold more connections (a batch ended early).
    pub(super) accept_more: bool,
    pub(super) next_generation: u32,
    /// Set once this worker has begun stopping.
    pub(super) stop_deadline: Option<Instant>,
    pub(super) report: WorkerReport,
    /// Events for parked sessions, taken from the service (kept for its capacity).
    pub(super) wakes: Vec<(mio::Token, S::Event)>,
    /// Connections closed in this turn of the loop (reliability build only).
    #[cfg(feature = "tiny-buffers")]
    pub(super) closed_this_turn: u64,
}

impl<S: Service> Worker<S> {
    fn new(setup: WorkerSetup, shared: Arc<ServerCore>, own: &S::Own) -> Worker<S> {
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
            upstream: Outbound::default(),
            shared_lost: 0,
            evicted: Vec::new(),
            shared: shared.clone(),
        };
        Worker {
            conns: Slab::new(),
            service: S::start(setup.index, &shared, own),
            driver,
            events: Events::with_capacity(EVENTS),
            listener: Some(setup.listener),
            timers: Timers::default(),
            backoff: AcceptBackoff::default(),
            gate: LocalGate::default(),
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

    /// Runs `step` on connection `ct` if it still exists (a stale token is
    /// ignored), with panics caught: a panic closes that connection and is counted
    /// as an internal error. Then closes the connection or re-arms its timer.
    pub(super) fn step(
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
            if !live(&mut self.conns, ct).is_some_and(|c| parked::<S>(c)) {
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
        let stop_idle = self.driver.stopping && is_idle::<S>(&self.conns[index]);
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
            let (wait, deadline) = deadline::<S>(conn, &self.driver.timeouts);
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
            .filter(|(_, c)| is_idle::<S>(c))
            .map(|(i, _)| i)
            .collect();
        for index in idle {
            // A goodbye the protocol has for it (a WebSocket close frame, 1001):
            // one send that is never waited for, so a stop cannot hang on it.
            if let Some(bye) = S::farewell(&self.conns[index].session) {
                self.driver.begin_reply();
                self.driver.out.bytes().extend_from_slice(bye);
                let _ = self.driver.send_answer(&mut self.conns[index]);
            }
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
        if conn.phase == Phase::Evicted {
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

/// Makes sure the timer heap holds an entry no later than the connection's deadline.
pub(super) fn arm_timer<S: Service>(
    timers: &mut Timers,
    conn: &mut Connection<S::Session>,
    timeouts: &Timeouts,
) {
    let (_, deadline) = deadline::<S>(conn, timeouts);
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
