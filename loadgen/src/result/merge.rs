//! The lossless merge of results (from several threads, or several machines):
//! counts and histograms add up, timelines add second by second; runs that
//! measured different things are refused.

use hdrhistogram::Histogram;

use super::error::{Mismatch, ResultError};
use super::types::{BenchResult, ErrorCounts, Second};
use crate::config::BenchProtocol;

impl ErrorCounts {
    fn add(&mut self, o: &ErrorCounts) {
        self.connect += o.connect;
        self.read += o.read;
        self.write += o.write;
        self.timeout += o.timeout;
        self.status += o.status;
        self.framing += o.framing;
    }
}

fn add_into(into: &mut Option<Histogram<u64>>, from: &Option<Histogram<u64>>) {
    match (into.as_mut(), from) {
        (Some(a), Some(b)) => a.add(b).unwrap_or_else(|_| unreachable!("same bounds")),
        (None, Some(b)) => *into = Some(b.clone()),
        _ => {}
    }
}

impl BenchResult {
    /// Adds `other` to this result, losslessly: counts and histograms add up, the
    /// timelines add second by second, the duration is the longer one (runs on
    /// several machines at once), open-loop rates add up. Runs of another
    /// protocol, loop (closed, or open) or pipeline depth are refused
    /// ([`Mismatch`]): the result could not say what it holds.
    pub fn merge(&mut self, other: &BenchResult) -> Result<(), ResultError> {
        self.mergeable(other)?;
        if self.target != other.target && !self.target.split(" + ").any(|t| t == other.target) {
            self.target = format!("{} + {}", self.target, other.target);
        }
        self.connections += other.connections;
        self.threads += other.threads;
        self.rate = match (self.rate, other.rate) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.duration = self.duration.max(other.duration);
        self.requests += other.requests;
        self.sent += other.sent;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.errors.add(&other.errors);
        self.latency
            .add(&other.latency)
            .unwrap_or_else(|_| unreachable!("same bounds"));
        add_into(&mut self.uncorrected, &other.uncorrected);
        add_into(&mut self.send_lag, &other.send_lag);
        add_into(&mut self.fanout, &other.fanout);
        if self.timeline.len() < other.timeline.len() {
            self.timeline
                .resize(other.timeline.len(), Second::default());
        }
        for (a, b) in self.timeline.iter_mut().zip(&other.timeline) {
            a.requests += b.requests;
            a.errors += b.errors;
        }
        self.runs += other.runs;
        self.interrupted |= other.interrupted;
        Ok(())
    }

    /// Whether `other` measured the same kind of thing as this result.
    fn mergeable(&self, other: &BenchResult) -> Result<(), Mismatch> {
        let differ = |field, describe: fn(&BenchResult) -> String| {
            Err(Mismatch {
                field,
                ours: describe(self),
                theirs: describe(other),
            })
        };
        // WebSocket echo and rooms measure different things too.
        if self.protocol != other.protocol || self.fanout.is_some() != other.fanout.is_some() {
            differ("protocol", |r| {
                let p = match (r.protocol, r.fanout.is_some()) {
                    (BenchProtocol::Ws, true) => "ws rooms",
                    (BenchProtocol::Ws, false) => "ws echo",
                    (p, _) => p.as_str(),
                };
                // "an http run" (aitch), "an echo run", "a frame run", "a ws echo run".
                let article = if p.starts_with(['f', 'w']) { "a" } else { "an" };
                format!("{article} {p} run")
            })
        } else if self.rate.is_some() != other.rate.is_some() {
            differ("loop", BenchResult::mode)
        } else if self.pipeline != other.pipeline {
            differ("pipeline", |r| format!("pipeline {}", r.pipeline))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::types::tests::sample;
    use super::*;
    use crate::result::Latency;

    #[test]
    fn merge_equals_one_histogram_of_all_values() {
        let a_values = [3, 50, 900, 20_000];
        let b_values = [1, 77, 77, 5_000_000];
        let mut a = sample(&a_values, 4);
        let b = sample(&b_values, 4);
        let whole = {
            let mut all = a_values.to_vec();
            all.extend_from_slice(&b_values);
            sample(&all, 8)
        };
        let b = BenchResult::from_json(&b.to_json()).unwrap();
        a.merge(&b).unwrap();
        assert_eq!(a.latency, whole.latency);
        assert_eq!(Latency::of(&a.latency), Latency::of(&whole.latency));
        assert_eq!(
            (a.requests, a.errors.status, a.runs, a.connections),
            (8, 2, 2, 4)
        );
        assert_eq!(
            a.timeline,
            vec![
                Second {
                    requests: 4,
                    errors: 0
                };
                2
            ]
        );
        assert_eq!(a.duration, Duration::from_secs(2));
        let mut frame = sample(&[], 0);
        frame.protocol = BenchProtocol::Frame;
        assert!(a.merge(&frame).is_err());
    }

    #[test]
    fn runs_that_measured_different_things_are_not_merged() {
        let closed = sample(&[10], 1);
        let mut open = sample(&[10], 1);
        open.rate = Some(1000.0);
        let mut echo = sample(&[10], 1);
        echo.protocol = BenchProtocol::Echo;
        let mut deep = sample(&[10], 1);
        deep.pipeline = 16;
        let mut ws = sample(&[10], 1);
        ws.protocol = BenchProtocol::Ws;
        let mut rooms = ws.clone();
        rooms.fanout = Some(crate::result::histogram());
        for (other, field, ours, theirs) in [
            (&open, "loop", "closed loop", "open loop at 1000/s"),
            (&echo, "protocol", "an http run", "an echo run"),
            (&ws, "protocol", "an http run", "a ws echo run"),
            (&deep, "pipeline", "pipeline 1", "pipeline 16"),
        ] {
            let mut a = closed.clone();
            let Err(ResultError::Mismatch(m)) = a.merge(other) else {
                panic!("{field}: merged");
            };
            assert_eq!(
                (m.field, m.ours.as_str(), m.theirs.as_str()),
                (field, ours, theirs)
            );
            assert_eq!(a.runs, 1, "{field}: nothing was added");
        }
        let Err(ResultError::Mismatch(m)) = ws.clone().merge(&rooms) else {
            panic!("ws echo and rooms merged");
        };
        assert_eq!(
            (m.ours.as_str(), m.theirs.as_str()),
            ("a ws echo run", "a ws rooms run")
        );
        let Err(ResultError::Mismatch(m)) = open.clone().merge(&closed) else {
            panic!("merged");
        };
        assert_eq!(
            m.naming("a.json", "b.json"),
            "cannot merge: a.json is open loop at 1000/s, b.json is closed loop"
        );
        // Open-loop runs at other rates add up.
        let mut other_rate = open.clone();
        other_rate.rate = Some(500.0);
        let mut sum = open.clone();
        sum.merge(&other_rate).unwrap();
        assert_eq!(
            (sum.rate, sum.mode().as_str()),
            (Some(1500.0), "open loop at 1500/s")
        );
    }
}
