//! What a run measured: [`BenchResult`], its human summary, its JSON form (a
//! stable schema, `pierhead-bench/1`, with the exact histograms), and the lossless
//! merge of runs (from several threads, or several machines).

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
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

    fn add(&mut self, o: &ErrorCounts) {
        self.connect += o.connect;
        self.read += o.read;
        self.write += o.write;
        self.timeout += o.timeout;
        self.status += o.status;
        self.framing += o.framing;
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

/// Why runs cannot be merged, or a JSON document read.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// Not JSON of the expected shape.
    #[error("not a pierhead bench result: {0}")]
    Json(#[from] serde_json::Error),
    /// Another schema.
    #[error("schema `{0}` is not {SCHEMA}")]
    Schema(String),
    /// A histogram that does not decode.
    #[error("histogram `{0}` does not decode: {1}")]
    Histogram(&'static str, String),
    /// Runs that measured different things: merged, the result could not say
    /// what it holds.
    #[error(transparent)]
    Mismatch(#[from] Mismatch),
}

/// Two runs that cannot be merged: they differ in what [`Mismatch::field`] names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot merge: one run is {ours}, the other is {theirs}")]
pub struct Mismatch {
    /// `protocol`, `loop` (closed, or open at a rate) or `pipeline`.
    pub field: &'static str,
    /// What the run merged into is (`closed loop`, `an http run`, `pipeline 1`).
    pub ours: String,
    /// What the other run is.
    pub theirs: String,
}

impl Mismatch {
    /// The message naming both runs: `cannot merge: a.json is closed loop,
    /// b.json is open loop at 1000/s`.
    pub fn naming(&self, ours: &str, theirs: &str) -> String {
        format!(
            "cannot merge: {ours} is {}, {theirs} is {}",
            self.ours, self.theirs
        )
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct EncodedHistogram {
    /// Always `us`.
    unit: String,
    /// Always `hdrhistogram-v2-deflate+base64`.
    encoding: String,
    data: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Json {
    schema: String,
    target: String,
    protocol: BenchProtocol,
    connections: u64,
    threads: u64,
    pipeline: u64,
    rate: Option<f64>,
    duration_s: f64,
    requests: u64,
    sent: u64,
    requests_per_s: f64,
    bytes_sent: u64,
    bytes_received: u64,
    errors: ErrorCounts,
    errors_total: u64,
    latency: Latency,
    uncorrected_latency: Option<Latency>,
    send_lag: Option<Latency>,
    fanout_latency: Option<Latency>,
    timeline: Vec<Second>,
    runs: u64,
    interrupted: bool,
    histograms: Histograms,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Histograms {
    latency: EncodedHistogram,
    uncorrected_latency: Option<EncodedHistogram>,
    send_lag: Option<EncodedHistogram>,
    fanout_latency: Option<EncodedHistogram>,
}

fn encode(h: &Histogram<u64>) -> EncodedHistogram {
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail; a histogram of u64 counts always encodes.
    let _ = V2DeflateSerializer::new().serialize(h, &mut bytes);
    EncodedHistogram {
        unit: "us".to_owned(),
        encoding: "hdrhistogram-v2-deflate+base64".to_owned(),
        data: base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}

fn decode(name: &'static str, e: &EncodedHistogram) -> Result<Histogram<u64>, ResultError> {
    let bad = |why: String| ResultError::Histogram(name, why);
    if e.unit != "us" || e.encoding != "hdrhistogram-v2-deflate+base64" {
        return Err(bad(format!("unit {} / encoding {}", e.unit, e.encoding)));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&e.data)
        .map_err(|e| bad(e.to_string()))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| bad(format!("{e:?}")))?;
    // Into the standard bounds, so that histograms of any origin add up.
    let mut out = histogram();
    out.add(&h).map_err(|e| bad(format!("{e:?}")))?;
    Ok(out)
}

fn add_into(into: &mut Option<Histogram<u64>>, from: &Option<Histogram<u64>>) {
    match (into.as_mut(), from) {
        (Some(a), Some(b)) => a.add(b).unwrap_or_else(|_| unreachable!("same bounds")),
        (None, Some(b)) => *into = Some(b.clone()),
        _ => {}
    }
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

    /// The result as JSON (schema [`SCHEMA`], documented in README): the
    /// figures, the percentiles, and every histogram serialized exactly (HdrHistogram
    /// V2 + DEFLATE, base64), so that runs can be merged later without loss.
    pub fn to_json(&self) -> String {
        let j = Json {
            schema: SCHEMA.to_owned(),
            target: self.target.clone(),
            protocol: self.protocol,
            connections: self.connections,
            threads: self.threads,
            pipeline: self.pipeline,
            rate: self.rate,
            duration_s: self.duration.as_secs_f64(),
            requests: self.requests,
            sent: self.sent,
            requests_per_s: self.requests_per_sec(),
            bytes_sent: self.bytes_sent,
            bytes_received: self.bytes_received,
            errors: self.errors,
            errors_total: self.errors.total(),
            latency: Latency::of(&self.latency),
            uncorrected_latency: self.uncorrected.as_ref().map(Latency::of),
            send_lag: self.send_lag.as_ref().map(Latency::of),
            fanout_latency: self.fanout.as_ref().map(Latency::of),
            timeline: self.timeline.clone(),
            runs: self.runs,
            interrupted: self.interrupted,
            histograms: Histograms {
                latency: encode(&self.latency),
                uncorrected_latency: self.uncorrected.as_ref().map(encode),
                send_lag: self.send_lag.as_ref().map(encode),
                fanout_latency: self.fanout.as_ref().map(encode),
            },
        };
        // Plain data: serializing it cannot fail.
        serde_json::to_string_pretty(&j).unwrap_or_default()
    }

    /// Reads a result written by [`BenchResult::to_json`] (the histograms are what
    /// counts: the percentiles are computed again from them).
    pub fn from_json(text: &str) -> Result<BenchResult, ResultError> {
        let j: Json = serde_json::from_str(text)?;
        if j.schema != SCHEMA {
            return Err(ResultError::Schema(j.schema));
        }
        let opt =
            |name, e: &Option<EncodedHistogram>| e.as_ref().map(|e| decode(name, e)).transpose();
        Ok(BenchResult {
            target: j.target,
            protocol: j.protocol,
            connections: j.connections,
            threads: j.threads,
            pipeline: j.pipeline,
            rate: j.rate,
            duration: Duration::try_from_secs_f64(j.duration_s).unwrap_or_default(),
            requests: j.requests,
            sent: j.sent,
            bytes_sent: j.bytes_sent,
            bytes_received: j.bytes_received,
            errors: j.errors,
            latency: decode("latency", &j.histograms.latency)?,
            uncorrected: opt("uncorrected_latency", &j.histograms.uncorrected_latency)?,
            send_lag: opt("send_lag", &j.histograms.send_lag)?,
            fanout: opt("fanout_latency", &j.histograms.fanout_latency)?,
            timeline: j.timeline,
            runs: j.runs,
            interrupted: j.interrupted,
        })
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
        if self.protocol != other.protocol {
            differ("protocol", |r| {
                let p = r.protocol.as_str();
                // "an http run" (aitch), "an echo run", "a frame run".
                let article = if p == "frame" { "a" } else { "an" };
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

    /// `closed loop`, or `open loop at R/s`.
    pub(crate) fn mode(&self) -> String {
        match self.rate {
            Some(r) => format!("open loop at {r:.0}/s"),
            None => "closed loop".to_owned(),
        }
    }

    /// The human summary, as `pierhead bench` prints it.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let what = match self.protocol {
            BenchProtocol::Frame => "deliveries",
            _ => "requests",
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

#[cfg(test)]
mod tests {
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
    fn json_round_trips_exactly() {
        let mut r = sample(&[5, 100, 1000, 123_456, 7], 5);
        r.rate = Some(1000.0);
        r.send_lag = Some(r.latency.clone());
        let back = BenchResult::from_json(&r.to_json()).unwrap();
        assert_eq!(back.latency, r.latency);
        assert_eq!(back.send_lag, r.send_lag);
        assert_eq!(back.to_json(), r.to_json());
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["schema"], SCHEMA);
        assert_eq!(v["latency"]["p50_us"], 100);
        assert!(BenchResult::from_json("{}").is_err());
        let other = r.to_json().replace(SCHEMA, "other/9");
        assert!(matches!(
            BenchResult::from_json(&other),
            Err(ResultError::Schema(_))
        ));
    }

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

    #[test]
    fn runs_that_measured_different_things_are_not_merged() {
        let closed = sample(&[10], 1);
        let mut open = sample(&[10], 1);
        open.rate = Some(1000.0);
        let mut echo = sample(&[10], 1);
        echo.protocol = BenchProtocol::Echo;
        let mut deep = sample(&[10], 1);
        deep.pipeline = 16;
        for (other, field, ours, theirs) in [
            (&open, "loop", "closed loop", "open loop at 1000/s"),
            (&echo, "protocol", "an http run", "an echo run"),
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
