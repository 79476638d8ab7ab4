//! Close frames (RFC 6455 sections 5.5.1 and 7.4): the status codes, the parser
//! of a received close frame's payload (which codes a peer may send, a reason
//! that must be UTF-8), and the encoder of the payload this server sends.

/// Close status codes (RFC 6455 section 7.4.1, and the IANA registry).
// The whole table, whether or not this server sends or reports each code.
pub mod code {
    /// The purpose of the connection is fulfilled.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away: a server shutting down, a page left.
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A message of a type the endpoint does not accept (text or binary).
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// No code was in the close frame (never sent on the wire).
    pub const NO_STATUS: u16 = 1005;
    /// The connection closed without a close frame (never sent on the wire).
    pub const ABNORMAL: u16 = 1006;
    /// A message's data is inconsistent with its type: a text message that is
    /// not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// A message violates the endpoint's policy.
    pub const POLICY: u16 = 1008;
    /// A message is too big to process.
    pub const TOO_BIG: u16 = 1009;
    /// The client expected an extension the server did not negotiate.
    pub const MANDATORY_EXT: u16 = 1010;
    /// The server met an unexpected condition.
    pub const INTERNAL: u16 = 1011;
}

/// The longest reason that fits a close frame: 125 bytes less the code.
pub const MAX_REASON_BYTES: usize = 123;

/// A whole close frame with code 1001 (going away), as a stop sends it.
pub(crate) const GOING_AWAY: &[u8] = &[0x88, 0x02, 0x03, 0xE9];

/// Why a received close frame's payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CloseError {
    /// A one-byte payload: half a code.
    #[error("close frame payload of one byte")]
    Truncated,
    /// A code a peer may not send.
    #[error("close code {0} may not be sent")]
    BadCode(u16),
    /// The reason is not UTF-8.
    #[error("close reason not UTF-8")]
    BadReason,
}

impl CloseError {
    /// The close code to answer with: 1007 (invalid payload data) for a reason
    /// that is not UTF-8, 1002 (protocol error) otherwise.
    pub fn close_code(&self) -> u16 {
        match self {
            CloseError::BadReason => code::INVALID_PAYLOAD,
            CloseError::Truncated | CloseError::BadCode(_) => code::PROTOCOL_ERROR,
        }
    }
}

/// A code a peer may send in a close frame: 1000-1003, 1007-1014 (the
/// registered ones; 1004 is reserved, 1005, 1006 and 1015 are never sent) and
/// 3000-4999 (libraries and applications).
pub fn sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Parses a received close frame's payload: empty -> `Ok(None)` (no status);
/// otherwise the code and the reason.
pub fn parse_close(payload: &[u8]) -> Result<Option<(u16, &str)>, CloseError> {
    let (code, reason) = match payload {
        [] => return Ok(None),
        [_] => return Err(CloseError::Truncated),
        [hi, lo, reason @ ..] => (u16::from_be_bytes([*hi, *lo]), reason),
    };
    if !sendable(code) {
        return Err(CloseError::BadCode(code));
    }
    let reason = std::str::from_utf8(reason).map_err(|_| CloseError::BadReason)?;
    Ok(Some((code, reason)))
}

/// Appends a close frame's payload to `out`: `code`, then `reason` cut to
/// [`MAX_REASON_BYTES`] at a character boundary.
pub fn encode_close(code: u16, reason: &str, out: &mut Vec<u8>) {
    let mut end = reason.len().min(MAX_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&reason.as_bytes()[..end]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_a_peer_may_send() {
        // Autobahn 7.7.x: codes a peer may send.
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            assert_eq!(parse_close(&encode(ok, "")), Ok(Some((ok, ""))), "{ok}");
        }
        // Autobahn 7.9.x and the rest of the ranges: codes that may not be sent.
        for bad in [
            0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            let err = parse_close(&encode(bad, "x")).unwrap_err();
            assert_eq!(err, CloseError::BadCode(bad));
            assert_eq!(err.close_code(), 1002);
        }
        for code in 0..=u16::MAX {
            let want = (1000..=1003).contains(&code)
                || (1007..=1014).contains(&code)
                || (3000..=4999).contains(&code);
            assert_eq!(sendable(code), want, "{code}");
        }
    }

    fn encode(code: u16, reason: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode_close(code, reason, &mut out);
        out
    }

    #[test]
    fn payload_shapes() {
        assert_eq!(parse_close(b""), Ok(None));
        assert_eq!(parse_close(b"\x03"), Err(CloseError::Truncated));
        assert_eq!(CloseError::Truncated.close_code(), 1002);
        assert_eq!(parse_close(b"\x03\xe8"), Ok(Some((1000, ""))));
        assert_eq!(parse_close(b"\x03\xe8bye"), Ok(Some((1000, "bye"))));
        // Autobahn 7.5.1: a reason that is not UTF-8 fails with 1007.
        let err = parse_close(b"\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64")
            .unwrap_err();
        assert_eq!((err, err.close_code()), (CloseError::BadReason, 1007));
    }

    #[test]
    fn the_reason_is_cut_at_a_char_boundary() {
        let long = "é".repeat(100); // 200 bytes
        let out = encode(code::GOING_AWAY, &long);
        assert_eq!(out.len(), 2 + 122);
        assert_eq!(parse_close(&out), Ok(Some((1001, &long[..122]))));
        let fits = "a".repeat(MAX_REASON_BYTES);
        assert_eq!(encode(code::NORMAL, &fits).len(), 125);
        let over = "a".repeat(MAX_REASON_BYTES + 1);
        assert_eq!(encode(code::NORMAL, &over).len(), 125);
        assert_eq!(encode(code::INTERNAL, ""), [0x03, 0xf3]);
    }
}
