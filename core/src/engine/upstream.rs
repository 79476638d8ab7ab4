//! A session's outbound connection: dialled by the engine when the session asks
//! ([`crate::service::Cx::dial`]) and driven by the same worker as the client
//! connection it belongs to, with its own send queue and backpressure both ways
//! (a proxy's upstream).
//!
//! Its events carry the client connection's token with [`ConnToken::upstream`]
//! set, so they reach the pair; what arrives is handed to the session through
//! [`crate::service::Service::on_upstream`].

use std::io;
use std::net::SocketAddr;

use mio::net::TcpStream;

use super::send_queue::SendQueue;
use super::token::ConnToken;

/// Where the outbound connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpstreamState {
    /// The non-blocking connect is under way.
    Connecting,
    /// Connected: bytes flow both ways.
    Open,
    /// Failed or ended: nothing more is read from it.
    Done,
}

/// The outbound connection of one client connection.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) stream: TcpStream,
    pub(crate) token: ConnToken,
    pub(crate) state: UpstreamState,
    /// Received bytes the session did not consume yet.
    pub(crate) input: Vec<u8>,
    /// Bytes not yet sent to it.
    pub(crate) output: SendQueue,
    /// It shut down its sending side.
    pub(crate) read_closed: bool,
    /// Reading from it paused: the client's send queue is over its limit.
    pub(crate) read_suspended: bool,
    pub(crate) writable_interest: bool,
}

impl Upstream {
    /// Starts connecting to `addr` (non-blocking).
    pub(crate) fn dial(addr: SocketAddr, token: ConnToken) -> io::Result<Upstream> {
        let stream = TcpStream::connect(addr)?;
        Ok(Upstream {
            stream,
            token: token.upstream(),
            state: UpstreamState::Connecting,
            input: Vec::new(),
            output: SendQueue::default(),
            read_closed: false,
            read_suspended: false,
            writable_interest: true,
        })
    }

    /// After a writable (or error) event while connecting: `Ok(true)` once
    /// connected.
    pub(crate) fn finish_connect(&mut self) -> io::Result<bool> {
        if let Some(e) = self.stream.take_error()? {
            return Err(e);
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                let _ = self.stream.set_nodelay(true);
                self.state = UpstreamState::Open;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// What a session asks of its outbound connection during one call (see
/// [`crate::service::Cx::dial`]).
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    /// Dial this address (once per connection).
    pub(crate) dial: Option<SocketAddr>,
    /// Bytes for the outbound connection, appended in order.
    pub(crate) out: Vec<u8>,
}
