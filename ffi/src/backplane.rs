//! The Redis backplane from C: the config setter, the link's state, its last error.
//!
//! Its counters are in `pierhead_stats` (the `backplane_*` fields).

use pierhead::BackplaneState;

use crate::config::{pierhead_config, set_text};
use crate::result::pierhead_result;
use crate::server::{copy_server_text, pierhead_server};

/// Where a server's link to its Redis backplane stands (`pierhead_stats.backplane_state`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_backplane_state {
    /// No backplane is configured.
    PIERHEAD_BACKPLANE_NONE = 0,
    /// The first connection is being made.
    PIERHEAD_BACKPLANE_CONNECTING = 1,
    /// Connected: frames are published to and received from other servers.
    PIERHEAD_BACKPLANE_CONNECTED = 2,
    /// Unreachable or lost: rooms are served locally, frames for other servers are
    /// dropped (counted in `backplane_unpublished`), the link retries with back-off.
    PIERHEAD_BACKPLANE_DOWN = 3,
    /// The server stopped; the connections are closed.
    PIERHEAD_BACKPLANE_STOPPED = 4,
}

impl pierhead_backplane_state {
    pub(crate) fn of(state: Option<BackplaneState>) -> pierhead_backplane_state {
        match state {
            None => pierhead_backplane_state::PIERHEAD_BACKPLANE_NONE,
            Some(BackplaneState::Connecting) => {
                pierhead_backplane_state::PIERHEAD_BACKPLANE_CONNECTING
            }
            Some(BackplaneState::Connected) => {
                pierhead_backplane_state::PIERHEAD_BACKPLANE_CONNECTED
            }
            Some(BackplaneState::Down) => pierhead_backplane_state::PIERHEAD_BACKPLANE_DOWN,
            Some(BackplaneState::Stopped) => pierhead_backplane_state::PIERHEAD_BACKPLANE_STOPPED,
        }
    }
}

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
