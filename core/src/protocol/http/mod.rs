//! `http`: HTTP/1.1 and 1.0 with keep-alive and pipelining.
//!
//! Every complete request in the input is answered, in order, into one output
//! buffer, so a pipelined batch goes out in one write. For now every request gets the
//! fixed benchmark response `200 text/plain "hello\n"`; routes arrive with their own
//! issue and plug in where [`Session::respond`] picks the response.
//!
//! Bodies are framed by Content-Length (skipped as they stream in, never buffered);
//! chunked bodies are answered 501 until chunked decoding lands. Errors answer with
//! `Connection: close` and the connection closes after a lingering shutdown.

mod date;
pub(crate) mod head;
pub(crate) mod response;

pub(crate) use date::DateCache;

use super::{Ctx, Next, Progress};
use head::BodyFraming;
use response::ConnectionHeader;

/// The fixed response body when no route is defined.
pub(crate) const HELLO: &[u8] = b"hello\n";

/// A request whose head was read and whose body is still arriving.
#[derive(Debug, Clone, Copy)]
struct Pending {
    head_only: bool,
    connection: ConnectionHeader,
}

/// Per-connection HTTP state: 24 bytes, no allocation.
#[derive(Debug, Default)]
pub(crate) struct Session {
    /// Offset into the pending head already searched for its end.
    scanned: usize,
    /// Body bytes of the current request still to be received.
    body_remaining: u64,
    /// The request being received, once its head is complete.
    pending: Option<Pending>,
}

impl Session {
    pub(crate) fn is_idle(&self) -> bool {
        self.scanned == 0 && self.pending.is_none()
    }

    pub(crate) fn on_input(&mut self, input: &[u8], ctx: &mut Ctx<'_>) -> Progress {
        let mut pos = 0;
        loop {
            if let Some(pending) = self.pending {
                let take = self.body_remaining.min((input.len() - pos) as u64);
                pos += take as usize;
                self.body_remaining -= take;
                if self.body_remaining > 0 {
                    return continue_at(pos);
                }
                self.pending = None;
                if respond(pending, ctx) == Next::Close {
                    return close_after(input);
                }
                continue;
            }
            let rest = &input[pos..];
            if rest.is_empty() {
                return continue_at(pos);
            }
            let end = match head::find_end(rest, self.scanned) {
                Ok(end) => end,
                Err(resume) => {
                    if rest.len() > ctx.limits.max_header_bytes {
                        return fail(431, input, ctx);
                    }
                    self.scanned = resume;
                    return continue_at(pos);
                }
            };
            self.scanned = 0;
            if end > ctx.limits.max_header_bytes {
                return fail(431, input, ctx);
            }
            let head = match head::parse(&rest[..end]) {
                Ok(head) => head,
                Err(e) => return fail(e.status(), input, ctx),
            };
            pos += end;
            ctx.counters.requests.incr();
            let connection = if !head.keep_alive || ctx.stopping {
                ConnectionHeader::Close
            } else if head.http10 {
                ConnectionHeader::KeepAlive
            } else {
                ConnectionHeader::Omit
            };
            let pending = Pending {
                head_only: head.is_head,
                connection,
            };
            match head.body {
                BodyFraming::None => {}
                BodyFraming::Length(n) if n > ctx.limits.max_body_bytes => {
                    return fail(413, input, ctx);
                }
                BodyFraming::Length(n) => {
                    if head.expect_continue {
                        ctx.out.extend_from_slice(response::CONTINUE);
                    }
                    self.body_remaining = n;
                    self.pending = Some(pending);
                    continue;
                }
                BodyFraming::Chunked => return fail(501, input, ctx),
            }
            if respond(pending, ctx) == Next::Close {
                return close_after(input);
            }
        }
    }

    /// The request in progress timed out: 408, then close.
    pub(crate) fn on_request_timeout(&mut self, ctx: &mut Ctx<'_>) {
        self.pending = None;
        self.scanned = 0;
        write_error(408, ctx);
    }
}

/// Answers a complete request.
fn respond(pending: Pending, ctx: &mut Ctx<'_>) -> Next {
    response::write_text(
        ctx.out,
        200,
        ctx.date,
        HELLO,
        pending.connection,
        pending.head_only,
    );
    ctx.counters.responses.incr();
    if pending.connection == ConnectionHeader::Close {
        Next::Close
    } else {
        Next::Continue
    }
}

fn write_error(status: u16, ctx: &mut Ctx<'_>) {
    let mut body = [0u8; 64];
    let text = response::reason(status).as_bytes();
    let n = text.len().min(body.len() - 1);
    body[..n].copy_from_slice(&text[..n]);
    body[n] = b'\n';
    response::write_text(
        ctx.out,
        status,
        ctx.date,
        &body[..=n],
        ConnectionHeader::Close,
        false,
    );
    ctx.counters.responses.incr();
}

/// Bad input: answer `status`, count it, and close; nothing after it is executed.
fn fail(status: u16, input: &[u8], ctx: &mut Ctx<'_>) -> Progress {
    ctx.counters.protocol_errors.incr();
    write_error(status, ctx);
    close_after(input)
}

fn continue_at(pos: usize) -> Progress {
    Progress {
        consumed: pos,
        next: Next::Continue,
    }
}

fn close_after(input: &[u8]) -> Progress {
    Progress {
        consumed: input.len(),
        next: Next::Close,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Limits;
    use crate::stats::Counters;

    struct Harness {
        out: Vec<u8>,
        counters: Counters,
        limits: Limits,
        session: Session,
        buffered: Vec<u8>,
        closed: bool,
    }

    impl Harness {
        fn new() -> Harness {
            Harness {
                out: Vec::new(),
                counters: Counters::default(),
                limits: Limits {
                    max_header_bytes: 1024,
                    max_body_bytes: 100,
                },
                session: Session::default(),
                buffered: Vec::new(),
                closed: false,
            }
        }

        /// Feeds bytes the way the worker does: unconsumed input is kept and extended.
        fn feed(&mut self, bytes: &[u8]) {
            assert!(!self.closed, "fed after close");
            self.buffered.extend_from_slice(bytes);
            let mut ctx = Ctx {
                out: &mut self.out,
                counters: &self.counters,
                limits: &self.limits,
                date: b"Thu, 01 Jan 1970 00:00:00 GMT",
                stopping: false,
            };
            let p = self.session.on_input(&self.buffered, &mut ctx);
            self.buffered.drain(..p.consumed);
            self.closed = p.next == Next::Close;
        }

        fn statuses(&self) -> Vec<u16> {
            let s = String::from_utf8_lossy(&self.out);
            s.match_indices("HTTP/1.1 ")
                .map(|(i, _)| s[i + 9..i + 12].parse().unwrap())
                .collect()
        }
    }

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn pipelined_batch_any_split_gives_same_output() {
        let mut batch = Vec::new();
        for _ in 0..10 {
            batch.extend_from_slice(GET);
        }
        batch.extend_from_slice(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody");
        batch.extend_from_slice(GET);
        let mut whole = Harness::new();
        whole.feed(&batch);
        assert_eq!(whole.statuses(), vec![200; 12]);
        for split in 1..batch.len() {
            let mut h = Harness::new();
            h.feed(&batch[..split]);
            h.feed(&batch[split..]);
            assert_eq!(h.out, whole.out, "split at {split}");
            assert!(h.session.is_idle() && h.buffered.is_empty());
        }
        let mut bytewise = Harness::new();
        for b in &batch {
            bytewise.feed(std::slice::from_ref(b));
        }
        assert_eq!(bytewise.out, whole.out);
    }

    #[test]
    fn garbage_gets_400_and_stops_the_pipeline() {
        let mut h = Harness::new();
        let mut input = b"BAD\x01REQUEST\r\n\r\n".to_vec();
        input.extend_from_slice(GET);
        h.feed(&input);
        assert_eq!(h.statuses(), vec![400]);
        assert!(h.closed);
        assert_eq!(h.counters.protocol_errors.get(), 1);
    }

    #[test]
    fn oversized_head_gets_431_even_when_split() {
        let mut h = Harness::new();
        h.feed(b"GET / HTTP/1.1\r\n");
        for _ in 0..100 {
            if h.closed {
                break;
            }
            h.feed(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert!(h.closed);
        assert_eq!(h.statuses(), vec![431]);
    }

    #[test]
    fn large_body_gets_413_and_expect_gets_100() {
        let mut h = Harness::new();
        h.feed(b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
        assert_eq!(h.statuses(), vec![413]);
        let mut h = Harness::new();
        h.feed(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(h.statuses(), vec![100]);
        assert!(!h.session.is_idle());
        h.feed(b"abc");
        assert_eq!(h.statuses(), vec![100, 200]);
        assert!(h.session.is_idle());
    }

    #[test]
    fn head_has_no_body_and_close_closes() {
        let mut h = Harness::new();
        h.feed(b"HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        let s = String::from_utf8(h.out.clone()).unwrap();
        assert_eq!(s.matches("hello\n").count(), 1);
        assert!(s.ends_with("Connection: close\r\n\r\nhello\n"));
        assert!(h.closed);
    }
}
