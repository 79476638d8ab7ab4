//! Errors returned by the public API, all in one place: a rejected config value
//! ([`ConfigError`], why: [`ConfigProblem`]), a failed start ([`StartError`]) and
//! TLS that could not be set up ([`TlsError`]). The modules that raise them import
//! them from here; this module imports none of them.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    Tls(#[from] TlsError),
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

/// Why a config value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigProblem {
    /// A number below its minimum.
    #[error("must be at least {min}, got {got}")]
    TooSmall {
        /// Smallest accepted value.
        min: u64,
        /// The value given.
        got: u64,
    },
    /// A number above its maximum.
    #[error("must be at most {max}, got {got}")]
    TooLarge {
        /// Largest accepted value.
        max: u64,
        /// The value given.
        got: u64,
    },
    /// A duration that must not be zero.
    #[error("must be longer than zero")]
    ZeroDuration,
    /// An address that does not parse or resolve.
    #[error("`{got}` is not a usable socket address: {reason}")]
    BadAddress {
        /// The text given.
        got: String,
        /// What parsing or resolving said.
        reason: String,
    },
    /// Text that does not have the required form.
    #[error("`{got}` is not {expected}")]
    Malformed {
        /// The text given.
        got: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A value that does not go with the rest of the config.
    #[error("needs {needs}")]
    Requires {
        /// What it needs.
        needs: &'static str,
    },
    /// A name that is not one of the accepted ones.
    #[error("`{got}` is not one of: {expected}")]
    UnknownName {
        /// The text given.
        got: String,
        /// The accepted names.
        expected: &'static str,
    },
}

/// A rejected config value: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid config field `{field}`: {problem}")]
pub struct ConfigError {
    /// The name of the field (as in the builder method and the CLI flag).
    pub field: &'static str,
    /// What is wrong with its value.
    pub problem: ConfigProblem,
}

/// Why TLS could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read, or holds nothing usable.
    #[error("tls: `{field}` {path}: {problem}")]
    File {
        /// `tls_cert`, `tls_key` or `tls_client_ca`.
        field: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The generated CA could not be written where `tls_auto_ca_out` says.
    #[error("tls: cannot write the CA to {0}: {1}")]
    WriteCa(PathBuf, std::io::Error),
    /// Certificate generation failed.
    #[error("tls: cannot generate certificates: {0}")]
    Generate(String),
    /// rustls refused the certificate, key or settings.
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
}
