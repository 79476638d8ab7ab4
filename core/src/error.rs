//! Errors returned by the public API.

use std::io;
use std::net::SocketAddr;

pub use crate::config::{ConfigError, ConfigProblem};

/// Why `Server::start` failed. Nothing is left running when it does.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A config value was rejected.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listen socket could not be created, bound or put in listening state.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The operating system's error (e.g. address in use).
        source: io::Error,
    },
    /// An event loop (epoll instance, waker) could not be created.
    #[error("cannot create an event loop: {0}")]
    EventLoop(io::Error),
    /// A worker or stats thread could not be spawned.
    #[error("cannot spawn a thread: {0}")]
    Spawn(io::Error),
    /// TLS could not be set up (a certificate or key file, generation, rustls).
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

impl StartError {
    /// The OS error code underneath, if any (e.g. `EADDRINUSE`).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            StartError::Config(_) | StartError::Tls(_) => None,
            StartError::Bind { source, .. } => source.raw_os_error(),
            StartError::EventLoop(e) | StartError::Spawn(e) => e.raw_os_error(),
        }
    }
}
