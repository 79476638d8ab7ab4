//! The C functions that put results into words: `pierhead_result_str` (a
//! result's fixed text) and `pierhead_last_error_message` (the detail of the last
//! failure on this thread).

use crate::boundary::{copy_text, guard};
use crate::enums::CEnum;
use crate::result::{pierhead_result, with_last_error};

c_enum!(pierhead_result {
    PIERHEAD_RESULT_OK,
    PIERHEAD_RESULT_NULL_PARAMETER,
    PIERHEAD_RESULT_INVALID_PARAMETER,
    PIERHEAD_RESULT_INVALID_CONFIG,
    PIERHEAD_RESULT_BIND_FAILED,
    PIERHEAD_RESULT_START_FAILED,
    PIERHEAD_RESULT_ALREADY_STOPPED,
    PIERHEAD_RESULT_BUFFER_TOO_SMALL,
    PIERHEAD_RESULT_PANIC,
    PIERHEAD_RESULT_NOTHING_MEASURED,
});

/// A static, NUL-terminated description of `result`, a `pierhead_result` value
/// (never NULL; any other value gives "unknown result").
#[no_mangle]
pub extern "C" fn pierhead_result_str(result: i32) -> *const libc::c_char {
    pierhead_result::from_c(result).map_or(c"unknown result".as_ptr(), |r| r.text().as_ptr())
}

/// Copies the detail of the last failed call on this thread (e.g. "invalid config
/// field `workers`: must be at least 1, got 0", or the bind address and OS error)
/// into `buf` as a NUL-terminated string. `*out_len` (if not NULL) gets its length
/// without the NUL. An empty string if no call failed yet.
/// Returns `PIERHEAD_RESULT_BUFFER_TOO_SMALL` (writing nothing) if it does not fit.
///
/// # Safety
/// `buf` must be valid for `len` bytes; `out_len` NULL or valid for one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn pierhead_last_error_message(
    buf: *mut libc::c_char,
    len: usize,
    out_len: *mut usize,
) -> pierhead_result {
    guard(|| {
        // SAFETY: `buf` and `out_len` as the caller promised.
        with_last_error(|e| unsafe { copy_text(e, buf, len, out_len) })
    })
}
