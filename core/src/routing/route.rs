//! A route: which requests it matches, what it answers, how often, with what fault.

use std::sync::Arc;

use super::handler::Handler;
use super::request::{body_digest, split_target, Request, RequestView};
use super::response::Response;
use super::websocket::WebSocket;
use crate::error::{ConfigError, ConfigProblem};
use crate::faults::{Chaos, Fault};
use crate::syntax::{check_header, invalid, is_token_byte, percent_decode};

/// How a route's path is compared with the request's path: the target before `?`
/// (for an absolute-form target, `http://host/path`, the URI's path), with `%XX`
/// escapes decoded on both sides, so `/café`, `/caf%C3%A9` and `/caf%c3%a9` are one
/// path. [`Route::raw_path`] compares the path as sent instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// The path equals this string.
    Exact(String),
    /// The path starts with this string.
    Prefix(String),
}

/// A caller-supplied match condition; see [`Route::when`].
#[derive(Clone)]
pub(crate) struct Condition(Arc<ConditionFn>);

type ConditionFn = dyn Fn(&RequestView<'_>) -> bool + Send + Sync;

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Condition(<callback>)")
    }
}

/// A caller-supplied condition that may block; see [`Route::when_deferred`].
#[derive(Clone)]
pub(crate) struct DeferredCondition(pub(crate) Arc<DeferredFn>);

type DeferredFn = dyn Fn(&Request) -> bool + Send + Sync;

impl std::fmt::Debug for DeferredCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeferredCondition(<callback>)")
    }
}

/// What a matching route answers with.
#[derive(Clone)]
pub enum Action {
    /// A fixed response, prepared once and served from the I/O thread.
    Static(Response),
    /// A callback that builds the response from the request, run on the handler pool.
    Handler(Arc<dyn Handler>),
    /// A WebSocket endpoint: the request upgrades ([`Route::websocket`]).
    WebSocket(Arc<WebSocket>),
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Static(r) => f.debug_tuple("Static").field(r).finish(),
            Action::Handler(_) => f.write_str("Handler(<callback>)"),
            Action::WebSocket(w) => f.debug_tuple("WebSocket").field(w).finish(),
        }
    }
}

/// A route: a request matcher, an action, and optionally a use limit and a fault.
///
/// ```
/// use pierhead::{Fault, Response, Route};
/// use std::time::Duration;
/// let hello = Route::get("/hello").respond(Response::text(200, "hi\n"));
/// let slow = Route::any("/api/").prefix().respond(Response::new(204))
///     .fault(Fault::Delay(Duration::from_millis(50)));
/// let once = Route::post("/login").respond(Response::json(200, r#"{"ok":true}"#)).uses(1);
/// # let _ = (hello, slow, once);
/// ```
#[derive(Debug, Clone)]
pub struct Route {
    pub(crate) method: Option<String>,
    pub(crate) path: PathMatch,
    pub(crate) raw_path: bool,
    pub(crate) query: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) conditions: Vec<Condition>,
    /// Conditions run on the handler threads (see [`Route::when_deferred`]).
    pub(crate) deferred: Vec<DeferredCondition>,
    pub(crate) action: Action,
    pub(crate) uses: Option<u64>,
    pub(crate) fault: Option<Fault>,
    /// The fault applies to every `fault_every`-th answer only (1: all).
    pub(crate) fault_every: u64,
    /// Faults chosen per answer by probability, instead of `fault`.
    pub(crate) chaos: Option<Arc<Chaos>>,
}

impl Route {
    /// A route for `method` (as sent, case-sensitive: `"GET"`) and the exact `path`.
    /// Until [`Route::respond`] or [`Route::handler`] it answers `200` with no body.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Route {
        Route::build(Some(method.into()), path.into())
    }

    /// A route for any method and the exact `path`.
    pub fn any(path: impl Into<String>) -> Route {
        Route::build(None, path.into())
    }

    /// `GET` (which also answers `HEAD`, without the body).
    pub fn get(path: impl Into<String>) -> Route {
        Route::new("GET", path)
    }

    /// `POST`.
    pub fn post(path: impl Into<String>) -> Route {
        Route::new("POST", path)
    }

    /// `PUT`.
    pub fn put(path: impl Into<String>) -> Route {
        Route::new("PUT", path)
    }

    /// `DELETE`.
    pub fn delete(path: impl Into<String>) -> Route {
        Route::new("DELETE", path)
    }

    fn build(method: Option<String>, path: String) -> Route {
        Route {
            method,
            path: PathMatch::Exact(path),
            raw_path: false,
            query: None,
            headers: Vec::new(),
            body: None,
            conditions: Vec::new(),
            deferred: Vec::new(),
            action: Action::Static(Response::new(200)),
            uses: None,
            fault: None,
            fault_every: 1,
            chaos: None,
        }
    }

    /// Match every path that starts with this route's path.
    pub fn prefix(mut self) -> Route {
        if let PathMatch::Exact(p) = self.path {
            self.path = PathMatch::Prefix(p);
        }
        self
    }

    /// Compare the path byte for byte as sent, without decoding `%XX` escapes (so
    /// `/%7Euser` does not match a route for `/~user`).
    pub fn raw_path(mut self) -> Route {
        self.raw_path = true;
        self
    }

    /// Match only requests whose query string (after `?`, as received) equals `query`.
    pub fn query(mut self, query: impl Into<String>) -> Route {
        self.query = Some(query.into());
        self
    }

    /// Match only requests carrying this header with exactly this value (the name is
    /// compared case-insensitively). May be given several times; all must match.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Route {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Match only requests whose body equals `body`.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Route {
        self.body = Some(body.into());
        self
    }

    /// Match only requests for which `condition` returns true: for tests the built-in
    /// matchers cannot express (a JSON body compared as a value, query parameters in
    /// any order). It runs on the I/O thread for every request that passed the other
    /// conditions, so it must be quick and must not block. May be given several
    /// times; all must hold.
    pub fn when(
        mut self,
        condition: impl Fn(&RequestView<'_>) -> bool + Send + Sync + 'static,
    ) -> Route {
        self.conditions.push(Condition(Arc::new(condition)));
        self
    }

    /// Match only requests for which `condition` returns true, where the condition
    /// may be slow or block: a regular expression engine, a lock, a call into an
    /// interpreter (Python's predicates and `re` patterns are these). It runs on a
    /// handler thread, never on an I/O thread: a request that passes this route's
    /// other conditions is handed to the handler pool, which decides this route
    /// and the ones after it (in order, as always). So routes before it cost
    /// nothing more, and the ones after it are matched off the I/O thread for the
    /// requests that reach it. May be given several times; all must hold.
    pub fn when_deferred(
        mut self,
        condition: impl Fn(&Request) -> bool + Send + Sync + 'static,
    ) -> Route {
        self.deferred.push(DeferredCondition(Arc::new(condition)));
        self
    }

    /// Answer with this fixed response.
    pub fn respond(mut self, response: Response) -> Route {
        self.action = Action::Static(response);
        self
    }

    /// Answer with whatever `handler` builds from the request. Handlers run on the
    /// server's handler threads, never on an I/O thread.
    pub fn handler(mut self, handler: impl Handler) -> Route {
        self.action = Action::Handler(Arc::new(handler));
        self
    }

    /// Upgrade to WebSocket and serve `endpoint` (a `GET` route: browsers and
    /// clients open WebSockets with `GET`). A request that is not a valid opening
    /// handshake is refused (426 without `Upgrade: websocket`, 400 ...); the
    /// route's [`Route::fault`] and [`Route::chaos`] do not apply: the endpoint
    /// has faults of its own.
    pub fn websocket(mut self, endpoint: WebSocket) -> Route {
        self.action = Action::WebSocket(Arc::new(endpoint));
        self
    }

    /// Answer at most `n` requests; after that the route no longer matches and
    /// requests fall through to the next route (or the unmatched status).
    pub fn uses(mut self, n: u64) -> Route {
        self.uses = Some(n);
        self
    }

    /// Misbehave on purpose when answering.
    pub fn fault(mut self, fault: Fault) -> Route {
        self.fault = Some(fault);
        self
    }

    /// Apply the fault to every `n`-th answer of this route only (the `n`-th, the
    /// `2n`-th, ...), counted over all workers; the others are answered normally.
    /// `1` (the default) applies it to every answer. E.g. a route where every
    /// 100th request waits 100 ms, to see a stall that closed-loop load hides.
    pub fn fault_every(mut self, n: u64) -> Route {
        self.fault_every = n;
        self
    }

    /// Misbehave by chance: each answer gets one of `chaos`'s faults with its
    /// probability, decided by its seed and the answer's number, and logged (see
    /// [`Chaos`]). Replaces [`Route::fault`].
    pub fn chaos(mut self, chaos: Chaos) -> Route {
        self.chaos = Some(Arc::new(chaos));
        self
    }

    /// Behave again: removes the fault (and the chaos).
    pub fn without_fault(mut self) -> Route {
        self.fault = None;
        self.chaos = None;
        self
    }

    /// The method matched, `None` for any.
    pub fn get_method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// How the path is matched.
    pub fn get_path(&self) -> &PathMatch {
        &self.path
    }

    /// Whether `request` meets this route's conditions (method, path, query,
    /// headers, body), regardless of use limits. The same test the server applies
    /// when it picks a route, so it serves assertions on the request log. A body
    /// the log cut is compared by length and digest; [`Route::when`] conditions
    /// see the cut body (check [`Request::body_is_whole`] where that matters).
    /// Deferred conditions ([`Route::when_deferred`]) are run too, on the calling
    /// thread.
    pub fn matches(&self, request: &Request) -> bool {
        let view = request.view();
        let immediate = match request.body_digest {
            Some(digest) => self.matches_with(&view, |want| {
                want.len() as u64 == request.body_len && body_digest(want) == digest
            }),
            None => self.matches_view(&view),
        };
        immediate && self.deferred.iter().all(|c| (c.0)(request))
    }

    #[inline(always)]
    pub(crate) fn matches_view(&self, req: &RequestView<'_>) -> bool {
        self.matches_with(req, |want| want == req.body)
    }

    /// The match, with `body_ok` deciding a body condition. (Always inlined: when
    /// the route search stopped inlining it, callgrind counted 17 instructions
    /// more per routed request.)
    #[inline(always)]
    fn matches_with(&self, req: &RequestView<'_>, body_ok: impl FnOnce(&[u8]) -> bool) -> bool {
        if let Some(m) = &self.method {
            // A GET route answers HEAD too (RFC 9110 9.3.2).
            if m != req.method && !(m == "GET" && req.method == "HEAD") {
                return false;
            }
        }
        let (path, query) = split_target(req.target);
        let escaped = |p: &str| !self.raw_path && (p.contains('%') || path.contains('%'));
        let path_ok = match &self.path {
            PathMatch::Exact(p) if p == "*" => req.target == "*",
            PathMatch::Exact(p) => {
                p == path || (escaped(p) && percent_decode(p) == percent_decode(path))
            }
            PathMatch::Prefix(p) => {
                path.starts_with(p.as_str())
                    || (escaped(p) && percent_decode(path).starts_with(&percent_decode(p)))
            }
        };
        path_ok
            && self.query.as_deref().is_none_or(|q| Some(q) == query)
            && self
                .headers
                .iter()
                .all(|(n, v)| req.headers.has(n, v.as_bytes()))
            && self.body.as_deref().is_none_or(body_ok)
            && self.conditions.iter().all(|c| (c.0)(req))
    }

    /// Checks every part; an error names the offending field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(m) = &self.method {
            if m.is_empty() || !m.bytes().all(is_token_byte) {
                return Err(invalid("route.method", m, "an HTTP method token"));
            }
        }
        let path = match &self.path {
            PathMatch::Exact(p) | PathMatch::Prefix(p) => p,
        };
        if !(path.starts_with('/') || path == "*") || path.bytes().any(|b| b < b' ' || b == 0x7f) {
            return Err(invalid(
                "route.path",
                path,
                "a path starting with `/` (or `*`), without spaces or control characters",
            ));
        }
        // Found by fuzzing (fuzz/fuzz_targets/route.rs): a `?` or `#` in the path
        // made a route that no request could ever match.
        if path.contains(['?', '#']) {
            return Err(invalid(
                "route.path",
                path,
                "a path without `?` or `#` (match the query with Route::query)",
            ));
        }
        if let Some(q) = &self.query {
            if q.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(invalid("route.query", q, "a query without spaces"));
            }
        }
        for (name, value) in &self.headers {
            check_header("route.header", name, value)?;
        }
        match &self.action {
            Action::Static(r) => r.validate()?,
            Action::WebSocket(w) => w.check()?,
            Action::Handler(_) => {}
        }
        if let Some(c) = &self.chaos {
            c.validate()?;
        }
        if self.fault_every == 0 {
            return Err(ConfigError {
                field: "route.fault_every",
                problem: ConfigProblem::TooSmall { min: 1, got: 0 },
            });
        }
        if self.uses == Some(0) {
            return Err(ConfigError {
                field: "route.uses",
                problem: ConfigProblem::TooSmall { min: 1, got: 0 },
            });
        }
        match self.fault {
            Some(Fault::Drip { bytes: 0, .. }) => Err(ConfigError {
                field: "route.fault.drip.bytes",
                problem: ConfigProblem::TooSmall { min: 1, got: 0 },
            }),
            Some(Fault::Drip { interval, .. }) if interval.is_zero() => Err(ConfigError {
                field: "route.fault.drip.interval",
                problem: ConfigProblem::ZeroDuration,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn validation_names_the_field() {
        let field = |r: Route| r.validate().unwrap_err().field;
        assert_eq!(field(Route::new("GE T", "/")), "route.method");
        assert_eq!(field(Route::get("nope")), "route.path");
        assert_eq!(field(Route::get("/").header("X\r\n", "v")), "route.header");
        assert_eq!(
            field(Route::get("/").header("X", "a\r\nB: c")),
            "route.header"
        );
        assert_eq!(field(Route::get("/").uses(0)), "route.uses");
        assert_eq!(
            field(Route::get("/").respond(Response::new(1000))),
            "response.status"
        );
        assert_eq!(
            field(Route::get("/").fault(Fault::Drip {
                bytes: 0,
                interval: Duration::from_millis(1)
            })),
            "route.fault.drip.bytes"
        );
        assert!(Route::any("*").validate().is_ok());
    }

    fn view_of(target: &str) -> Request {
        Request {
            method: "GET".into(),
            target: target.into(),
            version: 1,
            headers: vec![],
            body: vec![],
            body_len: 0,
            body_digest: None,
            fault: None,
            chaos: None,
            connection_id: 1,
            received: std::time::Instant::now(),
            route: None,
        }
    }

    #[test]
    fn paths_match_decoded_and_from_absolute_form() {
        let m = |route: Route, target: &str| route.matches(&view_of(target));
        assert!(m(Route::get("/health"), "http://x/health"));
        assert!(m(
            Route::get("/health").query("a=1"),
            "HTTP://x:80/health?a=1"
        ));
        assert!(m(Route::get("/"), "http://x"));
        assert!(m(Route::get("/"), "http://x?q"));
        assert!(!m(Route::get("/health"), "http://x/healthz"));
        assert!(m(Route::get("/café"), "/caf%C3%A9"));
        assert!(m(Route::get("/caf%C3%A9"), "/café"));
        assert!(m(Route::get("/caf%c3%a9"), "/caf%C3%A9"));
        assert!(m(Route::get("/~user"), "/%7Euser"));
        assert!(m(Route::get("/a b"), "/a%20b"));
        assert!(m(Route::get("/api/").prefix(), "/%61pi/x"));
        assert!(m(Route::get("/100%"), "/100%"));
        assert!(!m(Route::get("/~user").raw_path(), "/%7Euser"));
        assert!(m(Route::get("/%7Euser").raw_path(), "/%7Euser"));
        assert!(m(Route::any("*"), "*"));
        assert!(!m(Route::any("*"), "/"));
        assert_eq!(view_of("http://h/p/q?x=1").path(), "/p/q");
        assert_eq!(view_of("http://h/p/q?x=1").query(), Some("x=1"));
    }

    /// A body the request log cut still matches (or not) exactly.
    #[test]
    fn cut_bodies_are_matched_by_length_and_digest() {
        let body = vec![b'q'; 100_000];
        let full = Request {
            method: "POST".into(),
            target: "/u".into(),
            version: 1,
            headers: vec![],
            body: body.clone(),
            body_len: body.len() as u64,
            body_digest: None,
            fault: None,
            chaos: None,
            connection_id: 1,
            received: std::time::Instant::now(),
            route: None,
        };
        let logged = full.with_body_cut(1000);
        assert_eq!(logged.body.len(), 1000);
        assert!(!logged.body_is_whole());
        assert!(Route::post("/u").body(body.clone()).matches(&logged));
        let mut other = body.clone();
        other[99_999] = b'x';
        assert!(!Route::post("/u").body(other).matches(&logged));
        assert!(!Route::post("/u").body(&body[..1000]).matches(&logged));
        assert!(!Route::post("/v").body(body).matches(&logged));
    }

    /// Regression (fuzz/artifacts: route, "\xf1\xf5?;"): a path with `?` could never match.
    #[test]
    fn a_path_with_a_query_or_fragment_is_refused() {
        for p in ["/a?b=1", "/\u{f1}?;", "/a#top"] {
            let e = Route::get(p).validate().unwrap_err();
            assert_eq!(e.field, "route.path", "{p}");
        }
        assert!(Route::get("/a").query("b=1").validate().is_ok());
    }
}
