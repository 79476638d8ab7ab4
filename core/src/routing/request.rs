//! Requests as handlers and the request log see them, and the borrowed view that
//! route matching works on.

use std::time::Instant;

use super::id::RouteId;
use crate::faults::{ChaosDecision, Fault};
use crate::syntax::trim;

/// A received HTTP request, owned: given to handlers and kept in the request log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method as sent (`GET`, `POST`, ...).
    pub method: String,
    /// The request target as sent: path and query (`/a/b?x=1`).
    pub target: String,
    /// Minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub version: u8,
    /// Header fields in the order received; names as sent, values as raw bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, decoded from chunked framing if it was chunked. In the request log
    /// it is cut at the log's body limit; `body_len` is the full length.
    pub body: Vec<u8>,
    /// The full body length.
    pub body_len: u64,
    /// When `body` was cut (in the request log), a 128-bit XXH3 digest of the full
    /// body, so that [`Route::matches`](crate::Route::matches) still compares a
    /// body condition exactly (length and digest); `None` when `body` is whole.
    pub body_digest: Option<u128>,
    /// The connection the request came on, unique within the server: requests with
    /// the same id were sent on the same connection.
    pub connection_id: u64,
    /// When the request was complete (monotonic clock).
    pub received: Instant,
    /// The route that answered it; `None` when no route matched (the request got
    /// the unmatched status, or the fixed response on a server without routes).
    pub route: Option<RouteId>,
    /// The fault its answer got on purpose ([`Route::fault`](crate::Route::fault) or
    /// [`Route::chaos`](crate::Route::chaos)); `None` when answered normally.
    pub fault: Option<Fault>,
    /// For a route with chaos: the seed and answer number that decided `fault`.
    pub chaos: Option<ChaosDecision>,
}

impl Request {
    /// The target before `?`.
    pub fn path(&self) -> &str {
        split_target(&self.target).0
    }

    /// The target after `?`, if there is a `?`.
    pub fn query(&self) -> Option<&str> {
        split_target(&self.target).1
    }

    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The first header of this name as text, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Whether `body` is the whole body (not cut by the request log's body limit).
    pub fn body_is_whole(&self) -> bool {
        self.body.len() as u64 == self.body_len
    }

    /// A copy whose body is cut to at most `limit` bytes (allocating only what is
    /// kept); a cut body is replaced by its digest ([`Request::body_digest`]).
    pub(crate) fn with_body_cut(&self, limit: usize) -> Request {
        let (body, body_digest) = cut_body(&self.body, limit);
        Request {
            method: self.method.clone(),
            target: self.target.clone(),
            version: self.version,
            headers: self.headers.clone(),
            body: body.unwrap_or_else(|| self.body.clone()),
            body_len: self.body_len,
            body_digest: body_digest.or(self.body_digest),
            connection_id: self.connection_id,
            received: self.received,
            route: self.route,
            fault: self.fault,
            chaos: self.chaos,
        }
    }

    /// Cuts the body to at most `limit` bytes in place, freeing the rest.
    pub(crate) fn cut_body(&mut self, limit: usize) {
        if let (Some(body), digest) = cut_body(&self.body, limit) {
            self.body = body;
            self.body_digest = digest;
        }
    }

    /// The borrowed view route conditions see.
    pub fn view(&self) -> RequestView<'_> {
        RequestView {
            method: &self.method,
            target: &self.target,
            headers: Headers::Owned(&self.headers),
            body: &self.body,
        }
    }
}

/// A body longer than `limit`: its first `limit` bytes in an allocation of their
/// own, and the digest of the whole.
fn cut_body(body: &[u8], limit: usize) -> (Option<Vec<u8>>, Option<u128>) {
    if body.len() <= limit {
        return (None, None);
    }
    (Some(body[..limit].to_vec()), Some(body_digest(body)))
}

/// The digest kept for a cut body.
pub(crate) fn body_digest(body: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(body)
}

/// Splits a target into path and query. An absolute-form target
/// (`http://host/path?q`, RFC 9112 §3.2.2, as sent to a proxy) gives the path and
/// query of its URI (an empty path is `/`); the origin form is split as it is.
#[inline]
pub(crate) fn split_target(target: &str) -> (&str, Option<&str>) {
    // Targets are short: a plain scan beats a call into memchr.
    let (path, query) = match target.bytes().position(|b| b == b'?') {
        // `?` is ASCII: both sides are on character boundaries.
        Some(i) => (&target[..i], Some(&target[i + 1..])),
        None => (target, None),
    };
    if path.starts_with('/') || path == "*" {
        return (path, query);
    }
    match absolute_path(path) {
        Some(p) => (p, query),
        None => (path, query),
    }
}

/// The path of an absolute URI without its query: what follows `scheme://authority`.
#[cold]
fn absolute_path(uri: &str) -> Option<&str> {
    let colon = uri.find("://")?;
    let scheme = &uri[..colon];
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let rest = &uri[colon + 3..];
    Some(rest.find('/').map_or("/", |i| &rest[i..]))
}

/// The headers of a request, parsed in place or owned.
#[derive(Clone, Copy)]
pub(crate) enum Headers<'a> {
    Parsed(&'a [httparse::Header<'a>]),
    Owned(&'a [(String, Vec<u8>)]),
}

impl<'a> Headers<'a> {
    /// Whether a header of this name (case-insensitive) has exactly this value.
    pub(crate) fn has(&self, name: &str, value: &[u8]) -> bool {
        match self {
            Headers::Parsed(hs) => hs
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case(name) && trim(h.value) == value),
            Headers::Owned(hs) => hs
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(name) && trim(v) == value),
        }
    }

    /// Copies the headers into owned form.
    pub(crate) fn to_owned(self) -> Vec<(String, Vec<u8>)> {
        match self {
            Headers::Parsed(hs) => hs
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect(),
            Headers::Owned(hs) => hs.to_vec(),
        }
    }
}

/// A request as route matching sees it, borrowed from the connection's buffer (or
/// from an owned [`Request`]). Given to [`Route::when`](crate::Route::when)
/// conditions, which run on the I/O thread while the request is matched.
#[derive(Clone, Copy)]
pub struct RequestView<'a> {
    pub(crate) method: &'a str,
    pub(crate) target: &'a str,
    pub(crate) headers: Headers<'a>,
    pub(crate) body: &'a [u8],
}

impl<'a> RequestView<'a> {
    /// The method as sent.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target as sent: path and query.
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// The target before `?`.
    pub fn path(&self) -> &'a str {
        split_target(self.target).0
    }

    /// The target after `?`, if there is a `?`.
    pub fn query(&self) -> Option<&'a str> {
        split_target(self.target).1
    }

    /// Every header as (name as sent, value with surrounding blanks trimmed).
    pub fn headers(&self) -> Vec<(&'a str, &'a [u8])> {
        match self.headers {
            Headers::Parsed(hs) => hs.iter().map(|h| (h.name, trim(h.value))).collect(),
            Headers::Owned(hs) => hs.iter().map(|(n, v)| (n.as_str(), trim(v))).collect(),
        }
    }

    /// The first header of this name (case-insensitive), its value trimmed.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        match self.headers {
            Headers::Parsed(hs) => hs
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| trim(h.value)),
            Headers::Owned(hs) => hs
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| trim(v)),
        }
    }

    /// The whole body (decoded from chunked framing).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
}
