//! `Stats` and `StopReport`: immutable snapshots handed to Python.

use pierhead::{
    BackplaneStats as CoreBackplaneStats, Stats as CoreStats, StopReport as CoreStopReport,
};
use pyo3::prelude::*;

/// A snapshot of a server's counters, summed over its workers.
#[pyclass(module = "pierhead._pierhead", name = "Stats", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct Stats {
    pub connections_accepted: u64,
    pub connections_active: u64,
    pub connections_closed: u64,
    pub connections_refused: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub requests: u64,
    pub responses: u64,
    pub protocol_errors: u64,
    pub timeouts: u64,
    pub slow_consumer_disconnects: u64,
    pub broadcasts: u64,
    pub deliveries: u64,
    pub frames_dropped: u64,
    pub rooms: u64,
    pub members: u64,
    pub accept_errors: u64,
    pub handler_errors: u64,
    pub internal_errors: u64,
    /// `running`, `stopping`, `stopped` or `failed`.
    pub state: &'static str,
    /// Seconds since the server started.
    pub uptime: f64,
    /// The Redis backplane's link and counts (None without one).
    pub backplane: Option<BackplaneStats>,
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
    /// `connecting`, `connected`, `down` or `stopped`.
    pub state: &'static str,
    pub server_id: u64,
    pub published: u64,
    pub unpublished: u64,
    pub unconfirmed: u64,
    pub received: u64,
    pub echoes_dropped: u64,
    pub bad_messages: u64,
    pub outages: u64,
    pub reconnects: u64,
    /// Seconds the link was not up, in all.
    pub down_time: f64,
    pub subscriptions: u64,
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
