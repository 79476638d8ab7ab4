//! What a server speaks ([`Protocol`]) and what it does with a slow room member
//! ([`SlowConsumer`]): each with its names as the command line and the bindings
//! use them, written once (printing and parsing read the same table), and the
//! ALPN names a protocol offers over TLS.

use std::fmt;
use std::str::FromStr;

use crate::error::ConfigError;
use crate::syntax::parse_name;
use crate::tls::ALPN_HTTP1;

/// The protocol a server speaks on every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Read and drop everything (RFC 863).
    Discard,
    /// Send back every byte received, in order (RFC 862).
    Echo,
    /// HTTP/1.1 (and 1.0) with keep-alive and pipelining.
    Http,
    /// Length-prefixed binary frames with rooms and broadcast.
    Frame,
    /// WebSocket (RFC 6455, permessage-deflate): `ws://host/<room>` joins a room of
    /// the frame protocol's registry; `ws://host/` echoes.
    Ws,
}

impl Protocol {
    /// Every protocol, in the order their names are listed.
    const ALL: [Protocol; 5] = [
        Protocol::Discard,
        Protocol::Echo,
        Protocol::Http,
        Protocol::Frame,
        Protocol::Ws,
    ];

    /// The protocol's name as used on the command line and in bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Discard => "discard",
            Protocol::Echo => "echo",
            Protocol::Http => "http",
            Protocol::Frame => "frame",
            Protocol::Ws => "ws",
        }
    }

    /// The protocol names ALPN offers for this protocol over TLS (none: no ALPN).
    pub(crate) fn alpn(self) -> &'static [&'static [u8]] {
        match self {
            // A WebSocket handshake is an HTTP/1.1 request.
            Protocol::Http | Protocol::Ws => &[ALPN_HTTP1],
            Protocol::Discard | Protocol::Echo | Protocol::Frame => &[],
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        parse_name(
            "protocol",
            s,
            &Self::ALL,
            Self::as_str,
            "discard, echo, http, frame, ws",
        )
    }
}

/// What happens to a room member whose pending output is over `max_output_bytes`
/// when a broadcast frame arrives for it (frame protocol). The publisher and the
/// other members are never held back; every drop and disconnect is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SlowConsumer {
    /// Send `ERROR "slow consumer"` (best effort) and close it.
    #[default]
    Disconnect,
    /// Drop the frames that do not fit, for that member.
    DropNewest,
    /// Drop queued broadcast frames from the front to make room (a frame partly
    /// sent is finished first, so the stream never breaks mid-frame).
    DropOldest,
}

impl SlowConsumer {
    /// Every policy, in the order their names are listed.
    const ALL: [SlowConsumer; 3] = [
        SlowConsumer::Disconnect,
        SlowConsumer::DropNewest,
        SlowConsumer::DropOldest,
    ];

    /// The policy's name as used on the command line and in bindings.
    pub fn as_str(self) -> &'static str {
        match self {
            SlowConsumer::Disconnect => "disconnect",
            SlowConsumer::DropNewest => "drop_newest",
            SlowConsumer::DropOldest => "drop_oldest",
        }
    }
}

impl FromStr for SlowConsumer {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        parse_name(
            "slow_consumer",
            s,
            &Self::ALL,
            Self::as_str,
            "disconnect, drop_newest, drop_oldest",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::check_names;

    #[test]
    fn names_round_trip_and_are_listed() {
        check_names("protocol", &Protocol::ALL, Protocol::as_str);
        check_names("slow_consumer", &SlowConsumer::ALL, SlowConsumer::as_str);
    }
}
