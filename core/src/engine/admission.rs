//! Admitting connections: accepting in batches (with back-off when the process
//! is out of descriptors), the connect fault in force (refuse, hold, close,
//! delay: [`crate::faults::connect`]), the `max_connections` refusal, and the new
//! connection's registration, TLS and session.

use std::net::Shutdown;
use std::sync::atomic::Ordering;

use mio::net::TcpStream;
use mio::Interest;

use super::accept::{self, AcceptErrorKind, ACCEPT_BATCH};
use super::connection::Connection;
use super::token::{ConnToken, LISTENER};
use super::worker::{arm_timer, Worker};
use crate::faults::ConnectFault;
use crate::service::Service;
use crate::tls::session::TlsSession;

impl<S: Service> Worker<S> {
    pub(super) fn accept_batch(&mut self) {
        self.accept_more = false;
        // A stop requested while this batch of events was collected: accept nothing more.
        if self.backoff.paused_until().is_some()
            || self.driver.shared.stop_requested()
            || matches!(
                self.gate.fault,
                Some(ConnectFault::Hold | ConnectFault::Refuse)
            )
        {
            return;
        }
        for _ in 0..ACCEPT_BATCH {
            let Some(listener) = &self.listener else {
                return;
            };
            match listener.accept() {
                Ok((stream, _peer)) => {
                    self.backoff.reset();
                    if self.gate.fault.is_none() {
                        self.admit(stream);
                    } else {
                        self.admit_faulted(stream);
                    }
                }
                Err(e) => match accept::classify(&e) {
                    AcceptErrorKind::Drained => return,
                    AcceptErrorKind::Skip => continue,
                    AcceptErrorKind::Exhausted | AcceptErrorKind::Other => {
                        self.driver.counters().accept_errors.incr();
                        self.backoff.pause(self.driver.now);
                        return;
                    }
                },
            }
        }
        // The batch is full: more may be queued, and no new edge will announce them.
        self.accept_more = true;
    }

    pub(super) fn admit(&mut self, mut stream: TcpStream) {
        let shared = &self.driver.shared;
        if shared.active.fetch_add(1, Ordering::AcqRel) >= shared.config.max_connections {
            shared.active.fetch_sub(1, Ordering::AcqRel);
            self.driver.counters().connections_refused.incr();
            // (Over TLS the refusal would need a handshake first: the close is it.)
            if let (Some(refusal), None) = (S::REFUSAL, &shared.tls) {
                use std::io::Write;
                // Best effort: a fresh socket's send buffer is empty, so this fits.
                if let Ok(n) = stream.write(refusal) {
                    self.driver.counters().bytes_written.add(n as u64);
                }
                let _ = stream.shutdown(Shutdown::Write);
            }
            return;
        }
        #[cfg(feature = "tiny-buffers")]
        if self.closed_this_turn > 0 {
            crate::test_hooks::SAME_TURN_REUSES.fetch_add(1, Ordering::Relaxed);
        }
        // Latency matters more than packet count for a request/response server.
        let _ = stream.set_nodelay(true);
        let entry = self.conns.vacant_entry();
        let token = ConnToken {
            index: entry.key() as u32,
            generation: self.next_generation,
        };
        self.next_generation = ConnToken::next_generation(self.next_generation);
        if self
            .driver
            .poll
            .registry()
            .register(&mut stream, token.to_token(), Interest::READABLE)
            .is_err()
        {
            self.driver.shared.active.fetch_sub(1, Ordering::AcqRel);
            self.driver.counters().accept_errors.incr();
            return;
        }
        let tls = match &self.driver.shared.tls {
            None => None,
            Some(t) => match TlsSession::new(&t.config, t.fault, t.http) {
                Ok(s) => Some(Box::new(s)),
                Err(_) => {
                    self.driver.shared.active.fetch_sub(1, Ordering::AcqRel);
                    self.driver.counters().accept_errors.incr();
                    return;
                }
            },
        };
        let session = self.service.open();
        let conn = entry.insert(Connection::new(stream, token, session, self.driver.now));
        if tls.is_some() {
            // The handshake runs against the header timeout, as a request would.
            conn.started = Some(self.driver.now);
            conn.tls = tls;
        }
        self.driver.counters().connections_accepted.incr();
        arm_timer::<S>(&mut self.timers, conn, &self.driver.timeouts);
    }
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
