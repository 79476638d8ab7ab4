//! The worker's copy of the connect-phase fault ([`crate::faults::connect`]) and
//! the connections it parked (applied in [`super::admission`]).

use std::collections::VecDeque;
use std::time::Instant;

use mio::net::TcpStream;

use crate::faults::ConnectFault;

/// This worker's copy of the connect fault, and the connections it parked.
#[derive(Default)]
pub(super) struct LocalGate {
    pub(super) version: u64,
    /// Read on every accept batch: a plain field, no atomic.
    pub(super) fault: Option<ConnectFault>,
    /// Accepted under [`ConnectFault::Delay`], served from the given instant.
    pub(super) parked: VecDeque<(Instant, TcpStream)>,
}

impl LocalGate {
    /// When the first parked connection is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.parked.front().map(|(t, _)| *t)
    }

    /// Drops the parked connections (stop).
    pub(super) fn clear(&mut self) {
        self.parked.clear();
    }
}
