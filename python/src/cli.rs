//! `python -m pierhead`: the `pierhead` command line (`pierhead_cli::run`, the very
//! code of the binary) run in the interpreter's process, with the interpreter
//! released while it runs.
//!
//! Python owns the process's signals: its handlers only note a signal, and Python
//! code runs them later, on the main thread. So the command learns of SIGINT and
//! SIGTERM from Python: while it waits, it takes the interpreter every 50 ms and
//! runs the pending handlers (`PyErr_CheckSignals`). A `KeyboardInterrupt` is
//! SIGINT, one whose message is `SIGTERM` is SIGTERM (the handler
//! `pierhead/__main__.py` installs for it raises that).

use std::io;
use std::time::{Duration, Instant};

use pierhead_cli::{Interrupt, Interrupts};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;

/// How often a waiting command runs Python's signal handlers.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs the command line `argv` (the first item is the program's name) as the
/// `pierhead` binary does, and returns its exit code. Call it from the main thread:
/// only there does Python run signal handlers, so only there do Ctrl-C and SIGTERM
/// stop `serve`. A signal handler that raised something other than
/// `KeyboardInterrupt` stops it too, and that exception is raised once the stop
/// report is printed.
#[pyfunction]
pub(crate) fn cli(py: Python<'_>, argv: Vec<String>) -> PyResult<u8> {
    let mut signals = PythonSignals { raised: None };
    let code = py.detach(|| pierhead_cli::run(argv, &mut signals));
    match signals.raised {
        Some(e) => Err(e),
        None => Ok(code),
    }
}

/// SIGINT and SIGTERM as Python's signal handlers report them.
struct PythonSignals {
    /// An exception a handler raised that is not an interrupt, to raise again.
    raised: Option<PyErr>,
}

impl PythonSignals {
    /// Runs the pending signal handlers; what they raised, as an interrupt.
    fn check(&mut self) -> Option<Interrupt> {
        Python::attach(|py| {
            let e = py.check_signals().err()?;
            if !e.is_instance_of::<PyKeyboardInterrupt>(py) {
                self.raised = Some(e);
                return Some(Interrupt::Sigint);
            }
            let sigterm = e
                .value(py)
                .str()
                .is_ok_and(|m| m.to_cow().is_ok_and(|m| m == "SIGTERM"));
            Some(if sigterm {
                Interrupt::Sigterm
            } else {
                Interrupt::Sigint
            })
        })
    }
}

impl Interrupts for PythonSignals {
    /// Python's handlers are in place already.
    fn listen(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn wait(&mut self, timeout: Duration) -> Option<Interrupt> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(interrupt) = self.check() {
                return Some(interrupt);
            }
            let left =
                deadline.map_or(SIGNAL_POLL, |d| d.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                return None;
            }
            std::thread::sleep(left.min(SIGNAL_POLL));
        }
    }
}
