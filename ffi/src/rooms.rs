//! Rooms of the frame protocol from C: publishing to a room, listing rooms.

use pierhead::PublishError;

use crate::boundary::{c_str, guard_try, non_null, required};
use crate::result::{pierhead_result, set_last_error};
use crate::server::{pierhead_server, server_ref};
use crate::stats::write_sized;

/// What `pierhead_server_publish` did. The caller sets `struct_size` to
/// `sizeof(pierhead_publish_report)`; fields that do not fit are not written.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pierhead_publish_report {
    /// Set by the caller: the size of this struct in its header.
    pub struct_size: u32,
    /// Members the frame was queued for.
    pub delivered: u64,
    /// Frames dropped for slow members (drop policies).
    pub dropped: u64,
    /// Members disconnected as slow consumers.
    pub disconnected: u64,
    /// 1 if the frame was handed to the backplane for members on other servers
    /// (0 without one, or while the broker is down).
    pub forwarded: u8,
}

/// Sends a data frame with `payload` (`len` bytes; `payload` may be NULL when `len`
/// is 0) to every member of `room` (a NUL-terminated UTF-8 name of 1 to 64 bytes)
/// on every worker, and returns once every worker has queued it; `*out` (may be
/// NULL) says how many got it. A room with no members is not an error (all zero).
/// `PIERHEAD_RESULT_INVALID_PARAMETER` for a server not speaking the frame
/// protocol, a payload over `max_frame_bytes` or a bad room name;
/// `PIERHEAD_RESULT_ALREADY_STOPPED` once stopping. Any thread.
///
/// # Safety
/// `server` NULL or live; `room` NULL or a NUL-terminated string; `payload` valid
/// for `len` bytes; `out` NULL or valid for its `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_publish(
    server: *const pierhead_server,
    room: *const libc::c_char,
    payload: *const u8,
    len: usize,
    out: *mut pierhead_publish_report,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        // SAFETY: forwarded from the caller.
        let room = unsafe { c_str(room, "room") }?;
        let payload: &[u8] = if len == 0 {
            &[]
        } else {
            let p = non_null(payload.cast_mut(), "payload")?;
            // SAFETY: non-NULL and valid for `len` bytes, as promised.
            unsafe { std::slice::from_raw_parts(p, len) }
        };
        let report = server.inner.publish(room, payload).map_err(|e| {
            set_last_error(e.to_string());
            match e {
                PublishError::Stopping | PublishError::Stopped => {
                    pierhead_result::PIERHEAD_RESULT_ALREADY_STOPPED
                }
                _ => pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER,
            }
        })?;
        if out.is_null() {
            return Ok(pierhead_result::PIERHEAD_RESULT_OK);
        }
        let c = pierhead_publish_report {
            struct_size: std::mem::size_of::<pierhead_publish_report>() as u32,
            delivered: report.delivered,
            dropped: report.dropped,
            disconnected: report.disconnected,
            forwarded: u8::from(report.forwarded),
        };
        // SAFETY: valid for its struct_size, as promised.
        Ok(unsafe { write_sized(&c, out) })
    })
}

/// Called once per room by `pierhead_server_rooms`, on the calling thread, before
/// that call returns: the room's NUL-terminated name (valid during the call) and
/// its member count.
pub type pierhead_room_callback = Option<
    unsafe extern "C" fn(user_data: *mut libc::c_void, room: *const libc::c_char, members: u64),
>;

/// Lists the rooms that have members, in name order: calls `callback` for each on
/// the calling thread, then returns.
///
/// # Safety
/// `server` NULL or live; `callback` a valid function.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_rooms(
    server: *const pierhead_server,
    callback: pierhead_room_callback,
    user_data: *mut libc::c_void,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        let callback = required(callback, "callback")?;
        for (name, members) in server.inner.rooms() {
            // A room name is UTF-8 from a client and may hold NUL bytes, which a C
            // string cannot: they are left out of the name given to C.
            let name = std::ffi::CString::new(name.replace('\0', "")).unwrap_or_default();
            // SAFETY: a valid callback, as promised; `name` lives for the call.
            unsafe { callback(user_data, name.as_ptr(), members) };
        }
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}
