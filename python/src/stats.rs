//! `Stats` and `StopReport`: immutable snapshots handed to Python.

use pierhead::{
    BackplaneStats as CoreBackplaneStats, StatGroup, StatValue, Stats as CoreStats,
    StopReport as CoreStopReport,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A snapshot of a server's counters, summed over its workers.
///
/// Each field is documented as in the core's stats table (`pierhead::Stats::FIELDS`);
/// tests/python/test_stats_table.py checks the fields, their docs and the stub.
#[pyclass(module = "pierhead._pierhead", name = "Stats", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct Stats {
    /// Time since the server started. In seconds.
    pub uptime: f64,
    /// Lifecycle state: running, stopping, stopped or failed.
    pub state: &'static str,
    /// Connections open now.
    pub connections_active: u64,
    /// Connections accepted and served (refused ones are not included).
    pub connections_accepted: u64,
    /// Connections closed, for any reason.
    pub connections_closed: u64,
    /// Connections accepted then closed at once because `max_connections` was reached.
    pub connections_refused: u64,
    /// Requests received: HTTP requests, frames (frame protocol), or handshakes and messages (ws).
    pub requests: u64,
    /// Responses sent: HTTP responses (error responses included), or frames sent
    /// (frame protocol: echoes, control answers and broadcast deliveries), or handshake answers and messages sent (ws).
    pub responses: u64,
    /// Bytes received from clients.
    pub bytes_read: u64,
    /// Bytes sent to clients, counted once each write returns (so a snapshot may
    /// lag, by one write, bytes a client has already read).
    pub bytes_written: u64,
    /// Rooms with at least one member, now.
    pub rooms: u64,
    /// Members over all rooms, now.
    pub members: u64,
    /// Data frames broadcast to a room (by members and by the host program's
    /// publish). The host program publishes with `Server.publish`.
    pub broadcasts: u64,
    /// Broadcast frames delivered to a member (one per recipient), counted once
    /// the whole frame is handed to the kernel (so, like `bytes_written`, a
    /// snapshot may lag a frame a client has already read).
    pub deliveries: u64,
    /// Broadcast frames a member did not get: dropped by `drop_newest` or
    /// `drop_oldest`, cut from (or offered to) a member being disconnected as a
    /// slow consumer, or left queued when a member's connection closed. With
    /// `deliveries`, every frame offered to a member is counted once.
    pub frames_dropped: u64,
    /// Room members disconnected as slow consumers: their pending output stayed
    /// over `max_output_bytes`.
    pub slow_consumer_disconnects: u64,
    /// The Redis backplane's link and counts, when one is configured.
    pub backplane: Option<BackplaneStats>,
    /// Bad input from a client: malformed or oversized requests and frames,
    /// broken TLS records.
    pub protocol_errors: u64,
    /// Connections closed by a timeout (idle, header, write stall).
    pub timeouts: u64,
    /// Failed `accept()` calls (e.g. EMFILE), each followed by a back-off.
    pub accept_errors: u64,
    /// Failures of user code: handlers and callbacks that panicked or returned
    /// an error.
    pub handler_errors: u64,
    /// Panics caught inside the engine: the connection was closed, the server
    /// kept serving.
    pub internal_errors: u64,
}

/// The Redis backplane's link and counts.
#[pyclass(
    module = "pierhead._pierhead",
    name = "BackplaneStats",
    frozen,
    get_all
)]
#[derive(Clone)]
pub(crate) struct BackplaneStats {
    /// The link to the broker: connecting, connected, down or stopped.
    pub state: &'static str,
    /// This server's id: the tag its published frames carry.
    pub server_id: u64,
    /// Room channels this server is subscribed to now.
    pub subscriptions: u64,
    /// Frames published to the broker and confirmed by it.
    pub published: u64,
    /// Frames that were not published: dropped while the broker was down or too
    /// slow (the queue was full), refused by it, or not yet written whole when
    /// the link was lost or the server stopped. Members on other servers missed
    /// them.
    pub unpublished: u64,
    /// Frames written to the broker whose confirmation never came: the link was
    /// lost (or the server stopped) first. The broker may have run them or not (a
    /// broker that was frozen runs them when it resumes), so members on other
    /// servers may or may not have got them.
    pub unconfirmed: u64,
    /// Frames from other servers handed to this server's members.
    pub received: u64,
    /// This server's own frames coming back from the broker, dropped.
    pub echoes_dropped: u64,
    /// Messages on a room channel that were not a valid data frame (or were over
    /// this server's `max_frame_bytes`), dropped.
    pub bad_messages: u64,
    /// Times the link went down (including an unreachable broker at start).
    pub outages: u64,
    /// Times the link came back up after an outage.
    pub reconnects: u64,
    /// Total time the link was not up (connecting or down). In seconds.
    pub down_time: f64,
    /// The last error on the link (connect, authentication, protocol), if any.
    pub last_error: Option<String>,
}

impl From<&CoreBackplaneStats> for BackplaneStats {
    fn from(b: &CoreBackplaneStats) -> BackplaneStats {
        BackplaneStats {
            state: b.state.as_str(),
            server_id: b.server_id,
            published: b.published,
            unpublished: b.unpublished,
            unconfirmed: b.unconfirmed,
            received: b.received,
            echoes_dropped: b.echoes_dropped,
            bad_messages: b.bad_messages,
            outages: b.outages,
            reconnects: b.reconnects,
            down_time: b.down_time.as_secs_f64(),
            subscriptions: b.subscriptions,
            last_error: b.last_error.clone(),
        }
    }
}

#[pymethods]
impl BackplaneStats {
    fn __repr__(&self) -> String {
        format!(
            "BackplaneStats(state={:?}, subscriptions={}, published={}, unpublished={}, \
             unconfirmed={}, received={}, outages={}, reconnects={}, down_time={:.3}, \
             last_error={})",
            self.state,
            self.subscriptions,
            self.published,
            self.unpublished,
            self.unconfirmed,
            self.received,
            self.outages,
            self.reconnects,
            self.down_time,
            self.last_error
                .as_deref()
                .map_or_else(|| "None".to_owned(), |e| format!("{e:?}"))
        )
    }
}

impl From<&CoreStats> for Stats {
    fn from(s: &CoreStats) -> Stats {
        Stats {
            connections_accepted: s.connections_accepted,
            connections_active: s.connections_active,
            connections_closed: s.connections_closed,
            connections_refused: s.connections_refused,
            bytes_read: s.bytes_read,
            bytes_written: s.bytes_written,
            requests: s.requests,
            responses: s.responses,
            protocol_errors: s.protocol_errors,
            timeouts: s.timeouts,
            slow_consumer_disconnects: s.slow_consumer_disconnects,
            broadcasts: s.broadcasts,
            deliveries: s.deliveries,
            frames_dropped: s.frames_dropped,
            rooms: s.rooms,
            members: s.members,
            accept_errors: s.accept_errors,
            handler_errors: s.handler_errors,
            internal_errors: s.internal_errors,
            state: s.state.as_str(),
            uptime: s.uptime.as_secs_f64(),
            backplane: s.backplane.as_ref().map(BackplaneStats::from),
        }
    }
}

#[pymethods]
impl Stats {
    fn __repr__(&self) -> String {
        format!(
            "Stats(state={:?}, connections_accepted={}, connections_active={}, requests={}, \
             responses={}, protocol_errors={}, handler_errors={})",
            self.state,
            self.connections_accepted,
            self.connections_active,
            self.requests,
            self.responses,
            self.protocol_errors,
            self.handler_errors
        )
    }
}

/// The core's stats table, for the package's tests: a dict per field of `Stats`
/// and `BackplaneStats` (`group`, `name`, `kind`, `unit`, `doc`, and `example`:
/// the field's value in `_stats_example()`, `None` for a nested group).
#[pyfunction]
pub(crate) fn _stats_table(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    let example = CoreStats::example();
    let backplane = example
        .backplane
        .clone()
        .unwrap_or_else(|| CoreBackplaneStats::example_from(0));
    let mut table = Vec::new();
    for (group, figures) in [
        ("Stats", example.figures()),
        ("BackplaneStats", backplane.figures()),
    ] {
        for (field, value) in figures {
            let d = PyDict::new(py);
            d.set_item("group", group)?;
            d.set_item("name", field.name)?;
            d.set_item("kind", format!("{:?}", field.kind).to_lowercase())?;
            d.set_item("unit", field.unit.as_str())?;
            d.set_item("doc", field.doc)?;
            match value {
                StatValue::Count(n) => d.set_item("example", n)?,
                StatValue::Time(t) => d.set_item("example", t.as_secs_f64())?,
                StatValue::State { now, .. } => d.set_item("example", now)?,
                StatValue::Text(t) => d.set_item("example", t)?,
                StatValue::Group(_) => d.set_item("example", py.None())?,
            }
            table.push(d);
        }
    }
    Ok(table)
}

/// `Stats` in which every figure differs (the backplane's too), as the core's
/// table makes it: `_stats_table()` gives each field's value.
#[pyfunction]
pub(crate) fn _stats_example() -> Stats {
    Stats::from(&CoreStats::example())
}

/// What a stop did.
#[pyclass(module = "pierhead._pierhead", name = "StopReport", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct StopReport {
    /// False when stop was called inside a callback: started, not waited for.
    pub complete: bool,
    pub idle_closed: u64,
    pub drained: u64,
    pub force_closed: u64,
    pub handlers_abandoned: u64,
    /// Seconds from the stop request until every thread had exited.
    pub elapsed: f64,
    /// The backplane's final figures (None without one).
    pub backplane: Option<BackplaneStats>,
}

impl From<CoreStopReport> for StopReport {
    fn from(r: CoreStopReport) -> StopReport {
        StopReport {
            complete: r.complete,
            idle_closed: r.idle_closed,
            drained: r.drained,
            force_closed: r.force_closed,
            handlers_abandoned: r.handlers_abandoned,
            elapsed: r.elapsed.as_secs_f64(),
            backplane: r.backplane.as_ref().map(BackplaneStats::from),
        }
    }
}

#[pymethods]
impl StopReport {
    fn __repr__(&self) -> String {
        format!(
            "StopReport(complete={}, idle_closed={}, drained={}, force_closed={}, \
             handlers_abandoned={}, elapsed={:.6})",
            if self.complete { "True" } else { "False" },
            self.idle_closed,
            self.drained,
            self.force_closed,
            self.handlers_abandoned,
            self.elapsed
        )
    }
}

/// What a host publish did (`Server.publish`).
#[pyclass(module = "pierhead._pierhead", name = "PublishReport", frozen, get_all)]
#[derive(Clone, Copy)]
pub(crate) struct PublishReport {
    /// Members the frame was queued for.
    pub delivered: u64,
    /// Frames dropped for slow members (`drop_newest`, `drop_oldest`).
    pub dropped: u64,
    /// Members disconnected as slow consumers.
    pub disconnected: u64,
    /// Handed to the backplane for members on other servers.
    pub forwarded: bool,
}

impl From<pierhead::PublishReport> for PublishReport {
    fn from(r: pierhead::PublishReport) -> PublishReport {
        PublishReport {
            delivered: r.delivered,
            dropped: r.dropped,
            disconnected: r.disconnected,
            forwarded: r.forwarded,
        }
    }
}

#[pymethods]
impl PublishReport {
    fn __repr__(&self) -> String {
        format!(
            "PublishReport(delivered={}, dropped={}, disconnected={}, forwarded={})",
            self.delivered,
            self.dropped,
            self.disconnected,
            if self.forwarded { "True" } else { "False" }
        )
    }
}
