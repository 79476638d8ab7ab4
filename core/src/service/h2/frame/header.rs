//! The frame header (RFC 9113 section 4.1) and the wire's constants: the
//! preface, the types, the flags, the size and window limits.

/// The client connection preface (RFC 9113 section 3.4): these 24 bytes, then a
/// SETTINGS frame.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// The length of a frame header.
pub const HEADER_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE's initial value, and the smallest it may be set to.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest SETTINGS_MAX_FRAME_SIZE (2^24-1: the length field's range).
pub const MAX_FRAME_SIZE_LIMIT: u32 = (1 << 24) - 1;
/// The initial flow-control window of the connection and of every stream.
pub const DEFAULT_WINDOW: u32 = 65_535;
/// The largest flow-control window (2^31-1), and the largest window increment.
pub const MAX_WINDOW: u32 = (1 << 31) - 1;
/// The 31 bits of a stream identifier (the top bit is reserved: R, or E in a
/// stream dependency).
pub(super) const STREAM_ID_MASK: u32 = MAX_WINDOW;

/// Frame types (RFC 9113 section 6); any other value is an extension's, ignored.
pub mod kind {
    /// Request or response content on a stream.
    pub const DATA: u8 = 0x0;
    /// Opens a stream, with the start of a field block.
    pub const HEADERS: u8 = 0x1;
    /// A stream's priority (deprecated by RFC 9113; parsed and ignored).
    pub const PRIORITY: u8 = 0x2;
    /// Ends a stream at once, with an error code.
    pub const RST_STREAM: u8 = 0x3;
    /// Connection parameters, or the acknowledgement of the peer's.
    pub const SETTINGS: u8 = 0x4;
    /// A server announces a stream it will push.
    pub const PUSH_PROMISE: u8 = 0x5;
    /// A round trip: 8 bytes, echoed with ACK.
    pub const PING: u8 = 0x6;
    /// The connection ends: the last stream processed and why.
    pub const GOAWAY: u8 = 0x7;
    /// Flow control: more window for a stream or the connection.
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// The rest of a field block begun by HEADERS or PUSH_PROMISE.
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags (each defined for some types only; undefined ones are ignored).
pub mod flag {
    /// DATA, HEADERS: the sender's last frame on the stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the field block ends in this frame.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a pad length byte first, padding last.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: a stream dependency and weight precede the field block.
    pub const PRIORITY: u8 = 0x20;
}

/// A frame header (RFC 9113 section 4.1), as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The payload's length (24 bits).
    pub len: u32,
    /// The frame type ([`kind`]).
    pub kind: u8,
    /// The flags, all of them (undefined ones included).
    pub flags: u8,
    /// The stream identifier, the reserved bit R cleared.
    pub stream_id: u32,
}

impl FrameHeader {
    /// The header at the start of `buf`, or `None` if fewer than 9 bytes are there.
    #[inline]
    pub fn decode(buf: &[u8]) -> Option<FrameHeader> {
        let h: &[u8; HEADER_LEN] = buf.first_chunk()?;
        Some(FrameHeader {
            len: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: h[3],
            flags: h[4],
            stream_id: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & STREAM_ID_MASK,
        })
    }

    /// Appends the header to `out` (the stream identifier's top bit left clear).
    ///
    /// # Panics
    /// If `len` is over [`MAX_FRAME_SIZE_LIMIT`] (no frame can be that long).
    #[inline]
    pub fn encode(&self, out: &mut Vec<u8>) {
        assert!(
            self.len <= MAX_FRAME_SIZE_LIMIT,
            "frame of {} bytes",
            self.len
        );
        let [_, l0, l1, l2] = self.len.to_be_bytes();
        let [s0, s1, s2, s3] = (self.stream_id & STREAM_ID_MASK).to_be_bytes();
        out.extend_from_slice(&[l0, l1, l2, self.kind, self.flags, s0, s1, s2, s3]);
    }
}
