//! `ws`: WebSocket (RFC 6455) with permessage-deflate (RFC 7692), on the rooms of
//! the frame protocol.
//!
//! A connection starts with the opening handshake ([`handshake`]); its path names
//! the room it joins (`/lobby`), or, for `/`, none: its messages come back to it.
//! A connection whose first bytes are the frame protocol's magic is a frame client,
//! served by the frame protocol's session in the same rooms (the fan-out encodes a
//! delivery once for the WebSocket members and uses the data frame itself for the
//! frame members).
//! A member's messages go to every other member of its room, on any worker and
//! across the backplane, under the same slow-consumer policies as frame members.
//! The session ([`session`]) reads frames ([`frame`]) as they arrive, validates
//! text incrementally ([`utf8`]), inflates compressed messages ([`deflate`]) under
//! `max_message_bytes`, answers pings and the close handshake ([`close`]). The
//! service ([`service`]) puts each room delivery under a WebSocket header once for
//! all of a worker's members: server frames are unmasked, so they share the bytes.
//!
//! The HTTP mock's WebSocket routes use the same reader ([`inbound`]) and
//! handshake: after the upgrade a connection is an [`endpoint`]'s (echo, script,
//! handler, faults, the message log).

pub(crate) mod close;
pub(crate) mod deflate;
pub(crate) mod endpoint;
pub(crate) mod frame;
pub(crate) mod handshake;
pub(crate) mod inbound;
pub(crate) mod service;
mod session;
pub(crate) mod utf8;

pub(crate) use service::WsService;
