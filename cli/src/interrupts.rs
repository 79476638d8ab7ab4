//! How `serve` learns of SIGINT and SIGTERM. The binary installs its own handlers
//! ([`SignalInterrupts`]); a host that owns the process's signals (the Python
//! interpreter, for `python -m pierhead`) implements [`Interrupts`] with its own.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// How often a command that works on another thread looks for interrupts, and so
/// how long after the work it may return.
const POLL: Duration = Duration::from_millis(20);

/// Runs `work` on a thread of its own while this thread waits for interrupts (a
/// host such as Python runs its signal handlers only here); the first sets
/// `stop`, which the work heeds and ends early. Returns what `work` returned.
pub(crate) fn until_interrupted<T: Send>(
    interrupts: &mut dyn Interrupts,
    stop: &AtomicBool,
    work: impl FnOnce() -> T + Send,
) -> T {
    std::thread::scope(|s| {
        let worker = s.spawn(work);
        while !worker.is_finished() {
            if interrupts.wait(POLL).is_some() {
                stop.store(true, Ordering::Relaxed);
            }
        }
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Interrupts as a host would give them: none for the first `quiet` waits.
    struct After {
        quiet: u32,
        waits: u32,
    }

    impl Interrupts for After {
        fn listen(&mut self) -> io::Result<()> {
            Ok(())
        }

        fn wait(&mut self, timeout: Duration) -> Option<Interrupt> {
            self.waits += 1;
            std::thread::sleep(timeout);
            (self.waits > self.quiet).then_some(Interrupt::Sigterm)
        }
    }

    #[test]
    fn work_on_its_thread_is_stopped_by_an_interrupt_and_returns() {
        let stop = AtomicBool::new(false);
        let mut host = After { quiet: 3, waits: 0 };
        let spins = until_interrupted(&mut host, &stop, || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            n
        });
        assert!(spins > 0 && stop.load(Ordering::Relaxed));
        assert!(host.waits >= 4, "{}", host.waits);
    }

    #[test]
    fn work_that_ends_first_needs_no_interrupt() {
        let stop = AtomicBool::new(false);
        let mut host = After {
            quiet: u32::MAX,
            waits: 0,
        };
        assert_eq!(until_interrupted(&mut host, &stop, || 7), 7);
        assert!(!stop.load(Ordering::Relaxed));
        assert_eq!(Interrupt::Sigint.name(), "SIGINT");
    }
}
