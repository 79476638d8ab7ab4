//! The HPACK encoder: responses for the server, requests for the load generator.
//!
//! Each field is written in the shortest way the tables allow: indexed when an
//! entry has its name and value (the static table first, then the dynamic one),
//! else a literal naming the entry with its name (static first), else a literal
//! with the name too. A literal is added to the dynamic table or not as the caller
//! says ([`Indexing`]); a string is Huffman-coded when that is shorter.
//!
//! The encoder's dynamic table is the peer decoder's: it uses no more than the
//! peer's SETTINGS_HEADER_TABLE_SIZE ([`Encoder::set_max_table_size`]) and owes
//! the peer a dynamic table size update at the start of the next block whenever
//! the size it uses changed (the smallest size since the last block, then the
//! last one: RFC 7541 Section 4.2).
//!
//! A block whose fields are all in the static table or literals not added to the
//! dynamic table depends on no connection's state: [`FixedBlock`] encodes it once
//! (a fixed response's headers), and [`Encoder::write_fixed`] sends it on any
//! connection, after the size update the connection owes, if any.

use super::huffman;
use super::table::{find_static, DynamicTable, Match, ENTRY_OVERHEAD, STATIC_LEN};
use super::DEFAULT_TABLE_SIZE;

/// Whether a literal is added to the dynamic table (RFC 7541 Section 6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexing {
    /// Added (literal with incremental indexing): later blocks may send it as one
    /// index. A field larger than the whole table is sent without indexing.
    Add,
    /// Not added (literal without indexing): a value that changes every time.
    Skip,
    /// Never indexed, by us or by any intermediary that re-encodes it (a
    /// credential): always a literal, even when a table holds the field.
    Never,
}

/// Appends `value` with an `prefix_bits`-bit prefix (RFC 7541 Section 5.1),
/// `flags` in the first byte's other bits.
#[inline]
pub(crate) fn encode_int(dst: &mut Vec<u8>, flags: u8, prefix_bits: u8, value: usize) {
    let max_prefix = ((1u16 << prefix_bits) - 1) as usize;
    if value < max_prefix {
        dst.push(flags | value as u8);
        return;
    }
    dst.push(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        dst.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    dst.push(rest as u8);
}

/// When string literals are Huffman-coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Huffman {
    /// When that is shorter than the string (the default).
    Shorter,
    /// Always (as RFC 7541's examples are).
    Always,
    /// Never.
    Never,
}

/// Appends a string literal (Section 5.2), Huffman-coded as `huffman` says.
#[inline]
fn encode_string(dst: &mut Vec<u8>, s: &[u8], huffman: Huffman) {
    let coded = match huffman {
        Huffman::Never => usize::MAX,
        Huffman::Shorter | Huffman::Always => huffman::encoded_len(s),
    };
    if coded < s.len() || (huffman == Huffman::Always) {
        encode_int(dst, 0x80, 7, coded);
        huffman::encode(s, dst);
    } else {
        encode_int(dst, 0, 7, s.len());
        dst.extend_from_slice(s);
    }
}

/// Appends a literal field: `flags` and the name's index (0: the name follows as
/// a literal) with `prefix_bits`, then the name if needed, then the value.
#[inline]
fn encode_literal(
    dst: &mut Vec<u8>,
    (flags, prefix_bits): (u8, u8),
    index: usize,
    (name, value): (&[u8], &[u8]),
    huffman: Huffman,
) {
    encode_int(dst, flags, prefix_bits, index);
    if index == 0 {
        encode_string(dst, name, huffman);
    }
    encode_string(dst, value, huffman);
}

/// The first byte's flags and the prefix of a literal that is not added.
fn not_added(indexing: Indexing) -> (u8, u8) {
    match indexing {
        Indexing::Never => (0x10, 4),
        Indexing::Add | Indexing::Skip => (0x00, 4),
    }
}

/// The encoding side of one direction of a connection. See the [module](self).
#[derive(Debug)]
pub struct Encoder {
    table: DynamicTable,
    /// The most the table may use, whatever the peer allows.
    limit: usize,
    /// The size updates owed: the smallest size since the last block, and the
    /// last one.
    pending: Option<(usize, usize)>,
    huffman: Huffman,
}

impl Default for Encoder {
    /// The peer's table as HTTP/2 starts it: [`DEFAULT_TABLE_SIZE`].
    fn default() -> Self {
        Encoder::new(DEFAULT_TABLE_SIZE)
    }
}

impl Encoder {
    /// An encoder whose peer's decoder starts with a table of `table_size`
    /// (4,096 in HTTP/2 until its SETTINGS say otherwise). The encoder never uses a
    /// larger table than this, even if the peer allows one.
    pub fn new(table_size: usize) -> Self {
        Encoder {
            table: DynamicTable::new(table_size),
            limit: table_size,
            pending: None,
            huffman: Huffman::Shorter,
        }
    }

    /// When string literals are Huffman-coded from now on ([`Huffman::Shorter`]
    /// unless set).
    pub fn set_huffman(&mut self, huffman: Huffman) {
        self.huffman = huffman;
    }

    /// The peer's SETTINGS_HEADER_TABLE_SIZE is `size`: the table becomes
    /// `min(size, limit)`, evicting at once, and the next block starts with the
    /// size update the peer needs (none if the size is as before).
    pub fn set_max_table_size(&mut self, size: usize) {
        let size = size.min(self.limit);
        let current = self.table.capacity();
        if size == current && self.pending.is_none() {
            return;
        }
        let smallest = self.pending.map_or(current, |(s, _)| s).min(size);
        self.table.set_capacity(size);
        self.pending = Some((smallest, size));
    }

    /// A size update is owed: the next block does not start with its first field.
    pub fn has_pending_update(&self) -> bool {
        self.pending.is_some()
    }

    /// The dynamic table: its number of entries, the sum of their sizes, its
    /// capacity.
    pub fn table_state(&self) -> (usize, usize, usize) {
        (self.table.len(), self.table.size(), self.table.capacity())
    }

    /// Starts a header block in `dst` (appended to): writes the size updates owed;
    /// the fields follow with [`Block::field`].
    pub fn block<'e>(&'e mut self, dst: &'e mut Vec<u8>) -> Block<'e> {
        self.write_pending(dst);
        Block { encoder: self, dst }
    }

    /// Appends a header block of the fields `fields` (name, value, indexing).
    pub fn encode<'f, I>(&mut self, fields: I, dst: &mut Vec<u8>)
    where
        I: IntoIterator<Item = (&'f [u8], &'f [u8], Indexing)>,
    {
        let mut block = self.block(dst);
        for (name, value, indexing) in fields {
            block.field(name, value, indexing);
        }
    }

    /// Appends `fixed` as a header block: the size updates owed, then its bytes.
    pub fn write_fixed(&mut self, fixed: &FixedBlock, dst: &mut Vec<u8>) {
        self.write_pending(dst);
        dst.extend_from_slice(&fixed.0);
    }

    fn write_pending(&mut self, dst: &mut Vec<u8>) {
        if let Some((smallest, last)) = self.pending.take() {
            if smallest < last {
                encode_int(dst, 0x20, 5, smallest);
            }
            encode_int(dst, 0x20, 5, last);
        }
    }

    fn field(&mut self, dst: &mut Vec<u8>, name: &[u8], value: &[u8], indexing: Indexing) {
        let stat = find_static(name, value);
        if indexing != Indexing::Never {
            if let Some(Match::Field(i)) = stat {
                return encode_int(dst, 0x80, 7, i);
            }
        }
        let dynamic = self.table.find(name, value);
        if indexing != Indexing::Never {
            if let Some(Match::Field(i)) = dynamic {
                return encode_int(dst, 0x80, 7, STATIC_LEN + 1 + i);
            }
        }
        let name_index = match (stat, dynamic) {
            (Some(Match::Name(i) | Match::Field(i)), _) => i,
            (None, Some(Match::Name(i) | Match::Field(i))) => STATIC_LEN + 1 + i,
            (None, None) => 0,
        };
        let fits = name.len() + value.len() + ENTRY_OVERHEAD <= self.table.capacity();
        if indexing == Indexing::Add && fits {
            encode_literal(dst, (0x40, 6), name_index, (name, value), self.huffman);
            self.table.insert(name, value);
        } else {
            let repr = not_added(indexing);
            encode_literal(dst, repr, name_index, (name, value), self.huffman);
        }
    }
}

/// A header block being written ([`Encoder::block`]).
pub struct Block<'e> {
    encoder: &'e mut Encoder,
    dst: &'e mut Vec<u8>,
}

impl Block<'_> {
    /// Appends a field.
    pub fn field(&mut self, name: &[u8], value: &[u8], indexing: Indexing) -> &mut Self {
        self.encoder.field(self.dst, name, value, indexing);
        self
    }
}

/// A header block that depends on no dynamic table: fields from the static table
/// or literals not added to the table. Encoded once, sent on any connection with
/// [`Encoder::write_fixed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedBlock(Box<[u8]>);

impl FixedBlock {
    /// Encodes `fields` (name, value; sensitive ones never indexed) without the
    /// dynamic table.
    pub fn new<'f, I>(fields: I) -> FixedBlock
    where
        I: IntoIterator<Item = (&'f [u8], &'f [u8], bool)>,
    {
        let mut dst = Vec::new();
        for (name, value, sensitive) in fields {
            let stat = find_static(name, value);
            match stat {
                Some(Match::Field(i)) if !sensitive => encode_int(&mut dst, 0x80, 7, i),
                _ => {
                    let index = match stat {
                        Some(Match::Name(i) | Match::Field(i)) => i,
                        None => 0,
                    };
                    let indexing = if sensitive {
                        Indexing::Never
                    } else {
                        Indexing::Skip
                    };
                    let repr = not_added(indexing);
                    encode_literal(&mut dst, repr, index, (name, value), Huffman::Shorter);
                }
            }
        }
        FixedBlock(dst.into_boxed_slice())
    }

    /// The block's bytes: a whole header block on a connection that owes no size
    /// update ([`Encoder::has_pending_update`]).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appendix C.1's integers.
    #[test]
    fn integers_of_appendix_c1() {
        let mut dst = Vec::new();
        encode_int(&mut dst, 0xe0, 5, 10);
        assert_eq!(dst, [0xea]);
        dst.clear();
        encode_int(&mut dst, 0, 5, 1337);
        assert_eq!(dst, [0x1f, 0x9a, 0x0a]);
        dst.clear();
        encode_int(&mut dst, 0, 8, 42);
        assert_eq!(dst, [42]);
        dst.clear();
        encode_int(&mut dst, 0, 5, 31);
        assert_eq!(dst, [0x1f, 0x00]);
    }

    #[test]
    fn size_updates_smallest_then_last() {
        let mut e = Encoder::new(4096);
        let mut dst = Vec::new();
        e.set_max_table_size(4096);
        assert!(!e.has_pending_update());
        e.set_max_table_size(100);
        e.set_max_table_size(2000);
        // The peer may allow more; we stay within our limit.
        e.set_max_table_size(10_000);
        e.write_fixed(&FixedBlock::new([]), &mut dst);
        // 100 then 4096 (0x3f e1 1f: 31 + 4065).
        assert_eq!(dst, [0x3f, 0x45, 0x3f, 0xe1, 0x1f]);
        dst.clear();
        e.write_fixed(&FixedBlock::new([]), &mut dst);
        assert!(dst.is_empty());
        e.set_max_table_size(0);
        e.encode([], &mut dst);
        assert_eq!(dst, [0x20]);
    }
}
