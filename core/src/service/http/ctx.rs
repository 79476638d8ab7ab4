//! What the HTTP session works with: its context for one call ([`Ctx`]), what it
//! decides ([`Next`], [`Progress`]), and the limits it enforces ([`Limits`]).

use std::sync::Arc;
use std::time::Instant;

use super::hold::Hold;
use super::response::Hello;
use crate::routing::log::{Misses, RequestLog};
use crate::routing::table::RouteTable;
use crate::routing::ws_log::WsLog;
use crate::routing::Prepared;
use crate::service::ws::deflate::DeflateConfig;
use crate::service::ws::endpoint::Endpoint;
use crate::service::{self as seam, Reply};
use crate::stats::Counters;

/// What the HTTP session decided after a batch of input: the seam's
/// [`crate::service::Next`],
/// or an answer to hold ([`Hold`]), which the service parks the session on.
pub(crate) enum Next {
    Continue,
    Pause,
    Close,
    Reset,
    Hold(Box<Hold>),
    /// The request upgraded to WebSocket: the connection is the endpoint's from
    /// here on, and this is what its opening decided.
    Upgrade(Box<Endpoint>, seam::Next),
}

impl Next {
    /// The connection ends after this (close or reset).
    pub(crate) fn ends(&self) -> bool {
        matches!(self, Next::Close | Next::Reset)
    }
}

/// Result of feeding input to the HTTP session.
pub(crate) struct Progress {
    pub(crate) consumed: usize,
    pub(crate) next: Next,
}

/// Limits the HTTP session enforces, copied from the config once per worker.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_body_bytes: u64,
    /// Largest WebSocket message (after decompression), for WebSocket routes.
    pub(crate) max_message_bytes: usize,
    /// What permessage-deflate WebSocket routes may agree to.
    pub(crate) ws_deflate: DeflateConfig,
}

/// Everything the HTTP session may use besides its own state.
pub(crate) struct Ctx<'a> {
    /// Output to send, appended in order.
    pub(crate) out: &'a mut Reply,
    /// Answer no further request once `out` holds this many bytes.
    pub(crate) out_budget: usize,
    /// The worker's counters.
    pub(crate) counters: &'a Counters,
    pub(crate) limits: &'a Limits,
    /// The current HTTP `Date` value (IMF-fixdate).
    pub(crate) date: &'a [u8],
    /// The fixed response, rendered with that date.
    pub(crate) hello: &'a Hello,
    /// The server is stopping: finish what is in flight, start nothing new.
    pub(crate) stopping: bool,
    /// The routes in force; shared, so that a deferred match can take the table
    /// to a handler thread.
    pub(crate) routes: &'a Arc<RouteTable>,
    /// Where to record requests, if the log is on.
    pub(crate) log: Option<&'a RequestLog>,
    /// Where to record WebSocket routes' messages, if the log is on.
    pub(crate) ws_log: Option<&'a WsLog>,
    /// Where to count requests no route matched.
    pub(crate) misses: &'a Misses,
    /// The response to a request no route matches.
    pub(crate) unmatched: &'a Prepared,
    /// With no routes at all, answer the fixed response instead of `unmatched`.
    pub(crate) fixed_response: bool,
    /// The time of the current event.
    pub(crate) now: Instant,
    /// The connection's id, as request-log entries and handlers see it.
    pub(crate) conn_id: u64,
}

impl Ctx<'_> {
    /// The output budget is spent: answer no further request now ([`Next::Pause`]).
    #[inline]
    pub(crate) fn output_full(&self) -> bool {
        self.out.len() >= self.out_budget
    }

    /// Every request gets the fixed response and nothing of it is kept: no
    /// routes, no log. The benchmark path, which skips even the request's body.
    #[inline]
    pub(crate) fn fixed_only(&self) -> bool {
        self.routes.is_empty() && self.log.is_none() && self.fixed_response
    }
}
