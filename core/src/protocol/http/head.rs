//! Request heads: finding where one ends, and reading what the server needs from it.
//!
//! The end of a head is searched incrementally: a caller keeps the offset returned
//! by an incomplete search and passes it back when more bytes arrive, so a head that
//! trickles in one byte at a time is scanned once in total (linear), and `httparse`
//! runs once per complete head.

use std::mem::MaybeUninit;

use memchr::memchr;

/// Most headers in one request; more is answered 431.
pub(crate) const MAX_HEADERS: usize = 64;

/// Looks for the blank line that ends a head, starting at `from` (an offset returned
/// by a previous incomplete search of the same head). `Ok(len)` is the head's length
/// including the blank line; `Err(from)` is where to resume once more bytes arrive.
pub(crate) fn find_end(buf: &[u8], from: usize) -> Result<usize, usize> {
    let mut pos = from;
    while let Some(off) = memchr(b'\n', &buf[pos..]) {
        let i = pos + off;
        match buf.get(i + 1) {
            None => return Err(i),
            Some(b'\n') => return Ok(i + 2),
            Some(b'\r') => match buf.get(i + 2) {
                None => return Err(i),
                Some(b'\n') => return Ok(i + 3),
                Some(_) => {}
            },
            Some(_) => {}
        }
        pos = i + 1;
    }
    Err(buf.len())
}

/// How the request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// What the server needs to know of a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestHead {
    pub(crate) is_head: bool,
    pub(crate) http10: bool,
    /// The connection may be reused after this request.
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
    pub(crate) body: BodyFraming,
}

/// Why a head was rejected; each maps to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// Not HTTP/1.x syntax.
    Malformed,
    /// More than [`MAX_HEADERS`] headers.
    TooManyHeaders,
    /// Content-Length that is not plain decimal digits, or given twice.
    BadContentLength,
    /// Both Content-Length and Transfer-Encoding (a request smuggling vector).
    LengthAndEncoding,
    /// A Transfer-Encoding other than exactly `chunked`.
    UnsupportedEncoding,
}

impl HeadError {
    /// The status code answered for this error.
    pub(crate) fn status(self) -> u16 {
        match self {
            HeadError::TooManyHeaders => 431,
            HeadError::Malformed
            | HeadError::BadContentLength
            | HeadError::LengthAndEncoding
            | HeadError::UnsupportedEncoding => 400,
        }
    }
}

/// Header slots for [`parse`], left uninitialised: zeroing 64 of them (2 KiB) per
/// request is measurable.
pub(crate) type HeaderSlots<'b> = [MaybeUninit<httparse::Header<'b>>; MAX_HEADERS];

/// A fresh set of header slots.
pub(crate) fn header_slots<'b>() -> HeaderSlots<'b> {
    [const { MaybeUninit::uninit() }; MAX_HEADERS]
}

/// A parsed head: what the server needs, and the parts borrowed from the input.
pub(crate) struct Parsed<'b, 'h> {
    pub(crate) head: RequestHead,
    pub(crate) method: &'b str,
    pub(crate) target: &'b str,
    pub(crate) headers: &'h [httparse::Header<'b>],
}

/// Parses a complete head (as delimited by [`find_end`]).
pub(crate) fn parse<'b, 'h>(
    head: &'b [u8],
    slots: &'h mut HeaderSlots<'b>,
) -> Result<Parsed<'b, 'h>, HeadError> {
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(head, slots) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        Ok(_) => return Err(HeadError::Malformed),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(_) => return Err(HeadError::Malformed),
    }
    let http10 = req.version == Some(0);
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut saw_encoding = false;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut expect_continue = false;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            if content_length.is_some() {
                return Err(HeadError::BadContentLength);
            }
            content_length = Some(parse_content_length(h.value)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if saw_encoding {
                return Err(HeadError::UnsupportedEncoding);
            }
            saw_encoding = true;
            chunked = trim(h.value).eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = trim(token);
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            expect_continue = trim(h.value).eq_ignore_ascii_case(b"100-continue");
        }
    }
    let body = match (content_length, saw_encoding) {
        (Some(_), true) => return Err(HeadError::LengthAndEncoding),
        (None, true) if !chunked => return Err(HeadError::UnsupportedEncoding),
        (None, true) => BodyFraming::Chunked,
        (Some(0), false) | (None, false) => BodyFraming::None,
        (Some(n), false) => BodyFraming::Length(n),
    };
    let method = req.method.unwrap_or_default();
    Ok(Parsed {
        head: RequestHead {
            is_head: method == "HEAD",
            http10,
            keep_alive: !close && (!http10 || keep_alive_token),
            expect_continue,
            body,
        },
        method,
        target: req.path.unwrap_or_default(),
        headers: req.headers,
    })
}

/// Content-Length is 1*DIGIT: no sign, no hex prefix, no inner spaces, no overflow.
fn parse_content_length(value: &[u8]) -> Result<u64, HeadError> {
    let digits = trim(value);
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(HeadError::BadContentLength);
    }
    Ok(digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Strips spaces and tabs from both ends.
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &v[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_end_incrementally() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        assert_eq!(find_end(head, 0), Ok(27));
        // One byte at a time: resuming from the returned offset finds the same end.
        let mut from = 0;
        for len in 1..=head.len() {
            match find_end(&head[..len], from) {
                Ok(end) => {
                    assert_eq!(end, 27);
                    assert_eq!(len, 27);
                    return;
                }
                Err(next) => {
                    assert!(next >= from);
                    from = next;
                }
            }
        }
        panic!("end not found");
    }

    #[test]
    fn accepts_bare_lf() {
        assert_eq!(find_end(b"GET / HTTP/1.1\nHost: a\n\nX", 0), Ok(24));
    }

    fn p(s: &str) -> Result<RequestHead, HeadError> {
        parse(s.as_bytes(), &mut header_slots()).map(|p| p.head)
    }

    #[test]
    fn keep_alive_rules() {
        assert!(p("GET / HTTP/1.1\r\n\r\n").unwrap().keep_alive);
        assert!(
            !p("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        assert!(!p("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(
            p("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        assert!(p("HEAD / HTTP/1.1\r\n\r\n").unwrap().is_head);
    }

    #[test]
    fn body_framing_and_smuggling_vectors() {
        use BodyFraming::*;
        assert_eq!(
            p("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
                .unwrap()
                .body,
            Length(5)
        );
        assert_eq!(
            p("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
                .unwrap()
                .body,
            None
        );
        assert_eq!(
            p("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
                .unwrap()
                .body,
            Chunked
        );
        let bad = [
            (
                "Content-Length: 5\r\nTransfer-Encoding: chunked",
                HeadError::LengthAndEncoding,
            ),
            (
                "Content-Length: 5\r\nContent-Length: 5",
                HeadError::BadContentLength,
            ),
            ("Content-Length: +5", HeadError::BadContentLength),
            ("Content-Length: 0x5", HeadError::BadContentLength),
            ("Content-Length: 5 5", HeadError::BadContentLength),
            ("Content-Length: ", HeadError::BadContentLength),
            (
                "Content-Length: 99999999999999999999",
                HeadError::BadContentLength,
            ),
            ("Transfer-Encoding: gzip", HeadError::UnsupportedEncoding),
            (
                "Transfer-Encoding: chunked, chunked",
                HeadError::UnsupportedEncoding,
            ),
            (
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
                HeadError::UnsupportedEncoding,
            ),
        ];
        for (headers, want) in bad {
            let got = p(&format!("POST / HTTP/1.1\r\n{headers}\r\n\r\n"));
            assert_eq!(got, Err(want), "{headers}");
        }
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(p("\x16\x03\x01garbage\r\n\r\n"), Err(HeadError::Malformed));
        assert_eq!(p("\r\n\r\n"), Err(HeadError::Malformed));
    }

    #[test]
    fn too_many_headers() {
        let mut s = String::from("GET / HTTP/1.1\r\n");
        for i in 0..=MAX_HEADERS {
            s.push_str(&format!("X-{i}: v\r\n"));
        }
        s.push_str("\r\n");
        assert_eq!(p(&s), Err(HeadError::TooManyHeaders));
    }
}
