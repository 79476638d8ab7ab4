//! `pierhead_stats`, the stop report, and the stats callback.

use std::sync::Arc;
use std::time::Duration;

use pierhead::{BackplaneState, State, Stats};

use crate::config::{edit, pierhead_config};
use crate::result::{pierhead_result, set_last_error};
use crate::UserData;

/// Lifecycle state of a server.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_state {
    /// Accepting and serving.
    PIERHEAD_STATE_RUNNING = 1,
    /// Stop was requested; in-flight work is finishing.
    PIERHEAD_STATE_STOPPING = 2,
    /// Every thread has exited.
    PIERHEAD_STATE_STOPPED = 3,
    /// A worker's event loop failed; the others serve until stop.
    PIERHEAD_STATE_FAILED = 4,
}

/// Where a server's link to its Redis backplane stands (`pierhead_stats.backplane_state`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_backplane_state {
    /// No backplane is configured.
    PIERHEAD_BACKPLANE_NONE = 0,
    /// The first connection is being made.
    PIERHEAD_BACKPLANE_CONNECTING = 1,
    /// Connected: frames are published to and received from other servers.
    PIERHEAD_BACKPLANE_CONNECTED = 2,
    /// Unreachable or lost: rooms are served locally, frames for other servers are
    /// dropped (counted in `backplane_unpublished`), the link retries with back-off.
    PIERHEAD_BACKPLANE_DOWN = 3,
    /// The server stopped; the connections are closed.
    PIERHEAD_BACKPLANE_STOPPED = 4,
}

impl pierhead_backplane_state {
    pub(crate) fn of(state: Option<BackplaneState>) -> pierhead_backplane_state {
        match state {
            None => pierhead_backplane_state::PIERHEAD_BACKPLANE_NONE,
            Some(BackplaneState::Connecting) => {
                pierhead_backplane_state::PIERHEAD_BACKPLANE_CONNECTING
            }
            Some(BackplaneState::Connected) => {
                pierhead_backplane_state::PIERHEAD_BACKPLANE_CONNECTED
            }
            Some(BackplaneState::Down) => pierhead_backplane_state::PIERHEAD_BACKPLANE_DOWN,
            Some(BackplaneState::Stopped) => pierhead_backplane_state::PIERHEAD_BACKPLANE_STOPPED,
        }
    }
}

/// A snapshot of a server's counters. The caller sets `struct_size` to
/// `sizeof(pierhead_stats)` as its header knows it; the library fills only the
/// fields that fit in that size, so a program built against an older, shorter
/// struct keeps working with a newer library (and the other way round). Fields
/// are only ever added at the end. The `backplane_*` fields are 0 without a
/// backplane.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pierhead_stats {
    /// Set by the caller: the size of this struct in its header.
    pub struct_size: u32,
    /// Lifecycle state: running, stopping, stopped or failed. A `pierhead_state`
    /// value.
    pub state: u32,
    /// Time since the server started. In milliseconds.
    pub uptime_ms: u64,
    /// Connections accepted and served (refused ones are not included).
    pub connections_accepted: u64,
    /// Connections open now.
    pub connections_active: u64,
    /// Connections closed, for any reason.
    pub connections_closed: u64,
    /// Connections accepted then closed at once because `max_connections` was reached.
    pub connections_refused: u64,
    /// Bytes received from clients.
    pub bytes_read: u64,
    /// Bytes sent to clients, counted once each write returns (so a snapshot may
    /// lag, by one write, bytes a client has already read).
    pub bytes_written: u64,
    /// Requests received: HTTP requests, frames (frame protocol), or handshakes and messages (ws).
    pub requests: u64,
    /// Responses sent: HTTP responses (error responses included), or frames sent
    /// (frame protocol: echoes, control answers and broadcast deliveries), or handshake answers and messages sent (ws).
    pub responses: u64,
    /// Bad input from a client: malformed or oversized requests and frames,
    /// broken TLS records.
    pub protocol_errors: u64,
    /// Connections closed by a timeout (idle, header, write stall).
    pub timeouts: u64,
    /// Room members disconnected as slow consumers: their pending output stayed
    /// over `max_output_bytes`.
    pub slow_consumer_disconnects: u64,
    /// Failed `accept()` calls (e.g. EMFILE), each followed by a back-off.
    pub accept_errors: u64,
    /// Failures of user code: handlers and callbacks that panicked or returned
    /// an error.
    pub handler_errors: u64,
    /// Panics caught inside the engine: the connection was closed, the server
    /// kept serving.
    pub internal_errors: u64,
    /// Data frames broadcast to a room (by members and by the host program's
    /// publish). The host program publishes with `pierhead_server_publish`.
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
    /// Rooms with at least one member, now.
    pub rooms: u64,
    /// Members over all rooms, now.
    pub members: u64,
    /// The link to the broker: connecting, connected, down or stopped. A
    /// `pierhead_backplane_state` value (`PIERHEAD_BACKPLANE_NONE` without a
    /// backplane).
    pub backplane_state: u64,
    /// Frames published to the broker and confirmed by it.
    pub backplane_published: u64,
    /// Frames that were not published: dropped while the broker was down or too
    /// slow (the queue was full), refused by it, or not yet written whole when
    /// the link was lost or the server stopped. Members on other servers missed
    /// them.
    pub backplane_unpublished: u64,
    /// Frames from other servers handed to this server's members.
    pub backplane_received: u64,
    /// Times the link went down (including an unreachable broker at start).
    pub backplane_outages: u64,
    /// Times the link came back up after an outage.
    pub backplane_reconnects: u64,
    /// Total time the link was not up (connecting or down). In milliseconds.
    pub backplane_down_ms: u64,
    /// Room channels this server is subscribed to now.
    pub backplane_subscriptions: u64,
    /// Messages on a room channel that were not a valid data frame (or were over
    /// this server's `max_frame_bytes`), dropped.
    pub backplane_bad_messages: u64,
    /// Frames written to the broker whose confirmation never came: the link was
    /// lost (or the server stopped) first. The broker may have run them or not (a
    /// broker that was frozen runs them when it resumes), so members on other
    /// servers may or may not have got them.
    pub backplane_unconfirmed: u64,
    /// This server's own frames coming back from the broker, dropped.
    pub backplane_echoes_dropped: u64,
}

impl pierhead_stats {
    pub(crate) fn from_stats(s: &Stats) -> pierhead_stats {
        pierhead_stats {
            struct_size: std::mem::size_of::<pierhead_stats>() as u32,
            state: match s.state {
                State::Running => pierhead_state::PIERHEAD_STATE_RUNNING,
                State::Stopping => pierhead_state::PIERHEAD_STATE_STOPPING,
                State::Stopped => pierhead_state::PIERHEAD_STATE_STOPPED,
                State::Failed => pierhead_state::PIERHEAD_STATE_FAILED,
            } as u32,
            uptime_ms: s.uptime.as_millis() as u64,
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
            accept_errors: s.accept_errors,
            handler_errors: s.handler_errors,
            internal_errors: s.internal_errors,
            broadcasts: s.broadcasts,
            deliveries: s.deliveries,
            frames_dropped: s.frames_dropped,
            rooms: s.rooms,
            members: s.members,
            backplane_state: pierhead_backplane_state::of(s.backplane.as_ref().map(|b| b.state))
                as u64,
            backplane_published: bp(s, |b| b.published),
            backplane_unpublished: bp(s, |b| b.unpublished),
            backplane_received: bp(s, |b| b.received),
            backplane_outages: bp(s, |b| b.outages),
            backplane_reconnects: bp(s, |b| b.reconnects),
            backplane_down_ms: bp(s, |b| b.down_time.as_millis() as u64),
            backplane_subscriptions: bp(s, |b| b.subscriptions),
            backplane_bad_messages: bp(s, |b| b.bad_messages),
            backplane_unconfirmed: bp(s, |b| b.unconfirmed),
            backplane_echoes_dropped: bp(s, |b| b.echoes_dropped),
        }
    }

    /// Copies the fields that fit in `out->struct_size` into `out`.
    ///
    /// # Safety
    /// `out` must be valid for `out->struct_size` bytes.
    pub(crate) unsafe fn write_to(&self, out: *mut pierhead_stats) -> pierhead_result {
        // SAFETY: forwarded from the caller.
        unsafe { write_sized(self, out) }
    }
}

/// A backplane figure, 0 without a backplane.
fn bp(s: &Stats, f: impl Fn(&pierhead::BackplaneStats) -> u64) -> u64 {
    s.backplane.as_ref().map_or(0, f)
}

/// Copies the fields of a `#[repr(C)]` struct that starts with `uint32_t
/// struct_size` into `*out`, as many as fit in the `struct_size` the caller set:
/// a program built against an older, shorter struct keeps working with a newer
/// library, and the other way round.
///
/// # Safety
/// `T` must be `#[repr(C)]` with a `u32` first field; `out` must be valid for the
/// `struct_size` it holds.
pub(crate) unsafe fn write_sized<T>(src: &T, out: *mut T) -> pierhead_result {
    let head = std::mem::size_of::<u32>();
    // SAFETY: the caller promised `out` is valid for at least its struct_size,
    // which is at least the 4 bytes of struct_size itself (read here).
    let wanted = unsafe { out.cast::<u32>().read_unaligned() } as usize;
    if wanted < head {
        set_last_error(format!("struct_size {wanted} is too small"));
        return pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER;
    }
    let n = wanted.min(std::mem::size_of::<T>());
    // SAFETY: copies n - 4 bytes after struct_size: within `src` (n is at most its
    // size) and within `*out` (n is at most what the caller said it holds).
    unsafe {
        let from = (src as *const T).cast::<u8>().add(head);
        let to = out.cast::<u8>().add(head);
        std::ptr::copy_nonoverlapping(from, to, n - head);
    }
    pierhead_result::PIERHEAD_RESULT_OK
}

/// What `pierhead_server_stop` did.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pierhead_stop_report {
    /// Connections with nothing in flight, closed at once.
    pub idle_closed: u64,
    /// Connections that finished their in-flight work before the deadline.
    pub drained: u64,
    /// Connections still busy at the deadline, closed by force.
    pub force_closed: u64,
    /// Handler threads still inside a handler at the deadline (left to finish).
    pub handlers_abandoned: u64,
    /// Microseconds from the stop request until every thread had exited.
    pub elapsed_us: u64,
    /// 0 when called from inside one of the server's own callbacks: the stop was
    /// started and completes after the callback returns.
    pub complete: u8,
}

/// Called every interval with a stats snapshot, on the server's stats thread
/// (`pierhead-stats`), never on an I/O thread. It may call `pierhead_server_stats`
/// and `pierhead_server_stop` (which then starts the stop and returns at once);
/// it must not call `pierhead_server_free` on its own server. `stats` is valid only
/// during the call.
pub type pierhead_stats_callback =
    Option<unsafe extern "C" fn(user_data: *mut libc::c_void, stats: *const pierhead_stats)>;

/// Calls `callback(user_data, stats)` every `interval_ms` milliseconds while the
/// server runs. `finalizer` (may be NULL) is called with `user_data` once neither
/// the config nor a server started from it needs it any more: after
/// `pierhead_config_free` and `pierhead_server_free`, whichever comes last.
///
/// # Safety
/// `config` must be NULL or a live config; `callback` a valid function; `user_data`
/// usable from another thread until the finalizer runs.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_stats_callback(
    config: *mut pierhead_config,
    interval_ms: u64,
    callback: pierhead_stats_callback,
    user_data: *mut libc::c_void,
    finalizer: crate::pierhead_free_callback,
) -> pierhead_result {
    let Some(callback) = callback else {
        set_last_error("callback is NULL".to_owned());
        return pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER;
    };
    let data = Arc::new(UserData::new(user_data, finalizer));
    let on_stats = move |s: &Stats| {
        let stats = pierhead_stats::from_stats(s);
        // SAFETY: a valid callback and its own user data, as registered; `stats`
        // lives for the call. The engine catches a panic around this closure.
        unsafe { callback(data.ptr, &stats) }
    };
    let apply = move |c: pierhead::Config| {
        Ok(c.stats_interval(Duration::from_millis(interval_ms))
            .on_stats(on_stats))
    };
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, apply) }
}

#[cfg(test)]
mod tests {
    use pierhead::{StatGroup, StatKind, StatValue};

    use super::*;

    /// A field of the committed header's `pierhead_stats`: C type, name, doc.
    struct CField {
        ty: String,
        name: String,
        doc: String,
    }

    fn words(text: &str) -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The fields of `pierhead_stats` in `include/pierhead.h` (which
    /// `tests/header.rs` keeps equal to this file), in order.
    fn header_fields() -> Vec<CField> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../include/pierhead.h");
        let header = std::fs::read_to_string(path).expect("include/pierhead.h");
        let end = header.find("} pierhead_stats;").expect("pierhead_stats");
        let start = header[..end]
            .rfind("typedef struct {")
            .expect("its typedef");
        let mut fields = Vec::new();
        let mut rest = &header[start + "typedef struct {".len()..end];
        while let Some(open) = rest.find("/*") {
            let close = rest[open..].find("*/").expect("comment end") + open;
            let doc = words(&rest[open + 2..close]);
            let decl_end = rest[close..].find(';').expect("declaration") + close;
            let decl = words(&rest[close + 2..decl_end]);
            let (ty, name) = decl.rsplit_once(' ').expect("type and name");
            fields.push(CField {
                ty: ty.to_owned(),
                name: name.to_owned(),
                doc,
            });
            rest = &rest[decl_end + 1..];
        }
        fields
    }

    /// Every figure of the stats table (the backplane's too), with its value in
    /// `s`, as the C struct should hold it (`None`: not a plain number).
    fn table(s: &Stats) -> Vec<(&'static pierhead::StatField, Option<u64>)> {
        fn add(group: &dyn StatGroup, out: &mut Vec<(&'static pierhead::StatField, Option<u64>)>) {
            for (field, value) in group.figures() {
                let n = match value {
                    StatValue::Count(n) => Some(n),
                    StatValue::Time(t) => Some(t.as_millis() as u64),
                    StatValue::Group(g) => {
                        g.into_iter().for_each(|g| add(g, out));
                        continue;
                    }
                    StatValue::State { .. } | StatValue::Text(_) => None,
                };
                out.push((field, n));
            }
        }
        let mut out = Vec::new();
        add(s, &mut out);
        out
    }

    #[test]
    fn the_c_struct_has_every_figure_of_the_table_documented_alike() {
        let header = header_fields();
        let table = table(&Stats::example());
        for (field, _) in &table {
            let Some(c_name) = field.c else {
                assert_eq!(field.kind, StatKind::Info, "{} has no C field", field.name);
                continue;
            };
            let c = header
                .iter()
                .find(|c| c.name == c_name)
                .unwrap_or_else(|| panic!("pierhead_stats has no field `{c_name}`"));
            assert!(
                c.doc.starts_with(&words(field.doc)),
                "pierhead_stats.{c_name} is documented differently from the stats table:\n  \
                 C:     {}\n  table: {}",
                c.doc,
                field.doc
            );
        }
        for c in &header[1..] {
            assert!(
                table.iter().any(|(f, _)| f.c == Some(c.name.as_str())),
                "pierhead_stats.{} is not in the stats table",
                c.name
            );
        }
        assert_eq!(header[0].name, "struct_size");
    }

    #[test]
    fn the_c_struct_holds_each_figure_in_its_field() {
        let stats = Stats::example();
        let c = pierhead_stats::from_stats(&stats);
        let size = std::mem::size_of::<pierhead_stats>();
        // SAFETY: `c` is a live `#[repr(C)]` struct of integers, `size` bytes long.
        let bytes =
            unsafe { std::slice::from_raw_parts((&c as *const pierhead_stats).cast::<u8>(), size) };
        // Where each field is, by the C layout rules, from the header's types.
        let mut offset = 0usize;
        let mut at = std::collections::HashMap::new();
        for f in header_fields() {
            let width = match f.ty.as_str() {
                "uint32_t" => 4,
                "uint64_t" => 8,
                other => panic!("{}: unexpected type {other}", f.name),
            };
            offset = offset.next_multiple_of(width);
            let raw = &bytes[offset..offset + width];
            let value = if width == 4 {
                u64::from(u32::from_ne_bytes(raw.try_into().unwrap()))
            } else {
                u64::from_ne_bytes(raw.try_into().unwrap())
            };
            at.insert(f.name, value);
            offset += width;
        }
        assert_eq!(offset.next_multiple_of(8), size, "the header's layout");
        for (field, value) in table(&stats) {
            let (Some(c_name), Some(want)) = (field.c, value) else {
                continue;
            };
            let got = at.get(c_name).copied();
            assert_eq!(
                got,
                Some(want),
                "pierhead_stats.{c_name} (from {})",
                field.name
            );
        }
    }
}
