//! The values WebSocket endpoints exchange with Python: messages (`str` text,
//! `bytes` binary), a handler's reply (`WsClose` and what `to_reply` reads), the
//! `WsPeer` a handler is told about, and the message log's `WsConnection`.
//! Shared by the endpoint builder (`crate::websocket`) and the threads that run
//! Python handlers (`crate::executor`).

use std::hash::{Hash, Hasher};

use pierhead::{WsConnection as CoreWsConnection, WsMessage, WsPeer as CorePeer, WsReply};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::body::body_of;
use crate::errors::config_error;

/// Longest close reason (a control frame's payload is at most 125 bytes).
const MAX_REASON: usize = pierhead::websocket::MAX_REASON_BYTES;

/// A message from a Python value: `str` is text, `bytes`/`bytearray` binary.
pub(crate) fn ws_message(
    py: Python<'_>,
    value: &Bound<'_, PyAny>,
    field: &str,
) -> PyResult<WsMessage> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(WsMessage::Text(s.to_cow()?.into_owned()));
    }
    match body_of(value) {
        Some(b) => Ok(WsMessage::Binary(b?.0)),
        None => Err(config_error(
            py,
            field,
            format!(
                "invalid config field `{field}`: a message is str (text) or bytes (binary), not {}",
                value.get_type().name()?
            ),
        )),
    }
}

/// A message as the Python value a handler and the log give: `str` or `bytes`.
pub(crate) fn py_message<'py>(py: Python<'py>, m: &WsMessage) -> PyResult<Bound<'py, PyAny>> {
    Ok(match m {
        WsMessage::Text(s) => PyString::new(py, s).into_any(),
        WsMessage::Binary(b) => PyBytes::new(py, b).into_any(),
    })
}

/// A close a handler asks for: return it (alone, or last in a list) to start the
/// close handshake with `code` and `reason` after the messages.
#[pyclass(module = "pierhead._pierhead", name = "WsClose", frozen, get_all)]
pub(crate) struct WsClose {
    code: u16,
    reason: String,
}

#[pymethods]
impl WsClose {
    /// `code` is one a server may send (1000-1003, 1007-1014, 3000-4999);
    /// `reason` at most 123 bytes of UTF-8.
    #[new]
    #[pyo3(signature = (code=1000, reason=""))]
    fn new(py: Python<'_>, code: i64, reason: &str) -> PyResult<WsClose> {
        let code = u16::try_from(code)
            .ok()
            .filter(|&c| pierhead::websocket::sendable(c))
            .ok_or_else(|| {
                config_error(
                    py,
                    "close.code",
                    format!(
                        "invalid config field `close.code`: must be a close code a server may send \
                         (1000-1003, 1007-1014, 3000-4999), got {code}"
                    ),
                )
            })?;
        if reason.len() > MAX_REASON {
            return Err(config_error(
                py,
                "close.reason",
                format!(
                    "invalid config field `close.reason`: must be at most {MAX_REASON} bytes, got {}",
                    reason.len()
                ),
            ));
        }
        Ok(WsClose {
            code,
            reason: reason.to_owned(),
        })
    }

    fn __repr__(&self) -> String {
        format!("WsClose({}, {:?})", self.code, self.reason)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<WsClose>()
            .is_ok_and(|o| o.get().code == self.code && o.get().reason == self.reason)
    }

    fn __hash__(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.code, &self.reason).hash(&mut h);
        h.finish()
    }
}

/// What a handler returned, as the core's reply: `None`, a message, a `WsClose`,
/// or a list (or tuple) of messages with at most one `WsClose`, last.
pub(crate) fn to_reply(value: &Bound<'_, PyAny>) -> PyResult<WsReply> {
    let mut reply = WsReply::none();
    if value.is_none() {
        return Ok(reply);
    }
    let many = value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>();
    let items: Vec<Bound<'_, PyAny>> = if many {
        value.try_iter()?.collect::<PyResult<_>>()?
    } else {
        vec![value.clone()]
    };
    for item in items {
        if reply.close.is_some() {
            return Err(PyTypeError::new_err(
                "a WebSocket handler's WsClose must come last in its list",
            ));
        }
        if let Ok(c) = item.cast::<WsClose>() {
            let c = c.get();
            reply.close = Some((c.code, c.reason.clone()));
        } else if let Ok(s) = item.cast::<PyString>() {
            reply
                .messages
                .push(WsMessage::Text(s.to_cow()?.into_owned()));
        } else if let Some(b) = body_of(&item) {
            reply.messages.push(WsMessage::Binary(b?.0));
        } else {
            return Err(PyTypeError::new_err(format!(
                "a WebSocket handler must return None, str, bytes, WsClose or a list of them, not {}",
                item.get_type().name()?
            )));
        }
    }
    Ok(reply)
}

/// What a handler is told about the connection a message came on.
#[pyclass(module = "pierhead._pierhead", name = "WsPeer", frozen, get_all)]
pub(crate) struct WsPeer {
    /// The connection's id (the upgrade request's in the request log).
    connection_id: u64,
    /// The upgrade's request target (`/chat?user=1`).
    target: String,
    /// The subprotocol agreed, if any.
    subprotocol: Option<String>,
    /// This message's number on its connection (1 for the first).
    nth: u64,
}

impl From<&CorePeer> for WsPeer {
    fn from(p: &CorePeer) -> WsPeer {
        WsPeer {
            connection_id: p.connection_id,
            target: p.target.clone(),
            subprotocol: p.subprotocol.clone(),
            nth: p.nth,
        }
    }
}

#[pymethods]
impl WsPeer {
    /// The target before `?`.
    #[getter]
    fn path(&self) -> &str {
        path_of(&self.target)
    }

    fn __repr__(&self) -> String {
        format!(
            "<WsPeer connection {} {} message {}>",
            self.connection_id, self.target, self.nth
        )
    }
}

fn path_of(target: &str) -> &str {
    target.split_once('?').map_or(target, |(p, _)| p)
}

/// One connection of a WebSocket endpoint, as the message log saw it
/// (`Server.ws_connections()`).
#[pyclass(module = "pierhead._pierhead", name = "WsConnection", frozen)]
pub(crate) struct WsConnection {
    inner: CoreWsConnection,
}

impl From<CoreWsConnection> for WsConnection {
    fn from(inner: CoreWsConnection) -> WsConnection {
        WsConnection { inner }
    }
}

#[pymethods]
impl WsConnection {
    /// The connection's id (the upgrade request's `connection_id`).
    #[getter]
    fn connection_id(&self) -> u64 {
        self.inner.connection_id
    }

    /// The upgrade's request target (`/chat?user=1`).
    #[getter]
    fn target(&self) -> &str {
        &self.inner.target
    }

    /// The target before `?`.
    #[getter]
    fn path(&self) -> &str {
        path_of(&self.inner.target)
    }

    /// The id of the route that upgraded it (as `Request.route_id`).
    #[getter]
    fn route_id(&self) -> u64 {
        self.inner.route.0
    }

    /// The subprotocol agreed, if any.
    #[getter]
    fn subprotocol(&self) -> Option<&str> {
        self.inner.subprotocol.as_deref()
    }

    /// What the client sent, in order (`str` for text, `bytes` for binary): the
    /// last `request_log` messages (see `messages_evicted`), each cut to
    /// `request_log_body_bytes` as request bodies are (text at a character
    /// boundary).
    #[getter]
    fn messages<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.inner
            .messages
            .iter()
            .map(|m| py_message(py, m))
            .collect()
    }

    /// Messages pushed out of `messages` because it was full.
    #[getter]
    fn messages_evicted(&self) -> u64 {
        self.inner.messages_evicted
    }

    /// The connection has ended.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.closed
    }

    /// The code of the client's close frame (1005: one without a code); None if
    /// it sent none (yet).
    #[getter]
    fn close_code(&self) -> Option<u16> {
        self.inner.close_code
    }

    /// The reason of the client's close frame.
    #[getter]
    fn close_reason(&self) -> &str {
        &self.inner.close_reason
    }

    /// The code of the endpoint's own close frame, if it sent one first (a
    /// close_after, a handler's WsClose, 1011 for a handler that failed, 1002 or
    /// 1007 for what the client did wrong); None when it only answered the
    /// client's close or sent none.
    #[getter]
    fn server_close_code(&self) -> Option<u16> {
        self.inner.server_close_code
    }

    /// The reason of the endpoint's own close frame.
    #[getter]
    fn server_close_reason(&self) -> &str {
        &self.inner.server_close_reason
    }

    fn __repr__(&self) -> String {
        let c = &self.inner;
        let end = match (c.closed, c.close_code) {
            (false, _) => "open".to_owned(),
            (true, Some(code)) => format!("closed {code}"),
            (true, None) => "closed without a close frame".to_owned(),
        };
        format!(
            "<WsConnection {} {} ({} messages, {end})>",
            c.connection_id,
            c.target,
            c.messages.len() as u64 + c.messages_evicted
        )
    }
}
