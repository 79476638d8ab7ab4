//! A server's TLS settings as the config holds them: where the certificate comes
//! from ([`TlsCert`]), a leaf that misbehaves on purpose ([`BadCert`]), a handshake
//! that does ([`TlsFault`]), and all of them together ([`TlsOptions`]), with the
//! names the command line and the bindings use for them.

use std::path::PathBuf;

use crate::error::ConfigError;
use crate::syntax::parse_name;

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
    /// Every kind, in the order their names are listed.
    const ALL: [BadCert; 5] = [
        BadCert::Expired,
        BadCert::NotYetValid,
        BadCert::WrongHost,
        BadCert::SelfSigned,
        BadCert::UntrustedCa,
    ];

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
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        parse_name(
            "tls_bad_cert",
            s,
            &Self::ALL,
            Self::as_str,
            "expired, not_yet_valid, wrong_host, self_signed, untrusted_ca",
        )
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
    /// Every fault, in the order their names are listed.
    const ALL: [TlsFault; 4] = [
        TlsFault::StallHandshake,
        TlsFault::ResetHandshake,
        TlsFault::NoCloseNotify,
        TlsFault::GarbageHello,
    ];

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
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        parse_name(
            "tls_fault",
            s,
            &Self::ALL,
            Self::as_str,
            "stall_handshake, reset_handshake, no_close_notify, garbage_hello",
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::check_names;

    #[test]
    fn names_round_trip_and_are_listed() {
        check_names("tls_bad_cert", &BadCert::ALL, BadCert::as_str);
        check_names("tls_fault", &TlsFault::ALL, TlsFault::as_str);
    }
}
