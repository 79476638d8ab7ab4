//! A minimal HTTP/2 frame layer of our own (RFC 9113), sans-io, with `loona-hpack`
//! decoding request header blocks: the preface, SETTINGS (+ACK), HEADERS
//! (+CONTINUATION), DATA with its flow control released at once, WINDOW_UPDATE on
//! both send windows, PING ack, RST_STREAM, GOAWAY (sent on a connection error with
//! the last stream id; received: the open streams are answered, then the connection
//! closes). Responses: HEADERS from one cached HPACK block (static-table references
//! and literals without indexing, so it stays valid whatever the peer's table) and
//! DATA with END_STREAM, held while a send window is short.
//!
//! Spike-level: no priorities, no push, no trailers' content, no server-initiated
//! stop, header validation limited to the pseudo-headers a request must have.

use crate::{Close, Session, BODY};
use loona_hpack::Decoder;

/// Which HPACK decoder a session uses (the two weighed; `own [PORT] httlib` picks
/// the second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hpack {
    /// `loona-hpack`: fields handed to a callback, borrowed from the table.
    Loona,
    /// `httlib-hpack`: fields copied into owned `Vec`s from a `Vec` it consumes.
    Httlib,
}

enum HpackDecoder {
    Loona(Decoder<'static>),
    Httlib {
        decoder: httlib_hpack::Decoder<'static>,
        input: Vec<u8>,
        fields: Vec<(Vec<u8>, Vec<u8>, u8)>,
    },
}

impl HpackDecoder {
    /// Decodes `block`, calling `field` with each name; false on a decoding error.
    fn decode(&mut self, block: &[u8], mut field: impl FnMut(&[u8])) -> bool {
        match self {
            HpackDecoder::Loona(d) => d.decode_with_cb(block, |n, _| field(&n)).is_ok(),
            HpackDecoder::Httlib {
                decoder,
                input,
                fields,
            } => {
                input.clear();
                input.extend_from_slice(block);
                fields.clear();
                if decoder.decode(input, fields).is_err() {
                    return false;
                }
                fields.iter().for_each(|(n, _, _)| field(n));
                true
            }
        }
    }
}
use std::collections::{HashMap, VecDeque};

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const PRIORITY: u8 = 2;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PUSH_PROMISE: u8 = 5;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const WINDOW_UPDATE: u8 = 8;
const CONTINUATION: u8 = 9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY_FLAG: u8 = 0x20;

const PROTOCOL_ERROR: u32 = 0x1;
const FLOW_CONTROL_ERROR: u32 = 0x3;
const STREAM_CLOSED: u32 = 0x5;
const FRAME_SIZE_ERROR: u32 = 0x6;
const REFUSED_STREAM: u32 = 0x7;
const COMPRESSION_ERROR: u32 = 0x9;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// Our SETTINGS_MAX_FRAME_SIZE (the default) and the windows we advertise (defaults).
const MAX_FRAME: usize = 16_384;
const WINDOW: i64 = 65_535;
const MAX_STREAMS: usize = 128;
/// Header block (HEADERS + CONTINUATIONs) bound.
const MAX_BLOCK: usize = 64 * 1024;
const MAX_WINDOW: i64 = (1 << 31) - 1;

/// `:status: 200` (static index 8), `content-type: text/plain` (name index 31) and
/// `content-length: 6` (name index 28), literals without indexing: valid in any
/// HPACK context, so it is encoded once and copied into every answer.
pub const RESPONSE_BLOCK: &[u8] = &[
    0x88, 0x0f, 0x10, 10, b't', b'e', b'x', b't', b'/', b'p', b'l', b'a', b'i', b'n', 0x0f, 0x0d,
    1, b'6',
];

struct Stream {
    /// The request is still coming (no END_STREAM yet).
    recv_open: bool,
    send_window: i64,
    /// Its HEADERS went out; its DATA waits for send window.
    answer_held: bool,
}

/// One connection of the own frame layer as a [`Session`].
pub struct OwnSession {
    /// Bytes of an incomplete frame (or preface) carried to the next feed.
    carry: Vec<u8>,
    preface_done: bool,
    decoder: HpackDecoder,
    /// A header block waiting for CONTINUATION: stream, END_STREAM, its bytes.
    block: Option<(u32, bool)>,
    block_buf: Vec<u8>,
    last_stream: u32,
    streams: HashMap<u32, Stream>,
    peer_initial_window: i64,
    conn_send_window: i64,
    conn_recv_window: i64,
    /// DATA bytes consumed, to give back in one connection WINDOW_UPDATE per feed.
    conn_release: u32,
    held: VecDeque<u32>,
    goaway_received: bool,
}

impl Default for OwnSession {
    fn default() -> Self {
        Self::new(Hpack::Loona)
    }
}

/// A connection error's code.
type ConnResult = Result<(), u32>;

fn frame_head(out: &mut Vec<u8>, len: usize, typ: u8, flags: u8, stream: u32) {
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, typ, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
}

fn u32_at(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn rst(out: &mut Vec<u8>, stream: u32, code: u32) {
    frame_head(out, 4, RST_STREAM, 0, stream);
    out.extend_from_slice(&code.to_be_bytes());
}

fn window_update(out: &mut Vec<u8>, stream: u32, n: u32) {
    frame_head(out, 4, WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&n.to_be_bytes());
}

impl OwnSession {
    pub fn new(hpack: Hpack) -> Self {
        // Our SETTINGS_HEADER_TABLE_SIZE is the default: a peer may not go past it.
        let decoder = match hpack {
            Hpack::Loona => {
                let mut d = Decoder::new();
                d.set_max_allowed_table_size(4096);
                HpackDecoder::Loona(d)
            }
            Hpack::Httlib => HpackDecoder::Httlib {
                decoder: httlib_hpack::Decoder::with_dynamic_size(4096),
                input: Vec::new(),
                fields: Vec::new(),
            },
        };
        OwnSession {
            carry: Vec::new(),
            preface_done: false,
            decoder,
            block: None,
            block_buf: Vec::new(),
            last_stream: 0,
            streams: HashMap::new(),
            peer_initial_window: WINDOW,
            conn_send_window: WINDOW,
            conn_recv_window: WINDOW,
            conn_release: 0,
            held: VecDeque::new(),
            goaway_received: false,
        }
    }

    /// Consumes whole frames of `data`; returns how many bytes it used.
    fn process(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<usize, u32> {
        let mut pos = 0;
        if !self.preface_done {
            let n = data.len().min(PREFACE.len());
            if data[..n] != PREFACE[..n] {
                return Err(PROTOCOL_ERROR);
            }
            if n < PREFACE.len() {
                return Ok(0);
            }
            pos = PREFACE.len();
            self.preface_done = true;
            // Our SETTINGS: the concurrency bound; the rest stays at the defaults.
            frame_head(out, 6, SETTINGS, 0, 0);
            out.extend_from_slice(&[0, 3]);
            out.extend_from_slice(&(MAX_STREAMS as u32).to_be_bytes());
        }
        while data.len() - pos >= 9 {
            let h = &data[pos..pos + 9];
            let len = (h[0] as usize) << 16 | (h[1] as usize) << 8 | h[2] as usize;
            if len > MAX_FRAME {
                return Err(FRAME_SIZE_ERROR);
            }
            if data.len() - pos - 9 < len {
                break;
            }
            let stream = u32_at(&h[5..9]) & 0x7fff_ffff;
            let payload = &data[pos + 9..pos + 9 + len];
            pos += 9 + len;
            self.frame(h[3], h[4], stream, payload, out)?;
        }
        Ok(pos)
    }

    fn frame(
        &mut self,
        typ: u8,
        flags: u8,
        stream: u32,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> ConnResult {
        if self.block.is_some() && typ != CONTINUATION {
            return Err(PROTOCOL_ERROR);
        }
        match typ {
            DATA => self.data(flags, stream, payload, out),
            HEADERS => self.headers(flags, stream, payload, out),
            CONTINUATION => {
                let Some((s, end_stream)) = self.block else {
                    return Err(PROTOCOL_ERROR);
                };
                if s != stream {
                    return Err(PROTOCOL_ERROR);
                }
                if self.block_buf.len() + payload.len() > MAX_BLOCK {
                    return Err(ENHANCE_YOUR_CALM);
                }
                self.block_buf.extend_from_slice(payload);
                if flags & END_HEADERS != 0 {
                    self.block = None;
                    let block = std::mem::take(&mut self.block_buf);
                    self.header_block(stream, end_stream, &block, out)?;
                    self.block_buf = block;
                    self.block_buf.clear();
                }
                Ok(())
            }
            PRIORITY => {
                if stream == 0 {
                    return Err(PROTOCOL_ERROR);
                }
                if payload.len() != 5 {
                    rst(out, stream, FRAME_SIZE_ERROR);
                }
                Ok(())
            }
            RST_STREAM => {
                if stream == 0 || stream > self.last_stream {
                    return Err(PROTOCOL_ERROR);
                }
                if payload.len() != 4 {
                    return Err(FRAME_SIZE_ERROR);
                }
                self.streams.remove(&stream);
                self.held.retain(|&s| s != stream);
                Ok(())
            }
            SETTINGS => self.settings(flags, stream, payload, out),
            PUSH_PROMISE => Err(PROTOCOL_ERROR),
            PING => {
                if stream != 0 {
                    return Err(PROTOCOL_ERROR);
                }
                if payload.len() != 8 {
                    return Err(FRAME_SIZE_ERROR);
                }
                if flags & ACK == 0 {
                    frame_head(out, 8, PING, ACK, 0);
                    out.extend_from_slice(payload);
                }
                Ok(())
            }
            GOAWAY => {
                if stream != 0 {
                    return Err(PROTOCOL_ERROR);
                }
                self.goaway_received = true;
                Ok(())
            }
            WINDOW_UPDATE => {
                if payload.len() != 4 {
                    return Err(FRAME_SIZE_ERROR);
                }
                let inc = (u32_at(payload) & 0x7fff_ffff) as i64;
                if stream == 0 {
                    if inc == 0 {
                        return Err(PROTOCOL_ERROR);
                    }
                    self.conn_send_window += inc;
                    if self.conn_send_window > MAX_WINDOW {
                        return Err(FLOW_CONTROL_ERROR);
                    }
                } else if stream > self.last_stream {
                    return Err(PROTOCOL_ERROR);
                } else if let Some(s) = self.streams.get_mut(&stream) {
                    if inc == 0 {
                        self.streams.remove(&stream);
                        rst(out, stream, PROTOCOL_ERROR);
                    } else {
                        s.send_window += inc;
                        if s.send_window > MAX_WINDOW {
                            self.streams.remove(&stream);
                            rst(out, stream, FLOW_CONTROL_ERROR);
                        }
                    }
                }
                self.release_held(out);
                Ok(())
            }
            _ => Ok(()), // unknown frame types are ignored
        }
    }

    fn data(&mut self, flags: u8, stream: u32, payload: &[u8], out: &mut Vec<u8>) -> ConnResult {
        if stream == 0 || stream > self.last_stream {
            return Err(PROTOCOL_ERROR);
        }
        let len = payload.len();
        if flags & PADDED != 0 && (len == 0 || payload[0] as usize >= len) {
            return Err(PROTOCOL_ERROR);
        }
        // The whole frame counts against the windows, padding included.
        self.conn_recv_window -= len as i64;
        if self.conn_recv_window < 0 {
            return Err(FLOW_CONTROL_ERROR);
        }
        self.conn_release += len as u32;
        let open = self.streams.get_mut(&stream).filter(|s| s.recv_open);
        let Some(s) = open else {
            rst(out, stream, STREAM_CLOSED);
            return Ok(());
        };
        if flags & END_STREAM != 0 {
            s.recv_open = false;
            self.answer(stream, out);
        } else if len > 0 {
            window_update(out, stream, len as u32);
        }
        Ok(())
    }

    fn headers(&mut self, flags: u8, stream: u32, payload: &[u8], out: &mut Vec<u8>) -> ConnResult {
        if stream == 0 || stream.is_multiple_of(2) {
            return Err(PROTOCOL_ERROR);
        }
        let mut frag = payload;
        if flags & PADDED != 0 {
            let Some((&pad, rest)) = frag.split_first() else {
                return Err(FRAME_SIZE_ERROR);
            };
            if pad as usize > rest.len() {
                return Err(PROTOCOL_ERROR);
            }
            frag = &rest[..rest.len() - pad as usize];
        }
        if flags & PRIORITY_FLAG != 0 {
            if frag.len() < 5 {
                return Err(FRAME_SIZE_ERROR);
            }
            frag = &frag[5..];
        }
        if stream <= self.last_stream {
            // Trailers on an open stream must end it; anything else is on a closed stream.
            match self.streams.get(&stream) {
                Some(s) if s.recv_open && flags & END_STREAM != 0 => {}
                Some(s) if s.recv_open => return Err(PROTOCOL_ERROR),
                _ => return Err(STREAM_CLOSED),
            }
        } else {
            self.last_stream = stream;
        }
        let end_stream = flags & END_STREAM != 0;
        if flags & END_HEADERS != 0 {
            self.header_block(stream, end_stream, frag, out)
        } else {
            self.block = Some((stream, end_stream));
            self.block_buf.clear();
            self.block_buf.extend_from_slice(frag);
            Ok(())
        }
    }

    /// A complete header block: decoded (always, to keep the HPACK state), checked,
    /// and the stream opened or answered.
    fn header_block(
        &mut self,
        stream: u32,
        end_stream: bool,
        block: &[u8],
        out: &mut Vec<u8>,
    ) -> ConnResult {
        let (mut method, mut path, mut scheme, mut bad) = (false, false, false, false);
        let decoded = self.decoder.decode(block, |name| {
            match name {
                b":method" => method = true,
                b":path" => path = true,
                b":scheme" => scheme = true,
                b":authority" => {}
                n if n.first() == Some(&b':') => bad = true,
                n if n.iter().any(u8::is_ascii_uppercase) => bad = true,
                _ => {}
            };
        });
        if !decoded {
            return Err(COMPRESSION_ERROR);
        }
        if let Some(s) = self.streams.get_mut(&stream) {
            // Trailers (checked to carry END_STREAM).
            s.recv_open = false;
            self.answer(stream, out);
            return Ok(());
        }
        if bad || !(method && path && scheme) {
            rst(out, stream, PROTOCOL_ERROR);
            return Ok(());
        }
        if self.streams.len() >= MAX_STREAMS {
            rst(out, stream, REFUSED_STREAM);
            return Ok(());
        }
        self.streams.insert(
            stream,
            Stream {
                recv_open: !end_stream,
                send_window: self.peer_initial_window,
                answer_held: false,
            },
        );
        if end_stream {
            self.answer(stream, out);
        }
        Ok(())
    }

    fn settings(
        &mut self,
        flags: u8,
        stream: u32,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> ConnResult {
        if stream != 0 {
            return Err(PROTOCOL_ERROR);
        }
        if flags & ACK != 0 {
            return if payload.is_empty() {
                Ok(())
            } else {
                Err(FRAME_SIZE_ERROR)
            };
        }
        if !payload.len().is_multiple_of(6) {
            return Err(FRAME_SIZE_ERROR);
        }
        for s in payload.chunks_exact(6) {
            let value = u32_at(&s[2..6]);
            match u16::from_be_bytes([s[0], s[1]]) {
                2 if value > 1 => return Err(PROTOCOL_ERROR),
                4 => {
                    if value as i64 > MAX_WINDOW {
                        return Err(FLOW_CONTROL_ERROR);
                    }
                    let delta = value as i64 - self.peer_initial_window;
                    self.peer_initial_window = value as i64;
                    for st in self.streams.values_mut() {
                        st.send_window += delta;
                    }
                }
                5 if !(16_384..=16_777_215).contains(&value) => return Err(PROTOCOL_ERROR),
                // HEADER_TABLE_SIZE: our answers use no dynamic table; others: ignored.
                _ => {}
            }
        }
        frame_head(out, 0, SETTINGS, ACK, 0);
        self.release_held(out);
        Ok(())
    }

    /// The answer: HEADERS now, DATA with END_STREAM now or once the windows allow.
    fn answer(&mut self, stream: u32, out: &mut Vec<u8>) {
        frame_head(out, RESPONSE_BLOCK.len(), HEADERS, END_HEADERS, stream);
        out.extend_from_slice(RESPONSE_BLOCK);
        if !self.send_body(stream, out) {
            if let Some(s) = self.streams.get_mut(&stream) {
                s.answer_held = true;
                self.held.push_back(stream);
            }
        }
    }

    /// Sends the body if both windows have room (and closes the stream); false if not.
    fn send_body(&mut self, stream: u32, out: &mut Vec<u8>) -> bool {
        let n = BODY.len() as i64;
        let Some(s) = self.streams.get(&stream) else {
            return true;
        };
        if self.conn_send_window < n || s.send_window < n {
            return false;
        }
        self.conn_send_window -= n;
        frame_head(out, BODY.len(), DATA, END_STREAM, stream);
        out.extend_from_slice(BODY);
        self.streams.remove(&stream);
        true
    }

    fn release_held(&mut self, out: &mut Vec<u8>) {
        while let Some(&stream) = self.held.front() {
            let still_held = self.streams.get(&stream).is_some_and(|s| s.answer_held);
            if still_held && !self.send_body(stream, out) {
                return;
            }
            self.held.pop_front();
        }
    }

    fn goaway(&self, code: u32, out: &mut Vec<u8>) {
        frame_head(out, 8, GOAWAY, 0, 0);
        out.extend_from_slice(&self.last_stream.to_be_bytes());
        out.extend_from_slice(&code.to_be_bytes());
    }
}

impl Session for OwnSession {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Close> {
        let result = if self.carry.is_empty() {
            self.process(input, out).map(|used| {
                self.carry.extend_from_slice(&input[used..]);
            })
        } else {
            self.carry.extend_from_slice(input);
            let carry = std::mem::take(&mut self.carry);
            let r = self.process(&carry, out);
            self.carry = carry;
            r.map(|used| {
                self.carry.drain(..used);
            })
        };
        if let Err(code) = result {
            self.goaway(code, out);
            return Err(Close);
        }
        if self.conn_release > 0 {
            window_update(out, 0, self.conn_release);
            self.conn_recv_window += self.conn_release as i64;
            self.conn_release = 0;
        }
        if self.goaway_received && self.streams.is_empty() {
            return Err(Close);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_response_block_decodes_to_the_answer() {
        let headers = Decoder::new().decode(RESPONSE_BLOCK).unwrap();
        let want: Vec<(Vec<u8>, Vec<u8>)> = [
            (":status", "200"),
            ("content-type", "text/plain"),
            ("content-length", "6"),
        ]
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
        assert_eq!(headers, want);
    }
}
