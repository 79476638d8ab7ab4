//! One connection's TLS: rustls' record layer between the socket and the
//! protocol, driven by the worker's edge-triggered reads and writes.
//!
//! It uses rustls' unbuffered API, so that the buffers are the engine's and exist
//! only while bytes are in flight: ciphertext read and not yet processed
//! (`incoming`, at most a partial record once a read returns), ciphertext not yet
//! taken by the socket (`outgoing`), and plaintext decrypted beyond what the
//! caller's buffer held (`stash`). Each is freed when it empties, so an idle TLS
//! connection holds only rustls' state (keys, the record layer), no buffer.
//!
//! - Reading ([`TlsSession::read`]) takes ciphertext from the socket until it is
//!   drained or plaintext fills the caller's buffer; what the handshake answers is
//!   queued and written at once. When a handshake completes, the client's last
//!   message is acknowledged at once (see [`TlsSession::read`]).
//! - Writing ([`TlsSession::send`], reached through the worker's `Sink`, the one
//!   place its output meets a socket): TLS connections encrypt as much
//!   plaintext as [`TLS_BUFFER`] allows into `outgoing` and write it out, so the
//!   engine's own output queue keeps the rest and its limits and slow-consumer
//!   policies work unchanged.
//! - The faults ([`TlsFault`]) act here, on the first bytes of the ClientHello.

use std::io::{self, IoSlice, Read};
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, InsufficientSizeError};
use rustls::ServerConfig;

use super::options::TlsFault;
use crate::net::{ack_now, send_nosignal};

/// Ciphertext the session may hold unsent; past it, plaintext waits in the
/// connection's output queue.
const TLS_BUFFER: usize = 64 * 1024;
/// Room made in `incoming` for each socket read: a whole record and its header.
const READ_ROOM: usize = 16 * 1024 + 512;
/// Plaintext encrypted per record.
const RECORD: usize = 16 * 1024;
/// What an HTTP server over TLS answers, in plain text, to a plain HTTP request
/// (a client given `http://` for an `https://` server), as nginx does: a TLS alert
/// would leave that client with "connection reset" or "empty reply" and no reason.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\nServer: pierhead\r\n\
Content-Type: text/plain\r\nContent-Length: 52\r\nConnection: close\r\n\r\n\
plain HTTP request sent to a TLS port: use https://\n";

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
    conn: UnbufferedServerConnection,
    fault: Option<TlsFault>,
    /// HTTP over TLS: a plain HTTP request gets `PLAIN_HTTP_ANSWER`.
    http: bool,
    /// Ciphertext read, `incoming[..in_len]`, not yet processed.
    incoming: Vec<u8>,
    in_len: usize,
    /// Ciphertext not yet sent, `outgoing[out_pos..out_len]`.
    outgoing: Vec<u8>,
    out_pos: usize,
    out_len: usize,
    /// Plaintext decrypted that did not fit the caller's buffer.
    stash: Vec<u8>,
    /// The peer sent close_notify (or closed TCP).
    peer_closed: bool,
    /// The handshake finished and the worker was told.
    established: bool,
    /// The handshake finished and the client's last message was acknowledged.
    handshake_acked: bool,
    close_notify_sent: bool,
    /// rustls failed: nothing more is read or written but the alert.
    failed: bool,
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession")
            .field("handshaking", &self.conn.is_handshaking())
            .field("fault", &self.fault)
            .field("in_len", &self.in_len)
            .field("unsent", &(self.out_len - self.out_pos))
            .finish()
    }
}

/// Why processing the received records failed.
enum Failed {
    /// rustls refused them: its alert says why.
    Tls,
    /// They were a plain HTTP request.
    PlainHttp,
}

/// What processing the received records came to.
enum Step {
    /// More ciphertext is needed (or the handshake is done and nothing is left).
    NeedData,
    /// The peer closed.
    Closed,
}

impl TlsSession {
    pub(crate) fn new(
        config: &Arc<ServerConfig>,
        fault: Option<TlsFault>,
        http: bool,
    ) -> Result<TlsSession, rustls::Error> {
        Ok(TlsSession {
            conn: UnbufferedServerConnection::new(config.clone())?,
            fault,
            http,
            incoming: Vec::new(),
            in_len: 0,
            outgoing: Vec::new(),
            out_pos: 0,
            out_len: 0,
            stash: Vec::new(),
            peer_closed: false,
            established: false,
            handshake_acked: false,
            close_notify_sent: false,
            failed: false,
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

    /// Ciphertext is waiting for the socket.
    #[inline]
    pub(crate) fn wants_write(&self) -> bool {
        self.out_pos < self.out_len
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
        if self.failed {
            return TlsRead::Close;
        }
        let mut got = self.take_stash(buf);
        loop {
            if got == buf.len() || !self.stash.is_empty() {
                return TlsRead::Data(got);
            }
            match self.process(buf, &mut got) {
                Ok(Step::Closed) => {
                    let _ = self.flush(stream);
                    return TlsRead::Data(got);
                }
                Ok(Step::NeedData) => {}
                Err(Failed::PlainHttp) => {
                    self.failed = true;
                    self.outgoing.truncate(self.out_len);
                    self.outgoing.extend_from_slice(PLAIN_HTTP_ANSWER);
                    self.out_len = self.outgoing.len();
                    let _ = self.flush(stream);
                    return TlsRead::Close;
                }
                Err(Failed::Tls) => {
                    // The alert explaining it goes out, best effort.
                    self.failed = true;
                    let _ = self.encode_pending();
                    let _ = self.flush(stream);
                    return TlsRead::Close;
                }
            }
            if self.peer_closed {
                return TlsRead::Data(got);
            }
            match self.read_socket(stream) {
                Ok(0) => {
                    // TCP closed (without close_notify if none came): the end.
                    self.peer_closed = true;
                    return TlsRead::Data(got);
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.in_len == 0 {
                        self.incoming = Vec::new();
                    }
                    // What the handshake answered goes out now.
                    match self.flush(stream) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => return TlsRead::Close,
                    }
                    if !self.handshake_acked && !self.conn.is_handshaking() {
                        // The handshake is complete. When the client's Finished ends it
                        // (TLS 1.3 without tickets, a resumed TLS 1.2 handshake) nothing
                        // answers it, and the kernel delays its ACK (40 ms) while a
                        // client with Nagle on holds its first request until that ACK:
                        // acknowledge it now, as the socket is drained.
                        self.handshake_acked = true;
                        let _ = ack_now(stream);
                    }
                    return if got > 0 {
                        TlsRead::Data(got)
                    } else {
                        TlsRead::Blocked
                    };
                }
                Err(_) => return TlsRead::Close,
            }
        }
    }

    /// Plaintext kept from an earlier read, first.
    fn take_stash(&mut self, buf: &mut [u8]) -> usize {
        if self.stash.is_empty() {
            return 0;
        }
        let n = self.stash.len().min(buf.len());
        buf[..n].copy_from_slice(&self.stash[..n]);
        self.stash.drain(..n);
        if self.stash.is_empty() {
            self.stash = Vec::new();
        }
        n
    }

    /// One socket read into `incoming` (made room for here).
    fn read_socket(&mut self, stream: &TcpStream) -> io::Result<usize> {
        if self.incoming.len() < self.in_len + READ_ROOM {
            self.incoming.resize(self.in_len + READ_ROOM, 0);
        }
        let mut s = stream;
        loop {
            match s.read(&mut self.incoming[self.in_len..]) {
                Ok(n) => {
                    self.in_len += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs rustls over what was received: handshake messages are answered into
    /// `outgoing`, application data goes into `buf` (the rest into the stash once
    /// it is full, so that no record is left unread in `incoming`).
    fn process(&mut self, buf: &mut [u8], got: &mut usize) -> Result<Step, Failed> {
        loop {
            let status = self
                .conn
                .process_tls_records(&mut self.incoming[..self.in_len]);
            let mut discard = status.discard;
            let step = match status.state {
                Err(_) => {
                    // No TLS record starts with a letter (content types are 20 to
                    // 24): a plain request, on a port that serves HTTP over TLS.
                    let plain = self.http
                        && !self.established
                        && self.incoming[..self.in_len]
                            .first()
                            .is_some_and(u8::is_ascii_uppercase);
                    consume(&mut self.incoming, &mut self.in_len, discard);
                    return Err(if plain {
                        Failed::PlainHttp
                    } else {
                        Failed::Tls
                    });
                }
                Ok(ConnectionState::ReadTraffic(mut rt)) => {
                    while let Some(rec) = rt.next_record() {
                        let rec = rec.map_err(|_| Failed::Tls)?;
                        discard += rec.discard;
                        let room = buf.len() - *got;
                        let n = rec.payload.len().min(room);
                        buf[*got..*got + n].copy_from_slice(&rec.payload[..n]);
                        *got += n;
                        self.stash.extend_from_slice(&rec.payload[n..]);
                    }
                    None
                }
                Ok(ConnectionState::EncodeTlsData(mut e)) => {
                    encode(&mut self.outgoing, &mut self.out_len, |out| e.encode(out))
                        .map_err(|()| Failed::Tls)?;
                    None
                }
                Ok(ConnectionState::TransmitTlsData(t)) => {
                    // Queued in `outgoing`: sent by the next flush.
                    t.done();
                    None
                }
                Ok(ConnectionState::BlockedHandshake) | Ok(ConnectionState::WriteTraffic(_)) => {
                    Some(Step::NeedData)
                }
                Ok(ConnectionState::PeerClosed) | Ok(ConnectionState::Closed) => {
                    self.peer_closed = true;
                    Some(Step::Closed)
                }
                // Early data is not enabled; nothing else exists today.
                Ok(_) => Some(Step::NeedData),
            };
            consume(&mut self.incoming, &mut self.in_len, discard);
            // Every complete record is read out (into the stash past `buf`), so
            // that none waits in `incoming` when the caller next wants to write.
            if let Some(s) = step {
                return Ok(s);
            }
        }
    }

    /// After a failure: the alert rustls wants to send, into `outgoing`.
    fn encode_pending(&mut self) -> Result<(), ()> {
        let status = self.conn.process_tls_records(&mut []);
        if let Ok(ConnectionState::EncodeTlsData(mut e)) = status.state {
            encode(&mut self.outgoing, &mut self.out_len, |out| e.encode(out))?;
        }
        Ok(())
    }

    /// A handshake that misbehaves: what to do with the client's first bytes.
    fn faulty_read(&mut self, f: TlsFault, stream: &TcpStream, buf: &mut [u8]) -> TlsRead {
        let mut s = stream;
        loop {
            match s.read(buf) {
                Ok(0) => return TlsRead::Data(0),
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return TlsRead::Blocked,
                Err(_) => return TlsRead::Close,
            }
        }
        match f {
            // Dropped: the client waits for a ServerHello that never comes.
            TlsFault::StallHandshake => TlsRead::Blocked,
            TlsFault::ResetHandshake => TlsRead::Reset,
            TlsFault::GarbageHello => {
                let garbage = b"HTTP/1.1 400 Bad Request\r\nthis is not a ServerHello\r\n\r\n";
                let _ = send_nosignal(stream, &[IoSlice::new(garbage)]);
                TlsRead::Close
            }
            // Not a handshake fault (see `read`).
            TlsFault::NoCloseNotify => TlsRead::Blocked,
        }
    }

    /// Writes the queued ciphertext until done or the socket is full
    /// (`WouldBlock`); the buffer is freed once it is all sent.
    pub(crate) fn flush(&mut self, stream: &TcpStream) -> io::Result<()> {
        while self.out_pos < self.out_len {
            match send_nosignal(
                stream,
                &[IoSlice::new(&self.outgoing[self.out_pos..self.out_len])],
            ) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.outgoing = Vec::new();
        self.out_pos = 0;
        self.out_len = 0;
        Ok(())
    }

    /// Sends plaintext: encrypts what [`TLS_BUFFER`] allows and writes it out as
    /// far as the socket takes it. Returns the plaintext bytes taken;
    /// `WouldBlock` when none could be.
    pub(crate) fn send(&mut self, stream: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.failed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        match self.flush(stream) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let mut taken = 0;
        'bufs: for b in bufs {
            let mut rest: &[u8] = b;
            while !rest.is_empty() {
                if self.out_len - self.out_pos >= TLS_BUFFER {
                    break 'bufs;
                }
                let chunk = &rest[..rest.len().min(RECORD)];
                if !self.encrypt(chunk)? {
                    break 'bufs;
                }
                taken += chunk.len();
                rest = &rest[chunk.len()..];
            }
        }
        match self.flush(stream) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if taken == 0 && bufs.iter().any(|b| !b.is_empty()) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }

    /// Encrypts one record of application data into `outgoing`; false when rustls
    /// cannot take application data yet (mid-handshake).
    fn encrypt(&mut self, data: &[u8]) -> io::Result<bool> {
        let bad = |_| io::Error::from(io::ErrorKind::InvalidData);
        loop {
            let status = self
                .conn
                .process_tls_records(&mut self.incoming[..self.in_len]);
            let discard = status.discard;
            let done = match status.state {
                Ok(ConnectionState::WriteTraffic(mut w)) => {
                    encrypt_into(&mut self.outgoing, &mut self.out_len, |out| {
                        w.encrypt(data, out)
                    })
                    .map_err(bad)?;
                    Some(true)
                }
                Ok(ConnectionState::TransmitTlsData(mut t)) => match t.may_encrypt_app_data() {
                    Some(mut w) => {
                        encrypt_into(&mut self.outgoing, &mut self.out_len, |out| {
                            w.encrypt(data, out)
                        })
                        .map_err(bad)?;
                        t.done();
                        Some(true)
                    }
                    None => {
                        t.done();
                        None
                    }
                },
                Ok(ConnectionState::EncodeTlsData(mut e)) => {
                    encode(&mut self.outgoing, &mut self.out_len, |out| e.encode(out))
                        .map_err(bad)?;
                    None
                }
                // Records received and not read (cannot happen after `read`, which
                // stashes them) or a handshake under way: not now.
                Ok(_) => Some(false),
                Err(_) => return Err(io::ErrorKind::InvalidData.into()),
            };
            consume(&mut self.incoming, &mut self.in_len, discard);
            if let Some(d) = done {
                return Ok(d);
            }
        }
    }

    /// Before the write side is shut down: `close_notify` (unless the fault says
    /// not to), flushed. False while ciphertext is still waiting for the socket.
    pub(crate) fn close(&mut self, stream: &TcpStream) -> io::Result<bool> {
        if !self.close_notify_sent && !self.failed && self.fault != Some(TlsFault::NoCloseNotify) {
            self.close_notify_sent = true;
            let status = self
                .conn
                .process_tls_records(&mut self.incoming[..self.in_len]);
            let discard = status.discard;
            if let Ok(ConnectionState::WriteTraffic(mut w)) = status.state {
                let _ = encrypt_into(&mut self.outgoing, &mut self.out_len, |out| {
                    w.queue_close_notify(out)
                });
            }
            consume(&mut self.incoming, &mut self.in_len, discard);
        }
        match self.flush(stream) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Drops the first `n` processed bytes of `buf[..len]`; frees it when empty.
fn consume(buf: &mut Vec<u8>, len: &mut usize, n: usize) {
    if n == 0 {
        return;
    }
    buf.copy_within(n..*len, 0);
    *len -= n;
    if *len == 0 {
        *buf = Vec::new();
    }
}

/// Runs `write` on the free part of `buf` (grown until it fits: `write` says how
/// much room it needs) and counts what it wrote.
fn write_into(
    buf: &mut Vec<u8>,
    len: &mut usize,
    mut need: usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, Option<usize>>,
) -> Result<(), ()> {
    loop {
        if buf.len() < *len + need {
            buf.resize(*len + need, 0);
        }
        match write(&mut buf[*len..]) {
            Ok(n) => {
                *len += n;
                return Ok(());
            }
            Err(Some(required_size)) => need = required_size,
            Err(None) => return Err(()),
        }
    }
}

/// A handshake or alert message, into `buf` (see [`write_into`]).
fn encode(
    buf: &mut Vec<u8>,
    len: &mut usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
) -> Result<(), ()> {
    write_into(buf, len, 512, |out| {
        write(out).map_err(|e| match e {
            EncodeError::InsufficientSize(InsufficientSizeError { required_size }) => {
                Some(required_size)
            }
            EncodeError::AlreadyEncoded => None,
        })
    })
}

/// A record of application data, into `buf` (see [`write_into`]).
fn encrypt_into(
    buf: &mut Vec<u8>,
    len: &mut usize,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, EncryptError>,
) -> Result<(), ()> {
    write_into(buf, len, RECORD + 256, |out| {
        write(out).map_err(|e| match e {
            EncryptError::InsufficientSize(InsufficientSizeError { required_size }) => {
                Some(required_size)
            }
            _ => None,
        })
    })
}
