//! One client connection as the engine sees it: its socket, its session (the
//! service's state, opaque here), and the bytes in flight.

use std::time::{Duration, Instant};

use mio::net::TcpStream;
use slab::Slab;

use super::send_queue::{SendQueue, Sink};
use super::token::ConnToken;
use super::upstream::Upstream;
use crate::tls::session::TlsSession;

/// How long a closing connection keeps reading (and dropping) input after its last
/// response, so that closing with unread input does not make the kernel send RST
/// and destroy that response before the client reads it.
pub(crate) const LINGER: Duration = Duration::from_secs(2);

/// How long an evicted connection (a room member disconnected as a slow consumer)
/// gets to make progress on what is left to send it (the rest of a frame partly
/// sent, then the service's last words): one that reads nothing in that time is
/// closed, one that reads (however slowly) gets another grace.
pub(crate) const EVICT_GRACE: Duration = Duration::from_secs(2);

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Reading input and answering it.
    Open,
    /// The session decided to close: no more input is read; pending output is flushed.
    Closing,
    /// Evicted by its service ([`super::Peer::evict`]): like `Closing`, but the
    /// pending output must make progress within [`EVICT_GRACE`] of `started` (what
    /// the kernel holds to send counts), not within the write timeout.
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
    /// A parked session is due ([`Park::Until`]).
    Due,
    /// An evicted connection's grace ran out.
    Evict,
}

/// A connection: its socket, protocol state, and the bytes in flight. An idle
/// connection has no allocated buffer (`input` and `output` have capacity 0).
#[derive(Debug)]
pub(crate) struct Connection<Session> {
    pub(crate) stream: TcpStream,
    pub(crate) token: ConnToken,
    pub(crate) session: Session,
    /// Received bytes not yet consumed by the session (a partial request).
    pub(crate) input: Vec<u8>,
    /// Bytes not yet sent.
    pub(crate) output: SendQueue,
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
    /// Output was queued for it this turn by its service ([`super::Peer`]): it is
    /// on the worker's list to flush.
    pub(crate) queued: bool,
    /// On the worker's list to serve again next turn (once, however often it asks).
    pub(crate) requeued: bool,
    /// Last read or write progress.
    pub(crate) last_activity: Instant,
    /// When the request in progress (or the lingering close, or the eviction's
    /// current grace) began.
    pub(crate) started: Option<Instant>,
    /// The time of this connection's entry in the timer heap, if it has one.
    pub(crate) timer_at: Option<Instant>,
    /// TLS, when the server speaks it.
    pub(crate) tls: Option<Box<TlsSession>>,
    /// The outbound connection its session asked for, if any.
    pub(crate) upstream: Option<Box<Upstream>>,
}

/// Where `stream`'s output goes: through `tls` when there is one.
#[inline]
pub(crate) fn sink<'a>(stream: &'a TcpStream, tls: &'a mut Option<Box<TlsSession>>) -> Sink<'a> {
    match tls {
        Some(t) => Sink::Tls(stream, t),
        None => Sink::Plain(stream),
    }
}

impl<Session> Connection<Session> {
    pub(crate) fn new(stream: TcpStream, token: ConnToken, session: Session, now: Instant) -> Self {
        Connection {
            stream,
            token,
            session,
            input: Vec::new(),
            output: SendQueue::default(),
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
            tls: None,
            upstream: None,
        }
    }

    /// Whether the client closed first, for a connection being closed now.
    pub(crate) fn client_closed_first(&self) -> bool {
        self.phase == Phase::Open && (self.read_closed || self.peer_reset)
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
}

/// The id a connection's requests carry: unique within the server.
#[inline]
pub(super) fn conn_id(token: ConnToken, worker: usize) -> u64 {
    u64::from(token.generation) << 8 | worker as u64
}

/// The connection `ct` names, if it is still the one in its slot (a closed
/// connection's slot may hold a newer one: the generation tells them apart).
#[inline]
pub(super) fn live<Sess>(
    conns: &mut Slab<Connection<Sess>>,
    ct: ConnToken,
) -> Option<&mut Connection<Sess>> {
    conns
        .get_mut(ct.index as usize)
        .filter(|conn| conn.token == ct)
}
