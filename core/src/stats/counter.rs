//! [`Counter`]: a counter with one writing thread.
//!
//! Each worker owns a cache-line aligned block of counters (`Counters`, declared
//! by the stats table). Because a block has a single writer, an increment is a
//! relaxed load and store (a plain `mov` on x86), not a locked read-modify-write,
//! and no two workers ever share a cache line. Any thread may read the blocks at any
//! time; a `Stats` snapshot is their sum.

use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter with exactly one writing thread.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Must only be called by the counter's owning thread.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        // Single writer: load + store cannot lose an update, and avoids a locked op.
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Adds one. Must only be called by the counter's owning thread.
    #[inline]
    pub(crate) fn incr(&self) {
        self.add(1);
    }

    /// Reads the current value from any thread.
    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
