//! Handlers: callbacks that build a response from a request.

use super::request::Request;
use super::response::Response;

/// Builds the response to a request. Runs on one of the server's handler threads
/// (`pierhead-h<N>`), never on an I/O thread, so a slow handler delays only its own
/// request (and the requests pipelined behind it on the same connection). A panic
/// is caught: the client gets `500` and `Stats::handler_errors` counts it. A handler
/// that takes longer than `Config::handler_timeout` is answered `500` the same way
/// and its late result dropped.
///
/// Any `Fn(&Request) -> Response + Send + Sync + 'static` closure is a handler.
/// A handler may call `Server::stop` (it returns at once, `complete: false`).
pub trait Handler: Send + Sync + 'static {
    /// Builds the response to `request`.
    fn handle(&self, request: &Request) -> Response;

    /// Like [`Handler::handle`], but may report a failure: `Err(response)` is sent
    /// all the same and counted in `Stats::handler_errors`. The default calls
    /// `handle`. Bindings whose callbacks fail by raising (Python) or returning
    /// false (C) implement this, so their failures count like panics do.
    fn try_handle(&self, request: &Request) -> Result<Response, Response> {
        Ok(self.handle(request))
    }
}

impl<F> Handler for F
where
    F: Fn(&Request) -> Response + Send + Sync + 'static,
{
    fn handle(&self, request: &Request) -> Response {
        self(request)
    }
}
