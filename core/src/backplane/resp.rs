//! RESP2, the Redis wire protocol: just what the backplane needs.
//!
//! Commands go out as arrays of bulk strings ([`command`]); a `PUBLISH` is written
//! straight from its parts ([`publish`]) so that a frame is copied once, into the
//! connection's write buffer. Replies are decoded in place ([`decode`]): nothing is
//! allocated, a reply borrows from the read buffer, and an incomplete reply is
//! `Ok(None)` (decoded again when more bytes arrive). A claimed length is never
//! trusted: a bulk string over the caller's limit is an error, not an allocation.

use std::fmt;

/// The most elements of an array reply that are kept (pub/sub messages and
/// subscription confirmations have three).
const MAX_ITEMS: usize = 4;
/// Redis' own ceiling for a bulk string (`proto-max-bulk-len`, 512 MiB): a longer
/// claim is garbage, not something to skip.
const MAX_BULK: i64 = 512 << 20;

/// One element of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item<'a> {
    /// `+OK`.
    Simple(&'a [u8]),
    /// `-ERR ...`.
    Error(&'a [u8]),
    /// `:42`.
    Int(i64),
    /// `$3 abc`, or `$-1` (None).
    Bulk(Option<&'a [u8]>),
    /// A bulk string longer than the caller's limit, last in its reply: only its
    /// length was read. Its bytes and their CRLF follow the reply's `used` bytes,
    /// and the caller skips them (`n + 2` bytes) without keeping them.
    Oversized(u64),
}

/// A decoded reply: one item, or a flat array of up to four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply<'a> {
    /// Not an array.
    One(Item<'a>),
    /// An array (`*-1`, a nil array, is an empty one).
    Array {
        /// The elements; only the first `len` are meaningful.
        items: [Item<'a>; MAX_ITEMS],
        /// How many there are.
        len: usize,
    },
}

impl<'a> Reply<'a> {
    /// The elements of an array reply (empty for a single item).
    pub(crate) fn items(&self) -> &[Item<'a>] {
        match self {
            Reply::One(_) => &[],
            Reply::Array { items, len } => &items[..*len],
        }
    }
}

/// Input the decoder cannot make sense of: the connection is out of step and must
/// be dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RespError {
    /// A type byte RESP2 does not have.
    #[error("unexpected RESP type byte {0:#04x}")]
    BadType(u8),
    /// A length or integer that does not parse.
    #[error("malformed RESP number")]
    BadNumber,
    /// A bulk string longer than the limit that is not the last of its reply (it
    /// cannot be skipped), or longer than any broker sends.
    #[error("RESP bulk string of {0} bytes is over the limit")]
    TooLong(i64),
    /// Nested arrays or an array longer than four elements.
    #[error("unexpected RESP array shape")]
    BadArray,
    /// A bulk string not followed by CRLF.
    #[error("RESP bulk string not terminated by CRLF")]
    Unterminated,
}

/// Decodes one reply from the front of `buf`: the reply and the bytes it used,
/// `Ok(None)` if it is not complete yet. A bulk string longer than `max_bulk` is
/// [`Item::Oversized`] as soon as its length is read when it ends the reply (a
/// pub/sub message's payload), and an error anywhere else.
pub(crate) fn decode(buf: &[u8], max_bulk: usize) -> Result<Option<(Reply<'_>, usize)>, RespError> {
    if buf.first() == Some(&b'*') {
        let Some((n, mut pos)) = line(buf, 1)? else {
            return Ok(None);
        };
        let n = number(n)?;
        if n > MAX_ITEMS as i64 {
            return Err(RespError::BadArray);
        }
        let len = n.max(0) as usize;
        let mut items = [Item::Bulk(None); MAX_ITEMS];
        for (i, slot) in items.iter_mut().take(len).enumerate() {
            if buf.get(pos) == Some(&b'*') {
                return Err(RespError::BadArray);
            }
            let Some((item, used)) = item(&buf[pos..], max_bulk)? else {
                return Ok(None);
            };
            if let Item::Oversized(n) = item {
                if i + 1 < len {
                    return Err(RespError::TooLong(n as i64));
                }
            }
            *slot = item;
            pos += used;
        }
        return Ok(Some((Reply::Array { items, len }, pos)));
    }
    Ok(item(buf, max_bulk)?.map(|(i, used)| (Reply::One(i), used)))
}

/// Decodes one non-array element.
fn item(buf: &[u8], max_bulk: usize) -> Result<Option<(Item<'_>, usize)>, RespError> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let Some((text, end)) = line(buf, 1)? else {
        return Ok(None);
    };
    let item = match kind {
        b'+' => Item::Simple(text),
        b'-' => Item::Error(text),
        b':' => Item::Int(number(text)?),
        b'$' => {
            let n = number(text)?;
            if n < 0 {
                return Ok(Some((Item::Bulk(None), end)));
            }
            if n > MAX_BULK {
                return Err(RespError::TooLong(n));
            }
            if n as u64 > max_bulk as u64 {
                return Ok(Some((Item::Oversized(n as u64), end)));
            }
            let n = n as usize;
            if buf.len() < end + n + 2 {
                return Ok(None);
            }
            if &buf[end + n..end + n + 2] != b"\r\n" {
                return Err(RespError::Unterminated);
            }
            return Ok(Some((Item::Bulk(Some(&buf[end..end + n])), end + n + 2)));
        }
        other => return Err(RespError::BadType(other)),
    };
    Ok(Some((item, end)))
}

/// The text of the line starting at `from` (without CRLF) and where the next
/// begins.
fn line(buf: &[u8], from: usize) -> Result<Option<(&[u8], usize)>, RespError> {
    let Some(rest) = buf.get(from..) else {
        return Ok(None);
    };
    // Lines other than bulk data are short; a missing CR within 64 KiB is garbage.
    match memchr::memchr(b'\r', rest) {
        Some(i) if rest.get(i + 1) == Some(&b'\n') => Ok(Some((&rest[..i], from + i + 2))),
        Some(i) if i + 1 < rest.len() => Err(RespError::BadNumber),
        _ if rest.len() > 64 * 1024 => Err(RespError::BadNumber),
        _ => Ok(None),
    }
}

fn number(text: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(RespError::BadNumber)
}

/// Appends a command (an array of bulk strings) to `out`.
pub(crate) fn command(args: &[&[u8]], out: &mut Vec<u8>) {
    array_head(args.len(), out);
    for a in args {
        bulk(&[a], out);
    }
}

/// Appends the head of an array of `n` elements.
pub(crate) fn array_head(n: usize, out: &mut Vec<u8>) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends one bulk string made of `parts`, concatenated.
pub(crate) fn bulk(parts: &[&[u8]], out: &mut Vec<u8>) {
    let n: usize = parts.iter().map(|p| p.len()).sum();
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
    for p in parts {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `PUBLISH <channel> <payload>`, each argument given in parts (the
/// channel as prefix + room, the payload as origin tag + frame).
pub(crate) fn publish(channel: &[&[u8]], payload: &[&[u8]], out: &mut Vec<u8>) {
    out.extend_from_slice(b"*3\r\n$7\r\nPUBLISH\r\n");
    bulk(channel, out);
    bulk(payload, out);
}

/// Shows bytes from the broker as text, for error messages.
pub(crate) struct Text<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_as_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        command(&[b"SUBSCRIBE", b"a", b"bc"], &mut out);
        assert_eq!(out, b"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$2\r\nbc\r\n");
        out.clear();
        publish(&[b"p/", b"room"], &[b"12345678", b"\x00\r\n"], &mut out);
        assert_eq!(
            out,
            b"*3\r\n$7\r\nPUBLISH\r\n$6\r\np/room\r\n$11\r\n12345678\x00\r\n\r\n"
        );
    }

    #[test]
    fn replies_decode_in_place() {
        assert_eq!(
            decode(b"+OK\r\n:1\r\n", 1 << 20).unwrap(),
            Some((Reply::One(Item::Simple(b"OK")), 5))
        );
        assert_eq!(
            decode(b":-12\r\n", 1 << 20).unwrap(),
            Some((Reply::One(Item::Int(-12)), 6))
        );
        assert_eq!(
            decode(b"-ERR no\r\n", 1 << 20).unwrap(),
            Some((Reply::One(Item::Error(b"ERR no")), 9))
        );
        assert_eq!(
            decode(b"$-1\r\n", 1 << 20).unwrap(),
            Some((Reply::One(Item::Bulk(None)), 5))
        );
        let msg = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\n\r\n\r\n\r\n";
        let (reply, used) = decode(msg, 1 << 20).unwrap().unwrap();
        assert_eq!(used, msg.len());
        assert_eq!(
            reply.items(),
            [
                Item::Bulk(Some(b"message")),
                Item::Bulk(Some(b"ch")),
                Item::Bulk(Some(b"\r\n\r\n"))
            ]
        );
    }

    #[test]
    fn every_prefix_of_a_reply_is_incomplete() {
        let msg = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nroom\r\n:1\r\n";
        for cut in 0..msg.len() {
            assert_eq!(decode(&msg[..cut], 1 << 20).unwrap(), None, "cut at {cut}");
        }
        assert!(decode(msg, 1 << 20).unwrap().is_some());
    }

    #[test]
    fn an_oversized_last_bulk_is_reported_for_skipping() {
        let msg = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$10\r\n0123456789\r\n";
        let head = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$10\r\n".len();
        // Only the head is needed: the payload is not waited for.
        let (reply, used) = decode(&msg[..head], 8).unwrap().unwrap();
        assert_eq!(used, head);
        assert_eq!(
            reply.items(),
            [
                Item::Bulk(Some(b"message")),
                Item::Bulk(Some(b"ch")),
                Item::Oversized(10)
            ]
        );
        assert_eq!(
            decode(b"$10\r\n", 8).unwrap(),
            Some((Reply::One(Item::Oversized(10)), 5))
        );
        // Within the limit: whole, as before.
        assert_eq!(decode(msg, 10).unwrap().unwrap().1, msg.len());
    }

    #[test]
    fn garbage_and_huge_claims_are_errors() {
        assert_eq!(decode(b"?x\r\n", 1 << 20), Err(RespError::BadType(b'?')));
        assert_eq!(decode(b":x\r\n", 1 << 20), Err(RespError::BadNumber));
        assert!(matches!(
            decode(b"$99999999999\r\n", 1 << 20),
            Err(RespError::TooLong(_))
        ));
        // Over the caller's limit but not last in its reply: cannot be skipped.
        assert_eq!(
            decode(b"*3\r\n$7\r\nmessage\r\n$9\r\n", 8),
            Err(RespError::TooLong(9))
        );
        assert_eq!(
            decode(b"$1\r\nab\r\n", 1 << 20),
            Err(RespError::Unterminated)
        );
        assert_eq!(decode(b"*5\r\n", 1 << 20), Err(RespError::BadArray));
        assert_eq!(
            decode(b"*1\r\n*1\r\n:1\r\n", 1 << 20),
            Err(RespError::BadArray)
        );
        assert_eq!(decode(b"+OK\rx", 1 << 20), Err(RespError::BadNumber));
    }
}
