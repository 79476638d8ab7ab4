//! One HTTP/1.1 (or 1.0) connection's request parser: every complete request in
//! the input is answered, in order, into one reply, so a pipelined batch goes out
//! in one write. With no routes defined every request gets the fixed benchmark
//! response `200 text/plain "hello\n"`, written straight from the parsed head with
//! no allocation; otherwise [`super::answer`] picks the route, applies its fault,
//! or hands the request to a handler.
//!
//! Bodies are framed by Content-Length or chunked encoding ([`super::chunked`]);
//! they are skipped as they stream in unless routes or the request log need them,
//! and then collected as they arrive (never pre-allocated from the claimed
//! length). Errors answer with `Connection: close` and the connection closes after
//! a lingering shutdown, so the client reads the error even while it is still
//! sending.

use super::answer::{self, Source};
use super::chunked::Chunked;
use super::ctx::{Ctx, Next, Progress};
use super::head::{self, BodyFraming};
use super::hold::Meta;
use super::response::{self, ConnectionHeader};
use crate::routing::{Headers, Request, RequestView};

/// A captured Content-Length body grows by doubling until it holds this much, and
/// then gets room for the rest in one allocation. (Only a client that has sent
/// this much makes the server reserve up to `max_body_bytes` for it.)
const RESERVE_BODY_AFTER: usize = 64 * 1024;

/// How the body of the request being received is framed.
#[derive(Debug, Default)]
enum Body {
    #[default]
    None,
    /// Bytes still to come.
    Length(u64),
    Chunked(Box<Chunked>),
}

/// A request whose head was read and whose body is still arriving.
#[derive(Debug)]
struct Pending {
    meta: Meta,
    /// The request being collected, when routes or the log need it.
    capture: Option<Box<Request>>,
}

/// Per-connection HTTP state; allocates only while a body is collected or chunked.
#[derive(Debug, Default)]
pub(crate) struct Session {
    /// Offset into the pending head already searched for its end.
    scanned: usize,
    body: Body,
    pending: Option<Pending>,
}

impl Session {
    pub(crate) fn is_idle(&self) -> bool {
        self.scanned == 0 && self.pending.is_none()
    }

    pub(crate) fn on_input(&mut self, input: &[u8], ctx: &mut Ctx<'_>) -> Progress {
        let mut pos = 0;
        loop {
            if self.pending.is_some() {
                match self.receive_body(&input[pos..], ctx) {
                    Ok((used, done)) => {
                        pos += used;
                        if !done {
                            return continue_at(pos);
                        }
                    }
                    Err(status) => return fail(status, input, ctx),
                }
                let Some(pending) = self.pending.take() else {
                    continue;
                };
                let next = match pending.capture {
                    Some(mut request) => {
                        request.body_len = request.body.len() as u64;
                        request.received = ctx.now;
                        answer::respond(Source::Owned(request), pending.meta, ctx)
                    }
                    None => answer::hello(pending.meta, ctx),
                };
                match next {
                    Next::Continue => continue,
                    next => return stop_at(pos, next, input),
                }
            }
            let rest = &input[pos..];
            if rest.is_empty() {
                return continue_at(pos);
            }
            if ctx.output_full() {
                // Answer the rest once what is answered has drained (pipelined
                // requests for a large body must not render it N times at once).
                return Progress {
                    consumed: pos,
                    next: Next::Pause,
                };
            }
            let limit = ctx.limits.max_header_bytes;
            if self.scanned == 0 && !matches!(rest[0], b'\r' | b'\n') {
                // A head that is all there (the common case, and every request of
                // a pipelined batch) is parsed in one pass. One that is not, or
                // that fails to parse, goes the resumable way below: its end is
                // searched for from where the last search stopped, so that a head
                // arriving a byte at a time is scanned once in all. (Empty lines
                // before a request line go that way too, where they are judged
                // as they always were.)
                let mut slots = head::header_slots();
                if let Ok(Some((parsed, end))) =
                    head::parse_prefix(rest, &mut slots, ctx.limits.max_headers)
                {
                    if end > limit {
                        return fail(too_large(rest, limit), input, ctx);
                    }
                    let step = self.begin(parsed, ctx);
                    pos += end;
                    match step {
                        Ok(Next::Continue) => continue,
                        Ok(next) => return stop_at(pos, next, input),
                        Err(status) => return fail(status, input, ctx),
                    }
                }
            }
            let end = match head::find_end(rest, self.scanned) {
                Ok(end) => end,
                Err(resume) => {
                    if rest.len() > limit {
                        return fail(too_large(rest, limit), input, ctx);
                    }
                    if !head::plausible_start(rest) {
                        // Not HTTP (a TLS ClientHello, binary): answer now, not at
                        // the header timeout.
                        return fail(400, input, ctx);
                    }
                    self.scanned = resume;
                    return continue_at(pos);
                }
            };
            self.scanned = 0;
            if end > limit {
                return fail(too_large(rest, limit), input, ctx);
            }
            let mut slots = head::header_slots();
            let step = match head::parse(&rest[..end], &mut slots, ctx.limits.max_headers) {
                Ok(parsed) => self.begin(parsed, ctx),
                Err(head::HeadError::LaterMinorVersion) => {
                    // HTTP/1.x, x > 1: served as HTTP/1.1 (rare; parsed from a copy).
                    let patched = head::as_http11(&rest[..end]);
                    let mut slots = head::header_slots();
                    match head::parse(&patched, &mut slots, ctx.limits.max_headers) {
                        Ok(parsed) => self.begin(parsed, ctx),
                        Err(e) => Err(e.status()),
                    }
                }
                Err(e) => Err(e.status()),
            };
            pos += end;
            match step {
                Ok(Next::Continue) => continue,
                Ok(next) => return stop_at(pos, next, input),
                Err(status) => return fail(status, input, ctx),
            }
        }
    }

    /// Starts on a parsed request: answers it at once when it has no body, or
    /// prepares to receive its body. `Err` is the status to fail with.
    #[inline(always)]
    fn begin(&mut self, parsed: head::Parsed<'_, '_>, ctx: &mut Ctx<'_>) -> Result<Next, u16> {
        ctx.counters.requests.incr();
        let h = parsed.head;
        let meta = Meta {
            head_only: h.is_head,
            connection: if !h.keep_alive || ctx.stopping {
                ConnectionHeader::Close
            } else if h.http10 {
                ConnectionHeader::KeepAlive
            } else {
                ConnectionHeader::Omit
            },
            version: if h.http10 { 0 } else { 1 },
        };
        let body = match h.body {
            // The fixed response needs nothing of the request (the benchmark path).
            BodyFraming::None if ctx.fixed_only() => return Ok(answer::hello(meta, ctx)),
            BodyFraming::None => {
                let view = RequestView {
                    method: parsed.method,
                    target: parsed.target,
                    headers: Headers::Parsed(parsed.headers),
                    body: &[],
                };
                return Ok(answer::respond(Source::Parsed(view), meta, ctx));
            }
            BodyFraming::Length(n) if n > ctx.limits.max_body_bytes => return Err(413),
            BodyFraming::Length(n) => Body::Length(n),
            BodyFraming::Chunked => Body::Chunked(Box::default()),
        };
        if h.expect_continue {
            ctx.out.extend_from_slice(response::CONTINUE);
        }
        // The fixed response needs nothing of the request: skip its body.
        let capture = (!ctx.fixed_only()).then(|| {
            let headers = Headers::Parsed(parsed.headers);
            Box::new(answer::owned_request(
                parsed.method,
                parsed.target,
                headers,
                meta,
                ctx,
            ))
        });
        self.body = body;
        self.pending = Some(Pending { meta, capture });
        Ok(Next::Continue)
    }

    /// Takes body bytes of the pending request from `input`: the bytes used and
    /// whether the body is complete, or the status to fail with.
    fn receive_body(&mut self, input: &[u8], ctx: &Ctx<'_>) -> Result<(usize, bool), u16> {
        let mut capture = self.pending.as_mut().and_then(|p| p.capture.as_mut());
        let left_before = match &self.body {
            Body::Length(left) => *left as usize,
            _ => 0,
        };
        let mut keep = |data: &[u8]| {
            if let Some(request) = capture.as_mut() {
                let body = &mut request.body;
                if left_before > 0 && body.len() + data.len() > RESERVE_BODY_AFTER {
                    // The rest of a Content-Length body at once (it is within
                    // max_body_bytes), not by doubling: a copy of the body so far
                    // per doubling was half the instructions of a 1 MiB upload.
                    body.reserve_exact(left_before);
                }
                body.extend_from_slice(data);
            }
        };
        let (used, done) = match &mut self.body {
            Body::None => (0, true),
            Body::Length(left) => {
                let take = (*left).min(input.len() as u64);
                keep(&input[..take as usize]);
                *left -= take;
                (take as usize, *left == 0)
            }
            Body::Chunked(c) => c
                .feed(
                    input,
                    ctx.limits.max_body_bytes,
                    ctx.limits.max_header_bytes,
                    keep,
                )
                .map_err(|e| e.status())?,
        };
        if done {
            self.body = Body::None;
        }
        Ok((used, done))
    }

    /// The request in progress timed out: 408, then close.
    pub(crate) fn on_request_timeout(&mut self, ctx: &mut Ctx<'_>) {
        self.pending = None;
        self.body = Body::None;
        self.scanned = 0;
        write_error(408, ctx);
    }
}

/// The status for a head over the size limit: 414 when the request line alone is
/// too long (the request-target), 431 otherwise.
fn too_large(head: &[u8], limit: usize) -> u16 {
    if head::request_line_too_long(head, limit) {
        414
    } else {
        431
    }
}

fn write_error(status: u16, ctx: &mut Ctx<'_>) {
    let mut body = [0u8; 64];
    let text = crate::routing::reason(status).as_bytes();
    let n = text.len().min(body.len() - 1);
    body[..n].copy_from_slice(&text[..n]);
    body[n] = b'\n';
    response::write_text(
        ctx.out.bytes(),
        status,
        ctx.date,
        &body[..=n],
        ConnectionHeader::Close,
        false,
    );
    ctx.counters.responses.incr();
}

/// Bad input: answer `status`, count it, and close; nothing after it is executed.
fn fail(status: u16, input: &[u8], ctx: &mut Ctx<'_>) -> Progress {
    ctx.counters.protocol_errors.incr();
    write_error(status, ctx);
    stop_at(input.len(), Next::Close, input)
}

fn continue_at(pos: usize) -> Progress {
    Progress {
        consumed: pos,
        next: Next::Continue,
    }
}

/// Input stops being fed after this answer: on close or reset the rest is dropped;
/// on hold it stays buffered for when the hold ends.
fn stop_at(pos: usize, next: Next, input: &[u8]) -> Progress {
    let consumed = if next.ends() { input.len() } else { pos };
    Progress { consumed, next }
}

#[cfg(test)]
mod tests {
    use super::super::ctx::Limits;
    use super::*;
    use crate::routing::log::{Misses, RequestLog};
    use crate::routing::table::RouteStore;
    use crate::routing::{Prepared, Response};
    use crate::stats::Counters;

    struct Harness {
        out: Vec<u8>,
        answer: crate::service::Reply,
        counters: Counters,
        limits: Limits,
        routes: RouteStore,
        log: Option<RequestLog>,
        misses: Misses,
        unmatched: Prepared,
        hello: super::super::response::Hello,
        session: Session,
        buffered: Vec<u8>,
        closed: bool,
    }

    impl Harness {
        fn new() -> Harness {
            Harness {
                out: Vec::new(),
                answer: Default::default(),
                counters: Counters::default(),
                limits: Limits {
                    max_header_bytes: 1024,
                    max_headers: 100,
                    max_body_bytes: 100,
                    max_message_bytes: 1 << 20,
                    ws_deflate: Default::default(),
                },
                routes: RouteStore::new(Vec::new()),
                log: None,
                misses: Misses::new(1024),
                unmatched: Prepared::new(&Response::text(404, "Not Found\n")),
                hello: super::super::response::Hello::new(b"Thu, 01 Jan 1970 00:00:00 GMT"),
                session: Session::default(),
                buffered: Vec::new(),
                closed: false,
            }
        }

        /// Feeds bytes the way the worker does: unconsumed input is kept and extended.
        fn feed(&mut self, bytes: &[u8]) {
            assert!(!self.closed, "fed after close");
            self.buffered.extend_from_slice(bytes);
            let routes = self.routes.snapshot();
            self.answer.clear(1 << 20);
            let mut ctx = Ctx {
                out: &mut self.answer,
                out_budget: usize::MAX,
                counters: &self.counters,
                limits: &self.limits,
                date: b"Thu, 01 Jan 1970 00:00:00 GMT",
                hello: &self.hello,
                stopping: false,
                routes: &routes,
                log: self.log.as_ref(),
                ws_log: None,
                misses: &self.misses,
                unmatched: &self.unmatched,
                fixed_response: true,
                now: std::time::Instant::now(),
                conn_id: 7,
            };
            let p = self.session.on_input(&self.buffered, &mut ctx);
            self.out.extend_from_slice(&self.answer.to_vec());
            self.buffered.drain(..p.consumed);
            assert!(!matches!(p.next, Next::Hold(_)), "no faults here");
            self.closed = p.next.ends();
        }

        fn statuses(&self) -> Vec<u16> {
            let s = String::from_utf8_lossy(&self.out);
            s.match_indices("HTTP/1.1 ")
                .map(|(i, _)| s[i + 9..i + 12].parse().unwrap())
                .collect()
        }
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn pipelined_batch_any_split_gives_same_output() {
        let mut batch = Vec::new();
        for _ in 0..10 {
            batch.extend_from_slice(GET);
        }
        batch.extend_from_slice(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody");
        batch.extend_from_slice(GET);
        let mut whole = Harness::new();
        whole.feed(&batch);
        assert_eq!(whole.statuses(), vec![200; 12]);
        for split in 1..batch.len() {
            let mut h = Harness::new();
            h.feed(&batch[..split]);
            h.feed(&batch[split..]);
            assert_eq!(h.out, whole.out, "split at {split}");
            assert!(h.session.is_idle() && h.buffered.is_empty());
        }
        let mut bytewise = Harness::new();
        for b in &batch {
            bytewise.feed(std::slice::from_ref(b));
        }
        assert_eq!(bytewise.out, whole.out);
    }

    #[test]
    fn garbage_gets_400_and_stops_the_pipeline() {
        let mut h = Harness::new();
        let mut input = b"BAD\x01REQUEST\r\n\r\n".to_vec();
        input.extend_from_slice(GET);
        h.feed(&input);
        assert_eq!(h.statuses(), vec![400]);
        assert!(h.closed);
        assert_eq!(h.counters.protocol_errors.get(), 1);
    }

    #[test]
    fn oversized_head_gets_431_even_when_split() {
        let mut h = Harness::new();
        h.feed(b"GET / HTTP/1.1\r\nHost: x\r\n");
        for _ in 0..100 {
            if h.closed {
                break;
            }
            h.feed(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert!(h.closed);
        assert_eq!(h.statuses(), vec![431]);
    }

    #[test]
    fn large_body_gets_413_and_expect_gets_100() {
        let mut h = Harness::new();
        h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n");
        assert_eq!(h.statuses(), vec![413]);
        let mut h = Harness::new();
        h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(h.statuses(), vec![100]);
        assert!(!h.session.is_idle());
        h.feed(b"abc");
        assert_eq!(h.statuses(), vec![100, 200]);
        assert!(h.session.is_idle());
    }

    #[test]
    fn head_has_no_body_and_close_closes() {
        let mut h = Harness::new();
        h.feed(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let s = String::from_utf8(h.out.clone()).unwrap();
        assert_eq!(s.matches("hello\n").count(), 1);
        assert!(s.ends_with("Connection: close\r\n\r\nhello\n"));
        assert!(h.closed);
    }

    /// A harness whose requests go through routing and the request log, so bodies
    /// are collected (the path with the most state).
    fn routed() -> Harness {
        let mut h = Harness::new();
        h.routes
            .add(
                crate::Route::post("/p")
                    .body("abc")
                    .respond(Response::text(201, "m\n")),
            )
            .unwrap();
        h.routes
            .add(
                crate::Route::any("/")
                    .prefix()
                    .respond(Response::text(200, "r\n")),
            )
            .unwrap();
        h.log = Some(RequestLog::new(10_000, 1 << 20));
        h
    }

    /// A logged request without its arrival time: method, target, body, length.
    type Logged = (String, String, Vec<u8>, u64);

    /// What a run produced: the bytes sent, whether it closed, and what was logged.
    fn outcome(h: &Harness) -> (Vec<u8>, bool, Vec<Logged>) {
        let log = h.log.as_ref().map_or_else(Vec::new, |l| l.snapshot());
        let log = log
            .into_iter()
            .map(|r| (r.method, r.target, r.body, r.body_len))
            .collect();
        (h.out.clone(), h.closed, log)
    }

    fn run(mut h: Harness, pieces: &[&[u8]]) -> Harness {
        for p in pieces {
            if h.closed {
                break;
            }
            h.feed(p);
        }
        h
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Pieces that make up plausible and broken requests.
        fn fragment() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                Just(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
                Just(b"HEAD /x HTTP/1.1\r\nHost: b\r\n\r\n".to_vec()),
                Just(b"GET /z HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_vec()),
                Just(b"POST /p HTTP/1.1\r\nHost: c\r\nContent-Length: 3\r\n\r\nabc".to_vec()),
                Just(b"POST /p HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()),
                Just(b"3\r\nabc\r\n".to_vec()),
                Just(b"0\r\n\r\n".to_vec()),
                Just(b"0\r\nX: y\r\n\r\n".to_vec()),
                Just(
                    b"POST / HTTP/1.1\r\nHost: d\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"
                        .to_vec()
                ),
                Just(b"Content-Length: 5\r\n".to_vec()),
                Just(b"Host: ".to_vec()),
                Just(b"\r\n".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..40),
                proptest::collection::vec(
                    prop_oneof![
                        Just(b'\r'),
                        Just(b'\n'),
                        Just(b'a'),
                        Just(b':'),
                        Just(b' '),
                        Just(b'['),
                        Just(b']')
                    ],
                    0..12
                ),
            ]
        }

        fn input() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(fragment(), 0..12).prop_map(|f| f.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(
                std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
            ))]

            /// Any bytes, cut anywhere: no panic, and the same responses, the same
            /// close decision and the same logged requests as in one piece.
            #[test]
            fn parsing_is_split_invariant(
                data in input(),
                cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
                routed_run in any::<bool>(),
            ) {
                let fresh = || if routed_run { routed() } else { Harness::new() };
                let whole = run(fresh(), &[&data]);
                let mut points: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
                points.sort_unstable();
                let mut pieces = Vec::new();
                let mut at = 0;
                for p in points {
                    pieces.push(&data[at..p]);
                    at = p;
                }
                pieces.push(&data[at..]);
                let split = run(fresh(), &pieces);
                prop_assert_eq!(outcome(&split), outcome(&whole));
            }

            /// Byte at a time: the same as in one piece.
            #[test]
            fn byte_at_a_time_is_the_same(data in input()) {
                let whole = run(routed(), &[&data]);
                let bytes: Vec<&[u8]> = data.chunks(1).collect();
                let split = run(routed(), &bytes);
                prop_assert_eq!(outcome(&split), outcome(&whole));
            }
        }
    }

    /// A head arriving one byte at a time through the session is scanned about
    /// once in total: the work is linear in its size (bytes examined, not time).
    #[test]
    fn bytewise_head_is_scanned_linearly() {
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        while head.len() < 15_000 {
            head.extend_from_slice(b"X-Header-Name: some-value\r\n");
        }
        let mut examined = 0usize;
        let mut from = 0;
        for len in 1..=head.len() {
            match head::find_end(&head[..len], from) {
                Ok(_) => unreachable!("no blank line yet"),
                Err(next) => {
                    examined += len - from;
                    from = next;
                }
            }
        }
        assert!(
            examined < 2 * head.len(),
            "{examined} for {} bytes",
            head.len()
        );
    }
}
