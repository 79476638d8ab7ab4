//! What the generator sends and how it checks what comes back, per protocol. No
//! I/O here: the worker feeds these readers the bytes it reads. This module only
//! declares the protocols and dispatches to their readers ([`Reader`]); what the
//! readers report is in `answer`.

mod answer;
pub(crate) mod echo;
pub(crate) mod frame;
pub(crate) mod http;

pub(crate) use answer::{Answers, Cut, Framing};

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
