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
use pyo3::prelude::*;

use crate::error_sink::ErrorSink;
use crate::executor;
use crate::stats::Stats;

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

/// Where the core's stats callback finds the Python callable (empty when stopped).
pub(crate) type StatsSlot = Arc<Mutex<Option<Py<PyAny>>>>;

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
