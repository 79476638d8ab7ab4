//! Where Python handlers run (route handlers, request conditions, WebSocket
//! handlers): on Python's own threads, never on a Rust thread.
//!
//! Why: when the interpreter shuts down, a thread that tries to take the GIL back
//! is ended by CPython with `pthread_exit`, a forced unwind. Through C and Python
//! frames that is harmless; through Rust frames (a pyo3 call, the `catch_unwind`
//! at the root of every Rust thread) it aborts the process ("FATAL: exception not
//! rethrown"). A handler abandoned by `stop()` that returns while the interpreter
//! exits would do exactly that. So the core's handler thread never attaches to the
//! interpreter: it queues the job here, writes one byte to a pipe and waits for the
//! reply. Daemon threads started by `pierhead._executor` (pure Python) block in
//! `os.read` on the pipe, take the job, call the handler from Python and hand the
//! result back; none of them waits inside Rust, so at shutdown they end the way
//! every Python daemon thread does.
//!
//! There is always one idle thread: a thread that takes a job when no other is idle
//! is told to start another first. Threads live as long as the process (their
//! number is the peak of handlers running at once, plus one).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{PipeReader, PipeWriter, Write};
use std::os::fd::AsRawFd;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use pierhead::{
    CallbackGuard, CallbackScope, Request as CoreRequest, Response as CoreResponse, WsHandlerError,
    WsMessage, WsPeer as CorePeer, WsReply,
};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::error_sink::{handler_failure, ws_handler_failure, ErrorSink};
use crate::http::{to_response, Request};
use crate::ws_values::{py_message, to_reply, WsPeer};

/// What a handler call gives back to the waiting handler thread.
pub(crate) type Reply = Result<CoreResponse, CoreResponse>;

/// What a WebSocket handler call gives back.
type WsResult = Result<WsReply, WsHandlerError>;

/// One handler call waiting for a Python thread.
struct Work {
    callable: Arc<Py<PyAny>>,
    call: Call,
    errors: Arc<ErrorSink>,
    scope: Option<CallbackScope>,
}

/// What is called, with what, and where its result goes.
enum Call {
    /// A route handler: `handler(request)`, its response.
    Handler(CoreRequest, SyncSender<Reply>),
    /// A request condition: `condition(request)`, its truth.
    Condition(CoreRequest, SyncSender<Reply>),
    /// A WebSocket handler: `handler(message, peer)`, its reply.
    Message(CorePeer, WsMessage, SyncSender<WsResult>),
}

#[derive(Default)]
struct Queue {
    work: VecDeque<Work>,
    /// Python threads started, and how many of them are inside a handler.
    threads: usize,
    busy: usize,
}

struct Executor {
    queue: Mutex<Queue>,
    /// One byte per queued job; the Python threads read them.
    wake_read: PipeReader,
    wake_write: PipeWriter,
}

static EXECUTOR: OnceLock<Result<Executor, String>> = OnceLock::new();

fn executor() -> Result<&'static Executor, String> {
    EXECUTOR
        .get_or_init(|| {
            let (wake_read, wake_write) =
                std::io::pipe().map_err(|e| format!("cannot create the handler pipe: {e}"))?;
            Ok(Executor {
                queue: Mutex::new(Queue::default()),
                wake_read,
                wake_write,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

impl Executor {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `callable(request)` on a Python thread and waits for it; called on a core
/// handler thread, without the GIL.
pub(crate) fn call(
    callable: &Arc<Py<PyAny>>,
    request: &CoreRequest,
    errors: &Arc<ErrorSink>,
) -> Reply {
    let (reply, answer) = sync_channel(1);
    let lost = |why: &str| Err(CoreResponse::text(500, format!("handler not run: {why}\n")));
    let call = Call::Handler(request.clone(), reply);
    submit(callable, call, errors, answer, lost)
}

/// Runs the condition `callable(request)` on a Python thread and waits for it;
/// true if it returned a true value (an exception is kept in `errors`: false).
pub(crate) fn check(
    callable: &Arc<Py<PyAny>>,
    request: &CoreRequest,
    errors: &Arc<ErrorSink>,
) -> bool {
    let (reply, answer) = sync_channel(1);
    let lost = |why: &str| {
        Err(CoreResponse::text(
            500,
            format!("condition not run: {why}\n"),
        ))
    };
    let call = Call::Condition(request.clone(), reply);
    matches!(submit(callable, call, errors, answer, lost), Ok(r) if r.status == TRUE)
}

/// Runs the WebSocket handler `callable(message, peer)` on a Python thread and
/// waits for its reply; called on a core handler thread, without the GIL.
pub(crate) fn message(
    callable: &Arc<Py<PyAny>>,
    peer: &CorePeer,
    message: &WsMessage,
    errors: &Arc<ErrorSink>,
) -> WsResult {
    let (reply, answer) = sync_channel(1);
    let lost = |why: &str| Err(WsHandlerError(format!("handler not run: {why}")));
    let call = Call::Message(peer.clone(), message.clone(), reply);
    submit(callable, call, errors, answer, lost)
}

/// The status a condition's truth travels back in.
const TRUE: u16 = 204;

/// Queues `call` for a Python thread and waits on `answer` for its result
/// (`lost(why)` when it cannot be run or its job was lost).
fn submit<T>(
    callable: &Arc<Py<PyAny>>,
    call: Call,
    errors: &Arc<ErrorSink>,
    answer: Receiver<T>,
    lost: impl Fn(&str) -> T,
) -> T {
    let ex = match executor() {
        Ok(ex) => ex,
        Err(e) => return lost(&e),
    };
    ex.lock().work.push_back(Work {
        callable: callable.clone(),
        call,
        errors: errors.clone(),
        scope: CallbackScope::current(),
    });
    if let Err(e) = (&ex.wake_write).write_all(&[1]) {
        return lost(&format!("cannot wake a handler thread: {e}"));
    }
    // A reply is always sent, unless the job object is lost (its sender dropped).
    answer
        .recv()
        .unwrap_or_else(|_| lost("the handler thread dropped the call"))
}

thread_local! {
    /// The scope of the job this Python thread is running.
    static SCOPE: RefCell<Option<CallbackGuard>> = const { RefCell::new(None) };
}

/// A handler call taken by a Python thread (`pierhead._executor`).
#[pyclass(module = "pierhead._pierhead", name = "_Job", frozen)]
pub(crate) struct Job {
    work: Mutex<Option<Work>>,
    /// The handler and its arguments.
    #[pyo3(get)]
    handler: Py<PyAny>,
    #[pyo3(get)]
    args: Py<PyTuple>,
    /// No other thread is idle: the caller starts one before running the handler.
    #[pyo3(get)]
    spawn: bool,
}

#[pymethods]
impl Job {
    /// Sends the handler's result back.
    fn answer(&self, py: Python<'_>, result: &Bound<'_, PyAny>) {
        let Some(work) = self.finish() else { return };
        let errors = &work.errors;
        match work.call {
            Call::Handler(_, reply) => {
                let _ = reply.send(to_response(result).map_err(|e| handler_failure(py, e, errors)));
            }
            Call::Condition(_, reply) => {
                let truth = result
                    .is_truthy()
                    .map(|yes| CoreResponse::new(if yes { TRUE } else { 404 }));
                let _ = reply.send(truth.map_err(|e| handler_failure(py, e, errors)));
            }
            Call::Message(_, _, reply) => {
                let _ = reply.send(to_reply(result).map_err(|e| ws_handler_failure(py, e, errors)));
            }
        }
    }

    /// Reports the handler's exception: a 500 naming it, kept for `check_assertions()`.
    fn fail(&self, py: Python<'_>, error: &Bound<'_, PyAny>) {
        let Some(work) = self.finish() else { return };
        let e = PyErr::from_value(error.clone());
        match work.call {
            Call::Handler(_, reply) | Call::Condition(_, reply) => {
                let _ = reply.send(Err(handler_failure(py, e, &work.errors)));
            }
            Call::Message(_, _, reply) => {
                let _ = reply.send(Err(ws_handler_failure(py, e, &work.errors)));
            }
        }
    }
}

impl Drop for Job {
    /// A job dropped unanswered (its thread failed between taking and answering):
    /// the waiting handler thread gets a 500, and the thread counts as idle again.
    fn drop(&mut self) {
        let work = self
            .work
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if work.is_some() {
            if let Ok(ex) = executor() {
                ex.lock().busy -= 1;
            }
        }
    }
}

impl Job {
    /// Ends the call: the thread is idle again and leaves the server's scope.
    fn finish(&self) -> Option<Work> {
        let work = self
            .work
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        SCOPE.with(|s| s.borrow_mut().take());
        if let Ok(ex) = executor() {
            ex.lock().busy -= 1;
        }
        Some(work)
    }
}

/// The file descriptor the Python threads read wake-ups from.
#[pyfunction]
pub(crate) fn _executor_fd() -> PyResult<i32> {
    executor()
        .map(|ex| ex.wake_read.as_raw_fd())
        .map_err(PyRuntimeError::new_err)
}

/// Counts Python threads started (+1) or that failed to start (-1). A thread that
/// `_take_job` asks for (`spawn`) is counted already, so that two busy threads do
/// not both start one. Returns the number of idle threads.
#[pyfunction]
pub(crate) fn _executor_threads(delta: isize) -> PyResult<usize> {
    let ex = executor().map_err(PyRuntimeError::new_err)?;
    let mut q = ex.lock();
    q.threads = q.threads.saturating_add_signed(delta);
    Ok(q.threads.saturating_sub(q.busy))
}

/// Makes sure a Python thread waits for handler calls (`pierhead._executor`
/// starts it); called when a route with a Python handler is put in place.
pub(crate) fn ensure_thread(py: Python<'_>) -> PyResult<()> {
    let idle = _executor_threads(0)?;
    if idle == 0 {
        _executor_threads(1)?;
        py.import("pierhead._executor")?
            .call_method0("start_thread")?;
    }
    Ok(())
}

/// Takes the next job after a wake-up byte was read; `None` if there is none.
#[pyfunction]
pub(crate) fn _take_job(py: Python<'_>) -> PyResult<Option<Job>> {
    let ex = executor().map_err(PyRuntimeError::new_err)?;
    let (work, spawn) = {
        let mut q = ex.lock();
        let Some(work) = q.work.pop_front() else {
            return Ok(None);
        };
        q.busy += 1;
        let spawn = q.busy >= q.threads;
        if spawn {
            q.threads += 1; // counted now; the caller starts it
        }
        (work, spawn)
    };
    if let Some(scope) = work.scope {
        SCOPE.with(|s| *s.borrow_mut() = Some(scope.enter()));
    }
    let args = match &work.call {
        Call::Handler(request, _) | Call::Condition(request, _) => {
            let request = Request {
                inner: request.clone(),
            };
            PyTuple::new(py, [Py::new(py, request)?.into_any()])?
        }
        Call::Message(peer, message, _) => {
            let peer = Py::new(py, WsPeer::from(peer))?.into_any();
            PyTuple::new(py, [py_message(py, message)?.unbind(), peer])?
        }
    };
    Ok(Some(Job {
        handler: work.callable.clone_ref(py),
        args: args.unbind(),
        spawn,
        work: Mutex::new(Some(work)),
    }))
}
