//! Generation-tagged tokens.
//!
//! A connection's `mio::Token` packs its slab index (low 32 bits) and a per-worker
//! generation number (high 32 bits) that is never reused for another connection of
//! that worker (until it wraps after 2^32 connections). An event or a timer that
//! outlives its connection carries the old generation, so it cannot reach the new
//! connection that reuses the slot: the "stale event after slot reuse" class of bugs.
//! The generation's top bit tells a connection's outbound side ([`super::upstream`])
//! from the connection itself; generations use the other 31 bits.

use mio::Token;

/// Token of the listening socket.
pub(crate) const LISTENER: Token = Token(usize::MAX);
/// Token of the worker's `mio::Waker`.
pub(crate) const WAKER: Token = Token(usize::MAX - 1);

/// The generation bit that marks a connection's outbound side.
const UPSTREAM: u32 = 1 << 31;

/// Identifies one connection of one worker for its whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ConnToken {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl ConnToken {
    /// The generation after `g` (31 bits: the top one marks the outbound side).
    #[inline]
    pub(crate) fn next_generation(g: u32) -> u32 {
        g.wrapping_add(1) & !UPSTREAM
    }

    /// The token of this connection's outbound side.
    #[inline]
    pub(crate) fn upstream(self) -> ConnToken {
        ConnToken {
            index: self.index,
            generation: self.generation | UPSTREAM,
        }
    }

    /// Whether this is an outbound side's token; and the connection it belongs to.
    #[inline]
    pub(crate) fn side(self) -> (ConnToken, bool) {
        (
            ConnToken {
                index: self.index,
                generation: self.generation & !UPSTREAM,
            },
            self.generation & UPSTREAM != 0,
        )
    }

    pub(crate) fn to_token(self) -> Token {
        Token(((self.generation as usize) << 32) | self.index as usize)
    }

    /// Decodes a connection token; `None` for the reserved tokens.
    pub(crate) fn from_token(token: Token) -> Option<ConnToken> {
        if token == LISTENER || token == WAKER {
            return None;
        }
        Some(ConnToken {
            index: (token.0 & 0xFFFF_FFFF) as u32,
            generation: (token.0 >> 32) as u32,
        })
    }
}

// The packing needs 64-bit tokens.
const _: () = assert!(usize::BITS == 64, "pierhead needs a 64-bit target");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_reserved() {
        let t = ConnToken {
            index: 7,
            generation: 0x7FFF_FFF0,
        };
        assert_eq!(ConnToken::from_token(t.to_token()), Some(t));
        assert_eq!(ConnToken::from_token(LISTENER), None);
        assert_eq!(ConnToken::from_token(WAKER), None);
        let reused = ConnToken {
            index: 7,
            generation: ConnToken::next_generation(0x7FFF_FFF0),
        };
        assert_ne!(t.to_token(), reused.to_token());
        // The outbound side: a token of its own, back to its connection.
        let up = t.upstream();
        assert_ne!(up.to_token(), t.to_token());
        assert_eq!(up.side(), (t, true));
        assert_eq!(t.side(), (t, false));
        assert_eq!(ConnToken::next_generation(0x7FFF_FFFF), 0);
    }
}
