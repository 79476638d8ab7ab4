//! HTTP routes from C: static responses, and handler callbacks that build the
//! response from the request.
//!
//! Ownership: everything in a `pierhead_http_request` belongs to the library and is
//! valid only during the handler call. The `pierhead_http_response` is owned by the
//! library too; the handler fills it with the `pierhead_http_response_*` functions,
//! which copy what they are given.

use std::ffi::CString;

use pierhead::{Request, Response, Route};

use crate::config::{edit, pierhead_config};
use crate::result::{pierhead_result, set_last_error};
use crate::route::{check, handler_with_data, response_from, with_c_handler};
use crate::{c_str, guard, UserData};

/// One request header: name and value with their lengths (not NUL-terminated).
#[repr(C)]
pub struct pierhead_header {
    /// The header name as sent.
    pub name: *const libc::c_char,
    /// Length of `name` in bytes.
    pub name_len: usize,
    /// The value (may hold any byte but NUL, CR and LF).
    pub value: *const u8,
    /// Length of `value` in bytes.
    pub value_len: usize,
}

/// A request given to a handler. Valid only during the handler call.
#[repr(C)]
pub struct pierhead_http_request {
    /// The method, NUL-terminated (`"GET"`).
    pub method: *const libc::c_char,
    /// The target, NUL-terminated: path and query as sent (`"/a?b=1"`).
    pub target: *const libc::c_char,
    /// `header_count` headers in the order received.
    pub headers: *const pierhead_header,
    /// Number of headers.
    pub header_count: usize,
    /// The body (decoded if it was chunked); NULL when `body_len` is 0.
    pub body: *const u8,
    /// Length of the body.
    pub body_len: usize,
    /// Requests with the same id came on the same connection.
    pub connection_id: u64,
}

/// The response a handler fills in; starts as `200` with no headers and no body.
pub struct pierhead_http_response {
    inner: Response,
}

/// Builds the response to `request` into `response`; returns true on success, false
/// to fail the request (the client gets 500; `handler_errors` counts it).
///
/// Runs on one of the server's handler threads (`pierhead-h<N>`), never on an I/O
/// thread; several calls may run at once on different threads. It may call
/// `pierhead_server_stats` and `pierhead_server_stop` (which starts the stop and
/// returns), not `pierhead_server_free`.
pub type pierhead_http_handler = Option<
    unsafe extern "C" fn(
        user_data: *mut libc::c_void,
        request: *const pierhead_http_request,
        response: *mut pierhead_http_response,
    ) -> bool,
>;

/// A handler known to be non-NULL.
pub(crate) type CHandler = unsafe extern "C" fn(
    *mut libc::c_void,
    *const pierhead_http_request,
    *mut pierhead_http_response,
) -> bool;

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

fn checked(config: pierhead::Config, route: Route) -> Result<pierhead::Config, pierhead_result> {
    check(&route)?;
    Ok(config.route(route))
}

/// Calls a C handler for `req`; a false return fails the request: `Err` with the
/// 500 to send.
pub(crate) fn call_handler(
    handler: CHandler,
    data: &UserData,
    req: &Request,
) -> Result<Response, Response> {
    let text = |s: &str| CString::new(s.replace('\0', "%00")).unwrap_or_default();
    let method = text(&req.method);
    let target = text(&req.target);
    let headers: Vec<pierhead_header> = req
        .headers
        .iter()
        .map(|(n, v)| pierhead_header {
            name: n.as_ptr().cast(),
            name_len: n.len(),
            value: v.as_ptr(),
            value_len: v.len(),
        })
        .collect();
    let c_req = pierhead_http_request {
        method: method.as_ptr(),
        target: target.as_ptr(),
        headers: headers.as_ptr(),
        header_count: headers.len(),
        body: if req.body.is_empty() {
            std::ptr::null()
        } else {
            req.body.as_ptr()
        },
        body_len: req.body.len(),
        connection_id: req.connection_id,
    };
    let mut resp = pierhead_http_response {
        inner: Response::new(200),
    };
    // SAFETY: a valid handler with its own user data; the request and response
    // outlive the call.
    let ok = unsafe { handler(data.ptr, &c_req, &mut resp) };
    if ok {
        Ok(resp.inner)
    } else {
        Err(Response::text(500, "handler failed\n"))
    }
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
