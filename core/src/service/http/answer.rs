//! Answering a complete request: the fixed response, a route's response with its
//! fault, or a hand-off to a handler; and the held answers (delay, drip, handler,
//! never) that the worker finishes later.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::handlers::Work;
use super::response::{self, ConnectionHeader};
use super::{Ctx, Next};
use crate::routing::table::{Answer, Found, RouteEntry, RouteTable};
use crate::routing::{
    ChaosDecision, Fault, Handler, Headers, Prepared, Request, RequestView, RouteId, Step, Steps,
};

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
    fn at_send(self, stopping: bool) -> Meta {
        let mut m = self;
        if stopping {
            m.connection = ConnectionHeader::Close;
        }
        m
    }

    fn next(self) -> Next {
        if self.connection == ConnectionHeader::Close {
            Next::Close
        } else {
            Next::Continue
        }
    }
}

/// An answer that is not complete yet; the connection reads no further request
/// until it is (responses stay in request order).
// Always boxed (`Box<Hold>`), one per held answer: the size of the handler's
// request in it costs no more than boxing that request separately.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Hold {
    /// Send `response` at `until`.
    Delay {
        until: Instant,
        response: Arc<Prepared>,
        meta: Meta,
    },
    /// The head is sent; send the body `bytes` at a time, one piece per `interval`.
    Drip {
        response: Arc<Prepared>,
        sent: usize,
        bytes: usize,
        interval: Duration,
        next: Instant,
        meta: Meta,
    },
    /// The head is sent; steps `next_step..` of a streamed body remain, the next
    /// one due at `next`.
    Stream {
        steps: Steps,
        next_step: usize,
        /// Chunked framing (HTTP/1.1); else the body ends with the connection.
        chunked: bool,
        next: Instant,
        meta: Meta,
    },
    /// Run `handler` for `request` on the handler pool (the worker submits it and
    /// holds [`Hold::AwaitHandler`] instead).
    RunHandler {
        work: Work,
        request: Request,
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
            Hold::Delay { .. } => "Hold::Delay",
            Hold::Drip { .. } => "Hold::Drip",
            Hold::Stream { .. } => "Hold::Stream",
            Hold::RunHandler { .. } => "Hold::RunHandler",
            Hold::AwaitHandler { .. } => "Hold::AwaitHandler",
            Hold::Never => "Hold::Never",
        })
    }
}

impl Hold {
    /// When the worker must act on this hold; `None` for [`Hold::Never`] (which ends
    /// only by the client, the idle timeout, or stop).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self {
            Hold::Delay { until, .. } => Some(*until),
            Hold::Drip { next, .. } | Hold::Stream { next, .. } => Some(*next),
            Hold::AwaitHandler { deadline, .. } => Some(*deadline),
            // Not left in place by the worker; act at once if it ever is.
            Hold::RunHandler { .. } => Some(Instant::now()),
            Hold::Never => None,
        }
    }
}

/// Where the request being answered is: parsed in the input, or owned (its body
/// was collected).
pub(crate) enum Source<'a> {
    Parsed(RequestView<'a>),
    Owned(Box<Request>),
}

impl Source<'_> {
    fn view(&self) -> RequestView<'_> {
        match self {
            Source::Parsed(v) => *v,
            Source::Owned(r) => r.view(),
        }
    }

    fn into_request(self, meta: Meta, ctx: &Ctx<'_>) -> Request {
        match self {
            Source::Owned(r) => *r,
            Source::Parsed(v) => owned_request(v.method, v.target, v.headers, meta, ctx),
        }
    }
}

/// An owned request with an empty body, for a body still to be collected.
pub(crate) fn owned_request(
    method: &str,
    target: &str,
    headers: Headers<'_>,
    meta: Meta,
    ctx: &Ctx<'_>,
) -> Request {
    Request {
        method: method.to_owned(),
        target: target.to_owned(),
        version: meta.version,
        headers: headers.to_owned(),
        body: Vec::new(),
        body_len: 0,
        body_digest: None,
        fault: None,
        chaos: None,
        connection_id: ctx.conn_id,
        received: ctx.now,
        route: None,
    }
}

/// Answers a complete request.
pub(crate) fn respond(source: Source<'_>, meta: Meta, ctx: &mut Ctx<'_>) -> Next {
    if ctx.fixed_only() {
        return hello(meta, ctx);
    }
    let routes = ctx.routes;
    if routes.has_deferred() {
        return respond_deferring(source, meta, ctx);
    }
    let Some((entry, nth)) = routes.find(&source.view()) else {
        return unmatched(source, meta, ctx);
    };
    answer(entry, nth, source, meta, ctx)
}

/// [`respond`] when some route has deferred conditions.
#[inline(never)]
fn respond_deferring(source: Source<'_>, meta: Meta, ctx: &mut Ctx<'_>) -> Next {
    match ctx.routes.find_deferring(&source.view()) {
        Found::Route(entry, nth) => answer(entry, nth, source, meta, ctx),
        Found::Deferred(from) => defer(ctx.routes.clone(), from, source, meta, ctx),
        Found::None => unmatched(source, meta, ctx),
    }
}

/// Answers with the route found, for its `nth` answer.
#[inline(always)]
fn answer(
    entry: &Arc<RouteEntry>,
    nth: u64,
    source: Source<'_>,
    meta: Meta,
    ctx: &mut Ctx<'_>,
) -> Next {
    match &entry.answer {
        Answer::Handler(handler) => hand_off(handler, entry, nth, source, meta, ctx),
        Answer::Static(prepared) => {
            let fault = if ctx.log.is_some() {
                let decision = entry.decide(nth);
                record(source, Some(entry.id), decision, meta, ctx);
                decision.0
            } else {
                entry.fault(nth)
            };
            match fault {
                // Written straight from the route table.
                None => send_plain(prepared, meta, ctx),
                fault => deliver(prepared.clone(), fault, meta, ctx),
            }
        }
        Answer::Stream(prepared) => {
            let decision = entry.decide(nth);
            record(source, Some(entry.id), decision, meta, ctx);
            deliver(prepared.clone(), decision.0, meta, ctx)
        }
    }
}

/// No route matched: the unmatched answer (or the fixed one, with no routes at
/// all), counted and logged. Kept out of line, like `defer` and `hand_off`: the
/// static answer is the path `respond` is laid out for.
#[inline(never)]
fn unmatched(source: Source<'_>, meta: Meta, ctx: &mut Ctx<'_>) -> Next {
    if ctx.routes.is_empty() && ctx.fixed_response {
        record(source, None, (None, None), meta, ctx);
        return hello(meta, ctx);
    }
    ctx.misses.record(|limit| match &source {
        Source::Owned(r) => r.with_body_cut(limit),
        Source::Parsed(v) => owned_request(v.method, v.target, v.headers, meta, ctx),
    });
    record(source, None, (None, None), meta, ctx);
    send_unmatched(meta, ctx)
}

/// The unmatched answer (for a request resolved on a handler thread, which
/// counted and logged it).
pub(crate) fn send_unmatched(meta: Meta, ctx: &mut Ctx<'_>) -> Next {
    let unmatched = ctx.unmatched;
    send_plain(unmatched, meta, ctx)
}

/// A route with deferred conditions passed its other ones: the rest of the match
/// (from route `from`) is decided on a handler thread.
#[inline(never)]
fn defer(
    table: Arc<RouteTable>,
    from: usize,
    source: Source<'_>,
    meta: Meta,
    ctx: &mut Ctx<'_>,
) -> Next {
    let request = source.into_request(meta, ctx);
    Next::Hold(Box::new(Hold::RunHandler {
        work: Work::Resolve { table, from },
        request,
        fault: None,
        meta,
    }))
}

/// Hands a request to its route's handler (the worker submits the job).
#[inline(never)]
fn hand_off(
    handler: &Arc<dyn Handler>,
    entry: &RouteEntry,
    nth: u64,
    source: Source<'_>,
    meta: Meta,
    ctx: &mut Ctx<'_>,
) -> Next {
    let decision = entry.decide(nth);
    let mut request = source.into_request(meta, ctx);
    request.route = Some(entry.id);
    (request.fault, request.chaos) = decision;
    if let Some(log) = ctx.log {
        log.record_copy(&request);
    }
    Next::Hold(Box::new(Hold::RunHandler {
        work: Work::Handle(handler.clone()),
        request,
        fault: decision.0,
        meta,
    }))
}

/// Puts the request in the request log, if there is one, with the route that
/// answered it and the fault it decided on.
#[inline]
fn record(
    source: Source<'_>,
    route: Option<RouteId>,
    decision: (Option<Fault>, Option<ChaosDecision>),
    meta: Meta,
    ctx: &Ctx<'_>,
) {
    if let Some(log) = ctx.log {
        let mut request = source.into_request(meta, ctx);
        request.route = route;
        (request.fault, request.chaos) = decision;
        log.record(request);
    }
}

/// The fixed response.
#[inline]
pub(super) fn hello(meta: Meta, ctx: &mut Ctx<'_>) -> Next {
    let meta = meta.at_send(ctx.stopping);
    response::write_hello(ctx.out.bytes(), ctx.date, meta.connection, meta.head_only);
    ctx.counters.responses.incr();
    meta.next()
}

/// Sends a response as it is, with no fault.
#[inline]
fn send_plain(p: &Prepared, meta: Meta, ctx: &mut Ctx<'_>) -> Next {
    let meta = meta.at_send(ctx.stopping);
    write_full(ctx, p, meta);
    meta.next()
}

/// Sends `p` with `fault` applied.
pub(crate) fn deliver(
    p: Arc<Prepared>,
    fault: Option<Fault>,
    meta: Meta,
    ctx: &mut Ctx<'_>,
) -> Next {
    let meta = meta.at_send(ctx.stopping);
    match fault {
        None | Some(Fault::Drip { .. }) if p.stream.is_some() && p.has_body && !meta.head_only => {
            start_stream(&p, meta, ctx)
        }
        None => {
            write_full(ctx, &p, meta);
            meta.next()
        }
        Some(Fault::Delay(d)) => Next::Hold(Box::new(Hold::Delay {
            until: ctx.now + d,
            response: p,
            meta,
        })),
        Some(Fault::Drip { bytes, interval })
            if p.has_body && !meta.head_only && !p.body.is_empty() =>
        {
            write_head(ctx.out.bytes(), &p, ctx.date, meta.connection);
            ctx.counters.responses.incr();
            Next::Hold(Box::new(Hold::Drip {
                response: p,
                sent: 0,
                bytes,
                interval,
                next: ctx.now + interval,
                meta,
            }))
        }
        Some(Fault::Drip { .. }) => {
            write_full(ctx, &p, meta);
            meta.next()
        }
        Some(Fault::CloseAfterHeaders) => {
            write_head(ctx.out.bytes(), &p, ctx.date, meta.connection);
            ctx.counters.responses.incr();
            Next::Close
        }
        Some(Fault::Reset) => Next::Reset,
        Some(Fault::NoResponse) => Next::Hold(Box::new(Hold::Never)),
    }
}

/// Sends the head of a streamed response and its steps up to the first pause.
fn start_stream(p: &Prepared, mut meta: Meta, ctx: &mut Ctx<'_>) -> Next {
    let Some(steps) = p.stream.clone() else {
        return Next::Close;
    };
    let chunked = meta.version >= 1;
    if !chunked {
        // HTTP/1.0 has no chunks: the end of the body is the end of the connection.
        meta.connection = ConnectionHeader::Close;
    }
    let out = ctx.out.bytes();
    out.extend_from_slice(&p.head);
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    }
    out.extend_from_slice(b"Date: ");
    out.extend_from_slice(ctx.date);
    out.extend_from_slice(response::connection_tail(meta.connection));
    ctx.counters.responses.incr();
    let mut hold = Hold::Stream {
        steps,
        next_step: 0,
        chunked,
        next: ctx.now,
        meta,
    };
    match resume(&mut hold, ctx) {
        Some(next) => next,
        None => Next::Hold(Box::new(hold)),
    }
}

/// Sends what is due of a dripping or streamed body: the next piece of a drip, or
/// a stream's steps up to its next pause. Returns what follows once the body is
/// complete (or cut), or `None` (with `next` moved on) while more is to come.
pub(crate) fn resume(hold: &mut Hold, ctx: &mut Ctx<'_>) -> Option<Next> {
    let Hold::Stream {
        steps,
        next_step,
        chunked,
        next,
        meta,
    } = hold
    else {
        return drip(hold, ctx);
    };
    while let Some(step) = steps.get(*next_step) {
        *next_step += 1;
        match step {
            Step::Send(data) if data.is_empty() => {}
            Step::Send(data) => {
                if *chunked {
                    let out = ctx.out.bytes();
                    let mut hex = [0u8; 16];
                    let len = hex_len(data.len(), &mut hex);
                    out.extend_from_slice(len);
                    out.extend_from_slice(b"\r\n");
                    ctx.out.push_shared(data);
                    ctx.out.extend_from_slice(b"\r\n");
                } else {
                    ctx.out.push_shared(data);
                }
            }
            Step::Pause(d) => {
                *next = ctx.now + *d;
                return None;
            }
            Step::Cut => return Some(Next::Close),
            Step::Reset => return Some(Next::Reset),
        }
    }
    if *chunked {
        ctx.out.extend_from_slice(b"0\r\n\r\n");
    }
    Some(meta.next())
}

/// `n` in lower-case hex, written at the end of `buf`.
fn hex_len(mut n: usize, buf: &mut [u8; 16]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Sends the next piece of a dripping body. Returns what follows once the body is
/// complete, or `None` (with `next` moved on) while pieces remain.
fn drip(hold: &mut Hold, ctx: &mut Ctx<'_>) -> Option<Next> {
    let Hold::Drip {
        response,
        sent,
        bytes,
        interval,
        next,
        meta,
    } = hold
    else {
        return Some(Next::Continue);
    };
    let end = (*sent + *bytes).min(response.body.len());
    ctx.out.extend_from_slice(&response.body[*sent..end]);
    *sent = end;
    if end == response.body.len() {
        // The head already went out: what it said about the connection holds.
        return Some(meta.next());
    }
    *next = ctx.now + *interval;
    None
}

#[inline(always)]
fn write_full(ctx: &mut Ctx<'_>, p: &Prepared, meta: Meta) {
    write_head(ctx.out.bytes(), p, ctx.date, meta.connection);
    if p.has_body && !meta.head_only {
        ctx.out.push_shared(&p.body);
    }
    ctx.counters.responses.incr();
}

/// The prepared head, then `Date`, `Connection` and the blank line.
#[inline(always)]
fn write_head(out: &mut Vec<u8>, p: &Prepared, date: &[u8], connection: ConnectionHeader) {
    out.extend_from_slice(&p.head);
    out.extend_from_slice(b"Date: ");
    out.extend_from_slice(date);
    out.extend_from_slice(response::connection_tail(connection));
}
