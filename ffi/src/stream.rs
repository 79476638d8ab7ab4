//! Streamed answers from C: a route's response as a timeline of pieces, pauses,
//! server-sent events, and a cut or reset inside it.
//!
//! ```c
//! pierhead_route_stream_begin(route, 200, "text/event-stream");
//! pierhead_route_stream_sse(route, "1", NULL, "hello", 0);
//! pierhead_route_stream_sse(route, "2", "update", "later", 100); // after 100 ms
//! pierhead_route_stream_end(route, PIERHEAD_STREAM_CUT);
//! ```

use std::time::Duration;

use pierhead::{Response, SseEvent, Step};

use crate::c_str;
use crate::result::{pierhead_result, set_last_error};
use crate::route::{bytes, pierhead_route, response_from, with_c_route};

/// How a streamed body ends early (`pierhead_route_stream_end`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_stream_end {
    /// Close the connection here, the body incomplete.
    PIERHEAD_STREAM_CUT = 1,
    /// Reset the connection (RST) here.
    PIERHEAD_STREAM_RESET = 2,
}

/// Adds `step` to the route's stream and makes the route answer with it.
///
/// # Safety
/// `route` NULL or live.
unsafe fn push(
    route: *mut pierhead_route,
    step: impl FnOnce() -> Result<Step, pierhead_result>,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_c_route(route, |r| {
            let Some(mut response) = r.stream.take() else {
                set_last_error("no stream: call pierhead_route_stream_begin first".to_owned());
                return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
            };
            let mut steps = response.stream.as_deref().unwrap_or_default().to_vec();
            let step = step();
            if let Ok(s) = &step {
                steps.push(s.clone());
            }
            response.stream = Some(steps.into());
            r.inner = r.inner.clone().respond(response.clone());
            r.stream = Some(response);
            step.map(|_| ())
        })
    }
}

/// Makes the route answer with a streamed body (chunked), empty so far: add
/// pieces, pauses and events with the `pierhead_route_stream_*` calls. Each
/// request gets the whole timeline, served from the I/O threads' timers.
///
/// # Safety
/// `route` NULL or live; `content_type` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_stream_begin(
    route: *mut pierhead_route,
    status: u16,
    content_type: *const libc::c_char,
) -> pierhead_result {
    // SAFETY: as the caller promised.
    unsafe {
        with_c_route(route, |r| {
            let base = response_from(status, content_type, std::ptr::null(), 0)?;
            let mut response = Response::stream(status, []);
            response.headers = base.headers;
            r.inner = r.inner.clone().respond(response.clone());
            r.stream = Some(response);
            Ok(())
        })
    }
}

/// Adds a piece: a copy of `len` bytes at `data`, sent as one chunk.
///
/// # Safety
/// `route` NULL or live; `data` valid for `len` bytes (NULL if 0).
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_stream_send(
    route: *mut pierhead_route,
    data: *const u8,
    len: usize,
) -> pierhead_result {
    // SAFETY: as the caller promised.
    unsafe { push(route, || Ok(Step::send(bytes(data, len)?))) }
}

/// Adds a pause of `ms` milliseconds.
///
/// # Safety
/// `route` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_stream_pause(
    route: *mut pierhead_route,
    ms: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { push(route, || Ok(Step::Pause(Duration::from_millis(ms)))) }
}

/// Adds a server-sent event (`id` and `event` may be NULL), sent after
/// `delay_ms` milliseconds.
///
/// # Safety
/// `route` NULL or live; `id`, `event` NULL or NUL-terminated; `data`
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_stream_sse(
    route: *mut pierhead_route,
    id: *const libc::c_char,
    event: *const libc::c_char,
    data: *const libc::c_char,
    delay_ms: u64,
) -> pierhead_result {
    let make = || {
        // SAFETY: as the caller promised.
        let mut e = SseEvent::data(unsafe { c_str(data, "data") }?);
        if !id.is_null() {
            // SAFETY: non-NULL and NUL-terminated, as promised.
            e = e.id(unsafe { c_str(id, "id") }?);
        }
        if !event.is_null() {
            // SAFETY: non-NULL and NUL-terminated, as promised.
            e = e.name(unsafe { c_str(event, "event") }?);
        }
        Ok(e)
    };
    let event = match make() {
        Ok(e) => e,
        Err(e) => return e,
    };
    if delay_ms > 0 {
        // SAFETY: forwarded from the caller.
        let r = unsafe { pierhead_route_stream_pause(route, delay_ms) };
        if r != pierhead_result::PIERHEAD_RESULT_OK {
            return r;
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { push(route, || Ok(Step::send(event.encode()))) }
}

/// Ends the stream early: cut or reset the connection at this point.
///
/// # Safety
/// `route` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_stream_end(
    route: *mut pierhead_route,
    how: pierhead_stream_end,
) -> pierhead_result {
    let step = match how {
        pierhead_stream_end::PIERHEAD_STREAM_CUT => Step::Cut,
        pierhead_stream_end::PIERHEAD_STREAM_RESET => Step::Reset,
    };
    // SAFETY: forwarded from the caller.
    unsafe { push(route, || Ok(step)) }
}
