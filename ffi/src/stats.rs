//! `pierhead_stats`, the stop report, and the stats callback.

use std::sync::Arc;
use std::time::Duration;

use pierhead::{State, Stats};

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

/// A snapshot of a server's counters. The caller sets `struct_size` to
/// `sizeof(pierhead_stats)` as its header knows it; the library fills only the
/// fields that fit in that size, so a program built against an older, shorter
/// struct keeps working with a newer library (and the other way round).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pierhead_stats {
    /// Set by the caller: the size of this struct in its header.
    pub struct_size: u32,
    /// A `pierhead_state` value.
    pub state: u32,
    /// Milliseconds since the server started.
    pub uptime_ms: u64,
    /// Connections accepted and served (refused ones not included).
    pub connections_accepted: u64,
    /// Connections open now.
    pub connections_active: u64,
    /// Connections closed, for any reason.
    pub connections_closed: u64,
    /// Connections refused at `max_connections`.
    pub connections_refused: u64,
    /// Bytes received.
    pub bytes_read: u64,
    /// Bytes sent.
    pub bytes_written: u64,
    /// Requests received (HTTP requests; for echo/discard, reads).
    pub requests: u64,
    /// Responses sent, error responses included.
    pub responses: u64,
    /// Bad input from clients (malformed, oversized).
    pub protocol_errors: u64,
    /// Connections closed by a timeout.
    pub timeouts: u64,
    /// Connections closed for not reading their output.
    pub slow_consumer_disconnects: u64,
    /// Failed accept() calls.
    pub accept_errors: u64,
    /// Handler and callback failures.
    pub handler_errors: u64,
    /// Panics caught inside the engine.
    pub internal_errors: u64,
    /// Data frames broadcast to a room (by members and by `pierhead_server_publish`).
    pub broadcasts: u64,
    /// Broadcast frames delivered to a member (one per recipient), counted once
    /// the whole frame is handed to the kernel.
    pub deliveries: u64,
    /// Broadcast frames a member did not get (drop policies, cut at a slow-consumer
    /// disconnect, or left queued at a close): with `deliveries`, each frame
    /// offered to a member is counted once.
    pub frames_dropped: u64,
    /// Rooms with at least one member, now.
    pub rooms: u64,
    /// Members over all rooms, now.
    pub members: u64,
    /// A `pierhead_backplane_state` value (`PIERHEAD_BACKPLANE_NONE` without one).
    pub backplane_state: u64,
    /// Frames published to the backplane and confirmed by the broker.
    pub backplane_published: u64,
    /// Frames that were not published (broker down or too slow, refused, or not
    /// written whole when the link was lost): members on other servers missed them.
    pub backplane_unpublished: u64,
    /// Frames from other servers handed to this server's members.
    pub backplane_received: u64,
    /// Times the link went down (an unreachable broker at start included).
    pub backplane_outages: u64,
    /// Times the link came back after an outage.
    pub backplane_reconnects: u64,
    /// Milliseconds the link was not up, in all.
    pub backplane_down_ms: u64,
    /// Room channels subscribed to now.
    pub backplane_subscriptions: u64,
    /// Messages on room channels that were not valid frames (or were over
    /// `max_frame_bytes`), dropped.
    pub backplane_bad_messages: u64,
    /// Frames written to the broker whose confirmation never came (the link was
    /// lost or the server stopped first): the broker may or may not have run them.
    pub backplane_unconfirmed: u64,
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
            backplane_state: crate::backplane::pierhead_backplane_state::of(
                s.backplane.as_ref().map(|b| b.state),
            ) as u64,
            backplane_published: bp(s, |b| b.published),
            backplane_unpublished: bp(s, |b| b.unpublished),
            backplane_received: bp(s, |b| b.received),
            backplane_outages: bp(s, |b| b.outages),
            backplane_reconnects: bp(s, |b| b.reconnects),
            backplane_down_ms: bp(s, |b| b.down_time.as_millis() as u64),
            backplane_subscriptions: bp(s, |b| b.subscriptions),
            backplane_bad_messages: bp(s, |b| b.bad_messages),
            backplane_unconfirmed: bp(s, |b| b.unconfirmed),
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
