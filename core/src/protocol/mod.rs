//! Protocols: what a connection does with the bytes it receives.
//!
//! A protocol is a per-connection [`Session`] fed with input by the worker. It
//! consumes a prefix of the input (the rest stays buffered for the next call),
//! appends whatever it answers to `ctx.out`, and says whether the connection goes on
//! or closes once that output is flushed. Sessions do no I/O and know nothing of
//! sockets, so each protocol can be tested on byte slices alone.

mod discard;
mod echo;
pub(crate) mod frame;
pub(crate) mod http;
pub(crate) mod out;

use std::sync::Arc;
use std::time::Instant;

use crate::config::{Config, Protocol};
use crate::rooms::hub::Hub;
use crate::routing::log::{Misses, RequestLog};
use crate::routing::table::RouteTable;
use crate::routing::Prepared;
use crate::stats::Counters;
use out::Out;

/// What happens to the connection after this input.
pub(crate) enum Next {
    /// Keep reading.
    Continue,
    /// Read no further input; flush the output, then close.
    Close,
    /// Send what is already answered (best effort), then reset the connection (RST).
    Reset,
    /// The output budget is spent: the rest of the input was not looked at. Read no
    /// more; feed the unconsumed input again once the pending output has drained.
    Pause,
    /// The last request's answer is not complete: feed no further input until the
    /// worker has finished it (a delay, a drip, a handler, or never).
    Hold(Box<http::Hold>),
}

impl Next {
    /// The connection ends after this (close or reset).
    pub(crate) fn ends(&self) -> bool {
        matches!(self, Next::Close | Next::Reset)
    }
}

/// Result of feeding input to a session.
pub(crate) struct Progress {
    /// Bytes of the input used; the rest is handed back next time, with more appended.
    pub(crate) consumed: usize,
    /// Whether the connection goes on.
    pub(crate) next: Next,
}

/// Limits a session enforces, copied from the config once per worker.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_body_bytes: u64,
    pub(crate) max_frame_bytes: usize,
}

impl Limits {
    pub(crate) fn from_config(c: &Config) -> Limits {
        Limits {
            max_header_bytes: c.max_header_bytes,
            max_headers: c.max_headers,
            max_body_bytes: c.max_body_bytes,
            max_frame_bytes: c.max_frame_bytes,
        }
    }
}

/// Everything a session may use besides its own state.
pub(crate) struct Ctx<'a> {
    /// Output to send, appended in order.
    pub(crate) out: &'a mut Out,
    /// Answer no further request once `out` holds this many bytes (the connection's
    /// pending-output limit, less what it already has pending); see [`Next::Pause`].
    pub(crate) out_budget: usize,
    /// The worker's counters.
    pub(crate) counters: &'a Counters,
    pub(crate) limits: &'a Limits,
    /// The current HTTP `Date` value (IMF-fixdate).
    pub(crate) date: &'a [u8],
    /// The server is stopping: finish what is in flight, start nothing new.
    pub(crate) stopping: bool,
    /// The routes in force (HTTP); shared, so that a deferred match can take the
    /// table to a handler thread.
    pub(crate) routes: &'a Arc<RouteTable>,
    /// Where to record requests, if the log is on.
    pub(crate) log: Option<&'a RequestLog>,
    /// Where to count requests no route matched.
    pub(crate) misses: &'a Misses,
    /// The response to a request no route matches.
    pub(crate) unmatched: &'a Prepared,
    /// With no routes at all, answer the fixed response instead of `unmatched`.
    pub(crate) fixed_response: bool,
    /// The time of the current event (one clock read per poll).
    pub(crate) now: Instant,
    /// The connection's id, as request-log entries and handlers see it.
    pub(crate) conn_id: u64,
    /// The connection's token (frame protocol: how the hub names a member).
    pub(crate) token: mio::Token,
    /// The worker's rooms (frame protocol only).
    pub(crate) hub: Option<&'a mut Hub>,
}

impl Ctx<'_> {
    /// The output budget is spent: answer no further request now ([`Next::Pause`]).
    #[inline]
    pub(crate) fn output_full(&self) -> bool {
        self.out.len() >= self.out_budget
    }

    /// Every HTTP request gets the fixed response and nothing of it is kept: no
    /// routes, no log. The benchmark path, which skips even the request's body.
    #[inline]
    pub(crate) fn fixed_only(&self) -> bool {
        self.routes.is_empty() && self.log.is_none() && self.fixed_response
    }
}

/// Per-connection protocol state.
#[derive(Debug)]
pub(crate) enum Session {
    Discard,
    Echo,
    Http(http::Session),
    Frame(frame::Session),
}

impl Session {
    pub(crate) fn new(protocol: Protocol) -> Session {
        match protocol {
            Protocol::Discard => Session::Discard,
            Protocol::Echo => Session::Echo,
            Protocol::Http => Session::Http(http::Session::default()),
            Protocol::Frame => Session::Frame(frame::Session::default()),
        }
    }

    /// Feeds input (everything unconsumed so far plus what just arrived).
    #[inline]
    pub(crate) fn on_input(&mut self, input: &[u8], ctx: &mut Ctx<'_>) -> Progress {
        match self {
            Session::Discard => discard::on_input(input),
            Session::Echo => echo::on_input(input, ctx),
            Session::Http(s) => s.on_input(input, ctx),
            Session::Frame(s) => s.on_input(input, ctx),
        }
    }

    /// True between requests: nothing received that still needs an answer.
    pub(crate) fn is_idle(&self) -> bool {
        match self {
            Session::Discard | Session::Echo | Session::Frame(_) => true,
            Session::Http(s) => s.is_idle(),
        }
    }

    /// The session waits for something other than its output to drain before it
    /// looks at more input (a frame `JOIN` waiting for its `JOINED`); the worker
    /// resumes it when that comes.
    #[inline]
    pub(crate) fn parked(&self) -> bool {
        matches!(self, Session::Frame(s) if s.awaiting_joined())
    }

    /// A request stayed incomplete past the header timeout: answer it if the protocol
    /// has an answer for that (HTTP 408). The connection closes afterwards.
    pub(crate) fn on_request_timeout(&mut self, ctx: &mut Ctx<'_>) {
        if let Session::Http(s) = self {
            s.on_request_timeout(ctx);
        }
    }
}
