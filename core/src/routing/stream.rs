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
//!     .event(SseEvent::data("first").id("1")?)
//!     .event(SseEvent::data("second").id("2")?.name("update")?.after(Duration::from_millis(100)))
//!     .cut()
//!     .response();
//! # let _ = (tokens, events);
//! # Ok::<(), pierhead::ConfigError>(())
//! ```
//!
//! Line breaks in what users give: CR, LF and CRLF each end a line in the
//! `text/event-stream` format, so `data` and comments are split on all three (one
//! `data:` or `:` line per line; a client joins the data lines with LF), and an
//! `id` or event name with a line break, which no field can carry, is refused
//! ([`ConfigError`]) rather than sent as lines of its own.

use std::time::Duration;

use bytes::Bytes;

use super::Response;
use crate::error::ConfigError;
use crate::faults::Step;
use crate::syntax::invalid;

/// One server-sent event (the `text/event-stream` format): `data` (split into one
/// `data:` line per line, at CR, LF and CRLF), and optionally `id:`, `event:` and a
/// delay before it.
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

    /// Its `id:` field (the client's `Last-Event-ID` after it). An error (field
    /// `sse.id`) if it holds CR or LF, which would end the field.
    pub fn id(mut self, id: impl Into<String>) -> Result<SseEvent, ConfigError> {
        self.id = Some(single_line("sse.id", id.into())?);
        Ok(self)
    }

    /// Its `event:` field (the event type; clients default to `message`). An
    /// error (field `sse.event`) if it holds CR or LF, which would end the field.
    pub fn name(mut self, name: impl Into<String>) -> Result<SseEvent, ConfigError> {
        self.name = Some(single_line("sse.event", name.into())?);
        Ok(self)
    }

    /// Wait this long before sending it.
    pub fn after(mut self, d: Duration) -> SseEvent {
        self.after = d;
        self
    }

    /// The event in wire form: `id:`, `event:`, a `data:` line per line of the
    /// data, and the blank line that dispatches it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 32);
        if let Some(id) = &self.id {
            push_lines(&mut out, "id: ", id);
        }
        if let Some(name) = &self.name {
            push_lines(&mut out, "event: ", name);
        }
        push_lines(&mut out, "data: ", &self.data);
        out.push(b'\n');
        out
    }
}

/// `value` if it has no CR or LF, or an error naming `field`.
fn single_line(field: &'static str, value: String) -> Result<String, ConfigError> {
    if value.contains(['\r', '\n']) {
        let shown = value.escape_debug().to_string();
        return Err(invalid(field, &shown, "a single line (no CR or LF)"));
    }
    Ok(value)
}

/// The lines of `text` as an SSE client reads them: CRLF, CR and LF each end
/// one. Text ending in a line break ends with an empty line, so that the client
/// gets the break back.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let t = rest?;
        let Some(end) = t.find(['\r', '\n']) else {
            rest = None;
            return Some(t);
        };
        let next = if t[end..].starts_with("\r\n") {
            end + 2
        } else {
            end + 1
        };
        rest = Some(&t[next..]);
        Some(&t[..end])
    })
}

/// Appends one `prefix` line, ending in LF, per line of `text`.
fn push_lines(out: &mut Vec<u8>, prefix: &str, text: &str) {
    for line in lines(text) {
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
}

/// The headers every server-sent-events response has unless it sets them itself.
const SSE_HEADERS: [(&str, &str); 2] = [
    ("Content-Type", "text/event-stream"),
    ("Cache-Control", "no-cache"),
];

impl Response {
    /// Gives a (streamed) server-sent-events response the SSE headers it does
    /// not set itself: `Content-Type: text/event-stream` and `Cache-Control:
    /// no-cache` (names compared without case). [`Sse::response`], Python's
    /// `Response.sse` and C's `pierhead_route_stream_sse` all come here, so the
    /// default is the same everywhere.
    pub fn with_sse_headers(mut self) -> Response {
        for (name, value) in SSE_HEADERS {
            if !self
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                self.headers.push((name.to_owned(), value.to_owned()));
            }
        }
        self
    }
}

/// A server-sent-events stream under construction; [`Sse::response`] makes it a
/// `200 text/event-stream` response (`Cache-Control: no-cache`).
#[derive(Debug, Clone, Default)]
pub struct Sse {
    steps: Vec<Step>,
    headers: Vec<(String, String)>,
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

    /// Adds a comment (`: text`, one line per line of `text` at CR, LF and
    /// CRLF), which clients ignore: a keep-alive.
    pub fn comment(mut self, text: &str) -> Sse {
        let mut out = Vec::with_capacity(text.len() + 4);
        push_lines(&mut out, ": ", text);
        out.push(b'\n');
        self.steps.push(Step::Send(Bytes::from(out)));
        self
    }

    /// Adds a header to the response; a `Content-Type` or `Cache-Control` given
    /// here replaces the SSE default.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Sse {
        self.headers.push((name.into(), value.into()));
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

    /// A `200` response streaming these events, with the headers given and the
    /// SSE defaults ([`Response::with_sse_headers`]).
    pub fn response(self) -> Response {
        let mut r = Response::stream(200, self.steps);
        r.headers = self.headers;
        r.with_sse_headers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_encoded_as_the_spec_says() {
        let e = SseEvent::data("a\nb")
            .id("7")
            .unwrap()
            .name("tick")
            .unwrap();
        assert_eq!(e.encode(), b"id: 7\nevent: tick\ndata: a\ndata: b\n\n");
        assert_eq!(SseEvent::data("").encode(), b"data: \n\n");
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

    /// An SSE client ends a line at CR, LF or CRLF and joins data lines with LF:
    /// each becomes a line of its own, so the client gets the data back whole
    /// (with its line breaks as LF).
    #[test]
    fn data_is_split_on_cr_lf_and_crlf() {
        let cases: [(&str, &[u8]); 7] = [
            ("a\rb", b"data: a\ndata: b\n\n"),
            ("a\nb", b"data: a\ndata: b\n\n"),
            ("a\r\nb", b"data: a\ndata: b\n\n"),
            ("a\r\rb", b"data: a\ndata: \ndata: b\n\n"),
            ("a\n\r", b"data: a\ndata: \ndata: \n\n"),
            ("a\r", b"data: a\ndata: \n\n"),
            ("\r\n", b"data: \ndata: \n\n"),
        ];
        for (data, wire) in cases {
            let got = SseEvent::data(data).encode();
            assert_eq!(got, wire, "{data:?}: {:?}", String::from_utf8_lossy(&got));
        }
    }

    #[test]
    fn an_id_or_event_name_with_a_line_break_is_refused() {
        for bad in ["1\n2", "1\r2", "1\r\n2", "1\r", "\n"] {
            let e = SseEvent::data("x").id(bad).unwrap_err();
            assert_eq!(e.field, "sse.id");
            assert!(e.to_string().contains("no CR or LF"), "{e}");
            let e = SseEvent::data("x").name(bad).unwrap_err();
            assert_eq!(e.field, "sse.event");
        }
        let e = SseEvent::data("x").name("a\rdata: injected").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid config field `sse.event`: `a\\rdata: injected` is not a single line (no CR or LF)"
        );
    }

    #[test]
    fn comments_are_split_on_cr_lf_and_crlf() {
        let s = Sse::new().comment("a\rdata: injected\r\nb\nc");
        assert_eq!(
            s.steps(),
            &[Step::send(": a\n: data: injected\n: b\n: c\n\n")]
        );
    }

    #[test]
    fn sse_responses_get_the_default_headers_unless_they_set_them() {
        let header = |r: &Response, name: &str| -> Vec<String> {
            let found = r
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name));
            found.map(|(_, v)| v.clone()).collect()
        };
        let r = Sse::new().response();
        assert_eq!(header(&r, "content-type"), ["text/event-stream"]);
        assert_eq!(header(&r, "cache-control"), ["no-cache"]);
        let r = Sse::new()
            .header("content-type", "text/event-stream; charset=utf-8")
            .header("X-Trace", "1")
            .response();
        assert_eq!(
            header(&r, "content-type"),
            ["text/event-stream; charset=utf-8"]
        );
        assert_eq!(header(&r, "cache-control"), ["no-cache"]);
        assert_eq!(header(&r, "x-trace"), ["1"]);
        // A stream made step by step (as C does) gets the same.
        let r =
            Response::stream(200, [Step::send(SseEvent::data("x").encode())]).with_sse_headers();
        assert_eq!(header(&r, "content-type"), ["text/event-stream"]);
        assert_eq!(r.with_sse_headers().headers.len(), 2);
    }
}
