//! What the protocol readers report: the answers a chunk of input completed
//! ([`Answers`]), an answer cut by the close ([`Cut`]), and input that is not a
//! valid answer ([`Framing`]). Shared by every protocol; names none of them.

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
    /// Not a valid WebSocket frame or handshake answer.
    #[error("bad WebSocket frame: {0}")]
    Ws(String),
    /// A WebSocket close frame from the server (its code): the connection ends,
    /// an error since the generator never asks for it.
    #[error("the server closed the WebSocket with code {0}")]
    WsClosed(u16),
}
