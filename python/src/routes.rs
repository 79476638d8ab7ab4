//! Expectations as core routes: `Matcher` (which requests), `Route` (a matcher plus
//! its answer, use limit and fault) and `Ordering` (routes that must be requested in
//! sequence).
//!
//! Matching happens in Rust, on the I/O thread, for every kind of condition: exact
//! query strings through the core's own matcher, query parameters in any order and
//! JSON bodies compared as values through `Route::when` conditions. A static answer
//! is then written without the interpreter; only a Python handler attaches to it.

use std::sync::{Arc, Mutex, PoisonError};

use pierhead::{
    Fault as CoreFault, Handler, Request as CoreRequest, RequestView, Response as CoreResponse,
    Route as CoreRoute,
};
use pyo3::exceptions::PyAssertionError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use pyo3::{PyTraverseError, PyVisit};

use crate::body::{body_bytes, header_pairs};
use crate::callbacks::PyHandler;
use crate::error_sink::ErrorSink;
use crate::errors::{config_error, expectation_error, from_config_error};
use crate::http::{Chaos, Fault, Request, Response};
use crate::websocket::WebSocket;

/// Which requests an expectation is about.
#[pyclass(module = "pierhead._pierhead", name = "Matcher", frozen)]
pub(crate) struct Matcher {
    /// A route with the conditions only (its answer is never used).
    route: CoreRoute,
    description: String,
    /// With a `json` condition: the same route without it. A request the log cut
    /// that meets every other condition cannot be decided (see `matches`).
    without_json: Option<CoreRoute>,
    /// Python conditions (`callable(request) -> bool`), run on the handler
    /// threads when serving (deferred conditions of the core route).
    conditions: Vec<Py<PyAny>>,
}

#[pymethods]
impl Matcher {
    /// `uri` is the path (exact; with `prefix=True` every path starting with it).
    /// `method` `None` matches any. `query_string` is `str`/`bytes` (compared
    /// exactly) or a mapping (parameters compared decoded, in any order).
    /// `headers` must all be present with exactly these values (names in any case).
    /// `data` is the exact body; `json_text` a JSON document the body must equal as
    /// a value. The method is compared in upper case (`get` is `GET`); the path is
    /// compared with `%XX` escapes decoded unless `raw_path`.
    #[new]
    /// `conditions` are callables given the `Request`, all of which must return
    /// true; the server runs them on its handler threads, never an I/O thread.
    #[pyo3(signature = (uri, method=None, query_string=None, headers=None, data=None, json_text=None, prefix=false, raw_path=false, conditions=None, description=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        uri: String,
        method: Option<String>,
        query_string: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        data: Option<&Bound<'_, PyAny>>,
        json_text: Option<String>,
        prefix: bool,
        raw_path: bool,
        conditions: Option<Vec<Py<PyAny>>>,
        description: Option<String>,
    ) -> PyResult<Matcher> {
        let conditions = conditions.unwrap_or_default();
        if let Some(c) = conditions.iter().find(|c| !c.bind(py).is_callable()) {
            return Err(config_error(
                py,
                "conditions",
                format!(
                    "invalid config field `conditions`: must be callables, got {}",
                    c.bind(py).get_type().name()?
                ),
            ));
        }
        let method = method
            .filter(|m| !m.is_empty())
            .map(|m| m.to_ascii_uppercase());
        let mut description = format!(
            "{} {}",
            method.as_deref().unwrap_or("*"),
            description.as_deref().unwrap_or(&uri)
        );
        if prefix && description.ends_with(&uri) {
            description.push('*');
        }
        let mut route = match method {
            Some(m) => CoreRoute::new(m, uri),
            None => CoreRoute::any(uri),
        };
        if prefix {
            route = route.prefix();
        }
        if raw_path {
            route = route.raw_path();
        }
        if let Some(q) = query_string {
            route = with_query(py, route, q, &mut description)?;
        }
        for (name, value) in header_pairs(headers)? {
            description.push_str(&format!(" [{name}: {value}]"));
            route = route.header(name, value);
        }
        if let Some(d) = data {
            let (bytes, _) = body_bytes(py, d, "data")?;
            description.push_str(&format!(" data={}", preview(&bytes)));
            route = route.body(bytes);
        }
        let without_json = json_text.is_some().then(|| route.clone());
        if let Some(text) = json_text {
            let expected: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                config_error(py, "json", format!("invalid config field `json`: {e}"))
            })?;
            description.push_str(&format!(" json={expected}"));
            route = route.when(move |r: &RequestView<'_>| {
                serde_json::from_slice::<serde_json::Value>(r.body()).is_ok_and(|v| v == expected)
            });
        }
        route.validate().map_err(|e| from_config_error(py, &e))?;
        for c in &conditions {
            let shown = c.bind(py).repr()?.to_string();
            if !description.ends_with(&shown) {
                description.push_str(&format!(" if {shown}"));
            }
        }
        Ok(Matcher {
            route,
            description,
            without_json,
            conditions,
        })
    }

    /// Whether `request` meets every condition (use limits aside). A body the
    /// request log cut is compared exactly for `data` (by length and digest); for
    /// `json` it cannot be, and `ExpectationError` says so.
    fn matches(&self, py: Python<'_>, request: &Request) -> PyResult<bool> {
        let r = &request.inner;
        let undecidable = |w: &CoreRoute| !r.body_is_whole() && w.matches(r);
        if self.without_json.as_ref().is_some_and(undecidable) {
            return Err(expectation_error(
                py,
                format!(
                    "cannot compare `json` of {} {}: the request log kept {} of its {} body bytes \
                     (raise request_log_body_bytes)",
                    r.method,
                    r.target,
                    r.body.len(),
                    r.body_len
                ),
            ));
        }
        if !self.route.matches(r) {
            return Ok(false);
        }
        for c in &self.conditions {
            let request = Py::new(py, Request { inner: r.clone() })?;
            if !c.bind(py).call1((request,))?.is_truthy()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn __repr__(&self) -> String {
        format!("<Matcher {}>", self.description)
    }

    /// Lets the garbage collector see the conditions (which may refer back to
    /// the server).
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        for c in &self.conditions {
            visit.call(c)?;
        }
        Ok(())
    }

    fn __str__(&self) -> String {
        self.description.clone()
    }
}

/// Adds the query condition: exact text, or decoded parameters in any order.
fn with_query(
    py: Python<'_>,
    route: CoreRoute,
    q: &Bound<'_, PyAny>,
    description: &mut String,
) -> PyResult<CoreRoute> {
    if let Ok(s) = q.cast::<PyString>() {
        let s = s.to_cow()?.into_owned();
        description.push_str(&format!("?{s}"));
        return Ok(route.query(s));
    }
    if let Ok(b) = q.cast::<PyBytes>() {
        let s = std::str::from_utf8(b.as_bytes())
            .map_err(|_| {
                config_error(
                    py,
                    "query_string",
                    "invalid config field `query_string`: bytes must be ASCII".to_owned(),
                )
            })?
            .to_owned();
        description.push_str(&format!("?{s}"));
        return Ok(route.query(s));
    }
    if !q.hasattr("items")? {
        return Err(config_error(
            py,
            "query_string",
            "invalid config field `query_string`: must be str, bytes or a mapping".to_owned(),
        ));
    }
    // A mapping: each value a string, or a list of strings for a repeated name.
    let mut expected: Vec<(String, String)> = Vec::new();
    for item in q.call_method0("items")?.try_iter()? {
        let (name, value): (String, Bound<'_, PyAny>) = item?.extract()?;
        if let Ok(v) = value.extract::<String>() {
            expected.push((name, v));
        } else {
            for v in value.extract::<Vec<String>>()? {
                expected.push((name.clone(), v));
            }
        }
    }
    expected.sort();
    description.push_str(&format!(" query={expected:?}"));
    Ok(route.when(move |r: &RequestView<'_>| {
        let mut got = pierhead::query_pairs(r.query().unwrap_or(""));
        got.sort();
        got == expected
    }))
}

/// Up to 60 characters of a body, for messages.
fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("{short:?}")
}

/// What an expectation answers: a fixed response (served without the interpreter),
/// a Python callable, or a WebSocket endpoint (the request upgrades).
enum Answer {
    Static(CoreResponse),
    Python(Py<PyAny>),
    WebSocket(Py<WebSocket>),
}

/// An expectation ready to be added to a server: matcher, answer, use limit, fault
/// and, for ordered expectations, its place in the sequence.
#[pyclass(module = "pierhead._pierhead", name = "Route", frozen)]
pub(crate) struct Route {
    matcher: Py<Matcher>,
    answer: Answer,
    uses: Option<u64>,
    fault: Option<CoreFault>,
    chaos: Option<pierhead::Chaos>,
    ordered: Option<(Arc<Mutex<OrderState>>, usize)>,
}

#[pymethods]
impl Route {
    /// Exactly one of `response`, `handler` and `websocket`. `uses` limits how many
    /// requests it answers (then it stops matching). `ordering` is an (Ordering,
    /// place) pair: the route answers only when every earlier place has been
    /// requested. A WebSocket endpoint takes neither `fault` (it has faults of its
    /// own) nor `ordering`.
    #[new]
    #[pyo3(signature = (matcher, *, response=None, handler=None, uses=None, fault=None, ordering=None, websocket=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        matcher: Py<Matcher>,
        response: Option<&Bound<'_, Response>>,
        handler: Option<Py<PyAny>>,
        uses: Option<u64>,
        fault: Option<&Bound<'_, PyAny>>,
        ordering: Option<(Py<Ordering>, usize)>,
        websocket: Option<Py<WebSocket>>,
    ) -> PyResult<Route> {
        if websocket.is_some() {
            let refused = if fault.is_some() {
                Some((
                    "fault",
                    "a WebSocket endpoint has faults of its own (WebSocket.fault_after, ...)",
                ))
            } else if ordering.is_some() {
                Some((
                    "ordering",
                    "a WebSocket endpoint cannot be an ordered expectation",
                ))
            } else {
                None
            };
            if let Some((field, why)) = refused {
                return Err(config_error(
                    py,
                    field,
                    format!("invalid config field `{field}`: {why}"),
                ));
            }
        }
        let (fault, chaos) = match fault {
            None => (None, None),
            Some(f) => {
                if let Ok(f) = f.cast::<Fault>() {
                    (Some(f.get().inner), None)
                } else if let Ok(c) = f.cast::<Chaos>() {
                    (None, Some(c.get().inner.clone()))
                } else {
                    return Err(config_error(
                        py,
                        "fault",
                        format!(
                            "invalid config field `fault`: must be pierhead.Fault or pierhead.Chaos, not {}",
                            f.get_type().name()?
                        ),
                    ));
                }
            }
        };
        let answer = match (response, handler, websocket) {
            (None, None, Some(w)) => Answer::WebSocket(w),
            (Some(r), None, None) => Answer::Static(r.get().inner.clone()),
            (None, Some(h), None) if h.bind(py).is_callable() => Answer::Python(h),
            (None, Some(_), None) => {
                return Err(config_error(
                    py,
                    "handler",
                    "invalid config field `handler`: must be callable".to_owned(),
                ))
            }
            _ => {
                return Err(config_error(
                    py,
                    "response",
                    "invalid config field `response`: give exactly one of response, handler and websocket"
                        .to_owned(),
                ))
            }
        };
        if uses == Some(0) {
            return Err(config_error(
                py,
                "uses",
                "invalid config field `uses`: must be at least 1, got 0".to_owned(),
            ));
        }
        let ordered = match ordering {
            None => None,
            Some((o, place)) => {
                let state = o.get().state.clone();
                let known = state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .expected
                    .len();
                if place >= known {
                    return Err(config_error(
                        py,
                        "ordering",
                        format!("invalid config field `ordering`: place {place} was not reserved (use Ordering.reserve)"),
                    ));
                }
                Some((state, place))
            }
        };
        Ok(Route {
            matcher,
            answer,
            uses,
            fault,
            chaos,
            ordered,
        })
    }

    /// The same route with another use limit (used to re-add what is left of an
    /// expectation when a stopped server is started again).
    fn with_uses(&self, py: Python<'_>, uses: Option<u64>) -> Route {
        Route {
            matcher: self.matcher.clone_ref(py),
            answer: match &self.answer {
                Answer::Static(r) => Answer::Static(r.clone()),
                Answer::Python(h) => Answer::Python(h.clone_ref(py)),
                Answer::WebSocket(w) => Answer::WebSocket(w.clone_ref(py)),
            },
            uses,
            fault: self.fault,
            chaos: self.chaos.clone(),
            ordered: self.ordered.clone(),
        }
    }

    /// The use limit, `None` for unlimited.
    #[getter]
    fn uses(&self) -> Option<u64> {
        self.uses
    }

    /// The matcher.
    #[getter]
    fn matcher(&self, py: Python<'_>) -> Py<Matcher> {
        self.matcher.clone_ref(py)
    }

    fn __repr__(&self) -> String {
        format!("<Route {}>", self.matcher.get().description)
    }

    /// Lets the garbage collector see the handler, so a handler that refers back
    /// to its server does not keep both alive forever.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.matcher)?;
        match &self.answer {
            Answer::Python(h) => visit.call(h)?,
            Answer::WebSocket(w) => visit.call(w)?,
            Answer::Static(_) => {}
        }
        Ok(())
    }
}

impl Route {
    /// The core route; a Python handler reports its exceptions to `errors`. For a
    /// Python handler, a Python thread is made ready to run it.
    pub(crate) fn to_core(&self, py: Python<'_>, errors: &Arc<ErrorSink>) -> PyResult<CoreRoute> {
        let matcher = self.matcher.get();
        let python_answer = match &self.answer {
            Answer::Python(_) => true,
            Answer::WebSocket(w) => w.get().has_handler(),
            Answer::Static(_) => false,
        };
        if python_answer || !matcher.conditions.is_empty() {
            crate::executor::ensure_thread(py)?;
        }
        let mut route = matcher.route.clone();
        for c in &matcher.conditions {
            let (callable, errors) = (Arc::new(c.clone_ref(py)), errors.clone());
            route = route.when_deferred(move |r| crate::executor::check(&callable, r, &errors));
        }
        let python = |h: &Py<PyAny>| PyHandler {
            callable: Arc::new(h.clone_ref(py)),
            errors: errors.clone(),
        };
        route = match (&self.answer, &self.ordered) {
            (Answer::Static(r), None) => route.respond(r.clone()),
            (Answer::Python(h), None) => route.handler(python(h)),
            (Answer::WebSocket(w), _) => route.websocket(w.get().to_core(py, errors)),
            (answer, Some((state, index))) => route.handler(InOrder {
                state: state.clone(),
                index: *index,
                answer: match answer {
                    Answer::Static(r) => OrderedAnswer::Static(r.clone()),
                    Answer::Python(h) => OrderedAnswer::Python(python(h)),
                    Answer::WebSocket(_) => unreachable!("refused by Route::new"),
                },
                errors: errors.clone(),
            }),
        };
        if let Some(n) = self.uses {
            route = route.uses(n);
        }
        if let Some(c) = &self.chaos {
            route = route.chaos(c.clone());
        }
        Ok(match self.fault {
            Some(f) => route.fault(f),
            None => route,
        })
    }
}

/// A sequence of ordered expectations.
#[derive(Default)]
pub(crate) struct OrderState {
    /// Descriptions of the expectations, in order.
    expected: Vec<String>,
    /// The next one due.
    next: usize,
    /// Set by the first request out of order: every later ordered request fails.
    failed: bool,
}

/// Expectations that must be requested in the order they were made.
#[pyclass(module = "pierhead._pierhead", name = "Ordering", frozen)]
#[derive(Default)]
pub(crate) struct Ordering {
    state: Arc<Mutex<OrderState>>,
}

#[pymethods]
impl Ordering {
    #[new]
    fn new() -> Ordering {
        Ordering::default()
    }

    /// Takes the next place in the sequence for an expectation described so;
    /// returns the place (0, 1, ...), which a `Route` then takes.
    fn reserve(&self, description: String) -> usize {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.expected.push(description);
        st.expected.len() - 1
    }

    /// Descriptions of the ordered expectations not yet requested.
    #[getter]
    fn pending(&self) -> Vec<String> {
        let st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        st.expected.get(st.next..).unwrap_or_default().to_vec()
    }

    /// True once a request came out of order.
    #[getter]
    fn failed(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .failed
    }
}

enum OrderedAnswer {
    Static(CoreResponse),
    Python(PyHandler),
}

/// An ordered expectation's handler: answers only when its turn has come. It runs
/// on a handler thread (the turn is checked under a lock), without the interpreter
/// unless the answer is a Python handler.
struct InOrder {
    state: Arc<Mutex<OrderState>>,
    index: usize,
    answer: OrderedAnswer,
    errors: Arc<ErrorSink>,
}

impl Handler for InOrder {
    fn handle(&self, request: &CoreRequest) -> CoreResponse {
        self.try_handle(request).unwrap_or_else(|failed| failed)
    }

    fn try_handle(&self, request: &CoreRequest) -> Result<CoreResponse, CoreResponse> {
        let refused = {
            let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if !st.failed && st.next == self.index {
                st.next += 1;
                None
            } else if st.failed {
                Some(format!(
                    "ordered expectation #{} was requested by {} {} after the sequence had \
                     already failed",
                    self.index + 1,
                    request.method,
                    request.target
                ))
            } else {
                st.failed = true;
                let wanted = st
                    .expected
                    .get(st.next)
                    .map_or("nothing", String::as_str)
                    .to_owned();
                Some(format!(
                    "ordered expectation #{} was requested out of order by {} {}: \
                     the next one due was #{} ({wanted})",
                    self.index + 1,
                    request.method,
                    request.target,
                    st.next + 1
                ))
            }
        };
        match (refused, &self.answer) {
            (Some(message), _) => {
                self.errors.push(PyAssertionError::new_err(message.clone()));
                Err(CoreResponse::text(500, format!("{message}\n")))
            }
            (None, OrderedAnswer::Static(r)) => Ok(r.clone()),
            (None, OrderedAnswer::Python(h)) => h.try_handle(request),
        }
    }
}
