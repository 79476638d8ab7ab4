//! A connection's send queue: the output the socket did not take yet, as a queue
//! of segments. Owned segments are pooled buffers holding copies of small answers;
//! shared segments are reference-counted slices of large bodies (a static route's
//! body is queued for a slow client without copying it).
//!
//! Every send in the worker goes through here: an answer as it was built
//! ([`send_all`], [`send_pieces`]) and the queue ([`SendQueue::send`]), to a [`Sink`]:
//! the socket, or the socket through TLS. Up to [`MAX_IOV`] segments go in one
//! `sendmsg(MSG_NOSIGNAL)` (`send` for one): a closed peer gives EPIPE, never
//! SIGPIPE in the host process (`writev` has no such flag).

use std::collections::VecDeque;
use std::io::{self, IoSlice};

use bytes::Bytes;
use mio::net::TcpStream;

use super::pool::BufferPool;
use crate::net::send_nosignal;
use crate::service::reply::{Piece, Reply};
use crate::tls::session::TlsSession;

/// Segments given to one `sendmsg`.
const MAX_IOV: usize = 64;

#[derive(Debug)]
enum Segment {
    /// A pooled buffer, of which the first `sent` bytes are sent.
    Owned { buf: Vec<u8>, sent: usize },
    /// A shared slice (a broadcast frame, a large body), of which the first `sent`
    /// bytes are sent.
    Shared { data: Bytes, sent: usize },
}

/// Pending output of one connection. Empty, it holds no allocation.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    segments: VecDeque<Segment>,
    /// Bytes still to send.
    len: usize,
}

impl SendQueue {
    /// Bytes queued and not yet sent.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Queues a copy of `data` (appended to the last owned segment if there is one).
    pub(crate) fn push_copy(&mut self, data: &[u8], pool: &mut BufferPool) {
        if data.is_empty() {
            return;
        }
        self.len += data.len();
        if let Some(Segment::Owned { buf, .. }) = self.segments.back_mut() {
            buf.extend_from_slice(data);
            return;
        }
        let mut buf = pool.take();
        buf.extend_from_slice(data);
        self.segments.push_back(Segment::Owned { buf, sent: 0 });
    }

    /// Queues a shared slice without copying it.
    pub(crate) fn push_shared(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.len += data.len();
        self.segments.push_back(Segment::Shared { data, sent: 0 });
    }

    /// Queues what is left of `out` after its first `skip` bytes (already sent).
    pub(crate) fn push_rest(&mut self, out: &Reply, mut skip: usize, pool: &mut BufferPool) {
        for piece in out.pieces() {
            let data = piece.as_slice();
            if skip >= data.len() {
                skip -= data.len();
                continue;
            }
            match piece {
                Piece::Owned(b) => self.push_copy(&b[skip..], pool),
                Piece::Shared(b) => self.push_shared(b.slice(skip..)),
            }
            skip = 0;
        }
    }

    /// Sends until everything is sent or the socket would block (what TLS still
    /// holds goes first). Returns the bytes sent and the error, if one other than
    /// WouldBlock ended it; adds the shared segments sent to their end (broadcast
    /// frames, large bodies) to `shared_done`.
    pub(crate) fn send(
        &mut self,
        sink: &mut Sink<'_>,
        pool: &mut BufferPool,
        shared_done: &mut u64,
    ) -> (usize, io::Result<()>) {
        match sink.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (0, Ok(())),
            Err(e) => return (0, Err(e)),
        }
        let mut total = 0;
        while self.len > 0 {
            let result = {
                let mut slices: [IoSlice<'_>; MAX_IOV] = [IoSlice::new(&[]); MAX_IOV];
                let mut n = 0;
                for seg in self.segments.iter().take(MAX_IOV) {
                    let data: &[u8] = match seg {
                        Segment::Owned { buf, sent } => &buf[*sent..],
                        Segment::Shared { data, sent } => &data[*sent..],
                    };
                    slices[n] = IoSlice::new(data);
                    n += 1;
                }
                sink.send_vectored(&slices[..n])
            };
            match result {
                Ok(0) => return (total, Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    total += n;
                    self.consume(n, pool, shared_done);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return (total, Err(e)),
            }
        }
        (total, Ok(()))
    }

    /// Drops `n` sent bytes from the front; emptied owned buffers go back to the
    /// pool; each shared segment sent to its end is added to `shared_done`.
    fn consume(&mut self, mut n: usize, pool: &mut BufferPool, shared_done: &mut u64) {
        self.len -= n;
        while n > 0 {
            let Some(front) = self.segments.front_mut() else {
                return;
            };
            match front {
                Segment::Owned { buf, sent } => {
                    let left = buf.len() - *sent;
                    if n < left {
                        *sent += n;
                        return;
                    }
                    n -= left;
                    if let Some(Segment::Owned { buf, .. }) = self.segments.pop_front() {
                        pool.give(buf);
                    }
                }
                Segment::Shared { data, sent } => {
                    let left = data.len() - *sent;
                    if n < left {
                        *sent += n;
                        return;
                    }
                    n -= left;
                    self.segments.pop_front();
                    *shared_done += 1;
                }
            }
        }
    }

    /// Drops whole shared segments not yet started (queued broadcast frames), oldest
    /// first, until `need` bytes are freed or none is left; owned segments (the
    /// connection's own answers) and a segment partly sent stay. Returns how many
    /// were dropped.
    pub(crate) fn drop_queued_shared(&mut self, need: usize) -> u64 {
        let (mut freed, mut dropped, mut i) = (0, 0, 0);
        while i < self.segments.len() && freed < need {
            match &self.segments[i] {
                Segment::Shared { data, sent: 0 } => {
                    let len = data.len();
                    self.segments.remove(i);
                    self.len -= len;
                    freed += len;
                    dropped += 1;
                }
                _ => i += 1,
            }
        }
        dropped
    }

    /// Drops everything queued except a segment partly sent (so the peer never sees
    /// half a frame followed by something else). Returns how many shared segments
    /// were dropped.
    pub(crate) fn truncate_to_started(&mut self, pool: &mut BufferPool) -> u64 {
        let keep = match self.segments.front() {
            Some(Segment::Owned { sent, .. } | Segment::Shared { sent, .. }) if *sent > 0 => 1,
            _ => 0,
        };
        let mut dropped = 0;
        while self.segments.len() > keep {
            if let Some(seg) = self.segments.pop_back() {
                self.len -= seg.pending();
                match seg {
                    Segment::Owned { buf, .. } => pool.give(buf),
                    Segment::Shared { .. } => dropped += 1,
                }
            }
        }
        dropped
    }

    /// Shared segments not sent to their end (what a connection closing now
    /// loses of them).
    pub(crate) fn shared_pending(&self) -> u64 {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Shared { .. }))
            .count() as u64
    }

    /// Drops everything queued; owned buffers go back to the pool and the queue's
    /// own allocation is freed (an idle connection holds none).
    pub(crate) fn clear(&mut self, pool: &mut BufferPool) {
        for seg in self.segments.drain(..) {
            if let Segment::Owned { buf, .. } = seg {
                pool.give(buf);
            }
        }
        self.segments = VecDeque::new();
        self.len = 0;
    }
}

impl Segment {
    /// Bytes not yet sent.
    fn pending(&self) -> usize {
        match self {
            Segment::Owned { buf, sent } => buf.len() - sent,
            Segment::Shared { data, sent } => data.len() - sent,
        }
    }
}

/// Sends `data` until all is sent or the socket would block. Returns the bytes sent
/// and the error, if one other than WouldBlock ended it.
pub(crate) fn send_all(sink: &mut Sink<'_>, data: &[u8]) -> (usize, io::Result<()>) {
    send_slices::<1>(sink, |sent, slices| {
        slices[0] = IoSlice::new(&data[sent..]);
        (usize::from(sent < data.len()), data.len() - sent)
    })
}

/// Sends an answer made of pieces (owned runs and shared bodies) straight from
/// where they are, up to [`MAX_IOV`] pieces per `sendmsg`, until all is sent or the
/// socket would block. Returns like [`send_all`]; the caller queues the rest.
pub(crate) fn send_pieces(sink: &mut Sink<'_>, out: &Reply) -> (usize, io::Result<()>) {
    send_slices::<MAX_IOV>(sink, |sent, slices| {
        let (mut n, mut skip, mut want) = (0, sent, 0);
        for piece in out.pieces() {
            let data = piece.as_slice();
            if skip >= data.len() {
                skip -= data.len();
                continue;
            }
            slices[n] = IoSlice::new(&data[skip..]);
            want += data.len() - skip;
            skip = 0;
            n += 1;
            if n == MAX_IOV {
                break;
            }
        }
        (n, want)
    })
}

/// The send loop: `fill(sent, slices)` puts what follows the first `sent` bytes
/// into `slices` and says how many slices it used and how many bytes they hold;
/// they go out in one send, until nothing is left, the socket takes less than
/// offered (it is full), or it fails.
fn send_slices<'a, const N: usize>(
    sink: &mut Sink<'_>,
    mut fill: impl FnMut(usize, &mut [IoSlice<'a>; N]) -> (usize, usize),
) -> (usize, io::Result<()>) {
    let mut total = 0;
    loop {
        let mut slices = [IoSlice::new(&[]); N];
        let (n, want) = fill(total, &mut slices);
        if n == 0 {
            return (total, Ok(()));
        }
        match sink.send_vectored(&slices[..n]) {
            Ok(0) => return (total, Err(io::ErrorKind::WriteZero.into())),
            Ok(k) => {
                total += k;
                if k < want {
                    return (total, Ok(()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (total, Ok(())),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (total, Err(e)),
        }
    }
}

/// Where a connection's output goes: the socket, or the socket through TLS.
pub(crate) enum Sink<'a> {
    Plain(&'a TcpStream),
    Tls(&'a TcpStream, &'a mut TlsSession),
}

impl Sink<'_> {
    /// Sends `bufs` (as far as the socket, or TLS, takes them now).
    #[inline]
    pub(crate) fn send_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Sink::Plain(s) => send_nosignal(s, bufs),
            Sink::Tls(s, t) => t.send(s, bufs),
        }
    }

    /// Writes what TLS still holds (nothing to do for a plain socket).
    #[inline]
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Tls(s, t) if t.wants_write() => t.flush(s),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_walks_owned_and_shared_segments() {
        let mut pool = BufferPool::default();
        let mut out = SendQueue::default();
        out.push_copy(b"abc", &mut pool);
        out.push_shared(Bytes::from_static(b"defgh"));
        out.push_copy(b"ij", &mut pool);
        out.push_copy(b"k", &mut pool); // joins the last owned segment
        assert_eq!(out.len(), 11);
        assert_eq!(out.segments.len(), 3);
        let mut done = 0;
        out.consume(2, &mut pool, &mut done);
        out.consume(3, &mut pool, &mut done); // "c" and "de"
        assert_eq!(done, 0);
        assert_eq!(out.len(), 6);
        match out.segments.front() {
            Some(Segment::Shared { data, sent }) => assert_eq!(&data[*sent..], b"fgh"),
            other => panic!("{other:?}"),
        }
        out.consume(6, &mut pool, &mut done);
        assert_eq!(done, 1, "the shared segment ended");
        assert_eq!(out.len(), 0);
        assert!(out.segments.is_empty());
        out.clear(&mut pool);
        assert_eq!(out.segments.capacity(), 0);
    }

    #[test]
    fn drop_oldest_keeps_answers_and_the_frame_in_flight() {
        let mut pool = BufferPool::default();
        let mut out = SendQueue::default();
        out.push_shared(Bytes::from_static(b"frame1"));
        out.push_copy(b"PONG", &mut pool);
        out.push_shared(Bytes::from_static(b"frame2"));
        out.push_shared(Bytes::from_static(b"frame3"));
        out.consume(2, &mut pool, &mut 0); // frame1 is in flight
        assert_eq!(out.drop_queued_shared(7), 2); // frame2 and frame3
        assert_eq!(out.len(), 4 + 4);
        assert_eq!(out.drop_queued_shared(100), 0);
        out.push_shared(Bytes::from_static(b"frame4"));
        assert_eq!(out.shared_pending(), 2);
        assert_eq!(out.truncate_to_started(&mut pool), 1, "frame4");
        assert_eq!(out.len(), 4, "only the rest of frame1");
        assert_eq!(out.shared_pending(), 1);
    }
}
