//! Accept back-off: what to do when `accept()` fails for lack of resources.
//!
//! With edge-triggered readiness, retrying at once on EMFILE spins at 100% CPU, and
//! giving up stalls the accept queue (no new edge comes). Instead the worker pauses
//! accepting and retries on a timer that backs off from 5 ms to 1 s, like Go's net
//! package; a successful accept resets it.

use std::io;
use std::time::{Duration, Instant};

const FIRST_DELAY: Duration = Duration::from_millis(5);
const MAX_DELAY: Duration = Duration::from_secs(1);
/// Connections accepted per wake-up before serving other events (fairness).
pub(crate) const ACCEPT_BATCH: usize = 64;

/// What an `accept()` error means for the accept loop.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AcceptErrorKind {
    /// Queue empty: wait for the next readiness event.
    Drained,
    /// The connection went away before we took it, or a signal: just go on.
    Skip,
    /// Out of file descriptors or memory: back off.
    Exhausted,
    /// Anything else: count it and go on with the next connection.
    Other,
}

pub(crate) fn classify(err: &io::Error) -> AcceptErrorKind {
    if err.kind() == io::ErrorKind::WouldBlock {
        return AcceptErrorKind::Drained;
    }
    match err.raw_os_error() {
        Some(libc::ECONNABORTED) | Some(libc::EINTR) | Some(libc::EPROTO) => AcceptErrorKind::Skip,
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM) => {
            AcceptErrorKind::Exhausted
        }
        _ => AcceptErrorKind::Other,
    }
}

#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    delay: Option<Duration>,
    paused_until: Option<Instant>,
}

impl AcceptBackoff {
    /// Pauses accepting; returns when to retry.
    pub(crate) fn pause(&mut self, now: Instant) -> Instant {
        let delay = self.delay.map_or(FIRST_DELAY, |d| (d * 2).min(MAX_DELAY));
        self.delay = Some(delay);
        let until = now + delay;
        self.paused_until = Some(until);
        until
    }

    /// A connection was accepted: the next failure starts from the shortest delay.
    pub(crate) fn reset(&mut self) {
        self.delay = None;
    }

    /// When accepting resumes, if paused.
    pub(crate) fn paused_until(&self) -> Option<Instant> {
        self.paused_until
    }

    /// Ends the pause if it is over; returns true if it just ended.
    pub(crate) fn resume_if_due(&mut self, now: Instant) -> bool {
        match self.paused_until {
            Some(t) if t <= now => {
                self.paused_until = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_exponentially_and_resets() {
        let mut b = AcceptBackoff::default();
        let now = Instant::now();
        assert_eq!(b.pause(now) - now, FIRST_DELAY);
        assert_eq!(b.pause(now) - now, FIRST_DELAY * 2);
        for _ in 0..20 {
            b.pause(now);
        }
        assert_eq!(b.pause(now) - now, MAX_DELAY);
        assert!(!b.resume_if_due(now));
        assert!(b.resume_if_due(now + MAX_DELAY));
        b.reset();
        assert_eq!(b.pause(now) - now, FIRST_DELAY);
    }

    #[test]
    fn classifies_errors() {
        let e = |c| io::Error::from_raw_os_error(c);
        assert_eq!(classify(&e(libc::EMFILE)), AcceptErrorKind::Exhausted);
        assert_eq!(classify(&e(libc::ENFILE)), AcceptErrorKind::Exhausted);
        assert_eq!(classify(&e(libc::ECONNABORTED)), AcceptErrorKind::Skip);
        assert_eq!(classify(&e(libc::EAGAIN)), AcceptErrorKind::Drained);
        assert_eq!(classify(&e(libc::EPERM)), AcceptErrorKind::Other);
    }
}
