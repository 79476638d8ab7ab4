//! The JSON form of a result (schema [`SCHEMA`], `pierhead-bench/1`): the
//! figures, the percentiles, and every histogram exactly (HdrHistogram V2 +
//! DEFLATE, base64), so that runs can be merged later without loss.

use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use super::error::ResultError;
use super::types::{histogram, BenchResult, ErrorCounts, Latency, Second, SCHEMA};
use crate::config::BenchProtocol;

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

impl BenchResult {
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
}

#[cfg(test)]
mod tests {
    use super::super::types::tests::sample;
    use super::*;

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
}
