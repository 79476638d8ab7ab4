//! An answer not complete yet ([`Hold`]: a schedule playing, a handler running,
//! or never), and how a response must be framed ([`Meta`]).

use std::sync::Arc;
use std::time::Instant;

use super::handlers::Work;
use super::response::ConnectionHeader;
use crate::faults::schedule::Player;
use crate::faults::Fault;
use crate::routing::Prepared;

/// How the response to one request must be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) head_only: bool,
    pub(crate) connection: ConnectionHeader,
    /// Minor HTTP version of the request.
    pub(crate) version: u8,
}

impl Meta {
    /// Once stopping, every response closes its connection.
    pub(crate) fn at_send(self, stopping: bool) -> Meta {
        let mut m = self;
        if stopping {
            m.connection = ConnectionHeader::Close;
        }
        m
    }
}

/// An answer that is not complete yet; the connection reads no further request
/// until it is (responses stay in request order).
// Always boxed (`Box<Hold>`), one per held answer: the size of the handler's
// request in it costs no more than boxing that request separately.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Hold {
    /// An answer playing its schedule (a delay, a drip, a stream): the next beat
    /// is due at `next`.
    Play {
        player: Player,
        response: Arc<Prepared>,
        meta: Meta,
        /// The streamed body goes out in chunks (HTTP/1.1); else it ends with the
        /// connection.
        chunked: bool,
        next: Instant,
    },
    /// Run `work` (a handler for a request) on the handler pool (the service
    /// submits it and holds [`Hold::AwaitHandler`] instead).
    RunHandler {
        work: Work,
        fault: Option<Fault>,
        meta: Meta,
    },
    /// Waiting for handler job `job`, answered 500 at `deadline`.
    AwaitHandler {
        job: u64,
        fault: Option<Fault>,
        meta: Meta,
        deadline: Instant,
    },
    /// Never answer.
    Never,
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Hold::Play { .. } => "Hold::Play",
            Hold::RunHandler { .. } => "Hold::RunHandler",
            Hold::AwaitHandler { .. } => "Hold::AwaitHandler",
            Hold::Never => "Hold::Never",
        })
    }
}

impl Hold {
    /// When the service must act on this hold; `None` for [`Hold::Never`] (which
    /// ends only by the client, the idle timeout, or stop).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self {
            Hold::Play { next, .. } => Some(*next),
            Hold::AwaitHandler { deadline, .. } => Some(*deadline),
            // Not left in place by the service; act at once if it ever is.
            Hold::RunHandler { .. } => Some(Instant::now()),
            Hold::Never => None,
        }
    }
}
