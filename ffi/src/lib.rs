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
//! Modules: `boundary` (what every export does at the C boundary: panics caught,
//! pointers checked, C strings and buffers read, text copied out), `enums` (the
//! checked conversion of enum arguments), `result` (the result enum and the
//! last-error detail), `result_text` (`pierhead_result_str`,
//! `pierhead_last_error_message`), `config` (the builder), `server` (start, port,
//! stats, stop, free, routes at run time), `stats` (the stats struct and
//! callback), `handler` (the HTTP handler callback: its request and response, and
//! the adapter that calls it), `http` (static and handler routes on a config, the
//! response setters a handler calls), `route` (the full route builder: matchers,
//! uses, faults; route parts from C arguments), `stream` (streamed responses),
//! `faults` (chaos, connect faults), `rooms` (publish, list), `backplane` (the
//! Redis backplane's setter, state and error), `bench` (the load generator:
//! options and result structs), `metrics` (stats as Prometheus text), `tls`
//! (certificates, misbehaving ones, faults, the CA), `websocket` (WebSocket
//! endpoints of the HTTP mock: the builder, the handler callback, the message
//! log), `version`. This file holds
//! [`UserData`], the `void *user_data` every callback takes with its finalizer.
//!
//! All `unsafe` of the project's C surface lives in this crate; each block says why
//! it is sound.

#![allow(non_camel_case_types)]

#[macro_use]
mod enums;
mod backplane;
mod bench;
mod boundary;
mod config;
mod faults;
mod handler;
mod http;
mod metrics;
mod result;
mod result_text;
mod rooms;
mod route;
mod server;
mod stats;
mod stream;
mod tls;
mod version;
mod websocket;

pub use backplane::*;
pub use bench::*;
pub use config::*;
pub use faults::*;
pub use handler::*;
pub use http::*;
pub use metrics::*;
pub use result::*;
pub use result_text::*;
pub use rooms::*;
pub use route::*;
pub use server::*;
pub use stats::*;
pub use stream::*;
pub use tls::*;
pub use version::*;
pub use websocket::*;

use std::panic::{catch_unwind, AssertUnwindSafe};

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
