//! The per-worker state that drives connections ([`Driver`]), what becomes of a
//! connection after an event ([`Verdict`], [`Readiness`]), and the parts of
//! driving that do not depend on the service: sending a reply, flushing a send
//! queue, keeping WRITABLE interest.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Poll};

use super::connection::{sink, Connection, Timeouts};
use super::pool::BufferPool;
use super::send_queue;
use super::token::ConnToken;
use crate::server_core::ServerCore;
use crate::service::{Outbound, Reply};
use crate::stats::Counters;

/// Size of the per-worker read buffer every connection reads into.
#[cfg(not(feature = "tiny-buffers"))]
pub(super) const READ_BUFFER: usize = 64 * 1024;
/// The reliability build reads a few bytes at a time: requests and frames arrive
/// in pieces.
#[cfg(feature = "tiny-buffers")]
pub(super) const READ_BUFFER: usize = 100;
/// Bytes read from one connection per turn before the others get theirs: one
/// full read buffer. A client that sends without pause (a pipelining client, a
/// publisher whose frames fan out to a room) is served this much, then requeued
/// behind everyone else; larger budgets let it stretch a turn to milliseconds.
pub(super) const READ_BUDGET: usize = READ_BUFFER;
/// Reads from one connection per turn at most, however short (TLS hands over one
/// record at a time).
pub(super) const READS_PER_EVENT: usize = 16;
/// Bytes of answers one connection gets per turn (its output limit permitting):
/// a pipelining client's further requests wait in its input until the next turn,
/// behind everyone else. A single answer larger than this still goes out whole.
pub(super) const ANSWER_BUDGET: usize = 64 * 1024;
/// Capacity the answer buffer keeps between batches; a burst beyond it is freed.
pub(super) const OUT_KEEP: usize = 256 * 1024;

/// What becomes of a connection after driving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Keep,
    Close,
}

/// What an event says about a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Readiness {
    pub(super) readable: bool,
    pub(super) writable: bool,
    /// Read until WouldBlock even after a short read. A short read normally means
    /// the socket is empty and later bytes bring a new edge; but when the peer's FIN
    /// arrived before this event was collected, no further edge will announce it,
    /// so then (and for re-queued connections) reading goes on until EOF/WouldBlock.
    pub(super) read_until_blocked: bool,
}

impl Readiness {
    pub(super) const REQUEUED: Readiness = Readiness {
        readable: true,
        writable: false,
        read_until_blocked: true,
    };

    pub(super) fn of(event: &mio::event::Event) -> Readiness {
        let hangup = event.is_read_closed() || event.is_error();
        Readiness {
            readable: event.is_readable() || hangup,
            writable: event.is_writable() || event.is_error(),
            read_until_blocked: hangup,
        }
    }
}

/// The per-worker state used to drive one connection.
pub(crate) struct Driver {
    pub(super) shared: Arc<ServerCore>,
    pub(super) index: usize,
    pub(super) poll: Poll,
    pub(super) timeouts: Timeouts,
    pub(super) max_output: usize,
    /// Input kept while a session is parked; beyond this, reading pauses.
    pub(super) held_input_limit: usize,
    pub(super) read_buf: Vec<u8>,
    /// What the session being driven answers; sent, or queued on its connection.
    pub(super) out: Reply,
    pub(super) pool: BufferPool,
    pub(super) now: Instant,
    pub(super) stopping: bool,
    /// Connections to serve again on the next turn (fairness, resumed reading).
    pub(super) requeue: Vec<ConnToken>,
    /// Connections whose service queued output for them this turn, to flush.
    pub(super) flushing: Vec<ConnToken>,
    /// Shared segments sent whole this turn, and lost with closed connections.
    pub(super) shared_sent: u64,
    pub(super) shared_lost: u64,
    /// Evicted connections and the bytes still to reach each at the last look.
    pub(super) evicted: Vec<(ConnToken, usize)>,
    /// What the session being driven asks of its outbound connection.
    pub(super) upstream: Outbound,
}

impl Driver {
    #[inline]
    pub(super) fn counters(&self) -> &Counters {
        &self.shared.counters[self.index]
    }

    /// Puts `conn` on the list to serve again next turn, unless it is on it already:
    /// a connection that asks again in the same turn (a new edge while requeued)
    /// still gets one budget per turn.
    #[inline]
    pub(super) fn requeue<Sess>(&mut self, conn: &mut Connection<Sess>) {
        if !conn.requeued {
            conn.requeued = true;
            self.requeue.push(conn.token);
        }
    }

    /// The turn's tally of shared segments sent whole and lost, reset.
    pub(super) fn take_shared_tally(&mut self) -> (u64, u64) {
        (
            std::mem::take(&mut self.shared_sent),
            std::mem::take(&mut self.shared_lost),
        )
    }

    #[inline]
    pub(super) fn note_lost(&mut self, n: u64) {
        self.shared_lost += n;
    }

    /// Empties the reply before a session's answer is built into it.
    #[inline]
    pub(super) fn begin_reply(&mut self) {
        self.out.clear(OUT_KEEP);
    }

    /// Sends the session's answer (`out`) after whatever is already queued; keeps
    /// what the socket does not take now in the connection's send queue (large
    /// bodies by reference, the rest copied).
    pub(super) fn send_answer<Sess>(&mut self, conn: &mut Connection<Sess>) -> Verdict {
        if self.out.is_empty() {
            return Verdict::Keep;
        }
        if conn.output.len() > 0 {
            conn.output.push_rest(&self.out, 0, &mut self.pool);
            return self.flush(conn);
        }
        let Some(bytes) = self.out.as_contiguous() else {
            // Shared bodies: one vectored send straight from the answer; what the
            // socket does not take is queued (bodies by reference).
            let (n, result) =
                send_queue::send_pieces(&mut sink(&conn.stream, &mut conn.tls), &self.out);
            self.note_written(conn, n);
            if result.is_err() {
                return Verdict::Close;
            }
            if n < self.out.len() {
                conn.output.push_rest(&self.out, n, &mut self.pool);
            }
            return Verdict::Keep;
        };
        let (n, result) = send_queue::send_all(&mut sink(&conn.stream, &mut conn.tls), bytes);
        self.note_written(conn, n);
        if result.is_err() {
            return Verdict::Close;
        }
        if n < self.out.len() {
            conn.output.push_rest(&self.out, n, &mut self.pool);
        }
        Verdict::Keep
    }

    /// Sends queued output until done or the socket is full.
    pub(super) fn flush<Sess>(&mut self, conn: &mut Connection<Sess>) -> Verdict {
        let (n, result) = conn.output.send(
            &mut sink(&conn.stream, &mut conn.tls),
            &mut self.pool,
            &mut self.shared_sent,
        );
        self.note_written(conn, n);
        if result.is_err() {
            return Verdict::Close;
        }
        if conn.output.len() == 0 {
            conn.output.clear(&mut self.pool);
        }
        Verdict::Keep
    }

    #[inline]
    pub(super) fn note_written<Sess>(&self, conn: &mut Connection<Sess>, n: usize) {
        if n > 0 {
            self.counters().bytes_written.add(n as u64);
            conn.last_activity = self.now;
        }
    }

    /// Keeps WRITABLE interest registered exactly while `want_writable`.
    #[inline]
    pub(super) fn settle_interest<Sess>(
        &mut self,
        conn: &mut Connection<Sess>,
        want_writable: bool,
    ) -> Verdict {
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
                return Verdict::Close;
            }
            conn.writable_interest = want_writable;
        }
        Verdict::Keep
    }
}

pub(super) fn read_retrying(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
