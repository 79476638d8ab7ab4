//! Encoding: any [`Frame`] as it is ([`Frame::encode`]), and the frames a server
//! sends (SETTINGS and its ACK, HEADERS split into CONTINUATIONs, DATA, PING
//! ACK, RST_STREAM, GOAWAY, WINDOW_UPDATE) and a client sends (the preface,
//! HEADERS, DATA, WINDOW_UPDATE), appended to a `Vec`. Stream identifiers are
//! sent with the reserved bit clear; padding is sent as zeros.

use super::error::ErrorCode;
use super::frames::{Frame, StreamDependency};
use super::header::{
    flag, kind, FrameHeader, DEFAULT_MAX_FRAME_SIZE, HEADER_LEN, MAX_FRAME_SIZE_LIMIT, PREFACE,
    STREAM_ID_MASK,
};
use super::settings::{Setting, PARAM_LEN};

/// Appends a frame header.
#[inline]
fn header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream_id: u32) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    FrameHeader {
        len,
        kind,
        flags,
        stream_id,
    }
    .encode(out);
}

/// `f` when `on`, else no flag.
#[inline]
fn when(on: bool, f: u8) -> u8 {
    if on {
        f
    } else {
        0
    }
}

/// Appends a frame that may be padded: the pad length byte and `padding` zeros
/// around `fixed` then `body`.
fn padded(
    out: &mut Vec<u8>,
    kind: u8,
    flags: u8,
    stream_id: u32,
    padding: Option<u8>,
    fixed: &[u8],
    body: &[u8],
) {
    let pad = padding.map_or(0, |p| 1 + usize::from(p));
    out.reserve(HEADER_LEN + pad + fixed.len() + body.len());
    let flags = flags | when(padding.is_some(), flag::PADDED);
    header(out, pad + fixed.len() + body.len(), kind, flags, stream_id);
    if let Some(p) = padding {
        out.push(p);
    }
    out.extend_from_slice(fixed);
    out.extend_from_slice(body);
    out.resize(out.len() + pad.saturating_sub(1), 0);
}

/// A stream dependency's 5 bytes.
fn dependency(d: &StreamDependency) -> [u8; 5] {
    let word = (d.stream_id & STREAM_ID_MASK) | (u32::from(when(d.exclusive, 0x80)) << 24);
    let [a, b, c, e] = word.to_be_bytes();
    [a, b, c, e, d.weight]
}

impl Frame<'_> {
    /// Appends the frame as it is: the flags its fields say, its padding (zeros),
    /// unknown SETTINGS parameters and unknown frames as received. Decoding the
    /// bytes gives the same frame back, and as many bytes as it came in.
    ///
    /// # Panics
    /// If the payload is longer than 2^24-1 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Data(d) => padded(
                out,
                kind::DATA,
                when(d.end_stream, flag::END_STREAM),
                d.stream_id,
                d.padding,
                &[],
                d.data,
            ),
            Frame::Headers(h) => {
                let dep = h.priority.as_ref().map(dependency);
                let flags = when(h.end_stream, flag::END_STREAM)
                    | when(h.end_headers, flag::END_HEADERS)
                    | when(dep.is_some(), flag::PRIORITY);
                let fixed = dep.as_ref().map_or(&[][..], |d| &d[..]);
                padded(
                    out,
                    kind::HEADERS,
                    flags,
                    h.stream_id,
                    h.padding,
                    fixed,
                    h.fragment,
                );
            }
            Frame::Priority(p) => {
                header(out, 5, kind::PRIORITY, 0, p.stream_id);
                out.extend_from_slice(&dependency(&p.dependency));
            }
            Frame::RstStream(r) => encode_rst_stream(r.stream_id, r.code, out),
            Frame::Settings(s) => {
                header(
                    out,
                    s.raw().len(),
                    kind::SETTINGS,
                    when(s.ack, flag::ACK),
                    0,
                );
                out.extend_from_slice(s.raw());
            }
            Frame::PushPromise(p) => padded(
                out,
                kind::PUSH_PROMISE,
                when(p.end_headers, flag::END_HEADERS),
                p.stream_id,
                p.padding,
                &(p.promised_stream_id & STREAM_ID_MASK).to_be_bytes(),
                p.fragment,
            ),
            Frame::Ping(p) => encode_ping(p.data, p.ack, out),
            Frame::GoAway(g) => encode_goaway(g.last_stream_id, g.code, g.debug, out),
            Frame::WindowUpdate(w) => encode_window_update(w.stream_id, w.increment, out),
            Frame::Continuation(c) => {
                let flags = when(c.end_headers, flag::END_HEADERS);
                header(
                    out,
                    c.fragment.len(),
                    kind::CONTINUATION,
                    flags,
                    c.stream_id,
                );
                out.extend_from_slice(c.fragment);
            }
            Frame::Unknown(u) => {
                header(out, u.payload.len(), u.kind, u.flags, u.stream_id);
                out.extend_from_slice(u.payload);
            }
        }
    }
}

/// Appends the client connection preface (a client then sends its SETTINGS).
pub fn encode_preface(out: &mut Vec<u8>) {
    out.extend_from_slice(PREFACE);
}

/// Appends a SETTINGS frame with `settings`, in order (the values are sent as
/// given: keep them within their bounds, [`Setting`]).
pub fn encode_settings(settings: &[Setting], out: &mut Vec<u8>) {
    header(out, settings.len() * PARAM_LEN, kind::SETTINGS, 0, 0);
    for s in settings {
        out.extend_from_slice(&s.id().to_be_bytes());
        out.extend_from_slice(&s.value().to_be_bytes());
    }
}

/// Appends the acknowledgement of the peer's SETTINGS.
pub fn encode_settings_ack(out: &mut Vec<u8>) {
    header(out, 0, kind::SETTINGS, flag::ACK, 0);
}

/// Appends a field block on `stream_id`: one HEADERS frame, and CONTINUATION
/// frames after it when `block` is longer than `max_frame_size` (the peer's
/// SETTINGS_MAX_FRAME_SIZE, taken within 16384..=16777215); END_STREAM on the
/// HEADERS when `end_stream`, END_HEADERS on the last frame.
pub fn encode_headers(
    stream_id: u32,
    block: &[u8],
    end_stream: bool,
    max_frame_size: u32,
    out: &mut Vec<u8>,
) {
    let max = max_frame_size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT) as usize;
    let frames = block.len().div_ceil(max).max(1);
    out.reserve(block.len() + frames * HEADER_LEN);
    let mut pieces = block.chunks(max).peekable();
    let first = pieces.next().unwrap_or_default();
    let last = pieces.peek().is_none();
    let flags = when(end_stream, flag::END_STREAM) | when(last, flag::END_HEADERS);
    header(out, first.len(), kind::HEADERS, flags, stream_id);
    out.extend_from_slice(first);
    while let Some(piece) = pieces.next() {
        let flags = when(pieces.peek().is_none(), flag::END_HEADERS);
        header(out, piece.len(), kind::CONTINUATION, flags, stream_id);
        out.extend_from_slice(piece);
    }
}

/// Appends a DATA frame carrying `data` (at most the peer's maximum frame size,
/// and within the send windows: the caller splits), END_STREAM when `end_stream`.
pub fn encode_data(stream_id: u32, data: &[u8], end_stream: bool, out: &mut Vec<u8>) {
    out.reserve(HEADER_LEN + data.len());
    encode_data_header(stream_id, data.len(), end_stream, out);
    out.extend_from_slice(data);
}

/// Appends the header of a DATA frame whose `len` bytes of content the caller
/// sends after it (a shared segment, a body sent from where it is).
pub fn encode_data_header(stream_id: u32, len: usize, end_stream: bool, out: &mut Vec<u8>) {
    header(
        out,
        len,
        kind::DATA,
        when(end_stream, flag::END_STREAM),
        stream_id,
    );
}

/// Appends a PING with its 8 bytes: with `ack`, the answer to a received PING
/// (its bytes echoed).
pub fn encode_ping(data: [u8; 8], ack: bool, out: &mut Vec<u8>) {
    header(out, 8, kind::PING, when(ack, flag::ACK), 0);
    out.extend_from_slice(&data);
}

/// Appends an RST_STREAM ending `stream_id` with `code`.
pub fn encode_rst_stream(stream_id: u32, code: ErrorCode, out: &mut Vec<u8>) {
    header(out, 4, kind::RST_STREAM, 0, stream_id);
    out.extend_from_slice(&u32::from(code).to_be_bytes());
}

/// Appends a GOAWAY: the last stream processed (or that may still be, for a
/// graceful stop's first GOAWAY), the code, opaque debug bytes.
pub fn encode_goaway(last_stream_id: u32, code: ErrorCode, debug: &[u8], out: &mut Vec<u8>) {
    header(out, 8 + debug.len(), kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream_id & STREAM_ID_MASK).to_be_bytes());
    out.extend_from_slice(&u32::from(code).to_be_bytes());
    out.extend_from_slice(debug);
}

/// Appends a WINDOW_UPDATE adding `increment` (1..=2^31-1: 0 is a protocol
/// error for the peer) to the window of `stream_id`, 0 for the connection's.
pub fn encode_window_update(stream_id: u32, increment: u32, out: &mut Vec<u8>) {
    header(out, 4, kind::WINDOW_UPDATE, 0, stream_id);
    out.extend_from_slice(&(increment & STREAM_ID_MASK).to_be_bytes());
}
