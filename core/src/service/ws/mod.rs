//! WebSocket (RFC 6455, with RFC 7692 permessage-deflate): the frame codec.

pub(crate) mod close;
pub(crate) mod frame;
pub(crate) mod utf8;
