//! One connection to the broker: its socket on the link's poll, what was read
//! and not yet decoded, what is written and not yet sent, and since when it owes
//! replies; and why a link goes down ([`LinkError`]).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Poll, Token};

use super::resp;

/// Bytes read per `read` call.
const READ_CHUNK: usize = 64 * 1024;
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

/// One connection to the broker.
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) phase: Phase,
    /// Bytes read and not yet decoded are `rbuf[..rlen]`; the rest is room to
    /// read into (zeroed once, when it grows).
    pub(super) rbuf: Vec<u8>,
    pub(super) rlen: usize,
    pub(super) wbuf: Vec<u8>,
    pub(super) wpos: usize,
    /// Where each command marked with [`Conn::mark`] ends in `wbuf`, for those not
    /// yet written whole: what a lost connection never sent.
    marks: VecDeque<usize>,
    /// Since when replies are owed without one arriving (None: none owed).
    pub(super) waiting_since: Option<Instant>,
}

impl Conn {
    pub(super) fn open(poll: &Poll, addr: SocketAddr, token: Token) -> Result<Conn, LinkError> {
        let mut stream = TcpStream::connect(addr).map_err(|e| LinkError::Connect(addr, e))?;
        poll.registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        Ok(Conn {
            stream,
            phase: Phase::Connecting,
            rbuf: Vec::new(),
            rlen: 0,
            wbuf: Vec::new(),
            wpos: 0,
            marks: VecDeque::new(),
            waiting_since: None,
        })
    }

    /// After a writable event while connecting: true once connected.
    pub(super) fn connected(&mut self, addr: SocketAddr) -> Result<bool, LinkError> {
        if let Some(e) = self.stream.take_error()? {
            return Err(LinkError::Connect(addr, e));
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                let _ = self.stream.set_nodelay(true);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(LinkError::Connect(addr, e)),
        }
    }

    /// Writes what is buffered until done or the socket is full.
    pub(super) fn write(&mut self) -> Result<(), LinkError> {
        while self.wpos < self.wbuf.len() {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(LinkError::Closed),
                Ok(n) => {
                    self.wpos += n;
                    while self.marks.front().is_some_and(|&end| end <= self.wpos) {
                        self.marks.pop_front();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        if self.wbuf.capacity() > WBUF_KEEP {
            self.wbuf.shrink_to(WBUF_KEEP);
        }
        Ok(())
    }

    pub(super) fn unwritten(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Marks the end of the command just encoded, so that [`Conn::unsent`] can
    /// tell whether it was written whole.
    pub(super) fn mark(&mut self) {
        self.marks.push_back(self.wbuf.len());
    }

    /// Marked commands not yet written whole (the broker cannot have run them).
    pub(super) fn unsent(&self) -> u64 {
        self.marks.len() as u64
    }

    /// Reads what the socket has (one chunk) after the bytes kept; false when it
    /// is drained.
    pub(super) fn read_chunk(&mut self) -> Result<bool, LinkError> {
        if self.rbuf.len() - self.rlen < READ_CHUNK / 2 {
            self.rbuf.resize(self.rlen + READ_CHUNK, 0);
        }
        loop {
            match self.stream.read(&mut self.rbuf[self.rlen..]) {
                Ok(0) => return Err(LinkError::Closed),
                Ok(n) => {
                    self.rlen += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Drops the first `used` bytes read (decoded); gives back a buffer grown
    /// for one large message.
    pub(super) fn consume(&mut self, used: usize) {
        self.rbuf.copy_within(used..self.rlen, 0);
        self.rlen -= used;
        if self.rlen == 0 && self.rbuf.len() > 4 * READ_CHUNK {
            self.rbuf = Vec::new();
        }
    }

    pub(super) fn owe(&mut self, now: Instant) {
        self.waiting_since.get_or_insert(now);
    }

    pub(super) fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
