//! `h2`: HTTP/2 (RFC 9113), built as sans-io layers in the style of [`super::ws`].
//!
//! HTTP/2 in pierhead will serve the same routes as HTTP/1.1 (h2c by prior
//! knowledge or `Upgrade: h2c`, h2 over TLS by ALPN), on frames and header
//! compression of its own: small modules that take byte slices and append bytes
//! to a `Vec`, with no I/O and no connection state, each with its own tests and
//! fuzz target. The load generator uses the same modules (`pierhead::http2`).
//!
//! | module | what it does |
//! |---|---|
//! | [`frame`] | the frame layer (RFC 9113 sections 4 and 6): decode one frame with every check a single frame allows, encode what a server or a client sends |

pub(crate) mod frame;
