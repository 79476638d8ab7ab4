//! The HTTP values Python code handles: `Request` (what arrived), `Response` (what
//! to answer, and [`to_response`] for what a handler returned) and `Fault`/`Chaos`
//! (how to misbehave). Thin wrappers over the core types.

use std::time::Duration;

use pierhead::{
    Chaos as CoreChaos, Fault as CoreFault, Request as CoreRequest, Response as CoreResponse,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict};

use crate::body::{body_bytes, body_of, header_pairs};
use crate::config::seconds;
use crate::errors::{config_error, from_config_error};

/// A received request: given to handlers and returned by the request log.
#[pyclass(module = "pierhead._pierhead", name = "Request", frozen)]
pub(crate) struct Request {
    pub(crate) inner: CoreRequest,
}

#[pymethods]
impl Request {
    /// The method as sent.
    #[getter]
    fn method(&self) -> &str {
        &self.inner.method
    }

    /// Path and query, as sent.
    #[getter]
    fn target(&self) -> &str {
        &self.inner.target
    }

    /// The target before `?`.
    #[getter]
    fn path(&self) -> &str {
        self.inner.path()
    }

    /// The target after `?` (empty without one).
    #[getter]
    fn query_string(&self) -> &str {
        self.inner.query().unwrap_or("")
    }

    /// Query parameters, decoded, in order (repeated names repeat).
    #[getter]
    fn query(&self) -> Vec<(String, String)> {
        pierhead::query_pairs(self.inner.query().unwrap_or(""))
    }

    /// Query parameters as a dict; a repeated name keeps its first value.
    #[getter]
    fn args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (k, v) in self.query() {
            if !dict.contains(&k)? {
                dict.set_item(k, v)?;
            }
        }
        Ok(dict)
    }

    /// Header fields in order: name as sent, value decoded as Latin-1.
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.inner
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), latin1(v)))
            .collect()
    }

    /// The first header of this name (case-insensitive), or `default`.
    #[pyo3(signature = (name, default=None))]
    fn header(&self, name: &str, default: Option<String>) -> Option<String> {
        self.inner.header(name).map(latin1).or(default)
    }

    /// The body (in the request log, cut at `request_log_body_bytes`).
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.body)
    }

    /// Same as `body` (the name pytest-httpserver users know).
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.body(py)
    }

    /// The body decoded as UTF-8 (invalid bytes replaced).
    #[getter]
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.inner.body).into_owned()
    }

    /// The body parsed as JSON (`json.loads`).
    fn json<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let loads = LOADS.get_or_try_init(py, || {
            py.import("json")?.getattr("loads").map(Bound::unbind)
        })?;
        loads.bind(py).call1((PyBytes::new(py, &self.inner.body),))
    }

    /// The full body length, even when the log kept only part of it.
    #[getter]
    fn body_len(&self) -> u64 {
        self.inner.body_len
    }

    /// `HTTP/1.1` or `HTTP/1.0`.
    #[getter]
    fn version(&self) -> &'static str {
        if self.inner.version == 0 {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        }
    }

    /// Requests with the same id came on the same connection.
    #[getter]
    fn connection_id(&self) -> u64 {
        self.inner.connection_id
    }

    /// The fault its answer got on purpose (a route's `fault=` or chaos), or None.
    #[getter]
    fn fault(&self) -> Option<Fault> {
        self.inner.fault.map(|inner| Fault { inner })
    }

    /// For a route with chaos: `(seed, n)`, the seed and which answer of the route
    /// this was, which decided `fault` (`Chaos.decide(n)` gives it again).
    #[getter]
    fn chaos(&self) -> Option<(u64, u64)> {
        self.inner.chaos.map(|c| (c.seed, c.nth))
    }

    /// The id of the route that answered, `None` if none matched.
    #[getter]
    fn route_id(&self) -> Option<u64> {
        self.inner.route.map(|r| r.0)
    }

    fn __repr__(&self) -> String {
        format!(
            "<Request {} {} ({} body bytes)>",
            self.inner.method, self.inner.target, self.inner.body_len
        )
    }
}

/// Bytes as Latin-1 text: every byte one character, so nothing is lost.
fn latin1(v: &[u8]) -> String {
    v.iter().map(|&b| char::from(b)).collect()
}

/// An HTTP response to give: status, headers, body.
#[pyclass(module = "pierhead._pierhead", name = "Response", frozen)]
pub(crate) struct Response {
    pub(crate) inner: CoreResponse,
}

#[pymethods]
impl Response {
    /// `body` is `str` (sent as UTF-8, `text/plain; charset=utf-8` unless said
    /// otherwise) or `bytes` (`application/octet-stream`). `headers` is a mapping
    /// or an iterable of (name, value) pairs; `content_type` sets `Content-Type`.
    #[new]
    #[pyo3(signature = (body=None, status=200, headers=None, content_type=None))]
    fn new(
        py: Python<'_>,
        body: Option<&Bound<'_, PyAny>>,
        status: i64,
        headers: Option<&Bound<'_, PyAny>>,
        content_type: Option<String>,
    ) -> PyResult<Response> {
        let status = u16::try_from(status).map_err(|_| {
            config_error(
                py,
                "response.status",
                format!("invalid config field `response.status`: must be 100..=999, got {status}"),
            )
        })?;
        let mut r = CoreResponse::new(status);
        for (name, value) in header_pairs(headers)? {
            r = r.header(name, value);
        }
        let (bytes, default_type) = match body {
            None => (Vec::new(), None),
            Some(b) => {
                let (bytes, kind) = body_bytes(py, b, "response.body")?;
                (bytes, Some(kind))
            }
        };
        let has_type = r
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
        match (content_type, has_type) {
            (Some(t), _) => r = r.header("Content-Type", t),
            (None, false) => {
                if let Some(t) = default_type.filter(|_| !bytes.is_empty()) {
                    r = r.header("Content-Type", t);
                }
            }
            (None, true) => {}
        }
        r = r.body(bytes);
        r.validate().map_err(|e| from_config_error(py, &e))?;
        Ok(Response { inner: r })
    }

    /// A streamed response: `steps` are `str`/`bytes` pieces (each sent as one
    /// chunk) and `Step`s (`Step.pause(seconds)`, `Step.cut()`, `Step.reset()`),
    /// played in order with `Transfer-Encoding: chunked`. Served from Rust: the
    /// pauses are the I/O thread's timers.
    #[staticmethod]
    #[pyo3(signature = (steps, status=200, headers=None, content_type=None))]
    fn stream(
        py: Python<'_>,
        steps: &Bound<'_, PyAny>,
        status: i64,
        headers: Option<&Bound<'_, PyAny>>,
        content_type: Option<String>,
    ) -> PyResult<Response> {
        let mut r = Response::new(py, None, status, headers, content_type)?;
        r.inner.stream = Some(crate::stream::steps(py, steps)?.into());
        Ok(r)
    }

    /// A server-sent-events response (`text/event-stream`): `events` are
    /// `SseEvent`s (each with its own delay) and `Step`s (pauses, cut, reset);
    /// `retry` (seconds) is sent first as the client's reconnection delay. A
    /// `Content-Type` or `Cache-Control` in `headers` replaces the default.
    #[staticmethod]
    #[pyo3(signature = (events, retry=None, headers=None))]
    fn sse(
        py: Python<'_>,
        events: &Bound<'_, PyAny>,
        retry: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Response> {
        let r = crate::stream::sse(py, events, retry, header_pairs(headers)?)?.response();
        r.validate().map_err(|e| from_config_error(py, &e))?;
        Ok(Response { inner: r })
    }

    /// True for a streamed response.
    #[getter]
    fn is_stream(&self) -> bool {
        self.inner.stream.is_some()
    }

    /// The status code.
    #[getter]
    fn status(&self) -> u16 {
        self.inner.status
    }

    /// The headers given (the server adds Date, Content-Length and Connection).
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        self.inner.headers.clone()
    }

    /// The body.
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.body)
    }

    fn __repr__(&self) -> String {
        format!(
            "<Response {} ({} body bytes)>",
            self.inner.status,
            self.inner.body.len()
        )
    }
}

/// What a handler returned, as a response: a `Response`, or a `str`/`bytes` body
/// sent with status 200 and the content type `Response(body)` would give it.
pub(crate) fn to_response(value: &Bound<'_, PyAny>) -> PyResult<CoreResponse> {
    if let Ok(r) = value.cast::<Response>() {
        return Ok(r.get().inner.clone());
    }
    match body_of(value) {
        Some(body) => {
            let (bytes, kind) = body?;
            Ok(CoreResponse::new(200)
                .header("Content-Type", kind)
                .body(bytes))
        }
        None => Err(PyTypeError::new_err(format!(
            "a handler must return pierhead.Response, str or bytes, not {}",
            value.get_type().name()?
        ))),
    }
}

/// A misbehaviour on purpose; give it as `fault=` when responding.
#[pyclass(module = "pierhead._pierhead", name = "Fault", frozen)]
pub(crate) struct Fault {
    pub(crate) inner: CoreFault,
}

#[pymethods]
impl Fault {
    /// Wait `seconds` before responding (later pipelined requests wait behind it).
    #[staticmethod]
    fn delay(py: Python<'_>, seconds: &Bound<'_, PyAny>) -> PyResult<Fault> {
        let d = crate::config::seconds(py, "fault.delay", seconds)?;
        Ok(Fault {
            inner: CoreFault::Delay(d),
        })
    }

    /// Send the head, then the body `chunk_bytes` at a time, one piece per `interval`.
    #[staticmethod]
    fn drip(py: Python<'_>, chunk_bytes: i64, interval: &Bound<'_, PyAny>) -> PyResult<Fault> {
        let bytes = usize::try_from(chunk_bytes)
            .ok()
            .filter(|&b| b > 0)
            .ok_or_else(|| {
                config_error(
                    py,
                    "fault.drip.chunk_bytes",
                    format!(
                        "invalid config field `fault.drip.chunk_bytes`: must be at least 1, got {chunk_bytes}"
                    ),
                )
            })?;
        let interval = seconds(py, "fault.drip.interval", interval)?;
        if interval == Duration::ZERO {
            return Err(config_error(
                py,
                "fault.drip.interval",
                "invalid config field `fault.drip.interval`: must be longer than zero".to_owned(),
            ));
        }
        Ok(Fault {
            inner: CoreFault::Drip { bytes, interval },
        })
    }

    /// Send the head (announcing the full length), then close without the body.
    #[staticmethod]
    fn close_after_headers() -> Fault {
        Fault {
            inner: CoreFault::CloseAfterHeaders,
        }
    }

    /// Reset the connection (RST) instead of responding.
    #[staticmethod]
    fn reset() -> Fault {
        Fault {
            inner: CoreFault::Reset,
        }
    }

    /// Never respond; the connection stays open until the client or a timeout ends it.
    #[staticmethod]
    fn no_response() -> Fault {
        Fault {
            inner: CoreFault::NoResponse,
        }
    }

    fn __eq__(&self, other: &Fault) -> bool {
        self.inner == other.inner
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.__repr__().hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        match self.inner {
            CoreFault::Delay(d) => format!("Fault.delay({})", d.as_secs_f64()),
            CoreFault::Drip { bytes, interval } => {
                format!("Fault.drip({bytes}, {})", interval.as_secs_f64())
            }
            CoreFault::CloseAfterHeaders => "Fault.close_after_headers()".to_owned(),
            CoreFault::Reset => "Fault.reset()".to_owned(),
            CoreFault::NoResponse => "Fault.no_response()".to_owned(),
        }
    }
}

/// Faults chosen by chance from a seed: `Chaos(seed, [(0.1, Fault.reset()),
/// (0.05, Fault.delay(0.2))])`. Give it as `fault=`: each answer of the route gets
/// one of the faults with its probability, decided by the seed and the answer's
/// number, and the request log says which (`Request.fault`, `Request.chaos`).
#[pyclass(module = "pierhead._pierhead", name = "Chaos", frozen)]
pub(crate) struct Chaos {
    pub(crate) inner: CoreChaos,
}

#[pymethods]
impl Chaos {
    #[new]
    fn new(py: Python<'_>, seed: u64, faults: Vec<(f64, PyRef<'_, Fault>)>) -> PyResult<Chaos> {
        let mut c = CoreChaos::new(seed);
        for (p, f) in faults {
            c = c.with(p, f.inner);
        }
        // Checked here too, so that the error comes where the chaos is made.
        pierhead::Route::any("/")
            .chaos(c.clone())
            .validate()
            .map_err(|e| from_config_error(py, &e))?;
        Ok(Chaos { inner: c })
    }

    /// The seed.
    #[getter]
    fn seed(&self) -> u64 {
        self.inner.seed()
    }

    /// The fault the `n`-th answer (1-based) gets, or None.
    fn decide(&self, n: u64) -> Option<Fault> {
        self.inner.decide(n).map(|inner| Fault { inner })
    }

    fn __repr__(&self) -> String {
        format!(
            "Chaos(seed={}, {} faults)",
            self.inner.seed(),
            self.inner.choices().len()
        )
    }
}
