//! The server handle: start, stats, stop.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::{Interest, Poll, Waker};

use crate::backplane::{self, Backplane, BackplaneStats};
use crate::config::{Config, Protocol};
use crate::engine::{WorkerReport, WorkerSetup, LISTENER, WAKER};
use crate::error::{ConfigError, StartError};
use crate::faults::{ConnectFault, ConnectFaultError};
use crate::rooms::publish::{PublishError, PublishReport};
use crate::rooms::remote::Remote;
use crate::routing::{ConnectionRecord, Request, Route, RouteId, WsConnection};
use crate::server_core::ServerCore;
use crate::service::http::{unmatched_answer, HttpOwn};
use crate::service::run::{run_worker, Services};
use crate::stats::{self, State, Stats};
use crate::tls::Tls;
use crate::{net, reporter};

/// Least time stop waits for busy handler threads, even after the deadline.
const HANDLER_JOIN_MIN: Duration = Duration::from_millis(50);

/// Least time stop waits for the backplane's thread to close its connections.
const BACKPLANE_JOIN_MIN: Duration = Duration::from_millis(100);

/// The grace period `Drop` gives in-flight work.
pub const DROP_STOP_DEADLINE: Duration = Duration::from_secs(2);

/// What a stop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopReport {
    /// Connections with nothing in flight, closed at once.
    pub idle_closed: u64,
    /// Connections that finished their in-flight work and closed before the deadline.
    pub drained: u64,
    /// Connections still busy at the deadline, closed by force.
    pub force_closed: u64,
    /// From the first stop request until every thread had exited.
    pub elapsed: Duration,
    /// False when stop was called on one of the server's own threads (inside a
    /// callback): the stop was started but cannot be waited for there. It completes
    /// once the callback returns; a later `stop` from another thread (or `Drop`) waits
    /// for it and returns the complete report.
    pub complete: bool,
    /// Handler threads still inside a handler when stop gave up waiting for them
    /// (at the deadline). They are left to finish on their own; no new handler call
    /// starts after stop returns.
    pub handlers_abandoned: u64,
    /// The backplane's final figures (outages, frames not published, ...), when one
    /// is configured and the stop is complete.
    pub backplane: Option<BackplaneStats>,
}

impl StopReport {
    fn empty(complete: bool) -> StopReport {
        StopReport {
            idle_closed: 0,
            drained: 0,
            force_closed: 0,
            elapsed: Duration::ZERO,
            complete,
            handlers_abandoned: 0,
            backplane: None,
        }
    }
}

/// A running server. Start it with [`Server::start`]; it stops on [`Server::stop`]
/// or when dropped. `Server` is `Send + Sync`: any thread may read stats or stop it.
///
/// ```
/// use pierhead::{Config, Protocol, Server};
/// use std::io::{Read, Write};
/// use std::time::{Duration, Instant};
///
/// let server = Server::start(Config::new().protocol(Protocol::Echo).workers(1)).unwrap();
/// let mut client = std::net::TcpStream::connect(server.local_addr()).unwrap();
/// client.write_all(b"ping").unwrap();
/// let mut buf = [0; 4];
/// client.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"ping");
/// let report = server.stop(Duration::from_secs(1));
/// assert_eq!(report.idle_closed, 1);
/// ```
pub struct Server {
    shared: Arc<ServerCore>,
    /// The services' own server-wide state (the HTTP routes and log, ...).
    services: Arc<Services>,
    local_addr: SocketAddr,
    threads: Mutex<Threads>,
    /// The Prometheus endpoint (`Config::metrics`): a server of its own.
    metrics: Option<Box<Server>>,
}

#[derive(Default)]
struct Threads {
    workers: Vec<JoinHandle<WorkerReport>>,
    reporter: Option<JoinHandle<()>>,
    backplane: Option<JoinHandle<()>>,
    report: Option<StopReport>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("protocol", &self.shared.config.protocol)
            .field("state", &self.shared.state())
            .finish()
    }
}

impl Server {
    /// Validates `config`, binds the listener and starts the worker threads. Returns
    /// once the listener is bound, so the real port is known ([`Server::local_addr`]).
    /// On error nothing is left running.
    pub fn start(config: Config) -> Result<Server, StartError> {
        Server::start_with(config, run_worker)
    }

    /// [`Server::start`] with workers run by `run` (the configured protocol's
    /// service, or a test's own).
    pub(crate) fn start_with(
        config: Config,
        run: fn(WorkerSetup, Arc<ServerCore>, Arc<Services>) -> WorkerReport,
    ) -> Result<Server, StartError> {
        config.validate()?;
        let addr = config.resolve_bind()?;
        let tls = match &config.tls {
            Some(o) => Some(Tls::build(
                o,
                config.protocol.alpn(),
                config.tls_resumption,
            )?),
            None => None,
        };
        // The link's own loop: made here so that start fails cleanly if it cannot be.
        let link = match config.backplane_url()? {
            Some(url) => {
                let poll = Poll::new().map_err(StartError::EventLoop)?;
                let waker =
                    Waker::new(poll.registry(), backplane::WAKE).map_err(StartError::EventLoop)?;
                let bp = Arc::new(Backplane::new(url, config.max_frame_bytes, waker));
                Some((poll, bp))
            }
            None => None,
        };
        let socket = net::listen(addr, config.listen_backlog)?;
        let local_addr = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .unwrap_or(addr);

        let mut setups = Vec::with_capacity(config.workers);
        let mut wakers = Vec::with_capacity(config.workers);
        for index in 0..config.workers {
            let poll = Poll::new().map_err(StartError::EventLoop)?;
            let waker = Waker::new(poll.registry(), WAKER).map_err(StartError::EventLoop)?;
            let mut listener = net::worker_listener(&socket, local_addr)?;
            poll.registry()
                .register(&mut listener, LISTENER, Interest::READABLE)
                .map_err(StartError::EventLoop)?;
            setups.push(WorkerSetup {
                index,
                poll,
                listener,
            });
            wakers.push(waker);
        }
        // Each worker holds its own duplicate now.
        drop(socket);

        let mut config = config;
        let wakers: Arc<[Waker]> = wakers.into();
        let id = ServerCore::next_id();
        let services = Arc::new(Services {
            http: Arc::new(HttpOwn::new(&mut config, wakers.clone(), id)),
        });
        let shared = Arc::new(ServerCore::new(
            config,
            wakers,
            link.as_ref().map(|(_, bp)| bp.clone()),
            tls,
            id,
        ));
        let mut server = Server {
            shared: shared.clone(),
            services: services.clone(),
            local_addr,
            threads: Mutex::new(Threads::default()),
            metrics: None,
        };
        {
            let mut threads = server.lock_threads();
            for setup in setups {
                let (shared, services) = (shared.clone(), services.clone());
                let handle = thread::Builder::new()
                    .name(format!("pierhead-w{}", setup.index))
                    .spawn(move || run(setup, shared, services))
                    .map_err(StartError::Spawn)?; // dropping `server` stops the rest
                threads.workers.push(handle);
            }
            if let Some((poll, bp)) = link {
                let local = Remote::new(shared.rooms.clone(), shared.wakers.clone());
                let handle = thread::Builder::new()
                    .name("pierhead-backplane".to_owned())
                    .spawn(move || backplane::run(poll, bp, local))
                    .map_err(StartError::Spawn)?;
                threads.backplane = Some(handle);
            }
            if let Some(callback) = shared.config.on_stats.clone() {
                let shared = shared.clone();
                let handle = thread::Builder::new()
                    .name("pierhead-stats".to_owned())
                    .spawn(move || reporter::run(shared, callback))
                    .map_err(StartError::Spawn)?;
                threads.reporter = Some(handle);
            }
        }
        if let Some(addr) = shared.config.metrics.clone() {
            // A failure drops `server`, which stops what was started.
            server.metrics = Some(Box::new(Server::start(stats::endpoint_config(
                &addr,
                shared.clone(),
            ))?));
        }
        Ok(server)
    }

    /// Where the Prometheus endpoint listens (`Config::metrics`), if it is on:
    /// `http://ADDR/metrics`.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.local_addr())
    }

    /// The stats as Prometheus text (what the endpoint serves), whether or not
    /// the endpoint is on.
    pub fn prometheus(&self) -> String {
        stats::prometheus_text(&self.stats(), self.shared.config.protocol)
    }

    /// The bound address (with the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether connections speak TLS (`Config::tls_*`).
    pub fn is_tls(&self) -> bool {
        self.shared.tls.is_some()
    }

    /// The CA that signed the generated certificate, as PEM (for clients to
    /// trust), when TLS is on with `Config::tls_auto`.
    pub fn tls_ca_pem(&self) -> Option<&str> {
        self.shared.tls.as_ref()?.ca_pem.as_deref()
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The protocol this server speaks.
    pub fn protocol(&self) -> Protocol {
        self.shared.config.protocol
    }

    /// The lifecycle state.
    pub fn state(&self) -> State {
        self.shared.state()
    }

    /// Switches the connect-phase fault (`None`: back to normal) while running; see
    /// [`ConnectFault`]. Returns once every worker applied it. Ending
    /// [`ConnectFault::Refuse`] binds the address again, which fails (and the server
    /// keeps refusing) if another socket took the port meanwhile.
    pub fn set_connect_fault(&self, fault: Option<ConnectFault>) -> Result<(), ConnectFaultError> {
        if self.shared.stop_requested() || self.shared.state() != State::Running {
            return Err(ConnectFaultError::NotRunning);
        }
        let addr = self.local_addr;
        let config = &self.shared.config;
        let version = self.shared.gate.set(fault, || {
            let rebind = |e: StartError| match e {
                StartError::Bind { source, .. } => ConnectFaultError::Rebind { addr, source },
                other => ConnectFaultError::Rebind {
                    addr,
                    source: std::io::Error::other(other.to_string()),
                },
            };
            let socket = net::listen(addr, config.listen_backlog).map_err(rebind)?;
            (0..config.workers)
                .map(|_| net::worker_listener(&socket, addr).map_err(rebind))
                .collect()
        })?;
        self.shared.wake_all();
        self.shared.gate.wait_applied(version);
        Ok(())
    }

    /// The connect-phase fault in force (`None`: normal).
    pub fn connect_fault(&self) -> Option<ConnectFault> {
        self.shared.gate.fault()
    }

    /// A snapshot of the counters, summed over the workers; never blocks serving.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Adds a route after the existing ones; it applies to requests read from now on.
    /// An invalid route is rejected with an error naming the field.
    pub fn add_route(&self, route: Route) -> Result<RouteId, ConfigError> {
        self.services.http.shared.routes.add(route)
    }

    /// Puts a route at `position` in matching order (0: before every other route;
    /// `route_ids().len()`: after them, as `add_route`); it applies to requests
    /// read from now on. Workers see the routes before the insertion or after it,
    /// never a table in between. A position past the end is refused (an error
    /// naming `position`), as is an invalid route; neither changes anything.
    pub fn insert_route(&self, position: usize, route: Route) -> Result<RouteId, ConfigError> {
        self.services.http.shared.routes.insert(position, route)
    }

    /// Replaces route `id` in place (its use count starts afresh). False if there is
    /// no such route.
    pub fn replace_route(&self, id: RouteId, route: Route) -> Result<bool, ConfigError> {
        self.services.http.shared.routes.replace(id, route)
    }

    /// Removes route `id`. False if there is no such route.
    pub fn remove_route(&self, id: RouteId) -> bool {
        self.services.http.shared.routes.remove(id)
    }

    /// Removes every route: requests get the fixed `hello` response again.
    pub fn clear_routes(&self) {
        self.services.http.shared.routes.clear();
    }

    /// The routes in force, in matching order.
    pub fn route_ids(&self) -> Vec<RouteId> {
        self.services.http.shared.routes.ids()
    }

    /// How many requests route `id` has answered (`None` if there is no such route).
    pub fn route_hits(&self, id: RouteId) -> Option<u64> {
        self.services.http.shared.routes.hits(id)
    }

    /// The requests in the request log, oldest first (empty unless
    /// `Config::request_log` turned it on).
    pub fn requests(&self) -> Vec<Request> {
        self.services
            .http
            .shared
            .log
            .as_ref()
            .map_or_else(Vec::new, |l| l.snapshot())
    }

    /// The connections of WebSocket routes ([`Route::websocket`]), oldest first
    /// (the last `request_log` of them): what each client sent, in order, and how
    /// it ended. Empty unless `Config::request_log` turned the log on.
    pub fn ws_connections(&self) -> Vec<WsConnection> {
        self.services
            .http
            .shared
            .ws_log
            .as_ref()
            .map_or_else(Vec::new, |l| l.snapshot())
    }

    /// Empties the request log (and the connection log, and the WebSocket
    /// message log).
    pub fn clear_requests(&self) {
        if let Some(log) = &self.services.http.shared.log {
            log.clear();
        }
        if let Some(log) = &self.services.http.shared.ws_log {
            log.clear();
        }
        if let Some(log) = &self.shared.connections {
            log.clear();
        }
    }

    /// The connections closed so far (the last `request_log` of them; kept when
    /// the request log is on), oldest first: who closed each one first. With
    /// [`Request::connection_id`] in the request log, this shows whether a client
    /// reuses connections and who ends them.
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        self.shared
            .connections
            .as_ref()
            .map_or_else(Vec::new, |l| l.snapshot())
    }

    /// How many requests no route matched (they got the unmatched status) since
    /// start or [`Server::clear_unmatched`], counted whatever the request log keeps,
    /// and the first of them (up to 100, bodies cut like the log's). A server
    /// without routes that answers the fixed response matches everything.
    pub fn unmatched_requests(&self) -> (u64, Vec<Request>) {
        self.services.http.shared.misses.snapshot()
    }

    /// Answers requests no route matches with `status` from now on (the config's
    /// `unmatched_status` until then): e.g. 404 for a test that expects
    /// unexpected requests. An error names `unmatched_status`.
    pub fn set_unmatched_status(&self, status: u16) -> Result<(), ConfigError> {
        crate::config::check_unmatched_status(status)?;
        self.services
            .http
            .shared
            .routes
            .set_unmatched(unmatched_answer(status));
        Ok(())
    }

    /// Forgets the unmatched requests.
    pub fn clear_unmatched(&self) {
        self.services.http.shared.misses.clear();
    }

    /// Sends a data frame with `payload` to every member of `room` (frame protocol),
    /// on every worker, and returns once every worker has queued it (or applied
    /// the slow-consumer policy): how many members got it, how many did not, how
    /// many were disconnected. A room with no members gives an empty report.
    pub fn publish(&self, room: &str, payload: &[u8]) -> Result<PublishReport, PublishError> {
        if self.shared.stop_requested() {
            return Err(match self.shared.state() {
                State::Stopped | State::Failed => PublishError::Stopped,
                State::Running | State::Stopping => PublishError::Stopping,
            });
        }
        let s = &self.shared;
        crate::rooms::publish::publish(&s.rooms, &s.wakers, &s.config, room, payload)
    }

    /// The rooms with members (frame protocol), by name, with their member counts.
    pub fn rooms(&self) -> Vec<(String, u64)> {
        self.shared.rooms.list()
    }

    /// Requests pushed out of the full request log since start.
    pub fn requests_evicted(&self) -> u64 {
        self.services
            .http
            .shared
            .log
            .as_ref()
            .map_or(0, |l| l.evicted())
    }

    /// Stops the server: stop accepting at once, close idle connections at once,
    /// let in-flight work finish until `grace` has passed (HTTP responses then say
    /// `Connection: close`), close the rest, and join every thread.
    ///
    /// Idempotent: later calls return the first stop's report (their `grace` is
    /// ignored). Callable from any thread. Called on one of the server's own threads
    /// (inside a stats callback) it starts the stop and returns at once with
    /// `complete: false`, because a thread cannot wait for itself. After a complete
    /// stop returns, no callback runs again.
    pub fn stop(&self, grace: Duration) -> StopReport {
        self.shared.request_stop(grace);
        if self.shared.on_own_thread() {
            return StopReport::empty(false);
        }
        let mut threads = self.lock_threads();
        if let Some(report) = &threads.report {
            return report.clone();
        }
        let mut report = StopReport::empty(true);
        for handle in threads.workers.drain(..) {
            match handle.join() {
                Ok(w) => {
                    report.idle_closed += w.idle_closed;
                    report.drained += w.drained;
                    report.force_closed += w.force_closed;
                }
                // `engine::run` catches panics; this is unreachable in practice.
                Err(_) => self.shared.set_state(State::Failed),
            }
        }
        // Idle handler threads exit at once; busy ones get what is left of the grace
        // period (at least a moment, so a handler just returning is not abandoned).
        let stop = self.shared.stop_request();
        let handler_deadline = stop
            .map_or_else(Instant::now, |r| r.deadline)
            .max(Instant::now() + HANDLER_JOIN_MIN);
        report.handlers_abandoned = self.services.http.handlers.join(handler_deadline);
        if let Some(handle) = threads.reporter.take() {
            let _ = handle.join();
        }
        if let Some(handle) = threads.backplane.take() {
            report.backplane = self.join_backplane(handle, handler_deadline);
        }
        self.shared.set_state(State::Stopped);
        report.elapsed = self
            .shared
            .stop_request()
            .map_or(Duration::ZERO, |r| r.at.elapsed());
        threads.report = Some(report.clone());
        drop(threads);
        if let Some(m) = &self.metrics {
            m.stop(stats::METRICS_STOP);
        }
        report
    }

    /// Waits for the link thread (told to stop by the last worker) until
    /// `deadline`, at least a moment; never longer: a broker never holds up stop.
    fn join_backplane(&self, handle: JoinHandle<()>, deadline: Instant) -> Option<BackplaneStats> {
        let bp = self.shared.rooms.backplane.as_ref()?;
        bp.request_stop();
        let deadline = deadline.max(Instant::now() + BACKPLANE_JOIN_MIN);
        while !handle.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_micros(200));
        }
        if handle.is_finished() {
            let _ = handle.join();
        }
        Some(bp.stats())
    }

    fn lock_threads(&self) -> std::sync::MutexGuard<'_, Threads> {
        self.threads.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Server {
    /// Stops with [`DROP_STOP_DEADLINE`]. Dropped on one of its own threads, the
    /// stop is started and the threads finish on their own (they are not joined).
    fn drop(&mut self) {
        self.stop(DROP_STOP_DEADLINE);
    }
}
