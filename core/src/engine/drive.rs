//! Driving one connection through its service: readiness in, reads fed to the
//! session, its answers sent or queued, parked sessions resumed, backpressure,
//! the closing phases, and what a deadline means when it passes.

use std::io;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use super::connection::{conn_id, Connection, Phase, Timeouts, Wait, EVICT_GRACE, LINGER};
use super::driver::{
    read_retrying, Driver, Readiness, Verdict, ANSWER_BUDGET, READS_PER_EVENT, READ_BUDGET,
};
use super::tls_io;
use super::token::ConnToken;
use crate::net;
use crate::service::{Cx, Next, Park, Progress, Service, Wake};

/// Where its parked session waits until (None when not parked).
#[inline]
pub(super) fn park<S: Service>(conn: &Connection<S::Session>) -> Option<Park> {
    S::park(&conn.session)
}

/// Its session is parked ([`crate::service::Next::Park`]): no input is fed to
/// it until it is resumed.
#[inline]
pub(super) fn parked<S: Service>(conn: &Connection<S::Session>) -> bool {
    S::park(&conn.session).is_some()
}

/// Nothing received that still needs an answer, nothing left to send: a stop
/// closes it at once. A session parked forever ([`Park::Never`]: an answer that
/// would never come) counts as idle too.
pub(super) fn is_idle<S: Service>(conn: &Connection<S::Session>) -> bool {
    match conn.phase {
        Phase::Lingering => true,
        Phase::Closing | Phase::Evicted => false,
        Phase::Open => match park::<S>(conn) {
            Some(Park::Never) => conn.pending_output() == 0,
            Some(_) => false,
            None => {
                conn.input.is_empty() && S::is_idle(&conn.session) && conn.pending_output() == 0
            }
        },
    }
}

/// What the connection is waiting for, and until when.
pub(super) fn deadline<S: Service>(conn: &Connection<S::Session>, t: &Timeouts) -> (Wait, Instant) {
    if conn.phase == Phase::Lingering {
        return (
            Wait::Linger,
            conn.started.unwrap_or(conn.last_activity) + LINGER,
        );
    }
    if conn.pending_output() > 0 {
        // (An evicted connection has output pending until it is lingering.)
        if conn.phase == Phase::Evicted {
            return (
                Wait::Evict,
                conn.started.unwrap_or(conn.last_activity) + EVICT_GRACE,
            );
        }
        return (Wait::Write, conn.last_activity + t.write);
    }
    match S::park(&conn.session) {
        Some(Park::Until(at)) => return (Wait::Due, at),
        Some(_) => return (Wait::Idle, conn.last_activity + t.idle),
        None => {}
    }
    match conn.started {
        Some(started) => (Wait::Request, started + t.request),
        None => (Wait::Idle, conn.last_activity + t.idle),
    }
}

impl Driver {
    /// What a session gets to work with: the reply (emptied by
    /// [`Driver::begin_reply`] before an answer starts), to which it may answer
    /// until the connection's pending output reaches `max_output`, or
    /// [`ANSWER_BUDGET`] this turn.
    #[inline]
    pub(super) fn cx(&mut self, token: ConnToken, pending: usize) -> Cx<'_> {
        Cx {
            out: &mut self.out,
            out_budget: self.max_output.saturating_sub(pending).min(ANSWER_BUDGET),
            counters: &self.shared.counters[self.index],
            now: self.now,
            stopping: self.stopping,
            // Unique per server: generations are unique per worker.
            conn_id: conn_id(token, self.index),
            token: token.to_token(),
            upstream: &mut self.upstream,
        }
    }

    /// Serves one readiness event: flush, read and answer, then settle interest.
    pub(super) fn drive<S: Service>(
        &mut self,
        svc: &mut S,
        conn: &mut Connection<S::Session>,
        ready: Readiness,
    ) -> Verdict {
        if ready.writable && conn.pending_output() > 0 && self.flush(conn) == Verdict::Close {
            return Verdict::Close;
        }
        if self.can_resume::<S>(conn) && self.resume_input(svc, conn) == Verdict::Close {
            return Verdict::Close;
        }
        if ready.readable && self.read(svc, conn, ready.read_until_blocked) == Verdict::Close {
            return Verdict::Close;
        }
        self.settle::<S>(conn)
    }

    /// Reads until the socket is drained, the read budget is spent, or reading must
    /// pause; every chunk is handed to the session as it arrives.
    fn read<S: Service>(
        &mut self,
        svc: &mut S,
        conn: &mut Connection<S::Session>,
        until_blocked: bool,
    ) -> Verdict {
        let mut taken = 0;
        for _ in 0..READS_PER_EVENT {
            if conn.read_closed
                || conn.read_suspended
                || conn.input_paused
                || matches!(conn.phase, Phase::Closing | Phase::Evicted)
            {
                return Verdict::Keep;
            }
            if parked::<S>(conn) && conn.input.len() >= self.held_input_limit {
                return Verdict::Keep; // resumed when the session is
            }
            let mut buf = std::mem::take(&mut self.read_buf);
            let result = match conn.tls.as_deref_mut() {
                None => read_retrying(&mut conn.stream, &mut buf),
                Some(tls) => {
                    let r = tls_io::read(tls, &conn.stream, &mut buf, self.counters());
                    if r.established && conn.input.is_empty() && S::is_idle(&conn.session) {
                        conn.started = None; // handshake done: the connection is idle
                    }
                    r.result
                }
            };
            let verdict = match result {
                Ok(0) => {
                    conn.read_closed = true;
                    Verdict::Keep
                }
                Ok(n) => {
                    self.counters().bytes_read.add(n as u64);
                    conn.last_activity = self.now;
                    let verdict = if conn.phase == Phase::Open {
                        self.consume(svc, conn, &buf[..n])
                    } else {
                        Verdict::Keep // lingering: drop the input
                    };
                    // (A short TLS read says nothing about the socket: read on.)
                    let drained = n < buf.len() && !until_blocked && conn.tls.is_none();
                    self.read_buf = buf;
                    if verdict == Verdict::Close || drained {
                        // A short read emptied the socket and the next byte brings a new
                        // edge, unless the FIN came with this edge (see Readiness).
                        return verdict;
                    }
                    taken += n;
                    if taken >= READ_BUDGET {
                        break;
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Verdict::Keep,
                Err(e) => {
                    conn.peer_reset = e.kind() == io::ErrorKind::ConnectionReset;
                    Verdict::Close
                }
            };
            self.read_buf = buf;
            return verdict;
        }
        // Budget spent with data still waiting: serve others first, then come back.
        self.requeue(conn);
        Verdict::Keep
    }

    /// Feeds newly read bytes (after any buffered partial input) to the session and
    /// sends what it answers. While the session is parked, input is only kept.
    fn consume<S: Service>(
        &mut self,
        svc: &mut S,
        conn: &mut Connection<S::Session>,
        data: &[u8],
    ) -> Verdict {
        if parked::<S>(conn) {
            if !data.is_empty() {
                if conn.input.capacity() == 0 {
                    conn.input = self.pool.take();
                }
                conn.input.extend_from_slice(data);
            }
            return Verdict::Keep;
        }
        self.begin_reply();
        let mut next = if conn.input.is_empty() {
            let progress = {
                let mut cx = self.cx(conn.token, conn.output.len());
                svc.on_input(&mut conn.session, data, &mut cx)
            };
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
            let mut cx = self.cx(conn.token, conn.output.len());
            feed(svc, conn, &mut cx)
        };
        // A session that switched protocol takes the rest of the input at once
        // (its answers so far stay in the reply).
        while matches!(next, Next::Switched) {
            next = if conn.input.is_empty() {
                Next::Continue
            } else {
                let mut cx = self.cx(conn.token, conn.output.len());
                feed(svc, conn, &mut cx)
            };
        }
        if conn.input.is_empty() {
            self.pool.reclaim(&mut conn.input);
        }
        self.apply(svc, conn, next)
    }

    /// Answers one batch (an answer budget) of the input kept back by
    /// [`Next::Pause`]. If more is kept and the socket took the answers at once,
    /// the connection comes back next turn, after the others.
    fn resume_input<S: Service>(
        &mut self,
        svc: &mut S,
        conn: &mut Connection<S::Session>,
    ) -> Verdict {
        conn.input_paused = false;
        if self.consume(svc, conn, &[]) == Verdict::Close {
            return Verdict::Close;
        }
        if self.can_resume::<S>(conn) {
            self.requeue(conn);
        }
        Verdict::Keep
    }

    /// Input kept back by [`Next::Pause`] may be answered now: the session is not
    /// parked, and the output has drained to half its limit.
    #[inline]
    fn can_resume<S: Service>(&self, conn: &Connection<S::Session>) -> bool {
        conn.input_paused && !parked::<S>(conn) && conn.pending_output() <= self.max_output / 2
    }

    /// Acts on what the session decided, then sends what it answered.
    pub(super) fn apply<S: Service>(
        &mut self,
        svc: &mut S,
        conn: &mut Connection<S::Session>,
        next: Next,
    ) -> Verdict {
        match next {
            Next::Continue | Next::Switched => {}
            Next::Pause => conn.input_paused = true,
            // (The session says it is parked: `Service::park`.)
            Next::Park => {}
            Next::Close => conn.phase = Phase::Closing,
            Next::Reset => {
                // What was answered before goes out if the socket takes it now.
                let _ = self.send_answer(conn);
                let _ = socket2::SockRef::from(&conn.stream).set_linger(Some(Duration::ZERO));
                return Verdict::Close;
            }
        }
        // The request timer runs while a request is incomplete, not while parked or
        // paused for output.
        conn.started = if conn.input_paused
            || parked::<S>(conn)
            || (conn.input.is_empty() && S::is_idle(&conn.session))
        {
            None
        } else {
            Some(conn.started.unwrap_or(self.now))
        };
        if self.send_answer(conn) == Verdict::Close {
            return Verdict::Close;
        }
        if self.upstream.dial.is_some() || !self.upstream.out.is_empty() {
            return self.upstream_requests(svc, conn);
        }
        Verdict::Keep
    }

    /// Resumes a parked session (its deadline passed, or the service has an event
    /// for it), sends what it answers, then goes on with the input that arrived
    /// meanwhile.
    pub(super) fn resume<S: Service>(
        &mut self,
        svc: &mut S,
        conn: &mut Connection<S::Session>,
        why: Wake<S::Event>,
    ) -> Verdict {
        self.begin_reply();
        let mut cx = self.cx(conn.token, conn.output.len());
        let next = svc.resume(&mut conn.session, why, &mut cx);
        if self.apply(svc, conn, next) == Verdict::Close {
            return Verdict::Close;
        }
        if !parked::<S>(conn) && conn.phase == Phase::Open {
            // Reading may have paused while parked; and input kept meanwhile is
            // answered now.
            self.requeue(conn);
            if !conn.input.is_empty() && self.consume(svc, conn, &[]) == Verdict::Close {
                return Verdict::Close;
            }
        }
        self.settle::<S>(conn)
    }

    /// After I/O: apply backpressure, move through the closing phases, and keep
    /// WRITABLE interest registered exactly while output is pending.
    pub(super) fn settle<S: Service>(&mut self, conn: &mut Connection<S::Session>) -> Verdict {
        let pending = conn.pending_output();
        if pending > self.max_output
            || conn
                .upstream
                .as_ref()
                .is_some_and(|u| self.upstream_full(u))
        {
            conn.read_suspended = true;
        } else if (conn.read_suspended || (conn.input_paused && !parked::<S>(conn)))
            && pending <= self.max_output / 2
        {
            conn.read_suspended = false;
            // Input may be waiting (in the socket, or kept back in `input`) with no
            // new edge to announce it.
            self.requeue(conn);
        }
        if let Some(up) = conn.upstream.as_deref_mut() {
            if up.read_suspended && pending <= self.max_output / 2 {
                // The client drained: read from the upstream again.
                up.read_suspended = false;
                self.requeue.push(up.token);
            }
        }
        if pending == 0 {
            match conn.phase {
                Phase::Closing | Phase::Evicted if conn.read_closed && conn.tls.is_none() => {
                    return Verdict::Close
                }
                Phase::Closing | Phase::Evicted => {
                    if let Some(tls) = conn.tls.as_deref_mut() {
                        match tls.close(&conn.stream) {
                            Ok(true) if conn.read_closed => return Verdict::Close,
                            Ok(true) => {}
                            // close_notify waits for the socket: WRITABLE is wanted.
                            Ok(false) => return self.settle_interest(conn, true),
                            Err(_) => return Verdict::Close,
                        }
                    }
                    if conn.stream.shutdown(Shutdown::Write).is_err() {
                        return Verdict::Close;
                    }
                    if conn.phase == Phase::Evicted {
                        self.evicted.retain(|(t, _)| *t != conn.token);
                    }
                    conn.phase = Phase::Lingering;
                    conn.started = Some(self.now);
                    // Input that arrived meanwhile must be drained to see the EOF.
                    self.requeue(conn);
                }
                Phase::Lingering if conn.read_closed => return Verdict::Close,
                // The client is gone; an answer a parked session still owes is not,
                // unless it would never come.
                Phase::Open if conn.read_closed && !conn.input_paused => match park::<S>(conn) {
                    None | Some(crate::service::Park::Never) => return Verdict::Close,
                    Some(_) => {}
                },
                _ => {}
            }
        }
        self.settle_interest(conn, pending > 0)
    }

    /// A connection's deadline passed.
    pub(super) fn expire<S: Service>(
        &mut self,
        svc: &mut S,
        conn: &mut Connection<S::Session>,
        wait: Wait,
    ) -> Verdict {
        match wait {
            Wait::Linger => Verdict::Close,
            Wait::Due => self.resume(svc, conn, Wake::Due),
            // Evicted (counted once, when it was evicted): one that read something
            // since the last look gets another grace.
            Wait::Evict => {
                let backlog = conn.pending_output() + net::kernel_unsent(&conn.stream).unwrap_or(0);
                let entry = self.evicted.iter_mut().find(|(t, _)| *t == conn.token);
                match entry {
                    Some((_, last)) if backlog < *last => {
                        *last = backlog;
                        conn.started = Some(self.now);
                        self.settle::<S>(conn)
                    }
                    _ => {
                        self.evicted.retain(|(t, _)| *t != conn.token);
                        Verdict::Close
                    }
                }
            }
            Wait::Idle if S::park(&conn.session).is_none() => {
                self.begin_reply();
                let mut cx = self.cx(conn.token, conn.output.len());
                if !svc.on_idle(&mut conn.session, &mut cx) {
                    self.counters().timeouts.incr();
                    return Verdict::Close;
                }
                // The keep-alive restarts the idle timer, even if the socket
                // takes none of it now.
                conn.last_activity = self.now;
                if self.send_answer(conn) == Verdict::Close {
                    return Verdict::Close;
                }
                self.settle::<S>(conn)
            }
            Wait::Idle | Wait::Write => {
                self.counters().timeouts.incr();
                Verdict::Close
            }
            Wait::Request if conn.tls.as_deref().is_some_and(|t| t.handshaking()) => {
                // A handshake not finished in time: nothing to answer over.
                self.counters().timeouts.incr();
                Verdict::Close
            }
            Wait::Request => {
                self.counters().timeouts.incr();
                self.begin_reply();
                let mut cx = self.cx(conn.token, conn.output.len());
                svc.on_request_timeout(&mut conn.session, &mut cx);
                conn.input.clear();
                self.pool.reclaim(&mut conn.input);
                conn.phase = Phase::Closing;
                conn.started = None;
                if self.send_answer(conn) == Verdict::Close {
                    return Verdict::Close;
                }
                self.settle::<S>(conn)
            }
        }
    }
}

/// Feeds the kept input (`conn.input`) to the session; drops what it consumed.
#[inline]
fn feed<S: Service>(svc: &mut S, conn: &mut Connection<S::Session>, cx: &mut Cx<'_>) -> Next {
    let progress: Progress = svc.on_input(&mut conn.session, &conn.input, cx);
    conn.input.drain(..progress.consumed);
    if progress.next.ends() {
        conn.input.clear();
    }
    progress.next
}
