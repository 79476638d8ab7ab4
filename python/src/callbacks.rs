//! Calling Python for the server: route handlers (run on Python's own threads by
//! [`crate::executor`] for the core's `pierhead-h<N>` threads) and the stats
//! callback (on `pierhead-stats`, attached for the call's duration only). The I/O
//! threads never touch the interpreter.
//!
//! Errors are never swallowed: an exception from a handler becomes a `500` and is
//! kept in the server's [`ErrorSink`] (so `check_assertions()` raises it); one from
//! the stats callback is kept there too and reported through
//! `sys.unraisablehook` at once (pytest turns that into a warning).

use std::sync::{Arc, Mutex, PoisonError};

use pierhead::{Handler, Request as CoreRequest, Response as CoreResponse, Stats as CoreStats};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::executor;
use crate::http::{body_of, Response};
use crate::server::StatsSlot;
use crate::stats::Stats;

/// Most errors kept; later ones are counted, not stored, so a handler failing on
/// every request of a load test cannot grow memory without bound.
const MAX_KEPT_ERRORS: usize = 1000;

/// Exceptions raised by Python code the server called, and assertion failures
/// found while serving (an ordered expectation requested out of order).
#[derive(Default)]
pub(crate) struct ErrorSink {
    errors: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    list: Vec<PyErr>,
    dropped: u64,
}

impl ErrorSink {
    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.errors.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps an error (or counts it, past the limit).
    pub(crate) fn push(&self, err: PyErr) {
        let mut kept = self.lock();
        if kept.list.len() < MAX_KEPT_ERRORS {
            kept.list.push(err);
        } else {
            kept.dropped += 1;
        }
    }

    /// The kept errors as exception objects, oldest first, and how many were dropped.
    pub(crate) fn snapshot(&self, py: Python<'_>) -> (Vec<Py<PyAny>>, u64) {
        let kept = self.lock();
        let list = kept
            .list
            .iter()
            .map(|e| e.clone_ref(py).into_value(py).into_any())
            .collect();
        (list, kept.dropped)
    }

    /// Forgets every error.
    pub(crate) fn clear(&self) {
        *self.lock() = Kept::default();
    }
}

/// A Python callable as a route handler: `handler(request) -> Response | str | bytes`.
/// It runs on one of Python's own threads (see [`crate::executor`]); the core's
/// handler thread only waits for it.
pub(crate) struct PyHandler {
    pub(crate) callable: Arc<Py<PyAny>>,
    pub(crate) errors: Arc<ErrorSink>,
}

impl Handler for PyHandler {
    fn handle(&self, request: &CoreRequest) -> CoreResponse {
        self.try_handle(request).unwrap_or_else(|failed| failed)
    }

    /// An exception (or a return value of the wrong type) is a reported failure:
    /// a 500 naming it, counted in `handler_errors`, and kept for
    /// `check_assertions()`.
    fn try_handle(&self, request: &CoreRequest) -> Result<CoreResponse, CoreResponse> {
        executor::call(&self.callable, request, &self.errors)
    }
}

/// A handler's exception as its answer: a 500 naming it; the exception is kept.
pub(crate) fn handler_failure(py: Python<'_>, e: PyErr, errors: &ErrorSink) -> CoreResponse {
    let text = format!("handler raised {}\n", describe(py, &e));
    errors.push(e);
    CoreResponse::text(500, text)
}

/// What a handler returned, as a response: a `Response`, or a `str`/`bytes` body
/// sent with status 200 and the content type `Response(body)` would give it.
pub(crate) fn to_response(value: &Bound<'_, PyAny>) -> PyResult<CoreResponse> {
    if let Ok(r) = value.cast::<Response>() {
        return Ok(r.get().inner.clone());
    }
    match body_of(value) {
        Some(body) => {
            let (bytes, kind) = body?;
            Ok(CoreResponse::new(200)
                .header("Content-Type", kind)
                .body(bytes))
        }
        None => Err(PyTypeError::new_err(format!(
            "a handler must return pierhead.Response, str or bytes, not {}",
            value.get_type().name()?
        ))),
    }
}

/// `TypeName: message` of an exception.
pub(crate) fn describe(py: Python<'_>, e: &PyErr) -> String {
    let name = e
        .get_type(py)
        .name()
        .map_or_else(|_| "Exception".to_owned(), |n| n.to_string());
    format!("{name}: {}", e.value(py))
}

/// The core stats callback: calls the callable in `slot` (if any) with the stats.
pub(crate) fn stats_callback(
    slot: StatsSlot,
    errors: Arc<ErrorSink>,
) -> impl Fn(&CoreStats) + Send + Sync + 'static {
    move |stats| {
        Python::attach(|py| {
            let callable = slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .map(|c| c.clone_ref(py));
            let Some(callable) = callable else {
                return;
            };
            let cb = callable.bind(py);
            if let Err(e) = cb.call1((Stats::from(stats),)) {
                errors.push(e.clone_ref(py));
                e.write_unraisable(py, Some(cb));
            }
        });
    }
}
