//! Connect-phase faults: what happens to a new connection before any byte of it is
//! read, switched while the server runs ([`Server::set_connect_fault`]).
//!
//! | fault | what a client sees |
//! |---|---|
//! | [`ConnectFault::Refuse`] | `connect()` fails: connection refused (the kernel answers the SYN with RST) |
//! | [`ConnectFault::Hold`] | `connect()` succeeds (the kernel's accept queue), nothing is ever read or answered: a read timeout |
//! | [`ConnectFault::Close`] | accepted and closed at once: end of file (or a reset if it had sent data) |
//! | [`ConnectFault::Delay`] | served normally, but only after the delay |
//!
//! Refusing needs the port not to be listening: the workers' shared listening
//! socket is shut down (which also resets connections waiting in its queue), and
//! going back to normal binds the same address again. That rebind fails only if
//! someone else took the port meanwhile; the error says so and the server keeps
//! refusing.
//!
//! The switch is synchronous: when `set_connect_fault` returns, every worker has
//! applied it. The accept path pays nothing for it: workers check for a change only
//! when woken, and keep the current fault in their own state.
//!
//! [`Server::set_connect_fault`]: crate::Server::set_connect_fault

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mio::net::TcpListener;

/// A misbehaviour of the accept phase (each variant says what a client sees), set
/// with [`Server::set_connect_fault`](crate::Server::set_connect_fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFault {
    /// Refuse new connections (RST): `connect()` fails with "connection refused".
    Refuse,
    /// Leave new connections in the kernel's accept queue, never served. Up to the
    /// listen backlog of them complete their handshake; later ones time out
    /// connecting.
    Hold,
    /// Accept each new connection and close it at once.
    Close,
    /// Accept each new connection, then wait this long before serving it.
    Delay(Duration),
}

/// Why a connect fault could not be switched.
#[derive(Debug, thiserror::Error)]
pub enum ConnectFaultError {
    /// The server is not running (stopping or stopped).
    #[error("the server is not running")]
    NotRunning,
    /// Ending [`ConnectFault::Refuse`] needs the address bound again, and that failed
    /// (another socket took the port meanwhile); the server goes on refusing.
    #[error("cannot listen on {addr} again: {source}")]
    Rebind {
        /// The server's address.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
}

/// How long `set_connect_fault` waits for the workers to apply a change.
const APPLY_WAIT: Duration = Duration::from_secs(2);

/// The connect fault of a server, shared by the caller's thread and the workers.
pub(crate) struct ConnectGate {
    version: AtomicU64,
    state: Mutex<GateState>,
    /// The version each worker applied last (`u64::MAX` once it exited).
    applied: Mutex<Vec<u64>>,
    applied_cv: Condvar,
}

struct GateState {
    fault: Option<ConnectFault>,
    /// New listeners for the workers, after a refusal ended.
    listeners: Vec<Option<TcpListener>>,
}

/// What a worker takes when it sees a new version.
pub(crate) struct GateChange {
    pub(crate) version: u64,
    pub(crate) fault: Option<ConnectFault>,
    /// Its new listener, when a refusal ended.
    pub(crate) listener: Option<TcpListener>,
}

impl ConnectGate {
    pub(crate) fn new(workers: usize) -> ConnectGate {
        ConnectGate {
            version: AtomicU64::new(0),
            state: Mutex::new(GateState {
                fault: None,
                listeners: (0..workers).map(|_| None).collect(),
            }),
            applied: Mutex::new(vec![0; workers]),
            applied_cv: Condvar::new(),
        }
    }

    /// The version of the current setting (one atomic load).
    #[inline]
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The current fault.
    pub(crate) fn fault(&self) -> Option<ConnectFault> {
        self.lock().fault
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the fault. `rebind` makes one listener per worker when a refusal ends.
    /// Returns the new version for [`ConnectGate::wait_applied`].
    pub(crate) fn set(
        &self,
        fault: Option<ConnectFault>,
        rebind: impl FnOnce() -> Result<Vec<TcpListener>, ConnectFaultError>,
    ) -> Result<u64, ConnectFaultError> {
        let mut state = self.lock();
        if state.fault == Some(ConnectFault::Refuse) && fault != Some(ConnectFault::Refuse) {
            let fresh = rebind()?;
            for (slot, l) in state.listeners.iter_mut().zip(fresh) {
                *slot = Some(l);
            }
        }
        state.fault = fault;
        Ok(self.version.fetch_add(1, Ordering::AcqRel) + 1)
    }

    /// What worker `index` must apply, if the setting changed since `seen`.
    pub(crate) fn change(&self, index: usize, seen: u64) -> Option<GateChange> {
        if self.version() == seen {
            return None;
        }
        let mut state = self.lock();
        Some(GateChange {
            version: self.version(),
            fault: state.fault,
            listener: state.listeners.get_mut(index).and_then(Option::take),
        })
    }

    /// Worker `index` applied `version` (`u64::MAX`: it exited).
    pub(crate) fn applied(&self, index: usize, version: u64) {
        let mut applied = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = applied.get_mut(index) {
            *v = version;
        }
        self.applied_cv.notify_all();
    }

    /// Waits (bounded) until every worker applied `version`.
    pub(crate) fn wait_applied(&self, version: u64) {
        let end = Instant::now() + APPLY_WAIT;
        let mut applied = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
        while applied.iter().any(|&v| v < version) {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            applied = self
                .applied_cv
                .wait_timeout(applied, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}
