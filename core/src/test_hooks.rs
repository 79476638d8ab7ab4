//! Counters the reliability build (`tiny-buffers`) keeps for its tests.

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) static SAME_TURN_REUSES: AtomicU64 = AtomicU64::new(0);

/// Connections accepted into a slab slot freed earlier in the same turn of the
/// event loop (the slab reuses the last freed slot first): the case where an
/// event still queued for the closed connection must not reach the new one.
pub fn same_turn_slot_reuses() -> u64 {
    SAME_TURN_REUSES.load(Ordering::Relaxed)
}
