//! Streamed answers for Python: `Step` (send, pause, cut, reset), `SseEvent`, and
//! the step lists `Response.stream` and `Response.sse` turn into core steps.

use pierhead::{Sse as CoreSse, SseEvent as CoreSseEvent, Step as CoreStep};
use pyo3::prelude::*;

use crate::body::{body_bytes, body_of};
use crate::config::seconds;
use crate::errors::{config_error, from_config_error};

/// One step of a streamed body: `Step.send(data)`, `Step.pause(seconds)`,
/// `Step.cut()` (close inside the body) or `Step.reset()` (RST).
#[pyclass(module = "pierhead._pierhead", name = "Step", frozen)]
#[derive(Clone)]
pub(crate) struct Step {
    pub(crate) inner: CoreStep,
}

#[pymethods]
impl Step {
    /// Send `data` (`str` as UTF-8, or bytes) as one chunk.
    #[staticmethod]
    fn send(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Step> {
        let (bytes, _) = body_bytes(py, data, "step.send")?;
        Ok(Step {
            inner: CoreStep::Send(bytes.into()),
        })
    }

    /// Send nothing for `seconds`.
    #[staticmethod]
    fn pause(py: Python<'_>, seconds_: &Bound<'_, PyAny>) -> PyResult<Step> {
        Ok(Step {
            inner: CoreStep::Pause(seconds(py, "step.pause", seconds_)?),
        })
    }

    /// Close the connection here, leaving the body incomplete.
    #[staticmethod]
    fn cut() -> Step {
        Step {
            inner: CoreStep::Cut,
        }
    }

    /// Reset the connection (RST) here.
    #[staticmethod]
    fn reset() -> Step {
        Step {
            inner: CoreStep::Reset,
        }
    }

    fn __repr__(&self) -> String {
        match &self.inner {
            CoreStep::Send(b) => format!("Step.send({} bytes)", b.len()),
            CoreStep::Pause(d) => format!("Step.pause({})", d.as_secs_f64()),
            CoreStep::Cut => "Step.cut()".to_owned(),
            CoreStep::Reset => "Step.reset()".to_owned(),
        }
    }
}

/// A server-sent event: `SseEvent(data, id=None, event=None, delay=0)`; `delay`
/// seconds pass before it is sent. `data` goes out as one `data:` line per line
/// (CR, LF and CRLF each end one); an `id` or `event` with CR or LF is a
/// `ConfigError` (`sse.id`, `sse.event`). `SseEvent.comment(text)` is a comment
/// (`: text`, a line per line), which clients ignore (a keep-alive).
#[pyclass(module = "pierhead._pierhead", name = "SseEvent", frozen)]
#[derive(Clone)]
pub(crate) struct SseEvent {
    kind: SseKind,
}

#[derive(Clone)]
enum SseKind {
    Event(CoreSseEvent),
    Comment(String),
}

#[pymethods]
impl SseEvent {
    #[new]
    #[pyo3(signature = (data, id=None, event=None, delay=None))]
    fn new(
        py: Python<'_>,
        data: String,
        id: Option<String>,
        event: Option<String>,
        delay: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SseEvent> {
        let mut e = CoreSseEvent::data(data);
        if let Some(id) = id {
            e = e.id(id).map_err(|e| from_config_error(py, &e))?;
        }
        if let Some(name) = event {
            e = e.name(name).map_err(|e| from_config_error(py, &e))?;
        }
        if let Some(d) = delay {
            e = e.after(seconds(py, "sse.delay", d)?);
        }
        Ok(SseEvent {
            kind: SseKind::Event(e),
        })
    }

    /// A comment line.
    #[staticmethod]
    fn comment(text: String) -> SseEvent {
        SseEvent {
            kind: SseKind::Comment(text),
        }
    }

    /// The event as it goes on the wire.
    fn encode(&self) -> Vec<u8> {
        match &self.kind {
            SseKind::Event(e) => e.encode(),
            SseKind::Comment(c) => {
                let sse = CoreSse::new().comment(c);
                match sse.steps() {
                    [CoreStep::Send(b)] => b.to_vec(),
                    _ => Vec::new(),
                }
            }
        }
    }

    fn __repr__(&self) -> String {
        format!("SseEvent({:?})", String::from_utf8_lossy(&self.encode()))
    }
}

/// The core steps of a `Response.stream` list: `str`/`bytes` (sent as they are),
/// or `Step`.
pub(crate) fn steps(py: Python<'_>, items: &Bound<'_, PyAny>) -> PyResult<Vec<CoreStep>> {
    let mut out = Vec::new();
    for item in items.try_iter()? {
        let item = item?;
        if let Ok(step) = item.cast::<Step>() {
            out.push(step.get().inner.clone());
        } else if let Some(body) = body_of(&item) {
            out.push(CoreStep::Send(body?.0.into()));
        } else {
            return Err(config_error(
                py,
                "response.stream",
                format!(
                    "invalid config field `response.stream`: items must be str, bytes or pierhead.Step, not {}",
                    item.get_type().name()?
                ),
            ));
        }
    }
    Ok(out)
}

/// The core SSE stream of a `Response.sse` list (`SseEvent` or `Step` items) with
/// its extra headers.
pub(crate) fn sse(
    py: Python<'_>,
    items: &Bound<'_, PyAny>,
    retry: Option<&Bound<'_, PyAny>>,
    headers: Vec<(String, String)>,
) -> PyResult<CoreSse> {
    let mut s = CoreSse::new();
    for (name, value) in headers {
        s = s.header(name, value);
    }
    if let Some(r) = retry {
        s = s.retry(seconds(py, "sse.retry", r)?);
    }
    for item in items.try_iter()? {
        let item = item?;
        if let Ok(e) = item.cast::<SseEvent>() {
            s = match &e.get().kind {
                SseKind::Event(ev) => s.event(ev.clone()),
                SseKind::Comment(c) => s.comment(c),
            };
        } else if let Ok(step) = item.cast::<Step>() {
            s = match &step.get().inner {
                CoreStep::Pause(d) => s.pause(*d),
                CoreStep::Cut => s.cut(),
                CoreStep::Reset => s.reset(),
                CoreStep::Send(_) => return Err(config_error(
                    py,
                    "response.sse",
                    "invalid config field `response.sse`: give events as SseEvent, not Step.send"
                        .to_owned(),
                )),
            };
        } else {
            return Err(config_error(
                py,
                "response.sse",
                format!(
                    "invalid config field `response.sse`: items must be pierhead.SseEvent or pierhead.Step, not {}",
                    item.get_type().name()?
                ),
            ));
        }
    }
    Ok(s)
}
