//! Recording what a thread measures: latencies of answers and deliveries (from
//! the intended send time, and uncorrected), errors by kind, the timeline second
//! by second, and the progress counters the caller samples. Only what happens in
//! the measured phase is recorded.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::conn::Why;
use super::Worker;
use crate::proto::frame::Stamp;
use crate::proto::Answers;
use crate::result::Second;

/// Most frames per thread whose last-member latency is tracked.
const MAX_FANOUT_TRACKED: usize = 4_000_000;

/// An error's kind, as counted in [`ErrorCounts`](crate::result::ErrorCounts).
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Connect,
    Read,
    Write,
    Timeout,
    Status,
    Framing,
}

impl Worker {
    /// Whether `t` is in the measured phase: after the warm-up, before the end
    /// (what completes after the end, while the last events are handled, is not
    /// counted: the phase lasts exactly its duration).
    #[inline]
    pub(super) fn measuring(&self, t: Instant) -> bool {
        t >= self.plan.clock.measure_start && self.plan.clock.end.is_none_or(|end| t < end)
    }

    /// The timeline's entry for `t`, if `t` is in the measured phase.
    #[inline]
    pub(super) fn second(&mut self, t: Instant) -> Option<&mut Second> {
        if !self.measuring(t) {
            return None;
        }
        Some(self.second_of(t))
    }

    /// The timeline's entry for `t`, known to be in the measured phase.
    #[inline]
    pub(super) fn second_of(&mut self, t: Instant) -> &mut Second {
        let s = (t - self.plan.clock.measure_start).as_secs() as usize;
        if self.rec.timeline.len() <= s {
            self.rec.timeline.resize(s + 1, Second::default());
        }
        &mut self.rec.timeline[s]
    }

    pub(super) fn ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.plan.clock.start)
            .as_nanos() as u64
    }

    pub(super) fn count_error(&mut self, now: Instant, n: u64, kind: Kind) {
        if n == 0 {
            return;
        }
        let live = &self.shared.live[self.plan.index].errors;
        live.store(live.load(Ordering::Relaxed) + n, Ordering::Relaxed);
        if let Some(s) = self.second(now) {
            s.errors += n;
            let e = &mut self.rec.errors;
            *match kind {
                Kind::Connect => &mut e.connect,
                Kind::Read => &mut e.read,
                Kind::Write => &mut e.write,
                Kind::Timeout => &mut e.timeout,
                Kind::Status => &mut e.status,
                Kind::Framing => &mut e.framing,
            } += n;
        }
    }

    pub(super) fn set_open(&self) {
        let open = self.conns.iter().filter(|c| c.open()).count() as u64;
        self.shared.live[self.plan.index]
            .open
            .store(open, Ordering::Relaxed);
    }

    /// Answers completed on connection `i`; false if it was closed.
    pub(super) fn answered(&mut self, i: usize, a: Answers, now: Instant) -> bool {
        let live = &self.shared.live[self.plan.index].answers;
        live.store(
            live.load(Ordering::Relaxed) + u64::from(a.complete),
            Ordering::Relaxed,
        );
        self.conns[i].fresh = false;
        let good = a.complete - a.bad_status;
        let mut measured_good = 0u64;
        let measuring = self.measuring(now);
        // More answers than requests: those that had one count, then the extra
        // one is a framing error.
        let mut extra = false;
        for k in 0..a.complete {
            let Some((intended, sent)) = self.conns[i].inflight.pop_front() else {
                extra = true;
                break;
            };
            if !measuring || k >= good {
                continue;
            }
            measured_good += 1;
            self.rec.latency.saturating_record(micros(now - intended));
            if let Some(h) = self.rec.uncorrected.as_mut() {
                h.saturating_record(micros(now - sent));
            }
        }
        if measuring {
            self.rec.requests += measured_good;
            self.second_of(now).requests += measured_good;
        }
        self.count_error(now, u64::from(a.bad_status), Kind::Status);
        if extra {
            self.close(i, Why::Framing, now);
            return false;
        }
        if a.close {
            self.close(i, Why::Done, now);
            return false;
        }
        self.after_progress(i, now);
        true
    }

    /// A data frame delivered to one of this thread's members: its latency from
    /// the publish, and the latest delivery of that frame (the last member's).
    pub(super) fn delivered(&mut self, stamp: Stamp, now: Instant) {
        self.last_delivery = now;
        let live = &self.shared.live[self.plan.index].answers;
        live.store(live.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        if !self.measuring(now) {
            return;
        }
        let now_ns = self.ns(now);
        let lat = micros(Duration::from_nanos(
            now_ns.saturating_sub(stamp.intended_ns),
        ));
        self.rec.latency.saturating_record(lat);
        if let Some(h) = self.rec.uncorrected.as_mut() {
            h.saturating_record(micros(Duration::from_nanos(
                now_ns.saturating_sub(stamp.sent_ns),
            )));
        }
        self.rec.requests += 1;
        if let Some(s) = self.second(now) {
            s.requests += 1;
        }
        if self.rec.fanout.len() < MAX_FANOUT_TRACKED
            || self.rec.fanout.contains_key(&(stamp.publisher, stamp.seq))
        {
            let e = self
                .rec
                .fanout
                .entry((stamp.publisher, stamp.seq))
                .or_insert(0);
            *e = (*e).max(lat);
        }
    }
}

/// A latency in whole microseconds, at least 1 (the histograms' lowest value).
pub(super) fn micros(d: Duration) -> u64 {
    (d.as_micros() as u64).max(1)
}
