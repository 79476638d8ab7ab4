//! `pierhead.bench(...)`: the load generator from Python, and `BenchResult`.
//!
//! The run happens on a thread of its own while the calling thread waits with the
//! interpreter released, looking for signals every 50 ms: Ctrl-C stops the run
//! (its threads end within a few milliseconds) and raises `KeyboardInterrupt`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use pierhead_loadgen::{
    html_report, run_until, BenchConfig, BenchError, BenchProtocol, BenchResult as CoreResult,
    Latency, ResultError,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::config::grace;
use crate::errors::{
    config_error, from_config_error, merge_error, nothing_measured_error, start_error,
};

/// How often the waiting thread looks for signals.
const POLL: Duration = Duration::from_millis(50);

/// Percentiles of one latency histogram, in seconds.
#[pyclass(
    module = "pierhead._pierhead",
    name = "LatencySummary",
    frozen,
    get_all
)]
#[derive(Clone)]
pub(crate) struct LatencySummary {
    pub count: u64,
    pub min: f64,
    pub mean: f64,
    pub stdev: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl From<Latency> for LatencySummary {
    fn from(l: Latency) -> LatencySummary {
        let s = |us: u64| us as f64 / 1e6;
        LatencySummary {
            count: l.count,
            min: s(l.min_us),
            mean: l.mean_us / 1e6,
            stdev: l.stdev_us / 1e6,
            p50: s(l.p50_us),
            p90: s(l.p90_us),
            p99: s(l.p99_us),
            p999: s(l.p99_9_us),
            max: s(l.max_us),
        }
    }
}

#[pymethods]
impl LatencySummary {
    fn __repr__(&self) -> String {
        format!(
            "LatencySummary(count={}, p50={:.6}, p90={:.6}, p99={:.6}, p999={:.6}, max={:.6})",
            self.count, self.p50, self.p90, self.p99, self.p999, self.max
        )
    }
}

/// What a run measured (`pierhead.bench`, `BenchResult.from_json`, `merge`).
#[pyclass(module = "pierhead._pierhead", name = "BenchResult", frozen)]
pub(crate) struct BenchResult {
    inner: CoreResult,
}

fn summary(h: &hdrhistogram::Histogram<u64>) -> LatencySummary {
    Latency::of(h).into()
}

#[pymethods]
impl BenchResult {
    /// The target as given.
    #[getter]
    fn target(&self) -> &str {
        &self.inner.target
    }

    /// `http`, `echo` or `frame`.
    #[getter]
    fn protocol(&self) -> &'static str {
        self.inner.protocol.as_str()
    }

    #[getter]
    fn connections(&self) -> u64 {
        self.inner.connections
    }

    #[getter]
    fn threads(&self) -> u64 {
        self.inner.threads
    }

    #[getter]
    fn pipeline(&self) -> u64 {
        self.inner.pipeline
    }

    /// The open-loop rate asked for, None for closed loop.
    #[getter]
    fn rate(&self) -> Option<f64> {
        self.inner.rate
    }

    /// Seconds measured.
    #[getter]
    fn duration(&self) -> f64 {
        self.inner.duration.as_secs_f64()
    }

    /// Right answers (HTTP 2xx/3xx, echoes, frame deliveries).
    #[getter]
    fn requests(&self) -> u64 {
        self.inner.requests
    }

    #[getter]
    fn requests_per_sec(&self) -> f64 {
        self.inner.requests_per_sec()
    }

    #[getter]
    fn sent(&self) -> u64 {
        self.inner.sent
    }

    #[getter]
    fn bytes_sent(&self) -> u64 {
        self.inner.bytes_sent
    }

    #[getter]
    fn bytes_received(&self) -> u64 {
        self.inner.bytes_received
    }

    /// Errors by kind: connect, read, write, timeout, status, framing.
    #[getter]
    fn errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let e = &self.inner.errors;
        let d = PyDict::new(py);
        for (k, v) in [
            ("connect", e.connect),
            ("read", e.read),
            ("write", e.write),
            ("timeout", e.timeout),
            ("status", e.status),
            ("framing", e.framing),
        ] {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    #[getter]
    fn errors_total(&self) -> u64 {
        self.inner.errors.total()
    }

    /// Latency percentiles (open loop: from each request's intended send time).
    #[getter]
    fn latency(&self) -> LatencySummary {
        summary(&self.inner.latency)
    }

    /// Open loop: the latency from the actual sends.
    #[getter]
    fn uncorrected_latency(&self) -> Option<LatencySummary> {
        self.inner.uncorrected.as_ref().map(summary)
    }

    /// Open loop: how far sends lagged behind their schedule.
    #[getter]
    fn send_lag(&self) -> Option<LatencySummary> {
        self.inner.send_lag.as_ref().map(summary)
    }

    /// Frame protocol: from a publish until the last member had the frame.
    #[getter]
    fn fanout_latency(&self) -> Option<LatencySummary> {
        self.inner.fanout.as_ref().map(summary)
    }

    /// (answers, errors) for each second of the measured phase.
    #[getter]
    fn timeline(&self) -> Vec<(u64, u64)> {
        self.inner
            .timeline
            .iter()
            .map(|s| (s.requests, s.errors))
            .collect()
    }

    /// How many runs this is (more than 1 after `merge`).
    #[getter]
    fn runs(&self) -> u64 {
        self.inner.runs
    }

    /// Stopped early (Ctrl-C).
    #[getter]
    fn interrupted(&self) -> bool {
        self.inner.interrupted
    }

    /// The latency at `q` (0.0 to 1.0), in seconds.
    fn quantile(&self, q: f64) -> PyResult<f64> {
        if !(0.0..=1.0).contains(&q) {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "quantile must be between 0 and 1, got {q}"
            )));
        }
        Ok(self.inner.quantile(q).as_secs_f64())
    }

    /// The latency histogram's buckets: (upper value in seconds, count) for every
    /// value range that recorded something, in order.
    fn buckets(&self) -> Vec<(f64, u64)> {
        self.inner
            .latency
            .iter_recorded()
            .map(|v| (v.value_iterated_to() as f64 / 1e6, v.count_at_value()))
            .collect()
    }

    /// The result as JSON (schema `pierhead-bench/1`, histograms included).
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// The JSON document as Python values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?
            .call_method1("loads", (self.inner.to_json(),))
    }

    /// A self-contained HTML page: latency percentiles and answers per second.
    fn html_report(&self) -> String {
        html_report(&self.inner)
    }

    /// This result and `other` added together, exactly (histograms included);
    /// `MergeError` for runs that measured different things.
    fn merge(&self, py: Python<'_>, other: &BenchResult) -> PyResult<BenchResult> {
        let mut inner = self.inner.clone();
        inner.merge(&other.inner).map_err(|e| match e {
            ResultError::Mismatch(m) => merge_error(py, &m),
            e => config_error(py, "other", e.to_string()),
        })?;
        Ok(BenchResult { inner })
    }

    /// Reads a result written by `to_json` (or `pierhead bench --json`).
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<BenchResult> {
        CoreResult::from_json(text)
            .map(|inner| BenchResult { inner })
            .map_err(|e| config_error(py, "json", e.to_string()))
    }

    /// The human summary, as `pierhead bench` prints it.
    fn summary(&self) -> String {
        self.inner.summary()
    }

    fn __repr__(&self) -> String {
        let l = Latency::of(&self.inner.latency);
        format!(
            "BenchResult(target={:?}, requests={}, requests_per_sec={:.0}, p50={:.6}, p99={:.6}, errors={})",
            self.inner.target,
            self.inner.requests,
            self.inner.requests_per_sec(),
            l.p50_us as f64 / 1e6,
            l.p99_us as f64 / 1e6,
            self.inner.errors.total()
        )
    }
}

/// Runs the load generator against `target` and returns what it measured.
#[pyfunction]
#[pyo3(signature = (target, *, protocol=None, connections=64, threads=1, duration=10.0,
    requests=None, warmup=0.0, pipeline=1, rate=None, method="GET", headers=None, body=None,
    body_size=None, timeout=2.0, room="bench", publishers=1, ws_text=false))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn bench(
    py: Python<'_>,
    target: &str,
    protocol: Option<&str>,
    connections: usize,
    threads: usize,
    duration: f64,
    requests: Option<u64>,
    warmup: f64,
    pipeline: usize,
    rate: Option<f64>,
    method: &str,
    headers: Option<&Bound<'_, PyAny>>,
    body: Option<Vec<u8>>,
    body_size: Option<usize>,
    timeout: f64,
    room: &str,
    publishers: usize,
    ws_text: bool,
) -> PyResult<BenchResult> {
    let mut c = BenchConfig::new(target)
        .connections(connections)
        .threads(threads)
        .duration(grace(py, "duration", duration)?)
        .warmup(grace(py, "warmup", warmup)?)
        .pipeline(pipeline)
        .method(method)
        .timeout(grace(py, "timeout", timeout)?)
        .room(room)
        .publishers(publishers)
        .ws_text(ws_text);
    if let Some(p) = protocol {
        let p: BenchProtocol = p.parse().map_err(|e| from_config_error(py, &e))?;
        c = c.protocol(p);
    }
    if let Some(n) = requests {
        c = c.requests(n);
    }
    if let Some(r) = rate {
        c = c.rate(r);
    }
    if let Some(h) = headers {
        let pairs: Vec<(String, String)> = match h.cast::<PyDict>() {
            Ok(d) => d.items().extract()?,
            Err(_) => h.extract().map_err(|_| {
                config_error(
                    py,
                    "headers",
                    "invalid config field `headers`: must be a mapping or (name, value) pairs"
                        .to_owned(),
                )
            })?,
        };
        for (name, value) in pairs {
            c = c.header(name, value);
        }
    }
    if let (Some(_), Some(_)) = (&body, body_size) {
        return Err(config_error(
            py,
            "body",
            "invalid config field `body`: give body or body_size, not both".to_owned(),
        ));
    }
    if let Some(b) = body {
        c = c.body(b);
    }
    if let Some(n) = body_size {
        c = c.body_size(n);
    }
    c.validate().map_err(|e| from_config_error(py, &e))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let flag = stop.clone();
    std::thread::Builder::new()
        .name("pierhead-bench".to_owned())
        .spawn(move || {
            let _ = tx.send(run_until(&c, &flag));
        })
        .map_err(|e| start_error(py, format!("cannot start the load generator: {e}")))?;
    // The receiver moves into each wait and back (it may not be shared).
    let mut rx = Some(rx);
    let outcome = loop {
        let Some(r) = rx.take() else {
            return Err(start_error(
                py,
                "the load generator stopped unexpectedly".to_owned(),
            ));
        };
        let (got, r) = py.detach(move || (r.recv_timeout(POLL), r));
        match got {
            Ok(outcome) => break outcome,
            Err(mpsc::RecvTimeoutError::Timeout) => rx = Some(r),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(start_error(
                    py,
                    "the load generator stopped unexpectedly".to_owned(),
                ))
            }
        }
        if let Err(signal) = py.check_signals() {
            stop.store(true, Ordering::Relaxed);
            if let Some(r) = rx.take() {
                let _ = py.detach(move || r.recv());
            }
            return Err(signal);
        }
    };
    match outcome {
        Ok(inner) => Ok(BenchResult { inner }),
        Err(BenchError::Config(e)) => Err(from_config_error(py, &e)),
        Err(BenchError::NothingMeasured(n)) => {
            let message = n.to_string();
            let reason = n.why.as_str();
            let result = Py::new(py, BenchResult { inner: n.result })?.into_any();
            Err(nothing_measured_error(py, message, reason, result))
        }
        Err(e) => Err(start_error(py, e.to_string())),
    }
}
