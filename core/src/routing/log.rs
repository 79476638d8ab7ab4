//! The request log: a bounded ring of the most recent requests, for assertions.
//!
//! Recording takes a short mutex per request, so it is off unless the config asks
//! for it (`Config::request_log`); the fixed benchmark path never touches it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::request::Request;

/// A bounded ring, oldest first, shared by the threads that record into it.
pub(crate) struct Ring<T> {
    capacity: usize,
    entries: Mutex<VecDeque<T>>,
    /// Entries pushed out because it was full.
    evicted: AtomicU64,
}

impl<T: Clone> Ring<T> {
    pub(crate) fn new(capacity: usize) -> Ring<T> {
        Ring {
            capacity,
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            evicted: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<T>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends, evicting the oldest when full.
    pub(crate) fn push(&self, entry: T) {
        let mut entries = self.lock();
        if entries.len() == self.capacity {
            entries.pop_front();
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
        entries.push_back(entry);
    }

    /// A copy of the entries, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<T> {
        self.lock().iter().cloned().collect()
    }

    /// Empties it.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// Entries evicted since the server started.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}

/// A bounded log of received requests, oldest first.
pub(crate) struct RequestLog {
    body_limit: usize,
    ring: Ring<Request>,
}

impl RequestLog {
    pub(crate) fn new(capacity: usize, body_limit: usize) -> RequestLog {
        RequestLog {
            body_limit,
            ring: Ring::new(capacity),
        }
    }

    /// Appends a request (its body cut at the body limit, and the rest freed),
    /// evicting the oldest when full.
    pub(crate) fn record(&self, mut request: Request) {
        request.cut_body(self.body_limit);
        self.ring.push(request);
    }

    /// Appends a copy of a request that is still needed (by a handler): only the
    /// part of the body the log keeps is copied.
    pub(crate) fn record_copy(&self, request: &Request) {
        self.ring.push(request.with_body_cut(self.body_limit));
    }

    /// A copy of the entries, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<Request> {
        self.ring.snapshot()
    }

    /// Empties the log.
    pub(crate) fn clear(&self) {
        self.ring.clear();
    }

    /// Requests evicted since the server started.
    pub(crate) fn evicted(&self) -> u64 {
        self.ring.evicted()
    }
}

/// Who ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedBy {
    /// The client closed (or reset) it first.
    Client,
    /// The server closed it first: after `Connection: close`, a timeout, a fault,
    /// a protocol error, or a stop.
    Server,
}

/// A closed connection, as the connection log keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// The id its requests carry ([`Request::connection_id`]).
    pub id: u64,
    /// Who closed first.
    pub closed_by: ClosedBy,
}

/// Requests that no route matched, counted whatever the request log keeps: an
/// assertion that no unexpected request arrived must fail however many requests
/// followed it. The first [`Misses::KEPT`] are kept for the report.
pub(crate) struct Misses {
    count: AtomicU64,
    body_limit: usize,
    first: Mutex<Vec<Request>>,
}

impl Misses {
    /// Unmatched requests kept in full (the rest are only counted).
    pub(crate) const KEPT: usize = 100;

    pub(crate) fn new(body_limit: usize) -> Misses {
        Misses {
            count: AtomicU64::new(0),
            body_limit,
            first: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Request>> {
        self.first.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts an unmatched request; `make(body_limit)` builds its copy (with the
    /// body cut to the limit) if it is kept.
    pub(crate) fn record(&self, make: impl FnOnce(usize) -> Request) {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        if n < Self::KEPT as u64 {
            let mut request = make(self.body_limit);
            request.cut_body(self.body_limit);
            let mut first = self.lock();
            if first.len() < Self::KEPT {
                first.push(request);
            }
        }
    }

    /// How many requests no route matched, and the first of them.
    pub(crate) fn snapshot(&self) -> (u64, Vec<Request>) {
        let first = self.lock();
        (self.count.load(Ordering::Relaxed), first.clone())
    }

    /// Forgets them.
    pub(crate) fn clear(&self) {
        let mut first = self.lock();
        first.clear();
        self.count.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn req(n: u64) -> Request {
        Request {
            method: "POST".into(),
            target: format!("/{n}"),
            version: 1,
            headers: vec![],
            body: vec![b'x'; 10],
            body_len: 10,
            body_digest: None,
            fault: None,
            chaos: None,
            connection_id: n,
            received: Instant::now(),
            route: None,
        }
    }

    #[test]
    fn ring_keeps_the_newest_and_cuts_bodies() {
        let log = RequestLog::new(3, 4);
        for n in 0..5 {
            log.record(req(n));
        }
        let got = log.snapshot();
        let targets: Vec<_> = got.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["/2", "/3", "/4"]);
        assert_eq!(got[0].body, b"xxxx");
        assert_eq!(got[0].body_len, 10);
        assert!(!got[0].body_is_whole());
        assert_eq!(log.evicted(), 2);
        log.clear();
        assert!(log.snapshot().is_empty());
    }

    /// A large logged body keeps only the allocation of what is kept, whether the
    /// request is moved in or copied (a handler still needs the original).
    #[test]
    fn cut_bodies_free_the_rest() {
        let log = RequestLog::new(10, 64 * 1024);
        let mut big = req(1);
        big.body = vec![b'b'; 5 << 20];
        big.body_len = big.body.len() as u64;
        log.record_copy(&big);
        log.record(big);
        let entries = log.ring.lock();
        for e in entries.iter() {
            assert_eq!(e.body.len(), 64 * 1024);
            assert!(e.body.capacity() <= 64 * 1024, "{}", e.body.capacity());
            assert!(e.body_digest.is_some());
        }
    }

    #[test]
    fn misses_count_everything_and_keep_the_first() {
        let misses = Misses::new(4);
        for n in 0..150 {
            misses.record(|_| req(n));
        }
        let (count, first) = misses.snapshot();
        assert_eq!(count, 150);
        assert_eq!(first.len(), Misses::KEPT);
        assert_eq!(first[0].target, "/0");
        assert_eq!(first[0].body, b"xxxx");
        misses.clear();
        assert_eq!(misses.snapshot(), (0, vec![]));
    }
}
