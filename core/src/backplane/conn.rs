//! One connection's socket on the link's poll: connecting it, writing what a
//! [`Session`] has encoded, and reading into the bytes not yet decoded (handed
//! to the protocol's state machine by the link).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};

use mio::net::TcpStream;
use mio::{Interest, Poll, Token};

use super::session::{LinkError, Phase, Session};

/// Bytes read per `read` call.
const READ_CHUNK: usize = 64 * 1024;

/// One connection's socket.
pub(super) struct Conn {
    stream: TcpStream,
    /// Bytes read and not yet decoded are `rbuf[..rlen]`; the rest is room to
    /// read into (zeroed once, when it grows).
    rbuf: Vec<u8>,
    rlen: usize,
}

impl Conn {
    pub(super) fn open(poll: &Poll, addr: SocketAddr, token: Token) -> Result<Conn, LinkError> {
        let mut stream = TcpStream::connect(addr).map_err(|e| LinkError::Connect(addr, e))?;
        poll.registry()
            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
        Ok(Conn {
            stream,
            rbuf: Vec::new(),
            rlen: 0,
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

    /// Writes what `out` has encoded until done or the socket is full.
    pub(super) fn write(&mut self, out: &mut Session) -> Result<(), LinkError> {
        loop {
            let buf = out.to_write();
            if buf.is_empty() {
                return Ok(());
            }
            match self.stream.write(buf) {
                Ok(0) => return Err(LinkError::Closed),
                Ok(n) => out.written(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Once connected: writes what `out` has encoded, then reads one chunk;
    /// false when there is nothing new for the protocol (still connecting, or
    /// the socket is drained).
    pub(super) fn exchange(&mut self, out: &mut Session) -> Result<bool, LinkError> {
        if out.phase == Phase::Connecting {
            return Ok(false);
        }
        self.write(out)?;
        self.read_chunk()
    }

    /// Reads what the socket has (one chunk) after the bytes kept; false when it
    /// is drained.
    fn read_chunk(&mut self) -> Result<bool, LinkError> {
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

    /// The bytes read and not yet decoded.
    pub(super) fn unread(&self) -> &[u8] {
        &self.rbuf[..self.rlen]
    }

    pub(super) fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
