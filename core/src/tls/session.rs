//! One connection's TLS: rustls' record layer between the socket and the
//! protocol, driven by the worker's edge-triggered reads and writes.
//!
//! - Reading ([`TlsSession::read`]) takes ciphertext from the socket until it is
//!   drained, processes it (the handshake, alerts, records) and hands plaintext to
//!   the caller; what the handshake answers is written at once.
//! - Writing goes through [`Sink`]: the one place the worker's output reaches a
//!   socket. Plain connections `sendmsg` directly; TLS ones give plaintext to
//!   rustls (bounded by its buffer limit, so the engine's own output queue keeps
//!   the rest and its limits and slow-consumer policies work unchanged) and write
//!   the records out.
//! - The faults ([`TlsFault`]) act here, on the first bytes of the ClientHello.

use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::{ServerConfig, ServerConnection};

use super::TlsFault;

/// Plaintext rustls may hold for sending beyond what the socket took; past it,
/// the rest waits in the connection's output queue.
const TLS_BUFFER: usize = 64 * 1024;

/// What a TLS read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsRead {
    /// Plaintext bytes into the buffer (0: the peer closed).
    Data(usize),
    /// Nothing more now.
    Blocked,
    /// Reset the connection (RST): a fault.
    Reset,
    /// Close it: a failed handshake or a bad record (the alert is sent), or a fault.
    Close,
}

/// A connection's TLS state.
pub(crate) struct TlsSession {
    conn: ServerConnection,
    fault: Option<TlsFault>,
    /// The handshake finished and the worker was told.
    established: bool,
    close_notify_sent: bool,
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("handshaking", &self.conn.is_handshaking())
            .field("fault", &self.fault)
            .finish()
    }
}

/// The socket, as rustls reads and writes it (writes never raise SIGPIPE).
struct Sock<'a>(&'a TcpStream);

impl Read for Sock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.0;
        s.read(buf)
    }
}

impl Write for Sock<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        plain_send(self.0, &[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        plain_send(self.0, bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `sendmsg(fd, bufs, MSG_NOSIGNAL)`, or `send` for a single slice.
pub(crate) fn plain_send(stream: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let sock = socket2::SockRef::from(stream);
    if let [one] = bufs {
        return sock.send_with_flags(one, libc::MSG_NOSIGNAL);
    }
    sock.send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
}

impl TlsSession {
    pub(crate) fn new(
        config: &Arc<ServerConfig>,
        fault: Option<TlsFault>,
    ) -> Result<TlsSession, rustls::Error> {
        let mut conn = ServerConnection::new(config.clone())?;
        conn.set_buffer_limit(Some(TLS_BUFFER));
        Ok(TlsSession {
            conn,
            fault,
            established: false,
            close_notify_sent: false,
        })
    }

    /// True once, when the handshake has just finished.
    pub(crate) fn take_established(&mut self) -> bool {
        if self.established || self.conn.is_handshaking() {
            return false;
        }
        self.established = true;
        true
    }

    /// Still handshaking.
    pub(crate) fn handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// rustls holds records not yet written to the socket.
    #[inline]
    pub(crate) fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Reads plaintext into `buf`: what is decrypted already, else ciphertext from
    /// the socket until plaintext comes or the socket is drained.
    pub(crate) fn read(&mut self, stream: &TcpStream, buf: &mut [u8]) -> TlsRead {
        let handshake_fault = self
            .fault
            .filter(|f| *f != TlsFault::NoCloseNotify && self.conn.is_handshaking());
        if let Some(f) = handshake_fault {
            return self.faulty_read(f, stream, buf);
        }
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return TlsRead::Data(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed TCP without close_notify: its end of the stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return TlsRead::Data(0),
                Err(_) => return TlsRead::Close,
            }
            match self.conn.read_tls(&mut Sock(stream)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // What the handshake answers goes out now.
                    return match self.flush(stream) {
                        Ok(()) => TlsRead::Blocked,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => TlsRead::Blocked,
                        Err(_) => TlsRead::Close,
                    };
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return TlsRead::Close,
            }
            if self.conn.process_new_packets().is_err() {
                // The alert explaining it goes out, best effort.
                let _ = self.flush(stream);
                return TlsRead::Close;
            }
            if self.conn.wants_write() {
                match self.flush(stream) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => return TlsRead::Close,
                }
            }
        }
    }

    /// A handshake that misbehaves: what to do with the client's first bytes.
    fn faulty_read(&mut self, f: TlsFault, stream: &TcpStream, buf: &mut [u8]) -> TlsRead {
        let mut s = stream;
        let got = loop {
            match s.read(buf) {
                Ok(0) => return TlsRead::Data(0),
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return TlsRead::Blocked,
                Err(_) => return TlsRead::Close,
            }
        };
        match f {
            // Dropped: the client waits for a ServerHello that never comes.
            TlsFault::StallHandshake => {
                let _ = got;
                TlsRead::Blocked
            }
            TlsFault::ResetHandshake => TlsRead::Reset,
            TlsFault::GarbageHello => {
                let garbage = b"HTTP/1.1 400 Bad Request\r\nthis is not a ServerHello\r\n\r\n";
                let _ = plain_send(stream, &[IoSlice::new(garbage)]);
                TlsRead::Close
            }
            // Not a handshake fault (see `read`).
            TlsFault::NoCloseNotify => TlsRead::Blocked,
        }
    }

    /// Writes the records rustls holds until done or the socket is full
    /// (`WouldBlock`).
    pub(crate) fn flush(&mut self, stream: &TcpStream) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut Sock(stream)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends plaintext: rustls takes what its buffer allows and the records go
    /// out as far as the socket takes them. Returns the plaintext bytes taken;
    /// `WouldBlock` when none could be.
    fn send(&mut self, stream: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self.flush(stream) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let n = self.conn.writer().write_vectored(bufs)?;
        match self.flush(stream) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if n == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    /// Before the write side is shut down: `close_notify` (unless the fault says
    /// not to), flushed. False while records are still waiting for the socket.
    pub(crate) fn close(&mut self, stream: &TcpStream) -> io::Result<bool> {
        if !self.close_notify_sent && self.fault != Some(TlsFault::NoCloseNotify) {
            self.conn.send_close_notify();
            self.close_notify_sent = true;
        }
        match self.flush(stream) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
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
            Sink::Plain(s) => plain_send(s, bufs),
            Sink::Tls(s, t) => t.send(s, bufs),
        }
    }

    /// Writes what TLS still holds (nothing to do for a plain socket).
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(_) => Ok(()),
            Sink::Tls(s, t) => t.flush(s),
        }
    }
}
