//! What the HTTP service's workers share with the server handle and the handler
//! threads: the routes (changed at run time from any thread), the request log (and
//! the WebSocket routes' message log) and the requests no route matched.

use crate::config::Config;
use crate::routing::log::{Misses, RequestLog};
use crate::routing::table::RouteStore;
use crate::routing::ws_log::WsLog;

/// The HTTP service's server-wide state.
pub(crate) struct HttpShared {
    /// The routes, changed at run time from any thread.
    pub(crate) routes: RouteStore,
    /// The request log, if the config turned it on.
    pub(crate) log: Option<RequestLog>,
    /// The WebSocket routes' message log, on with the request log.
    pub(crate) ws_log: Option<WsLog>,
    /// Requests no route matched (whatever the log keeps).
    pub(crate) misses: Misses,
}

impl HttpShared {
    /// From the config (whose routes move into the store: a large body is not
    /// kept twice).
    pub(crate) fn new(config: &mut Config) -> HttpShared {
        HttpShared {
            routes: RouteStore::new(std::mem::take(&mut config.routes)),
            log: (config.request_log > 0)
                .then(|| RequestLog::new(config.request_log, config.request_log_body_bytes)),
            ws_log: (config.request_log > 0)
                .then(|| WsLog::new(config.request_log, config.request_log_body_bytes)),
            misses: Misses::new(config.request_log_body_bytes),
        }
    }
}
