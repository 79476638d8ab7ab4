//! How `serve` learns of SIGINT and SIGTERM. The binary installs its own handlers
//! ([`SignalInterrupts`]); a host that owns the process's signals (the Python
//! interpreter, for `python -m pierhead`) implements [`Interrupts`] with its own.

use std::io;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// A request to stop, as a signal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// Ctrl-C.
    Sigint,
    /// `kill`, a service manager, a test harness.
    Sigterm,
}

impl Interrupt {
    /// `SIGINT` or `SIGTERM`, as the stop line prints it.
    pub fn name(self) -> &'static str {
        match self {
            Interrupt::Sigint => "SIGINT",
            Interrupt::Sigterm => "SIGTERM",
        }
    }
}

/// Where SIGINT and SIGTERM (or what stands for them) come from.
pub trait Interrupts {
    /// Called before the server starts: from then on none may be missed.
    fn listen(&mut self) -> io::Result<()>;

    /// Waits up to `timeout` for one; `None` if none came meanwhile.
    fn wait(&mut self, timeout: Duration) -> Option<Interrupt>;
}

/// The binary's: signal handlers installed by [`Interrupts::listen`] (not
/// before, so that Ctrl-C kills `pierhead --help` as usual), and a thread that
/// hands what they catch to [`Interrupts::wait`].
#[derive(Default)]
pub struct SignalInterrupts {
    caught: Option<(Receiver<Interrupt>, Handle)>,
}

impl Interrupts for SignalInterrupts {
    fn listen(&mut self) -> io::Result<()> {
        if self.caught.is_some() {
            return Ok(());
        }
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let handle = signals.handle();
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("pierhead-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    let caught = if signal == SIGINT {
                        Interrupt::Sigint
                    } else {
                        Interrupt::Sigterm
                    };
                    if tx.send(caught).is_err() {
                        break;
                    }
                }
            })?;
        self.caught = Some((rx, handle));
        Ok(())
    }

    fn wait(&mut self, timeout: Duration) -> Option<Interrupt> {
        match &self.caught {
            Some((rx, _)) => rx.recv_timeout(timeout).ok(),
            None => {
                std::thread::sleep(timeout);
                None
            }
        }
    }
}

impl Drop for SignalInterrupts {
    fn drop(&mut self) {
        if let Some((_, handle)) = &self.caught {
            handle.close();
        }
    }
}
