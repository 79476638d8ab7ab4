//! Services: what a server speaks, each behind one seam with the engine.
//!
//! The engine ([`crate::engine`]) owns sockets, readiness, buffers, timers, the
//! read and answer budgets, send queues, TLS (a layer under any service) and
//! closing; it names no protocol. A service is this worker's protocol state
//! ([`Service`]) with a session per connection ([`Service::Session`]). Sessions
//! are sans-io state machines, as rustls' `ConnectionCommon` and quinn-proto's
//! `Connection` are: they are fed byte slices ([`Service::on_input`]), answer into
//! a [`Reply`], and say what the engine does next ([`Next`]): go on reading,
//! pause input until the output drains, park until an instant or an event,
//! close, or reset. Parked sessions are resumed ([`Service::resume`]) when their
//! deadline passes or when the service hands the engine an event for them
//! ([`Service::take_events`], after the worker was woken: a handler's answer, a
//! room's readiness). At the end of each loop turn a service may act on other
//! connections ([`Service::end_turn`] with [`Peers`]: a broadcast to a room's
//! members). A session may switch protocol mid-connection and have the rest of
//! its input fed again ([`Next::Switched`]: HTTP/1.1 `Upgrade`), and may own a
//! second connection the engine dials and drives in the same worker
//! ([`Cx::dial`], [`Service::on_upstream`]: a proxy's upstream).
//!
//! Dispatch is static: the engine's loop is generic over the service
//! ([`run::run_worker`] picks the monomorphised loop once, at start), so the path of
//! a request is as direct as a call.
//!
//! | service | what it speaks |
//! |---|---|
//! | [`discard`] | RFC 863: reads and drops everything |
//! | [`echo`] | RFC 862: sends back every byte received |
//! | [`http`] | HTTP/1.1 and 1.0: routes, faults, handlers, the request log |
//! | [`frame`] | length-prefixed frames with rooms (and the backplane) |
//! | [`ws`] | WebSocket (RFC 6455, permessage-deflate) on the same rooms |

pub(crate) mod discard;
pub(crate) mod echo;
pub(crate) mod fanout;
pub(crate) mod frame;
pub(crate) mod h2;
pub(crate) mod http;
pub(crate) mod reply;
pub(crate) mod run;
#[cfg(test)]
mod tests;
pub(crate) mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

pub(crate) use reply::Reply;

pub(crate) use crate::engine::Outbound;
use crate::engine::Peers;
use crate::server_core::ServerCore;
use crate::stats::Counters;

/// What the engine does with a connection after its session was fed or resumed.
#[derive(Debug)]
pub(crate) enum Next {
    /// Keep reading.
    Continue,
    /// The answer budget is spent: the rest of the input was not looked at. Read no
    /// more; feed the unconsumed input again once the pending output has drained.
    Pause,
    /// Feed no input until the session is resumed: at its [`Park`] deadline, or
    /// by an event ([`Service::take_events`]). Input that arrives meanwhile is kept.
    Park,
    /// The session switched protocol: feed it the unconsumed input again, at once.
    // For HTTP/1.1 `Upgrade` (WebSocket, h2c); shown by this module's tests.
    #[cfg_attr(not(test), allow(dead_code))]
    Switched,
    /// Read no further input; flush the output, then close.
    Close,
    /// Send what is already answered (best effort), then reset the connection (RST).
    Reset,
}

impl Next {
    /// The connection ends after this (close or reset).
    #[inline]
    pub(crate) fn ends(&self) -> bool {
        matches!(self, Next::Close | Next::Reset)
    }
}

/// Result of feeding input to a session.
#[derive(Debug)]
pub(crate) struct Progress {
    /// Bytes of the input used; the rest is handed back next time, with more appended.
    pub(crate) consumed: usize,
    /// What happens next.
    pub(crate) next: Next,
}

impl Progress {
    /// All of `input` used; keep reading.
    #[inline]
    pub(crate) fn all(input: &[u8]) -> Progress {
        Progress {
            consumed: input.len(),
            next: Next::Continue,
        }
    }
}

/// Until when a parked session waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Park {
    /// Resumed at this instant ([`Wake::Due`]) unless an event comes first.
    Until(Instant),
    /// Resumed only by an event; meanwhile the idle timeout applies.
    Event,
    /// Never resumed (an answer that never comes): the connection counts as idle,
    /// and the client closing it, the idle timeout or a stop ends it.
    Never,
}

/// Why a parked session is resumed.
pub(crate) enum Wake<E> {
    /// Its [`Park::Until`] deadline passed.
    Due,
    /// The service handed the engine this event for it.
    Event(E),
}

/// What a session gets from the engine besides its own state.
pub(crate) struct Cx<'a> {
    /// Output to send, appended in order.
    pub(crate) out: &'a mut Reply,
    /// Answer no further request once `out` holds this many bytes (the connection's
    /// pending-output limit, less what it already has pending, and the turn's
    /// answer budget); see [`Next::Pause`].
    pub(crate) out_budget: usize,
    /// The worker's counters.
    pub(crate) counters: &'a Counters,
    /// The time of the current event (one clock read per poll).
    pub(crate) now: Instant,
    /// The server is stopping: finish what is in flight, start nothing new.
    pub(crate) stopping: bool,
    /// The connection's id, unique within the server.
    pub(crate) conn_id: u64,
    /// The connection's token (how events and peers name it).
    pub(crate) token: mio::Token,
    /// What the session asks of its outbound connection ([`Cx::dial`]).
    // For the fault proxy; shown by this module's tests.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) upstream: &'a mut Outbound,
}

impl Cx<'_> {
    /// The answer budget is spent: answer no further request now ([`Next::Pause`]).
    #[inline]
    pub(crate) fn output_full(&self) -> bool {
        self.out.len() >= self.out_budget
    }

    /// Asks the engine to dial `addr` for this connection; what the upstream does
    /// reaches the session through [`Service::on_upstream`].
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn dial(&mut self, addr: SocketAddr) {
        self.upstream.dial = Some(addr);
    }

    /// Output for the outbound connection, appended in order (queued until it is
    /// connected).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn upstream_out(&mut self) -> &mut Vec<u8> {
        &mut self.upstream.out
    }
}

/// What happened on a session's outbound connection.
// Read by services that dial (the fault proxy; this module's tests).
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Debug)]
pub(crate) enum Upstream<'a> {
    /// Connected: what was written to [`Cx::upstream_out`] goes out.
    Connected,
    /// Bytes arrived (everything unconsumed so far plus what just arrived).
    Data(&'a [u8]),
    /// It shut down its sending side.
    Eof,
    /// It could not be reached, or failed (reset, error).
    Failed(std::io::ErrorKind),
}

/// A protocol, as one worker runs it: per-worker state, and a session per
/// connection. Every method runs on the worker's thread.
pub(crate) trait Service: Sized + 'static {
    /// Per-connection state.
    type Session;
    /// What wakes a parked session (see [`Service::take_events`]).
    type Event;
    /// The service's server-wide state, shared by every worker's instance (the
    /// HTTP routes, log and handler pool; nothing for most services).
    type Own: Send + Sync + 'static;

    /// What to write to a connection refused over `max_connections` before
    /// closing it (plain connections only: over TLS a handshake would come first).
    const REFUSAL: Option<&'static [u8]> = None;

    /// This worker's state.
    fn start(worker: usize, shared: &Arc<ServerCore>, own: &Self::Own) -> Self;

    /// A session for a connection just accepted.
    fn open(&mut self) -> Self::Session;

    /// Once per loop turn, before the turn's events (a cached clock, a newer
    /// route table).
    #[inline]
    fn begin_turn(&mut self) {}

    /// Feeds input: everything unconsumed so far plus what just arrived.
    fn on_input(&mut self, s: &mut Self::Session, input: &[u8], cx: &mut Cx<'_>) -> Progress;

    /// Resumes a parked session. Input kept meanwhile is fed afterwards, unless it
    /// parks again.
    fn resume(
        &mut self,
        _s: &mut Self::Session,
        _why: Wake<Self::Event>,
        _cx: &mut Cx<'_>,
    ) -> Next {
        Next::Continue
    }

    /// Events for parked sessions, collected when the worker was woken.
    #[inline]
    fn take_events(&mut self, _events: &mut Vec<(mio::Token, Self::Event)>) {}

    /// Where a parked session waits until, if it is parked.
    #[inline]
    fn park(_s: &Self::Session) -> Option<Park> {
        None
    }

    /// True between requests: nothing received that still needs an answer.
    #[inline]
    fn is_idle(_s: &Self::Session) -> bool {
        true
    }

    /// The connection was idle for `idle_timeout`. True keeps it open: the session
    /// wrote a keep-alive to `cx.out` (a WebSocket ping) and the idle timer starts
    /// again; false (the default) closes it, counted as a timeout.
    #[inline]
    fn on_idle(&mut self, _s: &mut Self::Session, _cx: &mut Cx<'_>) -> bool {
        false
    }

    /// What an idle connection closed by a stop is told first, if anything (a
    /// WebSocket close frame, 1001 going away): sent once, best effort, never
    /// waited for.
    #[inline]
    fn farewell(_s: &Self::Session) -> Option<&'static [u8]> {
        None
    }

    /// A request stayed incomplete past the header timeout: answer it if the
    /// protocol has an answer for that (HTTP 408). The connection closes afterwards.
    fn on_request_timeout(&mut self, _s: &mut Self::Session, _cx: &mut Cx<'_>) {}

    /// The session's outbound connection did something ([`Cx::dial`]).
    fn on_upstream(
        &mut self,
        _s: &mut Self::Session,
        _what: Upstream<'_>,
        _cx: &mut Cx<'_>,
    ) -> Progress {
        Progress {
            consumed: 0,
            next: Next::Close,
        }
    }

    /// After the turn's events: work on other connections (a broadcast). What it
    /// queues is sent by the engine right after.
    #[inline]
    fn end_turn(&mut self, _peers: &mut Peers<'_, Self::Session>) {}

    /// Shared segments of send queues (broadcast frames, large bodies) sent whole
    /// this turn, and those lost with closing connections.
    #[inline]
    fn shared_sent(&mut self, _sent: u64, _lost: u64, _counters: &Counters) {}

    /// The connection is closing: release what the session holds (a room).
    #[inline]
    fn close(&mut self, _s: &mut Self::Session) {}

    /// The worker is exiting.
    fn exit(&mut self) {}

    /// The last worker exited: end what would otherwise wait for nobody, even if
    /// no one joins the server (a stop begun from inside a callback): the handler
    /// pool's threads, the backplane's link.
    fn last_exited(_own: &Self::Own, _shared: &ServerCore) {}
}
