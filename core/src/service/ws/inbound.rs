//! What a client sends, after the handshake: frames read as they arrive (a
//! payload is unmasked, inflated and validated piece by piece, so a large message
//! is never held twice and a bad one fails at the byte that makes it bad),
//! messages assembled from their fragments, control frames between them. A sans-io
//! reader shared by the rooms' session and the HTTP mock's WebSocket endpoints:
//! it reports whole messages and control frames; what to do with them is theirs.

use super::close::code;
use super::deflate::{DeflateParams, Deflater, InflateError, Inflater};
use super::frame::{self, opcode, FrameError, Header};
use super::utf8::Utf8Validator;

/// Why the connection fails: the close code and reason sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fail(pub(crate) u16, pub(crate) &'static str);

impl From<&FrameError> for Fail {
    fn from(e: &FrameError) -> Fail {
        Fail(
            e.close_code(),
            match e {
                FrameError::ReservedBits => "reserved bits set",
                FrameError::ReservedOpcode(_) => "reserved opcode",
                FrameError::FragmentedControl => "fragmented control frame",
                FrameError::ControlTooLong(_) => "control frame too long",
                FrameError::NotMasked => "client frames must be masked",
                FrameError::TooLong { .. } => "message too big",
                FrameError::BadLength => "bad payload length",
            },
        )
    }
}

fn inflate_fail(e: InflateError) -> Fail {
    match e {
        InflateError::TooBig => Fail(code::TOO_BIG, "message too big"),
        _ => Fail(code::INVALID_PAYLOAD, "bad compressed data"),
    }
}

/// A data frame whose payload is still arriving.
#[derive(Debug, Clone, Copy)]
struct Reading {
    header: Header,
    /// Payload bytes consumed so far.
    got: u64,
}

/// A message being assembled from its frames, then whole.
#[derive(Debug)]
pub(crate) struct Message {
    /// `opcode::TEXT` or `opcode::BINARY`.
    pub(crate) opcode: u8,
    compressed: bool,
    /// The payload (inflated, unmasked).
    pub(crate) data: Vec<u8>,
    utf8: Utf8Validator,
}

/// permessage-deflate state, made on first use.
pub(crate) struct Deflate {
    pub(crate) params: DeflateParams,
    inflater: Option<Inflater>,
    deflater: Option<Deflater>,
    /// A compressed frame's payload, unmasked, before inflating; or a message
    /// compressed, before framing.
    scratch: Vec<u8>,
}

impl Deflate {
    /// For the parameters agreed.
    pub(crate) fn new(params: DeflateParams) -> Box<Deflate> {
        Box::new(Deflate {
            params,
            inflater: None,
            deflater: None,
            scratch: Vec::new(),
        })
    }

    /// `data` compressed as one message (the frame's payload; RSV1 set).
    pub(crate) fn compress(&mut self, data: &[u8]) -> &[u8] {
        let params = self.params;
        let deflater = self.deflater.get_or_insert_with(|| Deflater::new(&params));
        self.scratch.clear();
        deflater.deflate(data, &mut self.scratch);
        &self.scratch
    }
}

/// What [`Inbound::read`] found.
#[derive(Debug)]
pub(crate) enum Event {
    /// A whole message: take it with [`Inbound::take_message`].
    Message,
    /// A control frame (ping, pong or close) with its unmasked payload.
    Control(u8, Vec<u8>),
}

/// A message buffer up to this capacity is kept for the next message (an echo or
/// a chat message costs no allocation); a larger one is freed, so an idle member
/// holds at most this much.
const KEEP_BUFFER: usize = 512;

/// A client's frames, read into messages and control frames.
#[derive(Default)]
pub(crate) struct Inbound {
    reading: Option<Reading>,
    message: Option<Box<Message>>,
    /// The last message's buffer, kept for the next one when it is small.
    spare: Option<Box<Message>>,
    /// permessage-deflate, when agreed.
    pub(crate) deflate: Option<Box<Deflate>>,
}

impl Inbound {
    /// Reads frames from `input` until a message is whole or a control frame is
    /// read (`Some`), or the input is used up (`None`): the bytes consumed, and
    /// what was found or why the connection fails.
    // Inlined into each session's loop (as one function, it cost ~9% more
    // instructions per echoed message: two calls per message and the result moved).
    #[inline(always)]
    pub(crate) fn read(
        &mut self,
        input: &[u8],
        max_message: usize,
    ) -> (usize, Result<Option<Event>, Fail>) {
        let mut pos = 0;
        loop {
            if let Some(r) = self.reading {
                let rest = &input[pos..];
                let remaining = r.header.len - r.got;
                let n = remaining.min(rest.len() as u64) as usize;
                if n > 0 || remaining == 0 {
                    if let Err(f) = self.payload(&rest[..n], max_message) {
                        return (pos, Err(f));
                    }
                    pos += n;
                }
                let Some(r) = self.reading.as_mut() else {
                    continue;
                };
                r.got += n as u64;
                if r.got < r.header.len {
                    return (pos, Ok(None));
                }
                let fin = r.header.fin;
                self.reading = None;
                if fin {
                    return match self.finish_message(max_message) {
                        Ok(()) => (pos, Ok(Some(Event::Message))),
                        Err(f) => (pos, Err(f)),
                    };
                }
                continue;
            }
            let rest = &input[pos..];
            if rest.is_empty() {
                return (pos, Ok(None));
            }
            let header = match frame::decode_header(rest, max_message as u64, true) {
                Ok(Some(h)) => h,
                Ok(None) => return (pos, Ok(None)),
                Err(e) => return (pos, Err(Fail::from(&e))),
            };
            if header.is_control() {
                let whole = header.header_len + header.len as usize;
                if rest.len() < whole {
                    return (pos, Ok(None));
                }
                if header.rsv1 {
                    return (
                        pos,
                        Err(Fail(code::PROTOCOL_ERROR, "RSV1 on a control frame")),
                    );
                }
                let mut payload = Vec::with_capacity(header.len as usize);
                let key = header.mask.unwrap_or([0; 4]);
                frame::unmask_into(&mut payload, &rest[header.header_len..whole], key, 0);
                pos += whole;
                return (pos, Ok(Some(Event::Control(header.opcode, payload))));
            }
            if let Err(f) = self.start_frame(&header, max_message) {
                return (pos, Err(f));
            }
            pos += header.header_len;
            self.reading = Some(Reading { header, got: 0 });
        }
    }

    /// The message [`Event::Message`] announced; hand it back with
    /// [`Inbound::recycle`] when done.
    #[inline]
    pub(crate) fn take_message(&mut self) -> Option<Box<Message>> {
        self.message.take()
    }

    /// A message handled: its buffer is kept for the next one when it is small.
    #[inline]
    pub(crate) fn recycle(&mut self, mut message: Box<Message>) {
        if message.data.capacity() <= KEEP_BUFFER {
            message.data.clear();
            message.utf8 = Utf8Validator::default();
            self.spare = Some(message);
        }
    }

    /// Between messages: no frame or message half read.
    #[inline]
    pub(crate) fn idle(&self) -> bool {
        self.reading.is_none() && self.message.is_none()
    }

    /// Forgets a message half read (the connection fails).
    pub(crate) fn abandon(&mut self) {
        self.message = None;
        self.reading = None;
    }

    /// A data frame's header: a message starts or goes on.
    #[inline(always)]
    fn start_frame(&mut self, h: &Header, max_message: usize) -> Result<(), Fail> {
        match (&mut self.message, h.opcode) {
            (None, opcode::TEXT | opcode::BINARY) => {
                if h.rsv1 && self.deflate.is_none() {
                    return Err(Fail(
                        code::PROTOCOL_ERROR,
                        "RSV1 without permessage-deflate",
                    ));
                }
                let mut m = self.spare.take().unwrap_or_else(|| {
                    Box::new(Message {
                        opcode: h.opcode,
                        compressed: h.rsv1,
                        data: Vec::new(),
                        utf8: Utf8Validator::default(),
                    })
                });
                m.opcode = h.opcode;
                m.compressed = h.rsv1;
                m.data.reserve((h.len as usize).min(64 * 1024));
                self.message = Some(m);
            }
            (None, _) => {
                return Err(Fail(
                    code::PROTOCOL_ERROR,
                    "continuation frame with no message",
                ));
            }
            (Some(_), opcode::CONTINUATION) => {
                if h.rsv1 {
                    return Err(Fail(code::PROTOCOL_ERROR, "RSV1 on a continuation frame"));
                }
            }
            (Some(_), _) => {
                return Err(Fail(
                    code::PROTOCOL_ERROR,
                    "a new message before the last one ended",
                ));
            }
        }
        let m = self.message.as_ref().map_or(0, |m| m.data.len() as u64);
        if !self.message.as_ref().is_some_and(|m| m.compressed) && m + h.len > max_message as u64 {
            return Err(Fail(code::TOO_BIG, "message too big"));
        }
        Ok(())
    }

    /// The next piece of the current data frame's payload.
    #[inline(always)]
    fn payload(&mut self, piece: &[u8], max_message: usize) -> Result<(), Fail> {
        let Some(r) = self.reading else {
            return Ok(());
        };
        let Some(m) = self.message.as_mut() else {
            return Ok(());
        };
        let key = r.header.mask.unwrap_or([0; 4]);
        let start = m.data.len();
        if m.compressed {
            let Some(d) = self.deflate.as_mut() else {
                return Err(Fail(
                    code::PROTOCOL_ERROR,
                    "RSV1 without permessage-deflate",
                ));
            };
            d.scratch.clear();
            frame::unmask_into(&mut d.scratch, piece, key, r.got);
            let params = d.params;
            let inflater = d.inflater.get_or_insert_with(|| Inflater::new(&params));
            inflater
                .inflate(&d.scratch, false, &mut m.data, max_message)
                .map_err(inflate_fail)?;
        } else {
            frame::unmask_into(&mut m.data, piece, key, r.got);
        }
        if m.opcode == opcode::TEXT {
            m.utf8
                .feed(&m.data[start..])
                .map_err(|e| Fail(e.close_code(), "invalid UTF-8"))?;
        }
        Ok(())
    }

    /// The final frame of a message was read: the rest of its inflating and its
    /// UTF-8 check.
    #[inline(always)]
    fn finish_message(&mut self, max_message: usize) -> Result<(), Fail> {
        let Some(m) = self.message.as_mut() else {
            return Ok(());
        };
        if m.compressed {
            if let Some(d) = self.deflate.as_mut() {
                let params = d.params;
                let inflater = d.inflater.get_or_insert_with(|| Inflater::new(&params));
                let start = m.data.len();
                inflater
                    .inflate(&[], true, &mut m.data, max_message)
                    .map_err(inflate_fail)?;
                if m.opcode == opcode::TEXT {
                    m.utf8
                        .feed(&m.data[start..])
                        .map_err(|e| Fail(e.close_code(), "invalid UTF-8"))?;
                }
            }
        }
        if m.opcode == opcode::TEXT {
            m.utf8
                .finish()
                .map_err(|e| Fail(e.close_code(), "invalid UTF-8"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::frame::{encode_masked, opcode};
    use crate::fuzzing::ws_inbound;

    /// Fragments with a ping between them, a close, and a message cut at every
    /// byte: the same events however the input is cut (the fuzz target's check,
    /// on inputs it might take long to find).
    #[test]
    fn a_fragmented_message_reads_the_same_cut_anywhere() {
        let key = [7, 1, 9, 3];
        let mut input = Vec::new();
        encode_masked(false, opcode::TEXT, "frag".as_bytes(), key, &mut input);
        encode_masked(true, opcode::PING, b"p", key, &mut input);
        encode_masked(
            false,
            opcode::CONTINUATION,
            "mé".as_bytes(),
            key,
            &mut input,
        );
        encode_masked(true, opcode::CONTINUATION, "nt".as_bytes(), key, &mut input);
        encode_masked(true, opcode::BINARY, &[0; 300], key, &mut input);
        encode_masked(true, opcode::CLOSE, &[3, 232, b'o', b'k'], key, &mut input);
        for at in 0..=input.len() {
            ws_inbound(&input, at, 1 << 16);
            // Over the limit and invalid UTF-8 fail the same way wherever cut.
            ws_inbound(&input, at, 100);
            let mut utf8 = Vec::new();
            encode_masked(true, opcode::TEXT, b"ok \xc3\x28 no", key, &mut utf8);
            ws_inbound(&utf8, at % (utf8.len() + 1), 1 << 16);
        }
    }
}
