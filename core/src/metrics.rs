//! Stats as Prometheus text (exposition format 0.0.4), and the endpoint that
//! serves them: with `Config::metrics(addr)`, a small pierhead HTTP server of its
//! own (one worker) answers `GET /metrics` on that address, off the main server's
//! threads, so a scrape never touches the I/O threads being measured.
//!
//! Names follow Prometheus conventions: `pierhead_` prefix, base units in the
//! name, `_total` for counters; the lifecycle state is a 0/1 gauge per state.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use crate::backplane::BackplaneState;
use crate::config::{Config, Protocol};
use crate::error::StartError;
use crate::routing::{Response, Route};
use crate::server::Server;
use crate::shared::Shared;
use crate::stats::{State, Stats};

/// The content type of the exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long stopping the endpoint may take.
pub(crate) const METRICS_STOP: Duration = Duration::from_millis(200);

struct Text(String);

impl Text {
    fn metric(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        let _ = write!(
            self.0,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        );
    }

    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.metric(name, "counter", help, value);
    }

    fn gauge(&mut self, name: &str, help: &str, value: impl std::fmt::Display) {
        self.metric(name, "gauge", help, value);
    }

    /// A gauge per label value, 1 for `current` and 0 for the others.
    fn states(&mut self, name: &str, help: &str, all: &[&str], current: &str) {
        let _ = write!(self.0, "# HELP {name} {help}\n# TYPE {name} gauge\n");
        for s in all {
            let _ = writeln!(
                self.0,
                "{name}{{state=\"{s}\"}} {}",
                u8::from(*s == current)
            );
        }
    }
}

/// `stats` as Prometheus text, for a server speaking `protocol`.
pub fn prometheus_text(stats: &Stats, protocol: Protocol) -> String {
    let mut t = Text(String::with_capacity(4096));
    let _ = write!(
        t.0,
        "# HELP pierhead_info The server's version and protocol.\n# TYPE pierhead_info gauge\npierhead_info{{version=\"{}\",protocol=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION"),
        protocol.as_str()
    );
    let states = [
        State::Running,
        State::Stopping,
        State::Stopped,
        State::Failed,
    ]
    .map(State::as_str);
    t.states(
        "pierhead_state",
        "The server's lifecycle state.",
        &states,
        stats.state.as_str(),
    );
    t.gauge(
        "pierhead_uptime_seconds",
        "Time since the server started.",
        format!("{:.3}", stats.uptime.as_secs_f64()),
    );
    t.counter(
        "pierhead_connections_accepted_total",
        "Connections accepted and served.",
        stats.connections_accepted,
    );
    t.counter(
        "pierhead_connections_closed_total",
        "Connections closed, for any reason.",
        stats.connections_closed,
    );
    t.counter(
        "pierhead_connections_refused_total",
        "Connections refused at max_connections.",
        stats.connections_refused,
    );
    t.gauge(
        "pierhead_connections_active",
        "Connections open now.",
        stats.connections_active,
    );
    t.counter(
        "pierhead_read_bytes_total",
        "Bytes received from clients.",
        stats.bytes_read,
    );
    t.counter(
        "pierhead_written_bytes_total",
        "Bytes sent to clients.",
        stats.bytes_written,
    );
    t.counter(
        "pierhead_requests_total",
        "Requests received: HTTP requests, or frames.",
        stats.requests,
    );
    t.counter(
        "pierhead_responses_total",
        "Responses sent: HTTP responses, or frames.",
        stats.responses,
    );
    t.counter(
        "pierhead_protocol_errors_total",
        "Bad input from clients.",
        stats.protocol_errors,
    );
    t.counter(
        "pierhead_timeouts_total",
        "Connections closed by a timeout.",
        stats.timeouts,
    );
    t.counter(
        "pierhead_slow_consumer_disconnects_total",
        "Room members disconnected as slow consumers.",
        stats.slow_consumer_disconnects,
    );
    t.counter(
        "pierhead_broadcasts_total",
        "Data frames broadcast to a room.",
        stats.broadcasts,
    );
    t.counter(
        "pierhead_deliveries_total",
        "Broadcast frames delivered to a member (handed to the kernel whole).",
        stats.deliveries,
    );
    t.counter(
        "pierhead_frames_dropped_total",
        "Broadcast frames members did not get (drop policies, slow-consumer disconnects, closes).",
        stats.frames_dropped,
    );
    t.gauge(
        "pierhead_rooms",
        "Rooms with at least one member.",
        stats.rooms,
    );
    t.gauge(
        "pierhead_room_members",
        "Members over all rooms.",
        stats.members,
    );
    t.counter(
        "pierhead_accept_errors_total",
        "Failed accept() calls.",
        stats.accept_errors,
    );
    t.counter(
        "pierhead_handler_errors_total",
        "Failures of user handlers.",
        stats.handler_errors,
    );
    t.counter(
        "pierhead_internal_errors_total",
        "Panics caught inside the engine.",
        stats.internal_errors,
    );
    if let Some(b) = &stats.backplane {
        let all = [
            BackplaneState::Connecting,
            BackplaneState::Connected,
            BackplaneState::Down,
            BackplaneState::Stopped,
        ]
        .map(BackplaneState::as_str);
        t.states(
            "pierhead_backplane_state",
            "The Redis backplane link's state.",
            &all,
            b.state.as_str(),
        );
        t.counter(
            "pierhead_backplane_published_total",
            "Frames published to the broker and confirmed.",
            b.published,
        );
        t.counter(
            "pierhead_backplane_unpublished_total",
            "Frames not published (broker down, slow or refusing; not written whole when the link was lost).",
            b.unpublished,
        );
        t.counter(
            "pierhead_backplane_unconfirmed_total",
            "Frames written to the broker and never confirmed (the link was lost first): maybe published.",
            b.unconfirmed,
        );
        t.counter(
            "pierhead_backplane_received_total",
            "Frames from other servers.",
            b.received,
        );
        t.counter(
            "pierhead_backplane_echoes_dropped_total",
            "This server's own frames back from the broker.",
            b.echoes_dropped,
        );
        t.counter(
            "pierhead_backplane_bad_messages_total",
            "Messages on room channels that were not valid frames.",
            b.bad_messages,
        );
        t.counter(
            "pierhead_backplane_outages_total",
            "Times the link went down.",
            b.outages,
        );
        t.counter(
            "pierhead_backplane_reconnects_total",
            "Times the link came back.",
            b.reconnects,
        );
        t.metric(
            "pierhead_backplane_down_seconds_total",
            "counter",
            "Time the link was not up.",
            format!("{:.3}", b.down_time.as_secs_f64()),
        );
        t.gauge(
            "pierhead_backplane_subscriptions",
            "Room channels subscribed to now.",
            b.subscriptions,
        );
    }
    t.0
}

/// Starts the endpoint on `addr` for the server whose state `shared` is.
pub(crate) fn start_endpoint(addr: &str, shared: Arc<Shared>) -> Result<Server, StartError> {
    let protocol = shared.config.protocol;
    let route = Route::get("/metrics").handler(move |_: &crate::routing::Request| {
        Response::new(200)
            .header("Content-Type", PROMETHEUS_CONTENT_TYPE)
            .body(prometheus_text(&shared.stats(), protocol))
    });
    Server::start(
        Config::new()
            .bind(addr)
            .workers(1)
            .handler_threads(1)
            .max_connections(64)
            .fixed_response(false)
            .route(route),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_conventions() {
        let s = Stats::sum(
            std::iter::empty(),
            State::Running,
            Duration::from_secs(3),
            Default::default(),
            None,
        );
        let text = prometheus_text(&s, Protocol::Http);
        assert!(text.contains("pierhead_state{state=\"running\"} 1\n"));
        assert!(text.contains("pierhead_state{state=\"failed\"} 0\n"));
        assert!(
            text.contains("# TYPE pierhead_requests_total counter\npierhead_requests_total 0\n")
        );
        assert!(text.contains("pierhead_uptime_seconds 3.000\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(name.starts_with("pierhead_"), "{line}");
            let kind = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("# TYPE {name} ")))
                .unwrap();
            assert_eq!(
                kind == "counter",
                name.ends_with("_total"),
                "{name} is a {kind}"
            );
        }
        assert!(
            !text.contains("backplane"),
            "no backplane, no backplane metrics"
        );
    }
}
