//! The worker's side of connect-phase faults ([`crate::faults::connect`]): applying a
//! change when woken, and what happens to a connection just accepted while a fault
//! is on (closed at once, or parked until its delay is over).

use std::collections::VecDeque;
use std::net::Shutdown;
use std::time::Instant;

use mio::net::TcpStream;
use mio::Interest;

use super::{Worker, LISTENER};
use crate::faults::ConnectFault;
use crate::service::Service;

/// This worker's copy of the connect fault, and the connections it parked.
#[derive(Default)]
pub(super) struct LocalGate {
    version: u64,
    /// Read on every accept batch: a plain field, no atomic.
    pub(super) fault: Option<ConnectFault>,
    /// Accepted under [`ConnectFault::Delay`], served from the given instant.
    parked: VecDeque<(Instant, TcpStream)>,
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

impl<S: Service> Worker<S> {
    /// Applies a changed connect fault, if there is one (called when woken).
    pub(super) fn apply_gate(&mut self) {
        let shared = &self.driver.shared;
        let Some(change) = shared.gate.change(self.driver.index, self.gate.version) else {
            return;
        };
        self.gate.version = change.version;
        self.gate.fault = change.fault;
        if change.fault == Some(ConnectFault::Refuse) {
            if let Some(mut listener) = self.listener.take() {
                // Shuts the socket every worker's duplicate shares: SYNs get RST and
                // connections waiting in the queue are reset.
                let _ = socket2::SockRef::from(&listener).shutdown(Shutdown::Read);
                let _ = self.driver.poll.registry().deregister(&mut listener);
            }
            self.gate.parked.clear();
        } else {
            if let Some(mut listener) = change.listener {
                if !self.driver.stopping
                    && self
                        .driver
                        .poll
                        .registry()
                        .register(&mut listener, LISTENER, Interest::READABLE)
                        .is_ok()
                {
                    self.listener = Some(listener);
                }
            }
            if change.fault != Some(ConnectFault::Hold) {
                // Connections held in the queue announce themselves with no new edge.
                self.accept_more = true;
            }
            if change.fault.is_none() {
                for (_, stream) in std::mem::take(&mut self.gate.parked) {
                    self.admit(stream);
                }
            }
        }
        self.driver
            .shared
            .gate
            .applied(self.driver.index, change.version);
    }

    /// A connection accepted while a fault is on.
    #[cold]
    pub(super) fn admit_faulted(&mut self, stream: TcpStream) {
        match self.gate.fault {
            None => self.admit(stream),
            Some(ConnectFault::Delay(d)) => {
                self.gate.parked.push_back((self.driver.now + d, stream))
            }
            // Close: dropping it closes it. (Refuse and Hold accept nothing.)
            Some(_) => drop(stream),
        }
    }

    /// Serves the parked connections whose delay is over.
    pub(super) fn admit_parked(&mut self) {
        while let Some((due, _)) = self.gate.parked.front() {
            if *due > self.driver.now {
                return;
            }
            if let Some((_, stream)) = self.gate.parked.pop_front() {
                self.admit(stream);
            }
        }
    }
}
