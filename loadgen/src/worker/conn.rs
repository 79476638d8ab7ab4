//! One connection's state ([`Conn`]): its socket, what it speaks ([`Role`]),
//! what it has in flight and when it sends next; and why one is closed ([`Why`]).

use std::collections::VecDeque;
use std::time::Instant;

use mio::net::TcpStream;

use crate::proto::{ws, MemberReader, Reader};

/// What a connection speaks.
pub(super) enum Role {
    /// HTTP, echo, WebSocket echo: requests and their answers, in order.
    Request(Reader),
    /// Frame protocol, WebSocket rooms: a room member, publishing or not.
    Frame {
        reader: MemberReader,
        joined: bool,
        publisher: Option<u32>,
    },
}

impl Role {
    /// WebSocket: the pongs owed to the server's pings.
    pub(super) fn pongs(&mut self) -> Option<&mut Vec<u8>> {
        match self {
            Role::Request(r) => r.pongs(),
            Role::Frame { reader, .. } => reader.pongs(),
        }
    }
}

/// One connection slot, kept across reconnects (a close gives it a new socket
/// and reader; its schedule stays).
pub(super) struct Conn {
    pub(super) stream: Option<TcpStream>,
    pub(super) connected: bool,
    pub(super) role: Role,
    /// Bytes not yet taken by the socket.
    pub(super) unsent: Vec<u8>,
    /// Requests sent and not answered: (intended send time, actual send time).
    /// After the server closed as it said it would, the ones it left unanswered
    /// stay here and are sent again on the next connection.
    pub(super) inflight: VecDeque<(Instant, Instant)>,
    /// Open loop: when this connection's next send is due.
    pub(super) next_due: Instant,
    pub(super) in_heap: bool,
    pub(super) retry_at: Option<Instant>,
    /// Frame protocol: the next frame's sequence number; joined at least once;
    /// when this connection's JOIN went out (a JOIN unanswered for the timeout
    /// is a timeout error).
    pub(super) seq: u64,
    pub(super) ever_joined: bool,
    pub(super) join_sent: Option<Instant>,
    /// Nothing answered since this connection was made: a close now reconnects
    /// after a pause (a server that refuses connections is not hammered).
    pub(super) fresh: bool,
    /// WebSocket: the opening handshake, until its `101` (the connection counts
    /// as open from then on); its request went out at `join_sent`.
    pub(super) handshake: Option<ws::Handshake>,
}

impl Conn {
    /// Connected, and past the WebSocket handshake if any: requests may go.
    #[inline]
    pub(super) fn open(&self) -> bool {
        self.connected && self.handshake.is_none()
    }
}

/// Why a connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Why {
    /// The server closed after an answer, as it said it would (Connection:
    /// close, HTTP/1.0) or as the answer's framing has it (a body that runs to
    /// the close): not an error; what it left unanswered is sent again.
    Done,
    Read,
    /// The server closed in the middle of an answer: a read error.
    Cut,
    Write,
    Timeout,
    Framing,
    /// WebSocket: the server sent a close frame (a read error).
    Closed,
    /// WebSocket: the handshake was answered with another status than 101 (a
    /// status error).
    Refused,
}
