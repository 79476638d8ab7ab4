//! `ws`: WebSocket (RFC 6455) with permessage-deflate (RFC 7692).

pub(crate) mod deflate;
