//! [`ErrorSink`]: the exceptions raised by Python code the server called (and
//! assertion failures found while serving), kept per server so that
//! `check_assertions()` raises them; and [`handler_failure`], a handler's
//! exception as its answer (a `500` naming it, the exception kept), and
//! [`ws_handler_failure`], a WebSocket handler's (a close with 1011).

use std::sync::{Mutex, PoisonError};

use pierhead::Response as CoreResponse;
use pyo3::prelude::*;

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

/// A handler's exception as its answer: a 500 naming it; the exception is kept.
pub(crate) fn handler_failure(py: Python<'_>, e: PyErr, errors: &ErrorSink) -> CoreResponse {
    let text = format!("handler raised {}\n", describe(py, &e));
    errors.push(e);
    CoreResponse::text(500, text)
}

/// A WebSocket handler's exception as its answer: the connection closes with
/// 1011; the exception is kept.
pub(crate) fn ws_handler_failure(
    py: Python<'_>,
    e: PyErr,
    errors: &ErrorSink,
) -> pierhead::WsHandlerError {
    let text = format!("handler raised {}", describe(py, &e));
    errors.push(e);
    pierhead::WsHandlerError(text)
}

/// `TypeName: message` of an exception.
fn describe(py: Python<'_>, e: &PyErr) -> String {
    let name = e
        .get_type(py)
        .name()
        .map_or_else(|_| "Exception".to_owned(), |n| n.to_string());
    format!("{name}: {}", e.value(py))
}
