//! `pierhead_server`: start, port, stats, stop, free.

use std::time::Duration;

use pierhead::{RouteId, Server, StartError};

use crate::boundary::{copy_text, guard, guard_try, non_null};
use crate::config::pierhead_config;
use crate::result::{pierhead_result, set_last_error};
use crate::stats::{pierhead_stats, pierhead_stop_report};

/// A running (or stopped) server. Thread-safe: any thread may call
/// `pierhead_server_port`, `_stats` and `_stop` on it at the same time.
pub struct pierhead_server {
    pub(crate) inner: Server,
    stopped: std::sync::atomic::AtomicBool,
}

/// The grace period `pierhead_server_free` gives in-flight work of a server not
/// stopped before.
pub const PIERHEAD_FREE_STOP_DEADLINE_MS: u64 = 2000;

/// Validates `config`, binds and starts the worker threads; returns once the
/// listener is bound (the port is known). On failure nothing runs, `*out` is left
/// alone and `pierhead_last_error_message` says why (the field, or the address
/// and OS error). The config may be freed or reused afterwards.
///
/// # Safety
/// `config` must be NULL or a live config; `out` NULL or valid for one pointer.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_start(
    config: *const pierhead_config,
    out: *mut *mut pierhead_server,
) -> pierhead_result {
    guard(|| {
        if config.is_null() || out.is_null() {
            set_last_error("config or out is NULL".to_owned());
            return pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER;
        }
        // SAFETY: a live config, as the caller promised.
        let config = unsafe { &*config }.inner.clone();
        match Server::start(config) {
            Ok(inner) => {
                let server = Box::new(pierhead_server {
                    inner,
                    stopped: std::sync::atomic::AtomicBool::new(false),
                });
                // SAFETY: `out` is non-NULL and valid.
                unsafe { *out = Box::into_raw(server) };
                pierhead_result::PIERHEAD_RESULT_OK
            }
            Err(e) => {
                set_last_error(e.to_string());
                match e {
                    StartError::Config(_) | StartError::Tls(pierhead::TlsError::File { .. }) => {
                        pierhead_result::PIERHEAD_RESULT_INVALID_CONFIG
                    }
                    StartError::Bind { .. } => pierhead_result::PIERHEAD_RESULT_BIND_FAILED,
                    _ => pierhead_result::PIERHEAD_RESULT_START_FAILED,
                }
            }
        }
    })
}

/// Borrows the server behind a pointer.
///
/// # Safety
/// `server` must be NULL or a live pointer from `pierhead_server_start`.
pub(crate) unsafe fn server_ref<'a>(
    server: *const pierhead_server,
) -> Result<&'a pierhead_server, pierhead_result> {
    if server.is_null() {
        set_last_error("server is NULL".to_owned());
        return Err(pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER);
    }
    // SAFETY: live, as the caller promised.
    Ok(unsafe { &*server })
}

/// The body of the exports that copy a text out of a server (the generated CA,
/// the Prometheus text, the backplane's last error): `text` picks it, or refuses
/// with a result; `copy_text` writes it.
///
/// # Safety
/// As those exports: `server` NULL or live; `buf` valid for `len` bytes; `out_len`
/// NULL or valid for one `size_t`.
pub(crate) unsafe fn copy_server_text(
    server: *const pierhead_server,
    buf: *mut libc::c_char,
    len: usize,
    out_len: *mut usize,
    text: impl FnOnce(&Server) -> Result<std::borrow::Cow<'_, str>, pierhead_result>,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        let text = text(&server.inner)?;
        // SAFETY: forwarded from the caller.
        Ok(unsafe { copy_text(&text, buf, len, out_len) })
    })
}

/// The bound port (the real one when the config asked for port 0).
///
/// # Safety
/// `server` NULL or live; `out` NULL or valid for one `uint16_t`.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_port(
    server: *const pierhead_server,
    out: *mut u16,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        let out = non_null(out, "out")?;
        // SAFETY: non-NULL and valid, as promised.
        unsafe { *out = server.inner.port() };
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}

/// Fills `*out` with a counter snapshot; set `out->struct_size` first (see
/// `pierhead_stats`). Never blocks serving; any thread, also inside a callback.
///
/// # Safety
/// `server` NULL or live; `out` NULL or valid for `out->struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_stats(
    server: *const pierhead_server,
    out: *mut pierhead_stats,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        let out = non_null(out, "out")?;
        let stats = pierhead_stats::from_stats(&server.inner.stats());
        // SAFETY: valid for its struct_size, as promised.
        Ok(unsafe { stats.write_to(out) })
    })
}

/// Stops gracefully: stops accepting, closes idle connections at once, lets
/// in-flight requests finish (with `Connection: close`) for up to `deadline_ms`,
/// closes the rest, joins the threads, and fills `*out` (may be NULL). A call after
/// a complete stop returns `PIERHEAD_RESULT_ALREADY_STOPPED`. From inside one of
/// this server's callbacks it starts the stop and returns at once with
/// `out->complete == 0`; a later call from another thread waits for it to finish.
///
/// # Safety
/// `server` NULL or live; `out` NULL or valid for one `pierhead_stop_report`.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_stop(
    server: *const pierhead_server,
    deadline_ms: u64,
    out: *mut pierhead_stop_report,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        if server.stopped.load(std::sync::atomic::Ordering::Acquire) {
            set_last_error("the server was already stopped".to_owned());
            return Err(pierhead_result::PIERHEAD_RESULT_ALREADY_STOPPED);
        }
        let r = server.inner.stop(Duration::from_millis(deadline_ms));
        // A stop begun inside a callback is not complete: a later call waits for it.
        if r.complete {
            server
                .stopped
                .store(true, std::sync::atomic::Ordering::Release);
        }
        if !out.is_null() {
            // SAFETY: non-NULL and valid, as promised.
            unsafe {
                *out = pierhead_stop_report {
                    idle_closed: r.idle_closed,
                    drained: r.drained,
                    force_closed: r.force_closed,
                    handlers_abandoned: r.handlers_abandoned,
                    elapsed_us: r.elapsed.as_micros() as u64,
                    complete: u8::from(r.complete),
                }
            };
        }
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}

/// Stops the server if needed (grace `PIERHEAD_FREE_STOP_DEADLINE_MS`) and frees
/// it. NULL is accepted and ignored. Set your pointer to NULL afterwards: calls
/// with NULL give `PIERHEAD_RESULT_NULL_PARAMETER`, a freed pointer is undefined.
/// Must not be called from inside one of this server's callbacks.
///
/// # Safety
/// `server` must be NULL or a pointer from `pierhead_server_start` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_free(server: *mut pierhead_server) {
    let _ = guard(|| {
        if !server.is_null() {
            // SAFETY: from `pierhead_server_start` (Box::into_raw), freed only here.
            let server = unsafe { Box::from_raw(server) };
            server
                .inner
                .stop(Duration::from_millis(PIERHEAD_FREE_STOP_DEADLINE_MS));
            drop(server);
        }
        pierhead_result::PIERHEAD_RESULT_OK
    });
}

/// Removes route `id`; `PIERHEAD_RESULT_INVALID_PARAMETER` if there is none.
///
/// # Safety
/// `server` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_remove_route(
    server: *const pierhead_server,
    id: u64,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        if !server.inner.remove_route(RouteId(id)) {
            set_last_error(format!("no route {id}"));
            return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
        }
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}

/// Removes every route: requests get the fixed `hello` response again.
///
/// # Safety
/// `server` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_clear_routes(
    server: *const pierhead_server,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        unsafe { server_ref(server) }?.inner.clear_routes();
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}

/// How many requests route `id` has answered.
///
/// # Safety
/// `server` NULL or live; `out` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_route_hits(
    server: *const pierhead_server,
    id: u64,
    out: *mut u64,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        let out = non_null(out, "out")?;
        let Some(hits) = server.inner.route_hits(RouteId(id)) else {
            set_last_error(format!("no route {id}"));
            return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
        };
        // SAFETY: non-NULL and valid, as promised.
        unsafe { *out = hits };
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}
