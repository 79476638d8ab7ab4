//! Counters: one block per worker, written only by that worker, summed on read.
//!
//! Each worker owns a cache-line aligned [`Counters`] block. Because a block has a
//! single writer, an increment is a relaxed load and store (a plain `mov` on x86),
//! not a locked read-modify-write, and no two workers ever share a cache line. Any
//! thread may read the blocks at any time; a [`Stats`] snapshot is their sum.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::backplane::BackplaneStats;
use crate::rooms::registry::RoomCounts;
use std::time::Duration;

/// A monotonically increasing counter with exactly one writing thread.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Must only be called by the counter's owning thread.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        // Single writer: load + store cannot lose an update, and avoids a locked op.
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Adds one. Must only be called by the counter's owning thread.
    #[inline]
    pub(crate) fn incr(&self) {
        self.add(1);
    }

    /// Reads the current value from any thread.
    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The counters of one worker thread (or of the accept path of one worker).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counters {
    pub(crate) connections_accepted: Counter,
    pub(crate) connections_closed: Counter,
    pub(crate) connections_refused: Counter,
    pub(crate) bytes_read: Counter,
    pub(crate) bytes_written: Counter,
    pub(crate) requests: Counter,
    pub(crate) responses: Counter,
    pub(crate) protocol_errors: Counter,
    pub(crate) timeouts: Counter,
    pub(crate) slow_consumer_disconnects: Counter,
    pub(crate) broadcasts: Counter,
    pub(crate) deliveries: Counter,
    pub(crate) frames_dropped: Counter,
    pub(crate) accept_errors: Counter,
    pub(crate) handler_errors: Counter,
    pub(crate) internal_errors: Counter,
}

/// Lifecycle state of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Accepting and serving connections.
    Running,
    /// `stop` was called: no longer accepting, draining in-flight work.
    Stopping,
    /// Every worker thread has exited.
    Stopped,
    /// A worker hit an error it could not recover from (its event loop failed).
    /// The other workers keep serving until `stop`.
    Failed,
}

impl State {
    pub(crate) fn to_u8(self) -> u8 {
        match self {
            State::Running => 0,
            State::Stopping => 1,
            State::Stopped => 2,
            State::Failed => 3,
        }
    }

    pub(crate) fn from_u8(v: u8) -> State {
        match v {
            0 => State::Running,
            1 => State::Stopping,
            2 => State::Stopped,
            _ => State::Failed,
        }
    }

    /// Lower-case name, as printed by the CLI and in Prometheus labels.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
            State::Failed => "failed",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A point-in-time snapshot of a server's counters, summed over its workers.
///
/// Counters only grow, except `connections_active`. Because workers are read one
/// after another without stopping them, a snapshot taken under load is consistent
/// per counter, not across counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted and served (refused ones are not included).
    pub connections_accepted: u64,
    /// Connections open now.
    pub connections_active: u64,
    /// Connections closed, for any reason.
    pub connections_closed: u64,
    /// Connections accepted then closed at once because `max_connections` was reached.
    pub connections_refused: u64,
    /// Bytes received from clients.
    pub bytes_read: u64,
    /// Bytes sent to clients, counted once each write returns (so a snapshot may
    /// lag, by one write, bytes a client has already read).
    pub bytes_written: u64,
    /// Requests received: HTTP requests, or frames (frame protocol).
    pub requests: u64,
    /// Responses sent: HTTP responses (error responses included), or frames sent
    /// (frame protocol: echoes, control answers and broadcast deliveries).
    pub responses: u64,
    /// Bad input from a client: malformed requests, oversized heads and bodies.
    pub protocol_errors: u64,
    /// Connections closed by a timeout (idle, header, write stall).
    pub timeouts: u64,
    /// Connections closed because their pending output stayed over the limit.
    pub slow_consumer_disconnects: u64,
    /// Data frames broadcast to a room (by members and by `Server::publish`).
    pub broadcasts: u64,
    /// Broadcast frames delivered to a member (one per recipient), counted once
    /// the whole frame is handed to the kernel (so, like `bytes_written`, a
    /// snapshot may lag a frame a client has already read).
    pub deliveries: u64,
    /// Broadcast frames a member did not get: dropped by `drop_newest` or
    /// `drop_oldest`, cut from (or offered to) a member being disconnected as a
    /// slow consumer, or left queued when a member's connection closed. With
    /// `deliveries`, every frame offered to a member is counted once.
    pub frames_dropped: u64,
    /// Rooms with at least one member, now.
    pub rooms: u64,
    /// Members over all rooms, now.
    pub members: u64,
    /// Failed `accept()` calls (e.g. EMFILE), each followed by a back-off.
    pub accept_errors: u64,
    /// Failures of user handlers (a panic or an error result).
    pub handler_errors: u64,
    /// Panics caught inside the engine: the connection was closed, the server kept serving.
    pub internal_errors: u64,
    /// Lifecycle state.
    pub state: State,
    /// Time since the server started.
    pub uptime: Duration,
    /// The Redis backplane's link and counts, when one is configured.
    pub backplane: Option<BackplaneStats>,
}

impl Stats {
    pub(crate) fn sum<'a>(
        blocks: impl IntoIterator<Item = &'a Counters>,
        state: State,
        uptime: Duration,
        rooms: RoomCounts,
        backplane: Option<BackplaneStats>,
    ) -> Stats {
        let mut s = Stats {
            connections_accepted: 0,
            connections_active: 0,
            connections_closed: 0,
            connections_refused: 0,
            bytes_read: 0,
            bytes_written: 0,
            requests: 0,
            responses: 0,
            protocol_errors: 0,
            timeouts: 0,
            slow_consumer_disconnects: 0,
            broadcasts: rooms.host_publishes,
            deliveries: 0,
            frames_dropped: 0,
            rooms: rooms.rooms,
            members: rooms.members,
            accept_errors: 0,
            handler_errors: 0,
            internal_errors: 0,
            state,
            uptime,
            backplane,
        };
        for c in blocks {
            s.connections_accepted += c.connections_accepted.get();
            s.connections_closed += c.connections_closed.get();
            s.connections_refused += c.connections_refused.get();
            s.bytes_read += c.bytes_read.get();
            s.bytes_written += c.bytes_written.get();
            s.requests += c.requests.get();
            s.responses += c.responses.get();
            s.protocol_errors += c.protocol_errors.get();
            s.timeouts += c.timeouts.get();
            s.slow_consumer_disconnects += c.slow_consumer_disconnects.get();
            s.broadcasts += c.broadcasts.get();
            s.deliveries += c.deliveries.get();
            s.frames_dropped += c.frames_dropped.get();
            s.accept_errors += c.accept_errors.get();
            s.handler_errors += c.handler_errors.get();
            s.internal_errors += c.internal_errors.get();
        }
        // Closed is read after accepted, so it can only be ahead by races; clamp.
        s.connections_active = s.connections_accepted.saturating_sub(s.connections_closed);
        s
    }
}
