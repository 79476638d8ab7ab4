//! `http`: HTTP/1.1 and 1.0 with keep-alive and pipelining, programmable with
//! routes, faults, handlers and a request log.
//!
//! A connection's [`session`] parses requests as they arrive and answers every
//! complete one, in order, into one reply, so that a pipelined batch goes out in
//! one write; [`answer`] picks the route, applies its fault, or hands the request
//! to a handler ([`handlers`]: threads off the I/O threads). An answer that is
//! not complete at once (a delay, a drip, a stream, a handler) is held: the
//! session parks, and this service finishes it when it is due or when its
//! handler's result comes back ([`HttpService`]'s [`Service::resume`]), mapping
//! handler outcomes to HTTP answers.

pub(crate) mod answer;
pub(crate) mod chunked;
mod date;
pub(crate) mod handlers;
pub(crate) mod head;
pub(crate) mod response;
pub(crate) mod session;
pub(crate) mod shared;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub(crate) use answer::{deliver, resume, send_unmatched, Hold};
pub(crate) use date::DateCache;
pub(crate) use session::Session;
pub(crate) use shared::HttpShared;

use super::{Cx, Park, Reply, Service, Services, Wake};
use crate::routing::log::{Misses, RequestLog};
use crate::routing::table::RouteTable;
use crate::routing::{reason, Prepared, Response};
use crate::shared::Shared;
use crate::stats::Counters;
use handlers::{Completion, HandlerPool, Job, Outcome};

/// The fixed response body when no route is defined.
pub(crate) const HELLO: &[u8] = b"hello\n";

/// What the HTTP session decided after a batch of input: the seam's [`super::Next`],
/// or an answer to hold ([`Hold`]), which the service parks the session on.
pub(crate) enum Next {
    Continue,
    Pause,
    Close,
    Reset,
    Hold(Box<Hold>),
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
    pub(crate) hello: &'a response::Hello,
    /// The server is stopping: finish what is in flight, start nothing new.
    pub(crate) stopping: bool,
    /// The routes in force; shared, so that a deferred match can take the table
    /// to a handler thread.
    pub(crate) routes: &'a Arc<RouteTable>,
    /// Where to record requests, if the log is on.
    pub(crate) log: Option<&'a RequestLog>,
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

/// The answer to requests no route matches: `status` and its reason phrase.
pub(crate) fn unmatched_answer(status: u16) -> Prepared {
    Prepared::new(&Response::text(status, format!("{}\n", reason(status))))
}

/// An HTTP connection: reading requests, or holding an answer that is not
/// complete yet (the session is parked until it is; the parser is idle then, so
/// the two share their room: an idle connection stays small).
#[derive(Debug)]
pub(crate) enum HttpSession {
    Reading(Session),
    Held(Box<Hold>),
}

impl HttpSession {
    /// The held answer, if any.
    #[inline]
    fn held(&self) -> Option<&Hold> {
        match self {
            HttpSession::Held(h) => Some(h),
            HttpSession::Reading(_) => None,
        }
    }

    /// Takes the held answer; the session reads again.
    fn take_hold(&mut self) -> Option<Box<Hold>> {
        match std::mem::replace(self, HttpSession::Reading(Session::default())) {
            HttpSession::Held(h) => Some(h),
            reading => {
                *self = reading;
                None
            }
        }
    }
}

/// One worker's HTTP service.
pub(crate) struct HttpService {
    worker: usize,
    http: Arc<HttpShared>,
    limits: Limits,
    date: DateCache,
    hello: response::Hello,
    /// This worker's snapshot of the route table and the version it was taken at.
    routes: Arc<RouteTable>,
    routes_version: u64,
    /// The answer when routes exist and none matches.
    unmatched: Arc<Prepared>,
    fixed_response: bool,
    handler_timeout: Duration,
    next_job: u64,
    /// Handler results taken from the pool (kept for its capacity).
    completions: Vec<Completion>,
}

impl HttpService {
    /// Takes the newest route table if it changed (one atomic load otherwise).
    #[inline]
    fn refresh_routes(&mut self) {
        let version = self.http.routes.version();
        if version != self.routes_version {
            self.routes = self.http.routes.snapshot();
            self.routes_version = version;
            if let Some(u) = &self.routes.unmatched {
                self.unmatched = u.clone();
            }
        }
    }

    /// The session's context for one call, from the engine's.
    #[inline]
    fn ctx<'a>(&'a self, cx: &'a mut Cx<'_>) -> Ctx<'a> {
        Ctx {
            out: &mut *cx.out,
            out_budget: cx.out_budget,
            counters: cx.counters,
            limits: &self.limits,
            date: self.date.as_bytes(),
            hello: &self.hello,
            stopping: cx.stopping,
            routes: &self.routes,
            log: self.http.log.as_ref(),
            misses: &self.http.misses,
            unmatched: &self.unmatched,
            fixed_response: self.fixed_response,
            now: cx.now,
            conn_id: cx.conn_id,
        }
    }

    /// The seam's [`super::Next`] for what the session decided; an answer to hold
    /// parks the session (a handler's request goes to the pool first).
    #[inline]
    fn decide(&mut self, s: &mut HttpSession, next: Next, cx: &Cx<'_>) -> super::Next {
        match next {
            Next::Continue => super::Next::Continue,
            Next::Pause => super::Next::Pause,
            Next::Close => super::Next::Close,
            Next::Reset => super::Next::Reset,
            Next::Hold(hold) => {
                self.hold(s, hold, cx);
                super::Next::Park
            }
        }
    }

    /// Holds an answer to finish later; hands a handler's request to the pool.
    fn hold(&mut self, s: &mut HttpSession, mut hold: Box<Hold>, cx: &Cx<'_>) {
        if let Hold::RunHandler { .. } = *hold {
            let Hold::RunHandler {
                work,
                request,
                fault,
                meta,
            } = *hold
            else {
                return;
            };
            let id = self.next_job;
            self.next_job += 1;
            let job = Job {
                worker: self.worker,
                token: cx.token,
                id,
                work,
                request,
            };
            // The pool closes only after every worker has exited, so this succeeds;
            // if it ever did not, the deadline of now answers 500 at once.
            let deadline = if HandlerPool::submit(&self.http, job) {
                cx.now + self.handler_timeout
            } else {
                cx.now
            };
            hold = Box::new(Hold::AwaitHandler {
                job: id,
                fault,
                meta,
                deadline,
            });
        }
        *s = HttpSession::Held(hold);
    }
}

/// Why a held answer is being released.
enum Release {
    /// Its deadline passed: a delay or drip step is due, or a handler timed out.
    Due,
    /// Its handler finished.
    Handled(Outcome),
}

impl Service for HttpService {
    type Session = HttpSession;
    type Event = Completion;

    const REFUSAL: Option<&'static [u8]> = Some(response::SERVICE_UNAVAILABLE);

    fn start(worker: usize, shared: &Arc<Shared>, services: &Services) -> HttpService {
        let c = &shared.config;
        let http = services.http.clone();
        // The version first: a change after it is seen at the next request.
        let routes_version = http.routes.version();
        let routes = http.routes.snapshot();
        HttpService {
            worker,
            limits: Limits {
                max_header_bytes: c.max_header_bytes,
                max_headers: c.max_headers,
                max_body_bytes: c.max_body_bytes,
            },
            hello: response::Hello::new(DateCache::new().as_bytes()),
            date: DateCache::new(),
            routes_version,
            // Changed before this thread started, maybe.
            unmatched: routes
                .unmatched
                .clone()
                .unwrap_or_else(|| Arc::new(unmatched_answer(c.unmatched_status))),
            routes,
            fixed_response: c.fixed_response,
            handler_timeout: c.handler_timeout,
            next_job: 0,
            completions: Vec::new(),
            http,
        }
    }

    #[inline]
    fn open(&mut self) -> HttpSession {
        HttpSession::Reading(Session::default())
    }

    #[inline]
    fn begin_turn(&mut self) {
        if self.date.refresh(SystemTime::now()) {
            self.hello.render(self.date.as_bytes());
        }
    }

    #[inline]
    fn on_input(&mut self, s: &mut HttpSession, input: &[u8], cx: &mut Cx<'_>) -> super::Progress {
        let HttpSession::Reading(session) = s else {
            // (The engine feeds no input to a parked session.)
            return super::Progress {
                consumed: 0,
                next: super::Next::Park,
            };
        };
        self.refresh_routes();
        let progress = {
            let mut ctx = self.ctx(cx);
            session.on_input(input, &mut ctx)
        };
        super::Progress {
            consumed: progress.consumed,
            next: self.decide(s, progress.next, cx),
        }
    }

    /// A held answer is due or its handler returned: sends it (or its next step).
    fn resume(
        &mut self,
        s: &mut HttpSession,
        why: Wake<Completion>,
        cx: &mut Cx<'_>,
    ) -> super::Next {
        let why = match why {
            Wake::Due => Release::Due,
            Wake::Event(done) => {
                let awaited = matches!(s.held(),
                    Some(Hold::AwaitHandler { job, .. }) if *job == done.id);
                if !awaited {
                    // Already answered 500 for a timeout, or another answer held.
                    return if s.held().is_some() {
                        super::Next::Park
                    } else {
                        super::Next::Continue
                    };
                }
                Release::Handled(done.outcome)
            }
        };
        let Some(mut hold) = s.take_hold() else {
            return super::Next::Continue;
        };
        let failure = match (&*hold, &why) {
            (Hold::AwaitHandler { .. }, Release::Due) => Some("handler timed out\n"),
            (Hold::AwaitHandler { .. }, Release::Handled(Outcome::Panicked)) => {
                Some("handler failed\n")
            }
            _ => None,
        };
        if failure.is_some()
            || matches!(
                why,
                Release::Handled(Outcome::Failed(_) | Outcome::Routed(Err(_), _))
            )
        {
            cx.counters.handler_errors.incr();
        }
        self.refresh_routes();
        let next = {
            let mut ctx = self.ctx(cx);
            match &mut *hold {
                Hold::Play { .. } => match resume(&mut hold, &mut ctx) {
                    Some(next) => next,
                    None => {
                        *s = HttpSession::Held(hold);
                        return super::Next::Park;
                    }
                },
                Hold::AwaitHandler { fault, meta, .. } => {
                    let prepared = |r: Response| Arc::new(Prepared::from_response(r));
                    match (failure, why) {
                        (None, Release::Handled(Outcome::Answered(r) | Outcome::Failed(r))) => {
                            deliver(prepared(r), *fault, *meta, &mut ctx)
                        }
                        // Matches resolved on the handler thread.
                        (None, Release::Handled(Outcome::Static(p, f))) => {
                            deliver(p, f, *meta, &mut ctx)
                        }
                        (None, Release::Handled(Outcome::Routed(Ok(r) | Err(r), f))) => {
                            deliver(prepared(r), f, *meta, &mut ctx)
                        }
                        (None, Release::Handled(Outcome::Unmatched)) => {
                            send_unmatched(*meta, &mut ctx)
                        }
                        (text, _) => deliver(
                            prepared(Response::text(500, text.unwrap_or_default())),
                            None,
                            *meta,
                            &mut ctx,
                        ),
                    }
                }
                // Never is not due; RunHandler is never stored. Put them back.
                Hold::Never | Hold::RunHandler { .. } => {
                    *s = HttpSession::Held(hold);
                    return super::Next::Park;
                }
            }
        };
        self.decide(s, next, cx)
    }

    fn take_events(&mut self, events: &mut Vec<(mio::Token, Completion)>) {
        self.http
            .handlers
            .take_completions(self.worker, &mut self.completions);
        events.extend(self.completions.drain(..).map(|c| (c.token, c)));
    }

    #[inline]
    fn park(s: &HttpSession) -> Option<Park> {
        s.held().map(|h| match h {
            Hold::Never => Park::Never,
            h => h.deadline().map_or(Park::Event, Park::Until),
        })
    }

    #[inline]
    fn is_idle(s: &HttpSession) -> bool {
        match s {
            HttpSession::Reading(session) => session.is_idle(),
            HttpSession::Held(_) => false,
        }
    }

    fn on_request_timeout(&mut self, s: &mut HttpSession, cx: &mut Cx<'_>) {
        if let HttpSession::Reading(session) = s {
            let mut ctx = self.ctx(cx);
            session.on_request_timeout(&mut ctx);
        }
    }
}
