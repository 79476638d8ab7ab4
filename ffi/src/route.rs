//! `pierhead_route`: a route with everything the Rust `Route` has (matchers, use
//! count, fault, response, handler or WebSocket endpoint), added to a config before start or to a
//! running server (after its routes, or at a position).

use std::time::Duration;

use pierhead::{Fault, Response, Route};

use crate::boundary::{bytes, c_str, guard, guard_try, non_null};
use crate::config::{edit, pierhead_config};
use crate::enums::CEnum;
use crate::handler::{handler_with_data, pierhead_http_handler, with_c_handler};
use crate::result::{pierhead_result, set_last_error};
use crate::server::{pierhead_server, server_ref};
use crate::websocket::pierhead_websocket;

/// A route being built. Create with `pierhead_route_new`, free with
/// `pierhead_route_free`; adding it copies it, so it can be reused or freed after.
pub struct pierhead_route {
    pub(crate) inner: Route,
    /// The streamed response being built (`pierhead_route_stream_*`).
    pub(crate) stream: Option<Response>,
    /// The chaos being built (`pierhead_route_add_chaos`).
    pub(crate) chaos: Option<pierhead::Chaos>,
}

/// A misbehaviour a route shows on purpose.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_fault {
    /// Behave (the default).
    PIERHEAD_FAULT_NONE = 0,
    /// Wait `ms` before responding (responses stay in request order).
    PIERHEAD_FAULT_DELAY = 1,
    /// Send the head, then the body `bytes` at a time every `ms`.
    PIERHEAD_FAULT_DRIP = 2,
    /// Send the head, then close without the body.
    PIERHEAD_FAULT_CLOSE_AFTER_HEADERS = 3,
    /// Reset the connection (RST) instead of answering.
    PIERHEAD_FAULT_RESET = 4,
    /// Never answer.
    PIERHEAD_FAULT_NO_RESPONSE = 5,
}

c_enum!(pierhead_fault {
    PIERHEAD_FAULT_NONE,
    PIERHEAD_FAULT_DELAY,
    PIERHEAD_FAULT_DRIP,
    PIERHEAD_FAULT_CLOSE_AFTER_HEADERS,
    PIERHEAD_FAULT_RESET,
    PIERHEAD_FAULT_NO_RESPONSE,
});

/// Starts a route for `method` (NULL: any method) and the exact `path`; it answers
/// `200` with no body until `pierhead_route_respond`, `_set_handler` or
/// `_set_websocket`.
///
/// # Safety
/// `method` NULL or NUL-terminated; `path` NUL-terminated; `out` valid or NULL.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_new(
    method: *const libc::c_char,
    path: *const libc::c_char,
    out: *mut *mut pierhead_route,
) -> pierhead_result {
    guard_try(|| {
        let out = non_null(out, "out")?;
        // SAFETY: as the caller promised.
        let inner = unsafe { route_for(method, path, false) }?;
        // SAFETY: `out` is non-NULL and valid.
        unsafe {
            *out = Box::into_raw(Box::new(pierhead_route {
                inner,
                stream: None,
                chaos: None,
            }))
        };
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}

/// Frees a route. NULL is accepted and ignored.
///
/// # Safety
/// `route` NULL or from `pierhead_route_new`, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_free(route: *mut pierhead_route) {
    let _ = guard(|| {
        if !route.is_null() {
            // SAFETY: from `pierhead_route_new` (Box::into_raw), freed only here.
            drop(unsafe { Box::from_raw(route) });
        }
        pierhead_result::PIERHEAD_RESULT_OK
    });
}

/// Applies `f` to the route behind `route`.
///
/// # Safety
/// `route` NULL or a live route used by one thread at a time.
unsafe fn with_route(
    route: *mut pierhead_route,
    f: impl FnOnce(Route) -> Result<Route, pierhead_result>,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_c_route(route, |r| {
            r.inner = f(r.inner.clone())?;
            Ok(())
        })
    }
}

/// Applies `f` to the whole `pierhead_route` behind `route`.
///
/// # Safety
/// `route` NULL or a live route used by one thread at a time.
pub(crate) unsafe fn with_c_route(
    route: *mut pierhead_route,
    f: impl FnOnce(&mut pierhead_route) -> Result<(), pierhead_result>,
) -> pierhead_result {
    guard_try(|| {
        let route = non_null(route, "route")?;
        // SAFETY: live and not shared during the call, as promised.
        f(unsafe { &mut *route })?;
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}

/// Matches every path starting with the route's path instead of only the path.
///
/// # Safety
/// `route` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_set_prefix(route: *mut pierhead_route) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { with_route(route, |r| Ok(r.prefix())) }
}

/// Matches only requests whose query string (after `?`) equals `query`.
///
/// # Safety
/// `route` NULL or live; `query` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_match_query(
    route: *mut pierhead_route,
    query: *const libc::c_char,
) -> pierhead_result {
    // SAFETY: as the caller promised.
    let apply = |r: Route| Ok(r.query(unsafe { c_str(query, "query") }?));
    // SAFETY: forwarded from the caller.
    unsafe { with_route(route, apply) }
}

/// Matches only requests with this header (name case-insensitive) and exact value.
///
/// # Safety
/// `route` NULL or live; `name`, `value` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_match_header(
    route: *mut pierhead_route,
    name: *const libc::c_char,
    value: *const libc::c_char,
) -> pierhead_result {
    let apply = |r: Route| {
        // SAFETY: as the caller promised.
        let (n, v) = unsafe { (c_str(name, "name")?, c_str(value, "value")?) };
        Ok(r.header(n, v))
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_route(route, apply) }
}

/// Matches only requests whose body equals the `len` bytes at `body`.
///
/// # Safety
/// `route` NULL or live; `body` valid for `len` bytes (NULL if 0).
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_match_body(
    route: *mut pierhead_route,
    body: *const u8,
    len: usize,
) -> pierhead_result {
    // SAFETY: as the caller promised.
    let apply = |r: Route| Ok(r.body(unsafe { bytes(body, len) }?));
    // SAFETY: forwarded from the caller.
    unsafe { with_route(route, apply) }
}

/// The matcher part of a route from C arguments.
///
/// # Safety
/// `method` NULL or NUL-terminated; `path` NUL-terminated (NULL is an error).
pub(crate) unsafe fn route_for(
    method: *const libc::c_char,
    path: *const libc::c_char,
    prefix: bool,
) -> Result<Route, pierhead_result> {
    // SAFETY: forwarded from the caller.
    let path = unsafe { c_str(path, "path")? };
    let route = if method.is_null() {
        Route::any(path)
    } else {
        // SAFETY: non-NULL, NUL-terminated as promised.
        Route::new(unsafe { c_str(method, "method")? }, path)
    };
    Ok(if prefix { route.prefix() } else { route })
}

/// Answers with `status`, `content_type` (NULL: none) and a copy of the body.
///
/// # Safety
/// `route` NULL or live; `content_type` NULL or NUL-terminated; `body` valid for
/// `len` bytes (NULL if 0).
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_respond(
    route: *mut pierhead_route,
    status: u16,
    content_type: *const libc::c_char,
    body: *const u8,
    len: usize,
) -> pierhead_result {
    // SAFETY: as the caller promised.
    let apply =
        |r: Route| Ok(r.respond(unsafe { response_from(status, content_type, body, len) }?));
    // SAFETY: forwarded from the caller.
    unsafe { with_route(route, apply) }
}

/// A fixed response from C arguments: status, content type (NULL: none), body.
///
/// # Safety
/// `content_type` NULL or NUL-terminated; `body` valid for `len` bytes (NULL if 0).
pub(crate) unsafe fn response_from(
    status: u16,
    content_type: *const libc::c_char,
    body: *const u8,
    len: usize,
) -> Result<Response, pierhead_result> {
    let mut response = Response::new(status);
    if !content_type.is_null() {
        // SAFETY: non-NULL and NUL-terminated, as promised.
        response = response.header("Content-Type", unsafe {
            c_str(content_type, "content_type")
        }?);
    }
    // SAFETY: as the caller promised.
    Ok(response.body(unsafe { bytes(body, len) }?))
}

/// Answers with what `handler` builds (see `pierhead_http_handler`); `finalizer`
/// (may be NULL) gets `user_data` once no route copy can call the handler any more.
///
/// # Safety
/// `route` NULL or live; `user_data` usable from the handler threads.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_set_handler(
    route: *mut pierhead_route,
    handler: pierhead_http_handler,
    user_data: *mut libc::c_void,
    finalizer: crate::pierhead_free_callback,
) -> pierhead_result {
    let (handler, data) = match handler_with_data(handler, user_data, finalizer) {
        Ok(pair) => pair,
        Err(e) => return e,
    };
    let apply = move |r: Route| Ok(with_c_handler(r, handler, data));
    // SAFETY: forwarded from the caller.
    unsafe { with_route(route, apply) }
}

/// Upgrades matching requests to WebSocket and serves a copy of `ws` (see
/// `pierhead_websocket_new_echo` and the other constructors) instead of a
/// response or handler; usually a `GET` route. A request that is not a valid
/// opening handshake is refused (426 without `Upgrade: websocket`, 400 ...).
/// `ws` may be freed or changed afterwards.
///
/// # Safety
/// `route` NULL or live; `ws` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_set_websocket(
    route: *mut pierhead_route,
    ws: *const pierhead_websocket,
) -> pierhead_result {
    let apply = |r: Route| {
        let ws = non_null(ws.cast_mut(), "ws")?;
        // SAFETY: non-NULL and live, as promised.
        Ok(r.websocket(unsafe { &*ws }.inner.clone()))
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_route(route, apply) }
}

/// Answers at most `n` requests (n >= 1); then the route no longer matches and
/// requests fall through to the next route.
///
/// # Safety
/// `route` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_set_uses(
    route: *mut pierhead_route,
    n: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { with_route(route, |r| Ok(r.uses(n))) }
}

/// Sets the fault: `fault` is a `pierhead_fault` value (any other is
/// `PIERHEAD_RESULT_INVALID_PARAMETER`, the route unchanged); `ms` is the delay
/// (DELAY) or the interval (DRIP), `bytes` the piece size (DRIP); both are
/// ignored otherwise.
///
/// # Safety
/// `route` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_set_fault(
    route: *mut pierhead_route,
    fault: i32,
    ms: u64,
    bytes: u64,
) -> pierhead_result {
    let apply = |r: Route| {
        Ok(match fault_from(fault, ms, bytes)? {
            None => r.without_fault(),
            Some(f) => r.fault(f),
        })
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_route(route, apply) }
}

/// The core fault of the C argument `fault` (a `pierhead_fault` value; `NONE`:
/// none) with its `ms` and `bytes`.
pub(crate) fn fault_from(
    fault: i32,
    ms: u64,
    bytes: u64,
) -> Result<Option<Fault>, pierhead_result> {
    let fault = pierhead_fault::from_arg(fault, "fault")?;
    let ms = Duration::from_millis(ms);
    Ok(Some(match fault {
        pierhead_fault::PIERHEAD_FAULT_NONE => return Ok(None),
        pierhead_fault::PIERHEAD_FAULT_DELAY => Fault::Delay(ms),
        pierhead_fault::PIERHEAD_FAULT_DRIP => Fault::Drip {
            bytes: bytes as usize,
            interval: ms,
        },
        pierhead_fault::PIERHEAD_FAULT_CLOSE_AFTER_HEADERS => Fault::CloseAfterHeaders,
        pierhead_fault::PIERHEAD_FAULT_RESET => Fault::Reset,
        pierhead_fault::PIERHEAD_FAULT_NO_RESPONSE => Fault::NoResponse,
    }))
}

/// The C fault of a core fault.
pub(crate) fn fault_to_c(fault: Option<Fault>) -> pierhead_fault {
    match fault {
        None => pierhead_fault::PIERHEAD_FAULT_NONE,
        Some(Fault::Delay(_)) => pierhead_fault::PIERHEAD_FAULT_DELAY,
        Some(Fault::Drip { .. }) => pierhead_fault::PIERHEAD_FAULT_DRIP,
        Some(Fault::CloseAfterHeaders) => pierhead_fault::PIERHEAD_FAULT_CLOSE_AFTER_HEADERS,
        Some(Fault::Reset) => pierhead_fault::PIERHEAD_FAULT_RESET,
        Some(Fault::NoResponse) => pierhead_fault::PIERHEAD_FAULT_NO_RESPONSE,
    }
}

/// Checks a route; an error names the field (see `pierhead_last_error_message`).
pub(crate) fn validated(route: &pierhead_route) -> Result<Route, pierhead_result> {
    check(&route.inner)?;
    Ok(route.inner.clone())
}

/// Validates a route, recording the error (which names the field).
pub(crate) fn check(route: &Route) -> Result<(), pierhead_result> {
    route.validate().map_err(|e| {
        set_last_error(e.to_string());
        pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER
    })
}

/// Adds a copy of `route` to the config (after the routes already there).
///
/// # Safety
/// `config` NULL or live; `route` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_add_route(
    config: *mut pierhead_config,
    route: *const pierhead_route,
) -> pierhead_result {
    let apply = |c: pierhead::Config| {
        if route.is_null() {
            set_last_error("route is NULL".to_owned());
            return Err(pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER);
        }
        // SAFETY: non-NULL and live, as promised.
        Ok(c.route(validated(unsafe { &*route })?))
    };
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, apply) }
}

/// Adds a copy of `route` to the running server, after its routes; it applies to
/// requests read from now on. `*out_id` (may be NULL) identifies it.
///
/// # Safety
/// `server` NULL or live; `route` NULL or live; `out_id` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_add_route(
    server: *const pierhead_server,
    route: *const pierhead_route,
    out_id: *mut u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { place(server, route, out_id, |s, r| s.add_route(r)) }
}

/// Puts a copy of `route` at `position` in the running server's matching order (0:
/// before every route; the number of routes: after them, as
/// `pierhead_server_add_route`), in one step: a request sees the routes as they
/// were or with this one in place, never anything in between. It applies to
/// requests read from now on; `*out_id` (may be NULL) identifies it. A position
/// past the end is `PIERHEAD_RESULT_INVALID_PARAMETER` (the message names
/// `position`), as is an invalid route; neither changes anything.
///
/// # Safety
/// `server` NULL or live; `route` NULL or live; `out_id` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_insert_route(
    server: *const pierhead_server,
    position: usize,
    route: *const pierhead_route,
    out_id: *mut u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { place(server, route, out_id, |s, r| s.insert_route(position, r)) }
}

/// The body of `_add_route` and `_insert_route`: `put` places the validated copy.
///
/// # Safety
/// As theirs.
unsafe fn place(
    server: *const pierhead_server,
    route: *const pierhead_route,
    out_id: *mut u64,
    put: impl FnOnce(&pierhead::Server, Route) -> Result<pierhead::RouteId, pierhead::ConfigError>,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        let route = non_null(route.cast_mut(), "route")?;
        // SAFETY: non-NULL and live, as promised.
        let route = validated(unsafe { &*route })?;
        let id = put(&server.inner, route).map_err(|e| {
            set_last_error(e.to_string());
            pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER
        })?;
        if !out_id.is_null() {
            // SAFETY: non-NULL and valid, as promised.
            unsafe { *out_id = id.0 };
        }
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}
