//! `discard` (RFC 863): read and drop everything.

use super::{Next, Progress};

pub(super) fn on_input(input: &[u8]) -> Progress {
    Progress {
        consumed: input.len(),
        next: Next::Continue,
    }
}
