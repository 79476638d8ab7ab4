//! `pierhead_result`, its text, and the detail of the last failure on this thread.

use std::cell::RefCell;

use crate::enums::CEnum;

/// The outcome of every libpierhead call. The values form a range of their own
/// (7700 and up, success included), so they cannot be mistaken for errno values
/// or another library's codes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_result {
    /// Success.
    PIERHEAD_RESULT_OK = 7700,
    /// A required pointer argument was NULL (or a handle already freed and NULLed).
    PIERHEAD_RESULT_NULL_PARAMETER = 7701,
    /// An argument is out of range or malformed (details: `pierhead_last_error_message`).
    PIERHEAD_RESULT_INVALID_PARAMETER = 7702,
    /// The config was rejected when the server started (details name the field).
    PIERHEAD_RESULT_INVALID_CONFIG = 7703,
    /// The listen address could not be bound (details give the address and errno).
    PIERHEAD_RESULT_BIND_FAILED = 7704,
    /// The server could not start its event loops or threads.
    PIERHEAD_RESULT_START_FAILED = 7705,
    /// The server was already stopped.
    PIERHEAD_RESULT_ALREADY_STOPPED = 7706,
    /// A buffer was too small (`pierhead_last_error_message`).
    PIERHEAD_RESULT_BUFFER_TOO_SMALL = 7707,
    /// A panic inside the library was caught; the call did nothing else.
    PIERHEAD_RESULT_PANIC = 7708,
    /// A load-generator run got not one right answer: it measured nothing
    /// (`pierhead_last_error_message` says why and what it counted).
    PIERHEAD_RESULT_NOTHING_MEASURED = 7709,
}

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

impl pierhead_result {
    fn text(self) -> &'static std::ffi::CStr {
        match self {
            Self::PIERHEAD_RESULT_OK => c"ok",
            Self::PIERHEAD_RESULT_NULL_PARAMETER => c"a required pointer argument was NULL",
            Self::PIERHEAD_RESULT_INVALID_PARAMETER => c"invalid argument",
            Self::PIERHEAD_RESULT_INVALID_CONFIG => c"invalid config",
            Self::PIERHEAD_RESULT_BIND_FAILED => c"cannot bind the listen address",
            Self::PIERHEAD_RESULT_START_FAILED => c"cannot start the server's threads",
            Self::PIERHEAD_RESULT_ALREADY_STOPPED => c"the server is already stopped",
            Self::PIERHEAD_RESULT_BUFFER_TOO_SMALL => c"buffer too small",
            Self::PIERHEAD_RESULT_PANIC => c"internal error (a panic was caught)",
            Self::PIERHEAD_RESULT_NOTHING_MEASURED => c"the run measured nothing (no right answer)",
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records the detail of a failure on this thread.
pub(crate) fn set_last_error(message: String) {
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

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
    crate::guard(|| {
        // SAFETY: `buf` and `out_len` as the caller promised.
        LAST_ERROR.with(|e| unsafe { copy_text(&e.borrow(), buf, len, out_len) })
    })
}

/// Copies `text` into `buf` (`len` bytes) as a NUL-terminated string and its
/// length into `*out_len` (if not NULL); `PIERHEAD_RESULT_BUFFER_TOO_SMALL`
/// (writing nothing) if it does not fit.
///
/// # Safety
/// `buf` NULL or valid for `len` bytes; `out_len` NULL or valid for one `size_t`.
pub(crate) unsafe fn copy_text(
    text: &str,
    buf: *mut libc::c_char,
    len: usize,
    out_len: *mut usize,
) -> pierhead_result {
    if buf.is_null() {
        return pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER;
    }
    if text.len() + 1 > len {
        return pierhead_result::PIERHEAD_RESULT_BUFFER_TOO_SMALL;
    }
    // SAFETY: `buf` holds `len` >= text.len() + 1 bytes, as checked; `out_len`
    // is NULL or valid, as the caller promised.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        *buf.add(text.len()) = 0;
        if !out_len.is_null() {
            *out_len = text.len();
        }
    }
    pierhead_result::PIERHEAD_RESULT_OK
}
