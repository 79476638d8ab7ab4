//! HTTP routes on a config from C (a static response, or a handler callback),
//! and the `pierhead_http_response_*` functions a handler builds its response
//! with. The callback itself (its request and response types, how it is called)
//! is in `handler`; the route parts from C arguments are in `route`.

use pierhead::{Response, Route};

use crate::boundary::{c_str, guard};
use crate::config::{edit, pierhead_config};
use crate::handler::{
    handler_with_data, pierhead_http_handler, pierhead_http_response, with_c_handler,
};
use crate::result::{pierhead_result, set_last_error};
use crate::route::{check, response_from, route_for};

/// Route requests for `method` (NULL: any method) and `path` (`prefix`: every path
/// starting with it) to a fixed response: `status`, `content_type` (NULL: none) and
/// `body_len` bytes of `body` (copied). Routes are tried in the order added.
///
/// # Safety
/// `config` NULL or live; `method` and `content_type` NULL or NUL-terminated;
/// `path` NUL-terminated; `body` valid for `body_len` bytes (NULL if 0).
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_add_static_route(
    config: *mut pierhead_config,
    method: *const libc::c_char,
    path: *const libc::c_char,
    prefix: bool,
    status: u16,
    content_type: *const libc::c_char,
    body: *const u8,
    body_len: usize,
) -> pierhead_result {
    let apply = |c| {
        // SAFETY: the pointers are as the caller promised.
        let route = unsafe { route_for(method, path, prefix)? };
        // SAFETY: as the caller promised.
        let response = unsafe { response_from(status, content_type, body, body_len)? };
        checked(c, route.respond(response))
    };
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, apply) }
}

/// Route requests for `method` (NULL: any) and `path` (`prefix` as above) to
/// `handler`. `finalizer` (may be NULL) gets `user_data` once no server started from
/// this config and not the config itself can call the handler any more.
///
/// # Safety
/// As `pierhead_config_add_static_route`; `user_data` usable from other threads.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_add_handler_route(
    config: *mut pierhead_config,
    method: *const libc::c_char,
    path: *const libc::c_char,
    prefix: bool,
    handler: pierhead_http_handler,
    user_data: *mut libc::c_void,
    finalizer: crate::pierhead_free_callback,
) -> pierhead_result {
    let (handler, data) = match handler_with_data(handler, user_data, finalizer) {
        Ok(pair) => pair,
        Err(e) => return e,
    };
    let apply = move |c| {
        // SAFETY: the pointers are as the caller promised.
        let route = unsafe { route_for(method, path, prefix)? };
        checked(c, with_c_handler(route, handler, data))
    };
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, apply) }
}

fn checked(config: pierhead::Config, route: Route) -> Result<pierhead::Config, pierhead_result> {
    check(&route)?;
    Ok(config.route(route))
}

/// Borrows a response being built.
///
/// # Safety
/// `response` NULL or the response given to the running handler.
unsafe fn response_mut<'a>(
    response: *mut pierhead_http_response,
) -> Result<&'a mut pierhead_http_response, pierhead_result> {
    if response.is_null() {
        return Err(pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER);
    }
    // SAFETY: the response passed to the running handler, as the caller promised.
    Ok(unsafe { &mut *response })
}

/// Sets the status code (100..=999).
///
/// # Safety
/// `response` must be NULL or the response given to the running handler.
#[no_mangle]
pub unsafe extern "C" fn pierhead_http_response_set_status(
    response: *mut pierhead_http_response,
    status: u16,
) -> pierhead_result {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = match unsafe { response_mut(response) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        if !(100..=999).contains(&status) {
            set_last_error(format!("status {status} is not 100..=999"));
            return pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER;
        }
        r.inner.status = status;
        pierhead_result::PIERHEAD_RESULT_OK
    })
}

/// Adds a header (both strings NUL-terminated and copied). A value with CR or LF
/// is rejected. `Date`, `Content-Length`, `Connection`, `Server` and
/// `Transfer-Encoding` are the server's own and are ignored.
///
/// # Safety
/// `response` NULL or the running handler's; `name`, `value` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn pierhead_http_response_add_header(
    response: *mut pierhead_http_response,
    name: *const libc::c_char,
    value: *const libc::c_char,
) -> pierhead_result {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let (r, name, value) = match unsafe {
            (
                response_mut(response),
                c_str(name, "name"),
                c_str(value, "value"),
            )
        } {
            (Ok(r), Ok(n), Ok(v)) => (r, n, v),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
        };
        let candidate = Response::new(200).header(name, value);
        if let Err(e) = candidate.validate() {
            set_last_error(e.to_string());
            return pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER;
        }
        r.inner.headers.push((name.to_owned(), value.to_owned()));
        pierhead_result::PIERHEAD_RESULT_OK
    })
}

/// Sets the body to a copy of `len` bytes at `body` (NULL allowed when `len` is 0).
///
/// # Safety
/// `response` NULL or the running handler's; `body` valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn pierhead_http_response_set_body(
    response: *mut pierhead_http_response,
    body: *const u8,
    len: usize,
) -> pierhead_result {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let r = match unsafe { response_mut(response) } {
            Ok(r) => r,
            Err(e) => return e,
        };
        if len > 0 && body.is_null() {
            return pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER;
        }
        r.inner.body = if len == 0 {
            Vec::new()
        } else {
            // SAFETY: valid for `len` bytes, as promised; copied here.
            unsafe { std::slice::from_raw_parts(body, len) }.to_vec()
        };
        pierhead_result::PIERHEAD_RESULT_OK
    })
}
