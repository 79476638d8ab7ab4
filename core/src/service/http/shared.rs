//! What the HTTP service's workers share with the server handle and the handler
//! threads: the routes (changed at run time from any thread), the request log, the
//! requests no route matched, and the handler pool.

use std::sync::Arc;

use mio::Waker;

use super::handlers::HandlerPool;
use crate::config::Config;
use crate::routing::log::{Misses, RequestLog};
use crate::routing::table::RouteStore;

/// The HTTP service's server-wide state.
pub(crate) struct HttpShared {
    /// The routes, changed at run time from any thread.
    pub(crate) routes: RouteStore,
    /// The request log, if the config turned it on.
    pub(crate) log: Option<RequestLog>,
    /// Requests no route matched (whatever the log keeps).
    pub(crate) misses: Misses,
    /// The threads that run handlers, off the I/O threads.
    pub(crate) handlers: HandlerPool,
}

impl HttpShared {
    /// From the config (whose routes move into the store: a large body is not
    /// kept twice); `wakers` wake the workers when a handler's answer is ready,
    /// `server_id` marks the handler threads as the server's own.
    pub(crate) fn new(config: &mut Config, wakers: Arc<[Waker]>, server_id: u64) -> HttpShared {
        HttpShared {
            routes: RouteStore::new(std::mem::take(&mut config.routes)),
            log: (config.request_log > 0)
                .then(|| RequestLog::new(config.request_log, config.request_log_body_bytes)),
            misses: Misses::new(config.request_log_body_bytes),
            handlers: HandlerPool::new(config.handler_threads, wakers, server_id),
        }
    }
}
