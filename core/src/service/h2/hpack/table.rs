//! HPACK's two tables (RFC 7541 Section 2.3): the static table of Appendix A
//! ([`STATIC`], indices 1 to 61) and the dynamic table ([`DynamicTable`], indices
//! from 62, newest first), one per direction of a connection.
//!
//! An entry's size is its name's and value's lengths plus 32 (Section 4.1); the
//! dynamic table holds entries while the sum of their sizes stays within its
//! capacity, evicting the oldest first (Section 4.4). The capacity is bounded by
//! the SETTINGS_HEADER_TABLE_SIZE of the decoding side, so the table's bytes are
//! too: at most 4,096 of names and values, in at most 128 entries, at the default.

use std::collections::VecDeque;

/// The overhead counted for each entry besides its name and value (Section 4.1).
pub(crate) const ENTRY_OVERHEAD: usize = 32;

/// The number of entries in the static table; the dynamic table's indices start
/// after it.
pub(crate) const STATIC_LEN: usize = 61;

/// Appendix A: the static table; entry `i` has index `i + 1`.
pub(crate) static STATIC: [(&[u8], &[u8]); STATIC_LEN] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// What a table holds of a field, for the encoder: an entry with the same name
/// and value, or else one with the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    /// The entry at this index has the name and the value.
    Field(usize),
    /// The entry at this index has the name (the lowest such index).
    Name(usize),
}

/// Looks `name` and `value` up in the static table.
pub(crate) fn find_static(name: &[u8], value: &[u8]) -> Option<Match> {
    // The indices of the entries with this name (names are contiguous in the table).
    let (first, last) = match name {
        b":authority" => (1, 1),
        b":method" => (2, 3),
        b":path" => (4, 5),
        b":scheme" => (6, 7),
        b":status" => (8, 14),
        b"accept-charset" => (15, 15),
        b"accept-encoding" => (16, 16),
        b"accept-language" => (17, 17),
        b"accept-ranges" => (18, 18),
        b"accept" => (19, 19),
        b"access-control-allow-origin" => (20, 20),
        b"age" => (21, 21),
        b"allow" => (22, 22),
        b"authorization" => (23, 23),
        b"cache-control" => (24, 24),
        b"content-disposition" => (25, 25),
        b"content-encoding" => (26, 26),
        b"content-language" => (27, 27),
        b"content-length" => (28, 28),
        b"content-location" => (29, 29),
        b"content-range" => (30, 30),
        b"content-type" => (31, 31),
        b"cookie" => (32, 32),
        b"date" => (33, 33),
        b"etag" => (34, 34),
        b"expect" => (35, 35),
        b"expires" => (36, 36),
        b"from" => (37, 37),
        b"host" => (38, 38),
        b"if-match" => (39, 39),
        b"if-modified-since" => (40, 40),
        b"if-none-match" => (41, 41),
        b"if-range" => (42, 42),
        b"if-unmodified-since" => (43, 43),
        b"last-modified" => (44, 44),
        b"link" => (45, 45),
        b"location" => (46, 46),
        b"max-forwards" => (47, 47),
        b"proxy-authenticate" => (48, 48),
        b"proxy-authorization" => (49, 49),
        b"range" => (50, 50),
        b"referer" => (51, 51),
        b"refresh" => (52, 52),
        b"retry-after" => (53, 53),
        b"server" => (54, 54),
        b"set-cookie" => (55, 55),
        b"strict-transport-security" => (56, 56),
        b"transfer-encoding" => (57, 57),
        b"user-agent" => (58, 58),
        b"vary" => (59, 59),
        b"via" => (60, 60),
        b"www-authenticate" => (61, 61),
        _ => return None,
    };
    (first..=last)
        .find(|&i| STATIC[i - 1].1 == value)
        .map_or(Some(Match::Name(first)), |i| Some(Match::Field(i)))
}

/// One dynamic entry: name and value in one allocation.
#[derive(Debug)]
struct Entry {
    bytes: Box<[u8]>,
    name_len: usize,
}

impl Entry {
    fn name(&self) -> &[u8] {
        &self.bytes[..self.name_len]
    }

    fn value(&self) -> &[u8] {
        &self.bytes[self.name_len..]
    }

    fn size(&self) -> usize {
        self.bytes.len() + ENTRY_OVERHEAD
    }
}

/// The dynamic table (Section 2.3.2): newest entry first, evicted oldest first.
#[derive(Debug)]
pub(crate) struct DynamicTable {
    entries: VecDeque<Entry>,
    /// The sum of the entries' sizes.
    size: usize,
    /// The most `size` may be: the last dynamic table size update's.
    capacity: usize,
}

impl DynamicTable {
    /// An empty table of `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Self {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            capacity,
        }
    }

    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The sum of the entries' sizes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The most the entries' sizes may add up to.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The entry `i` places from the newest (dynamic index `62 + i`).
    pub(crate) fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.entries.get(i).map(|e| (e.name(), e.value()))
    }

    /// A dynamic table size update: evicts until the entries fit.
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity);
    }

    /// Adds an entry (Section 4.4): evicts the oldest entries until it fits; an
    /// entry larger than the capacity empties the table and is not added.
    pub(crate) fn insert(&mut self, name: &[u8], value: &[u8]) {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        if size > self.capacity {
            self.evict_to(0);
            return;
        }
        self.evict_to(self.capacity - size);
        let mut bytes = Vec::with_capacity(name.len() + value.len());
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(value);
        self.entries.push_front(Entry {
            bytes: bytes.into_boxed_slice(),
            name_len: name.len(),
        });
        self.size += size;
    }

    /// Looks `name` and `value` up: the first entry with both, or else the first
    /// with the name; as offsets from the newest (a linear scan: at most
    /// capacity / 32 entries).
    pub(crate) fn find(&self, name: &[u8], value: &[u8]) -> Option<Match> {
        let mut by_name = None;
        for (i, e) in self.entries.iter().enumerate() {
            if e.name() == name {
                if e.value() == value {
                    return Some(Match::Field(i));
                }
                by_name.get_or_insert(i);
            }
        }
        by_name.map(Match::Name)
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            let Some(e) = self.entries.pop_back() else {
                break;
            };
            self.size -= e.size();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_lookup_agrees_with_the_table() {
        for (i, &(name, value)) in STATIC.iter().enumerate() {
            let index = i + 1;
            assert_eq!(
                find_static(name, value),
                Some(Match::Field(index)),
                "{index}"
            );
            let first = STATIC.iter().position(|e| e.0 == name).unwrap() + 1;
            assert_eq!(find_static(name, b"\x01other"), Some(Match::Name(first)));
        }
        assert_eq!(find_static(b"x-custom", b""), None);
        assert_eq!(find_static(b":Method", b"GET"), None);
    }

    #[test]
    fn eviction_by_size() {
        let mut t = DynamicTable::new(100);
        t.insert(b"aaaa", b"bbbb"); // 40
        t.insert(b"cccc", b"dddd"); // 40
        assert_eq!((t.len(), t.size()), (2, 80));
        assert_eq!(t.get(0), Some((&b"cccc"[..], &b"dddd"[..])));
        t.insert(b"e", b"f"); // 34: the oldest goes
        assert_eq!((t.len(), t.size()), (2, 74));
        assert_eq!(t.get(1), Some((&b"cccc"[..], &b"dddd"[..])));
        assert_eq!(t.find(b"cccc", b"x"), Some(Match::Name(1)));
        assert_eq!(t.find(b"e", b"f"), Some(Match::Field(0)));
        t.set_capacity(40);
        assert_eq!((t.len(), t.size()), (1, 34));
        // Larger than the capacity: empties the table, not added.
        t.insert(b"0123456789", b"");
        assert_eq!((t.len(), t.size()), (0, 0));
        assert_eq!(t.get(0), None);
    }
}
