//! Writing responses into the output buffer.

use crate::routing::{reason, Prepared, Response};

/// What the `Connection` header of a response says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnectionHeader {
    /// No header: HTTP/1.1 keep-alive by default.
    Omit,
    /// `Connection: keep-alive`, for HTTP/1.0 clients that asked for it.
    KeepAlive,
    /// `Connection: close`: the server closes after this response.
    Close,
}

/// The fixed response body when no route is defined.
pub(crate) const HELLO: &[u8] = b"hello\n";

/// The answer to requests no route matches: `status` and its reason phrase.
pub(crate) fn unmatched_answer(status: u16) -> Prepared {
    Prepared::new(&Response::text(status, format!("{}\n", reason(status))))
}

/// Appends a complete response with a `text/plain` body. With `head_only` (a HEAD
/// request) the headers announce the body's length but the body is left out.
pub(crate) fn write_text(
    out: &mut Vec<u8>,
    status: u16,
    date: &[u8],
    body: &[u8],
    connection: ConnectionHeader,
    head_only: bool,
) {
    let mut num = itoa::Buffer::new();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(num.format(status).as_bytes());
    out.push(b' ');
    // The fixed response's status without the full reason table.
    out.extend_from_slice(if status == 200 { "OK" } else { reason(status) }.as_bytes());
    out.extend_from_slice(b"\r\nServer: pierhead\r\nDate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\nContent-Type: text/plain\r\nContent-Length: ");
    out.extend_from_slice(num.format(body.len()).as_bytes());
    out.extend_from_slice(connection_tail(connection));
    if !head_only {
        out.extend_from_slice(body);
    }
}

/// Appends the fixed `200 hello` response: its head is constant but for `Date`
/// and `Connection`, so it is copied, not formatted (the benchmark path).
#[inline]
pub(crate) fn write_hello(
    out: &mut Vec<u8>,
    date: &[u8],
    connection: ConnectionHeader,
    head_only: bool,
) {
    const START: &[u8] = b"HTTP/1.1 200 OK\r\nServer: pierhead\r\nDate: ";
    const MIDDLE: &[u8] = b"\r\nContent-Type: text/plain\r\nContent-Length: 6";
    let tail = connection_tail(connection);
    let body: &[u8] = if head_only { b"" } else { HELLO };
    out.reserve(START.len() + date.len() + MIDDLE.len() + tail.len() + body.len());
    out.extend_from_slice(START);
    out.extend_from_slice(date);
    out.extend_from_slice(MIDDLE);
    out.extend_from_slice(tail);
    out.extend_from_slice(body);
}

/// The fixed response rendered whole for each way it goes out (each `Connection`
/// header, with and without its body for HEAD), again whenever the date changes:
/// sending it is one copy (the benchmark path).
#[derive(Debug)]
pub(crate) struct Hello {
    rendered: Vec<u8>,
    /// Where each variant ends in `rendered` (see [`Hello::slot`]).
    ends: [usize; 6],
}

impl Hello {
    /// Rendered for `date`.
    pub(crate) fn new(date: &[u8]) -> Hello {
        let mut h = Hello {
            rendered: Vec::with_capacity(6 * 160),
            ends: [0; 6],
        };
        h.render(date);
        h
    }

    /// Renders every variant again with `date`.
    pub(crate) fn render(&mut self, date: &[u8]) {
        self.rendered.clear();
        for connection in [
            ConnectionHeader::Omit,
            ConnectionHeader::KeepAlive,
            ConnectionHeader::Close,
        ] {
            for head_only in [false, true] {
                write_hello(&mut self.rendered, date, connection, head_only);
                self.ends[Hello::slot(connection, head_only)] = self.rendered.len();
            }
        }
    }

    #[inline]
    fn slot(connection: ConnectionHeader, head_only: bool) -> usize {
        connection as usize * 2 + usize::from(head_only)
    }

    /// The response for `connection`, without its body when `head_only`.
    #[inline]
    pub(crate) fn get(&self, connection: ConnectionHeader, head_only: bool) -> &[u8] {
        let i = Hello::slot(connection, head_only);
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.rendered[start..self.ends[i]]
    }
}

/// Ends the header line being written, adds the `Connection` header if any, and
/// the blank line that ends the head.
pub(crate) fn connection_tail(connection: ConnectionHeader) -> &'static [u8] {
    match connection {
        ConnectionHeader::Omit => b"\r\n\r\n",
        ConnectionHeader::KeepAlive => b"\r\nConnection: keep-alive\r\n\r\n",
        ConnectionHeader::Close => b"\r\nConnection: close\r\n\r\n",
    }
}

/// The interim response to `Expect: 100-continue`.
pub(crate) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Sent to a connection refused for `max_connections`.
pub(crate) const SERVICE_UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nServer: pierhead\r\nContent-Type: text/plain\r\nContent-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rendered_hello_is_what_write_hello_writes() {
        let h = Hello::new(b"DATE");
        for connection in [
            ConnectionHeader::Omit,
            ConnectionHeader::KeepAlive,
            ConnectionHeader::Close,
        ] {
            for head_only in [false, true] {
                let mut want = Vec::new();
                write_hello(&mut want, b"DATE", connection, head_only);
                assert_eq!(h.get(connection, head_only), &want[..]);
            }
        }
    }

    #[test]
    fn writes_head_and_body() {
        let mut out = Vec::new();
        write_text(
            &mut out,
            200,
            b"DATE",
            b"hello\n",
            ConnectionHeader::Close,
            false,
        );
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            "HTTP/1.1 200 OK\r\nServer: pierhead\r\nDate: DATE\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n"
        );
        let mut out = Vec::new();
        write_text(
            &mut out,
            200,
            b"D",
            b"hello\n",
            ConnectionHeader::Omit,
            true,
        );
        assert!(out.ends_with(b"Content-Length: 6\r\n\r\n"));
    }

    #[test]
    fn hello_is_the_fixed_text_response() {
        for (connection, head_only) in [
            (ConnectionHeader::Omit, false),
            (ConnectionHeader::Close, false),
            (ConnectionHeader::KeepAlive, true),
        ] {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            write_hello(&mut fast, b"DATE", connection, head_only);
            write_text(&mut slow, 200, b"DATE", HELLO, connection, head_only);
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn refusal_length_is_right() {
        let s = std::str::from_utf8(SERVICE_UNAVAILABLE).unwrap();
        let (head, body) = s.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}
