//! permessage-deflate (RFC 7692): the extension's negotiation ([`negotiate()`]), the
//! per-connection decompressor ([`Inflater`], client to server) and compressor
//! ([`Deflater`], server to client), and what they cost in memory
//! ([`memory_bound`]).
//!
//! Both sides are zlib-rs (pure Rust) raw deflate streams, used directly rather
//! than through flate2: flate2 offers no way to choose the compressor's memLevel,
//! and zlib-rs is already the backend flate2 builds on in this workspace's lock.
//!
//! Memory per connection (zlib-rs allocates differently from C zlib, whose formula
//! `(1 << (windowBits+2)) + (1 << (memLevel+9))` does not hold here; the numbers
//! below are its allocation layout, checked with a counting allocator):
//! - the compressor holds `4 << windowBits` (window and chain), a fixed 128 KiB
//!   hash table (zlib-rs' hash size does not follow memLevel), `7 << (memLevel+6)`
//!   (pending output and symbol buffer) and about 3 KiB of state: 272 KiB at
//!   window 15, 144 KiB at window 9, with memLevel [`params::MEM_LEVEL`] 4. memLevel 8
//!   (zlib's default) would add 105 KiB per compressor for nothing measurable:
//!   memLevel only sizes the symbol buffer, that is how many symbols go in one
//!   deflate block (1024 at level 4); on 200 KB of JSON lines level 4 compressed
//!   as well as level 8 (20,185 against 20,483 bytes), on 100-byte messages
//!   identically (each sync flush ends a block anyway). memLevel 1 is 7 KiB
//!   smaller still but 6% worse on large messages.
//! - the decompressor holds 47,552 bytes whatever the window (zlib-rs always
//!   allocates the 32 KiB window, plus its state and decoding tables).
//!
//! Both are created lazily, on the first compressed message. Without context
//! takeover on the client's side the [`Inflater`] frees its stream after every
//! message, so an idle connection holds none; without context takeover on the
//! server's side the [`Deflater`] keeps no history between messages, so one per
//! worker (per window size) can serve every connection, and a room's broadcast can
//! be compressed once for all its members.

mod codec;
mod negotiate;
mod params;
#[cfg(test)]
mod tests;

#[cfg_attr(not(test), allow(unused_imports))]
pub(crate) use codec::{memory_bound, Deflater, InflateError, Inflater};
#[cfg_attr(not(test), allow(unused_imports))]
pub(crate) use negotiate::negotiate;
#[cfg_attr(not(test), allow(unused_imports))]
pub(crate) use params::{DeflateConfig, DeflateParams};
