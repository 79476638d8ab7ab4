//! `pierhead_result`, its text, and the detail of the last failure on this thread.
//! The C functions that hand these out are in `result_text`.

use std::cell::RefCell;

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

impl pierhead_result {
    /// A static description of the result, for `pierhead_result_str`.
    pub(crate) fn text(self) -> &'static std::ffi::CStr {
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

/// Runs `f` on the detail of the last failure on this thread ("" if none).
pub(crate) fn with_last_error<R>(f: impl FnOnce(&str) -> R) -> R {
    LAST_ERROR.with(|e| f(&e.borrow()))
}

/// A config error as a result: recorded as the last error (its message names the
/// field), `PIERHEAD_RESULT_INVALID_PARAMETER` returned.
pub(crate) fn invalid(e: &pierhead::ConfigError) -> pierhead_result {
    set_last_error(e.to_string());
    pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER
}
