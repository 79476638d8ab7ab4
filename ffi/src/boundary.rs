//! What every export does at the C boundary: running its body with panics
//! caught ([`guard`]), checking pointer arguments ([`non_null`], [`required`]), reading C
//! strings and buffers ([`c_str`], [`bytes`]), making C strings for callbacks
//! ([`c_string`]) and writing text into a caller's buffer ([`copy_text`]). Failures are `pierhead_result` values with the detail
//! recorded for `pierhead_last_error_message`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::result::{pierhead_result, set_last_error};

/// Runs the body of an exported function; a panic becomes `PIERHEAD_RESULT_PANIC`.
pub(crate) fn guard(f: impl FnOnce() -> pierhead_result) -> pierhead_result {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        set_last_error("panic inside libpierhead".to_owned());
        pierhead_result::PIERHEAD_RESULT_PANIC
    })
}

/// Like [`guard`], for bodies that return early with `?` on a failed check.
pub(crate) fn guard_try(
    f: impl FnOnce() -> Result<pierhead_result, pierhead_result>,
) -> pierhead_result {
    guard(|| f().unwrap_or_else(|e| e))
}

/// A NULL out-parameter is `PIERHEAD_RESULT_NULL_PARAMETER`.
pub(crate) fn non_null<T>(p: *mut T, name: &str) -> Result<*mut T, pierhead_result> {
    if p.is_null() {
        set_last_error(format!("{name} is NULL"));
        return Err(pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER);
    }
    Ok(p)
}

/// A NULL function pointer (a callback, a handler) is
/// `PIERHEAD_RESULT_NULL_PARAMETER`.
pub(crate) fn required<F>(f: Option<F>, name: &str) -> Result<F, pierhead_result> {
    f.ok_or_else(|| {
        set_last_error(format!("{name} is NULL"));
        pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER
    })
}

/// Reads a NUL-terminated C string as UTF-8.
///
/// # Safety
/// `s` must be NULL or point to a NUL-terminated string valid for the call.
pub(crate) unsafe fn c_str<'a>(
    s: *const libc::c_char,
    field: &str,
) -> Result<&'a str, pierhead_result> {
    if s.is_null() {
        set_last_error(format!("{field} is NULL"));
        return Err(pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER);
    }
    // SAFETY: non-NULL and NUL-terminated, as the caller promised.
    let bytes = unsafe { std::ffi::CStr::from_ptr(s) };
    bytes.to_str().map_err(|_| {
        set_last_error(format!("{field} is not UTF-8"));
        pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER
    })
}

/// `s` as a C string for a callback; a NUL inside (a client may send one) shows as
/// `%00`, since a C string cannot hold it.
pub(crate) fn c_string(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s.replace('\0', "%00")).unwrap_or_default()
}

/// Copies `len` bytes at `ptr` (NULL allowed for 0).
///
/// # Safety
/// `ptr` valid for `len` bytes when `len` > 0.
pub(crate) unsafe fn bytes(ptr: *const u8, len: usize) -> Result<Vec<u8>, pierhead_result> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if ptr.is_null() {
        set_last_error("a buffer with a length is NULL".to_owned());
        return Err(pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER);
    }
    // SAFETY: valid for `len` bytes, as promised; copied here.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec())
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
