//! What the backplane needs of this server's rooms, as traits the rooms
//! implement (the backplane is the lower layer: it never names them): a
//! [`Room`] to subscribe for and tell it is ready, and the [`Local`] side the
//! link hands frames from other servers to.

use std::sync::Arc;

use bytes::Bytes;

/// A room with members on this server, as the backplane sees it.
pub(crate) trait Room: Send + Sync + 'static {
    /// The room's name (its channel is the backplane's prefix and this name).
    fn name(&self) -> &Arc<str>;

    /// Marks the room ready: members joining from now on are told `JOINED` at
    /// once. True if it was not (the caller then tells the members waiting).
    fn make_ready(&self) -> bool;
}

/// Where the link thread delivers, owned by it: what it hands over during a turn
/// of its loop is collected, and passed on at [`Local::flush`].
pub(crate) trait Local: Send + 'static {
    /// The rooms the backplane subscribes for.
    type Room: Room;

    /// A frame from another server (whole, header included) for the members of
    /// `room` on this server (`text`: its payload is a WebSocket text message).
    fn deliver(&mut self, room: &Arc<Self::Room>, frame: Bytes, text: bool);

    /// `room` became ready ([`Room::make_ready`] said so): its members waiting
    /// for the broker's confirmation get their `JOINED`.
    fn ready(&mut self, room: &Arc<Self::Room>);

    /// Passes on what this turn produced.
    fn flush(&mut self);
}
