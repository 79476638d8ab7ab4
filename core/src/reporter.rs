//! The stats thread: calls the user's stats callback every interval.
//!
//! It is the only thread that runs that callback, so the callback never runs on an
//! I/O thread and never slows serving. A panic in the callback is caught and counted
//! as a handler error; the next interval calls it again.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use crate::config::StatsCallback;
use crate::server_core::ServerCore;

pub(crate) fn run(shared: Arc<ServerCore>, callback: StatsCallback) {
    shared.adopt_current_thread();
    let interval = shared.config.stats_interval;
    let mut next = Instant::now() + interval;
    loop {
        if shared.reporter_sleep(next) {
            return;
        }
        let stats = shared.stats();
        if catch_unwind(AssertUnwindSafe(|| callback(&stats))).is_err() {
            shared.reporter_counters().handler_errors.incr();
        }
        next += interval;
        let now = Instant::now();
        if next <= now {
            next = now + interval; // a slow callback skips ticks instead of bunching them
        }
    }
}
