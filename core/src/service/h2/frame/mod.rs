//! The HTTP/2 frame layer (RFC 9113 sections 4 and 6), sans-io: the frame
//! header, every frame type as a value borrowing its payload from the input,
//! a decoder that makes every check one frame allows, and encoders for what a
//! server sends (and what a client sends, for tests and the load generator).
//! There is no connection state here: stream states, windows, the header block
//! that CONTINUATION frames extend and the peer's settings belong to the
//! connection that calls this layer.
//!
//! Decoding ([`decode`](fn@decode), [`decode_at_server`]) takes the bytes
//! received so far and returns the first frame and how many bytes it took,
//! `None` while the frame is incomplete, or the error the frame is (RFC 9113 section 5.4): a
//! connection error (answer GOAWAY with its code, then close) or a stream error
//! (answer RST_STREAM on that stream and go on after the frame). Connection errors
//! that the 9-byte header shows (a length over the limit, a stream identifier a
//! type forbids, a length its type forbids) are reported as soon as the header
//! is there, so nothing is buffered for a doomed frame; errors that need the
//! payload (padding, settings values, a zero window increment), and every stream
//! error, once the whole frame is there: a stream error's frame is then consumed
//! whole ([`Scope::Stream`] says how long it is). The same bytes give the same
//! frames and the same error however they are cut.
//!
//! The checks and the h2spec cases (its `http2` group, numbered by RFC 7540's
//! sections) they answer, each exercised by a test named after it in `tests.rs`:
//!
//! | rule | error | h2spec |
//! |---|---|---|
//! | length over our SETTINGS_MAX_FRAME_SIZE | connection FRAME_SIZE_ERROR | 4.2/2, 4.2/3 |
//! | DATA, HEADERS, PRIORITY, RST_STREAM, PUSH_PROMISE, CONTINUATION on stream 0 | connection PROTOCOL_ERROR | 6.1/1, 6.2/3, 6.3/1, 6.4/1, 6.10/3 |
//! | SETTINGS, PING, GOAWAY on a stream | connection PROTOCOL_ERROR | 6.5/2, 6.7/3, 6.8/1 |
//! | padding as long as what it pads, or longer | connection PROTOCOL_ERROR | 6.1/3, 6.2/4 |
//! | SETTINGS ACK with a payload | connection FRAME_SIZE_ERROR | 6.5/1 |
//! | SETTINGS length not a multiple of 6 | connection FRAME_SIZE_ERROR | 6.5/3 |
//! | SETTINGS_ENABLE_PUSH not 0 or 1 | connection PROTOCOL_ERROR | 6.5.2/1 |
//! | SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1 | connection FLOW_CONTROL_ERROR | 6.5.2/2, 6.9.2/3 |
//! | SETTINGS_MAX_FRAME_SIZE out of 16384..=16777215 | connection PROTOCOL_ERROR | 6.5.2/3, 6.5.2/4 |
//! | unknown setting identifiers are ignored | - | 6.5.2/5 |
//! | PING length not 8 | connection FRAME_SIZE_ERROR | 6.7/4, 5.4.1/1 |
//! | PRIORITY length not 5 | stream FRAME_SIZE_ERROR | 6.3/2 |
//! | RST_STREAM length not 4 | connection FRAME_SIZE_ERROR | 6.4/3 |
//! | WINDOW_UPDATE length not 4 | connection FRAME_SIZE_ERROR | 6.9/3 |
//! | WINDOW_UPDATE increment 0 | connection PROTOCOL_ERROR on stream 0, stream PROTOCOL_ERROR on a stream | 6.9/1, 6.9/2 |
//! | a frame too short for its fixed fields (pad length, priority, promised stream, GOAWAY's 8 bytes) | connection FRAME_SIZE_ERROR | (RFC 9113 4.2) |
//! | PRIORITY depending on its own stream | stream PROTOCOL_ERROR | 5.3.1/2 |
//! | HEADERS depending on its own stream | stream PROTOCOL_ERROR, after its field block ([`Headers::stream_error`]) | 5.3.1/1 |
//! | PUSH_PROMISE received by a server ([`decode_at_server`]) | connection PROTOCOL_ERROR | (RFC 9113 8.4) |
//! | unknown frame types, undefined flags, the R bit | ignored (returned, dropped, masked off) | 4.1/1-3, 5.5/1 |
//! | GOAWAY and RST_STREAM with unknown error codes | kept ([`ErrorCode::Unknown`]) | 7/1, 7/2 |
//!
//! A frame over the limit on a stream (DATA) could be a stream error; it is a
//! connection error here, as RFC 9113 section 5.4.1 allows, since skipping it
//! would mean reading up to 16 MiB that will be thrown away.
//!
//! Files: `header` (the 9-byte header, the types, flags and limits), `frames`
//! (a value per type), `error` (error codes, what a frame broke and whom it
//! ends), `settings` (SETTINGS parameters and their bounds), `decode`, `encode`.

mod decode;
mod encode;
mod error;
mod frames;
mod header;
mod settings;
#[cfg(test)]
mod tests;

pub use decode::{decode, decode_at_server, decode_preface};
pub use encode::{
    encode_data, encode_data_header, encode_goaway, encode_headers, encode_ping, encode_preface,
    encode_rst_stream, encode_settings, encode_settings_ack, encode_window_update,
};
pub use error::{ErrorCode, FrameError, Scope, Violation};
pub use frames::{
    Continuation, Data, Decoded, Frame, GoAway, Headers, Ping, Priority, PushPromise, RstStream,
    StreamDependency, Unknown, WindowUpdate,
};
pub use header::{
    flag, kind, FrameHeader, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW, HEADER_LEN,
    MAX_FRAME_SIZE_LIMIT, MAX_WINDOW, PREFACE,
};
pub use settings::{Setting, Settings};
