//! permessage-deflate's parameters: what the server accepts ([`DeflateConfig`]),
//! what a connection agreed ([`DeflateParams`]), and the zlib settings that
//! follow from them.

/// The compressor's memLevel (1..=9): sizes its symbol buffer (see [`super`]
/// for what it costs and saves).
pub(crate) const MEM_LEVEL: u8 = 4;

/// The compression level (zlib's default, as Node's `ws` and Python's
/// `websockets` use): about 2 µs per 100-byte message at window 15 on this
/// machine, where level 1 takes 0.15 µs but produces 14% more bytes on small
/// messages and 70% more on large ones.
pub(crate) const LEVEL: u8 = 6;

/// What the server offers/accepts (from config; defaults: enabled, server window
/// 15, context takeover allowed both ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeflateConfig {
    /// Whether permessage-deflate is accepted at all.
    pub(crate) enabled: bool,
    /// Always answer `server_no_context_takeover` (the server keeps no history
    /// between the messages it compresses), even if the client did not ask.
    pub(crate) server_no_context_takeover: bool,
    /// The largest compression window the server uses (8..=15; out-of-range
    /// values are clamped).
    pub(crate) server_max_window_bits: u8,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            enabled: true,
            server_no_context_takeover: false,
            server_max_window_bits: 15,
        }
    }
}

/// The agreed parameters for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeflateParams {
    /// The server resets its compressor after every message.
    pub(crate) server_no_context_takeover: bool,
    /// The client resets its compressor after every message (so the server's
    /// decompressor is reset, and freed, after every message too).
    pub(crate) client_no_context_takeover: bool,
    /// The server compresses with a window of at most `1 << this` bytes (8..=15).
    pub(crate) server_max_window_bits: u8,
    /// The client compresses with a window of at most `1 << this` bytes (8..=15).
    pub(crate) client_max_window_bits: u8,
}

/// The window bits the compressor really uses: zlib refuses a raw deflate stream
/// with window bits 8, so 8 becomes 9. That stays within what a peer with a
/// 256-byte window can inflate: zlib never emits a distance above the window
/// size minus 262 (its `MIN_LOOKAHEAD`), 250 bytes for a 512-byte window.
pub(crate) fn compressor_window_bits(p: &DeflateParams) -> u8 {
    p.server_max_window_bits.clamp(9, 15)
}

/// The window bits the decompressor uses: what the client may use (RFC 7692
/// 7.1.2.2: 15 unless the response limited it; zlib inflates raw streams with
/// window bits 8). zlib-rs keeps a 32 KiB window whatever this says, so a client
/// that goes past its limit is inflated right rather than refused.
pub(crate) fn decompressor_window_bits(p: &DeflateParams) -> u8 {
    p.client_max_window_bits.clamp(8, 15)
}
