//! Request heads: finding where one ends, and reading what the server needs from it.
//!
//! The end of a head is searched incrementally: a caller keeps the offset returned
//! by an incomplete search and passes it back when more bytes arrive, so a head that
//! trickles in one byte at a time is scanned once in total (linear), and `httparse`
//! runs once per complete head.

use std::mem::MaybeUninit;

use memchr::memchr;

use crate::config::MAX_HEADERS;
use crate::syntax::trim;

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
    /// More header fields than `Config::max_headers`.
    TooManyHeaders,
    /// HTTP/1.1 without exactly one valid `Host` (RFC 9112 §3.2), or a repeated or
    /// invalid one in HTTP/1.0.
    BadHost,
    /// A major version other than 1 (`HTTP/2.0`, `HTTP/9.9`): 505.
    VersionNotSupported,
    /// `HTTP/1.x` with x > 1: served as HTTP/1.1 (RFC 9110 §6.2); the session
    /// parses a copy whose version says 1.1.
    LaterMinorVersion,
    /// A transfer coding other than chunked (`gzip, chunked`): 501.
    UnknownCoding,
    /// Content-Length that is not plain decimal digits, or given twice.
    BadContentLength,
    /// Both Content-Length and Transfer-Encoding (a request smuggling vector).
    LengthAndEncoding,
    /// A Transfer-Encoding whose last coding is not `chunked`, or `chunked` twice:
    /// the body's length cannot be known (400).
    UnsupportedEncoding,
}

impl HeadError {
    /// The status code answered for this error.
    pub(crate) fn status(self) -> u16 {
        match self {
            HeadError::TooManyHeaders => 431,
            HeadError::VersionNotSupported => 505,
            HeadError::UnknownCoding => 501,
            HeadError::Malformed
            | HeadError::BadHost
            | HeadError::LaterMinorVersion
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

/// Parses a complete head (as delimited by [`find_end`]), with at most
/// `max_headers` (1..=[`MAX_HEADERS`]) header fields.
#[inline(always)]
pub(crate) fn parse<'b, 'h>(
    head: &'b [u8],
    slots: &'h mut HeaderSlots<'b>,
    max_headers: usize,
) -> Result<Parsed<'b, 'h>, HeadError> {
    match parse_prefix(head, slots, max_headers)? {
        Some((parsed, n)) if n == head.len() => Ok(parsed),
        _ => Err(HeadError::Malformed),
    }
}

/// Parses the head at the start of `buf` (pipelined requests may follow it): the
/// request and the head's length, or `None` while it is incomplete.
pub(crate) fn parse_prefix<'b, 'h>(
    buf: &'b [u8],
    slots: &'h mut HeaderSlots<'b>,
    max_headers: usize,
) -> Result<Option<(Parsed<'b, 'h>, usize)>, HeadError> {
    let mut req = httparse::Request::new(&mut []);
    let slots = &mut slots[..max_headers.clamp(1, MAX_HEADERS)];
    let n = match req.parse_with_uninit_headers(buf, slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(version_error(buf)),
        Err(_) => return Err(HeadError::Malformed),
    };
    Ok(Some((finish(req)?, n)))
}

/// Checks a parsed head's fields and says what the server needs of them.
#[inline(always)]
fn finish<'b, 'h>(req: httparse::Request<'h, 'b>) -> Result<Parsed<'b, 'h>, HeadError> {
    let http10 = req.version == Some(0);
    let mut content_length: Option<u64> = None;
    let mut encoding = Codings::default();
    let mut hosts = 0u32;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut expect_continue = false;
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        if is_host(name) {
            hosts += 1;
            if !valid_host(trim(h.value)) {
                return Err(HeadError::BadHost);
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            if content_length.is_some() {
                return Err(HeadError::BadContentLength);
            }
            content_length = Some(parse_content_length(h.value)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            encoding.add(h.value)?;
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
    if hosts > 1 || (hosts == 0 && !http10) {
        return Err(HeadError::BadHost);
    }
    let body = match (content_length, encoding.present) {
        (Some(_), true) => return Err(HeadError::LengthAndEncoding),
        (None, true) => encoding.framing()?,
        (Some(0), false) | (None, false) => BodyFraming::None,
        (Some(n), false) => BodyFraming::Length(n),
    };
    let method = req.method.unwrap_or_default();
    Ok(Parsed {
        head: RequestHead {
            is_head: method == "HEAD",
            http10,
            keep_alive: !close && (!http10 || keep_alive_token),
            // An HTTP/1.0 client does not know 100 Continue: ignore it (RFC 9110 §10.1.1).
            expect_continue: expect_continue && !http10,
            body,
        },
        method,
        target: req.path.unwrap_or_default(),
        headers: req.headers,
    })
}

/// The transfer codings of a request, over all its Transfer-Encoding fields.
#[derive(Default)]
struct Codings {
    present: bool,
    chunked: bool,
    /// A coding came after `chunked`.
    after_chunked: bool,
    /// A coding other than chunked.
    other: bool,
}

impl Codings {
    /// Adds one field's list; empty elements are ignored (RFC 9110 §5.6.1).
    fn add(&mut self, value: &[u8]) -> Result<(), HeadError> {
        self.present = true;
        for coding in value.split(|&b| b == b',').map(trim) {
            if coding.is_empty() {
                continue;
            }
            if self.chunked {
                self.after_chunked = true;
            }
            if coding.eq_ignore_ascii_case(b"chunked") {
                if self.chunked {
                    return Err(HeadError::UnsupportedEncoding);
                }
                self.chunked = true;
            } else {
                self.other = true;
            }
        }
        Ok(())
    }

    /// Chunked must be the last coding, or the length is unknown (RFC 9112 §6.3):
    /// 400; another coding before it is one this server does not decode: 501.
    fn framing(&self) -> Result<BodyFraming, HeadError> {
        if !self.chunked || self.after_chunked {
            return Err(HeadError::UnsupportedEncoding);
        }
        if self.other {
            return Err(HeadError::UnknownCoding);
        }
        Ok(BodyFraming::Chunked)
    }
}

/// Whether a header name is `Host`, in any case: one 4-byte compare. Setting bit 5
/// lower-cases a letter, and every byte of `host` has it set, so exactly `H`/`h`,
/// `O`/`o`, ... match.
#[inline(always)]
fn is_host(name: &[u8]) -> bool {
    match name {
        &[a, b, c, d] => {
            u32::from_le_bytes([a, b, c, d]) | 0x2020_2020 == u32::from_le_bytes(*b"host")
        }
        _ => false,
    }
}

/// How a byte may appear in a Host value: not at all, in a name, or as `:`, `[`/`]`.
const HOST_NO: u8 = 0;
const HOST_NAME: u8 = 1;
const HOST_COLON: u8 = 2;
const HOST_BRACKET: u8 = 3;

/// [`HOST_NAME`] for unreserved, `%` and sub-delims (RFC 3986 reg-name).
const HOST_BYTES: [u8; 256] = {
    let mut t = [HOST_NO; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            t[b] = HOST_NAME;
        }
        b += 1;
    }
    let extra = b"-._~%!$&'()*+,;=";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = HOST_NAME;
        i += 1;
    }
    t[b':' as usize] = HOST_COLON;
    t[b'[' as usize] = HOST_BRACKET;
    t[b']' as usize] = HOST_BRACKET;
    t
};

/// A Host value: `uri-host [":" port]` (RFC 9110 §7.2); empty is allowed. One pass
/// over a table for the usual name or IPv4 host; an IPv6 literal is checked apart.
#[inline]
fn valid_host(v: &[u8]) -> bool {
    let mut colon = None;
    for (i, &b) in v.iter().enumerate() {
        match HOST_BYTES[b as usize] {
            HOST_NAME => {}
            HOST_COLON if colon.is_none() => colon = Some(i),
            HOST_BRACKET => return valid_ip_literal_host(v),
            _ => return false,
        }
    }
    colon.is_none_or(|i| v[i + 1..].iter().all(u8::is_ascii_digit))
}

/// `[hex:...]` or `[hex:...]:port`.
#[cold]
fn valid_ip_literal_host(v: &[u8]) -> bool {
    let Some(close) = v.iter().position(|&b| b == b']') else {
        return false;
    };
    let (literal, rest) = v.split_at(close + 1);
    let Some(inner) = literal
        .strip_prefix(b"[")
        .and_then(|l| l.strip_suffix(b"]"))
    else {
        return false;
    };
    let port_ok = match rest {
        [] => true,
        [b':', port @ ..] => port.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    !inner.is_empty()
        && inner
            .iter()
            .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        && port_ok
}

/// Why httparse refused a request line's version: `HTTP/1.x` with x > 1 is served
/// as 1.1, another major version gets 505, anything else is malformed.
#[cold]
fn version_error(head: &[u8]) -> HeadError {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let version = trim_cr(line)
        .rsplit(|&b| b == b' ')
        .next()
        .unwrap_or_default();
    match version {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => {
            HeadError::LaterMinorVersion
        }
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            HeadError::VersionNotSupported
        }
        _ => HeadError::Malformed,
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A copy of a head whose request line says `HTTP/1.1` (for [`HeadError::LaterMinorVersion`]).
pub(crate) fn as_http11(head: &[u8]) -> Vec<u8> {
    let mut copy = head.to_vec();
    let line_end = memchr(b'\n', head).unwrap_or(head.len());
    let line = trim_cr(&head[..line_end]);
    if line.len() >= 8 {
        copy[line.len() - 8..line.len()].copy_from_slice(b"HTTP/1.1");
    }
    copy
}

/// Whether the start of an incomplete head can still become a request line: the
/// method (after any empty lines) is made of token characters. A TLS ClientHello
/// (0x16 0x03 ...) or other binary input fails at once instead of waiting for the
/// header timeout.
pub(crate) fn plausible_start(partial: &[u8]) -> bool {
    let start = partial
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(partial.len());
    partial[start..]
        .iter()
        .take_while(|&&b| b != b' ')
        .take(32)
        .all(|&b| crate::syntax::is_token_byte(b))
}

/// Whether a head over the size limit is so because of its request line (the
/// request-target is too long: 414) rather than its header fields (431).
pub(crate) fn request_line_too_long(head: &[u8], limit: usize) -> bool {
    let start = head
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(head.len());
    let window = &head[start..head.len().min(start + limit)];
    memchr(b'\n', window).is_none()
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
        parse(s.as_bytes(), &mut header_slots(), 100).map(|p| p.head)
    }

    #[test]
    fn keep_alive_rules() {
        assert!(p("GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap().keep_alive);
        assert!(
            !p("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        assert!(!p("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(
            p("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        assert!(p("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap().is_head);
    }

    #[test]
    fn body_framing_and_smuggling_vectors() {
        use BodyFraming::*;
        assert_eq!(
            p("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n")
                .unwrap()
                .body,
            Length(5)
        );
        assert_eq!(
            p("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
                .unwrap()
                .body,
            None
        );
        assert_eq!(
            p("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
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
            (
                "Transfer-Encoding: chunked, gzip",
                HeadError::UnsupportedEncoding,
            ),
            ("Transfer-Encoding: ,", HeadError::UnsupportedEncoding),
            ("Transfer-Encoding: gzip, chunked", HeadError::UnknownCoding),
            (
                "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
                HeadError::UnknownCoding,
            ),
        ];
        for (headers, want) in bad {
            let got = p(&format!("POST / HTTP/1.1\r\nHost: a\r\n{headers}\r\n\r\n"));
            assert_eq!(got, Err(want), "{headers}");
        }
        for ok in ["chunked,", " , chunked", "identity2, , "] {
            let got = p(&format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {ok}\r\n\r\n"
            ));
            if ok.contains("chunked") {
                assert_eq!(got.map(|h| h.body), Ok(Chunked), "{ok}");
            } else {
                assert_eq!(got, Err(HeadError::UnsupportedEncoding), "{ok}");
            }
        }
    }

    #[test]
    fn host_is_required_once_and_valid_in_http11() {
        let head = |h: &str, v: &str| p(&format!("GET / HTTP/{v}\r\n{h}\r\n"));
        assert!(head("Host: example.com:8080\r\n", "1.1").is_ok());
        assert!(head("Host: [::1]:80\r\n", "1.1").is_ok());
        assert!(head("Host: [fe80::1]\r\n", "1.1").is_ok());
        assert!(head("Host: localhost:\r\n", "1.1").is_ok());
        assert!(head("Host: 127.0.0.1\r\n", "1.1").is_ok());
        assert!(head("Host:\r\n", "1.1").is_ok());
        assert!(head("", "1.0").is_ok());
        for bad in [
            "",
            "Host: a\r\nHost: b\r\n",
            "Host: a b\r\n",
            "Host: a/b\r\n",
            "Host: user@a\r\n",
            "Host: a:80x\r\n",
            "Host: [::1\r\n",
            "Host: a:1:2\r\n",
            "Host: ]a\r\n",
            "Host: [::1]x\r\n",
            "Host: []\r\n",
        ] {
            assert_eq!(head(bad, "1.1"), Err(HeadError::BadHost), "{bad:?}");
        }
        assert_eq!(
            head("Host: a\r\nHost: a\r\n", "1.0"),
            Err(HeadError::BadHost)
        );
    }

    #[test]
    fn host_name_in_any_case_and_nothing_else() {
        for yes in ["host", "Host", "HOST", "hOsT"] {
            assert!(is_host(yes.as_bytes()), "{yes}");
        }
        for no in [
            "hos", "hosts", "h0st", "host\x00", "hOS\x14", "\x08ost", "post",
        ] {
            assert!(!is_host(no.as_bytes()), "{no:?}");
        }
        // Every 4-byte name that matches is a spelling of `host`.
        for b in 0..=255u8 {
            let name = [b, b'o', b's', b't'];
            assert_eq!(is_host(&name), b == b'h' || b == b'H', "{b}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(
            p("GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
            Err(HeadError::VersionNotSupported)
        );
        assert_eq!(
            p("GET / HTTP/9.9\r\nHost: a\r\n\r\n"),
            Err(HeadError::VersionNotSupported)
        );
        assert_eq!(
            p("GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
            Err(HeadError::LaterMinorVersion)
        );
        assert_eq!(
            p("GET / HTTX/1.1\r\nHost: a\r\n\r\n"),
            Err(HeadError::Malformed)
        );
        let fixed = as_http11(b"GET /x HTTP/1.7\r\nHost: a\r\n\r\n");
        assert_eq!(fixed, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(!p("GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap().http10);
    }

    #[test]
    fn expect_continue_is_ignored_in_http10() {
        let h = "Expect: 100-continue\r\nContent-Length: 1\r\n\r\n";
        assert!(
            p(&format!("POST / HTTP/1.1\r\nHost: a\r\n{h}"))
                .unwrap()
                .expect_continue
        );
        assert!(
            !p(&format!("POST / HTTP/1.0\r\n{h}"))
                .unwrap()
                .expect_continue
        );
    }

    #[test]
    fn implausible_starts_fail_early() {
        assert!(plausible_start(b"GE"));
        assert!(plausible_start(b"\r\nGET /x"));
        assert!(plausible_start(b""));
        assert!(!plausible_start(b"\x16\x03\x01\x02\x00\x01"));
        assert!(!plausible_start(b"GET\x00"));
        assert!(request_line_too_long(&[b'a'; 100], 50));
        assert!(!request_line_too_long(
            b"GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaa",
            20
        ));
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(p("\x16\x03\x01garbage\r\n\r\n"), Err(HeadError::Malformed));
        assert_eq!(p("\r\n\r\n"), Err(HeadError::Malformed));
    }

    #[test]
    fn too_many_headers() {
        let mut s = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 0..100 {
            s.push_str(&format!("X-{i}: v\r\n"));
        }
        s.push_str("\r\n");
        assert_eq!(p(&s), Err(HeadError::TooManyHeaders));
    }
}
