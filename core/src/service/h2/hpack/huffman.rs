//! The Huffman code of HPACK (RFC 7541 Section 5.2 and Appendix B): [`encode`],
//! [`encoded_len`] and a table-driven [`decode`].
//!
//! `CODES` is Appendix B, symbol by symbol: the code (aligned to the least
//! significant bit) and its length in bits. The decoder's table is derived from it
//! at compile time (no generated file): the code's binary tree has 256 internal
//! nodes (257 leaves), and for every node and every 4 bits of input `DECODE`
//! holds the node the bits lead to, the symbol completed on the way if any (codes
//! are at least 5 bits long, so 4 bits complete at most one), whether the way met
//! EOS (an error) and whether the node may end a string. A node may end a string
//! when the bits since the last symbol are at most 7 and all ones: the most
//! significant bits of EOS, the only padding Section 5.2 allows. So a string is
//! decoded with one table read per 4 bits and no branch per bit.
//!
//! The tests check `CODES` against the rule Appendix B was built by (a canonical
//! Huffman code: each length's codes follow in symbol order, each length starting
//! where the shorter ones end, and the code is complete), which a mistyped code or
//! length cannot pass, and against Appendix C's Huffman-coded strings.

/// Appendix B of RFC 7541: for symbols 0 to 255 and EOS (256), the code, aligned
/// to the least significant bit, and its length in bits.
#[rustfmt::skip]
pub(crate) const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28),
    (0xfffffe4, 28), (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28),
    (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28),
    (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28),
    (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28),
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28),
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28),
    (0xffffff8, 28), (0xffffff9, 28), (0xffffffa, 28), (0xffffffb, 28),
    // ' ' to '/' (32 to 47)
    (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11),
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11),
    (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),
    // '0' to '?' (48 to 63)
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6),
    (0x1a, 6), (0x1b, 6), (0x1c, 6), (0x1d, 6),
    (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10),
    // '@' to 'O' (64 to 79)
    (0x1ffa, 13), (0x21, 6), (0x5d, 7), (0x5e, 7),
    (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7),
    (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7),
    // 'P' to '_' (80 to 95)
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7),
    (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7),
    (0xfc, 8), (0x73, 7), (0xfd, 8), (0x1ffb, 13),
    (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),
    // '`' to 'o' (96 to 111)
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5),
    (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6),
    (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7),
    (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5),
    // 'p' to 127
    (0x2b, 6), (0x76, 7), (0x2c, 6), (0x8, 5),
    (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15),
    (0x7fc, 11), (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28),
    // 128 to 143
    (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23),
    (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23),
    (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),
    // 144 to 159
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23),
    (0xffffee, 24), (0x7fffe1, 23), (0x7fffe2, 23), (0x7fffe3, 23),
    (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23),
    (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24),
    // 160 to 175
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22),
    (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24),
    (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23), (0x7fffec, 23),
    // 176 to 191
    (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23),
    (0xfffea, 20), (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22),
    (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),
    // 192 to 207
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19),
    (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25),
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27),
    (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25),
    // 208 to 223
    (0x7fff2, 19), (0x1fffe3, 21), (0x3ffffe6, 26), (0x7ffffe0, 27),
    (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24),
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26),
    (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27),
    // 224 to 239
    (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21),
    (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23),
    (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25), (0x1ffffef, 25),
    (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
    // 240 to 255
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26),
    (0x7ffffe7, 27), (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27),
    (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27),
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26),
    // EOS (256)
    (0x3fffffff, 30),
];

/// The symbol that may not appear in a string (its first bits are the padding).
const EOS: usize = 256;

/// A 4-bit step of the decoder: the node reached, the symbol completed on the
/// way ([`EMIT`]) and what the node means ([`ACCEPT`], [`FAIL`]).
#[derive(Clone, Copy)]
struct Step {
    next: u8,
    sym: u8,
    flags: u8,
}

/// The step completed a symbol: `sym`.
const EMIT: u8 = 1;
/// The node reached may end a string (padding so far: at most 7 one bits).
const ACCEPT: u8 = 2;
/// The step completed EOS.
const FAIL: u8 = 4;

/// The code's tree: for each internal node (0 is the root), its two children, an
/// internal node (below 256) or a leaf (256 + the symbol).
const fn tree() -> [[u16; 2]; 256] {
    let mut tree = [[0u16; 2]; 256];
    let mut nodes = 1u16;
    let mut sym = 0;
    while sym < CODES.len() {
        let (code, len) = CODES[sym];
        let mut node = 0usize;
        let mut bit = len as u32;
        while bit > 1 {
            bit -= 1;
            let b = ((code >> bit) & 1) as usize;
            if tree[node][b] == 0 {
                assert!(nodes < 256, "more internal nodes than a 257-leaf tree has");
                tree[node][b] = nodes;
                nodes += 1;
            }
            assert!(tree[node][b] < 256, "a code is the prefix of another");
            node = tree[node][b] as usize;
        }
        let b = (code & 1) as usize;
        assert!(tree[node][b] == 0, "a code is the prefix of another");
        tree[node][b] = 256 + sym as u16;
        sym += 1;
    }
    assert!(nodes == 256, "the code is not complete");
    tree
}

/// The decoder's table: [`Step`] for each internal node and 4 bits of input (most
/// significant first).
const fn decode_table() -> [[Step; 16]; 256] {
    let tree = tree();
    // The nodes a string may end on: the root and the first 7 nodes down the
    // all-ones path (EOS's first bits).
    let mut accept = [false; 256];
    let mut node = 0usize;
    let mut depth = 0;
    while depth <= 7 {
        accept[node] = true;
        node = tree[node][1] as usize;
        depth += 1;
    }
    let blank = Step {
        next: 0,
        sym: 0,
        flags: 0,
    };
    let mut table = [[blank; 16]; 256];
    let mut state = 0;
    while state < 256 {
        let mut nibble = 0;
        while nibble < 16 {
            let mut node = state;
            let mut step = blank;
            let mut bit = 4;
            while bit > 0 {
                bit -= 1;
                let child = tree[node][(nibble >> bit) & 1] as usize;
                if child < 256 {
                    node = child;
                } else if child - 256 == EOS {
                    step.flags |= FAIL;
                    node = 0;
                    break;
                } else {
                    assert!(step.flags & EMIT == 0, "two symbols in 4 bits");
                    step.flags |= EMIT;
                    step.sym = (child - 256) as u8;
                    node = 0;
                }
            }
            step.next = node as u8;
            if accept[node] {
                step.flags |= ACCEPT;
            }
            table[state][nibble] = step;
            nibble += 1;
        }
        state += 1;
    }
    table
}

/// See [`decode_table`].
static DECODE: [[Step; 16]; 256] = decode_table();

/// Why a Huffman-coded string was refused (RFC 7541 Section 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuffmanError {
    /// The string holds the EOS symbol.
    Eos,
    /// The string ends inside a symbol: padding longer than 7 bits or not all ones.
    Padding,
}

/// Decodes the Huffman-coded `src`, appending to `dst` (at most `src.len() * 8 / 5`
/// bytes: the shortest code has 5 bits). On an error `dst` holds what was decoded
/// before it.
pub fn decode(src: &[u8], dst: &mut Vec<u8>) -> Result<(), HuffmanError> {
    dst.reserve(src.len() * 8 / 5);
    let mut state = 0usize;
    let mut flags = ACCEPT;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0f] {
            let step = DECODE[state][nibble as usize];
            if step.flags & FAIL != 0 {
                return Err(HuffmanError::Eos);
            }
            if step.flags & EMIT != 0 {
                dst.push(step.sym);
            }
            state = step.next as usize;
            flags = step.flags;
        }
    }
    if flags & ACCEPT == 0 {
        return Err(HuffmanError::Padding);
    }
    Ok(())
}

/// The length of `src` Huffman-coded, padding included.
pub fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src.iter().map(|&b| CODES[b as usize].1 as usize).sum();
    bits.div_ceil(8)
}

/// Appends `src` Huffman-coded to `dst`, padded with the first bits of EOS.
pub fn encode(src: &[u8], dst: &mut Vec<u8>) {
    dst.reserve(encoded_len(src));
    // Bits not yet written, aligned to the least significant bit (at most 7 + 30).
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &b in src {
        let (code, len) = CODES[b as usize];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            dst.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        dst.push(((acc << (8 - bits)) as u8) | (0xff >> bits));
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::hex;
    use super::*;

    /// Appendix B is a canonical Huffman code: sorted by length then symbol, each
    /// code is the previous one plus one, shifted left by the growth in length;
    /// the first is all zeros, and the code is complete (Kraft's sum is exactly 1).
    /// A mistyped code or length breaks one of these.
    #[test]
    fn codes_are_appendix_b_canonical_code() {
        let mut order: Vec<usize> = (0..CODES.len()).collect();
        order.sort_by_key(|&s| (CODES[s].1, s));
        let mut expected: u64 = 0;
        let mut prev_len = CODES[order[0]].1;
        assert_eq!(CODES[order[0]].0, 0);
        for (i, &s) in order.iter().enumerate() {
            let (code, len) = CODES[s];
            if i > 0 {
                expected = (expected + 1) << (len - prev_len);
            }
            assert_eq!(u64::from(code), expected, "symbol {s}");
            assert!(
                u64::from(code) < 1 << len,
                "symbol {s}: code wider than its length"
            );
            prev_len = len;
        }
        let kraft: u64 = CODES.iter().map(|&(_, len)| 1u64 << (30 - len)).sum();
        assert_eq!(kraft, 1 << 30, "the code is not complete");
        // Rows quoted from Appendix B: '/' is 011000, EOS is 30 ones.
        assert_eq!(CODES[b'/' as usize], (0x18, 6));
        assert_eq!(CODES[b'0' as usize], (0x0, 5));
        assert_eq!(CODES[b'~' as usize], (0x1ffd, 13));
        assert_eq!(CODES[255], (0x3ffffee, 26));
        assert_eq!(CODES[EOS], (0x3fffffff, 30));
    }

    /// Appendix C.4 and C.6's Huffman-coded strings, both ways.
    #[test]
    fn appendix_c_strings() {
        let cases: [(&str, &str); 11] = [
            ("f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com"),
            ("a8eb 1064 9cbf", "no-cache"),
            ("25a8 49e9 5ba9 7d7f", "custom-key"),
            ("25a8 49e9 5bb8 e8b4 bf", "custom-value"),
            ("6402", "302"),
            ("aec3 771a 4b", "private"),
            (
                "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff",
                "Mon, 21 Oct 2013 20:13:21 GMT",
            ),
            (
                "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3",
                "https://www.example.com",
            ),
            ("640e ff", "307"),
            ("9bd9 ab", "gzip"),
            (
                "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 \
                 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ),
        ];
        for (coded, plain) in cases {
            let coded = hex(coded);
            let mut out = Vec::new();
            decode(&coded, &mut out).unwrap();
            assert_eq!(out, plain.as_bytes());
            let mut again = Vec::new();
            encode(plain.as_bytes(), &mut again);
            assert_eq!(again, coded, "{plain}");
            assert_eq!(encoded_len(plain.as_bytes()), coded.len());
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        for start in 0..all.len() {
            let src = &all[start..];
            let mut coded = Vec::new();
            encode(src, &mut coded);
            assert_eq!(coded.len(), encoded_len(src));
            let mut out = Vec::new();
            decode(&coded, &mut out).unwrap();
            assert_eq!(out, src);
        }
        let mut out = Vec::new();
        decode(&[], &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn padding_and_eos() {
        let mut out = Vec::new();
        // '0' (00000) then 3 ones of padding: fine.
        assert_eq!(decode(&[0b0000_0111], &mut out), Ok(()));
        assert_eq!(out, b"0");
        // Padding that is not all ones.
        assert_eq!(decode(&[0b0000_0110], &mut out), Err(HuffmanError::Padding));
        assert_eq!(decode(&[0b0000_0011], &mut out), Err(HuffmanError::Padding));
        // A whole byte of padding (8 ones) is more than 7 bits.
        assert_eq!(decode(&[0xff], &mut out), Err(HuffmanError::Padding));
        assert_eq!(
            decode(&[0b0000_0111, 0xff], &mut out),
            Err(HuffmanError::Padding)
        );
        // 'a' (00011) then 7 ones, then 4 more: over 7 bits of padding.
        assert_eq!(
            decode(&[0b0001_1111, 0xff], &mut out),
            Err(HuffmanError::Padding)
        );
        // EOS itself (30 ones), padded with two more ones.
        assert_eq!(decode(&[0xff; 4], &mut out), Err(HuffmanError::Eos));
        // EOS after a symbol: '0' then 30 ones then one of padding.
        assert_eq!(
            decode(&[0b0000_0111, 0xff, 0xff, 0xff, 0xff], &mut out),
            Err(HuffmanError::Eos)
        );
    }
}
