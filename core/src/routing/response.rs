//! Responses a route or handler gives, and their wire form prepared ahead of time.

use bytes::Bytes;

use crate::error::{ConfigError, ConfigProblem};
use crate::faults::{Step, Steps};
use crate::syntax::check_header;

/// An HTTP response: status, headers and body. The server adds `Server`, `Date`,
/// `Content-Length` and `Connection` itself; headers of those names given here are
/// left out, so that the framing is always right.
///
/// ```
/// use pierhead::Response;
/// let r = Response::new(201).header("Location", "/items/7").body("made\n");
/// assert_eq!(r.status, 201);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100..=999 (three digits).
    pub status: u16,
    /// Extra headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body (left out for HEAD requests and for 1xx, 204 and 304).
    pub body: Vec<u8>,
    /// A streamed body instead of `body`: see [`Response::stream`].
    pub stream: Option<Steps>,
}

impl Response {
    /// A response with this status, no headers and an empty body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            stream: None,
        }
    }

    /// A response whose body is streamed as these steps: pieces sent as chunks,
    /// pauses between them, and faults (cut, reset) inside the stream. See
    /// [`Step`](crate::Step) and [`Sse`](crate::Sse).
    pub fn stream(status: u16, steps: impl IntoIterator<Item = Step>) -> Response {
        let mut r = Response::new(status);
        r.stream = Some(steps.into_iter().collect());
        r
    }

    /// `Content-Type: text/plain; charset=utf-8` with `body`.
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response::new(status)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body.into())
    }

    /// `Content-Type: application/json` with `json` (sent as given).
    pub fn json(status: u16, json: impl Into<String>) -> Response {
        Response::new(status)
            .header("Content-Type", "application/json")
            .body(json.into())
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// Checks the status and headers; an error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(100..=999).contains(&self.status) {
            return Err(ConfigError {
                field: "response.status",
                problem: if self.status < 100 {
                    ConfigProblem::TooSmall {
                        min: 100,
                        got: self.status.into(),
                    }
                } else {
                    ConfigProblem::TooLarge {
                        max: 999,
                        got: self.status.into(),
                    }
                },
            });
        }
        for (name, value) in &self.headers {
            check_header("response.header", name, value)?;
        }
        Ok(())
    }
}

/// Headers the server writes itself.
const MANAGED: [&str; 5] = [
    "server",
    "date",
    "content-length",
    "connection",
    "transfer-encoding",
];

/// A response in wire form, minus what changes per request (`Date`, `Connection`):
/// built once per static route, so serving it is a few copies.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// Status line, `Server`, the user's headers and `Content-Length` (if any), each
    /// ending in CRLF.
    pub(crate) head: Vec<u8>,
    /// Shared, so that sending it to many connections (or queueing it for a slow
    /// one) never copies it.
    pub(crate) body: Bytes,
    /// False for 1xx, 204 and 304, which never carry a body.
    pub(crate) has_body: bool,
    /// A streamed body (the head then has no `Content-Length`).
    pub(crate) stream: Option<Steps>,
}

impl Prepared {
    /// Prepares a copy of a response. A header with CR or LF (possible only for a
    /// handler's unvalidated response) is left out rather than injected.
    pub(crate) fn new(r: &Response) -> Prepared {
        let (head, has_body) = Prepared::head_of(r);
        Prepared {
            head,
            body: if has_body {
                Bytes::copy_from_slice(&r.body)
            } else {
                Bytes::new()
            },
            has_body,
            stream: r.stream.clone(),
        }
    }

    /// Prepares a response, taking its body without copying it.
    pub(crate) fn from_response(r: Response) -> Prepared {
        let (head, has_body) = Prepared::head_of(&r);
        Prepared {
            head,
            body: if has_body {
                Bytes::from(r.body)
            } else {
                Bytes::new()
            },
            has_body,
            stream: r.stream,
        }
    }

    fn head_of(r: &Response) -> (Vec<u8>, bool) {
        let mut head = Vec::with_capacity(128);
        let mut num = itoa::Buffer::new();
        head.extend_from_slice(b"HTTP/1.1 ");
        head.extend_from_slice(num.format(r.status).as_bytes());
        head.push(b' ');
        head.extend_from_slice(reason(r.status).as_bytes());
        head.extend_from_slice(b"\r\nServer: pierhead\r\n");
        for (name, value) in &r.headers {
            if MANAGED.iter().any(|m| name.eq_ignore_ascii_case(m))
                || check_header("response.header", name, value).is_err()
            {
                continue;
            }
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        let has_body = !(r.status < 200 || r.status == 204 || r.status == 304);
        if has_body && r.stream.is_none() {
            head.extend_from_slice(b"Content-Length: ");
            head.extend_from_slice(num.format(r.body.len()).as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        (head, has_body)
    }
}

/// The reason phrase of a status code.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        418 => "I'm a teapot",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_headers_are_replaced_and_204_has_no_length() {
        let r = Response::text(200, "abc")
            .header("Content-Length", "99")
            .header("X-Ok", "1")
            .header("Bad", "a\r\nInjected: 1");
        let p = Prepared::new(&r);
        let head = String::from_utf8(p.head.clone()).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\nServer: pierhead\r\n"));
        assert!(head.contains("X-Ok: 1\r\n"));
        assert!(head.ends_with("Content-Length: 3\r\n"));
        assert!(!head.contains("99") && !head.contains("Injected"));
        let p = Prepared::new(&Response::new(204).body("ignored"));
        assert!(!p.has_body && p.body.is_empty());
        assert!(!String::from_utf8_lossy(&p.head).contains("Content-Length"));
    }
}
