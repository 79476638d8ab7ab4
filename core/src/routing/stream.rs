//! Streamed answers: a body sent as a timeline of pieces with pauses between them,
//! and faults inside it (cut, reset); and server-sent events built on it.
//!
//! A streamed response goes out with `Transfer-Encoding: chunked` (one chunk per
//! [`Step::Send`]) to an HTTP/1.1 client, and delimited by closing the connection to
//! an HTTP/1.0 one. Pauses are timers of the connection's worker: a thousand clients
//! reading a slow stream cost no thread.
//!
//! ```
//! use pierhead::{Response, Sse, SseEvent, Step};
//! use std::time::Duration;
//! // Three tokens 50 ms apart, as an LLM API streams them.
//! let tokens = Response::stream(200, [
//!     Step::send("Hel"), Step::pause(Duration::from_millis(50)),
//!     Step::send("lo"), Step::pause(Duration::from_millis(50)), Step::send("!"),
//! ]);
//! // Server-sent events: one at once, one after 100 ms, then the stream is cut.
//! let events = Sse::new()
//!     .retry(Duration::from_secs(3))
//!     .event(SseEvent::data("first").id("1"))
//!     .event(SseEvent::data("second").id("2").name("update").after(Duration::from_millis(100)))
//!     .cut()
//!     .response();
//! # let _ = (tokens, events);
//! ```

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

/// One step of a streamed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes (one chunk; an empty one is skipped, since an empty chunk
    /// would end the body).
    Send(Bytes),
    /// Send nothing for this long (a stall, or the time between two events).
    Pause(Duration),
    /// Close the connection here, without ending the body: the client sees the
    /// stream end early (an incomplete chunked body).
    Cut,
    /// Reset the connection (RST) here.
    Reset,
}

impl Step {
    /// [`Step::Send`] of a copy of `data`.
    pub fn send(data: impl AsRef<[u8]>) -> Step {
        Step::Send(Bytes::copy_from_slice(data.as_ref()))
    }

    /// [`Step::Pause`].
    pub fn pause(d: Duration) -> Step {
        Step::Pause(d)
    }
}

/// The steps of a streamed body, shared by every connection that sends it.
pub type Steps = Arc<[Step]>;

/// One server-sent event (the `text/event-stream` format): `data` (split into one
/// `data:` line per line), and optionally `id:`, `event:` and a delay before it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    data: String,
    id: Option<String>,
    name: Option<String>,
    after: Duration,
}

impl SseEvent {
    /// An event carrying `data`.
    pub fn data(data: impl Into<String>) -> SseEvent {
        SseEvent {
            data: data.into(),
            ..SseEvent::default()
        }
    }

    /// Its `id:` field (the client's `Last-Event-ID` after it).
    pub fn id(mut self, id: impl Into<String>) -> SseEvent {
        self.id = Some(id.into());
        self
    }

    /// Its `event:` field (the event type; clients default to `message`).
    pub fn name(mut self, name: impl Into<String>) -> SseEvent {
        self.name = Some(name.into());
        self
    }

    /// Wait this long before sending it.
    pub fn after(mut self, d: Duration) -> SseEvent {
        self.after = d;
        self
    }

    /// The event in wire form. CR and LF inside `id` and `event` would start new
    /// fields, so they become spaces.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 32);
        let clean = |s: &str| s.replace(['\r', '\n'], " ");
        if let Some(id) = &self.id {
            out.extend_from_slice(format!("id: {}\n", clean(id)).as_bytes());
        }
        if let Some(name) = &self.name {
            out.extend_from_slice(format!("event: {}\n", clean(name)).as_bytes());
        }
        for line in self.data.split('\n') {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(line.strip_suffix('\r').unwrap_or(line).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out
    }
}

/// A server-sent-events stream under construction; [`Sse::response`] makes it a
/// `200 text/event-stream` response (`Cache-Control: no-cache`).
#[derive(Debug, Clone, Default)]
pub struct Sse {
    steps: Vec<Step>,
}

impl Sse {
    /// An empty stream.
    pub fn new() -> Sse {
        Sse::default()
    }

    /// Adds an event (after its delay, if it has one).
    pub fn event(mut self, event: SseEvent) -> Sse {
        if !event.after.is_zero() {
            self.steps.push(Step::Pause(event.after));
        }
        self.steps.push(Step::Send(Bytes::from(event.encode())));
        self
    }

    /// Adds a comment line (`: text`), which clients ignore: a keep-alive.
    pub fn comment(mut self, text: &str) -> Sse {
        let mut line = Vec::with_capacity(text.len() + 4);
        for part in text.split('\n') {
            line.extend_from_slice(b": ");
            line.extend_from_slice(part.as_bytes());
            line.push(b'\n');
        }
        line.push(b'\n');
        self.steps.push(Step::Send(Bytes::from(line)));
        self
    }

    /// Tells the client how long to wait before reconnecting (`retry:`).
    pub fn retry(mut self, d: Duration) -> Sse {
        let line = format!("retry: {}\n\n", d.as_millis());
        self.steps.push(Step::Send(Bytes::from(line)));
        self
    }

    /// Sends nothing for this long.
    pub fn pause(mut self, d: Duration) -> Sse {
        self.steps.push(Step::Pause(d));
        self
    }

    /// Cuts the connection here (the client should reconnect).
    pub fn cut(mut self) -> Sse {
        self.steps.push(Step::Cut);
        self
    }

    /// Resets the connection here.
    pub fn reset(mut self) -> Sse {
        self.steps.push(Step::Reset);
        self
    }

    /// The steps so far.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// A `200` response streaming these events.
    pub fn response(self) -> super::Response {
        super::Response::stream(200, self.steps)
            .header("Content-Type", "text/event-stream")
            .header("Cache-Control", "no-cache")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_encoded_as_the_spec_says() {
        let e = SseEvent::data("a\nb").id("7").name("tick");
        assert_eq!(e.encode(), b"id: 7\nevent: tick\ndata: a\ndata: b\n\n");
        assert_eq!(
            SseEvent::data("x").id("1\n2").encode(),
            b"id: 1 2\ndata: x\n\n"
        );
        let s = Sse::new()
            .comment("hi")
            .retry(Duration::from_millis(1500))
            .event(SseEvent::data("z").after(Duration::from_millis(5)));
        assert_eq!(
            s.steps(),
            &[
                Step::send(": hi\n\n"),
                Step::send("retry: 1500\n\n"),
                Step::Pause(Duration::from_millis(5)),
                Step::send("data: z\n\n"),
            ]
        );
    }
}
