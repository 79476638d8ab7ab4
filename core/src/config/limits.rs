//! Fixed bounds on config values that other modules read too: the HTTP head
//! parser sizes its header slots by [`MAX_HEADERS`], so it lives here rather than
//! in the parser (the config names no service).

/// Upper bound on `workers`.
pub const MAX_WORKERS: usize = 256;

/// Upper bound on `max_headers`: the header fields one HTTP request head may hold
/// (the HTTP head parser has this many slots).
pub(crate) const MAX_HEADERS: usize = 256;
