//! `_pierhead.Server`: one server's lifecycle, routes, log and errors.
//!
//! The rule that keeps Python code from deadlocking with the server: every call
//! that waits (start, stop, serve_forever) releases the interpreter while it
//! waits, and no lock of ours is held while Python code runs or while we wait.
//! A handler thread that needs the interpreter to finish can therefore always
//! get it, even while the main thread is inside `stop()`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use pierhead::{Config, Protocol, RouteId, Server as CoreServer, State};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::{PyTraverseError, PyVisit};

use crate::callbacks::{stats_callback, StatsSlot};
use crate::config;
use crate::error_sink::ErrorSink;
use crate::errors::{from_start_error, state_error};
use crate::http::Request;
use crate::routes::Route;
use crate::stats::{PublishReport, Stats, StopReport};
use crate::ws_values::WsConnection;

/// How often `serve_forever` looks for signals (Ctrl-C) and for a stop.
const SERVE_POLL: Duration = Duration::from_millis(50);

/// The grace a server gets when it is stopped for the interpreter exiting, or
/// garbage-collected while running.
const EXIT_STOP_GRACE: Duration = Duration::from_secs(1);

/// Every server started and not yet collected, so that `stop_all` (registered with
/// `atexit`) can stop them before the interpreter shuts down.
static LIVE: Mutex<Vec<Weak<CoreServer>>> = Mutex::new(Vec::new());

/// A pierhead server (core handle); `pierhead.Server` wraps it.
#[pyclass(module = "pierhead._pierhead", name = "Server", frozen)]
pub(crate) struct Server {
    config: Config,
    protocol: Protocol,
    /// The running (or last) core server. Locked only to clone or swap the Arc.
    core: Mutex<Option<Arc<CoreServer>>>,
    errors: Arc<ErrorSink>,
    /// The stats callback, and the slot the core's callback reads it from. The slot
    /// is filled only while the server runs, so that a stopped server holds the
    /// callable in one place the garbage collector can see (`__traverse__`): a
    /// callback that refers back to its server then does not keep both alive.
    on_stats: Option<Py<PyAny>>,
    stats_slot: StatsSlot,
}

#[pymethods]
impl Server {
    /// Validates the config at once: a bad option raises `ConfigError` here, not at
    /// `start()`.
    #[new]
    // `workers=1` is DEFAULT_WORKERS, written out so the signature shows it.
    #[pyo3(signature = (protocol="http", host="127.0.0.1", port=0, workers=1, on_stats=None, **limits))]
    fn new(
        py: Python<'_>,
        protocol: &str,
        host: &str,
        port: u16,
        workers: usize,
        on_stats: Option<Py<PyAny>>,
        limits: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Server> {
        let errors = Arc::new(ErrorSink::default());
        let stats_slot = StatsSlot::default();
        let mut config = config::build(py, protocol, host, port, workers, limits)?;
        if let Some(cb) = &on_stats {
            if !cb.bind(py).is_callable() {
                return Err(crate::errors::config_error(
                    py,
                    "on_stats",
                    "invalid config field `on_stats`: must be callable".to_owned(),
                ));
            }
            config = config.on_stats(stats_callback(stats_slot.clone(), errors.clone()));
        }
        Ok(Server {
            protocol: config.get_protocol(),
            config,
            core: Mutex::new(None),
            errors,
            on_stats,
            stats_slot,
        })
    }

    /// Starts serving. Raises `BindError` (an `OSError`) when the address cannot be
    /// listened on, `ServerStateError` when already running.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        if self.current().is_some_and(|s| s.state() != State::Stopped) {
            return Err(state_error(py, "the server is already running"));
        }
        let config = self.config.clone();
        self.arm_stats(py, true);
        let started = py.detach(move || CoreServer::start(config)).map_err(|e| {
            self.arm_stats(py, false);
            from_start_error(py, &e)
        })?;
        let core = Arc::new(started);
        register(&core);
        let old = self.lock().replace(core);
        drop(old);
        Ok(())
    }

    /// Stops gracefully: in-flight work gets up to `timeout` seconds. Idempotent.
    /// Inside a handler or stats callback it starts the stop and returns at once
    /// (`complete=False`).
    #[pyo3(signature = (timeout=5.0))]
    fn stop(&self, py: Python<'_>, timeout: f64) -> PyResult<StopReport> {
        let grace = config::grace(py, "timeout", timeout)?;
        let core = self.running(py)?;
        Ok(self.stop_released(py, core, grace).into())
    }

    /// Serves until `stop()` is called (from another thread, a handler or a stats
    /// callback) or a signal handler raises (Ctrl-C: `KeyboardInterrupt`, raised
    /// within about 50 ms after a stop with `stop_timeout` of grace).
    #[pyo3(signature = (stop_timeout=1.0))]
    fn serve_forever(&self, py: Python<'_>, stop_timeout: f64) -> PyResult<StopReport> {
        let grace = config::grace(py, "stop_timeout", stop_timeout)?;
        let core = self.running(py)?;
        loop {
            let waiting = core.clone();
            let stopping = py.detach(move || wait_for_stop(&waiting, SERVE_POLL));
            if stopping {
                return Ok(self.stop_released(py, core, grace).into());
            }
            if let Err(signal) = py.check_signals() {
                self.stop_released(py, core, grace);
                return Err(signal);
            }
        }
    }

    /// The port listened on.
    #[getter]
    fn port(&self, py: Python<'_>) -> PyResult<u16> {
        Ok(self.running(py)?.port())
    }

    /// The address listened on, as text (`127.0.0.1`, `::1`).
    #[getter]
    fn host(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.running(py)?.local_addr().ip().to_string())
    }

    /// `http://host:port` (IPv6 in brackets), `https://` over TLS; `ws://`
    /// (`wss://`) for WebSocket; `tcp://...` (`tls://...`) for the other protocols.
    #[getter]
    fn url(&self, py: Python<'_>) -> PyResult<String> {
        let core = self.running(py)?;
        let scheme = match (self.protocol, core.is_tls()) {
            (Protocol::Http, false) => "http",
            (Protocol::Http, true) => "https",
            (Protocol::Ws, false) => "ws",
            (Protocol::Ws, true) => "wss",
            (_, false) => "tcp",
            (_, true) => "tls",
        };
        Ok(format!("{scheme}://{}", host_port(core.local_addr())))
    }

    /// The PEM of the CA that signed the generated certificate (`tls=True`, or a
    /// certificate kind), None without TLS or with certificate files.
    #[getter]
    fn tls_ca_pem(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(self.running(py)?.tls_ca_pem().map(str::to_owned))
    }

    /// Whether the server speaks TLS.
    #[getter]
    fn is_tls(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.running(py)?.is_tls())
    }

    /// `http://host:port/metrics` of the Prometheus endpoint (`metrics=`), or None.
    #[getter]
    fn metrics_url(&self, py: Python<'_>) -> PyResult<Option<String>> {
        Ok(self
            .running(py)?
            .metrics_addr()
            .map(|a| format!("http://{}/metrics", host_port(a))))
    }

    /// The stats as Prometheus text (what the endpoint serves).
    fn metrics_text(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.running(py)?.prometheus())
    }

    /// The protocol spoken, by its name (`http`, `echo`, `discard`, `frame`).
    #[getter]
    fn protocol(&self) -> &'static str {
        self.protocol.as_str()
    }

    /// True between `start()` and the beginning of a stop.
    #[getter]
    fn is_running(&self) -> bool {
        self.current().is_some_and(|s| s.state() == State::Running)
    }

    /// `new` (never started), `running`, `stopping`, `stopped` or `failed`.
    #[getter]
    fn state(&self) -> &'static str {
        self.current().map_or("new", |s| s.state().as_str())
    }

    /// A snapshot of the counters (read without locks).
    fn stats(&self, py: Python<'_>) -> PyResult<Stats> {
        Ok(Stats::from(&self.running(py)?.stats()))
    }

    /// Adds a route after the existing ones; returns its id.
    fn add_route(&self, py: Python<'_>, route: &Bound<'_, Route>) -> PyResult<u64> {
        let core = self.running(py)?;
        let r = route.get().to_core(py, &self.errors)?;
        core.add_route(r)
            .map(|id| id.0)
            .map_err(|e| crate::errors::from_config_error(py, &e))
    }

    /// Puts a route at `position` in matching order (0: first; the number of
    /// routes: last) in one step, so requests never see the routes after it
    /// missing; returns its id. A position past the end raises `ConfigError`
    /// naming `position`.
    fn insert_route(
        &self,
        py: Python<'_>,
        position: usize,
        route: &Bound<'_, Route>,
    ) -> PyResult<u64> {
        let core = self.running(py)?;
        let r = route.get().to_core(py, &self.errors)?;
        core.insert_route(position, r)
            .map(|id| id.0)
            .map_err(|e| crate::errors::from_config_error(py, &e))
    }

    /// Replaces a route in place, keeping its id and position; false if there is
    /// none with this id.
    fn replace_route(
        &self,
        py: Python<'_>,
        route_id: u64,
        route: &Bound<'_, Route>,
    ) -> PyResult<bool> {
        let core = self.running(py)?;
        let r = route.get().to_core(py, &self.errors)?;
        core.replace_route(RouteId(route_id), r)
            .map_err(|e| crate::errors::from_config_error(py, &e))
    }

    /// The ids of the routes in force, in matching order.
    fn route_ids(&self, py: Python<'_>) -> PyResult<Vec<u64>> {
        Ok(self
            .running(py)?
            .route_ids()
            .iter()
            .map(|id| id.0)
            .collect())
    }

    /// Removes a route; false if there is none with this id.
    fn remove_route(&self, py: Python<'_>, route_id: u64) -> PyResult<bool> {
        Ok(self.running(py)?.remove_route(RouteId(route_id)))
    }

    /// Removes every route.
    fn clear_routes(&self, py: Python<'_>) -> PyResult<()> {
        self.running(py)?.clear_routes();
        Ok(())
    }

    /// Requests a route has answered; `None` if there is no such route.
    fn route_hits(&self, py: Python<'_>, route_id: u64) -> PyResult<Option<u64>> {
        Ok(self.running(py)?.route_hits(RouteId(route_id)))
    }

    /// The request log, oldest first.
    fn requests(&self, py: Python<'_>) -> PyResult<Vec<Request>> {
        let core = self.running(py)?;
        let log = py.detach(move || core.requests());
        Ok(log.into_iter().map(|inner| Request { inner }).collect())
    }

    /// The connections of WebSocket routes, oldest first (the last `request_log`
    /// of them): what each client sent and how it ended.
    fn ws_connections(&self, py: Python<'_>) -> PyResult<Vec<WsConnection>> {
        let core = self.running(py)?;
        let log = py.detach(move || core.ws_connections());
        Ok(log.into_iter().map(WsConnection::from).collect())
    }

    /// Switches the connect-phase fault: `None` (normal), `"refuse"`, `"hold"`,
    /// `"close"` or `"delay"` (with `seconds`). Returns once every I/O thread
    /// applied it; releases the GIL meanwhile.
    #[pyo3(signature = (fault, seconds=None))]
    fn set_connect_fault(
        &self,
        py: Python<'_>,
        fault: Option<&str>,
        seconds: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let core = self.running(py)?;
        let fault = connect_fault(py, fault, seconds)?;
        py.detach(move || core.set_connect_fault(fault))
            .map_err(|e| crate::errors::from_connect_fault_error(py, &e))
    }

    /// The connect-phase fault in force: None, `"refuse"`, `"hold"`, `"close"` or
    /// `("delay", seconds)`.
    fn connect_fault<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        use pierhead::ConnectFault as F;
        let f = self.running(py)?.connect_fault();
        Ok(match f {
            None => None,
            Some(F::Refuse) => Some("refuse".into_pyobject(py)?.into_any()),
            Some(F::Hold) => Some("hold".into_pyobject(py)?.into_any()),
            Some(F::Close) => Some("close".into_pyobject(py)?.into_any()),
            Some(F::Delay(d)) => Some(("delay", d.as_secs_f64()).into_pyobject(py)?.into_any()),
        })
    }

    /// Closed connections, oldest first: (connection id, `"client"` or `"server"`:
    /// who closed it first).
    fn connections(&self, py: Python<'_>) -> PyResult<Vec<(u64, &'static str)>> {
        let core = self.running(py)?;
        let log = py.detach(move || core.connections());
        Ok(log
            .into_iter()
            .map(|c| {
                let by = match c.closed_by {
                    pierhead::ClosedBy::Client => "client",
                    pierhead::ClosedBy::Server => "server",
                };
                (c.id, by)
            })
            .collect())
    }

    /// Answers requests no expectation matches with `status` from now on.
    fn set_unmatched_status(&self, py: Python<'_>, status: i64) -> PyResult<()> {
        let core = self.running(py)?;
        let status = u16::try_from(status).unwrap_or(0);
        core.set_unmatched_status(status)
            .map_err(|e| crate::errors::from_config_error(py, &e))
    }

    /// Empties the request log (and the connection and WebSocket message logs).
    fn clear_requests(&self, py: Python<'_>) -> PyResult<()> {
        self.running(py)?.clear_requests();
        Ok(())
    }

    /// How many requests no expectation matched, and the first of them (up to
    /// 100), whatever the request log kept.
    fn unmatched(&self, py: Python<'_>) -> PyResult<(u64, Vec<Request>)> {
        let core = self.running(py)?;
        let (count, first) = py.detach(move || core.unmatched_requests());
        Ok((
            count,
            first.into_iter().map(|inner| Request { inner }).collect(),
        ))
    }

    /// Forgets the unmatched requests.
    fn clear_unmatched(&self, py: Python<'_>) -> PyResult<()> {
        self.running(py)?.clear_unmatched();
        Ok(())
    }

    /// Sends a data frame with `payload` to every member of `room` (frame
    /// protocol); returns once every worker has queued it. Releases the GIL.
    fn publish(
        &self,
        py: Python<'_>,
        room: &str,
        payload: &Bound<'_, PyAny>,
    ) -> PyResult<PublishReport> {
        let core = self.running(py)?;
        let (bytes, _) = crate::body::body_bytes(py, payload, "payload")?;
        let room = room.to_owned();
        py.detach(move || core.publish(&room, &bytes))
            .map(PublishReport::from)
            .map_err(|e| crate::errors::from_publish_error(py, &e))
    }

    /// The rooms with members, by name, with their member counts.
    fn rooms(&self, py: Python<'_>) -> PyResult<Vec<(String, u64)>> {
        Ok(self.running(py)?.rooms())
    }

    /// Requests pushed out of the full log since start.
    #[getter]
    fn requests_evicted(&self, py: Python<'_>) -> PyResult<u64> {
        Ok(self.running(py)?.requests_evicted())
    }

    /// Exceptions raised by handlers and the stats callback, and ordering failures,
    /// oldest first (at most 1000 kept; `errors_dropped` counts the rest).
    fn errors(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        self.errors.snapshot(py).0
    }

    /// Errors not kept because 1000 already were.
    #[getter]
    fn errors_dropped(&self, py: Python<'_>) -> u64 {
        self.errors.snapshot(py).1
    }

    /// Forgets the kept errors.
    fn clear_errors(&self) {
        self.errors.clear();
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(cb) = &self.on_stats {
            visit.call(cb)?;
        }
        Ok(())
    }
}

impl Server {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<CoreServer>>> {
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fills (or empties) the slot the stats callback reads.
    fn arm_stats(&self, py: Python<'_>, on: bool) {
        let value = if on {
            self.on_stats.as_ref().map(|cb| cb.clone_ref(py))
        } else {
            None
        };
        let old = std::mem::replace(
            &mut *self
                .stats_slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            value,
        );
        drop(old);
    }

    /// Stops `core` with the interpreter released; after a complete stop no
    /// callback runs again, so the stats callable is let go.
    fn stop_released(
        &self,
        py: Python<'_>,
        core: Arc<CoreServer>,
        grace: Duration,
    ) -> pierhead::StopReport {
        let report = py.detach(move || core.stop(grace));
        if report.complete {
            self.arm_stats(py, false);
        }
        report
    }

    fn current(&self) -> Option<Arc<CoreServer>> {
        self.lock().clone()
    }

    /// The core server, or `ServerStateError` if it was never started.
    fn running(&self, py: Python<'_>) -> PyResult<Arc<CoreServer>> {
        self.current()
            .ok_or_else(|| state_error(py, "the server has not been started (call start())"))
    }
}

impl Drop for Server {
    /// A server collected while running stops with a short grace, releasing the
    /// interpreter while it waits (a handler may need it to finish).
    fn drop(&mut self) {
        let core = self
            .core
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(core) = core {
            stop_on_drop(core, EXIT_STOP_GRACE);
        }
    }
}

/// Stops `core`, releasing the interpreter if this thread can hold it (not during
/// interpreter shutdown).
fn stop_on_drop(core: Arc<CoreServer>, grace: Duration) {
    Python::try_attach(|py| {
        let c = core.clone();
        py.detach(move || c.stop(grace));
    })
    .unwrap_or_else(|| {
        core.stop(grace);
    });
}

/// `host:port`, with an IPv6 host in brackets.
/// A connect fault from its Python name.
fn connect_fault(
    py: Python<'_>,
    fault: Option<&str>,
    seconds: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<pierhead::ConnectFault>> {
    use pierhead::ConnectFault as F;
    let bad = |msg: String| crate::errors::config_error(py, "connect_fault", msg);
    Ok(match (fault, seconds) {
        (None, None) => None,
        (Some("refuse"), None) => Some(F::Refuse),
        (Some("hold"), None) => Some(F::Hold),
        (Some("close"), None) => Some(F::Close),
        (Some("delay"), Some(s)) => Some(F::Delay(config::seconds(py, "connect_fault.seconds", s)?)),
        (Some("delay"), None) => {
            return Err(bad(
                "invalid config field `connect_fault`: \"delay\" needs seconds=".to_owned(),
            ))
        }
        (Some(other), None) => {
            return Err(bad(format!(
                "invalid config field `connect_fault`: must be None, \"refuse\", \"hold\", \"close\" or \"delay\", got {other:?}"
            )))
        }
        (_, Some(_)) => {
            return Err(bad(
                "invalid config field `connect_fault`: seconds= goes with \"delay\" only".to_owned(),
            ))
        }
    })
}

fn host_port(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// Waits up to `limit` for the server to leave the running state.
fn wait_for_stop(core: &CoreServer, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    loop {
        if core.state() != State::Running {
            return true;
        }
        let now = Instant::now();
        if now >= until {
            return false;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(10)));
    }
}

fn register(core: &Arc<CoreServer>) {
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(core));
}

/// Stops every live server (registered with `atexit` by the package, so servers
/// never outlive the interpreter's threads). Returns how many were running.
#[pyfunction]
#[pyo3(signature = (timeout=1.0))]
pub(crate) fn stop_all(py: Python<'_>, timeout: f64) -> PyResult<usize> {
    let grace = config::grace(py, "timeout", timeout)?;
    let servers: Vec<Arc<CoreServer>> =
        std::mem::take(&mut *LIVE.lock().unwrap_or_else(PoisonError::into_inner))
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
    let running = servers
        .iter()
        .filter(|s| s.state() == State::Running)
        .count();
    py.detach(move || {
        for s in &servers {
            s.stop(grace);
        }
    });
    Ok(running)
}
