//! Which service runs a worker: the one place the protocols are named to the
//! engine, and the services' server-wide state.

use std::sync::Arc;

use super::discard::Discard;
use super::echo::Echo;
use super::frame::FrameService;
use super::http::{HttpOwn, HttpService};
use super::ws::WsService;
use crate::config::Protocol;
use crate::engine::{self, WorkerReport, WorkerSetup};
use crate::server_core::ServerCore;

/// The services' server-wide state, made once at start and shared by the server
/// handle, the workers and the services' own threads.
pub(crate) struct Services {
    /// The HTTP routes, request log and handler pool.
    pub(crate) http: Arc<HttpOwn>,
}

/// Runs worker `setup.index` with the service of the configured protocol.
pub(crate) fn run_worker(
    setup: WorkerSetup,
    shared: Arc<ServerCore>,
    services: Arc<Services>,
) -> WorkerReport {
    match shared.config.protocol {
        Protocol::Discard => engine::run::<Discard>(setup, shared, Arc::new(())),
        Protocol::Echo => engine::run::<Echo>(setup, shared, Arc::new(())),
        Protocol::Http => engine::run::<HttpService>(setup, shared, services.http.clone()),
        Protocol::Frame => engine::run::<FrameService>(setup, shared, Arc::new(())),
        Protocol::Ws => engine::run::<WsService>(setup, shared, Arc::new(())),
    }
}
