//! What a thread is given and gives back: the run's clock ([`Clock`]), what the
//! threads of a run share ([`Shared`], [`Live`] progress), one thread's share of
//! the load ([`Plan`]) and what it measured ([`ThreadResult`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::config::Target;
use crate::result::{ErrorCounts, Second};

/// When things happen, for every thread of a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// The run's start: frame stamps count nanoseconds from here.
    pub(crate) start: Instant,
    /// Answers completed from here on are measured (the end of the warm-up).
    pub(crate) measure_start: Instant,
    /// The end of the measured phase (duration mode).
    pub(crate) end: Option<Instant>,
}

/// Progress of one thread, written only by it.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub(crate) answers: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) open: AtomicU64,
}

/// What the threads of a run share.
pub(crate) struct Shared {
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) live: Box<[Live]>,
    /// Frame protocol: connections that have joined the room (once each).
    pub(crate) joined: AtomicUsize,
    pub(crate) connections: usize,
    /// Requests mode: threads still sending their share.
    pub(crate) sending: AtomicUsize,
}

/// What one thread does.
pub(crate) struct Plan {
    pub(crate) index: usize,
    pub(crate) target: Target,
    /// This thread's connections, and the global index of its first.
    pub(crate) conns: usize,
    pub(crate) first_conn: usize,
    /// Frame protocol: publisher ids of this thread's publishing connections
    /// (its first `publishers.len()` connections).
    pub(crate) publishers: Vec<u32>,
    pub(crate) pipeline: usize,
    /// Open loop: the time between two sends of one sending connection, and the
    /// global index of this thread's first sender and the number of senders.
    pub(crate) interval: Option<Duration>,
    pub(crate) first_sender: usize,
    pub(crate) total_senders: usize,
    pub(crate) timeout: Duration,
    /// Requests this thread sends in the measured phase (requests mode).
    pub(crate) quota: Option<u64>,
    /// HTTP: one request; echo: the payload length; frame: the payload length.
    pub(crate) request: Arc<[u8]>,
    pub(crate) payload_len: usize,
    pub(crate) head_request: bool,
    /// Frame protocol and WebSocket rooms: the room (WebSocket joins by the
    /// target's path).
    pub(crate) room: String,
    /// One publisher, many members: frame protocol, WebSocket rooms.
    pub(crate) fans_out: bool,
    /// WebSocket echo: text messages.
    pub(crate) ws_text: bool,
    pub(crate) clock: Clock,
}

/// What one thread measured.
pub(crate) struct ThreadResult {
    pub(crate) latency: Histogram<u64>,
    pub(crate) uncorrected: Option<Histogram<u64>>,
    pub(crate) send_lag: Option<Histogram<u64>>,
    /// Frame protocol: (publisher, seq) -> latest delivery latency in µs.
    pub(crate) fanout: HashMap<(u32, u64), u64>,
    pub(crate) timeline: Vec<Second>,
    pub(crate) requests: u64,
    pub(crate) sent: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_received: u64,
    pub(crate) errors: ErrorCounts,
    /// Connections made (warm-up included).
    pub(crate) opened: u64,
}
