//! A C handler callback as a core handler: what the handler sees (the
//! `pierhead_http_request` with its `pierhead_header`s, the
//! `pierhead_http_response` it fills), the callback type, and the adapter that
//! calls it for a request on the server's handler threads.
//!
//! Ownership: everything in a `pierhead_http_request` belongs to the library and is
//! valid only during the handler call. The `pierhead_http_response` is owned by the
//! library too; the handler fills it with the `pierhead_http_response_*` functions
//! (in `http`), which copy what they are given.

use std::sync::Arc;

use pierhead::{Handler, Request, Response, Route};

use crate::boundary::{c_string, required};
use crate::result::pierhead_result;
use crate::UserData;

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
    pub(crate) inner: Response,
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

/// A non-NULL handler and its user data, shared by every copy of the route.
pub(crate) fn handler_with_data(
    handler: pierhead_http_handler,
    user_data: *mut libc::c_void,
    finalizer: crate::pierhead_free_callback,
) -> Result<(CHandler, Arc<UserData>), pierhead_result> {
    let handler = required(handler, "handler")?;
    Ok((handler, Arc::new(UserData::new(user_data, finalizer))))
}

/// Makes `route` answer through a C handler and its user data.
pub(crate) fn with_c_handler(route: Route, handler: CHandler, data: Arc<UserData>) -> Route {
    route.handler(CallC { handler, data })
}

/// A C handler with its user data, as a core handler: a false return is a
/// reported failure (500, counted in `handler_errors`).
struct CallC {
    handler: CHandler,
    data: Arc<UserData>,
}

impl Handler for CallC {
    fn handle(&self, request: &Request) -> Response {
        self.try_handle(request).unwrap_or_else(|failed| failed)
    }

    fn try_handle(&self, request: &Request) -> Result<Response, Response> {
        call_handler(self.handler, &self.data, request)
    }
}

/// Calls a C handler for `req`; a false return fails the request: `Err` with the
/// 500 to send.
fn call_handler(handler: CHandler, data: &UserData, req: &Request) -> Result<Response, Response> {
    let method = c_string(&req.method);
    let target = c_string(&req.target);
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
