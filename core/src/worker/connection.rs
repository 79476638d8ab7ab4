//! One client connection as a worker sees it.

use std::time::{Duration, Instant};

use mio::net::TcpStream;

use super::output::{Output, Sink};
use super::token::ConnToken;
use crate::protocol::http::Hold;
use crate::protocol::Session;
use crate::routing::ClosedBy;
use crate::tls::session::TlsSession;

/// How long a closing connection keeps reading (and dropping) input after its last
/// response, so that closing with unread input does not make the kernel send RST
/// and destroy that response before the client reads it.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// How long a room member disconnected as a slow consumer gets to make progress
/// on the rest of the frame it was partway through and the `ERROR slow consumer`
/// after it: a member that reads nothing in that time is closed, one that reads
/// (however slowly) gets another grace.
pub(crate) const EVICT_GRACE: Duration = Duration::from_secs(2);

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Reading input and answering it.
    Open,
    /// The protocol decided to close: no more input is read; pending output is flushed.
    Closing,
    /// A room member disconnected as a slow consumer: like `Closing`, but the
    /// pending output (a frame partly sent, then the `ERROR`) must make progress
    /// within [`EVICT_GRACE`] of `started` (what the kernel holds to send counts),
    /// not within the write timeout.
    Evicted,
    /// Output flushed and the write side shut down; input is read and dropped until
    /// the client closes or [`LINGER`] passes.
    Lingering,
}

/// The timeouts that apply to a connection, from the config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) idle: Duration,
    pub(crate) request: Duration,
    pub(crate) write: Duration,
}

/// What a connection's deadline is for, which decides what happens when it passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Nothing in flight: idle timeout.
    Idle,
    /// A request started and is not complete: header/read timeout.
    Request,
    /// Output pending and not draining: write-stall timeout.
    Write,
    /// Lingering close.
    Linger,
    /// An answer being held (delay, drip, handler) is due.
    Hold,
    /// A slow consumer's grace ran out.
    Evict,
}

/// A connection: its socket, protocol state, and the bytes in flight. An idle
/// connection has no allocated buffer (`input` and `output` have capacity 0).
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) stream: TcpStream,
    pub(crate) token: ConnToken,
    pub(crate) session: Session,
    /// Received bytes not yet consumed by the session (a partial request).
    pub(crate) input: Vec<u8>,
    /// Bytes not yet sent.
    pub(crate) output: Output,
    pub(crate) phase: Phase,
    /// The client shut down its side (read returned 0).
    pub(crate) read_closed: bool,
    /// The client reset the connection.
    pub(crate) peer_reset: bool,
    /// Reading paused: too much pending output (backpressure).
    pub(crate) read_suspended: bool,
    /// `input` holds requests not answered yet because the answers before them
    /// filled the output budget; they are answered once the output drains.
    pub(crate) input_paused: bool,
    /// Registered for WRITABLE as well as READABLE.
    pub(crate) writable_interest: bool,
    /// Broadcast frames were queued this turn: it is on the worker's list to flush.
    pub(crate) queued: bool,
    /// On the worker's list to serve again next turn (once, however often it asks).
    pub(crate) requeued: bool,
    /// Last read or write progress.
    pub(crate) last_activity: Instant,
    /// When the request in progress (or the lingering close) began.
    pub(crate) started: Option<Instant>,
    /// The time of this connection's entry in the timer heap, if it has one.
    pub(crate) timer_at: Option<Instant>,
    /// An answer not yet complete; no further input is fed to the session until it is.
    pub(crate) hold: Option<Box<Hold>>,
    /// TLS, when the server speaks it.
    pub(crate) tls: Option<Box<TlsSession>>,
}

/// Where `stream`'s output goes: through `tls` when there is one.
#[inline]
pub(crate) fn sink<'a>(stream: &'a TcpStream, tls: &'a mut Option<Box<TlsSession>>) -> Sink<'a> {
    match tls {
        Some(t) => Sink::Tls(stream, t),
        None => Sink::Plain(stream),
    }
}

impl Connection {
    pub(crate) fn new(stream: TcpStream, token: ConnToken, session: Session, now: Instant) -> Self {
        Connection {
            stream,
            token,
            session,
            input: Vec::new(),
            output: Output::default(),
            phase: Phase::Open,
            read_closed: false,
            peer_reset: false,
            read_suspended: false,
            input_paused: false,
            writable_interest: false,
            queued: false,
            requeued: false,
            last_activity: now,
            started: None,
            timer_at: None,
            hold: None,
            tls: None,
        }
    }

    /// Who closed first, for a connection being closed now.
    pub(crate) fn closed_by(&self) -> ClosedBy {
        if self.phase == Phase::Open && (self.read_closed || self.peer_reset) {
            ClosedBy::Client
        } else {
            ClosedBy::Server
        }
    }

    /// Bytes queued and not yet sent (TLS records rustls still holds count as one).
    #[inline]
    pub(crate) fn pending_output(&self) -> usize {
        self.output.len()
            + self
                .tls
                .as_ref()
                .map_or(0, |t| usize::from(t.wants_write()))
    }

    /// Nothing received that still needs an answer, nothing left to send: a stop
    /// closes it at once. A request held by a `NoResponse` fault counts as idle too,
    /// since it would never finish.
    pub(crate) fn is_idle(&self) -> bool {
        match self.phase {
            Phase::Lingering => true,
            Phase::Closing | Phase::Evicted => false,
            Phase::Open => match self.hold.as_deref() {
                Some(Hold::Never) => self.pending_output() == 0,
                Some(_) => false,
                None => {
                    self.input.is_empty() && self.session.is_idle() && self.pending_output() == 0
                }
            },
        }
    }

    /// What the connection is waiting for, and until when.
    pub(crate) fn deadline(&self, t: &Timeouts) -> (Wait, Instant) {
        if self.phase == Phase::Lingering {
            return (
                Wait::Linger,
                self.started.unwrap_or(self.last_activity) + LINGER,
            );
        }
        if self.pending_output() > 0 {
            // (An evicted member has output pending until it is lingering.)
            if self.phase == Phase::Evicted {
                return (
                    Wait::Evict,
                    self.started.unwrap_or(self.last_activity) + EVICT_GRACE,
                );
            }
            return (Wait::Write, self.last_activity + t.write);
        }
        if let Some(hold) = &self.hold {
            return match hold.deadline() {
                Some(at) => (Wait::Hold, at),
                None => (Wait::Idle, self.last_activity + t.idle),
            };
        }
        match self.started {
            Some(started) => (Wait::Request, started + t.request),
            None => (Wait::Idle, self.last_activity + t.idle),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The record of an idle connection is most of its memory (it holds no buffer):
    /// keep it well under the 500 B per-connection budget, slab slack included.
    /// (200 since TLS: the session pointer, None on plain connections.)
    #[test]
    fn connection_record_stays_small() {
        let size = std::mem::size_of::<Connection>();
        println!("size_of::<Connection>() = {size}");
        assert!(size <= 200, "Connection grew to {size} bytes");
    }
}
