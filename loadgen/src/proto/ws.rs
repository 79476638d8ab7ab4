//! WebSocket (RFC 6455) as the generator speaks it, client side: the opening
//! handshake ([`request`], checked by [`Handshake`]: `101` and the
//! `Sec-WebSocket-Accept` of the key sent), masked messages (each frame with a
//! mask key of its own, as RFC 6455 section 5.3 asks: [`MaskKeys`]; the echo
//! payload once per connection, a stamped one per publish for rooms), and the reader
//! of what the server sends ([`Frames`]: pings answered with pongs, a close
//! frame ends the connection), under the echo check ([`EchoReader`]: every
//! message byte for byte) and the rooms one ([`RoomReader`]: the publisher's
//! stamp of every message). No permessage-deflate is offered.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use pierhead::websocket::{self as wire, opcode, MAX_HEADER_LEN};

use super::answer::{Answers, Cut, Framing};
use super::frame::{Event, Stamp, STAMP_LEN};

/// The longest `101` answer head read.
const MAX_ANSWER_HEAD: usize = 16 * 1024;

/// 16 random bytes per call (std's per-process random hasher keys, mixed with
/// `seed`): a `Sec-WebSocket-Key` and a mask key.
pub(crate) fn random_key(seed: u64) -> (String, [u8; 4]) {
    let mut bytes = [0u8; 16];
    for (k, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(seed);
        h.write_usize(k);
        chunk.copy_from_slice(&h.finish().to_ne_bytes());
    }
    let mask = [bytes[0], bytes[5], bytes[10], bytes[15]];
    (BASE64.encode(bytes), mask)
}

/// A fresh mask key per frame (RFC 6455 section 5.3: unpredictable to the
/// application, so that a frame's bytes cannot be chosen to look like another
/// protocol to an intermediary): xorshift64*, seeded from [`random_key`].
#[derive(Debug, Clone)]
pub(crate) struct MaskKeys(u64);

impl MaskKeys {
    /// Keys from a random seed (`seed` mixed with the process's random keys).
    pub(crate) fn new(seed: u64) -> MaskKeys {
        let (_, k) = random_key(seed);
        MaskKeys(u64::from(u32::from_ne_bytes(k)) << 32 | 0x9E37_79B9 | 1)
    }

    /// The next key.
    #[inline]
    pub(crate) fn next_key(&mut self) -> [u8; 4] {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        ((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32).to_ne_bytes()
    }
}

/// The opening handshake's request for `path` with the key `key`.
pub(crate) fn request(authority: &str, path: &str, key: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// A text payload for connection `conn`, `len` bytes: its id in decimal, then
/// a pattern (unique to the connection, as echo's binary one is).
pub(crate) fn text_payload(conn: u64, len: usize) -> Vec<u8> {
    let mut p = format!("{conn}:").into_bytes();
    p.truncate(len);
    for i in p.len()..len {
        p.push(b'a' + ((i as u64 + conn) % 26) as u8);
    }
    p
}

/// Appends `n` messages of echo's `payload`, binary or text, each masked with a
/// key of its own.
pub(crate) fn messages(
    payload: &[u8],
    text: bool,
    n: usize,
    keys: &mut MaskKeys,
    out: &mut Vec<u8>,
) {
    let op = if text { opcode::TEXT } else { opcode::BINARY };
    for _ in 0..n {
        wire::encode_masked(true, op, payload, keys.next_key(), out);
    }
}

/// Appends a publisher's binary message of `payload_len` bytes (at least the
/// stamp's), masked with `mask`; `scratch` holds the payload on the way.
pub(crate) fn data(
    stamp: Stamp,
    payload_len: usize,
    mask: [u8; 4],
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    scratch.clear();
    super::frame::put_stamp(stamp, payload_len, scratch);
    wire::encode_masked(true, opcode::BINARY, scratch, mask, out);
}

/// Appends a ping (answered with a pong once the server has handled what came
/// before it).
pub(crate) fn ping(mask: [u8; 4], out: &mut Vec<u8>) {
    wire::encode_masked(true, opcode::PING, b"", mask, out);
}

/// Why the server's answer to the handshake is not a `101` the generator takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// An answer with another status.
    Status(u16),
    /// A `101` without the right headers, or not HTTP.
    Bad(&'static str),
}

/// Reads the answer to the opening handshake.
#[derive(Debug)]
pub(crate) struct Handshake {
    accept: String,
    head: Vec<u8>,
}

impl Handshake {
    /// Waits for the answer to a request sent with `key`.
    pub(crate) fn new(key: &str) -> Handshake {
        Handshake {
            accept: wire::accept_key(key.as_bytes()),
            head: Vec::new(),
        }
    }

    /// Reads `data`: `Ok(Some(n))` once the answer is complete and right, its
    /// last byte `data[n - 1]` (what follows is WebSocket frames).
    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<Option<usize>, Refused> {
        let before = self.head.len();
        // The end may straddle the previous read: look from 3 bytes back.
        let from = before.saturating_sub(3);
        self.head.extend_from_slice(data);
        let Some(end) = memchr::memmem::find(&self.head[from..], b"\r\n\r\n") else {
            if self.head.len() > MAX_ANSWER_HEAD {
                return Err(Refused::Bad("answer head too long"));
            }
            return Ok(None);
        };
        let end = from + end + 4;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut answer = httparse::Response::new(&mut headers);
        match answer.parse(&self.head[..end]) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return Err(Refused::Bad("not an HTTP/1.1 answer")),
        }
        let status = answer.code.unwrap_or(0);
        if status != 101 {
            return Err(Refused::Status(status));
        }
        let has = |name: &str, token: &[u8]| {
            answer.headers.iter().any(|h| {
                h.name.eq_ignore_ascii_case(name)
                    && h.value
                        .split(|&b| b == b',')
                        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
            })
        };
        if !has("upgrade", b"websocket") || !has("connection", b"upgrade") {
            return Err(Refused::Bad("101 without Upgrade: websocket"));
        }
        if !has("sec-websocket-accept", self.accept.as_bytes()) {
            return Err(Refused::Bad("wrong Sec-WebSocket-Accept"));
        }
        if answer
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("sec-websocket-extensions"))
        {
            return Err(Refused::Bad("an extension that was not offered"));
        }
        Ok(Some(end - before))
    }
}

/// A piece of a data message, as [`Frames`] reads it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Payload bytes of a message (`first`: its first piece; `text`: a text
    /// message).
    Data {
        bytes: &'a [u8],
        first: bool,
        text: bool,
    },
    /// The message's last byte was the last piece's.
    End,
    /// A pong.
    Pong,
}

/// Decodes the server's frames (never masked, never compressed here), in pieces
/// as the bytes arrive: nothing is buffered but a header cut by a read and a
/// control frame's payload. Pings are answered ([`Frames::pongs`]).
#[derive(Debug)]
pub(crate) struct Frames {
    head: [u8; MAX_HEADER_LEN],
    head_len: usize,
    /// The frame being read: its opcode, FIN, payload bytes left.
    in_frame: bool,
    op: u8,
    fin: bool,
    left: u64,
    /// A data message is open (its first frame was read, not its last).
    in_message: bool,
    text: bool,
    first: bool,
    control: Vec<u8>,
    max: u64,
    keys: MaskKeys,
    /// Pongs to send (each masked with a key of its own).
    pongs: Vec<u8>,
}

impl Frames {
    fn new(max_payload: usize, keys: MaskKeys) -> Frames {
        Frames {
            head: [0; MAX_HEADER_LEN],
            head_len: 0,
            in_frame: false,
            op: 0,
            fin: false,
            left: 0,
            in_message: false,
            text: false,
            first: false,
            control: Vec::new(),
            max: max_payload as u64,
            keys,
            pongs: Vec::new(),
        }
    }

    /// Pongs owed to the server's pings: the caller writes and clears them.
    pub(crate) fn pongs(&mut self) -> &mut Vec<u8> {
        &mut self.pongs
    }

    /// In the middle of a message.
    fn mid_message(&self) -> bool {
        self.in_message || self.in_frame || self.head_len > 0
    }

    fn feed(
        &mut self,
        mut data: &[u8],
        on: &mut impl FnMut(Piece<'_>) -> Result<(), Framing>,
    ) -> Result<(), Framing> {
        loop {
            if !self.in_frame {
                if data.is_empty() {
                    return Ok(());
                }
                let used = self.header(data)?;
                data = &data[used..];
                if !self.in_frame {
                    return Ok(()); // the header is not all there yet
                }
                if self.left == 0 {
                    self.end_frame(&[], on)?;
                    continue;
                }
            }
            if data.is_empty() {
                return Ok(());
            }
            let n = (self.left.min(data.len() as u64)) as usize;
            let (piece, rest) = data.split_at(n);
            data = rest;
            self.left -= n as u64;
            if self.op >= opcode::CLOSE {
                self.control.extend_from_slice(piece);
                if self.left == 0 {
                    let control = std::mem::take(&mut self.control);
                    let r = self.end_frame(&control, on);
                    self.control = control;
                    r?;
                }
            } else {
                on(Piece::Data {
                    bytes: piece,
                    first: std::mem::replace(&mut self.first, false),
                    text: self.text,
                })?;
                if self.left == 0 {
                    self.end_frame(&[], on)?;
                }
            }
        }
    }

    /// Reads a header from `data` (after what a previous read left); returns the
    /// bytes of `data` it used.
    fn header(&mut self, data: &[u8]) -> Result<usize, Framing> {
        let had = self.head_len;
        let take = (MAX_HEADER_LEN - had).min(data.len());
        let decoded = if had == 0 {
            wire::decode_header(data, self.max, false)
        } else {
            self.head[had..had + take].copy_from_slice(&data[..take]);
            wire::decode_header(&self.head[..had + take], self.max, false)
        };
        let h = match decoded {
            Ok(Some(h)) => h,
            Ok(None) => {
                if had == 0 {
                    self.head[..take].copy_from_slice(&data[..take]);
                }
                self.head_len = had + take;
                return Ok(take);
            }
            Err(e) => return Err(Framing::Ws(e.to_string())),
        };
        self.head_len = 0;
        if h.mask.is_some() {
            return Err(Framing::Ws("a masked server frame".to_owned()));
        }
        if h.rsv1 {
            return Err(Framing::Ws(
                "a compressed frame (not negotiated)".to_owned(),
            ));
        }
        match h.opcode {
            opcode::TEXT | opcode::BINARY if self.in_message => {
                return Err(Framing::Ws(
                    "a new message inside a fragmented one".to_owned(),
                ))
            }
            opcode::TEXT | opcode::BINARY => {
                self.in_message = true;
                self.text = h.opcode == opcode::TEXT;
                self.first = true;
            }
            opcode::CONTINUATION if !self.in_message => {
                return Err(Framing::Ws("a continuation outside a message".to_owned()))
            }
            _ => self.control.clear(),
        }
        self.in_frame = true;
        self.op = h.opcode;
        self.fin = h.fin;
        self.left = h.len;
        Ok(h.header_len - had)
    }

    fn end_frame(
        &mut self,
        control: &[u8],
        on: &mut impl FnMut(Piece<'_>) -> Result<(), Framing>,
    ) -> Result<(), Framing> {
        self.in_frame = false;
        match self.op {
            opcode::PING => {
                let key = self.keys.next_key();
                wire::encode_masked(true, opcode::PONG, control, key, &mut self.pongs);
                Ok(())
            }
            opcode::PONG => on(Piece::Pong),
            opcode::CLOSE => {
                let code = match wire::parse_close(control) {
                    Ok(Some((code, _))) => code,
                    _ => wire::code::NO_STATUS,
                };
                Err(Framing::WsClosed(code))
            }
            _ => {
                if self.first {
                    // An empty first frame: the message starts here.
                    self.first = false;
                    on(Piece::Data {
                        bytes: &[],
                        first: true,
                        text: self.text,
                    })?;
                }
                if self.fin {
                    self.in_message = false;
                    on(Piece::End)?;
                }
                Ok(())
            }
        }
    }
}

/// Echo over WebSocket: every message must be the connection's payload, byte
/// for byte, of the type sent.
#[derive(Debug)]
pub(crate) struct EchoReader {
    frames: Frames,
    payload: Arc<[u8]>,
    text: bool,
    pos: usize,
}

impl EchoReader {
    pub(crate) fn new(payload: Arc<[u8]>, text: bool, keys: MaskKeys) -> EchoReader {
        EchoReader {
            frames: Frames::new(payload.len().max(1 << 20), keys),
            payload,
            text,
            pos: 0,
        }
    }

    pub(crate) fn frames(&mut self) -> &mut Frames {
        &mut self.frames
    }

    pub(crate) fn feed(&mut self, data: &[u8], out: &mut Answers) -> Result<(), Framing> {
        let (payload, pos, text) = (&self.payload, &mut self.pos, self.text);
        self.frames.feed(data, &mut |p| match p {
            Piece::Data { bytes, text: t, .. } => {
                let want = payload.get(*pos..*pos + bytes.len());
                if t != text || want != Some(bytes) {
                    return Err(Framing::Echo);
                }
                *pos += bytes.len();
                Ok(())
            }
            Piece::End if *pos == payload.len() => {
                *pos = 0;
                out.complete += 1;
                Ok(())
            }
            Piece::End => Err(Framing::Echo),
            Piece::Pong => Ok(()),
        })
    }

    /// The connection ended: fine between messages, a [`Cut`] in one.
    pub(crate) fn eof(&mut self) -> Result<(), Cut> {
        if self.frames.mid_message() {
            Err(Cut)
        } else {
            Ok(())
        }
    }
}

/// A room member over WebSocket: the publisher's stamp at the front of every
/// message, and the pongs of a publisher's pings.
#[derive(Debug)]
pub(crate) struct RoomReader {
    frames: Frames,
    stamp: [u8; STAMP_LEN],
    got: usize,
}

impl RoomReader {
    pub(crate) fn new(max_payload: usize, keys: MaskKeys) -> RoomReader {
        RoomReader {
            frames: Frames::new(max_payload.max(STAMP_LEN), keys),
            stamp: [0; STAMP_LEN],
            got: 0,
        }
    }

    pub(crate) fn frames(&mut self) -> &mut Frames {
        &mut self.frames
    }

    /// Reads `data`, calling `on` for every message and pong.
    pub(crate) fn feed(&mut self, data: &[u8], mut on: impl FnMut(Event)) -> Result<(), Framing> {
        let (stamp, got) = (&mut self.stamp, &mut self.got);
        self.frames.feed(data, &mut |p| {
            match p {
                Piece::Data { bytes, first, .. } => {
                    if first {
                        *got = 0;
                    }
                    let n = (STAMP_LEN - *got).min(bytes.len());
                    stamp[*got..*got + n].copy_from_slice(&bytes[..n]);
                    *got += n;
                }
                Piece::End if *got == STAMP_LEN => {
                    on(Event::Data(super::frame::parse_stamp(stamp)))
                }
                Piece::End => return Err(Framing::Ws("a message without a stamp".to_owned())),
                Piece::Pong => on(Event::Pong),
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 section 5.3: every frame a fresh key; each message still unmasks
    /// to the payload.
    #[test]
    fn every_frame_has_a_mask_key_of_its_own() {
        let mut keys = MaskKeys::new(7);
        let mut out = Vec::new();
        messages(b"the same payload", false, 64, &mut keys, &mut out);
        let mut seen = std::collections::HashSet::new();
        let mut rest = out.as_slice();
        while !rest.is_empty() {
            let h = wire::decode_header(rest, 1 << 20, true).unwrap().unwrap();
            let body = &rest[h.header_len..h.header_len + h.len as usize];
            let key = h.mask.unwrap();
            let mut payload = Vec::new();
            wire::unmask_into(&mut payload, body, key, 0);
            assert_eq!(payload, b"the same payload");
            seen.insert(key);
            rest = &rest[h.header_len + body.len()..];
        }
        assert_eq!(seen.len(), 64, "a key was used twice");
        // Two generators (two threads, two runs) do not repeat each other.
        assert_ne!(MaskKeys::new(7).next_key(), MaskKeys::new(7).next_key());
    }

    fn server(op: u8, payload: &[u8], fin: bool, out: &mut Vec<u8>) {
        wire::encode(fin, false, op, payload, out);
    }

    #[test]
    fn handshake_checks_status_and_accept() {
        let (key, _) = random_key(1);
        let accept = wire::accept_key(key.as_bytes());
        let ok = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n\x02\x00"
        );
        for cut in 0..ok.len() - 2 {
            let mut h = Handshake::new(&key);
            assert_eq!(h.feed(&ok.as_bytes()[..cut]), Ok(None), "cut {cut}");
            assert_eq!(h.feed(&ok.as_bytes()[cut..]), Ok(Some(ok.len() - 2 - cut)));
        }
        let mut h = Handshake::new(&key);
        let refused = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(h.feed(refused), Err(Refused::Status(404)));
        let wrong = ok.replace(&accept, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert!(matches!(
            Handshake::new(&key).feed(wrong.as_bytes()),
            Err(Refused::Bad(_))
        ));
        assert_ne!(random_key(1).0, random_key(1).0);
    }

    #[test]
    fn echoes_are_checked_at_any_split_and_pings_answered() {
        let p: Arc<[u8]> = Arc::from(&b"hello, echo"[..]);
        let mut wire_in = Vec::new();
        server(opcode::BINARY, &p, true, &mut wire_in);
        server(opcode::PING, b"hb", true, &mut wire_in);
        server(opcode::BINARY, &p[..4], false, &mut wire_in);
        server(opcode::PONG, b"", true, &mut wire_in);
        server(opcode::CONTINUATION, &p[4..], true, &mut wire_in);
        for cut in 0..wire_in.len() {
            let mut r = EchoReader::new(p.clone(), false, MaskKeys::new(1));
            let mut a = Answers::default();
            r.feed(&wire_in[..cut], &mut a).unwrap();
            r.feed(&wire_in[cut..], &mut a).unwrap();
            assert_eq!(a.complete, 2, "cut {cut}");
            assert!(!r.frames().pongs().is_empty());
            assert!(r.eof().is_ok());
        }
        // A wrong byte, a wrong type, a short message, a close: errors.
        let mut bad = Vec::new();
        server(opcode::BINARY, b"hello, ecHo", true, &mut bad);
        let mut r = EchoReader::new(p.clone(), false, MaskKeys::new(0));
        assert_eq!(r.feed(&bad, &mut Answers::default()), Err(Framing::Echo));
        for (op, body) in [(opcode::TEXT, &p[..]), (opcode::BINARY, &p[..3])] {
            let mut bad = Vec::new();
            server(op, body, true, &mut bad);
            let mut r = EchoReader::new(p.clone(), false, MaskKeys::new(0));
            assert_eq!(r.feed(&bad, &mut Answers::default()), Err(Framing::Echo));
        }
        let mut close = Vec::new();
        wire::encode_close(1001, "bye", &mut close);
        let mut f = Vec::new();
        server(opcode::CLOSE, &close, true, &mut f);
        let mut r = EchoReader::new(p.clone(), false, MaskKeys::new(0));
        assert_eq!(
            r.feed(&f, &mut Answers::default()),
            Err(Framing::WsClosed(1001))
        );
    }

    #[test]
    fn room_messages_give_their_stamps() {
        let stamp = Stamp {
            intended_ns: 1,
            sent_ns: 2,
            publisher: 3,
            seq: 4,
        };
        let mut payload = Vec::new();
        super::super::frame::put_stamp(stamp, 100, &mut payload);
        let mut wire_in = Vec::new();
        server(opcode::BINARY, &payload, true, &mut wire_in);
        server(opcode::PONG, b"", true, &mut wire_in);
        for cut in 0..wire_in.len() {
            let mut r = RoomReader::new(1024, MaskKeys::new(0));
            let mut got = Vec::new();
            r.feed(&wire_in[..cut], |e| got.push(e)).unwrap();
            r.feed(&wire_in[cut..], |e| got.push(e)).unwrap();
            assert_eq!(got, [Event::Data(stamp), Event::Pong], "cut {cut}");
        }
        let mut short = Vec::new();
        server(opcode::BINARY, b"short", true, &mut short);
        assert!(RoomReader::new(1024, MaskKeys::new(0))
            .feed(&short, |_| {})
            .is_err());
    }
}
