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
//! what the caller names (`http/1.1` for HTTP). The settings are in [`options`].
//! Sessions resume as with nginx or OpenSSL: stateless
//! tickets (TLS 1.3 and 1.2), sealed with a key made at start; with resumption off
//! (`Config::tls_resumption`) none is sent and every connection does a full
//! handshake.

pub(crate) mod certs;
pub(crate) mod options;
pub(crate) mod session;

use std::path::Path;
use std::sync::Arc;

use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::TlsError;

pub use certs::LEAF_NAMES;
pub(crate) use options::TlsOptions;
pub use options::{BadCert, TlsCert, TlsFault};

/// The ALPN name of HTTP/1.1, offered by a server that speaks HTTP.
pub(crate) const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A server's TLS, ready for connections.
pub(crate) struct Tls {
    pub(crate) config: Arc<ServerConfig>,
    /// The CA clients should trust (generated certificates only).
    pub(crate) ca_pem: Option<String>,
    pub(crate) fault: Option<TlsFault>,
    /// The server speaks HTTP (ALPN offers `http/1.1`): a plain HTTP request gets
    /// a plain 400.
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
    /// Loads or makes the certificates and builds the rustls config; ALPN offers
    /// `alpn` (protocol names, most preferred first; none: no ALPN), and with
    /// `resumption`, handshakes end with session tickets.
    pub(crate) fn build(o: &TlsOptions, alpn: &[&[u8]], resumption: bool) -> Result<Tls, TlsError> {
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
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
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
            http: alpn.contains(&ALPN_HTTP1),
        })
    }
}
