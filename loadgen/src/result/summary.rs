//! The human summary of a result, as `pierhead bench` prints it, and the units
//! it writes (`1.23ms`, `4.5 KiB`).

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::types::{BenchResult, Latency};

impl BenchResult {
    /// The human summary, as `pierhead bench` prints it.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        // Frame protocol and WebSocket rooms count deliveries to members.
        let what = match self.fanout {
            Some(_) => "deliveries",
            None => "requests",
        };
        let mode = self.mode();
        let _ = writeln!(
            s,
            "{} {} for {:.2}s: {} connections on {} thread(s), pipeline {}, {mode}{}",
            self.protocol.as_str(),
            self.target,
            self.duration.as_secs_f64(),
            self.connections,
            self.threads,
            self.pipeline,
            if self.runs > 1 {
                format!(" ({} runs merged)", self.runs)
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            s,
            "  {} {what} ({:.0}/s), {} sent, {} read ({}/s), {} written",
            self.requests,
            self.requests_per_sec(),
            self.sent,
            bytes(self.bytes_received),
            bytes(self.bytes_per_sec() as u64),
            bytes(self.bytes_sent)
        );
        let line = |s: &mut String, name: &str, h: &Histogram<u64>| {
            if h.is_empty() {
                let _ = writeln!(s, "  {name:<12} n/a (nothing measured)");
                return;
            }
            let l = Latency::of(h);
            let _ = writeln!(
                s,
                "  {name:<12} p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {}, stdev {})",
                us(l.p50_us),
                us(l.p90_us),
                us(l.p99_us),
                us(l.p99_9_us),
                us(l.max_us),
                us(l.mean_us as u64),
                us(l.stdev_us as u64)
            );
        };
        line(&mut s, "latency", &self.latency);
        if let Some(h) = &self.uncorrected {
            line(&mut s, "uncorrected", h);
        }
        if let Some(h) = &self.send_lag {
            line(&mut s, "send lag", h);
        }
        if let Some(h) = &self.fanout {
            line(&mut s, "last member", h);
        }
        let e = &self.errors;
        let _ = write!(s, "  errors {}: {e}", e.total());
        if self.interrupted {
            s.push_str("\n  (interrupted)");
        }
        s
    }
}

/// `1.23ms`, `456us`, `2.00s`.
pub(crate) fn us(v: u64) -> String {
    if v >= 1_000_000 {
        format!("{:.2}s", v as f64 / 1e6)
    } else if v >= 1_000 {
        format!("{:.2}ms", v as f64 / 1e3)
    } else {
        format!("{v}us")
    }
}

fn bytes(v: u64) -> String {
    if v >= 1 << 30 {
        format!("{:.2} GiB", v as f64 / (1u64 << 30) as f64)
    } else if v >= 1 << 20 {
        format!("{:.2} MiB", v as f64 / (1u64 << 20) as f64)
    } else if v >= 1 << 10 {
        format!("{:.1} KiB", v as f64 / 1024.0)
    } else {
        format!("{v} B")
    }
}
