//! Sockets: the listening one, and sends that never raise SIGPIPE.
//!
//! One listening socket is created per server and every worker registers its own
//! duplicate of it (`dup`, close-on-exec) in its own poll: all workers are woken for
//! new connections and whichever is free takes them. SO_REUSEPORT is deliberately
//! not used: with it, a second server binding the same port in the same process would
//! silently share the port instead of failing with "address in use".

use std::io::{self, IoSlice};
use std::net::SocketAddr;

use socket2::{Domain, Socket, Type};

use crate::error::StartError;

/// Creates, binds and listens on a non-blocking, close-on-exec socket.
pub(crate) fn listen(addr: SocketAddr, backlog: u32) -> Result<Socket, StartError> {
    let bind_err = |source| StartError::Bind { addr, source };
    // socket2 creates sockets with SOCK_CLOEXEC.
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(bind_err)?;
    // Lets a restarted server rebind a port with connections in TIME_WAIT; it does
    // not let two listeners share a port.
    socket.set_reuse_address(true).map_err(bind_err)?;
    socket.set_nonblocking(true).map_err(bind_err)?;
    socket.bind(&addr.into()).map_err(bind_err)?;
    socket.listen(backlog as i32).map_err(bind_err)?;
    Ok(socket)
}

/// A duplicate of the listening socket for one worker's poll.
pub(crate) fn worker_listener(
    socket: &Socket,
    addr: SocketAddr,
) -> Result<mio::net::TcpListener, StartError> {
    let dup = socket
        .try_clone()
        .map_err(|source| StartError::Bind { addr, source })?;
    Ok(mio::net::TcpListener::from_std(dup.into()))
}

/// Bytes the kernel holds in a socket's send queue, sent and not yet acknowledged
/// or not sent yet (`ioctl(SIOCOUTQ)`, which is `TIOCOUTQ` on Linux): how far a
/// peer is behind in reading.
pub(crate) fn kernel_unsent(stream: &mio::net::TcpStream) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ writes one c_int through the pointer, which points at `n`,
    // a live c_int; the descriptor belongs to `stream`, borrowed for the call.
    let r = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// `sendmsg(fd, bufs, MSG_NOSIGNAL)`, or `send` for a single slice: a closed peer
/// gives EPIPE, never SIGPIPE in the host process (`writev` has no such flag).
#[inline]
pub(crate) fn send_nosignal(
    stream: &mio::net::TcpStream,
    bufs: &[IoSlice<'_>],
) -> io::Result<usize> {
    let sock = socket2::SockRef::from(stream);
    if let [one] = bufs {
        return sock.send_with_flags(one, libc::MSG_NOSIGNAL);
    }
    sock.send_vectored_with_flags(bufs, libc::MSG_NOSIGNAL)
}

/// Sends the ACK the kernel would delay for what was received (TCP_QUICKACK), if
/// the receive queue is empty; leaves the delayed-ACK ("pingpong") mode, which the
/// kernel enters again as the conversation goes on.
pub(crate) fn ack_now(stream: &mio::net::TcpStream) -> io::Result<()> {
    socket2::SockRef::from(stream).set_tcp_quickack(true)
}
