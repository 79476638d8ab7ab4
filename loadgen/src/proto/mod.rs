//! What the generator sends and how it checks what comes back, per protocol. No
//! I/O here: the worker feeds these readers the bytes it reads. This module only
//! declares the protocols and dispatches to their readers ([`Reader`] for
//! request/response connections, [`MemberReader`] for room members); what the
//! readers report is in `answer`.

mod answer;
pub(crate) mod echo;
pub(crate) mod frame;
pub(crate) mod http;
pub(crate) mod ws;

pub(crate) use answer::{Answers, Cut, Framing};

/// A request/response connection's reader.
#[derive(Debug)]
pub(crate) enum Reader {
    Http(http::Reader),
    Echo(echo::Reader),
    /// Echo over WebSocket.
    Ws(ws::EchoReader),
}

/// A room member's reader: the frame protocol's, or WebSocket's (the same
/// events: messages with their stamps, pongs).
#[derive(Debug)]
pub(crate) enum MemberReader {
    Frame(frame::Reader),
    Ws(ws::RoomReader),
}

impl MemberReader {
    /// Reads `data`, calling `on` for every event.
    #[inline]
    pub(crate) fn feed(
        &mut self,
        data: &[u8],
        on: impl FnMut(frame::Event),
    ) -> Result<(), Framing> {
        match self {
            MemberReader::Frame(r) => r.feed(data, on),
            MemberReader::Ws(r) => r.feed(data, on),
        }
    }

    /// WebSocket: the pongs owed to the server's pings.
    pub(crate) fn pongs(&mut self) -> Option<&mut Vec<u8>> {
        match self {
            MemberReader::Frame(_) => None,
            MemberReader::Ws(r) => Some(r.frames().pongs()),
        }
    }
}

impl Reader {
    #[inline]
    pub(crate) fn feed(&mut self, data: &[u8], out: &mut Answers) -> Result<(), Framing> {
        match self {
            Reader::Http(r) => r.feed(data, out),
            Reader::Echo(r) => r.feed(data, out),
            Reader::Ws(r) => r.feed(data, out),
        }
    }

    /// The server closed the connection: completes an answer that runs to the
    /// close, or says one was cut.
    pub(crate) fn eof(&mut self, out: &mut Answers) -> Result<(), Cut> {
        match self {
            Reader::Http(r) => r.eof(out),
            Reader::Echo(r) => r.eof(),
            Reader::Ws(r) => r.eof(),
        }
    }

    /// WebSocket: the pongs owed to the server's pings.
    pub(crate) fn pongs(&mut self) -> Option<&mut Vec<u8>> {
        match self {
            Reader::Ws(r) => Some(r.frames().pongs()),
            _ => None,
        }
    }
}
