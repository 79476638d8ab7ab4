//! TLS for every protocol (rustls with the ring provider), on the engine's own
//! connections: no second event loop. The worker feeds a connection's ciphertext
//! to its `rustls::ServerConnection` as its edge-triggered reads bring it, and the
//! output queue's plaintext goes through the same connection on its way to the
//! socket ([`session`]); timeouts, limits, stop and stats are those of plain TCP.
//!
//! Certificates come from PEM files, or are made at start ([`certs`]): a
//! throwaway CA and a leaf for `localhost`, `127.0.0.1` and `::1`, the CA exported
//! for clients to trust. A leaf can misbehave on purpose ([`BadCert`]) and the
//! handshake too ([`TlsFault`]), to test clients' failure paths. Client
//! certificates can be required and checked against a CA (mTLS). ALPN offers
//! `http/1.1` for HTTP. Sessions resume as with nginx or OpenSSL: stateless
//! tickets (TLS 1.3 and 1.2), sealed with a key made at start; with resumption off
//! (`Config::tls_resumption`) none is sent and every connection does a full
//! handshake.

pub(crate) mod certs;
pub(crate) mod session;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Protocol;

pub use certs::LEAF_NAMES;

/// Where the server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsCert {
    /// A certificate chain and its private key, PEM files.
    Files {
        /// The chain, leaf first.
        cert: PathBuf,
        /// The private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// A throwaway CA and a leaf it signs, made at start; the CA is exported
    /// (`Server::tls_ca_pem`, and the file given to `Config::tls_auto_ca_out`).
    Auto,
}

/// A leaf certificate that misbehaves on purpose (with [`TlsCert::Auto`]): clients
/// that trust the exported CA must refuse it, each for its own reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BadCert {
    /// Valid until yesterday.
    Expired,
    /// Valid from tomorrow.
    NotYetValid,
    /// For `wrong-host.invalid`, not for localhost or the loopback addresses.
    WrongHost,
    /// Signed by its own key, not by the CA.
    SelfSigned,
    /// Signed by a CA that is not the exported one.
    UntrustedCa,
}

impl BadCert {
    /// The name used on the command line and in bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            BadCert::Expired => "expired",
            BadCert::NotYetValid => "not_yet_valid",
            BadCert::WrongHost => "wrong_host",
            BadCert::SelfSigned => "self_signed",
            BadCert::UntrustedCa => "untrusted_ca",
        }
    }
}

impl std::str::FromStr for BadCert {
    type Err = crate::ConfigError;
    fn from_str(s: &str) -> Result<Self, crate::ConfigError> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "expired" => Ok(BadCert::Expired),
            "not_yet_valid" => Ok(BadCert::NotYetValid),
            "wrong_host" => Ok(BadCert::WrongHost),
            "self_signed" => Ok(BadCert::SelfSigned),
            "untrusted_ca" => Ok(BadCert::UntrustedCa),
            _ => Err(crate::ConfigError {
                field: "tls_bad_cert",
                problem: crate::ConfigProblem::UnknownName {
                    got: s.to_owned(),
                    expected: "expired, not_yet_valid, wrong_host, self_signed, untrusted_ca",
                },
            }),
        }
    }
}

/// A handshake that misbehaves on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsFault {
    /// Accept the connection and never answer the ClientHello (until the header
    /// timeout closes it): the client's handshake times out.
    StallHandshake,
    /// Read the ClientHello, then reset the connection (RST).
    ResetHandshake,
    /// Complete handshakes and serve, but close without `close_notify`: a client
    /// reading to the end sees a truncated stream.
    NoCloseNotify,
    /// Answer the ClientHello with bytes that are not TLS, then close.
    GarbageHello,
}

impl TlsFault {
    /// The name used on the command line and in bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsFault::StallHandshake => "stall_handshake",
            TlsFault::ResetHandshake => "reset_handshake",
            TlsFault::NoCloseNotify => "no_close_notify",
            TlsFault::GarbageHello => "garbage_hello",
        }
    }
}

impl std::str::FromStr for TlsFault {
    type Err = crate::ConfigError;
    fn from_str(s: &str) -> Result<Self, crate::ConfigError> {
        match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "stall_handshake" => Ok(TlsFault::StallHandshake),
            "reset_handshake" => Ok(TlsFault::ResetHandshake),
            "no_close_notify" => Ok(TlsFault::NoCloseNotify),
            "garbage_hello" => Ok(TlsFault::GarbageHello),
            _ => Err(crate::ConfigError {
                field: "tls_fault",
                problem: crate::ConfigProblem::UnknownName {
                    got: s.to_owned(),
                    expected: "stall_handshake, reset_handshake, no_close_notify, garbage_hello",
                },
            }),
        }
    }
}

/// A server's TLS settings (`Config::tls_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    pub(crate) cert: TlsCert,
    pub(crate) bad_cert: Option<BadCert>,
    pub(crate) ca_out: Option<PathBuf>,
    pub(crate) client_ca: Option<PathBuf>,
    pub(crate) fault: Option<TlsFault>,
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

/// A server's TLS, ready for connections.
pub(crate) struct Tls {
    pub(crate) config: Arc<ServerConfig>,
    /// The CA clients should trust (generated certificates only).
    pub(crate) ca_pem: Option<String>,
    pub(crate) fault: Option<TlsFault>,
    /// The protocol is HTTP (a plain HTTP request gets a plain 400).
    pub(crate) http: bool,
}

fn file_error(field: &'static str, path: &Path, problem: impl ToString) -> TlsError {
    TlsError::File {
        field,
        path: path.to_owned(),
        problem: problem.to_string(),
    }
}

fn read_certs(field: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(field, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(field, path, e))?;
    if certs.is_empty() {
        return Err(file_error(field, path, "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

impl Tls {
    /// Loads or makes the certificates and builds the rustls config; with
    /// `resumption`, handshakes end with session tickets.
    pub(crate) fn build(
        o: &TlsOptions,
        protocol: Protocol,
        resumption: bool,
    ) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (chain, key, ca_pem) = match &o.cert {
            TlsCert::Files { cert, key } => {
                let chain = read_certs("tls_cert", cert)?;
                let key =
                    PrivateKeyDer::from_pem_file(key).map_err(|e| file_error("tls_key", key, e))?;
                (chain, key, None)
            }
            TlsCert::Auto => {
                let g =
                    certs::generate(o.bad_cert).map_err(|e| TlsError::Generate(e.to_string()))?;
                if let Some(path) = &o.ca_out {
                    std::fs::write(path, &g.ca_pem)
                        .map_err(|e| TlsError::WriteCa(path.clone(), e))?;
                }
                (g.chain, g.key, Some(g.ca_pem))
            }
        };
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = match &o.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for c in read_certs("tls_client_ca", path)? {
                    roots
                        .add(c)
                        .map_err(|e| file_error("tls_client_ca", path, e))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| file_error("tls_client_ca", path, e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key)?;
        if protocol == Protocol::Http {
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
        }
        // No session cache either way: a resumed session travels in its ticket.
        config.session_storage = Arc::new(NoServerSessionStorage {});
        if resumption {
            // Two TLS 1.3 tickets per handshake (rustls' default, as OpenSSL's), and a
            // TLS 1.2 ticket to a client that asks for one; the key rotates every 6 h.
            config.ticketer = rustls::crypto::ring::Ticketer::new()?;
        } else {
            config.send_tls13_tickets = 0;
        }
        Ok(Tls {
            config: Arc::new(config),
            ca_pem,
            fault: o.fault,
            http: protocol == Protocol::Http,
        })
    }
}
