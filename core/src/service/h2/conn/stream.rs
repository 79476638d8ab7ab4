//! Streams (RFC 9113 section 5.1) as a server sees them. A stream the client
//! has not opened is idle (its identifier is above the highest opened); an
//! open one is in the connection's map as [`State::Open`] (the request still
//! arriving) or [`State::HalfClosedRemote`] (the request whole, the response
//! pending or being sent); a stream that left the map is closed, and the last
//! few closed are remembered ([`Closed`]) to answer frames on them as the RFC
//! says.

use super::flow::{RecvWindow, SendWindow};
use super::head::{FieldPair, RequestHead};

/// An active stream's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// The client may still send (DATA, trailers).
    Open,
    /// The client sent END_STREAM: the request is whole.
    HalfClosedRemote,
}

/// How a stream was closed, for the frames that arrive after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// We reset it: frames the client sent before it saw our RST_STREAM are
    /// ignored (section 5.1, "closed").
    ResetByUs,
    /// The client reset it: anything but PRIORITY after is a stream error
    /// STREAM_CLOSED.
    ResetByPeer,
    /// Both sides ended it: DATA or HEADERS after is a connection error
    /// STREAM_CLOSED.
    Finished,
}

/// How many closed streams are remembered.
pub(crate) const CLOSED_REMEMBERED: usize = 64;

/// The response being sent on a stream once its HEADERS are out.
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    /// The body.
    pub body: Vec<u8>,
    /// How much of it was sent.
    pub sent: usize,
    /// Trailers to send after it (encoded when sent, to keep HPACK's order).
    pub trailers: Vec<FieldPair>,
}

/// An active stream.
#[derive(Debug)]
pub(crate) struct Stream {
    /// Its state.
    pub state: State,
    /// What the client may still send on it.
    pub recv: RecvWindow,
    /// What we may still send on it.
    pub send: SendWindow,
    /// The request's head.
    pub head: RequestHead,
    /// The request body received so far.
    pub body: Vec<u8>,
    /// The request's trailers.
    pub trailers: Vec<FieldPair>,
    /// The response, once `respond` was called.
    pub response: Option<Outgoing>,
}

impl Stream {
    /// A stream opened by a request head.
    pub(crate) fn new(head: RequestHead, recv: RecvWindow, send: SendWindow) -> Stream {
        Stream {
            state: State::Open,
            recv,
            send,
            head,
            body: Vec::new(),
            trailers: Vec::new(),
            response: None,
        }
    }
}
