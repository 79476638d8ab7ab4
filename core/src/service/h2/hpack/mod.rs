//! HPACK, HTTP/2's header compression (RFC 7541): a [`Decoder`] and an
//! [`Encoder`] per connection, one for each direction.
//!
//! - [`decoder`]: a whole header block in, a callback per [`Field`] out, borrowed
//!   wherever possible (an indexed field costs no allocation); the limits a
//!   public server needs: dynamic table size updates no larger than the
//!   SETTINGS_HEADER_TABLE_SIZE we advertise and only at the start of a block, a
//!   header list limit checked field by field (an HPACK bomb, a few bytes that
//!   name a large table entry again and again, stops at the limit), integers of at
//!   most 32 bits. Every error is typed ([`DecodeError`]) and is a
//!   COMPRESSION_ERROR. It never panics, and allocates at most the block's size
//!   (Huffman strings) and the table's capacity (its entries).
//! - [`encoder`]: static and dynamic table references, literals added to the
//!   dynamic table or not as the caller says ([`Indexing`]), Huffman coding when it
//!   is shorter, size updates to keep in step with the peer's
//!   SETTINGS_HEADER_TABLE_SIZE, and [`FixedBlock`]: a block encoded once and
//!   sent on any connection (a fixed response's headers).
//! - [`huffman`]: the Huffman code of Appendix B, with a table-driven decoder (4
//!   bits per step) derived from it at compile time.
//! - `table`: the static table (Appendix A) and the dynamic table.
//!
//! Tests: every example of Appendix C (C.2 to C.6, decoded and encoded, with the
//! dynamic table after each block), round trips by proptest, each error, a bomb.
//! Fuzz target `hpack` (fuzz/).

pub mod decoder;
pub mod encoder;
pub mod huffman;
pub(crate) mod table;
#[cfg(test)]
mod tests;

pub use decoder::{DecodeError, Decoder};
pub use encoder::{Block, Encoder, FixedBlock, Huffman, Indexing};
pub use huffman::HuffmanError;

/// The HTTP/2 error code of every HPACK decoding error (RFC 9113 Section 7).
pub const COMPRESSION_ERROR: u32 = 0x9;

/// SETTINGS_HEADER_TABLE_SIZE's initial value (RFC 9113 Section 6.5.2): the
/// dynamic table's size until the peer says otherwise.
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// The decoder's header list limit unless set ([`Decoder::set_max_header_list_size`]):
/// 64 KiB of names and values (counted with 32 bytes per field), what a server
/// would advertise as SETTINGS_MAX_HEADER_LIST_SIZE.
pub const DEFAULT_MAX_HEADER_LIST_SIZE: usize = 64 * 1024;

/// A decoded header field, borrowed from the block, the tables or the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The name, as sent (HPACK does not check it; HTTP/2 wants it lowercase).
    pub name: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// Sent as never indexed (a credential): whoever re-encodes it must too
    /// ([`Indexing::Never`]).
    pub sensitive: bool,
}
