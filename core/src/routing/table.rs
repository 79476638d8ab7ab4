//! The route table: an immutable snapshot that workers read without locking, and
//! the store that publishes a new snapshot when routes change.
//!
//! Changing routes builds a new [`RouteTable`] under a mutex and bumps a version
//! number. A worker compares that number (one atomic load) before it handles input and
//! takes the new snapshot only when it changed, so the request path never locks, and
//! every response comes from one snapshot: never half of an old route and half of
//! a new one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::handler::Handler;
use super::id::RouteId;
use super::request::{Request, RequestView};
use super::response::{Prepared, Response};
use super::route::{Action, Route};
use super::websocket::WebSocket;
use crate::error::{ConfigError, ConfigProblem};
use crate::faults::{ChaosDecision, Fault};

/// What a matched route answers with, ready to serve.
#[derive(Clone)]
pub(crate) enum Answer {
    Static(Arc<Prepared>),
    /// A static response with a streamed body: its own arm, so that the plain
    /// static path stays as small as it was (a check inside it cost ~100
    /// instructions per request, by keeping its copies from being inlined).
    Stream(Arc<Prepared>),
    Handler(Arc<dyn Handler>),
    /// A WebSocket endpoint: the request upgrades.
    WebSocket(Arc<WebSocket>),
}

/// A route in a table, with its prepared response and its counts.
pub(crate) struct RouteEntry {
    pub(crate) id: RouteId,
    pub(crate) route: Route,
    pub(crate) answer: Answer,
    /// Uses left, for a route with a use limit.
    remaining: Option<AtomicU64>,
    /// Requests this route answered.
    pub(crate) hits: AtomicU64,
}

impl RouteEntry {
    /// The response body moves into the prepared answer (one copy of a large body,
    /// not two): the entry's `route` keeps its matcher, fault and use limit, and an
    /// empty response of the same status.
    fn new(id: RouteId, mut route: Route) -> RouteEntry {
        let answer = match &mut route.action {
            Action::Static(r) => {
                let status = r.status;
                let response = std::mem::replace(r, Response::new(status));
                let prepared = Arc::new(Prepared::from_response(response));
                if prepared.stream.is_some() {
                    Answer::Stream(prepared)
                } else {
                    Answer::Static(prepared)
                }
            }
            Action::Handler(h) => Answer::Handler(h.clone()),
            Action::WebSocket(w) => Answer::WebSocket(w.clone()),
        };
        RouteEntry {
            id,
            remaining: route.uses.map(AtomicU64::new),
            answer,
            route,
            hits: AtomicU64::new(0),
        }
    }

    /// The fault for the `nth` answer of this route (1-based), if it has one, and
    /// the chaos decision that chose it.
    #[inline]
    pub(crate) fn decide(&self, nth: u64) -> (Option<Fault>, Option<ChaosDecision>) {
        match &self.route.chaos {
            None => (self.fixed_fault(nth), None),
            Some(c) => (
                c.decide(nth),
                Some(ChaosDecision {
                    seed: c.seed(),
                    nth,
                }),
            ),
        }
    }

    /// The fault for the `nth` answer of this route (1-based), if it has one.
    #[inline]
    pub(crate) fn fault(&self, nth: u64) -> Option<Fault> {
        match &self.route.chaos {
            None => self.fixed_fault(nth),
            Some(c) => c.decide(nth),
        }
    }

    /// The fixed fault for the `nth` answer (1-based), if it has one.
    #[inline]
    fn fixed_fault(&self, nth: u64) -> Option<Fault> {
        let every = self.route.fault_every;
        self.route
            .fault
            .filter(|_| every <= 1 || nth.is_multiple_of(every))
    }

    /// No uses left (a route without a limit never is).
    fn used_up(&self) -> bool {
        self.remaining
            .as_ref()
            .is_some_and(|left| left.load(Ordering::Acquire) == 0)
    }

    /// Takes one use; `None` when the route is used up (another worker may have
    /// taken the last one at the same moment: exactly one of them gets it), else
    /// which answer of the route this is (1-based).
    fn claim(&self) -> Option<u64> {
        let ok = match &self.remaining {
            None => true,
            Some(left) => left
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                .is_ok(),
        };
        ok.then(|| self.hits.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

/// What [`RouteTable::find`] found.
pub(crate) enum Found<'a> {
    /// This route, for its `nth` answer.
    Route(&'a Arc<RouteEntry>, u64),
    /// The route at this index has deferred conditions: decide on a handler thread.
    Deferred(usize),
    /// No route matches.
    None,
}

/// One snapshot of the routes, in the order they were added.
#[derive(Default)]
pub(crate) struct RouteTable {
    entries: Vec<Arc<RouteEntry>>,
    /// Some route has deferred conditions.
    deferred: bool,
    /// The answer to unmatched requests, once changed while running (the
    /// workers take it with the table; until then, the config's).
    pub(crate) unmatched: Option<Arc<Prepared>>,
}

impl RouteTable {
    /// No routes: every HTTP request gets the fixed `hello` response.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first route that matches and still has uses left; that use is taken,
    /// and its number (1-based) returned with the route. A route with deferred
    /// conditions that passes the others stops the search: the rest is for
    /// [`RouteTable::resolve`], on a handler thread.
    #[inline]
    pub(crate) fn find(&self, req: &RequestView<'_>) -> Option<(&Arc<RouteEntry>, u64)> {
        self.entries
            .iter()
            .filter(|e| e.route.matches_view(req))
            .find_map(|e| e.claim().map(|nth| (e, nth)))
    }

    /// Some route has deferred conditions: search with [`RouteTable::find_deferring`].
    #[inline]
    pub(crate) fn has_deferred(&self) -> bool {
        self.deferred
    }

    /// [`RouteTable::find`] for a table with deferred conditions: a route with
    /// them that passes the others stops the search, for [`RouteTable::resolve`]
    /// on a handler thread.
    pub(crate) fn find_deferring(&self, req: &RequestView<'_>) -> Found<'_> {
        for (index, e) in self.entries.iter().enumerate() {
            if !e.route.matches_view(req) {
                continue;
            }
            if !e.route.deferred.is_empty() {
                if e.used_up() {
                    continue;
                }
                return Found::Deferred(index);
            }
            if let Some(nth) = e.claim() {
                return Found::Route(e, nth);
            }
        }
        Found::None
    }

    /// Finishes a search that [`RouteTable::find`] deferred at `from`: every
    /// condition (deferred ones too) of the routes from there on.
    pub(crate) fn resolve(&self, from: usize, req: &Request) -> Option<(&Arc<RouteEntry>, u64)> {
        self.entries
            .get(from..)?
            .iter()
            .filter(|e| e.route.matches(req))
            .find_map(|e| e.claim().map(|nth| (e, nth)))
    }

    fn with(entries: Vec<Arc<RouteEntry>>, unmatched: Option<Arc<Prepared>>) -> RouteTable {
        RouteTable {
            deferred: entries.iter().any(|e| !e.route.deferred.is_empty()),
            entries,
            unmatched,
        }
    }
}

/// The current route table of a server, changed from any thread.
pub(crate) struct RouteStore {
    version: AtomicU64,
    current: Mutex<Arc<RouteTable>>,
    next_id: AtomicU64,
}

impl RouteStore {
    /// A store holding `routes` (already validated).
    pub(crate) fn new(routes: Vec<Route>) -> RouteStore {
        let store = RouteStore {
            version: AtomicU64::new(0),
            current: Mutex::new(Arc::new(RouteTable::default())),
            next_id: AtomicU64::new(1),
        };
        let entries = routes
            .into_iter()
            .map(|r| Arc::new(RouteEntry::new(store.fresh_id(), r)))
            .collect();
        *store.lock() = Arc::new(RouteTable::with(entries, None));
        store
    }

    fn fresh_id(&self) -> RouteId {
        RouteId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Arc<RouteTable>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The version of the current table; changes whenever the table does.
    #[inline]
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The current table.
    pub(crate) fn snapshot(&self) -> Arc<RouteTable> {
        self.lock().clone()
    }

    /// Replaces the table with `edit` applied to a copy of its entries.
    fn update<T>(&self, edit: impl FnOnce(&mut Vec<Arc<RouteEntry>>) -> T) -> T {
        match self.try_update(|entries| Ok::<T, std::convert::Infallible>(edit(entries))) {
            Ok(out) => out,
            Err(never) => match never {},
        }
    }

    /// Replaces the table with `edit` applied to a copy of its entries, unless
    /// `edit` refuses (then the table stays as it was).
    fn try_update<T, E>(
        &self,
        edit: impl FnOnce(&mut Vec<Arc<RouteEntry>>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut current = self.lock();
        let mut entries = current.entries.clone();
        let out = edit(&mut entries)?;
        *current = Arc::new(RouteTable::with(entries, current.unmatched.clone()));
        // Bumped under the lock, after the new table is in place.
        self.version.fetch_add(1, Ordering::Release);
        Ok(out)
    }

    pub(crate) fn add(&self, route: Route) -> Result<RouteId, ConfigError> {
        route.validate()?;
        let id = self.fresh_id();
        let entry = Arc::new(RouteEntry::new(id, route));
        self.update(|entries| entries.push(entry));
        Ok(id)
    }

    /// Puts `route` at `position` in matching order (0: first; the number of
    /// routes: last, as `add`), in one new table: a worker sees either the table
    /// before or the one with the route in place. A position past the end is
    /// refused, naming `position`, and changes nothing.
    pub(crate) fn insert(&self, position: usize, route: Route) -> Result<RouteId, ConfigError> {
        route.validate()?;
        let id = self.fresh_id();
        let entry = Arc::new(RouteEntry::new(id, route));
        self.try_update(|entries| {
            if position > entries.len() {
                return Err(ConfigError {
                    field: "position",
                    problem: ConfigProblem::TooLarge {
                        max: entries.len() as u64,
                        got: position as u64,
                    },
                });
            }
            entries.insert(position, entry);
            Ok(id)
        })
    }

    pub(crate) fn replace(&self, id: RouteId, route: Route) -> Result<bool, ConfigError> {
        route.validate()?;
        let entry = Arc::new(RouteEntry::new(id, route));
        Ok(
            self.update(|entries| match entries.iter_mut().find(|e| e.id == id) {
                Some(slot) => {
                    *slot = entry;
                    true
                }
                None => false,
            }),
        )
    }

    pub(crate) fn remove(&self, id: RouteId) -> bool {
        self.update(|entries| {
            let before = entries.len();
            entries.retain(|e| e.id != id);
            entries.len() != before
        })
    }

    pub(crate) fn clear(&self) {
        self.update(|entries| entries.clear());
    }

    /// Answers unmatched requests with `status` from now on.
    pub(crate) fn set_unmatched(&self, unmatched: Prepared) {
        let mut current = self.lock();
        *current = Arc::new(RouteTable::with(
            current.entries.clone(),
            Some(Arc::new(unmatched)),
        ));
        self.version.fetch_add(1, Ordering::Release);
    }

    pub(crate) fn hits(&self, id: RouteId) -> Option<u64> {
        let table = self.snapshot();
        let entry = table.entries.iter().find(|e| e.id == id)?;
        Some(entry.hits.load(Ordering::Relaxed))
    }

    pub(crate) fn ids(&self) -> Vec<RouteId> {
        self.snapshot().entries.iter().map(|e| e.id).collect()
    }
}
