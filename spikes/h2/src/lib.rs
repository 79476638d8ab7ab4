//! The mio loop both spike servers share (single thread, nonblocking accept, read
//! into a buffer, hand the bytes to the connection's protocol, write out what it
//! produced), as pierhead's engine does; the servers differ only in their
//! [`Session`].

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::net::SocketAddr;

pub mod own;
pub mod viah2;

/// `200`, `content-type: text/plain`, this body: every request's answer.
pub const BODY: &[u8] = b"hello\n";

/// A session's verdict: close the connection once its output is written.
#[derive(Debug)]
pub struct Close;

/// One connection's protocol, sans-io: bytes in, bytes out.
pub trait Session {
    /// Consumes `input` (bytes just read from the socket) and appends what is to
    /// be sent to `out`. `Err` closes the connection once `out` is written.
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Close>;
    /// The peer closed its side.
    fn eof(&mut self, _out: &mut Vec<u8>) {}
    /// `out` was drained to the socket (a session holding output back re-polls).
    fn drained(&mut self, _out: &mut Vec<u8>) -> Result<(), Close> {
        Ok(())
    }
}

struct Conn<S> {
    sock: TcpStream,
    session: S,
    out: Vec<u8>,
    sent: usize,
    closing: bool,
    writable_wanted: bool,
}

const LISTENER: Token = Token(usize::MAX);
/// Output held for a connection before it is read no more until drained.
const OUT_LIMIT: usize = 1 << 20;

/// Serves `addr` forever, one session per connection from `new_session`.
pub fn serve<S: Session>(addr: SocketAddr, mut new_session: impl FnMut() -> S) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: Vec<Option<Conn<S>>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        poll.poll(&mut events, None)?;
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut sock, _)) => {
                            sock.set_nodelay(true)?;
                            let i = free.pop().unwrap_or_else(|| {
                                conns.push(None);
                                conns.len() - 1
                            });
                            poll.registry()
                                .register(&mut sock, Token(i), Interest::READABLE)?;
                            conns[i] = Some(Conn {
                                sock,
                                session: new_session(),
                                out: Vec::with_capacity(4096),
                                sent: 0,
                                closing: false,
                                writable_wanted: false,
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let i = ev.token().0;
            let Some(c) = conns.get_mut(i).and_then(|c| c.as_mut()) else {
                continue;
            };
            let alive = drive(c, &mut buf, &poll, Token(i));
            if !alive {
                let mut c = conns[i].take().expect("live");
                let _ = poll.registry().deregister(&mut c.sock);
                free.push(i);
            }
        }
    }
}

/// Reads what the socket has, feeds it, writes out; false once the connection is done.
fn drive<S: Session>(c: &mut Conn<S>, buf: &mut [u8], poll: &Poll, token: Token) -> bool {
    if !flush(c) {
        return false;
    }
    while !c.closing && c.out.len() - c.sent < OUT_LIMIT {
        match c.sock.read(buf) {
            Ok(0) => {
                c.session.eof(&mut c.out);
                c.closing = true;
            }
            Ok(n) => {
                if c.session.feed(&buf[..n], &mut c.out).is_err() {
                    c.closing = true;
                }
                if !flush(c) {
                    return false;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    if !flush(c) {
        return false;
    }
    let pending = c.sent < c.out.len();
    if c.closing && !pending {
        return false;
    }
    if pending != c.writable_wanted {
        let interest = if pending {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if poll
            .registry()
            .reregister(&mut c.sock, token, interest)
            .is_err()
        {
            return false;
        }
        c.writable_wanted = pending;
    }
    true
}

/// Writes what is pending; false on a write error.
fn flush<S: Session>(c: &mut Conn<S>) -> bool {
    loop {
        while c.sent < c.out.len() {
            match c.sock.write(&c.out[c.sent..]) {
                Ok(n) => c.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        c.out.clear();
        c.sent = 0;
        if c.session.drained(&mut c.out).is_err() {
            c.closing = true;
        }
        if c.out.is_empty() {
            return true;
        }
    }
}

/// `PORT` from the first argument (default 8080), on 127.0.0.1.
pub fn addr_from_args() -> SocketAddr {
    let port: u16 = std::env::args()
        .nth(1)
        .map(|p| p.parse().expect("a port number"))
        .unwrap_or(8080);
    SocketAddr::from(([127, 0, 0, 1], port))
}
