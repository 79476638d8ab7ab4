//! HTTP/1.1: the request, built once, and a streaming reader that checks every
//! response (status line and headers by httparse, the body by Content-Length or
//! chunked coding) without buffering bodies.

use memchr::memmem;

use super::answer::{Answers, Cut, Framing};
use crate::config::{BenchConfig, Target};

/// Longest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in a response.
const MAX_HEADERS: usize = 64;

/// The request's bytes (one request; a batch is it repeated).
pub(crate) fn request(config: &BenchConfig, target: &Target) -> Vec<u8> {
    let mut r = Vec::with_capacity(128 + config.body.len());
    r.extend_from_slice(config.method.as_bytes());
    r.push(b' ');
    r.extend_from_slice(target.path.as_bytes());
    r.extend_from_slice(b" HTTP/1.1\r\n");
    let has = |name: &str| {
        config
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    if !has("host") {
        r.extend_from_slice(b"Host: ");
        r.extend_from_slice(target.authority.as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    for (name, value) in &config.headers {
        r.extend_from_slice(name.as_bytes());
        r.extend_from_slice(b": ");
        r.extend_from_slice(value.as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    if !config.body.is_empty() && !has("content-length") {
        r.extend_from_slice(b"Content-Length: ");
        r.extend_from_slice(config.body.len().to_string().as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(&config.body);
    r
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the size line (hex digits, then extensions up to CRLF).
    Size {
        value: u64,
        digits: u8,
        in_ext: bool,
        cr: bool,
    },
    /// Chunk data left.
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd { cr: bool },
    /// Trailer lines after the last chunk, until an empty one.
    Trailer { line_len: usize, cr: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body(u64),
    Chunked(Chunk),
    /// No length: the body runs to the end of the connection.
    UntilClose,
}

/// What a response head says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    /// A 1xx answer: the real response follows.
    interim: bool,
    bad_status: bool,
    close: bool,
    /// How the body is framed.
    body: State,
}

/// Heads up to this long are remembered: the next one, byte for byte the same
/// (a server's answers usually are, but for the Date header once a second), is
/// not parsed again.
const CACHED_HEAD: usize = 1024;

/// Reads the responses of one connection.
#[derive(Debug)]
pub(crate) struct Reader {
    state: State,
    /// A response head split across reads.
    partial: Vec<u8>,
    head_request: bool,
    /// The last head checked, and what it said.
    last: Vec<u8>,
    last_parsed: Option<Parsed>,
    /// The response being read says the server closes after it (`Connection:
    /// close`, or HTTP/1.0 without keep-alive): told when it completes, which
    /// may be a later read than its head's, or the end of the connection.
    closing: bool,
}

impl Reader {
    pub(crate) fn new(head_request: bool) -> Reader {
        Reader {
            state: State::Head,
            partial: Vec::new(),
            head_request,
            last: Vec::new(),
            last_parsed: None,
            closing: false,
        }
    }

    /// Reads `data`, counting the responses it completes. After a response that
    /// says the server closes (`out.close`), the rest is not read.
    pub(crate) fn feed(&mut self, data: &[u8], out: &mut Answers) -> Result<(), Framing> {
        let mut pos = 0;
        while pos < data.len() && !out.close {
            match self.state {
                State::Head => {
                    if self.partial.is_empty() {
                        let rest = &data[pos..];
                        if let Some(p) = self.last_parsed {
                            if rest.starts_with(&self.last) {
                                pos += self.last.len();
                                self.apply(p, out);
                                continue;
                            }
                        }
                        match memmem::find(rest, b"\r\n\r\n") {
                            Some(i) => {
                                let head_len = i + 4;
                                self.head(&rest[..head_len], out)?;
                                pos += head_len;
                            }
                            None => {
                                if rest.len() > MAX_HEAD {
                                    return Err(Framing::Http("response head too long"));
                                }
                                self.partial.extend_from_slice(rest);
                                return Ok(());
                            }
                        }
                    } else {
                        let before = self.partial.len();
                        self.partial.extend_from_slice(&data[pos..]);
                        // The end may straddle the boundary: search from 3 bytes back.
                        let from = before.saturating_sub(3);
                        match memmem::find(&self.partial[from..], b"\r\n\r\n") {
                            Some(i) => {
                                let head_len = from + i + 4;
                                let head = std::mem::take(&mut self.partial);
                                self.head(&head[..head_len], out)?;
                                pos += head_len - before;
                                let mut head = head;
                                head.clear();
                                self.partial = head; // keeps its capacity
                            }
                            None => {
                                if self.partial.len() > MAX_HEAD {
                                    return Err(Framing::Http("response head too long"));
                                }
                                return Ok(());
                            }
                        }
                    }
                }
                State::Body(left) => {
                    let take = left.min((data.len() - pos) as u64);
                    pos += take as usize;
                    if take == left {
                        self.complete(out);
                    } else {
                        self.state = State::Body(left - take);
                    }
                }
                State::Chunked(c) => {
                    pos += self.chunked(c, &data[pos..], out)?;
                }
                State::UntilClose => return Ok(()),
            }
        }
        Ok(())
    }

    /// The connection ended: a body that runs to the close is complete (and the
    /// server closed after it, `out.close`); a response cut anywhere else is a
    /// [`Cut`].
    pub(crate) fn eof(&mut self, out: &mut Answers) -> Result<(), Cut> {
        match self.state {
            State::UntilClose => {
                self.complete(out);
                out.close = true;
                Ok(())
            }
            State::Head if self.partial.is_empty() => Ok(()),
            _ => Err(Cut),
        }
    }

    fn complete(&mut self, out: &mut Answers) {
        out.complete += 1;
        out.close |= self.closing;
        self.state = State::Head;
    }

    /// A complete head: check it, decide how the body is framed, remember it.
    fn head(&mut self, head: &[u8], out: &mut Answers) -> Result<(), Framing> {
        let p = parse(head, self.head_request)?;
        if head.len() <= CACHED_HEAD {
            self.last.clear();
            self.last.extend_from_slice(head);
            self.last_parsed = Some(p);
        }
        self.apply(p, out);
        Ok(())
    }

    fn apply(&mut self, p: Parsed, out: &mut Answers) {
        if p.interim {
            return;
        }
        out.bad_status += u32::from(p.bad_status);
        self.closing = p.close;
        self.state = p.body;
        if self.state == State::Body(0) {
            self.complete(out);
        }
    }

    /// Steps the chunked decoder over `data`; returns the bytes used.
    fn chunked(&mut self, mut c: Chunk, data: &[u8], out: &mut Answers) -> Result<usize, Framing> {
        let mut pos = 0;
        let bad = Framing::Http("malformed chunked body");
        while pos < data.len() {
            if let Chunk::Data(left) = &mut c {
                let take = (*left).min((data.len() - pos) as u64);
                pos += take as usize;
                *left -= take;
                if *left == 0 {
                    c = Chunk::DataEnd { cr: false };
                }
                continue;
            }
            let b = data[pos];
            pos += 1;
            match &mut c {
                Chunk::Size {
                    value,
                    digits,
                    in_ext,
                    cr,
                } => {
                    if *cr {
                        if b != b'\n' || *digits == 0 {
                            return Err(bad);
                        }
                        c = if *value == 0 {
                            Chunk::Trailer {
                                line_len: 0,
                                cr: false,
                            }
                        } else {
                            Chunk::Data(*value)
                        };
                    } else if b == b'\r' {
                        *cr = true;
                    } else if *in_ext {
                    } else if b == b';' {
                        *in_ext = true;
                    } else if let Some(d) = (b as char).to_digit(16) {
                        if *digits >= 16 {
                            return Err(bad);
                        }
                        *value = *value * 16 + u64::from(d);
                        *digits += 1;
                    } else if b != b' ' && b != b'\t' {
                        return Err(bad);
                    }
                }
                Chunk::DataEnd { cr } => {
                    if !*cr && b == b'\r' {
                        *cr = true;
                    } else if *cr && b == b'\n' {
                        c = Chunk::Size {
                            value: 0,
                            digits: 0,
                            in_ext: false,
                            cr: false,
                        };
                    } else {
                        return Err(bad);
                    }
                }
                Chunk::Trailer { line_len, cr } => {
                    if *cr {
                        if b != b'\n' {
                            return Err(bad);
                        }
                        if *line_len == 0 {
                            self.complete(out);
                            return Ok(pos);
                        }
                        *line_len = 0;
                        *cr = false;
                    } else if b == b'\r' {
                        *cr = true;
                    } else {
                        *line_len += 1;
                        if *line_len > MAX_HEAD {
                            return Err(bad);
                        }
                    }
                }
                Chunk::Data(_) => unreachable!("handled above"),
            }
        }
        self.state = State::Chunked(c);
        Ok(pos)
    }
}

/// What a complete response head says, or why it is not a valid one.
fn parse(head: &[u8], head_request: bool) -> Result<Parsed, Framing> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) | Err(_) => {
            return Err(Framing::Http("malformed response head"))
        }
    }
    let status = resp.code.unwrap_or(0);
    if (100..200).contains(&status) && status != 101 {
        // 100 Continue and the like: the real response follows.
        return Ok(Parsed {
            interim: true,
            bad_status: false,
            close: false,
            body: State::Head,
        });
    }
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = resp.version == Some(0);
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(Framing::Http("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(Framing::Http("two different Content-Lengths"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            chunked = last.trim_ascii().eq_ignore_ascii_case(b"chunked");
        } else if h.name.eq_ignore_ascii_case("connection") {
            let has = |word: &[u8]| {
                h.value
                    .split(|&b| b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(word))
            };
            if has(b"close") {
                close = true;
            } else if has(b"keep-alive") {
                close = false;
            }
        }
    }
    let no_body = head_request || status == 204 || status == 304;
    let body = if no_body {
        State::Body(0)
    } else if chunked {
        if length.is_some() {
            return Err(Framing::Http("Content-Length with chunked coding"));
        }
        State::Chunked(Chunk::Size {
            value: 0,
            digits: 0,
            in_ext: false,
            cr: false,
        })
    } else {
        match length {
            Some(n) => State::Body(n),
            None if close => State::UntilClose,
            None => return Err(Framing::Http("keep-alive response without a length")),
        }
    };
    Ok(Parsed {
        interim: false,
        bad_status: !(200..400).contains(&status),
        close,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(parts: &[&[u8]], head: bool) -> Result<Answers, Framing> {
        let mut r = Reader::new(head);
        let mut a = Answers::default();
        for p in parts {
            r.feed(p, &mut a)?;
        }
        Ok(a)
    }

    #[test]
    fn responses_at_every_split() {
        let wire: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello\
HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n\
HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nT: v\r\n\r\n\
HTTP/1.1 204 No Content\r\n\r\n";
        let whole = feed_all(&[wire], false).unwrap();
        assert_eq!((whole.complete, whole.bad_status), (4, 1));
        for cut in 1..wire.len() {
            let a = feed_all(&[&wire[..cut], &wire[cut..]], false).unwrap();
            assert_eq!((a.complete, a.bad_status), (4, 1), "cut at {cut}");
        }
        let bytewise: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(feed_all(&bytewise, false).unwrap().complete, 4);
    }

    #[test]
    fn a_remembered_head_is_reused_only_when_byte_for_byte_the_same() {
        let mut r = Reader::new(false);
        let mut a = Answers::default();
        let five = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        r.feed(&five.repeat(3), &mut a).unwrap();
        assert_eq!(a.complete, 3);
        // One byte differs: parsed again (a 6-byte body, then a 404).
        r.feed(
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello!",
            &mut a,
        )
        .unwrap();
        r.feed(
            b"HTTP/1.1 404 OK\r\nContent-Length: 6\r\n\r\nhello!",
            &mut a,
        )
        .unwrap();
        assert_eq!((a.complete, a.bad_status), (5, 1));
        r.feed(five, &mut a).unwrap();
        assert_eq!((a.complete, a.bad_status, r.state), (6, 1, State::Head));
    }

    #[test]
    fn head_requests_have_no_body_and_close_is_seen() {
        let a = feed_all(&[b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"], true).unwrap();
        assert_eq!(a.complete, 1);
        let a = feed_all(
            &[b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"],
            false,
        )
        .unwrap();
        assert!(a.close && a.complete == 1);
        let mut r = Reader::new(false);
        let mut a = Answers::default();
        r.feed(b"HTTP/1.0 200 OK\r\n\r\nbody until close", &mut a)
            .unwrap();
        assert_eq!(a.complete, 0);
        r.eof(&mut a).unwrap();
        assert!(
            a.complete == 1 && a.close,
            "complete, and the server closed"
        );
    }

    #[test]
    fn a_close_is_told_with_the_answer_it_follows_whatever_the_reads() {
        // Issue 22: the head said close in one read, the body came in the next:
        // the close was forgotten and the next request went to a closing server.
        for (head, body) in [
            (
                &b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n"[..],
                &b"hi\n"[..],
            ),
            (
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\n",
                b"hi\n",
            ),
            (
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"3\r\nhi\n\r\n0\r\n\r\n",
            ),
        ] {
            let mut r = Reader::new(false);
            let mut a = Answers::default();
            r.feed(head, &mut a).unwrap();
            assert_eq!((a.complete, a.close), (0, false));
            let mut a = Answers::default();
            r.feed(body, &mut a).unwrap();
            assert_eq!(
                (a.complete, a.close),
                (1, true),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        // HTTP/1.0 with keep-alive stays open.
        let a = feed_all(
            &[b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx"],
            false,
        )
        .unwrap();
        assert_eq!((a.complete, a.close), (1, false));
        // Cut in the middle of a body or a head: a cut, not a wrong answer.
        for cut in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab"[..],
            b"HTTP/1.1 200 OK\r\nCont",
        ] {
            let mut r = Reader::new(false);
            r.feed(cut, &mut Answers::default()).unwrap();
            assert_eq!(r.eof(&mut Answers::default()), Err(Cut));
        }
    }

    #[test]
    fn garbage_is_a_framing_error() {
        for bad in [
            &b"garbage\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        ] {
            assert!(
                feed_all(&[bad], false).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut r = Reader::new(false);
        let mut a = Answers::default();
        r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", &mut a)
            .unwrap();
        assert!(r.eof(&mut a).is_err(), "a cut body");
        assert!(feed_all(&[&vec![b'x'; MAX_HEAD + 1]], false).is_err());
    }
}
