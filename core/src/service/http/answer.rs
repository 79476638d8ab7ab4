//! Answering a complete request: the fixed response, a route's response with its
//! fault, or a hand-off to a handler; and the held answers (delay, drip, handler,
//! never) that the service finishes later.

use std::sync::Arc;

use super::ctx::{Ctx, Next};
use super::handlers::Work;
use super::hold::{Hold, Meta};
use super::response::{self, ConnectionHeader};
use super::upgrade::upgrade;
use crate::faults::schedule::{Beat, Player};
use crate::faults::ChaosDecision;
use crate::faults::Fault;
use crate::routing::table::{Answer, Found, RouteEntry, RouteTable};
use crate::routing::{Handler, Headers, Prepared, Request, RequestView, RouteId, WebSocket};

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
        Answer::WebSocket(ws) => upgrade_route(ws, entry.id, source, meta, ctx),
    }
}

/// A WebSocket route: the upgrade, logged. Out of line, like `hand_off`: the
/// static answer is the path `respond` is laid out for (inlined here, it made
/// `respond` too large for its own copies to be inlined: +5% on a static route).
#[cold]
#[inline(never)]
fn upgrade_route(
    ws: &Arc<WebSocket>,
    route: RouteId,
    source: Source<'_>,
    meta: Meta,
    ctx: &mut Ctx<'_>,
) -> Next {
    let next = upgrade(ws, route, source.view(), meta, ctx);
    record(source, Some(route), (None, None), meta, ctx);
    next
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
        work: Work::Resolve {
            table,
            from,
            request,
        },
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
        work: Work::Handle(handler.clone(), request),
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
    ctx.out
        .extend_from_slice(ctx.hello.get(meta.connection, meta.head_only));
    ctx.counters.responses.incr();
    after(meta)
}

/// Sends a response as it is, with no fault.
#[inline]
fn send_plain(p: &Prepared, meta: Meta, ctx: &mut Ctx<'_>) -> Next {
    let meta = meta.at_send(ctx.stopping);
    write_full(ctx, p, meta);
    after(meta)
}

/// Sends `p` with `fault` applied: at once when it has no fault and is not
/// streamed (the common path), else by playing its schedule ([`Player`]).
pub(crate) fn deliver(
    p: Arc<Prepared>,
    fault: Option<Fault>,
    meta: Meta,
    ctx: &mut Ctx<'_>,
) -> Next {
    let meta = meta.at_send(ctx.stopping);
    let with_body = p.has_body && !meta.head_only;
    let steps = p.stream.as_ref().filter(|_| with_body);
    if fault.is_none() && steps.is_none() {
        write_full(ctx, &p, meta);
        return after(meta);
    }
    let player = Player::new(fault, with_body.then_some(&p.body), steps);
    let chunked = player.streamed() && meta.version >= 1;
    let mut hold = Hold::Play {
        player,
        response: p,
        meta,
        chunked,
        next: ctx.now,
    };
    match resume(&mut hold, ctx) {
        Some(next) => next,
        None => Next::Hold(Box::new(hold)),
    }
}

/// Plays a held answer's schedule from where it is: renders its beats (the head,
/// body pieces, chunk framing when streamed) until it waits (`None`, with `next`
/// moved on) or ends (what follows: the connection goes on, closes or resets).
pub(crate) fn resume(hold: &mut Hold, ctx: &mut Ctx<'_>) -> Option<Next> {
    let Hold::Play {
        player,
        response,
        meta,
        chunked,
        next,
    } = hold
    else {
        return Some(Next::Continue);
    };
    loop {
        match player.next() {
            Beat::Head => {
                // What the head says about the connection is decided when it goes out.
                *meta = meta.at_send(ctx.stopping);
                if player.streamed() {
                    if !*chunked {
                        // HTTP/1.0 has no chunks: the body ends with the connection.
                        meta.connection = ConnectionHeader::Close;
                    }
                    let out = ctx.out.bytes();
                    out.extend_from_slice(&response.head);
                    if *chunked {
                        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                    }
                    out.extend_from_slice(b"Date: ");
                    out.extend_from_slice(ctx.date);
                    out.extend_from_slice(response::connection_tail(meta.connection));
                } else {
                    write_head(ctx.out.bytes(), response, ctx.date, meta.connection);
                }
                ctx.counters.responses.incr();
            }
            Beat::Piece(data) if *chunked => {
                let out = ctx.out.bytes();
                let mut hex = [0u8; 16];
                out.extend_from_slice(hex_len(data.len(), &mut hex));
                out.extend_from_slice(b"\r\n");
                ctx.out.push_shared(&data);
                ctx.out.extend_from_slice(b"\r\n");
            }
            Beat::Piece(data) => ctx.out.push_shared(&data),
            Beat::Wait(d) => {
                *next = ctx.now + d;
                return None;
            }
            Beat::End => {
                if *chunked {
                    ctx.out.extend_from_slice(b"0\r\n\r\n");
                }
                // The head already went out: what it said about the connection holds.
                return Some(after(*meta));
            }
            Beat::Cut => return Some(Next::Close),
            Beat::Reset => return Some(Next::Reset),
            Beat::Hang => return Some(Next::Hold(Box::new(Hold::Never))),
        }
    }
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

/// What follows an answer sent with `meta`: the connection goes on, or closes.
#[inline]
fn after(meta: Meta) -> Next {
    if meta.connection == ConnectionHeader::Close {
        Next::Close
    } else {
        Next::Continue
    }
}
