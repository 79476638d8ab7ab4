//! Decoding `Transfer-Encoding: chunked` request bodies, incrementally.
//!
//! The decoder is a state machine fed whatever bytes have arrived; it keeps no
//! input of its own, so a body split at any byte boundary decodes the same as in
//! one piece. It is strict where leniency enables request smuggling: the size is
//! 1 to 16 hex digits (no sign, no `0x`, no spaces), every line ends in CRLF, and
//! the data of each chunk must be followed by exactly CRLF.

/// Most hex digits in a chunk size (16 fill a u64; 17 are rejected).
const MAX_SIZE_DIGITS: u8 = 16;
/// Most bytes of chunk extensions on one size line.
const MAX_EXTENSION_BYTES: u16 = 1024;

/// Why a chunked body was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// A size that is empty, too long, or not hex; or a line not ending in CRLF.
    Malformed,
    /// The decoded body would exceed the body limit.
    TooLarge,
    /// The trailer section exceeds the head limit.
    TrailersTooLarge,
}

impl ChunkError {
    pub(crate) fn status(self) -> u16 {
        match self {
            ChunkError::Malformed => 400,
            ChunkError::TooLarge => 413,
            ChunkError::TrailersTooLarge => 431,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex size.
    Size {
        value: u64,
        digits: u8,
    },
    /// After `;`: skipping an extension until CR.
    Extension {
        value: u64,
        len: u16,
    },
    /// After the size line's CR.
    SizeLf {
        value: u64,
    },
    /// Inside chunk data.
    Data {
        left: u64,
    },
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final CRLF).
    TrailerStart,
    /// Inside a trailer line.
    Trailer,
    TrailerLf {
        last: bool,
    },
    Done,
}

/// A chunked body being decoded.
#[derive(Debug, Clone)]
pub(crate) struct Chunked {
    state: State,
    /// Decoded body bytes so far.
    total: u64,
    trailer_bytes: usize,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            total: 0,
            trailer_bytes: 0,
        }
    }
}

impl Chunked {
    /// Decodes from `input`, handing each piece of body data to `data`. Returns the
    /// bytes used and whether the body is complete (then the rest of `input` is the
    /// next request).
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        max_body: u64,
        max_trailer: usize,
        mut data: impl FnMut(&[u8]),
    ) -> Result<(usize, bool), ChunkError> {
        let mut pos = 0;
        while pos < input.len() {
            if let State::Data { left } = self.state {
                let take = left.min((input.len() - pos) as u64) as usize;
                data(&input[pos..pos + take]);
                pos += take;
                let left = left - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data { left }
                };
                continue;
            }
            let b = input[pos];
            pos += 1;
            self.state = match self.state {
                State::Size { value, digits } => match (hex(b), b) {
                    (Some(d), _) if digits < MAX_SIZE_DIGITS => State::Size {
                        value: value << 4 | u64::from(d),
                        digits: digits + 1,
                    },
                    (None, b';') if digits > 0 => State::Extension { value, len: 0 },
                    (None, b'\r') if digits > 0 => State::SizeLf { value },
                    _ => return Err(ChunkError::Malformed),
                },
                State::Extension { value, len } => match b {
                    b'\r' => State::SizeLf { value },
                    b'\n' | 0 => return Err(ChunkError::Malformed),
                    _ if len >= MAX_EXTENSION_BYTES => return Err(ChunkError::Malformed),
                    _ => State::Extension {
                        value,
                        len: len + 1,
                    },
                },
                State::SizeLf { value } => match b {
                    b'\n' if value == 0 => State::TrailerStart,
                    b'\n' => {
                        self.total = self
                            .total
                            .checked_add(value)
                            .filter(|&t| t <= max_body)
                            .ok_or(ChunkError::TooLarge)?;
                        State::Data { left: value }
                    }
                    _ => return Err(ChunkError::Malformed),
                },
                State::Data { .. } => unreachable!("handled above"),
                State::DataCr if b == b'\r' => State::DataLf,
                State::DataLf if b == b'\n' => State::Size {
                    value: 0,
                    digits: 0,
                },
                State::DataCr | State::DataLf => return Err(ChunkError::Malformed),
                State::TrailerStart => match b {
                    b'\r' => State::TrailerLf { last: true },
                    b'\n' => return Err(ChunkError::Malformed),
                    _ => self.trailer_byte(max_trailer)?,
                },
                State::Trailer => match b {
                    b'\r' => State::TrailerLf { last: false },
                    b'\n' => return Err(ChunkError::Malformed),
                    _ => self.trailer_byte(max_trailer)?,
                },
                State::TrailerLf { last } => match b {
                    b'\n' if last => {
                        self.state = State::Done;
                        return Ok((pos, true));
                    }
                    b'\n' => State::TrailerStart,
                    _ => return Err(ChunkError::Malformed),
                },
                State::Done => return Ok((pos - 1, true)),
            };
        }
        Ok((pos, self.state == State::Done))
    }

    fn trailer_byte(&mut self, max_trailer: usize) -> Result<State, ChunkError> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > max_trailer {
            return Err(ChunkError::TrailersTooLarge);
        }
        Ok(State::Trailer)
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &[u8]) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut c = Chunked::default();
        let mut body = Vec::new();
        let (used, done) = c.feed(input, 1 << 20, 1024, |d| body.extend_from_slice(d))?;
        assert!(done, "incomplete");
        Ok((body, used))
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let input = b"5\r\nhello\r\n6;name=val\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (body, used) = decode(input).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(&input[used..], b"NEXT");
        // Same result fed one byte at a time.
        let mut c = Chunked::default();
        let mut body = Vec::new();
        let mut done_at = None;
        for (i, b) in input.iter().enumerate() {
            let (n, done) = c
                .feed(std::slice::from_ref(b), 1 << 20, 1024, |d| {
                    body.extend_from_slice(d)
                })
                .unwrap();
            assert_eq!(n, 1);
            if done {
                done_at = Some(i + 1);
                break;
            }
        }
        assert_eq!(done_at, Some(used));
        assert_eq!(body, b"hello world");
    }

    #[test]
    fn rejects_smuggling_shapes() {
        let bad: [&[u8]; 10] = [
            b"\r\nhello\r\n0\r\n\r\n",                  // empty size
            b"+5\r\nhello\r\n0\r\n\r\n",                // sign
            b"0x5\r\nhello\r\n0\r\n\r\n",               // hex prefix
            b"5 \r\nhello\r\n0\r\n\r\n",                // space after size
            b"5\nhello\r\n0\r\n\r\n",                   // bare LF
            b"5\r\nhelloXX0\r\n\r\n",                   // data longer than size
            b"10000000000000005\r\nhello\r\n0\r\n\r\n", // 17 hex digits
            b"5\r\nhello\r\n0\r\n\n",                   // bare LF ends trailers
            b"5\r\nhello\r\n0\r\nX: 1\n\r\n",           // bare LF in trailer
            b"5\r\nhello\r\n0;ext\n\r\n",               // bare LF in extension
        ];
        for input in bad {
            assert_eq!(
                decode(input).unwrap_err(),
                ChunkError::Malformed,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        // 16 digits is still a size (and here far over the limit).
        assert_eq!(
            decode(b"0000000000000005\r\nhello\r\n0\r\n\r\n").unwrap().0,
            b"hello"
        );
        assert_eq!(
            decode(b"ffffffffffffffff\r\n").unwrap_err(),
            ChunkError::TooLarge
        );
    }

    #[test]
    fn limits_body_and_trailers() {
        let mut c = Chunked::default();
        assert_eq!(
            c.feed(b"4\r\nabcd\r\n4\r\n", 6, 10, |_| {}),
            Err(ChunkError::TooLarge)
        );
        let mut c = Chunked::default();
        assert_eq!(
            c.feed(b"0\r\nX-Long: aaaaaaaaaaaaaaaaa\r\n\r\n", 6, 10, |_| {}),
            Err(ChunkError::TrailersTooLarge)
        );
    }
}
