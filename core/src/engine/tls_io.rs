//! TLS as a layer under any service: a read through the connection's rustls
//! session, turned into what a plain socket read would give (plaintext bytes,
//! would-block, EOF or an error), plus whether the handshake just completed.

use std::io;
use std::time::Duration;

use mio::net::TcpStream;

use crate::stats::Counters;
use crate::tls::session::{TlsRead, TlsSession};

/// One TLS read.
pub(super) struct Read {
    /// As a socket read: plaintext bytes (0: the peer closed), or an error.
    pub(super) result: io::Result<usize>,
    /// The handshake completed during this read.
    pub(super) established: bool,
}

/// Reads plaintext into `buf`. A handshake fault that resets sets SO_LINGER 0 (the
/// close sends RST); a failed handshake or bad record is a protocol error.
pub(super) fn read(
    tls: &mut TlsSession,
    stream: &TcpStream,
    buf: &mut [u8],
    counters: &Counters,
) -> Read {
    let r = tls.read(stream, buf);
    let established = tls.take_established();
    let result = match r {
        TlsRead::Data(n) => Ok(n),
        TlsRead::Blocked => Err(io::ErrorKind::WouldBlock.into()),
        TlsRead::Reset => {
            let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
            Err(io::ErrorKind::ConnectionReset.into())
        }
        TlsRead::Close => {
            counters.protocol_errors.incr();
            Err(io::ErrorKind::InvalidData.into())
        }
    };
    Read {
        result,
        established,
    }
}
