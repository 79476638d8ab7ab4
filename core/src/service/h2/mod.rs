//! `h2`: HTTP/2 (RFC 9113) for the `http` protocol, built as sans-io modules in
//! the style of [`super::ws`]: each takes bytes and gives back what they mean, or
//! takes what to say and gives back bytes, and knows nothing of sockets.
//!
//! What HTTP/2 in pierhead will be (issue 25): h2c with prior knowledge (found by
//! the connection preface), h2c by `Upgrade: h2c` and h2 over TLS by ALPN, on the
//! same port as HTTP/1.1, serving the same routes, handlers, faults and request log
//! through the same routing layer, plus gRPC mocks; and `pierhead bench` over
//! h2c and h2. BENCHMARKS.md "Issue 25: choosing the HTTP/2 implementation" is why
//! the frame layer and HPACK are our own rather than hyperium's `h2`.
//!
//! Submodules (nothing is wired into the engine or the HTTP service yet):
//!
//! | module | what it does |
//! |---|---|
//! | [`frame`] | the frame layer (RFC 9113 sections 4 and 6): decode one frame with every check a single frame allows, encode what a server or a client sends |
//! | [`hpack`] | header compression (RFC 7541): decoder, encoder, Huffman code, tables |
//! | [`conn`] | the server connection (RFC 9113 sections 3, 5, 6, 8): preface, settings, streams, flow control, requests in, responses out, the protections |
//!
//! Clients (the load generator) use them through [`crate::http2`].

pub(crate) mod conn;
pub(crate) mod frame;
pub mod hpack;
