//! Streamed answers from C: a route's response as a timeline of pieces, pauses,
//! server-sent events, and a cut or reset inside it.
//!
//! ```c
//! pierhead_route_stream_begin(route, 200, NULL); // SSE: text/event-stream
//! pierhead_route_stream_sse(route, "1", NULL, "hello", 0);
//! pierhead_route_stream_sse(route, "2", "update", "later", 100); // after 100 ms
//! pierhead_route_stream_end(route, PIERHEAD_STREAM_CUT);
//! ```

use std::time::Duration;

use pierhead::{Response, SseEvent, Step};

use crate::boundary::{bytes, c_str};
use crate::enums::CEnum;
use crate::result::{pierhead_result, set_last_error};
use crate::route::{pierhead_route, response_from, with_c_route};

/// How a streamed body ends early (`pierhead_route_stream_end`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_stream_end {
    /// Close the connection here, the body incomplete.
    PIERHEAD_STREAM_CUT = 1,
    /// Reset the connection (RST) here.
    PIERHEAD_STREAM_RESET = 2,
}

c_enum!(pierhead_stream_end {
    PIERHEAD_STREAM_CUT,
    PIERHEAD_STREAM_RESET,
});

/// Adds the steps `make` gives to the route's stream and makes the route answer
/// with it; when `make` fails (a bad argument) the route is left as it was. An
/// `event` makes the response a server-sent-events one (its default headers).
///
/// # Safety
/// `route` NULL or live.
unsafe fn push(
    route: *mut pierhead_route,
    event: bool,
    make: impl FnOnce() -> Result<Vec<Step>, pierhead_result>,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_c_route(route, |r| {
            let Some(response) = &r.stream else {
                set_last_error("no stream: call pierhead_route_stream_begin first".to_owned());
                return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
            };
            let added = make()?;
            let mut response = response.clone();
            let mut steps = response.stream.as_deref().unwrap_or_default().to_vec();
            steps.extend(added);
            response.stream = Some(steps.into());
            if event {
                response = response.with_sse_headers();
            }
            r.inner = r.inner.clone().respond(response.clone());
            r.stream = Some(response);
            Ok(())
        })
    }
}

/// Makes the route answer with a streamed body (chunked), empty so far: add
/// pieces, pauses and events with the `pierhead_route_stream_*` calls. Each
/// request gets the whole timeline, served from the I/O threads' timers.
/// `content_type` NULL: none, or `text/event-stream` once an event is added.
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
    unsafe { push(route, false, || Ok(vec![Step::send(bytes(data, len)?)])) }
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
    let pause = Step::Pause(Duration::from_millis(ms));
    // SAFETY: forwarded from the caller.
    unsafe { push(route, false, || Ok(vec![pause])) }
}

/// Adds a server-sent event (`id` and `event` may be NULL), sent after
/// `delay_ms` milliseconds. `data` is sent as one `data:` line per line (CR, LF
/// and CRLF each end one); an `id` or `event` holding CR or LF is
/// `PIERHEAD_RESULT_INVALID_PARAMETER` (field `sse.id` / `sse.event`). The
/// response gets `Content-Type: text/event-stream` (unless
/// `pierhead_route_stream_begin` gave a content type) and `Cache-Control: no-cache`.
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
        let field = |r: Result<SseEvent, pierhead::ConfigError>| {
            r.map_err(|e| {
                set_last_error(e.to_string());
                pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER
            })
        };
        // SAFETY: as the caller promised.
        let mut e = SseEvent::data(unsafe { c_str(data, "data") }?);
        if !id.is_null() {
            // SAFETY: non-NULL and NUL-terminated, as promised.
            e = field(e.id(unsafe { c_str(id, "id") }?))?;
        }
        if !event.is_null() {
            // SAFETY: non-NULL and NUL-terminated, as promised.
            e = field(e.name(unsafe { c_str(event, "event") }?))?;
        }
        let mut steps = Vec::with_capacity(2);
        if delay_ms > 0 {
            steps.push(Step::Pause(Duration::from_millis(delay_ms)));
        }
        steps.push(Step::send(e.encode()));
        Ok(steps)
    };
    // SAFETY: forwarded from the caller.
    unsafe { push(route, true, make) }
}

/// Ends the stream early: `how` is a `pierhead_stream_end` value (cut or reset
/// the connection at this point; any other is `PIERHEAD_RESULT_INVALID_PARAMETER`,
/// the route unchanged).
///
/// # Safety
/// `route` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_stream_end(
    route: *mut pierhead_route,
    how: i32,
) -> pierhead_result {
    let make = || {
        Ok(vec![match pierhead_stream_end::from_arg(how, "how")? {
            pierhead_stream_end::PIERHEAD_STREAM_CUT => Step::Cut,
            pierhead_stream_end::PIERHEAD_STREAM_RESET => Step::Reset,
        }])
    };
    // SAFETY: forwarded from the caller.
    unsafe { push(route, false, make) }
}
