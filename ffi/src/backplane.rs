//! The Redis backplane from C: the config setter and the link's last error.
//!
//! Its state and counters are in `pierhead_stats` (the `backplane_*` fields).

use crate::config::{pierhead_config, set_text};
use crate::result::pierhead_result;
use crate::server::{copy_server_text, pierhead_server};

/// Shares the server's rooms with every server using the same Redis (frame
/// protocol): `url` is `redis://[[user]:password@]host[:port][/db]` (NUL-terminated).
/// It is checked by `pierhead_server_start` (field `backplane`), which does not
/// wait for the broker: an unreachable one is retried, and `pierhead_stats` says
/// how the link stands.
///
/// # Safety
/// `config` must be NULL or a live config; `url` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_backplane(
    config: *mut pierhead_config,
    url: *const libc::c_char,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { set_text(config, url, "url", |c, v| c.backplane(v)) }
}

/// Copies the last error of the server's backplane link (connect, authentication,
/// protocol; e.g. "cannot connect to 127.0.0.1:6379: Connection refused (os error
/// 111)") into `buf` as a NUL-terminated string, its length into `*out_len` (if
/// not NULL); an empty string when there was none or no backplane is configured.
/// `PIERHEAD_RESULT_BUFFER_TOO_SMALL` (writing nothing) if it does not fit. Any
/// thread.
///
/// # Safety
/// `server` NULL or live; `buf` valid for `len` bytes; `out_len` NULL or valid for
/// one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_backplane_error(
    server: *const pierhead_server,
    buf: *mut libc::c_char,
    len: usize,
    out_len: *mut usize,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        copy_server_text(server, buf, len, out_len, |s| {
            let error = s.stats().backplane.and_then(|b| b.last_error);
            Ok(error.unwrap_or_default().into())
        })
    }
}
