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

use super::figures::{StatGroup, StatKind, StatValue};
use super::table::Stats;
use crate::config::{Config, Protocol};
use crate::routing::{Request, Response, Route};
use crate::server_core::ServerCore;

/// The content type of the exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long stopping the endpoint may take.
pub(crate) const METRICS_STOP: Duration = Duration::from_millis(200);

/// `stats` as Prometheus text, for a server speaking `protocol`: every figure of
/// the stats table with a Prometheus name, its doc as the help text.
pub fn prometheus_text(stats: &Stats, protocol: Protocol) -> String {
    let mut text = String::with_capacity(8192);
    let _ = write!(
        text,
        "# HELP pierhead_info The server's version and protocol.\n# TYPE pierhead_info gauge\npierhead_info{{version=\"{}\",protocol=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION"),
        protocol.as_str()
    );
    group(&mut text, stats);
    text
}

fn group(text: &mut String, group: &dyn StatGroup) {
    for (field, value) in group.figures() {
        if let StatValue::Group(Some(inner)) = value {
            self::group(text, inner);
            continue;
        }
        let Some(name) = field.metric_name() else {
            continue;
        };
        let kind = if field.kind == StatKind::Counter {
            "counter"
        } else {
            "gauge"
        };
        let help = field.doc.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = write!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
        let _ = match value {
            StatValue::Count(n) => writeln!(text, "{name} {n}"),
            StatValue::Time(t) => writeln!(text, "{name} {:.3}", t.as_secs_f64()),
            StatValue::State { now, all } => all.iter().try_for_each(|s| {
                writeln!(text, "{name}{{state=\"{s}\"}} {}", u8::from(*s == now))
            }),
            StatValue::Text(_) | StatValue::Group(_) => Ok(()),
        };
    }
}

/// The config of the endpoint (`Server::start` it) on `addr`, for the server
/// whose state `shared` is.
pub(crate) fn endpoint_config(addr: &str, shared: Arc<ServerCore>) -> Config {
    let protocol = shared.config.protocol;
    let route = Route::get("/metrics").handler(move |_: &Request| {
        Response::new(200)
            .header("Content-Type", PROMETHEUS_CONTENT_TYPE)
            .body(prometheus_text(&shared.stats(), protocol))
    });
    Config::new()
        .bind(addr)
        .workers(1)
        .handler_threads(1)
        .max_connections(64)
        .fixed_response(false)
        .route(route)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{BackplaneStats, StatUnit, State};

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

    /// The names are a contract with dashboards: the table may add names, not
    /// change these.
    #[test]
    fn every_figure_is_exported_under_its_established_name() {
        let text = prometheus_text(&Stats::example(), Protocol::Frame);
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split(' ').next())
            .collect();
        for name in [
            "pierhead_info",
            "pierhead_state",
            "pierhead_uptime_seconds",
            "pierhead_connections_accepted_total",
            "pierhead_connections_closed_total",
            "pierhead_connections_refused_total",
            "pierhead_connections_active",
            "pierhead_read_bytes_total",
            "pierhead_written_bytes_total",
            "pierhead_requests_total",
            "pierhead_responses_total",
            "pierhead_protocol_errors_total",
            "pierhead_timeouts_total",
            "pierhead_slow_consumer_disconnects_total",
            "pierhead_broadcasts_total",
            "pierhead_deliveries_total",
            "pierhead_frames_dropped_total",
            "pierhead_rooms",
            "pierhead_room_members",
            "pierhead_accept_errors_total",
            "pierhead_handler_errors_total",
            "pierhead_internal_errors_total",
            "pierhead_backplane_state",
            "pierhead_backplane_published_total",
            "pierhead_backplane_unpublished_total",
            "pierhead_backplane_unconfirmed_total",
            "pierhead_backplane_received_total",
            "pierhead_backplane_echoes_dropped_total",
            "pierhead_backplane_bad_messages_total",
            "pierhead_backplane_outages_total",
            "pierhead_backplane_reconnects_total",
            "pierhead_backplane_down_seconds_total",
            "pierhead_backplane_subscriptions",
        ] {
            assert!(names.contains(&name), "{name} is missing:\n{text}");
        }
        // Every counter, gauge and state of the table, with its doc as the help.
        for group in [Stats::FIELDS, BackplaneStats::FIELDS] {
            for field in group {
                let Some(name) = field.metric_name() else {
                    assert_eq!(field.kind, StatKind::Info, "{} is not exported", field.name);
                    continue;
                };
                assert!(
                    text.contains(&format!("# HELP {name} {}\n", field.doc)),
                    "{name}"
                );
                let base = match field.unit {
                    StatUnit::Bytes => "_bytes",
                    StatUnit::Seconds => "_seconds",
                    _ => "",
                };
                let stem = name.trim_end_matches("_total");
                assert_eq!(
                    !base.is_empty() && stem.ends_with(base),
                    !base.is_empty(),
                    "{name}: base units in the name"
                );
            }
        }
        assert!(text.contains("pierhead_backplane_state{state=\"connected\"} 1\n"));
        assert!(text.contains("pierhead_backplane_down_seconds_total 1713.712\n"));
        assert!(text.contains("pierhead_room_members 12\n"));
    }
}
