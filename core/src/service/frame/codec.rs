//! The frame wire format: a 16-byte header (magic, version, type, length, each a
//! big-endian u32) and the payload. One encoder and one decoder, used by the server
//! and by clients (the Python `FrameClient`, the load generator).
//!
//! Decoding never trusts a claimed length: the header is checked as soon as its 16
//! bytes are there (a frame claiming 4 GiB is refused at once), and a payload is
//! only looked at when all of it has arrived; nothing is allocated for it before.

use std::fmt;

/// First field of every frame.
pub const MAGIC: u32 = 0xDEAD_BEEF;
/// The only protocol version.
pub const VERSION: u32 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 16;
/// Longest room name in bytes.
pub const MAX_ROOM_BYTES: usize = 64;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// A control message: first payload byte is the opcode ([`Control`]).
    Control = 1,
    /// Application data: echoed, or broadcast to the sender's room.
    Data = 2,
}

/// Control opcodes (the first byte of a control payload).
pub mod op {
    /// `JOIN <room>`: enter a room (leaving any other).
    pub const JOIN: u8 = 0x01;
    /// `LEAVE`: leave the room.
    pub const LEAVE: u8 = 0x02;
    /// `PING <data>`: answered `PONG <data>`.
    pub const PING: u8 = 0x03;
    /// `PONG <data>`.
    pub const PONG: u8 = 0x04;
    /// `ERROR <text>`: sent before the server closes for a protocol error.
    pub const ERROR: u8 = 0x05;
    /// `JOINED <room>`: the membership is in force.
    pub const JOINED: u8 = 0x06;
    /// `LEFT`: the connection is in no room.
    pub const LEFT: u8 = 0x07;
}

/// A control message, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control<'a> {
    /// Enter this room.
    Join(&'a str),
    /// Leave the room.
    Leave,
    /// Answer with [`Control::Pong`] carrying the same bytes.
    Ping(&'a [u8]),
    /// The answer to a ping.
    Pong(&'a [u8]),
    /// The peer's error text.
    Error(&'a str),
    /// The membership in this room is in force.
    Joined(&'a str),
    /// Left the room.
    Left,
}

/// Why input is not a valid frame; the text goes into the `ERROR` frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The first four bytes are not `0xDEADBEEF`.
    #[error("bad magic {0:#010x}, expected 0xdeadbeef")]
    BadMagic(u32),
    /// A version other than 1.
    #[error("unknown version {0}, expected 1")]
    BadVersion(u32),
    /// A type other than 1 (control) or 2 (data).
    #[error("unknown frame type {0}, expected 1 (control) or 2 (data)")]
    BadType(u32),
    /// A length over the limit.
    #[error("frame of {len} bytes is over the limit of {max}")]
    TooLong {
        /// The claimed payload length.
        len: u64,
        /// `max_frame_bytes`.
        max: u64,
    },
    /// A control frame with no opcode.
    #[error("empty control frame")]
    EmptyControl,
    /// An opcode that is not one of 0x01..=0x07.
    #[error("unknown control opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// A room name that is empty, longer than 64 bytes, or not UTF-8.
    #[error("bad room name: {0}")]
    BadRoom(&'static str),
    /// `LEAVE` or `LEFT` with an argument, or text that is not UTF-8.
    #[error("malformed {0} control frame")]
    BadControl(&'static str),
}

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Control or data.
    pub kind: FrameType,
    /// Payload bytes that follow.
    pub len: usize,
}

impl Header {
    /// The whole frame's length, header included.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.len
    }
}

fn be(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Reads the header at the start of `input`: `Ok(None)` until 16 bytes are there;
/// an error as soon as they are and something is wrong (before any payload).
pub fn decode_header(input: &[u8], max_len: usize) -> Result<Option<Header>, FrameError> {
    if input.len() < HEADER_LEN {
        // A wrong magic is known from its first byte: refuse without waiting.
        let have = input.len().min(4);
        if input[..have] != MAGIC.to_be_bytes()[..have] {
            let mut m = [0u8; 4];
            m[..have].copy_from_slice(&input[..have]);
            return Err(FrameError::BadMagic(u32::from_be_bytes(m)));
        }
        return Ok(None);
    }
    let magic = be(input, 0);
    if magic != MAGIC {
        return Err(FrameError::BadMagic(magic));
    }
    let version = be(input, 4);
    if version != VERSION {
        return Err(FrameError::BadVersion(version));
    }
    let kind = match be(input, 8) {
        1 => FrameType::Control,
        2 => FrameType::Data,
        other => return Err(FrameError::BadType(other)),
    };
    let len = be(input, 12) as usize;
    if len > max_len {
        return Err(FrameError::TooLong {
            len: len as u64,
            max: max_len as u64,
        });
    }
    Ok(Some(Header { kind, len }))
}

/// Reads one whole frame at the start of `input`: its header and payload, or
/// `Ok(None)` until all of it has arrived.
pub fn decode(input: &[u8], max_len: usize) -> Result<Option<(Header, &[u8])>, FrameError> {
    let Some(header) = decode_header(input, max_len)? else {
        return Ok(None);
    };
    if input.len() < header.frame_len() {
        return Ok(None);
    }
    Ok(Some((header, &input[HEADER_LEN..header.frame_len()])))
}

/// Parses a control payload.
pub fn parse_control(payload: &[u8]) -> Result<Control<'_>, FrameError> {
    let (&opcode, arg) = payload.split_first().ok_or(FrameError::EmptyControl)?;
    let text =
        |what: &'static str| std::str::from_utf8(arg).map_err(|_| FrameError::BadControl(what));
    let room = || {
        if arg.is_empty() {
            return Err(FrameError::BadRoom("empty"));
        }
        if arg.len() > MAX_ROOM_BYTES {
            return Err(FrameError::BadRoom("longer than 64 bytes"));
        }
        std::str::from_utf8(arg).map_err(|_| FrameError::BadRoom("not UTF-8"))
    };
    let bare = |c: Control<'static>, what: &'static str| {
        if arg.is_empty() {
            Ok(c)
        } else {
            Err(FrameError::BadControl(what))
        }
    };
    match opcode {
        op::JOIN => room().map(Control::Join),
        op::LEAVE => bare(Control::Leave, "LEAVE"),
        op::PING => Ok(Control::Ping(arg)),
        op::PONG => Ok(Control::Pong(arg)),
        op::ERROR => text("ERROR").map(Control::Error),
        op::JOINED => room().map(Control::Joined),
        op::LEFT => bare(Control::Left, "LEFT"),
        other => Err(FrameError::UnknownOpcode(other)),
    }
}

/// Appends the 16-byte header of a frame.
#[inline]
pub fn encode_header(kind: FrameType, len: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&MAGIC.to_be_bytes());
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&(kind as u32).to_be_bytes());
    out.extend_from_slice(&(len as u32).to_be_bytes());
}

/// Appends a whole frame.
pub fn encode(kind: FrameType, payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(HEADER_LEN + payload.len());
    encode_header(kind, payload.len(), out);
    out.extend_from_slice(payload);
}

/// Appends a control frame: `opcode` then `arg`.
pub fn encode_control(opcode: u8, arg: &[u8], out: &mut Vec<u8>) {
    out.reserve(HEADER_LEN + 1 + arg.len());
    encode_header(FrameType::Control, 1 + arg.len(), out);
    out.push(opcode);
    out.extend_from_slice(arg);
}

/// A whole data frame in one allocation (what a broadcast shares).
pub fn data_frame(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + payload.len());
    encode(FrameType::Data, payload, &mut v);
    v
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FrameType::Control => "control",
            FrameType::Data => "data",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_partial_input() {
        let mut wire = Vec::new();
        encode(FrameType::Data, b"hello", &mut wire);
        encode_control(op::JOIN, b"lobby", &mut wire);
        for cut in 0..HEADER_LEN + 5 {
            assert_eq!(decode(&wire[..cut], 1024), Ok(None), "cut at {cut}");
        }
        let (h, p) = decode(&wire, 1024).unwrap().unwrap();
        assert_eq!((h.kind, p), (FrameType::Data, &b"hello"[..]));
        let rest = &wire[h.frame_len()..];
        let (h, p) = decode(rest, 1024).unwrap().unwrap();
        assert_eq!(h.kind, FrameType::Control);
        assert_eq!(parse_control(p), Ok(Control::Join("lobby")));
    }

    #[test]
    fn bad_headers_are_refused_as_soon_as_they_show() {
        let mut h = Vec::new();
        encode_header(FrameType::Data, 10, &mut h);
        assert_eq!(decode_header(b"\xde\xad\xbe", 1024), Ok(None));
        assert!(matches!(
            decode_header(b"GET ", 1024),
            Err(FrameError::BadMagic(_))
        ));
        assert!(matches!(
            decode_header(b"\x16", 1024),
            Err(FrameError::BadMagic(_))
        ));
        let mut v = h.clone();
        v[7] = 2;
        assert_eq!(decode_header(&v, 1024), Err(FrameError::BadVersion(2)));
        let mut t = h.clone();
        t[11] = 9;
        assert_eq!(decode_header(&t, 1024), Err(FrameError::BadType(9)));
        let mut huge = h.clone();
        huge[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            decode_header(&huge, 1 << 20),
            Err(FrameError::TooLong {
                len: 4294967295,
                ..
            })
        ));
        assert!(FrameError::BadMagic(0x47455420)
            .to_string()
            .contains("0x47455420"));
    }

    #[test]
    fn control_payloads() {
        assert_eq!(parse_control(b""), Err(FrameError::EmptyControl));
        assert_eq!(parse_control(b"\x09"), Err(FrameError::UnknownOpcode(9)));
        assert_eq!(parse_control(b"\x01"), Err(FrameError::BadRoom("empty")));
        assert!(matches!(
            parse_control(&[&[1u8][..], &[b'r'; 65]].concat()),
            Err(FrameError::BadRoom(_))
        ));
        assert_eq!(
            parse_control(b"\x01\xff"),
            Err(FrameError::BadRoom("not UTF-8"))
        );
        assert_eq!(
            parse_control(b"\x02x"),
            Err(FrameError::BadControl("LEAVE"))
        );
        assert_eq!(parse_control(b"\x02"), Ok(Control::Leave));
        assert_eq!(parse_control(b"\x03abc"), Ok(Control::Ping(b"abc")));
        assert_eq!(parse_control(b"\x05oops"), Ok(Control::Error("oops")));
        assert_eq!(
            parse_control("\x01caf\u{e9}".as_bytes()),
            Ok(Control::Join("café"))
        );
    }
}
