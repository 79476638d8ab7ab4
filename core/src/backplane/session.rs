//! What a connection to the broker keeps apart from its socket: where its
//! handshake is ([`Phase`]), the bytes encoded and not yet written (and where
//! each marked command ends in them), and since when replies are owed
//! ([`Session`]); and why a link goes down ([`LinkError`]). No I/O here: the
//! link writes [`Session::to_write`] and reports what went with
//! [`Session::written`].

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::resp;
use super::url::BackplaneUrl;

/// A write buffer larger than this is given back once drained.
const WBUF_KEEP: usize = 256 * 1024;

/// Why the link went down.
#[derive(Debug, thiserror::Error)]
pub(super) enum LinkError {
    #[error("cannot resolve {0}: {1}")]
    Resolve(String, String),
    #[error("cannot connect to {0}: {1}")]
    Connect(SocketAddr, io::Error),
    #[error("connecting to the broker timed out")]
    ConnectTimeout,
    #[error("the broker did not answer for {0:?}")]
    ReplyTimeout(Duration),
    #[error("broker connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("the broker closed the connection")]
    Closed,
    #[error("the broker refused AUTH: {0}")]
    Auth(String),
    #[error("the broker refused PING: {0}")]
    Refused(String),
    #[error("the broker's answer to PING is not RESP (is it a Redis server?): {0}")]
    NotRedis(resp::RespError),
    #[error("unexpected reply from the broker: {0}")]
    Unexpected(String),
    #[error("broker protocol error: {0}")]
    Resp(#[from] resp::RespError),
}

/// Where a connection to the broker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// The TCP connect is under way.
    Connecting,
    /// Connected: `AUTH` (with a password) and `PING` are sent and their answers
    /// awaited. A TCP connect alone proves nothing (a stopped broker's kernel
    /// accepts, and so does any server that is not Redis).
    Handshaking,
    /// The broker answered `PING`: the connection is in use.
    Ready,
}

/// One connection's protocol state that both kinds share.
pub(super) struct Session {
    pub(super) phase: Phase,
    /// Encoded commands; `wbuf[wpos..]` is not written yet.
    pub(super) wbuf: Vec<u8>,
    wpos: usize,
    /// Where each command marked with [`Session::mark`] ends in `wbuf`, for those
    /// not yet written whole: what a lost connection never sent.
    marks: VecDeque<usize>,
    /// Since when replies are owed without one arriving (None: none owed).
    pub(super) waiting_since: Option<Instant>,
}

impl Session {
    /// A connection whose TCP connect is under way.
    pub(super) fn new() -> Session {
        Session {
            phase: Phase::Connecting,
            wbuf: Vec::new(),
            wpos: 0,
            marks: VecDeque::new(),
            waiting_since: None,
        }
    }

    /// Connected: encodes `AUTH` (with a password) and `PING`, pipelined, and owes
    /// their replies; true if `AUTH` was sent.
    pub(super) fn hello(&mut self, url: &BackplaneUrl, now: Instant) -> bool {
        if let Some(pw) = &url.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &url.user {
                args.push(user.as_bytes());
            }
            args.push(pw.as_bytes());
            resp::command(&args, &mut self.wbuf);
        }
        resp::command(&[b"PING"], &mut self.wbuf);
        self.phase = Phase::Handshaking;
        self.owe(now);
        url.password.is_some()
    }

    /// The bytes to write now.
    pub(super) fn to_write(&self) -> &[u8] {
        &self.wbuf[self.wpos..]
    }

    /// `n` bytes of [`Session::to_write`] were written; a drained buffer starts
    /// over (and is given back if it grew large).
    pub(super) fn written(&mut self, n: usize) {
        self.wpos += n;
        while self.marks.front().is_some_and(|&end| end <= self.wpos) {
            self.marks.pop_front();
        }
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
            if self.wbuf.capacity() > WBUF_KEEP {
                self.wbuf.shrink_to(WBUF_KEEP);
            }
        }
    }

    /// Bytes encoded and not written yet.
    pub(super) fn unwritten(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Marks the end of the command just encoded, so that [`Session::unsent`] can
    /// tell whether it was written whole.
    pub(super) fn mark(&mut self) {
        self.marks.push_back(self.wbuf.len());
    }

    /// Marked commands not yet written whole (the broker cannot have run them).
    pub(super) fn unsent(&self) -> u64 {
        self.marks.len() as u64
    }

    /// A reply is owed from `now` on, unless one already was.
    pub(super) fn owe(&mut self, now: Instant) {
        self.waiting_since.get_or_insert(now);
    }

    /// Replies were handled: owed ones (if `owing`) wait from `now`.
    pub(super) fn answered(&mut self, owing: bool, now: Instant) {
        self.waiting_since = owing.then_some(now);
    }

    /// Input that is not RESP: during the handshake, most likely not a Redis
    /// server.
    pub(super) fn resp_error(&self, e: resp::RespError) -> LinkError {
        match self.phase {
            Phase::Handshaking => LinkError::NotRedis(e),
            _ => LinkError::Resp(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handshake_is_auth_then_ping_and_owes_replies() {
        let now = Instant::now();
        let mut s = Session::new();
        let url = BackplaneUrl::parse("redis://u:pw@127.0.0.1:1").unwrap();
        assert!(s.hello(&url, now));
        assert_eq!(
            s.to_write(),
            b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$2\r\npw\r\n*1\r\n$4\r\nPING\r\n"
        );
        assert_eq!((s.phase, s.waiting_since), (Phase::Handshaking, Some(now)));
        let mut s = Session::new();
        let url = BackplaneUrl::parse("redis://127.0.0.1:1").unwrap();
        assert!(!s.hello(&url, now));
        assert_eq!(s.to_write(), b"*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn marks_count_the_commands_not_written_whole() {
        let mut s = Session::new();
        s.wbuf.extend_from_slice(b"one");
        s.mark();
        s.wbuf.extend_from_slice(b"two");
        s.mark();
        assert_eq!((s.unsent(), s.unwritten()), (2, 6));
        s.written(4);
        assert_eq!((s.unsent(), s.to_write()), (1, &b"wo"[..]));
        s.written(2);
        assert_eq!((s.unsent(), s.unwritten(), s.wbuf.len()), (0, 0, 0));
    }
}
