//! Stats as Prometheus text from C: the endpoint's address (a config setter and
//! the bound port) and the text itself.

use crate::boundary::{guard_try, non_null};
use crate::config::{pierhead_config, set_text};
use crate::result::{pierhead_result, set_last_error};
use crate::server::{copy_server_text, pierhead_server, server_ref};

/// Serve the stats as Prometheus text at `http://ADDR/metrics` (`addr` is
/// `host:port`, NUL-terminated; port 0 picks a free one, see
/// `pierhead_server_metrics_port`). The endpoint has its own thread; a scrape never
/// runs on the I/O threads. Checked by `pierhead_server_start` (field `metrics`).
///
/// # Safety
/// `config` must be NULL or a live config; `addr` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_metrics(
    config: *mut pierhead_config,
    addr: *const libc::c_char,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { set_text(config, addr, "addr", |c, v| c.metrics(v)) }
}

/// The port the Prometheus endpoint listens on. `PIERHEAD_RESULT_INVALID_PARAMETER`
/// when the config did not turn it on.
///
/// # Safety
/// `server` NULL or live; `out` NULL or valid for one `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_metrics_port(
    server: *const pierhead_server,
    out: *mut u16,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        let out = non_null(out, "out")?;
        let Some(addr) = server.inner.metrics_addr() else {
            set_last_error("the metrics endpoint is off (pierhead_config_set_metrics)".to_owned());
            return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
        };
        // SAFETY: non-NULL and valid, as promised.
        unsafe { *out = addr.port() };
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}

/// The Prometheus text is never longer than this, NUL included: a buffer of this
/// size always fits it.
pub const PIERHEAD_METRICS_TEXT_MAX: usize = 16384;

/// Copies the stats as Prometheus text (what the endpoint serves, whether or not it
/// is on) into `buf` as a NUL-terminated string, its length into `*out_len` (if
/// not NULL). `PIERHEAD_RESULT_BUFFER_TOO_SMALL` (writing nothing) if it does not
/// fit; `PIERHEAD_METRICS_TEXT_MAX` bytes always do. Any thread.
///
/// # Safety
/// `server` NULL or live; `buf` valid for `len` bytes; `out_len` NULL or valid
/// for one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_metrics_text(
    server: *const pierhead_server,
    buf: *mut libc::c_char,
    len: usize,
    out_len: *mut usize,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        copy_server_text(server, buf, len, out_len, |s| {
            let text = s.prometheus();
            debug_assert!(text.len() < PIERHEAD_METRICS_TEXT_MAX);
            Ok(text.into())
        })
    }
}
