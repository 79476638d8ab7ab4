//! The HPACK decoder (RFC 7541 Sections 3, 5 and 6): a whole header block in, a
//! callback per field out.
//!
//! A block is decoded whole (the frame layer joins HEADERS and CONTINUATION
//! fragments first, under its own limit). Names and values are handed to the
//! callback borrowed: from the static table, from the dynamic table, from the block
//! itself for a raw literal, and from one of two buffers the decoder keeps for
//! Huffman-coded literals. An all-indexed block (a client's repeated request)
//! allocates nothing; a literal added to the dynamic table is its one allocation.
//!
//! Every error is a connection error of type COMPRESSION_ERROR (RFC 9113 Section
//! 4.3): the block was not decoded to its end, so the dynamic table is no longer
//! the peer's and the decoder must not be used again.

use thiserror::Error;

use super::huffman::{self, HuffmanError};
use super::table::{DynamicTable, ENTRY_OVERHEAD, STATIC, STATIC_LEN};
use super::{Field, COMPRESSION_ERROR, DEFAULT_MAX_HEADER_LIST_SIZE, DEFAULT_TABLE_SIZE};

/// Why a header block was refused. Each is a COMPRESSION_ERROR
/// ([`DecodeError::h2_code`]).
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The block ends inside a representation.
    #[error("HPACK: the header block ends inside a field")]
    Truncated,
    /// An integer does not fit in 32 bits, or takes more than 5 continuation bytes
    /// (Section 5.1).
    #[error("HPACK: integer too large")]
    IntegerOverflow,
    /// An index of 0, or past the end of both tables (Section 2.3.3).
    #[error("HPACK: index {0} is not in the tables")]
    BadIndex(usize),
    /// A Huffman-coded string holds the EOS symbol (Section 5.2).
    #[error("HPACK: EOS in a Huffman-coded string")]
    HuffmanEos,
    /// A Huffman-coded string's padding is longer than 7 bits or not all ones
    /// (Section 5.2).
    #[error("HPACK: bad Huffman padding")]
    HuffmanPadding,
    /// A dynamic table size update above the SETTINGS_HEADER_TABLE_SIZE we
    /// advertise (Section 6.3).
    #[error("HPACK: dynamic table size update to {size}, above our limit of {max}")]
    TableSizeTooLarge {
        /// The size asked for.
        size: usize,
        /// Our SETTINGS_HEADER_TABLE_SIZE.
        max: usize,
    },
    /// A dynamic table size update after a field (Section 4.2: only at the start of
    /// a block).
    #[error("HPACK: dynamic table size update after a field")]
    LateTableSizeUpdate,
    /// Our SETTINGS_HEADER_TABLE_SIZE went below the table's size and the next
    /// block did not start with a size update to fit it (Section 4.2).
    #[error("HPACK: no dynamic table size update after our limit was lowered")]
    MissingTableSizeUpdate,
    /// The fields add up past the header list limit (each counts its name and
    /// value plus 32, as SETTINGS_MAX_HEADER_LIST_SIZE does): decoding stopped
    /// there (an HPACK bomb stops early).
    #[error("HPACK: header list larger than {max} bytes")]
    HeaderListTooLarge {
        /// The limit.
        max: usize,
    },
}

impl DecodeError {
    /// The HTTP/2 error code a connection ends with (GOAWAY) for this error:
    /// COMPRESSION_ERROR.
    pub const fn h2_code(self) -> u32 {
        COMPRESSION_ERROR
    }
}

impl From<HuffmanError> for DecodeError {
    fn from(e: HuffmanError) -> Self {
        match e {
            HuffmanError::Eos => DecodeError::HuffmanEos,
            HuffmanError::Padding => DecodeError::HuffmanPadding,
        }
    }
}

/// The decoding side of one direction of a connection: its dynamic table and
/// limits. See the [module](self).
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// Our SETTINGS_HEADER_TABLE_SIZE: the most a size update may ask for.
    max_table_size: usize,
    /// Our limit was lowered below the table's capacity: the next block must
    /// start with a size update.
    update_required: bool,
    max_list_size: usize,
    /// Huffman-decoded names and values (kept for their capacity).
    name_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

impl Default for Decoder {
    /// [`DEFAULT_TABLE_SIZE`] and [`DEFAULT_MAX_HEADER_LIST_SIZE`].
    fn default() -> Self {
        Decoder::new(DEFAULT_TABLE_SIZE)
    }
}

/// The largest integer accepted (Section 5.1 lets an implementation limit them):
/// sizes and indices are far below it.
const MAX_INT: u64 = u32::MAX as u64;

/// Reads an integer with an `N`-bit prefix (Section 5.1) at `*pos`, advancing it.
/// The prefix's other bits (the representation's flags) are ignored.
#[inline]
pub(crate) fn decode_int(
    block: &[u8],
    pos: &mut usize,
    prefix_bits: u8,
) -> Result<usize, DecodeError> {
    let max_prefix = ((1u16 << prefix_bits) - 1) as u8;
    let Some(&first) = block.get(*pos) else {
        return Err(DecodeError::Truncated);
    };
    *pos += 1;
    let prefix = first & max_prefix;
    if prefix < max_prefix {
        return Ok(prefix as usize);
    }
    let mut value = u64::from(max_prefix);
    // 5 continuation bytes hold 35 bits: enough for any value up to MAX_INT.
    for shift in (0..35).step_by(7) {
        let Some(&b) = block.get(*pos) else {
            return Err(DecodeError::Truncated);
        };
        *pos += 1;
        value += u64::from(b & 0x7f) << shift;
        if value > MAX_INT {
            return Err(DecodeError::IntegerOverflow);
        }
        if b & 0x80 == 0 {
            return Ok(value as usize);
        }
    }
    Err(DecodeError::IntegerOverflow)
}

/// Reads a string literal (Section 5.2) at `*pos`: borrowed from the block when
/// raw, decoded into `buf` when Huffman-coded.
#[inline]
fn decode_string<'a>(
    block: &'a [u8],
    pos: &mut usize,
    buf: &'a mut Vec<u8>,
) -> Result<&'a [u8], DecodeError> {
    let huffman = block.get(*pos).is_some_and(|b| b & 0x80 != 0);
    let len = decode_int(block, pos, 7)?;
    let Some(raw) = block.get(*pos..).and_then(|rest| rest.get(..len)) else {
        return Err(DecodeError::Truncated);
    };
    *pos += len;
    if !huffman {
        return Ok(raw);
    }
    buf.clear();
    huffman::decode(raw, buf)?;
    Ok(buf)
}

impl Decoder {
    /// A decoder for a connection where we advertise `max_table_size` as
    /// SETTINGS_HEADER_TABLE_SIZE (the peer's encoder starts with a table of that
    /// size), with the [`DEFAULT_MAX_HEADER_LIST_SIZE`].
    pub fn new(max_table_size: usize) -> Self {
        Decoder {
            table: DynamicTable::new(max_table_size),
            max_table_size,
            update_required: false,
            max_list_size: DEFAULT_MAX_HEADER_LIST_SIZE,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
        }
    }

    /// Our SETTINGS_HEADER_TABLE_SIZE changed (call it once the peer acknowledged
    /// the SETTINGS): size updates may go up to `size`; if it is below the table's
    /// current capacity, the next block must start with an update that fits.
    pub fn set_max_table_size(&mut self, size: usize) {
        self.max_table_size = size;
        if size < self.table.capacity() {
            self.update_required = true;
        }
    }

    /// The most a block's fields may add up to (each field's name and value plus
    /// 32, as SETTINGS_MAX_HEADER_LIST_SIZE counts them), checked field by field.
    pub fn set_max_header_list_size(&mut self, size: usize) {
        self.max_list_size = size;
    }

    /// The dynamic table: its number of entries, the sum of their sizes, its
    /// capacity (the last size update's).
    pub fn table_state(&self) -> (usize, usize, usize) {
        (self.table.len(), self.table.size(), self.table.capacity())
    }

    /// The dynamic table's entry `i` places from the newest (index `62 + i`).
    pub fn table_entry(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.table.get(i)
    }

    /// Decodes a whole header block, calling `field` for each field in order.
    /// On an error, fields before it were already handed over and the decoder is
    /// out of step with the peer (see the [module](self)).
    pub fn decode<F>(&mut self, block: &[u8], mut field: F) -> Result<(), DecodeError>
    where
        F: FnMut(Field<'_>),
    {
        let mut pos = 0;
        let mut list_size = 0usize;
        let mut at_start = true;
        let max_list = self.max_list_size;
        // Counts a field against the list limit before it is handed over.
        let mut count = |name: &[u8], value: &[u8]| {
            list_size = list_size.saturating_add(name.len() + value.len() + ENTRY_OVERHEAD);
            if list_size > max_list {
                return Err(DecodeError::HeaderListTooLarge { max: max_list });
            }
            Ok(())
        };
        if self.update_required && block.first().is_none_or(|b| b & 0xe0 != 0x20) {
            return Err(DecodeError::MissingTableSizeUpdate);
        }
        while let Some(&first) = block.get(pos) {
            if first & 0x80 != 0 {
                // Indexed field (Section 6.1).
                let index = decode_int(block, &mut pos, 7)?;
                let (name, value) = lookup(&self.table, index)?;
                count(name, value)?;
                field(Field {
                    name,
                    value,
                    sensitive: false,
                });
            } else if first & 0xe0 == 0x20 {
                // Dynamic table size update (Section 6.3).
                if !at_start {
                    return Err(DecodeError::LateTableSizeUpdate);
                }
                let size = decode_int(block, &mut pos, 5)?;
                if size > self.max_table_size {
                    return Err(DecodeError::TableSizeTooLarge {
                        size,
                        max: self.max_table_size,
                    });
                }
                self.table.set_capacity(size);
                self.update_required = false;
                continue;
            } else {
                // Literal (Section 6.2): with incremental indexing (01, 6-bit
                // index), never indexed (0001) or without indexing (0000, 4-bit).
                let (indexing, sensitive, prefix) = match first & 0xf0 {
                    0x40..=0x70 => (true, false, 6),
                    0x10 => (false, true, 4),
                    _ => (false, false, 4),
                };
                let index = decode_int(block, &mut pos, prefix)?;
                let name: &[u8] = match index {
                    0 => decode_string(block, &mut pos, &mut self.name_buf)?,
                    1..=STATIC_LEN => STATIC[index - 1].0,
                    _ => {
                        // Copied out: the table may evict it when this field is added.
                        let (n, _) = lookup(&self.table, index)?;
                        self.name_buf.clear();
                        self.name_buf.extend_from_slice(n);
                        &self.name_buf
                    }
                };
                let value = decode_string(block, &mut pos, &mut self.value_buf)?;
                count(name, value)?;
                field(Field {
                    name,
                    value,
                    sensitive,
                });
                if indexing {
                    self.table.insert(name, value);
                }
            }
            at_start = false;
        }
        Ok(())
    }
}

/// The entry at HPACK index `index` (1 to 61 static, then dynamic).
#[inline]
fn lookup(table: &DynamicTable, index: usize) -> Result<(&[u8], &[u8]), DecodeError> {
    match index {
        0 => Err(DecodeError::BadIndex(0)),
        1..=STATIC_LEN => Ok(STATIC[index - 1]),
        _ => table
            .get(index - STATIC_LEN - 1)
            .ok_or(DecodeError::BadIndex(index)),
    }
}
