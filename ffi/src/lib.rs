//! The C ABI of pierhead: `libpierhead.so` / `libpierhead.a`, declared by the
//! generated, committed `include/pierhead.h`.
//!
//! Conventions, as in rustls-ffi:
//! - Opaque types (`pierhead_config`, `pierhead_server`, `pierhead_http_response`)
//!   are only ever handled by pointer.
//! - Every function returns a [`pierhead_result`] (a range of its own starting at
//!   7700, `PIERHEAD_RESULT_OK` included), writes its out-parameters only on success,
//!   and catches panics ([`guard`]): nothing unwinds into C.
//! - A failure's detail (which field, which address and errno) is kept per thread
//!   for `pierhead_last_error_message`.
//! - Every callback takes `void *user_data` and an optional finalizer.
//!
//! - No export takes an enum type: enum values come in as `int32_t` and are
//!   checked (`enums`), since a C enum can hold any `int`.
//!
//! Modules: `enums` (the checked conversion of enum arguments), `result` (the
//! result enum and last-error text), `config` (the builder),
//! `server` (start, port, stats, stop, free, routes at run time), `stats` (the
//! stats struct and callback), `http` (static and handler routes, the HTTP handler
//! callback), `route` (the full route builder: matchers, uses, faults), `rooms`
//! (publish, list), `backplane` (the Redis backplane's setter, state and error),
//! `bench` (the load generator: options and result structs), `metrics` (stats as
//! Prometheus text), `tls` (certificates, misbehaving ones, faults, the CA),
//! `version`.
//!
//! All `unsafe` of the project's C surface lives in this crate; each block says why
//! it is sound.

#![allow(non_camel_case_types)]

#[macro_use]
mod enums;
mod backplane;
mod bench;
mod config;
mod faults;
mod http;
mod metrics;
mod result;
mod rooms;
mod route;
mod server;
mod stats;
mod stream;
mod tls;
mod version;

pub use backplane::*;
pub use bench::*;
pub use config::*;
pub use faults::*;
pub use http::*;
pub use metrics::*;
pub use result::*;
pub use rooms::*;
pub use route::*;
pub use server::*;
pub use stats::*;
pub use stream::*;
pub use tls::*;
pub use version::*;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs the body of an exported function; a panic becomes `PIERHEAD_RESULT_PANIC`.
pub(crate) fn guard(f: impl FnOnce() -> pierhead_result) -> pierhead_result {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        result::set_last_error("panic inside libpierhead".to_owned());
        pierhead_result::PIERHEAD_RESULT_PANIC
    })
}

/// Like [`guard`], for bodies that return early with `?` on a failed check.
pub(crate) fn guard_try(
    f: impl FnOnce() -> Result<pierhead_result, pierhead_result>,
) -> pierhead_result {
    guard(|| f().unwrap_or_else(|e| e))
}

/// A NULL out-parameter is `PIERHEAD_RESULT_NULL_PARAMETER`.
pub(crate) fn non_null<T>(p: *mut T, name: &str) -> Result<*mut T, pierhead_result> {
    if p.is_null() {
        result::set_last_error(format!("{name} is NULL"));
        return Err(pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER);
    }
    Ok(p)
}

/// A `void *user_data` with its optional finalizer, called once when the last
/// owner lets go of it. Callbacks run on the server's own threads, so the pointer
/// crosses threads: the header documents that the user data must allow that.
pub(crate) struct UserData {
    pub(crate) ptr: *mut libc::c_void,
    finalizer: pierhead_free_callback,
}

/// Frees a `user_data` pointer handed to the library.
pub type pierhead_free_callback = Option<unsafe extern "C" fn(user_data: *mut libc::c_void)>;

impl UserData {
    pub(crate) fn new(ptr: *mut libc::c_void, finalizer: pierhead_free_callback) -> Self {
        UserData { ptr, finalizer }
    }
}

// SAFETY: the library only passes the pointer back to the caller's own callbacks;
// the header requires user data to be usable from the server's threads.
unsafe impl Send for UserData {}
// SAFETY: as above; the library never dereferences the pointer itself.
unsafe impl Sync for UserData {}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(finalizer) = self.finalizer {
            let ptr = self.ptr;
            // SAFETY: the caller registered this finalizer for this pointer; it runs
            // once, here, when no callback can use the pointer any more.
            let _ = catch_unwind(AssertUnwindSafe(|| unsafe { finalizer(ptr) }));
        }
    }
}

/// Reads a NUL-terminated C string as UTF-8.
///
/// # Safety
/// `s` must be NULL or point to a NUL-terminated string valid for the call.
pub(crate) unsafe fn c_str<'a>(
    s: *const libc::c_char,
    field: &str,
) -> Result<&'a str, pierhead_result> {
    if s.is_null() {
        result::set_last_error(format!("{field} is NULL"));
        return Err(pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER);
    }
    // SAFETY: non-NULL and NUL-terminated, as the caller promised.
    let bytes = unsafe { std::ffi::CStr::from_ptr(s) };
    bytes.to_str().map_err(|_| {
        result::set_last_error(format!("{field} is not UTF-8"));
        pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER
    })
}
