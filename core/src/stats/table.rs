//! The stats table: every counter, gauge and state a server reports, declared
//! once. From it come [`Stats`] and [`BackplaneStats`] (their fields and docs),
//! the per-worker `Counters` and the backplane link's `LinkCounters`, their sums,
//! the Prometheus text, the stats and stop lines; the C struct and the Python
//! classes, which cannot be generated, are checked against it by tests.
//!
//! Each entry: `kind` (counter, gauge, state, info), `unit`, `from` (who writes
//! it: `worker` counters are summed over the workers' blocks, `link` counters are
//! the backplane link's, `given` values are set when the snapshot is taken),
//! `metric` (Prometheus name), `c` (field of `pierhead_stats`), `line` (place in
//! the stats line; the order of the entries is the order there), `stop` (label in
//! the stop report), `protocols` (`ANY`, or the protocols it means something
//! for), and `doc`, the one text every surface shows.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use super::counter::Counter;
use super::figures::{
    line, line_with_rate, stats_table, Figure, LineSection::*, StatField, StatGroup, StatKind,
    StatUnit, StatValue,
};
use super::state::{BackplaneState, State};

/// Every protocol.
const ANY: Option<&[&str]> = None;
/// Rooms and the backplane: the frame protocol and WebSocket.
const FRAME: Option<&[&str]> = Some(&["frame", "ws"]);
/// Protocols with requests and responses.
const HTTP_FRAME: Option<&[&str]> = Some(&["http", "frame", "ws"]);

stats_table! {
    /// A point-in-time snapshot of a server's counters, summed over its workers.
    ///
    /// Counters only grow; gauges (`connections_active`, `rooms`, `members`) are
    /// levels now. Because workers are read one after another without stopping
    /// them, a snapshot taken under load is consistent per counter, not across
    /// counters. [`Stats::FIELDS`] says what each field is and where it appears.
    pub struct Stats;
    /// The counters of one worker thread (or of the stats thread), written only
    /// by it; cache-line aligned so that no two threads share a line.
    #[derive(Debug, Default)]
    #[repr(align(128))]
    worker counters in pub(crate) struct Counters of Counter;

    uptime: Duration = {
        kind: Gauge, unit: Seconds, from: given, metric: Some("uptime_seconds"),
        c: Some("uptime_ms"), line: line(Head, "up"), stop: None, protocols: ANY,
        doc: "Time since the server started.",
    }
    state: State = {
        kind: State, unit: None, from: given, metric: Some("state"), c: Some("state"),
        line: line(Head, ""), stop: None, protocols: ANY,
        doc: "Lifecycle state: running, stopping, stopped or failed.",
    }
    connections_active: u64 = {
        kind: Gauge, unit: Connections, from: given, metric: Some("connections_active"),
        c: Some("connections_active"), line: line(Conns, "active"), stop: None,
        protocols: ANY,
        doc: "Connections open now.",
    }
    connections_accepted: u64 = {
        kind: Counter, unit: Connections, from: worker, metric: Some("connections_accepted"),
        c: Some("connections_accepted"), line: line(Conns, "accepted"),
        stop: Some("connections"), protocols: ANY,
        doc: "Connections accepted and served (refused ones are not included).",
    }
    connections_closed: u64 = {
        kind: Counter, unit: Connections, from: worker, metric: Some("connections_closed"),
        c: Some("connections_closed"), line: None, stop: None, protocols: ANY,
        doc: "Connections closed, for any reason.",
    }
    connections_refused: u64 = {
        kind: Counter, unit: Connections, from: worker, metric: Some("connections_refused"),
        c: Some("connections_refused"), line: line(Conns, "refused"), stop: None,
        protocols: ANY,
        doc: "Connections accepted then closed at once because `max_connections` was reached.",
    }
    requests: u64 = {
        kind: Counter, unit: Requests, from: worker, metric: Some("requests"),
        c: Some("requests"), line: line_with_rate(Requests, "requests"),
        stop: Some("requests"), protocols: HTTP_FRAME,
        doc: "Requests received: HTTP requests, frames (frame protocol), or handshakes and messages (ws).",
    }
    responses: u64 = {
        kind: Counter, unit: Responses, from: worker, metric: Some("responses"),
        c: Some("responses"), line: line(Requests, "responses"), stop: Some("responses"),
        protocols: HTTP_FRAME,
        doc: "Responses sent: HTTP responses (error responses included), or frames sent \
              (frame protocol: echoes, control answers and broadcast deliveries), or handshake answers and messages sent (ws).",
    }
    bytes_read: u64 = {
        kind: Counter, unit: Bytes, from: worker, metric: Some("read_bytes"),
        c: Some("bytes_read"), line: line_with_rate(Bytes, "read"), stop: None,
        protocols: ANY,
        doc: "Bytes received from clients.",
    }
    bytes_written: u64 = {
        kind: Counter, unit: Bytes, from: worker, metric: Some("written_bytes"),
        c: Some("bytes_written"), line: line(Bytes, "written"), stop: None, protocols: ANY,
        doc: "Bytes sent to clients, counted once each write returns (so a snapshot may \
              lag, by one write, bytes a client has already read).",
    }
    rooms: u64 = {
        kind: Gauge, unit: Rooms, from: given, metric: Some("rooms"), c: Some("rooms"),
        line: line(Rooms, "rooms"), stop: None, protocols: FRAME,
        doc: "Rooms with at least one member, now.",
    }
    members: u64 = {
        kind: Gauge, unit: Members, from: given, metric: Some("room_members"),
        c: Some("members"), line: line(Rooms, "members"), stop: None, protocols: FRAME,
        doc: "Members over all rooms, now.",
    }
    broadcasts: u64 = {
        kind: Counter, unit: Frames, from: worker, metric: Some("broadcasts"),
        c: Some("broadcasts"), line: line(Rooms, "broadcasts"), stop: None,
        protocols: FRAME,
        doc: "Data frames broadcast to a room (by members and by the host program's publish).",
    }
    deliveries: u64 = {
        kind: Counter, unit: Frames, from: worker, metric: Some("deliveries"),
        c: Some("deliveries"), line: line(Rooms, "deliveries"), stop: None,
        protocols: FRAME,
        doc: "Broadcast frames delivered to a member (one per recipient), counted once \
              the whole frame is handed to the kernel (so, like `bytes_written`, a \
              snapshot may lag a frame a client has already read).",
    }
    frames_dropped: u64 = {
        kind: Counter, unit: Frames, from: worker, metric: Some("frames_dropped"),
        c: Some("frames_dropped"), line: line(Rooms, "dropped"), stop: None,
        protocols: FRAME,
        doc: "Broadcast frames a member did not get: dropped by `drop_newest` or \
              `drop_oldest`, cut from (or offered to) a member being disconnected as a \
              slow consumer, or left queued when a member's connection closed. With \
              `deliveries`, every frame offered to a member is counted once.",
    }
    slow_consumer_disconnects: u64 = {
        kind: Counter, unit: Connections, from: worker,
        metric: Some("slow_consumer_disconnects"), c: Some("slow_consumer_disconnects"),
        line: line(Rooms, "slow"), stop: None, protocols: FRAME,
        doc: "Room members disconnected as slow consumers: their pending output stayed \
              over `max_output_bytes`.",
    }
    backplane: Option<BackplaneStats> = {
        kind: Info, unit: None, from: given, metric: None, c: None, line: None,
        stop: None, protocols: FRAME,
        doc: "The Redis backplane's link and counts, when one is configured.",
    }
    protocol_errors: u64 = {
        kind: Counter, unit: Errors, from: worker, metric: Some("protocol_errors"),
        c: Some("protocol_errors"), line: line(Errors, "protocol"),
        stop: Some("protocol errors"), protocols: ANY,
        doc: "Bad input from a client: malformed or oversized requests and frames, \
              broken TLS records.",
    }
    timeouts: u64 = {
        kind: Counter, unit: Connections, from: worker, metric: Some("timeouts"),
        c: Some("timeouts"), line: line(Errors, "timeouts"), stop: None, protocols: ANY,
        doc: "Connections closed by a timeout (idle, header, write stall).",
    }
    accept_errors: u64 = {
        kind: Counter, unit: Errors, from: worker, metric: Some("accept_errors"),
        c: Some("accept_errors"), line: line(Errors, "accept"), stop: None,
        protocols: ANY,
        doc: "Failed `accept()` calls (e.g. EMFILE), each followed by a back-off.",
    }
    handler_errors: u64 = {
        kind: Counter, unit: Errors, from: worker, metric: Some("handler_errors"),
        c: Some("handler_errors"), line: None, stop: None, protocols: ANY,
        doc: "Failures of user code: handlers and callbacks that panicked or returned \
              an error.",
    }
    internal_errors: u64 = {
        kind: Counter, unit: Errors, from: worker, metric: Some("internal_errors"),
        c: Some("internal_errors"), line: line(Errors, "internal"), stop: None,
        protocols: ANY,
        doc: "Panics caught inside the engine: the connection was closed, the server \
              kept serving.",
    }
}

stats_table! {
    /// What the backplane did, in [`Stats::backplane`] and the stop report.
    pub struct BackplaneStats;
    /// The link's counters: written by the link thread, and by the workers for
    /// frames they could not hand over (so updated with atomic adds).
    #[derive(Debug, Default)]
    link counters in pub(crate) struct LinkCounters of AtomicU64;

    state: BackplaneState = {
        kind: State, unit: None, from: given, metric: Some("backplane_state"),
        c: Some("backplane_state"), line: line(Backplane, "backplane"), stop: None,
        protocols: FRAME,
        doc: "The link to the broker: connecting, connected, down or stopped.",
    }
    server_id: u64 = {
        kind: Info, unit: None, from: given, metric: None, c: None, line: None,
        stop: None, protocols: FRAME,
        doc: "This server's id: the tag its published frames carry.",
    }
    subscriptions: u64 = {
        kind: Gauge, unit: Channels, from: link, metric: Some("backplane_subscriptions"),
        c: Some("backplane_subscriptions"), line: line(Backplane, "subscribed"),
        stop: None, protocols: FRAME,
        doc: "Room channels this server is subscribed to now.",
    }
    published: u64 = {
        kind: Counter, unit: Frames, from: link, metric: Some("backplane_published"),
        c: Some("backplane_published"), line: line(Backplane, "published"),
        stop: Some("published"), protocols: FRAME,
        doc: "Frames published to the broker and confirmed by it.",
    }
    unpublished: u64 = {
        kind: Counter, unit: Frames, from: link, metric: Some("backplane_unpublished"),
        c: Some("backplane_unpublished"), line: line(Backplane, "unpublished"),
        stop: Some("unpublished"), protocols: FRAME,
        doc: "Frames that were not published: dropped while the broker was down or too \
              slow (the queue was full), refused by it, or not yet written whole when \
              the link was lost or the server stopped. Members on other servers missed \
              them.",
    }
    unconfirmed: u64 = {
        kind: Counter, unit: Frames, from: link, metric: Some("backplane_unconfirmed"),
        c: Some("backplane_unconfirmed"), line: line(Backplane, "unconfirmed"),
        stop: Some("unconfirmed"), protocols: FRAME,
        doc: "Frames written to the broker whose confirmation never came: the link was \
              lost (or the server stopped) first. The broker may have run them or not (a \
              broker that was frozen runs them when it resumes), so members on other \
              servers may or may not have got them.",
    }
    received: u64 = {
        kind: Counter, unit: Frames, from: link, metric: Some("backplane_received"),
        c: Some("backplane_received"), line: line(Backplane, "received"),
        stop: Some("received from other servers"), protocols: FRAME,
        doc: "Frames from other servers handed to this server's members.",
    }
    echoes_dropped: u64 = {
        kind: Counter, unit: Frames, from: link, metric: Some("backplane_echoes_dropped"),
        c: Some("backplane_echoes_dropped"), line: None, stop: None, protocols: FRAME,
        doc: "This server's own frames coming back from the broker, dropped.",
    }
    bad_messages: u64 = {
        kind: Counter, unit: Messages, from: link, metric: Some("backplane_bad_messages"),
        c: Some("backplane_bad_messages"), line: None, stop: None, protocols: FRAME,
        doc: "Messages on a room channel that were not a valid data frame (or were over \
              this server's `max_frame_bytes`), dropped.",
    }
    outages: u64 = {
        kind: Counter, unit: Events, from: link, metric: Some("backplane_outages"),
        c: Some("backplane_outages"), line: line(Backplane, "outages"),
        stop: Some("outages"), protocols: FRAME,
        doc: "Times the link went down (including an unreachable broker at start).",
    }
    reconnects: u64 = {
        kind: Counter, unit: Events, from: link, metric: Some("backplane_reconnects"),
        c: Some("backplane_reconnects"), line: None, stop: None, protocols: FRAME,
        doc: "Times the link came back up after an outage.",
    }
    down_time: Duration = {
        kind: Counter, unit: Seconds, from: given, metric: Some("backplane_down_seconds"),
        c: Some("backplane_down_ms"), line: None, stop: Some("down"), protocols: FRAME,
        doc: "Total time the link was not up (connecting or down).",
    }
    last_error: Option<String> = {
        kind: Info, unit: None, from: given, metric: None, c: None, line: None,
        stop: Some("last error"), protocols: FRAME,
        doc: "The last error on the link (connect, authentication, protocol), if any.",
    }
}

impl Figure for Option<BackplaneStats> {
    const ZERO: Option<BackplaneStats> = None;

    fn value(&self) -> StatValue<'_> {
        StatValue::Group(self.as_ref().map(|b| b as &dyn StatGroup))
    }

    fn example(n: u64) -> Option<BackplaneStats> {
        Some(BackplaneStats::example_from(n * 100))
    }
}

/// Room figures for stats, from the rooms registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RoomCounts {
    pub(crate) rooms: u64,
    pub(crate) members: u64,
    /// Frames the host program published (counted as broadcasts).
    pub(crate) host_publishes: u64,
}

impl Stats {
    /// The sum of the workers' counter blocks, with the figures given by the
    /// server's other parts.
    pub(crate) fn sum<'a>(
        blocks: impl IntoIterator<Item = &'a Counters>,
        state: State,
        uptime: Duration,
        rooms: RoomCounts,
        backplane: Option<BackplaneStats>,
    ) -> Stats {
        let mut s = Stats {
            state,
            uptime,
            rooms: rooms.rooms,
            members: rooms.members,
            broadcasts: rooms.host_publishes,
            backplane,
            ..Stats::ZERO
        };
        for block in blocks {
            block.add_to(&mut s);
        }
        // Closed is read after accepted, so it can only be ahead by races; clamp.
        s.connections_active = s.connections_accepted.saturating_sub(s.connections_closed);
        s
    }

    /// A snapshot in which every figure differs (the backplane's too), for tests
    /// of the surfaces that copy it (C, Python).
    #[doc(hidden)]
    pub fn example() -> Stats {
        Stats::example_from(0)
    }
}

impl BackplaneStats {
    /// The link's counters with the figures given by the backplane.
    pub(crate) fn sum(
        counters: &LinkCounters,
        state: BackplaneState,
        server_id: u64,
        down_time: Duration,
        last_error: Option<String>,
    ) -> BackplaneStats {
        let mut b = BackplaneStats {
            state,
            server_id,
            down_time,
            last_error,
            ..BackplaneStats::ZERO
        };
        counters.add_to(&mut b);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Protocol;

    #[test]
    fn the_table_is_consistent() {
        for fields in [Stats::FIELDS, BackplaneStats::FIELDS] {
            for (i, f) in fields.iter().enumerate() {
                let measure = f.kind != StatKind::Info;
                assert_eq!(f.metric.is_some(), measure, "{}: metric", f.name);
                assert_eq!(f.c.is_some(), measure, "{}: C field", f.name);
                assert!(
                    f.doc.ends_with('.') && f.doc.starts_with(char::is_uppercase),
                    "{}: {:?}",
                    f.name,
                    f.doc
                );
                assert!(!f.doc.contains("  ") && !f.doc.contains('\n'), "{}", f.name);
                for p in f.protocols.unwrap_or_default() {
                    assert!(p.parse::<Protocol>().is_ok(), "{}: {p}", f.name);
                }
                for g in &fields[i + 1..] {
                    assert_ne!(f.name, g.name);
                }
            }
        }
        let all: Vec<&StatField> = Stats::FIELDS.iter().chain(BackplaneStats::FIELDS).collect();
        for (i, f) in all.iter().enumerate() {
            for g in &all[i + 1..] {
                assert!(
                    f.c.is_none() || f.c != g.c,
                    "{} and {}: C name",
                    f.name,
                    g.name
                );
                assert!(
                    f.metric.is_none() || f.metric != g.metric,
                    "{}: metric",
                    f.name
                );
            }
        }
    }

    #[test]
    fn a_snapshot_sums_the_blocks_and_adds_what_is_given() {
        let blocks = [Counters::default(), Counters::default()];
        blocks[0].connections_accepted.add(5);
        blocks[1].connections_accepted.add(2);
        blocks[1].connections_closed.add(3);
        blocks[0].requests.add(7);
        blocks[1].internal_errors.incr();
        blocks[1].broadcasts.add(4);
        let rooms = RoomCounts {
            rooms: 2,
            members: 9,
            host_publishes: 1,
        };
        let s = Stats::sum(
            &blocks,
            State::Stopping,
            Duration::from_secs(4),
            rooms,
            None,
        );
        assert_eq!(
            s,
            Stats {
                connections_accepted: 7,
                connections_closed: 3,
                connections_active: 4,
                requests: 7,
                internal_errors: 1,
                broadcasts: 5,
                rooms: 2,
                members: 9,
                state: State::Stopping,
                uptime: Duration::from_secs(4),
                ..Stats::ZERO
            }
        );
        let link = LinkCounters::default();
        link.published
            .fetch_add(3, std::sync::atomic::Ordering::Relaxed);
        let b = BackplaneStats::sum(&link, BackplaneState::Down, 9, Duration::ZERO, None);
        assert_eq!(
            (b.published, b.server_id, b.state),
            (3, 9, BackplaneState::Down)
        );
    }
}
