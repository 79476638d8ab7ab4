//! WebSocket endpoints of the HTTP mock: `WebSocket` (what a route that upgrades
//! does: echo, a room, a script or a Python handler, and its faults), the values
//! a script uses (`WsJson`, `ANY`); the values handlers and the message log
//! exchange with Python are `crate::ws_values`'.
//!
//! A `WebSocket` keeps its builder steps rather than a core endpoint: a Python
//! handler reports its exceptions to the server it runs on, which is known only
//! when the route is put in place ([`WebSocket::to_core`]). Every step is checked
//! when it is given, by the core's own check of a route with the endpoint.
//! A handler runs on Python's handler threads (`crate::executor`), never on a
//! Rust thread.

use std::sync::Arc;
use std::time::Duration;

use pierhead::{
    Route as CoreRoute, WebSocket as CoreWebSocket, WsFault, WsHandler, WsHandlerError, WsMatch,
    WsMessage, WsPeer as CorePeer, WsReply,
};
use pyo3::prelude::*;
use pyo3::types::PyString;
use pyo3::{PyTraverseError, PyVisit};

use crate::body::body_of;
use crate::error_sink::ErrorSink;
use crate::errors::{config_error, from_config_error};
use crate::ws_values::ws_message;

/// What an endpoint does with the messages no script rule answers.
enum Kind {
    Echo,
    Script,
    Room(String),
    Handler(Py<PyAny>),
}

/// One builder step after the kind.
#[derive(Clone)]
enum Step {
    OnOpen(WsMessage),
    Reply(WsMatch, WsMessage),
    Fault(u64, WsFault),
    Subprotocol(String),
    Refuse(u16),
    Delay(Duration),
    Drip(usize, Duration),
    Fragment(usize),
    NoPong,
}

impl Step {
    fn apply(&self, ws: CoreWebSocket) -> CoreWebSocket {
        match self.clone() {
            Step::OnOpen(m) => ws.send_on_open(m),
            Step::Reply(when, m) => ws.reply(when, m),
            Step::Fault(n, f) => ws.fault_after(n, f),
            Step::Subprotocol(p) => ws.subprotocol(p),
            Step::Refuse(s) => ws.refuse(s),
            Step::Delay(d) => ws.delay(d),
            Step::Drip(n, every) => ws.drip(n, every),
            Step::Fragment(n) => ws.fragment(n),
            Step::NoPong => ws.no_pong(),
        }
    }
}

/// A WebSocket endpoint of the HTTP mock; give it to
/// `RequestHandler.respond_with_websocket` or `Server.expect_websocket`. Start
/// with `echo()`, `script()`, `room(name)` or `handler(func)`; each further
/// method returns a new endpoint with one more step.
#[pyclass(module = "pierhead._pierhead", name = "WebSocket", frozen)]
pub(crate) struct WebSocket {
    kind: Kind,
    steps: Vec<Step>,
    /// The Python expression that built it, for `repr`.
    shown: String,
}

#[pymethods]
impl WebSocket {
    /// Sends every message back as it came (text as text, binary as binary).
    #[staticmethod]
    fn echo() -> WebSocket {
        WebSocket::start(Kind::Echo, "echo()".to_owned())
    }

    /// Answers only what the script says (`send_on_open`, `reply`,
    /// `close_after`, `fault_after`); other messages get no answer.
    #[staticmethod]
    fn script() -> WebSocket {
        WebSocket::start(Kind::Script, "script()".to_owned())
    }

    /// Joins room `name`: each member's messages go to the other members of the
    /// room on this server.
    #[staticmethod]
    fn room(py: Python<'_>, name: String) -> PyResult<WebSocket> {
        if name.is_empty() {
            return Err(config_error(
                py,
                "websocket.room",
                "invalid config field `websocket.room`: a room needs a name".to_owned(),
            ));
        }
        let shown = format!("room({name:?})");
        Ok(WebSocket::start(Kind::Room(name), shown))
    }

    /// Calls `func(message, peer)` for each message no script rule answers, on
    /// the server's handler threads (holding the GIL only while it runs), one
    /// message of a connection at a time. It returns `None`, a `str` (sent as
    /// text), `bytes` (binary), a `WsClose`, or a list of those (a `WsClose`
    /// last). An exception closes the connection with 1011, counts in
    /// `handler_errors` and is raised again by `check_assertions()`.
    #[staticmethod]
    fn handler(py: Python<'_>, func: Py<PyAny>) -> PyResult<WebSocket> {
        let bound = func.bind(py);
        if !bound.is_callable() {
            return Err(config_error(
                py,
                "websocket.handler",
                format!(
                    "invalid config field `websocket.handler`: must be callable, not {}",
                    bound.get_type().name()?
                ),
            ));
        }
        let shown = format!("handler({})", bound.repr()?);
        Ok(WebSocket::start(Kind::Handler(func), shown))
    }

    /// Sends `message` as soon as the connection is open (`str`: text, `bytes`:
    /// binary), after the messages given before.
    fn send_on_open(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<WebSocket> {
        let m = ws_message(py, message, "websocket.send_on_open")?;
        let shown = format!("send_on_open({})", message.repr()?);
        self.then(py, Step::OnOpen(m), shown)
    }

    /// Answers a client message that `when` matches with `reply` (`str`: text,
    /// `bytes`: binary). `when` is a `str` (that exact text), `bytes` (that exact
    /// binary message), a compiled `re.Pattern` (a text message in which its
    /// pattern finds a match; the pattern is compiled by Rust's `regex` crate,
    /// whose syntax is close to `re`'s but has no look-around or backreferences,
    /// and the pattern's flags are not used: write `(?i)` in it), `WsJson(value)`
    /// (a text message that parses as JSON equal to `value`), or `None`/`ANY`
    /// (every message). Every rule whose `when` matches sends its reply; a
    /// message some rule answers is not echoed, sent to the room or to the handler.
    fn reply(
        &self,
        py: Python<'_>,
        when: &Bound<'_, PyAny>,
        reply: &Bound<'_, PyAny>,
    ) -> PyResult<WebSocket> {
        let m = ws_message(py, reply, "websocket.reply")?;
        let matcher = ws_match(py, when)?;
        let shown = format!("reply({}, {})", when.repr()?, reply.repr()?);
        self.then(py, Step::Reply(matcher, m), shown)
    }

    /// Starts the close handshake with `code` and `reason` once `messages` client
    /// messages were answered (0: right after the messages sent on open).
    #[pyo3(signature = (messages, code=1000, reason=""))]
    fn close_after(
        &self,
        py: Python<'_>,
        messages: i64,
        code: i64,
        reason: &str,
    ) -> PyResult<WebSocket> {
        let n = count(py, messages, "websocket.close_after")?;
        let shown = format!("close_after({messages}, code={code}, reason={reason:?})");
        // A code out of u16 range is one no server may send: the core check says so.
        let code = u16::try_from(code).unwrap_or(0);
        let reason = reason.to_owned();
        self.then(py, Step::Fault(n, WsFault::Close { code, reason }), shown)
    }

    /// Plays `fault` once `messages` client messages were answered: `"abort"`
    /// (the TCP connection closes without a close frame), `"reset"` (an RST),
    /// `"invalid_frame"` (a frame with a reserved opcode: the client fails the
    /// connection with 1002), `"invalid_utf8"` (a text message that is not
    /// UTF-8: 1007). A close with a code is `close_after`.
    fn fault_after(&self, py: Python<'_>, messages: i64, fault: &str) -> PyResult<WebSocket> {
        let n = count(py, messages, "websocket.fault_after")?;
        let f = match fault {
            "abort" => WsFault::Abort,
            "reset" => WsFault::Reset,
            "invalid_frame" => WsFault::InvalidFrame,
            "invalid_utf8" => WsFault::InvalidUtf8,
            other => {
                return Err(config_error(
                    py,
                    "websocket.fault",
                    format!(
                        "invalid config field `websocket.fault`: must be \"abort\", \"reset\", \
                         \"invalid_frame\" or \"invalid_utf8\" (a close is close_after), got {other:?}"
                    ),
                ))
            }
        };
        let shown = format!("fault_after({messages}, {fault:?})");
        self.then(py, Step::Fault(n, f), shown)
    }

    /// Offers subprotocol `name` (several calls offer several): the first the
    /// client asks for that is offered is agreed. A client that asks only for
    /// others is answered without a subprotocol (RFC 6455 4.2.2; a strict client
    /// then fails the handshake itself).
    fn subprotocol(&self, py: Python<'_>, name: String) -> PyResult<WebSocket> {
        let shown = format!("subprotocol({name:?})");
        self.then(py, Step::Subprotocol(name), shown)
    }

    /// Refuses every upgrade with this HTTP status (200-599).
    fn refuse(&self, py: Python<'_>, status: i64) -> PyResult<WebSocket> {
        // Out of u16 range: a status the core check refuses.
        let s = u16::try_from(status).unwrap_or(0);
        self.then(py, Step::Refuse(s), format!("refuse({status})"))
    }

    /// Sends each message `seconds` after it is due (later messages wait behind it).
    fn delay(&self, py: Python<'_>, seconds: &Bound<'_, PyAny>) -> PyResult<WebSocket> {
        let d = crate::config::seconds(py, "websocket.delay", seconds)?;
        self.then(py, Step::Delay(d), format!("delay({})", seconds.repr()?))
    }

    /// Sends each message's bytes (its frames') `bytes` at a time, `every`
    /// seconds apart.
    #[pyo3(signature = (bytes, every))]
    fn drip(&self, py: Python<'_>, bytes: i64, every: &Bound<'_, PyAny>) -> PyResult<WebSocket> {
        let n = positive(py, bytes, "websocket.drip")?;
        let d = crate::config::seconds(py, "websocket.drip", every)?;
        let shown = format!("drip({bytes}, every={})", every.repr()?);
        self.then(py, Step::Drip(n, d), shown)
    }

    /// Sends each message as frames of at most `bytes` payload bytes.
    fn fragment(&self, py: Python<'_>, bytes: i64) -> PyResult<WebSocket> {
        let n = positive(py, bytes, "websocket.fragment")?;
        self.then(py, Step::Fragment(n), format!("fragment({bytes})"))
    }

    /// Answers no ping (messages are still answered): a client's keep-alive must
    /// notice.
    fn no_pong(&self, py: Python<'_>) -> PyResult<WebSocket> {
        self.then(py, Step::NoPong, "no_pong()".to_owned())
    }

    fn __repr__(&self) -> String {
        format!("WebSocket.{}", self.shown)
    }

    /// Lets the garbage collector see the handler (which may refer back to the
    /// server).
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Kind::Handler(h) = &self.kind {
            visit.call(h)?;
        }
        Ok(())
    }
}

impl WebSocket {
    fn start(kind: Kind, shown: String) -> WebSocket {
        WebSocket {
            kind,
            steps: Vec::new(),
            shown,
        }
    }

    /// A copy with one more step, checked as the core checks a route with it.
    fn then(&self, py: Python<'_>, step: Step, shown: String) -> PyResult<WebSocket> {
        let kind = match &self.kind {
            Kind::Echo => Kind::Echo,
            Kind::Script => Kind::Script,
            Kind::Room(r) => Kind::Room(r.clone()),
            Kind::Handler(h) => Kind::Handler(h.clone_ref(py)),
        };
        let mut steps = self.steps.clone();
        steps.push(step);
        let next = WebSocket {
            kind,
            steps,
            shown: format!("{}.{shown}", self.shown),
        };
        let probe = next.build(CoreWebSocket::echo());
        CoreRoute::get("/")
            .websocket(probe)
            .validate()
            .map_err(|e| from_config_error(py, &e))?;
        Ok(next)
    }

    /// The steps applied to `base`.
    fn build(&self, base: CoreWebSocket) -> CoreWebSocket {
        self.steps.iter().fold(base, |ws, s| s.apply(ws))
    }

    /// Whether a Python handler answers its messages.
    pub(crate) fn has_handler(&self) -> bool {
        matches!(self.kind, Kind::Handler(_))
    }

    /// The core endpoint; a Python handler reports its exceptions to `errors`.
    pub(crate) fn to_core(&self, py: Python<'_>, errors: &Arc<ErrorSink>) -> CoreWebSocket {
        let base = match &self.kind {
            Kind::Echo => CoreWebSocket::echo(),
            Kind::Script => CoreWebSocket::script(),
            Kind::Room(r) => CoreWebSocket::room(r.clone()),
            Kind::Handler(h) => CoreWebSocket::handler(PyWsHandler {
                callable: Arc::new(h.clone_ref(py)),
                errors: errors.clone(),
            }),
        };
        self.build(base)
    }
}

/// A Python callable as a WebSocket handler: run on one of Python's own threads
/// ([`crate::executor`]); the core's handler thread only waits for it.
struct PyWsHandler {
    callable: Arc<Py<PyAny>>,
    errors: Arc<ErrorSink>,
}

impl WsHandler for PyWsHandler {
    fn on_message(&self, peer: &CorePeer, message: &WsMessage) -> WsReply {
        self.try_on_message(peer, message).unwrap_or_default()
    }

    /// An exception (or a return value of the wrong type) is a reported
    /// failure: the connection closes with 1011, the exception is kept.
    fn try_on_message(
        &self,
        peer: &CorePeer,
        message: &WsMessage,
    ) -> Result<WsReply, WsHandlerError> {
        crate::executor::message(&self.callable, peer, message, &self.errors)
    }
}

/// Which messages a script rule answers, from its Python form.
fn ws_match(py: Python<'_>, when: &Bound<'_, PyAny>) -> PyResult<WsMatch> {
    if when.is_none() || when.is_instance_of::<AnyMessage>() {
        return Ok(WsMatch::Any);
    }
    if let Ok(j) = when.cast::<WsJson>() {
        return Ok(j.get().matcher.clone());
    }
    if let Ok(s) = when.cast::<PyString>() {
        return Ok(WsMatch::Text(s.to_cow()?.into_owned()));
    }
    if let Some(b) = body_of(when) {
        return Ok(WsMatch::Binary(b?.0));
    }
    let pattern_class = py.import("re")?.getattr("Pattern")?;
    if when.is_instance(&pattern_class)? {
        let pattern = when.getattr("pattern")?;
        let Ok(text) = pattern.cast::<PyString>() else {
            return Err(config_error(
                py,
                "websocket.reply",
                "invalid config field `websocket.reply`: a pattern matches text: compile a str, not bytes"
                    .to_owned(),
            ));
        };
        return WsMatch::regex(&text.to_cow()?).map_err(|e| from_config_error(py, &e));
    }
    Err(config_error(
        py,
        "websocket.reply",
        format!(
            "invalid config field `websocket.reply`: `when` is str, bytes, re.Pattern, WsJson, None or ANY, not {}",
            when.get_type().name()?
        ),
    ))
}

/// A message count for a fault: 0 or more.
fn count(py: Python<'_>, n: i64, field: &str) -> PyResult<u64> {
    u64::try_from(n).map_err(|_| {
        config_error(
            py,
            field,
            format!("invalid config field `{field}`: must be at least 0, got {n}"),
        )
    })
}

/// A size of at least 1.
fn positive(py: Python<'_>, n: i64, field: &str) -> PyResult<usize> {
    usize::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| {
        config_error(
            py,
            field,
            format!("invalid config field `{field}`: must be at least 1, got {n}"),
        )
    })
}

/// `reply(WsJson(value), ...)`: a text message that parses as JSON equal to
/// `value` (given as a Python value, dumped with `json.dumps`); key order and
/// spacing do not matter.
#[pyclass(module = "pierhead._pierhead", name = "WsJson", frozen)]
pub(crate) struct WsJson {
    text: String,
    matcher: WsMatch,
}

#[pymethods]
impl WsJson {
    #[new]
    fn new(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<WsJson> {
        let dumped = py.import("json")?.call_method1("dumps", (value,));
        let text: String = match dumped {
            Ok(t) => t.extract()?,
            Err(e) => {
                return Err(config_error(
                    py,
                    "websocket.reply",
                    format!(
                        "invalid config field `websocket.reply`: WsJson needs a JSON value: {}",
                        e.value(py)
                    ),
                ))
            }
        };
        let matcher = WsMatch::json(&text).map_err(|e| from_config_error(py, &e))?;
        Ok(WsJson { text, matcher })
    }

    /// The value as JSON text.
    #[getter]
    fn text(&self) -> &str {
        &self.text
    }

    fn __repr__(&self) -> String {
        format!("WsJson({})", self.text)
    }
}

/// The type of `ANY`: `reply(ANY, ...)` answers every message.
#[pyclass(module = "pierhead._pierhead", name = "_AnyMessage", frozen)]
pub(crate) struct AnyMessage;

#[pymethods]
impl AnyMessage {
    fn __repr__(&self) -> &'static str {
        "ANY"
    }
}
