//! The result types: [`BenchResult`] (what a run, or several merged, measured),
//! its parts ([`ErrorCounts`], [`Second`], [`Latency`]), the histograms they are
//! recorded into, and the figures derived from them.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::config::BenchProtocol;

/// The JSON schema's name and version.
pub const SCHEMA: &str = "pierhead-bench/1";

/// Highest latency a histogram holds, in microseconds (an hour); longer ones are
/// recorded as this.
pub(crate) const MAX_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds, 3 significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, MAX_US, 3).unwrap_or_else(|_| unreachable!("valid bounds"))
}

/// Errors by kind. A wrong answer is an error, never a success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorCounts {
    /// Connections that could not be made.
    pub connect: u64,
    /// Reads that failed, or connections closed with requests unanswered (one per
    /// unanswered request).
    pub read: u64,
    /// Writes that failed.
    pub write: u64,
    /// Requests not answered within the timeout.
    pub timeout: u64,
    /// HTTP responses with a status outside 200..=399.
    pub status: u64,
    /// Answers that are not valid: malformed HTTP, echoed bytes that differ,
    /// bad frames or an `ERROR` from the server.
    pub framing: u64,
}

impl ErrorCounts {
    /// All errors.
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout + self.status + self.framing
    }
}

impl std::fmt::Display for ErrorCounts {
    /// `connect 0, read 2, write 0, timeout 5, status 0, framing 0`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "connect {}, read {}, write {}, timeout {}, status {}, framing {}",
            self.connect, self.read, self.write, self.timeout, self.status, self.framing
        )
    }
}

/// One entry per whole second of a measured phase that lasted `duration` (at
/// least one): what happened after the last whole second (a duration that is not
/// a whole number of seconds, the end of a requests run, a stop) is folded into
/// the last entry, so that the entries add up to the totals.
pub(crate) fn fit_timeline(timeline: &mut Vec<Second>, duration: Duration) {
    let n = (duration.as_secs() as usize).max(1);
    if timeline.len() > n {
        let tail = timeline.split_off(n);
        if let Some(last) = timeline.last_mut() {
            for s in tail {
                last.requests += s.requests;
                last.errors += s.errors;
            }
        }
    }
    timeline.resize(n, Second::default());
}

/// One second of the measured phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Second {
    /// Answers completed in that second.
    pub requests: u64,
    /// Errors in that second.
    pub errors: u64,
}

/// Percentiles of a histogram.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Latency {
    /// Values recorded.
    pub count: u64,
    /// Smallest, in microseconds.
    pub min_us: u64,
    /// Mean, in microseconds.
    pub mean_us: f64,
    /// Standard deviation, in microseconds.
    pub stdev_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p99_9_us: u64,
    /// Largest.
    pub max_us: u64,
}

impl Latency {
    /// The percentiles of `h` (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            count: h.len(),
            min_us: h.min(),
            mean_us: h.mean(),
            stdev_us: h.stdev(),
            p50_us: h.value_at_quantile(0.5),
            p90_us: h.value_at_quantile(0.9),
            p99_us: h.value_at_quantile(0.99),
            p99_9_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// What a run (or several, merged) measured.
#[derive(Debug, Clone)]
pub struct BenchResult {
    /// The target, as given (merged runs with different targets: joined by `+`).
    pub target: String,
    /// The protocol spoken.
    pub protocol: BenchProtocol,
    /// Connections (summed over merged runs).
    pub connections: u64,
    /// Threads (summed over merged runs).
    pub threads: u64,
    /// Requests in flight per connection.
    pub pipeline: u64,
    /// The open-loop rate asked for (summed over merged runs), if any.
    pub rate: Option<f64>,
    /// Length of the measured phase (the longest of merged runs).
    pub duration: Duration,
    /// Answers that were right: HTTP responses with a 2xx/3xx status, echoes,
    /// frames delivered to members.
    pub requests: u64,
    /// Requests sent (frames published).
    pub sent: u64,
    /// Bytes written.
    pub bytes_sent: u64,
    /// Bytes read.
    pub bytes_received: u64,
    /// Errors by kind.
    pub errors: ErrorCounts,
    /// Latency of the right answers in microseconds: from the intended send time
    /// in open loop (corrected for coordinated omission), from the send in closed
    /// loop; for frames, from the publish until a member has the frame.
    pub latency: Histogram<u64>,
    /// Open loop: the same latencies from the actual send (what a closed-loop
    /// tool reports).
    pub uncorrected: Option<Histogram<u64>>,
    /// Open loop: how far each send lagged behind its schedule.
    pub send_lag: Option<Histogram<u64>>,
    /// Frame protocol: per frame, from its publish until the last member had it.
    pub fanout: Option<Histogram<u64>>,
    /// The measured phase second by second.
    pub timeline: Vec<Second>,
    /// How many runs this is (1, or the number merged).
    pub runs: u64,
    /// Stopped early (Ctrl-C, or the caller's stop).
    pub interrupted: bool,
}

impl BenchResult {
    /// Right answers per second of the measured phase.
    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.duration.as_secs_f64().max(1e-9)
    }

    /// Bytes read per second of the measured phase.
    pub fn bytes_per_sec(&self) -> f64 {
        self.bytes_received as f64 / self.duration.as_secs_f64().max(1e-9)
    }

    /// The latency at `quantile` (0.0 ..= 1.0).
    pub fn quantile(&self, quantile: f64) -> Duration {
        Duration::from_micros(self.latency.value_at_quantile(quantile))
    }

    /// The latency percentiles.
    pub fn latency_summary(&self) -> Latency {
        Latency::of(&self.latency)
    }

    /// `closed loop`, or `open loop at R/s`.
    pub(crate) fn mode(&self) -> String {
        match self.rate {
            Some(r) => format!("open loop at {r:.0}/s"),
            None => "closed loop".to_owned(),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn sample(values: &[u64], requests: u64) -> BenchResult {
        let mut h = histogram();
        for &v in values {
            h.record(v).unwrap();
        }
        BenchResult {
            target: "http://127.0.0.1:1/".to_owned(),
            protocol: BenchProtocol::Http,
            connections: 2,
            threads: 1,
            pipeline: 1,
            rate: None,
            duration: Duration::from_secs(2),
            requests,
            sent: requests,
            bytes_sent: 10,
            bytes_received: 20,
            errors: ErrorCounts {
                status: 1,
                ..ErrorCounts::default()
            },
            latency: h,
            uncorrected: None,
            send_lag: None,
            fanout: None,
            timeline: vec![
                Second {
                    requests: requests / 2,
                    errors: 0,
                };
                2
            ],
            runs: 1,
            interrupted: false,
        }
    }

    #[test]
    fn a_timeline_has_one_entry_per_whole_second() {
        let s = |requests| Second {
            requests,
            errors: 1,
        };
        let mut t = vec![s(10), s(20), s(3)];
        fit_timeline(&mut t, Duration::from_millis(2500));
        assert_eq!(
            t,
            [
                s(10),
                Second {
                    requests: 23,
                    errors: 2
                }
            ]
        );
        let mut t = vec![s(10)];
        fit_timeline(&mut t, Duration::from_secs(3));
        assert_eq!(t, [s(10), Second::default(), Second::default()]);
        let mut t = vec![s(4)];
        fit_timeline(&mut t, Duration::from_millis(300));
        assert_eq!(t, [s(4)]);
    }
}
