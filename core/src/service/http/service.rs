//! The HTTP service: one worker's state (the route table in force, the date, the
//! fixed response), a session per connection, and the answers it holds: finished
//! when they are due or when their handler's result comes back, handler outcomes
//! mapped to HTTP answers.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mio::Waker;

use super::answer::{deliver, resume, send_unmatched};
use super::ctx::{Ctx, Limits, Next};
use super::date::DateCache;
use super::handlers::{Completion, HandlerPool, Job, Outcome, Work};
use super::hold::Hold;
use super::response::{self, unmatched_answer};
use super::session::Session;
use super::shared::HttpShared;
use super::upgrade::upgrade;
use crate::config::Config;
use crate::engine::Peers;
use crate::rooms::hub::Membership;
use crate::routing::table::RouteTable;
use crate::routing::{Prepared, Response, RouteId, WsHandlerError};
use crate::server_core::ServerCore;
use crate::service::fanout::{Member, Rooms};
use crate::service::ws::close::GOING_AWAY;
use crate::service::ws::deflate::DeflateConfig;
use crate::service::ws::endpoint::{Endpoint, RoomCx, Step};
use crate::service::ws::{self, deflate::Deflater};
use crate::service::{self as seam, Cx, Park, Service, Wake};

/// The HTTP service's server-wide state: what the handle and the handler
/// threads share with the workers, and the handler pool.
pub(crate) struct HttpOwn {
    pub(crate) shared: Arc<HttpShared>,
    pub(crate) handlers: Arc<HandlerPool>,
}

impl HttpOwn {
    /// From the config (whose routes move into the store); `wakers` wake the
    /// workers when a handler's answer is ready, `server_id` marks the handler
    /// threads as the server's own.
    pub(crate) fn new(config: &mut Config, wakers: Arc<[Waker]>, server_id: u64) -> HttpOwn {
        HttpOwn {
            handlers: Arc::new(HandlerPool::new(config.handler_threads, wakers, server_id)),
            shared: Arc::new(HttpShared::new(config)),
        }
    }
}

/// An HTTP connection: reading requests, or holding an answer that is not
/// complete yet (the session is parked until it is; the parser is idle then, so
/// the two share their room: an idle connection stays small).
pub(crate) enum HttpSession {
    Reading(Session),
    Held(Box<Hold>),
    /// Upgraded to a WebSocket route's endpoint.
    Ws(Box<Endpoint>),
}

impl std::fmt::Debug for HttpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpSession::Reading(s) => f.debug_tuple("Reading").field(s).finish(),
            HttpSession::Held(h) => f.debug_tuple("Held").field(h).finish(),
            HttpSession::Ws(_) => f.write_str("Ws"),
        }
    }
}

impl HttpSession {
    /// The held answer, if any.
    #[inline]
    fn held(&self) -> Option<&Hold> {
        match self {
            HttpSession::Held(h) => Some(h),
            HttpSession::Reading(_) | HttpSession::Ws(_) => None,
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
    handlers: Arc<HandlerPool>,
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
    /// The last job submitted was queued.
    submitted: bool,
    /// This worker's part of the rooms, from the first room endpoint on.
    rooms: Option<Rooms>,
    /// Compresses room deliveries for deflate members (made on first use).
    deflater: Option<Deflater>,
    core: Arc<ServerCore>,
    /// Rooms now ready (kept for its capacity).
    ready: Vec<(mio::Token, Arc<str>)>,
}

/// What wakes a parked HTTP session.
pub(crate) enum HttpEvent {
    /// A handler job finished.
    Done(Completion),
    /// The room a WebSocket endpoint waited for is ready.
    RoomReady,
}

impl Member for HttpSession {
    fn take_membership(&mut self) -> Option<Membership> {
        match self {
            HttpSession::Ws(e) => e.take_membership(),
            _ => None,
        }
    }

    #[inline]
    fn encoding(&self) -> usize {
        match self {
            HttpSession::Ws(e) => e.encoding(),
            _ => 0,
        }
    }
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
            ws_log: self.http.ws_log.as_ref(),
            misses: &self.http.misses,
            unmatched: &self.unmatched,
            fixed_response: self.fixed_response,
            now: cx.now,
            conn_id: cx.conn_id,
        }
    }

    /// The seam's [`seam::Next`] for what the session decided; an answer to hold
    /// parks the session (a handler's request goes to the pool first).
    #[inline]
    fn decide(&mut self, s: &mut HttpSession, next: Next, cx: &Cx<'_>) -> seam::Next {
        match next {
            Next::Continue => seam::Next::Continue,
            Next::Pause => seam::Next::Pause,
            Next::Close => seam::Next::Close,
            Next::Reset => seam::Next::Reset,
            Next::Hold(hold) => {
                self.hold(s, hold, cx);
                seam::Next::Park
            }
            Next::Upgrade(endpoint, next) => self.switch(s, endpoint, next, cx),
        }
    }

    /// The request upgraded: the connection is the endpoint's from here on (a room
    /// endpoint joins its room). Out of line: the HTTP path stays as small as it was.
    #[cold]
    #[inline(never)]
    fn switch(
        &mut self,
        s: &mut HttpSession,
        mut endpoint: Box<Endpoint>,
        next: seam::Next,
        cx: &Cx<'_>,
    ) -> seam::Next {
        if let Some(room) = endpoint.room() {
            let (worker, core) = (self.worker, &self.core);
            let rooms = self
                .rooms
                .get_or_insert_with(|| ws::service::rooms(worker, core));
            let (m, ready) = rooms.hub.join(room, cx.token);
            endpoint.joined(m, ready);
        }
        let parked = endpoint.park().is_some();
        *s = HttpSession::Ws(endpoint);
        match next {
            seam::Next::Continue if parked => seam::Next::Park,
            seam::Next::Continue => seam::Next::Switched,
            next => next,
        }
    }

    /// Input for a WebSocket endpoint. Out of line, as [`HttpService::switch`].
    #[inline(never)]
    fn ws_input(&mut self, e: &mut Endpoint, input: &[u8], cx: &mut Cx<'_>) -> seam::Progress {
        let room = self.rooms.as_mut().map(|r| RoomCx {
            hub: &mut r.hub,
            token: cx.token,
        });
        let (consumed, step) = e.on_input(input, cx.out, cx.out_budget, cx.counters, cx.now, room);
        seam::Progress {
            consumed,
            next: self.endpoint_step(e, step, cx),
        }
    }

    /// What a WebSocket endpoint decided: a handler job goes to the pool (the
    /// session parks until its reply).
    fn endpoint_step(&mut self, e: &mut Endpoint, step: Step, cx: &Cx<'_>) -> seam::Next {
        match step {
            Step::Next(next) => next,
            Step::Handle(job) => {
                let id = self.submit(Work::Message(job), cx);
                e.awaiting(id, self.deadline(id, cx));
                seam::Next::Park
            }
        }
    }

    /// Queues work on the handler pool: its job id.
    fn submit(&mut self, work: Work, cx: &Cx<'_>) -> u64 {
        let id = self.next_job;
        self.next_job += 1;
        let job = Job {
            worker: self.worker,
            token: cx.token,
            id,
            work,
        };
        self.submitted = HandlerPool::submit(&self.handlers, &self.http, job);
        id
    }

    /// When the job just submitted times out. (The pool closes only after every
    /// worker has exited, so submitting succeeds; if it ever did not, the deadline
    /// of now fails it at once.)
    fn deadline(&self, _id: u64, cx: &Cx<'_>) -> Instant {
        if self.submitted {
            cx.now + self.handler_timeout
        } else {
            cx.now
        }
    }

    /// Holds an answer to finish later; hands a handler's request to the pool.
    fn hold(&mut self, s: &mut HttpSession, mut hold: Box<Hold>, cx: &Cx<'_>) {
        if let Hold::RunHandler { .. } = *hold {
            let Hold::RunHandler { work, fault, meta } = *hold else {
                return;
            };
            let id = self.submit(work, cx);
            hold = Box::new(Hold::AwaitHandler {
                job: id,
                fault,
                meta,
                deadline: self.deadline(id, cx),
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
    type Event = HttpEvent;
    type Own = HttpOwn;

    const REFUSAL: Option<&'static [u8]> = Some(response::SERVICE_UNAVAILABLE);

    fn start(worker: usize, shared: &Arc<ServerCore>, own: &HttpOwn) -> HttpService {
        let c = &shared.config;
        let http = own.shared.clone();
        // The version first: a change after it is seen at the next request.
        let routes_version = http.routes.version();
        let routes = http.routes.snapshot();
        HttpService {
            worker,
            limits: Limits {
                max_header_bytes: c.max_header_bytes,
                max_headers: c.max_headers,
                max_body_bytes: c.max_body_bytes,
                max_message_bytes: c.max_message_bytes,
                ws_deflate: DeflateConfig {
                    enabled: c.ws_deflate,
                    server_no_context_takeover: false,
                    server_max_window_bits: 15,
                },
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
            submitted: true,
            rooms: None,
            deflater: None,
            core: shared.clone(),
            ready: Vec::new(),
            http,
            handlers: own.handlers.clone(),
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

    #[inline(always)]
    fn on_input(&mut self, s: &mut HttpSession, input: &[u8], cx: &mut Cx<'_>) -> seam::Progress {
        let session = match s {
            HttpSession::Reading(session) => session,
            HttpSession::Ws(e) => return self.ws_input(e, input, cx),
            // (The engine feeds no input to a parked session.)
            HttpSession::Held(_) => {
                return seam::Progress {
                    consumed: 0,
                    next: seam::Next::Park,
                }
            }
        };
        self.refresh_routes();
        let progress = {
            let mut ctx = self.ctx(cx);
            session.on_input(input, &mut ctx)
        };
        seam::Progress {
            consumed: progress.consumed,
            next: self.decide(s, progress.next, cx),
        }
    }

    /// A held answer is due or its handler returned: sends it (or its next step).
    fn resume(&mut self, s: &mut HttpSession, why: Wake<HttpEvent>, cx: &mut Cx<'_>) -> seam::Next {
        if let HttpSession::Ws(e) = s {
            return match why {
                Wake::Due => e.due(cx.out, cx.counters, cx.now),
                Wake::Event(HttpEvent::RoomReady) => {
                    e.room_ready();
                    match e.park() {
                        Some(_) => seam::Next::Park,
                        None => seam::Next::Continue,
                    }
                }
                Wake::Event(HttpEvent::Done(done)) if e.awaited_job() == Some(done.id) => {
                    match done.outcome {
                        Outcome::Replied(reply) => e.handled(reply, cx.out, cx.counters, cx.now),
                        _ => e.handled(
                            Err(WsHandlerError("no reply".into())),
                            cx.out,
                            cx.counters,
                            cx.now,
                        ),
                    }
                }
                // A late reply (it timed out): dropped.
                Wake::Event(_) => match e.park() {
                    Some(_) => seam::Next::Park,
                    None => seam::Next::Continue,
                },
            };
        }
        let why = match why {
            Wake::Due => Release::Due,
            // (Only WebSocket endpoints wait for rooms.)
            Wake::Event(HttpEvent::RoomReady) => return seam::Next::Continue,
            Wake::Event(HttpEvent::Done(done)) => {
                let awaited = matches!(s.held(),
                    Some(Hold::AwaitHandler { job, .. }) if *job == done.id);
                if !awaited {
                    // Already answered 500 for a timeout, or another answer held.
                    return if s.held().is_some() {
                        seam::Next::Park
                    } else {
                        seam::Next::Continue
                    };
                }
                Release::Handled(done.outcome)
            }
        };
        let Some(mut hold) = s.take_hold() else {
            return seam::Next::Continue;
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
                        return seam::Next::Park;
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
                        (None, Release::Handled(Outcome::Upgrade(ws, request))) => {
                            let route = request.route.unwrap_or(RouteId(0));
                            upgrade(&ws, route, request.view(), *meta, &mut ctx)
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
                    return seam::Next::Park;
                }
            }
        };
        self.decide(s, next, cx)
    }

    fn take_events(&mut self, events: &mut Vec<(mio::Token, HttpEvent)>) {
        self.handlers
            .take_completions(self.worker, &mut self.completions);
        events.extend(
            self.completions
                .drain(..)
                .map(|c| (c.token, HttpEvent::Done(c))),
        );
        if let Some(rooms) = &mut self.rooms {
            rooms.take_events(&mut self.ready);
            events.extend(self.ready.drain(..).map(|(t, _)| (t, HttpEvent::RoomReady)));
        }
    }

    fn end_turn(&mut self, peers: &mut Peers<'_, HttpSession>) {
        if let Some(rooms) = &mut self.rooms {
            let deflater = &mut self.deflater;
            rooms.end_turn(peers, |d, encoding| {
                ws::service::encode(d, encoding, deflater)
            });
        }
    }

    fn exit(&mut self) {
        if let Some(rooms) = &mut self.rooms {
            rooms.exit();
        }
    }

    #[inline]
    fn park(s: &HttpSession) -> Option<Park> {
        match s {
            HttpSession::Reading(_) => None,
            HttpSession::Held(h) => Some(match &**h {
                Hold::Never => Park::Never,
                h => h.deadline().map_or(Park::Event, Park::Until),
            }),
            HttpSession::Ws(e) => e.park(),
        }
    }

    #[inline]
    fn is_idle(s: &HttpSession) -> bool {
        match s {
            HttpSession::Reading(session) => session.is_idle(),
            HttpSession::Held(_) => false,
            HttpSession::Ws(e) => e.is_idle(),
        }
    }

    /// A WebSocket endpoint idle for `idle_timeout` is pinged once; HTTP closes.
    fn on_idle(&mut self, s: &mut HttpSession, cx: &mut Cx<'_>) -> bool {
        match s {
            HttpSession::Ws(e) => e.on_idle(cx.out),
            _ => false,
        }
    }

    /// A WebSocket endpoint is told 1001 (going away) by a stop.
    #[inline]
    fn farewell(s: &HttpSession) -> Option<&'static [u8]> {
        match s {
            HttpSession::Ws(_) => Some(GOING_AWAY),
            _ => None,
        }
    }

    fn close(&mut self, s: &mut HttpSession) {
        if let Some(rooms) = &mut self.rooms {
            rooms.close(s);
        }
        if let HttpSession::Ws(e) = s {
            e.closed();
        }
    }

    fn last_exited(own: &HttpOwn, _shared: &ServerCore) {
        own.handlers.close();
    }

    fn on_request_timeout(&mut self, s: &mut HttpSession, cx: &mut Cx<'_>) {
        if let HttpSession::Reading(session) = s {
            let mut ctx = self.ctx(cx);
            session.on_request_timeout(&mut ctx);
        }
    }
}
