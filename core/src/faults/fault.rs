//! The faults a route (or its chaos) gives an answer.

use std::time::Duration;

/// A misbehaviour a route shows on purpose, to test how clients cope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long before responding. Later pipelined requests on the same
    /// connection wait behind it (responses stay in order); other connections do not.
    Delay(Duration),
    /// Send the head at once, then the body `bytes` at a time, one piece per `interval`.
    Drip {
        /// Body bytes per piece (at least 1).
        bytes: usize,
        /// Time between pieces (more than zero).
        interval: Duration,
    },
    /// Send the head (announcing the full Content-Length), then close without the body.
    CloseAfterHeaders,
    /// Reset the connection (RST) instead of responding.
    Reset,
    /// Never respond; the connection stays open until the client closes it, the idle
    /// timeout passes, or the server stops.
    NoResponse,
}
