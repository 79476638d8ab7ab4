//! Driving a connection's outbound side ([`super::upstream`]): dialling it when
//! the session asks, sending what the session wrote for it, reading what it sends
//! and feeding that to the session, with backpressure both ways.

use std::io;

use mio::Interest;

use super::connection::Connection;
use super::driver::{read_retrying, Driver, Readiness, Verdict, READ_BUDGET};
use super::send_queue::Sink;
use super::upstream::{Upstream, UpstreamState};
use crate::service::{Service, Upstream as UpstreamEvent};

/// Driving a connection's outbound side (called by the engine's loop and by
/// [`Driver`]'s own paths).
impl Driver {
    /// Whether the upstream's send queue is over the limit (the client's reading
    /// pauses until it drains).
    #[inline]
    pub(super) fn upstream_full(&self, up: &Upstream) -> bool {
        up.output.len() > self.max_output
    }

    /// What the session asked of its outbound connection in the call just made:
    /// dial it, and queue what it wrote for it.
    pub(super) fn upstream_requests<S: Service>(
        &mut self,
        svc: &mut S,
        conn: &mut Connection<S::Session>,
    ) -> Verdict {
        if let Some(addr) = self.upstream.dial.take() {
            if conn.upstream.is_none() {
                match Upstream::dial(addr, conn.token) {
                    Ok(mut up) => {
                        let registered = self.poll.registry().register(
                            &mut up.stream,
                            up.token.to_token(),
                            Interest::READABLE | Interest::WRITABLE,
                        );
                        if registered.is_err() {
                            return Verdict::Close;
                        }
                        conn.upstream = Some(Box::new(up));
                    }
                    Err(e) => {
                        return self.upstream_event(svc, conn, UpstreamEvent::Failed(e.kind()))
                    }
                }
            }
        }
        if !self.upstream.out.is_empty() {
            let Some(up) = conn.upstream.as_deref_mut() else {
                self.upstream.out.clear();
                return Verdict::Keep;
            };
            up.output.push_copy(&self.upstream.out, &mut self.pool);
            self.upstream.out.clear();
            if up.state == UpstreamState::Open && self.flush_upstream(up).is_err() {
                return self.upstream_event(
                    svc,
                    conn,
                    UpstreamEvent::Failed(io::ErrorKind::BrokenPipe),
                );
            }
        }
        Verdict::Keep
    }

    /// Hands an upstream event to the session and acts on its answer.
    fn upstream_event<S: Service>(
        &mut self,
        svc: &mut S,
        conn: &mut Connection<S::Session>,
        what: UpstreamEvent<'_>,
    ) -> Verdict {
        self.begin_reply();
        let mut cx = self.cx(conn.token, conn.output.len());
        let progress = svc.on_upstream(&mut conn.session, what, &mut cx);
        self.apply(svc, conn, progress.next)
    }

    /// Sends what is queued for the upstream until done or its socket is full.
    fn flush_upstream(&mut self, up: &mut Upstream) -> io::Result<()> {
        let (_, result) = up.output.send(
            &mut Sink::Plain(&up.stream),
            &mut self.pool,
            &mut self.shared_sent,
        );
        if up.output.len() == 0 {
            up.output.clear(&mut self.pool);
        }
        result
    }

    /// Serves a readiness event on a connection's outbound side: finish
    /// connecting, send what is queued for it, read what it sends and feed it to
    /// the session.
    pub(super) fn drive_upstream<S: Service>(
        &mut self,
        svc: &mut S,
        conn: &mut Connection<S::Session>,
        ready: Readiness,
    ) -> Verdict {
        let Some(up) = conn.upstream.as_deref_mut() else {
            return Verdict::Keep;
        };
        if up.state == UpstreamState::Connecting {
            match up.finish_connect() {
                Ok(false) => return Verdict::Keep,
                Ok(true) => {
                    if self.upstream_event(svc, conn, UpstreamEvent::Connected) == Verdict::Close {
                        return Verdict::Close;
                    }
                }
                Err(e) => {
                    up.state = UpstreamState::Done;
                    let v = self.upstream_event(svc, conn, UpstreamEvent::Failed(e.kind()));
                    return if v == Verdict::Close {
                        v
                    } else {
                        self.settle::<S>(conn)
                    };
                }
            }
        }
        let Some(up) = conn.upstream.as_deref_mut() else {
            return self.settle::<S>(conn);
        };
        if up.output.len() > 0 {
            if let Err(e) = self.flush_upstream(up) {
                up.state = UpstreamState::Done;
                return self.upstream_event(svc, conn, UpstreamEvent::Failed(e.kind()));
            }
            if up.output.len() <= self.max_output / 2 && conn.read_suspended {
                // The upstream drained: read from the client again.
                conn.read_suspended = false;
                self.requeue(conn);
            }
        }
        if ready.readable && self.read_upstream(svc, conn) == Verdict::Close {
            return Verdict::Close;
        }
        if let Some(up) = conn.upstream.as_deref_mut() {
            let want = up.output.len() > 0;
            if want != up.writable_interest {
                let interest = if want {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                if self
                    .poll
                    .registry()
                    .reregister(&mut up.stream, up.token.to_token(), interest)
                    .is_ok()
                {
                    up.writable_interest = want;
                }
            }
        }
        self.settle::<S>(conn)
    }

    /// Reads what the upstream sent, one read budget, feeding it to the session.
    fn read_upstream<S: Service>(
        &mut self,
        svc: &mut S,
        conn: &mut Connection<S::Session>,
    ) -> Verdict {
        let mut taken = 0;
        loop {
            let client_full = conn.pending_output() > self.max_output;
            let Some(up) = conn.upstream.as_deref_mut() else {
                return Verdict::Keep;
            };
            if up.state != UpstreamState::Open || up.read_closed || up.read_suspended {
                return Verdict::Keep;
            }
            if client_full {
                up.read_suspended = true; // resumed when the client drains
                return Verdict::Keep;
            }
            let mut buf = std::mem::take(&mut self.read_buf);
            let result = read_retrying(&mut up.stream, &mut buf);
            let verdict = match result {
                Ok(0) => {
                    up.read_closed = true;
                    self.read_buf = buf;
                    return self.upstream_event(svc, conn, UpstreamEvent::Eof);
                }
                Ok(n) => {
                    up.input.extend_from_slice(&buf[..n]);
                    self.read_buf = buf;
                    let input = std::mem::take(&mut up.input);
                    self.begin_reply();
                    let mut cx = self.cx(conn.token, conn.output.len());
                    let progress =
                        svc.on_upstream(&mut conn.session, UpstreamEvent::Data(&input), &mut cx);
                    if let Some(up) = conn.upstream.as_deref_mut() {
                        up.input = input;
                        up.input.drain(..progress.consumed.min(up.input.len()));
                    }
                    if self.apply(svc, conn, progress.next) == Verdict::Close {
                        return Verdict::Close;
                    }
                    taken += n;
                    if taken >= READ_BUDGET {
                        if let Some(up) = conn.upstream.as_deref() {
                            self.requeue.push(up.token);
                        }
                        return Verdict::Keep;
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Verdict::Keep,
                Err(e) => {
                    up.state = UpstreamState::Done;
                    self.read_buf = buf;
                    return self.upstream_event(svc, conn, UpstreamEvent::Failed(e.kind()));
                }
            };
            self.read_buf = buf;
            return verdict;
        }
    }
}
