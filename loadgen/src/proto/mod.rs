//! What the generator sends and how it checks what comes back, per protocol. No
//! I/O here: the worker feeds these readers the bytes it reads.

pub(crate) mod echo;
pub(crate) mod frame;
pub(crate) mod http;

/// What a chunk of input completed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answers {
    /// Answers completed (in order).
    pub(crate) complete: u32,
    /// Of those, HTTP responses with a status outside 200..=399.
    pub(crate) bad_status: u32,
    /// The server closes after the last of them: it said so (`Connection:
    /// close`, HTTP/1.0 without keep-alive), or the last one ran to the close.
    pub(crate) close: bool,
}

/// The connection ended in the middle of an answer (a read error, not a wrong
/// answer: what came was right as far as it went).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cut;

/// Input that is not a valid answer: counted as a framing error, and the
/// connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Framing {
    /// Not a valid HTTP/1.1 response.
    #[error("bad HTTP response: {0}")]
    Http(&'static str),
    /// Echoed bytes that differ from those sent.
    #[error("echoed bytes differ from those sent")]
    Echo,
    /// Not a valid frame, or an ERROR from the server.
    #[error("bad frame: {0}")]
    Frame(String),
}

/// A request/response connection's reader.
#[derive(Debug)]
pub(crate) enum Reader {
    Http(http::Reader),
    Echo(echo::Reader),
}

impl Reader {
    #[inline]
    pub(crate) fn feed(&mut self, data: &[u8], out: &mut Answers) -> Result<(), Framing> {
        match self {
            Reader::Http(r) => r.feed(data, out),
            Reader::Echo(r) => r.feed(data, out),
        }
    }

    /// The server closed the connection: completes an answer that runs to the
    /// close, or says one was cut.
    pub(crate) fn eof(&mut self, out: &mut Answers) -> Result<(), Cut> {
        match self {
            Reader::Http(r) => r.eof(out),
            Reader::Echo(r) => r.eof(),
        }
    }
}
