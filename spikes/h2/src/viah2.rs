//! hyperium's `h2` (server side) driven from the mio loop without a tokio runtime.
//!
//! `h2::server::Connection<T, B>` wants `T: tokio::io::AsyncRead + AsyncWrite +
//! Unpin`; here `T` is [`MemIo`], an in-memory pipe pair the loop fills with the
//! bytes it read from the socket and empties into the socket after each poll. The
//! futures are polled with a [`Waker`] made from an `Arc`-based [`Wake`] that only
//! raises a flag ("poll this connection again"); the loop polls until the flag stays
//! down. Nothing ever waits on a reactor: a read with no bytes is `Pending`, and the
//! loop polls again when the socket brings more (it always does after a read), so the
//! reader never has to keep the waker.

use crate::{Close, Session, BODY};
use bytes::Bytes;
use h2::server::{self, Connection, Handshake, SendResponse};
use h2::RecvStream;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Output `h2` may queue before its writes return `Pending` (until the loop drains it).
const OUT_LIMIT: usize = 256 * 1024;

/// The socket side of one connection: bytes read and not yet taken by `h2`, bytes
/// `h2` wrote and the loop has not yet sent.
#[derive(Default)]
struct Pipes {
    input: Vec<u8>,
    taken: usize,
    eof: bool,
    output: Vec<u8>,
    /// A write was refused (`Pending`) for want of room.
    blocked: bool,
}

/// What `h2` sees as its transport.
pub struct MemIo(Rc<RefCell<Pipes>>);

impl AsyncRead for MemIo {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut p = self.0.borrow_mut();
        let start = p.taken;
        let avail = p.input.len() - start;
        if avail == 0 {
            // EOF is a ready read of nothing; otherwise wait for the loop's next feed.
            return if p.eof {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            };
        }
        let n = avail.min(buf.remaining());
        buf.put_slice(&p.input[start..start + n]);
        p.taken += n;
        if p.taken == p.input.len() {
            p.input.clear();
            p.taken = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut p = self.0.borrow_mut();
        if p.output.len() >= OUT_LIMIT {
            // The loop calls `drained` (which polls again) once the socket took it.
            p.blocked = true;
            return Poll::Pending;
        }
        p.output.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The waker: "poll me again". `Wake` needs `Send + Sync` although everything here
/// is on one thread, hence the atomic.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

enum State {
    Handshake(Handshake<MemIo, Bytes>),
    Open(Connection<MemIo, Bytes>),
    Done,
}

/// One h2 connection as a [`Session`].
pub struct H2Session {
    pipes: Rc<RefCell<Pipes>>,
    state: State,
    flag: Arc<Flag>,
    waker: Waker,
    /// Requests whose body is still coming: read to the end (releasing flow-control
    /// capacity as it comes), then answered.
    bodies: Vec<(RecvStream, Option<SendResponse<Bytes>>)>,
}

impl Default for H2Session {
    fn default() -> Self {
        Self::new()
    }
}

impl H2Session {
    pub fn new() -> Self {
        let pipes = Rc::new(RefCell::new(Pipes::default()));
        let handshake = server::Builder::new()
            .max_concurrent_streams(128)
            .handshake(MemIo(pipes.clone()));
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        H2Session {
            pipes,
            state: State::Handshake(handshake),
            flag,
            waker,
            bodies: Vec::new(),
        }
    }

    /// Polls until nothing asks to be polled again; `Err` once the connection is over.
    fn run(&mut self) -> Result<(), Close> {
        let mut cx = Context::from_waker(&self.waker);
        loop {
            self.flag.0.store(false, Ordering::Relaxed);
            let mut again = false;
            match &mut self.state {
                State::Handshake(h) => match Pin::new(h).poll(&mut cx) {
                    Poll::Ready(Ok(conn)) => {
                        self.state = State::Open(conn);
                        continue;
                    }
                    Poll::Ready(Err(_)) => {
                        self.state = State::Done;
                        return Err(Close);
                    }
                    Poll::Pending => {}
                },
                State::Open(conn) => {
                    loop {
                        match conn.poll_accept(&mut cx) {
                            Poll::Ready(Some(Ok((req, respond)))) => {
                                let body = req.into_body();
                                if body.is_end_stream() {
                                    answer(respond);
                                } else {
                                    self.bodies.push((body, Some(respond)));
                                }
                            }
                            // A connection error (h2 queued its GOAWAY) or the end.
                            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => {
                                self.state = State::Done;
                                return Err(Close);
                            }
                            Poll::Pending => break,
                        }
                    }
                    self.bodies.retain_mut(|(body, respond)| loop {
                        match body.poll_data(&mut cx) {
                            Poll::Ready(Some(Ok(chunk))) => {
                                let _ = body.flow_control().release_capacity(chunk.len());
                            }
                            Poll::Ready(Some(Err(_))) => return false,
                            Poll::Ready(None) => {
                                if let Some(r) = respond.take() {
                                    answer(r);
                                    again = true;
                                }
                                return false;
                            }
                            Poll::Pending => return true,
                        }
                    });
                }
                State::Done => return Err(Close),
            }
            if !again && !self.flag.0.load(Ordering::Relaxed) {
                return Ok(());
            }
        }
    }

    /// Runs, then hands `out` what h2 wrote.
    fn run_out(&mut self, out: &mut Vec<u8>) -> Result<(), Close> {
        let r = self.run();
        let mut p = self.pipes.borrow_mut();
        if out.is_empty() {
            std::mem::swap(out, &mut p.output);
        } else {
            out.append(&mut p.output);
        }
        r
    }
}

fn answer(mut respond: SendResponse<Bytes>) {
    let mut response = http::Response::new(());
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    h.insert(CONTENT_LENGTH, HeaderValue::from_static("6"));
    if let Ok(mut stream) = respond.send_response(response, false) {
        let _ = stream.send_data(Bytes::from_static(BODY), true);
    }
}

impl Session for H2Session {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Close> {
        self.pipes.borrow_mut().input.extend_from_slice(input);
        self.run_out(out)
    }
    fn eof(&mut self, out: &mut Vec<u8>) {
        self.pipes.borrow_mut().eof = true;
        let _ = self.run_out(out);
    }
    fn drained(&mut self, out: &mut Vec<u8>) -> Result<(), Close> {
        let blocked = std::mem::take(&mut self.pipes.borrow_mut().blocked);
        if !blocked || matches!(self.state, State::Done) {
            return Ok(());
        }
        self.run_out(out)
    }
}
