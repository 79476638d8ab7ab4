//! The WebSocket frame wire format (RFC 6455 section 5.2), sans-io: the header
//! decoder with every check a server makes on a client frame, payload unmasking
//! (in pieces, as the bytes arrive), and the encoders for server frames (never
//! masked) and client frames (masked; for tests and the load generator).
//!
//! Decoding never trusts a claimed length: the header is checked byte by byte as
//! it arrives, and a payload longer than the limit is refused as soon as its
//! length bytes are there, before the mask key, so nothing is buffered for it.

/// Frame opcodes (the low nibble of the first byte).
pub mod opcode {
    /// The next fragment of a message.
    pub const CONTINUATION: u8 = 0x0;
    /// The first frame of a text message (UTF-8).
    pub const TEXT: u8 = 0x1;
    /// The first frame of a binary message.
    pub const BINARY: u8 = 0x2;
    /// Close: an optional code and reason.
    pub const CLOSE: u8 = 0x8;
    /// Ping: answered with a pong carrying the same payload.
    pub const PING: u8 = 0x9;
    /// Pong: the answer to a ping, or an unsolicited heartbeat.
    pub const PONG: u8 = 0xA;
}

/// FIN: the last frame of a message.
const FIN: u8 = 0x80;
/// RSV1: per-message compressed (RFC 7692), on a message's first frame only.
const RSV1: u8 = 0x40;
/// RSV2 and RSV3: no extension this server speaks defines them.
const RSV23: u8 = 0x30;
/// The opcode nibble.
const OPCODE: u8 = 0x0F;
/// MASK: the payload is masked (every client frame must be).
const MASK: u8 = 0x80;
/// The 7-bit length field.
const LEN7: u8 = 0x7F;
/// The 7-bit length value that says a 16-bit length follows.
const LEN16_FOLLOWS: u8 = 126;
/// The 7-bit length value that says a 64-bit length follows.
const LEN64_FOLLOWS: u8 = 127;
/// The longest payload of a control frame.
pub const MAX_CONTROL_PAYLOAD: u64 = 125;
/// The longest frame header: 2 bytes, a 64-bit length and a mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The last frame of its message.
    pub fin: bool,
    /// RSV1 was set: allowed only with permessage-deflate, on a message's first
    /// frame (the caller decides).
    pub rsv1: bool,
    /// The opcode ([`opcode`]); never a reserved one.
    pub opcode: u8,
    /// The masking key, when the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub len: u64,
    /// The header's length in bytes (the payload starts there).
    pub header_len: usize,
}

impl Header {
    /// A control frame (close, ping, pong): never fragmented, at most 125 bytes,
    /// may come between the fragments of a message.
    #[inline]
    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }
}

/// Why a frame header was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// RSV2 or RSV3 set: no negotiated extension defines them.
    #[error("reserved bits RSV2/RSV3 set")]
    ReservedBits,
    /// Opcodes 3-7 and 0xB-0xF are reserved.
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A control frame with FIN clear.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame's payload is over 125 bytes.
    #[error("control frame payload of {0} bytes (at most 125)")]
    ControlTooLong(u64),
    /// A client frame without a mask.
    #[error("client frame not masked")]
    NotMasked,
    /// The payload is longer than the limit.
    #[error("frame payload of {len} bytes over the limit of {max}")]
    TooLong {
        /// The claimed payload length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A 64-bit payload length with its most significant bit set.
    #[error("64-bit payload length with the top bit set")]
    BadLength,
}

impl FrameError {
    /// The close code to fail the connection with: 1009 (message too big) for
    /// [`FrameError::TooLong`], 1002 (protocol error) for the rest.
    pub fn close_code(&self) -> u16 {
        match self {
            FrameError::TooLong { .. } => super::close::code::TOO_BIG,
            _ => super::close::code::PROTOCOL_ERROR,
        }
    }
}

/// Decodes a frame header from the start of `input`.
///
/// `Ok(None)`: the header is not complete yet (read more and call again with the
/// same bytes and more). Each check is made as soon as its byte is there, in this
/// order: RSV2/RSV3 set -> [`FrameError::ReservedBits`] (RSV1 is returned in
/// [`Header::rsv1`]: the caller decides); opcodes 3-7 and 0xB-0xF ->
/// [`FrameError::ReservedOpcode`]; a control frame with FIN clear ->
/// [`FrameError::FragmentedControl`], or longer than 125 ->
/// [`FrameError::ControlTooLong`]; mask bit clear when `require_mask` ->
/// [`FrameError::NotMasked`]; a 64-bit length with the top bit set ->
/// [`FrameError::BadLength`]; a length over `max_payload` ->
/// [`FrameError::TooLong`] (before the mask key is there). Lengths not encoded
/// in the fewest bytes are accepted.
pub fn decode_header(
    input: &[u8],
    max_payload: u64,
    require_mask: bool,
) -> Result<Option<Header>, FrameError> {
    let Some(&b0) = input.first() else {
        return Ok(None);
    };
    if b0 & RSV23 != 0 {
        return Err(FrameError::ReservedBits);
    }
    let op = b0 & OPCODE;
    let control = match op {
        opcode::CONTINUATION | opcode::TEXT | opcode::BINARY => false,
        opcode::CLOSE | opcode::PING | opcode::PONG => true,
        _ => return Err(FrameError::ReservedOpcode(op)),
    };
    let fin = b0 & FIN != 0;
    if control && !fin {
        return Err(FrameError::FragmentedControl);
    }
    let Some(&b1) = input.get(1) else {
        return Ok(None);
    };
    let len7 = b1 & LEN7;
    if control && u64::from(len7) > MAX_CONTROL_PAYLOAD {
        // 126 and 127 announce a longer length; the exact value does not matter.
        return Err(FrameError::ControlTooLong(u64::from(len7)));
    }
    let masked = b1 & MASK != 0;
    if require_mask && !masked {
        return Err(FrameError::NotMasked);
    }
    let (len, len_end) = match len7 {
        LEN16_FOLLOWS => match input.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        LEN64_FOLLOWS => {
            match input.get(2) {
                Some(&top) if top & 0x80 != 0 => return Err(FrameError::BadLength),
                Some(_) => {}
                None => return Ok(None),
            }
            match input.get(2..10) {
                Some(b) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(b);
                    (u64::from_be_bytes(be), 10)
                }
                None => return Ok(None),
            }
        }
        n => (u64::from(n), 2),
    };
    if len > max_payload {
        return Err(FrameError::TooLong {
            len,
            max: max_payload,
        });
    }
    let (mask, header_len) = if masked {
        match input.get(len_end..len_end + 4) {
            Some(k) => (Some([k[0], k[1], k[2], k[3]]), len_end + 4),
            None => return Ok(None),
        }
    } else {
        (None, len_end)
    };
    Ok(Some(Header {
        fin,
        rsv1: b0 & RSV1 != 0,
        opcode: op,
        mask,
        len,
        header_len,
    }))
}

/// Appends `src` to `dst` unmasked with `key`, `src` starting at byte `offset`
/// of the payload: a payload may be unmasked in pieces as it arrives. Masking is
/// the same operation, so this also masks.
///
/// Linear and word-at-a-time: the key is rotated once to the piece's phase and
/// XORed eight bytes at a time; only the last (at most 7) bytes go one by one.
pub fn unmask_into(dst: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: u64) {
    let start = dst.len();
    dst.extend_from_slice(src);
    // The key as it lines up with src[0]: rotated by the payload offset.
    let phase = (offset % 4) as usize;
    let k = [
        key[phase],
        key[(phase + 1) % 4],
        key[(phase + 2) % 4],
        key[(phase + 3) % 4],
    ];
    let word = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    let mut chunks = dst[start..].chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(b) ^ word).to_ne_bytes());
    }
    // Every full chunk is 8 bytes, a multiple of 4: the tail starts at phase 0.
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= k[i & 3];
    }
}

/// Appends a frame header for a payload of `len` bytes to `out`: the payload is
/// sent separately (a shared segment, the same bytes for every member of a room).
/// Not masked (a server frame); the length in the fewest bytes.
pub fn encode_header(fin: bool, rsv1: bool, opcode: u8, len: usize, out: &mut Vec<u8>) {
    put_header(fin, rsv1, opcode, len, false, out);
}

/// Appends a server frame (never masked) to `out`: the header, then `payload`.
pub fn encode(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(MAX_HEADER_LEN - 4 + payload.len());
    put_header(fin, rsv1, opcode, payload.len(), false, out);
    out.extend_from_slice(payload);
}

/// Appends a client frame to `out`: the header with the mask `key`, then
/// `payload` masked with it.
pub fn encode_masked(fin: bool, opcode: u8, payload: &[u8], key: [u8; 4], out: &mut Vec<u8>) {
    out.reserve(MAX_HEADER_LEN + payload.len());
    put_header(fin, false, opcode, payload.len(), true, out);
    out.extend_from_slice(&key);
    unmask_into(out, payload, key, 0);
}

/// The header up to the mask key (not included), the length in the fewest bytes.
fn put_header(fin: bool, rsv1: bool, opcode: u8, len: usize, masked: bool, out: &mut Vec<u8>) {
    let b0 = if fin { FIN } else { 0 } | if rsv1 { RSV1 } else { 0 } | (opcode & OPCODE);
    let mask = if masked { MASK } else { 0 };
    if len < usize::from(LEN16_FOLLOWS) {
        // In range: len < 126.
        out.extend_from_slice(&[b0, mask | len as u8]);
    } else if let Ok(len) = u16::try_from(len) {
        out.extend_from_slice(&[b0, mask | LEN16_FOLLOWS]);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.extend_from_slice(&[b0, mask | LEN64_FOLLOWS]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

    /// The byte-wise definition of masking (RFC 6455 section 5.3).
    fn unmask_bytewise(src: &[u8], key: [u8; 4], offset: u64) -> Vec<u8> {
        src.iter()
            .enumerate()
            .map(|(i, b)| b ^ key[((offset + i as u64) % 4) as usize])
            .collect()
    }

    /// Decodes `bytes` fed one more byte at a time: `None` until the last
    /// header byte, then the header.
    fn decode_growing(bytes: &[u8], max: u64, mask: bool) -> Result<Header, FrameError> {
        for n in 0..bytes.len() {
            match decode_header(&bytes[..n], max, mask)? {
                None => continue,
                Some(h) => return Ok(h),
            }
        }
        decode_header(bytes, max, mask).map(|h| h.expect("a whole header"))
    }

    #[test]
    fn round_trips_at_the_length_boundaries() {
        for len in [0usize, 1, 125, 126, 127, 65535, 65536, 100_000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut out = Vec::new();
            encode(true, false, opcode::BINARY, &payload, &mut out);
            let want_header = match len {
                0..=125 => 2,
                126..=65535 => 4,
                _ => 10,
            };
            let h = decode_growing(&out, u64::MAX >> 1, false).unwrap();
            assert_eq!(
                h,
                Header {
                    fin: true,
                    rsv1: false,
                    opcode: opcode::BINARY,
                    mask: None,
                    len: len as u64,
                    header_len: want_header,
                }
            );
            assert_eq!(&out[h.header_len..], &payload[..]);
            let mut header = Vec::new();
            encode_header(true, false, opcode::BINARY, len, &mut header);
            assert_eq!(&header[..], &out[..want_header]);

            let mut masked = Vec::new();
            encode_masked(false, opcode::TEXT, &payload, KEY, &mut masked);
            let h = decode_growing(&masked, u64::MAX >> 1, true).unwrap();
            assert_eq!((h.fin, h.opcode, h.mask), (false, opcode::TEXT, Some(KEY)));
            assert_eq!((h.len, h.header_len), (len as u64, want_header + 4));
            let mut plain = Vec::new();
            unmask_into(&mut plain, &masked[h.header_len..], KEY, 0);
            assert_eq!(plain, payload);
        }
    }

    #[test]
    fn a_huge_length_round_trips_in_the_header() {
        let mut out = Vec::new();
        encode_header(false, true, opcode::CONTINUATION, 1 << 40, &mut out);
        assert_eq!(out, [0x40, 127, 0, 0, 1, 0, 0, 0, 0, 0]);
        let h = decode_header(&out, u64::MAX, false).unwrap().unwrap();
        assert_eq!((h.fin, h.rsv1, h.opcode, h.len), (false, true, 0, 1 << 40));
        assert!(!h.is_control());
    }

    #[test]
    fn rsv1_is_returned_not_refused() {
        let h = decode_header(&[0xC1, 0x80, 1, 2, 3, 4], 10, true)
            .unwrap()
            .unwrap();
        assert!(h.rsv1 && h.fin);
        assert_eq!(h.opcode, opcode::TEXT);
    }

    #[test]
    fn non_minimal_lengths_are_accepted() {
        let h = decode_header(&[0x82, 126, 0, 5], 10, false)
            .unwrap()
            .unwrap();
        assert_eq!((h.len, h.header_len), (5, 4));
        let h = decode_header(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 5], 10, false)
            .unwrap()
            .unwrap();
        assert_eq!((h.len, h.header_len), (5, 10));
    }

    #[test]
    fn every_error_fails_as_soon_as_its_byte_is_there() {
        use FrameError::*;
        // (bytes, the error, how many bytes it needs)
        let cases: &[(&[u8], FrameError, usize)] = &[
            (&[0xA1, 0x80], ReservedBits, 1),
            (&[0x91, 0x80], ReservedBits, 1),
            (&[0xF1, 0x80], ReservedBits, 1),
            (&[0x83, 0x80], ReservedOpcode(3), 1),
            (&[0x87, 0x80], ReservedOpcode(7), 1),
            (&[0x8B, 0x80], ReservedOpcode(0xB), 1),
            (&[0x8F, 0x80], ReservedOpcode(0xF), 1),
            (&[0x09, 0x80], FragmentedControl, 1),
            (&[0x08, 0x80], FragmentedControl, 1),
            (&[0x8A, 0xFE, 0, 126], ControlTooLong(126), 2),
            (&[0x89, 0xFF], ControlTooLong(127), 2),
            (&[0x81, 0x05], NotMasked, 2),
            (&[0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0], BadLength, 3),
            (&[0x82, 0xFE, 0x01, 0x00], TooLong { len: 256, max: 255 }, 4),
            (
                &[0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0],
                TooLong {
                    len: 1 << 32,
                    max: 255,
                },
                10,
            ),
            (&[0x82, 0x81], TooLong { len: 1, max: 0 }, 2),
        ];
        for (bytes, err, need) in cases {
            for n in 0..*need {
                assert_eq!(
                    decode_header(&bytes[..n], 255, true),
                    Ok(None),
                    "{bytes:x?}"
                );
            }
            let max = if matches!(err, TooLong { max: 0, .. }) {
                0
            } else {
                255
            };
            assert_eq!(decode_header(&bytes[..*need], max, true).as_ref(), Err(err));
            let code = if matches!(err, TooLong { .. }) {
                1009
            } else {
                1002
            };
            assert_eq!(err.close_code(), code, "{err}");
        }
        // Without require_mask an unmasked frame is fine.
        assert!(decode_header(&[0x81, 0x05], 255, false).unwrap().is_some());
        // The length is checked before the mask key is there.
        assert!(decode_header(&[0x82, 0xFE, 0x01, 0x00, 1], 255, true).is_err());
        // The largest control payload passes.
        let h = decode_header(&[0x89, 0xFD, 1, 2, 3, 4], 255, true)
            .unwrap()
            .unwrap();
        assert!(h.is_control() && h.len == 125 && h.header_len == 6);
    }

    #[test]
    fn encodes_the_server_frames_rfc_6455_shows() {
        // Section 5.7: a single-frame unmasked text message "Hello".
        let mut out = Vec::new();
        encode(true, false, opcode::TEXT, b"Hello", &mut out);
        assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        // A single-frame masked text message "Hello".
        out.clear();
        encode_masked(true, opcode::TEXT, b"Hello", KEY, &mut out);
        assert_eq!(
            out,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        // A fragmented unmasked text message and an unmasked ping.
        out.clear();
        encode(false, false, opcode::TEXT, b"Hel", &mut out);
        encode(true, false, opcode::CONTINUATION, b"lo", &mut out);
        encode(true, false, opcode::PING, b"Hello", &mut out);
        assert_eq!(
            out,
            [
                0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f, 0x89, 0x05, 0x48, 0x65, 0x6c,
                0x6c, 0x6f
            ]
        );
    }

    proptest! {
        #[test]
        fn unmasking_in_pieces_is_the_bytewise_definition(
            payload in proptest::collection::vec(any::<u8>(), 0..80),
            key in any::<[u8; 4]>(),
            offset in 0u64..16,
            cut in any::<proptest::sample::Index>(),
        ) {
            let want = unmask_bytewise(&payload, key, offset);
            let mut whole = vec![0xEE];
            unmask_into(&mut whole, &payload, key, offset);
            prop_assert_eq!(&whole[1..], &want[..]);
            let at = cut.index(payload.len() + 1);
            let mut pieces = Vec::new();
            unmask_into(&mut pieces, &payload[..at], key, offset);
            unmask_into(&mut pieces, &payload[at..], key, offset + at as u64);
            prop_assert_eq!(pieces, want);
        }
    }

    #[test]
    fn unmasking_every_offset_and_split() {
        let payload: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37)).collect();
        for offset in 0..8u64 {
            let want = unmask_bytewise(&payload, KEY, offset);
            for at in 0..=payload.len() {
                let mut got = Vec::new();
                unmask_into(&mut got, &payload[..at], KEY, offset);
                unmask_into(&mut got, &payload[at..], KEY, offset + at as u64);
                assert_eq!(got, want, "offset {offset} split {at}");
            }
        }
    }
}
