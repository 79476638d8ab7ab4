//! The config's TLS setters (`Config::tls_*`): they fill in the [`TlsOptions`]
//! that start gives the TLS builder.

use std::path::PathBuf;

use super::Config;
use crate::tls::{BadCert, TlsCert, TlsFault, TlsOptions};

impl Config {
    fn tls_options(&mut self) -> &mut TlsOptions {
        self.tls.get_or_insert(TlsOptions {
            cert: TlsCert::Auto,
            bad_cert: None,
            ca_out: None,
            client_ca: None,
            fault: None,
        })
    }

    /// Speak TLS with this certificate chain and private key (PEM files), for
    /// every protocol. The files are read at start (a bad one is a
    /// `StartError::Tls` naming it).
    pub fn tls_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls_options().cert = TlsCert::Files {
            cert: cert.into(),
            key: key.into(),
        };
        self
    }

    /// Speak TLS with a throwaway CA and a leaf for `localhost`, `127.0.0.1` and
    /// `::1` made at start (ECDSA P-256); `Server::tls_ca_pem` gives the CA.
    pub fn tls_auto(mut self) -> Self {
        self.tls_options().cert = TlsCert::Auto;
        self
    }

    /// With `tls_auto`: also write the CA (PEM) to this file at start, for
    /// clients to trust.
    pub fn tls_auto_ca_out(mut self, path: impl Into<PathBuf>) -> Self {
        let o = self.tls_options();
        o.cert = TlsCert::Auto;
        o.ca_out = Some(path.into());
        self
    }

    /// With `tls_auto`: a leaf certificate that misbehaves on purpose (expired, not
    /// yet valid, for the wrong host, self-signed, or from a CA that is not the
    /// exported one), for testing how clients refuse it.
    pub fn tls_bad_cert(mut self, bad: BadCert) -> Self {
        self.tls_options().bad_cert = Some(bad);
        self
    }

    /// Require client certificates signed by this CA (PEM file): mutual TLS.
    pub fn tls_client_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_options().client_ca = Some(path.into());
        self
    }

    /// A handshake that misbehaves on purpose (stall, reset, garbage, no
    /// close_notify), for testing clients' failure paths.
    pub fn tls_fault(mut self, fault: TlsFault) -> Self {
        self.tls_options().fault = Some(fault);
        self
    }

    /// Session resumption (default on, as with nginx and OpenSSL): each handshake
    /// ends with session tickets (stateless, two in TLS 1.3) that let a client
    /// resume with a short handshake. Off: no tickets, every connection makes a
    /// full handshake. It applies once TLS is on (it does not turn TLS on).
    pub fn tls_resumption(mut self, on: bool) -> Self {
        self.tls_resumption = on;
        self
    }
}
