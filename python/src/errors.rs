//! Raising the `pierhead` exception hierarchy from Rust.
//!
//! The classes are defined in Python (`pierhead/_errors.py`) because `BindError` is
//! both a `PierheadError` and an `OSError`, and `ConfigError` both a `PierheadError`
//! and a `ValueError`: multiple inheritance that a class created from Rust cannot
//! express. This module looks them up once and builds instances of them.

use pierhead::{ConfigError, StartError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

const ERRORS_MODULE: &str = "pierhead._errors";

static CONFIG_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static BIND_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static START_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static STATE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static EXPECTATION_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static FRAME_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static NOTHING_MEASURED_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static MERGE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Builds an exception of the class `name`, or explains why it could not.
fn raise<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
    build: impl FnOnce(&Bound<'py, PyType>) -> PyResult<Bound<'py, PyAny>>,
) -> PyErr {
    let made = cell.import(py, ERRORS_MODULE, name).and_then(build);
    match made {
        Ok(instance) => PyErr::from_value(instance),
        Err(e) => e,
    }
}

/// `ConfigError(message, field)`: a value was rejected; `field` names it.
pub(crate) fn config_error(py: Python<'_>, field: &str, message: String) -> PyErr {
    raise(py, &CONFIG_ERROR, "ConfigError", |class| {
        class.call1((message, field.to_owned()))
    })
}

/// The core's config error, with its field.
pub(crate) fn from_config_error(py: Python<'_>, e: &ConfigError) -> PyErr {
    config_error(py, e.field, e.to_string())
}

/// A failed start: `ConfigError`, `BindError` (an `OSError` carrying `errno` and
/// `address`) or `StartError`.
pub(crate) fn from_start_error(py: Python<'_>, e: &StartError) -> PyErr {
    match e {
        StartError::Config(c) => from_config_error(py, c),
        StartError::Bind { addr, source } => raise(py, &BIND_ERROR, "BindError", |class| {
            let errno = source.raw_os_error().unwrap_or(0);
            let err = class.call1((errno, e.to_string()))?;
            err.setattr("address", addr.to_string())?;
            Ok(err)
        }),
        // A certificate, key or CA file that cannot be used: a config error naming it.
        StartError::Tls(pierhead::TlsError::File { field, .. }) => {
            config_error(py, field, e.to_string())
        }
        StartError::EventLoop(_) | StartError::Spawn(_) | StartError::Tls(_) => {
            raise(py, &START_ERROR, "StartError", |class| {
                class.call1((e.to_string(),))
            })
        }
    }
}

/// A connect fault that could not be switched: `BindError` when ending a refusal
/// could not listen again, `ServerStateError` when the server is not running.
pub(crate) fn from_connect_fault_error(py: Python<'_>, e: &pierhead::ConnectFaultError) -> PyErr {
    match e {
        pierhead::ConnectFaultError::NotRunning => state_error(py, &e.to_string()),
        pierhead::ConnectFaultError::Rebind { addr, source } => {
            raise(py, &BIND_ERROR, "BindError", |class| {
                let errno = source.raw_os_error().unwrap_or(0);
                let err = class.call1((errno, e.to_string()))?;
                err.setattr("address", addr.to_string())?;
                Ok(err)
            })
        }
    }
}

/// `StartError(message)`: something could not be started (threads, event loops).
pub(crate) fn start_error(py: Python<'_>, message: String) -> PyErr {
    raise(py, &START_ERROR, "StartError", |class| {
        class.call1((message,))
    })
}

/// `ServerStateError`: the call does not fit the server's state (not started yet,
/// already running).
pub(crate) fn state_error(py: Python<'_>, message: &str) -> PyErr {
    raise(py, &STATE_ERROR, "ServerStateError", |class| {
        class.call1((message.to_owned(),))
    })
}

/// `ExpectationError`: an assertion about the requests cannot hold or be checked.
pub(crate) fn expectation_error(py: Python<'_>, message: String) -> PyErr {
    raise(py, &EXPECTATION_ERROR, "ExpectationError", |class| {
        class.call1((message,))
    })
}

/// `FrameError(message, text)`: the frame protocol went wrong.
pub(crate) fn frame_error(py: Python<'_>, message: String, text: &str) -> PyErr {
    raise(py, &FRAME_ERROR, "FrameError", |class| {
        class.call1((message, text.to_owned()))
    })
}

/// `NothingMeasuredError(message, reason, result)`: a bench run without one right
/// answer; `result` is what it counted.
pub(crate) fn nothing_measured_error(
    py: Python<'_>,
    message: String,
    reason: &str,
    result: Py<PyAny>,
) -> PyErr {
    raise(
        py,
        &NOTHING_MEASURED_ERROR,
        "NothingMeasuredError",
        |class| class.call1((message, reason.to_owned(), result)),
    )
}

/// `MergeError(message, field, ours, theirs)`: runs that measured different things.
pub(crate) fn merge_error(py: Python<'_>, e: &pierhead_loadgen::Mismatch) -> PyErr {
    raise(py, &MERGE_ERROR, "MergeError", |class| {
        class.call1((
            e.to_string(),
            e.field.to_owned(),
            e.ours.clone(),
            e.theirs.clone(),
        ))
    })
}

/// A refused host publish: a wrong payload or room is a `ConfigError` naming it,
/// the wrong protocol or a stopping server a `ServerStateError`.
pub(crate) fn from_publish_error(py: Python<'_>, e: &pierhead::PublishError) -> PyErr {
    use pierhead::PublishError as P;
    match e {
        P::TooLong { .. } => config_error(py, "payload", e.to_string()),
        P::BadRoom(_) => config_error(py, "room", e.to_string()),
        P::NotFrameProtocol(_) | P::Stopping | P::Stopped => state_error(py, &e.to_string()),
    }
}
