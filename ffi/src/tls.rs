//! TLS from C: certificate files or a generated throwaway CA, misbehaving
//! certificates and handshakes, client-certificate checks, session resumption,
//! and the CA's PEM.

use pierhead::{BadCert, TlsFault};

use crate::boundary::c_str;
use crate::config::{edit, pierhead_config, set_text};
use crate::enums::CEnum;
use crate::result::{pierhead_result, set_last_error};
use crate::server::{copy_server_text, pierhead_server};

/// A leaf certificate that misbehaves on purpose (`pierhead_config_set_tls_bad_cert`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_tls_bad_cert {
    /// Valid until yesterday.
    PIERHEAD_TLS_EXPIRED = 1,
    /// Valid from tomorrow.
    PIERHEAD_TLS_NOT_YET_VALID = 2,
    /// For `wrong-host.invalid`, not for localhost or the loopback addresses.
    PIERHEAD_TLS_WRONG_HOST = 3,
    /// Signed by its own key, not by the CA.
    PIERHEAD_TLS_SELF_SIGNED = 4,
    /// Signed by a CA that is not the exported one.
    PIERHEAD_TLS_UNTRUSTED_CA = 5,
}

c_enum!(pierhead_tls_bad_cert {
    PIERHEAD_TLS_EXPIRED,
    PIERHEAD_TLS_NOT_YET_VALID,
    PIERHEAD_TLS_WRONG_HOST,
    PIERHEAD_TLS_SELF_SIGNED,
    PIERHEAD_TLS_UNTRUSTED_CA,
});

impl From<pierhead_tls_bad_cert> for BadCert {
    fn from(b: pierhead_tls_bad_cert) -> BadCert {
        match b {
            pierhead_tls_bad_cert::PIERHEAD_TLS_EXPIRED => BadCert::Expired,
            pierhead_tls_bad_cert::PIERHEAD_TLS_NOT_YET_VALID => BadCert::NotYetValid,
            pierhead_tls_bad_cert::PIERHEAD_TLS_WRONG_HOST => BadCert::WrongHost,
            pierhead_tls_bad_cert::PIERHEAD_TLS_SELF_SIGNED => BadCert::SelfSigned,
            pierhead_tls_bad_cert::PIERHEAD_TLS_UNTRUSTED_CA => BadCert::UntrustedCa,
        }
    }
}

/// A handshake that misbehaves on purpose (`pierhead_config_set_tls_fault`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_tls_fault {
    /// Never answer the ClientHello (until the header timeout closes the connection).
    PIERHEAD_TLS_STALL_HANDSHAKE = 1,
    /// Read the ClientHello, then reset the connection (RST).
    PIERHEAD_TLS_RESET_HANDSHAKE = 2,
    /// Serve, but close without close_notify (a truncated stream).
    PIERHEAD_TLS_NO_CLOSE_NOTIFY = 3,
    /// Answer the ClientHello with bytes that are not TLS, then close.
    PIERHEAD_TLS_GARBAGE_HELLO = 4,
}

c_enum!(pierhead_tls_fault {
    PIERHEAD_TLS_STALL_HANDSHAKE,
    PIERHEAD_TLS_RESET_HANDSHAKE,
    PIERHEAD_TLS_NO_CLOSE_NOTIFY,
    PIERHEAD_TLS_GARBAGE_HELLO,
});

impl From<pierhead_tls_fault> for TlsFault {
    fn from(f: pierhead_tls_fault) -> TlsFault {
        match f {
            pierhead_tls_fault::PIERHEAD_TLS_STALL_HANDSHAKE => TlsFault::StallHandshake,
            pierhead_tls_fault::PIERHEAD_TLS_RESET_HANDSHAKE => TlsFault::ResetHandshake,
            pierhead_tls_fault::PIERHEAD_TLS_NO_CLOSE_NOTIFY => TlsFault::NoCloseNotify,
            pierhead_tls_fault::PIERHEAD_TLS_GARBAGE_HELLO => TlsFault::GarbageHello,
        }
    }
}

/// Speak TLS with a certificate chain and its private key (PEM files, read at
/// `pierhead_server_start`, which names a bad one: field `tls_cert` or `tls_key`).
///
/// # Safety
/// `config` NULL or live; `cert` and `key` NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_tls_files(
    config: *mut pierhead_config,
    cert: *const libc::c_char,
    key: *const libc::c_char,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        edit(config, |c| {
            // SAFETY: forwarded from the caller.
            let (cert, key) = (c_str(cert, "cert")?, c_str(key, "key")?);
            Ok(c.tls_files(cert, key))
        })
    }
}

/// Speak TLS with a throwaway CA and a certificate for localhost, 127.0.0.1 and
/// ::1 made at start; `ca_out` (may be NULL) is a file the CA is written to, and
/// `pierhead_server_tls_ca_pem` gives it too.
///
/// # Safety
/// `config` NULL or live; `ca_out` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_tls_auto(
    config: *mut pierhead_config,
    ca_out: *const libc::c_char,
) -> pierhead_result {
    if ca_out.is_null() {
        // SAFETY: forwarded from the caller.
        return unsafe { edit(config, |c| Ok(c.tls_auto())) };
    }
    // SAFETY: forwarded from the caller.
    unsafe { set_text(config, ca_out, "ca_out", |c, v| c.tls_auto_ca_out(v)) }
}

/// With generated certificates: a leaf that misbehaves on purpose. `bad` is a
/// `pierhead_tls_bad_cert` value (any other is `PIERHEAD_RESULT_INVALID_PARAMETER`,
/// the config unchanged).
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_tls_bad_cert(
    config: *mut pierhead_config,
    bad: i32,
) -> pierhead_result {
    let apply = |c: pierhead::Config| {
        Ok(c.tls_bad_cert(pierhead_tls_bad_cert::from_arg(bad, "bad")?.into()))
    };
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, apply) }
}

/// Require client certificates signed by the CA in this PEM file (mutual TLS).
///
/// # Safety
/// `config` NULL or live; `ca` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_tls_client_ca(
    config: *mut pierhead_config,
    ca: *const libc::c_char,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { set_text(config, ca, "ca", |c, v| c.tls_client_ca(v)) }
}

/// A handshake that misbehaves on purpose. `fault` is a `pierhead_tls_fault`
/// value (any other is `PIERHEAD_RESULT_INVALID_PARAMETER`, the config unchanged).
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_tls_fault(
    config: *mut pierhead_config,
    fault: i32,
) -> pierhead_result {
    let apply =
        |c: pierhead::Config| Ok(c.tls_fault(pierhead_tls_fault::from_arg(fault, "fault")?.into()));
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, apply) }
}

/// Session resumption (`on`, the default, as with nginx and OpenSSL): each
/// handshake ends with session tickets that let a client resume with a short
/// handshake. `false`: no tickets, every connection makes a full handshake.
///
/// # Safety
/// `config` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_tls_resumption(
    config: *mut pierhead_config,
    on: bool,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.tls_resumption(on))) }
}

/// Copies the PEM of the CA that signed the generated certificate into `buf`
/// (NUL-terminated), its length into `*out_len` (if not NULL), for a client to
/// trust (e.g. OpenSSL's `PEM_read_bio_X509` on a memory BIO). A 4096-byte buffer
/// always fits it. `PIERHEAD_RESULT_INVALID_PARAMETER` when the server has no
/// generated CA; `PIERHEAD_RESULT_BUFFER_TOO_SMALL` (writing nothing) if it does
/// not fit.
///
/// # Safety
/// `server` NULL or live; `buf` valid for `len` bytes; `out_len` NULL or valid
/// for one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_tls_ca_pem(
    server: *const pierhead_server,
    buf: *mut libc::c_char,
    len: usize,
    out_len: *mut usize,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        copy_server_text(server, buf, len, out_len, |s| {
            let Some(pem) = s.tls_ca_pem() else {
                set_last_error(
                    "the server has no generated CA (pierhead_config_set_tls_auto)".to_owned(),
                );
                return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
            };
            Ok(pem.into())
        })
    }
}
