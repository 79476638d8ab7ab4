//! Flow-control windows (RFC 9113 section 5.2, 6.9): what the peer may still
//! send us (given back with WINDOW_UPDATE as we consume it), and what we may
//! still send it.

use super::super::frame::MAX_WINDOW;

/// A receive window: the bytes the peer may still send, and those consumed but
/// not yet given back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecvWindow {
    /// The window we want the peer to see when nothing is owed back.
    target: u32,
    /// What the peer may still send (its view of the window).
    available: u32,
    /// Consumed, not yet given back.
    owed: u32,
}

impl RecvWindow {
    /// A window of `target` of which the peer may send `available` now (more
    /// than `target` for a stream opened before the peer saw our SETTINGS).
    pub(crate) fn new(target: u32, available: u32) -> RecvWindow {
        RecvWindow {
            target,
            available,
            owed: 0,
        }
    }

    /// `n` bytes (a DATA frame's flow length) arrive: `false` if they are over
    /// the window (a FLOW_CONTROL_ERROR).
    pub(crate) fn receive(&mut self, n: u32) -> bool {
        match self.available.checked_sub(n) {
            Some(left) => {
                self.available = left;
                true
            }
            None => false,
        }
    }

    /// `n` received bytes were consumed: the increment to send in a
    /// WINDOW_UPDATE once what is owed back reaches half the target (so a
    /// stream of small frames does not get one WINDOW_UPDATE each), else `None`.
    pub(crate) fn release(&mut self, n: u32) -> Option<u32> {
        self.owed = self.owed.saturating_add(n);
        self.pending()
    }

    /// What to give back now: everything owed, once that is at least half
    /// the target.
    fn pending(&mut self) -> Option<u32> {
        if self.owed == 0 || self.owed < self.target / 2 {
            return None;
        }
        let give = self.owed.min(MAX_WINDOW - self.available);
        self.available += give;
        self.owed = 0;
        (give > 0).then_some(give)
    }
}

/// A send window: what we may still send. It may go negative when the peer
/// lowers SETTINGS_INITIAL_WINDOW_SIZE (RFC 9113 section 6.9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SendWindow(i64);

/// A window past 2^31-1 (a FLOW_CONTROL_ERROR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

impl SendWindow {
    /// A window of `size`.
    pub(crate) fn new(size: u32) -> SendWindow {
        SendWindow(i64::from(size))
    }

    /// The bytes we may send now.
    pub(crate) fn available(&self) -> usize {
        usize::try_from(self.0.max(0)).unwrap_or(usize::MAX)
    }

    /// `n` bytes were sent.
    pub(crate) fn consume(&mut self, n: usize) {
        self.0 -= n as i64;
    }

    /// A WINDOW_UPDATE's increment, or a SETTINGS_INITIAL_WINDOW_SIZE change
    /// (`delta` may be negative): the error if the window goes past 2^31-1.
    pub(crate) fn adjust(&mut self, delta: i64) -> Result<(), Overflow> {
        let next = self.0 + delta;
        if next > i64::from(MAX_WINDOW) {
            return Err(Overflow);
        }
        self.0 = next;
        Ok(())
    }
}
