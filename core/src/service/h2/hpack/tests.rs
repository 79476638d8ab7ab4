//! HPACK as a whole: RFC 7541 Appendix C decoded and encoded, round trips, the
//! errors a peer can cause, a bomb.

use proptest::prelude::*;

use super::{DecodeError, Decoder, Encoder, Field, FixedBlock, Huffman, Indexing};

/// The bytes of a hex dump ("8286 84be").
pub(super) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// An owned [`Field`].
type Owned = (Vec<u8>, Vec<u8>, bool);

fn owned(f: Field<'_>) -> Owned {
    (f.name.to_vec(), f.value.to_vec(), f.sensitive)
}

fn decode(d: &mut Decoder, block: &[u8]) -> Result<Vec<Owned>, DecodeError> {
    let mut out = Vec::new();
    d.decode(block, |f| out.push(owned(f)))?;
    Ok(out)
}

/// "name: value" lines, as Appendix C lists header lists and tables.
fn lines(fields: &[(&[u8], &[u8])]) -> Vec<String> {
    fields
        .iter()
        .map(|(n, v)| {
            format!(
                "{}: {}",
                String::from_utf8_lossy(n),
                String::from_utf8_lossy(v)
            )
        })
        .collect()
}

fn table_lines(d: &Decoder) -> Vec<String> {
    let entries: Vec<_> = (0..d.table_state().0)
        .map(|i| d.table_entry(i).unwrap())
        .collect();
    lines(&entries)
}

/// One block of an Appendix C sequence: its bytes, the header list, the dynamic
/// table after it (newest first) and its size.
struct Step<'a> {
    block: &'a str,
    fields: &'a [&'a str],
    table: &'a [&'a str],
    size: usize,
}

/// Decodes a sequence with one decoder, checking each list and table, and encodes
/// the same lists with one encoder (literals added to the table, strings coded as
/// `huffman` says), checking the bytes.
fn sequence(table_size: usize, huffman: Huffman, steps: &[Step<'_>]) {
    let mut d = Decoder::new(table_size);
    let mut e = Encoder::new(table_size);
    e.set_huffman(huffman);
    for (i, s) in steps.iter().enumerate() {
        let block = hex(s.block);
        let got = decode(&mut d, &block).unwrap();
        let got: Vec<(&[u8], &[u8])> = got.iter().map(|(n, v, _)| (&n[..], &v[..])).collect();
        assert_eq!(lines(&got), s.fields, "block {i}");
        assert_eq!(table_lines(&d), s.table, "table after block {i}");
        assert_eq!(d.table_state().1, s.size, "table size after block {i}");

        let mut again = Vec::new();
        let fields: Vec<(&str, &str)> = s
            .fields
            .iter()
            .map(|l| l.split_once(": ").unwrap())
            .collect();
        e.encode(
            fields
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes(), Indexing::Add)),
            &mut again,
        );
        assert_eq!(again, block, "encoded block {i}");
        assert_eq!(
            e.table_state(),
            d.table_state(),
            "encoder's table after block {i}"
        );
    }
}

#[test]
fn appendix_c2_field_representations() {
    // (block, field, how it is encoded, the table after it): C.2.1 literal with
    // indexing, C.2.2 without indexing (indexed name), C.2.3 never indexed, C.2.4
    // indexed.
    let cases: [(&str, Owned, Indexing, &[&str]); 4] = [
        (
            "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            (b"custom-key".to_vec(), b"custom-header".to_vec(), false),
            Indexing::Add,
            &["custom-key: custom-header"],
        ),
        (
            "040c 2f73 616d 706c 652f 7061 7468",
            (b":path".to_vec(), b"/sample/path".to_vec(), false),
            Indexing::Skip,
            &[],
        ),
        (
            "1008 7061 7373 776f 7264 0673 6563 7265 74",
            (b"password".to_vec(), b"secret".to_vec(), true),
            Indexing::Never,
            &[],
        ),
        (
            "82",
            (b":method".to_vec(), b"GET".to_vec(), false),
            Indexing::Add,
            &[],
        ),
    ];
    for (coded, field, indexing, table) in cases {
        let block = hex(coded);
        let mut d = Decoder::default();
        assert_eq!(
            decode(&mut d, &block).unwrap(),
            std::slice::from_ref(&field)
        );
        assert_eq!(table_lines(&d), table, "{coded}");
        let size = if table.is_empty() { 0 } else { 55 };
        assert_eq!(d.table_state(), (table.len(), size, 4096));
        let mut e = Encoder::default();
        e.set_huffman(Huffman::Never);
        let mut again = Vec::new();
        e.encode([(&field.0[..], &field.1[..], indexing)], &mut again);
        assert_eq!(again, block);
    }
}

const REQUESTS: [[&str; 5]; 3] = [
    [
        ":method: GET",
        ":scheme: http",
        ":path: /",
        ":authority: www.example.com",
        "",
    ],
    [
        ":method: GET",
        ":scheme: http",
        ":path: /",
        ":authority: www.example.com",
        "cache-control: no-cache",
    ],
    [
        ":method: GET",
        ":scheme: https",
        ":path: /index.html",
        ":authority: www.example.com",
        "custom-key: custom-value",
    ],
];

fn requests(blocks: [&str; 3]) -> Vec<Step<'_>> {
    let tables: [&[&str]; 3] = [
        &[":authority: www.example.com"],
        &["cache-control: no-cache", ":authority: www.example.com"],
        &[
            "custom-key: custom-value",
            "cache-control: no-cache",
            ":authority: www.example.com",
        ],
    ];
    let sizes = [57, 110, 164];
    (0..3)
        .map(|i| Step {
            block: blocks[i],
            fields: if i == 0 {
                &REQUESTS[0][..4]
            } else {
                &REQUESTS[i][..]
            },
            table: tables[i],
            size: sizes[i],
        })
        .collect()
}

#[test]
fn appendix_c3_requests_without_huffman() {
    let steps = requests([
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ]);
    sequence(4096, Huffman::Never, &steps);
}

#[test]
fn appendix_c4_requests_with_huffman() {
    let steps = requests([
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ]);
    sequence(4096, Huffman::Always, &steps);
    // Huffman when shorter gives the same bytes: every string here is shorter coded.
    sequence(4096, Huffman::Shorter, &steps);
}

const DATE1: &str = "date: Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2: &str = "date: Mon, 21 Oct 2013 20:13:22 GMT";
const LOCATION: &str = "location: https://www.example.com";
const COOKIE: &str = "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

fn responses(blocks: [&str; 3]) -> Vec<Step<'_>> {
    let fields: [&[&str]; 3] = [
        &[":status: 302", "cache-control: private", DATE1, LOCATION],
        &[":status: 307", "cache-control: private", DATE1, LOCATION],
        &[
            ":status: 200",
            "cache-control: private",
            DATE2,
            LOCATION,
            "content-encoding: gzip",
            COOKIE,
        ],
    ];
    let tables: [&[&str]; 3] = [
        &[LOCATION, DATE1, "cache-control: private", ":status: 302"],
        &[":status: 307", LOCATION, DATE1, "cache-control: private"],
        &[COOKIE, "content-encoding: gzip", DATE2],
    ];
    let sizes = [222, 222, 215];
    (0..3)
        .map(|i| Step {
            block: blocks[i],
            fields: fields[i],
            table: tables[i],
            size: sizes[i],
        })
        .collect()
}

#[test]
fn appendix_c5_responses_without_huffman() {
    let steps = responses([
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 \
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 \
         6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d \
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 \
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e \
         3d31",
    ]);
    sequence(256, Huffman::Never, &steps);
}

#[test]
fn appendix_c6_responses_with_huffman() {
    let steps = responses([
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 \
         2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab \
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f \
         9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ]);
    sequence(256, Huffman::Always, &steps);
}

#[test]
fn errors() {
    let fresh = |block: &[u8]| decode(&mut Decoder::default(), block);
    // Huffman padding not all ones ('0' then 110), and longer than 7 bits ('0',
    // then 11 ones).
    assert_eq!(fresh(&[0x04, 0x81, 0x06]), Err(DecodeError::HuffmanPadding));
    assert_eq!(
        fresh(&[0x04, 0x82, 0x07, 0xff]),
        Err(DecodeError::HuffmanPadding)
    );
    // EOS in a string (in a name too).
    assert_eq!(
        fresh(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff]),
        Err(DecodeError::HuffmanEos)
    );
    assert_eq!(
        fresh(&[0x00, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00]),
        Err(DecodeError::HuffmanEos)
    );
    // Integers: past 32 bits, and too many continuation bytes.
    assert_eq!(
        fresh(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        Err(DecodeError::IntegerOverflow)
    );
    assert_eq!(
        fresh(&[0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
        Err(DecodeError::IntegerOverflow)
    );
    // 2^32 - 1 (127 + 0xffff_ff80) decodes as an integer; it is just no index.
    assert_eq!(
        fresh(&[0xff, 0x80, 0xff, 0xff, 0xff, 0x0f]),
        Err(DecodeError::BadIndex(u32::MAX as usize))
    );
    // Index 0, and past the tables (indexed, and as a literal's name).
    assert_eq!(fresh(&[0x80]), Err(DecodeError::BadIndex(0)));
    assert_eq!(fresh(&[0xbe]), Err(DecodeError::BadIndex(62)));
    assert_eq!(fresh(&[0x1f, 0x2f, 0x00]), Err(DecodeError::BadIndex(62)));
    // Truncated: a literal without its value, a string past the end, an integer
    // without its last byte.
    assert_eq!(fresh(&[0x41]), Err(DecodeError::Truncated));
    assert_eq!(fresh(&[0x41, 0x05, b'a']), Err(DecodeError::Truncated));
    assert_eq!(fresh(&[0xff, 0x80]), Err(DecodeError::Truncated));
    // Size updates: up to our 4096, not above it; not after a field.
    assert_eq!(fresh(&[0x3f, 0xe1, 0x1f, 0x82]).map(|f| f.len()), Ok(1));
    assert_eq!(
        fresh(&[0x3f, 0xe2, 0x1f]),
        Err(DecodeError::TableSizeTooLarge {
            size: 4097,
            max: 4096
        })
    );
    assert_eq!(fresh(&[0x82, 0x20]), Err(DecodeError::LateTableSizeUpdate));
    assert_eq!(fresh(&[0x20, 0x20, 0x82]).map(|f| f.len()), Ok(1));
    for e in [
        DecodeError::Truncated,
        DecodeError::HeaderListTooLarge { max: 1 },
    ] {
        assert_eq!(e.h2_code(), 0x9);
    }
}

#[test]
fn lowered_table_size_needs_an_update() {
    let mut d = Decoder::default();
    // Raising or keeping it needs none.
    d.set_max_table_size(8192);
    assert!(decode(&mut d, &[0x82]).is_ok());
    d.set_max_table_size(100);
    assert_eq!(
        decode(&mut d, &[0x82]),
        Err(DecodeError::MissingTableSizeUpdate)
    );
    let mut d = Decoder::default();
    d.set_max_table_size(100);
    assert_eq!(
        decode(&mut d, &[]),
        Err(DecodeError::MissingTableSizeUpdate)
    );
    assert_eq!(
        decode(&mut d, &[0x3f, 0x46]),
        Err(DecodeError::TableSizeTooLarge {
            size: 101,
            max: 100
        })
    );
    assert!(decode(&mut d, &[0x3f, 0x45, 0x82]).is_ok());
    assert_eq!(d.table_state().2, 100);
    assert!(decode(&mut d, &[0x82]).is_ok());
}

#[test]
fn header_list_limit() {
    let mut d = Decoder::default();
    d.set_max_header_list_size(100);
    let mut seen = 0;
    // Each ":method: GET" counts 7 + 3 + 32 = 42: the third goes past 100.
    let r = d.decode(&[0x82, 0x82, 0x82, 0x82], |_| seen += 1);
    assert_eq!(r, Err(DecodeError::HeaderListTooLarge { max: 100 }));
    assert_eq!(seen, 2);
    // 84 of 84 is within it.
    d.set_max_header_list_size(84);
    assert!(d.decode(&[0x82, 0x82], |_| {}).is_ok());
}

/// A bomb: one 4 KB entry, then 1,000 one-byte references to it (4 MB of
/// headers from 1 KB): refused by the list limit after the 16th field.
#[test]
fn hpack_bomb_stops_at_the_list_limit() {
    let mut d = Decoder::default();
    let mut e = Encoder::default();
    let big = vec![b'a'; 4000];
    let mut block = Vec::new();
    e.encode([(&b"x"[..], &big[..], Indexing::Add)], &mut block);
    assert!(decode(&mut d, &block).is_ok());
    assert_eq!(d.table_state().0, 1);
    let bomb = vec![0xbe; 1000];
    let mut seen = 0;
    let r = d.decode(&bomb, |f| {
        assert_eq!(f.value.len(), 4000);
        seen += 1;
    });
    assert_eq!(
        r,
        Err(DecodeError::HeaderListTooLarge {
            max: super::DEFAULT_MAX_HEADER_LIST_SIZE
        })
    );
    // 16 x 4033 = 64,528 fits in 65,536; a 17th does not.
    assert_eq!(seen, 16);
}

#[test]
fn fixed_block_on_any_connection() {
    let fixed = FixedBlock::new([
        (&b":status"[..], &b"200"[..], false),
        (b"content-type", b"text/plain", false),
        (b"x-secret", b"s", true),
        (b"server", b"pierhead", false),
    ]);
    let expect = vec![
        (b":status".to_vec(), b"200".to_vec(), false),
        (b"content-type".to_vec(), b"text/plain".to_vec(), false),
        (b"x-secret".to_vec(), b"s".to_vec(), true),
        (b"server".to_vec(), b"pierhead".to_vec(), false),
    ];
    let b = fixed.as_bytes();
    // :status 200 indexed; content-type (31) without indexing: 0000 1111, then
    // 31 - 15 = 16; "text/plain" Huffman-coded (56 bits: 7 bytes); never indexed
    // with a literal name: 0001 0000.
    assert_eq!(b[..4], [0x88, 0x0f, 0x10, 0x87]);
    assert_eq!(b[11], 0x10);
    let mut d = Decoder::default();
    assert_eq!(decode(&mut d, fixed.as_bytes()).unwrap(), expect);
    assert_eq!(d.table_state().0, 0);
    // After the peer lowered its table, the encoder sends the update first.
    let mut e = Encoder::default();
    let mut d = Decoder::default();
    e.set_max_table_size(1024);
    d.set_max_table_size(1024);
    let mut block = Vec::new();
    e.write_fixed(&fixed, &mut block);
    assert_eq!(block.len(), fixed.as_bytes().len() + 3);
    assert_eq!(decode(&mut d, &block).unwrap(), expect);
    assert_eq!(d.table_state().2, 1024);
    block.clear();
    e.write_fixed(&fixed, &mut block);
    assert_eq!(block, fixed.as_bytes());
}

/// A name: one of the static table's, or a short lowercase one.
fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0..61usize).prop_map(|i| super::table::STATIC[i].0.to_vec()),
        "[a-z-]{1,12}".prop_map(String::into_bytes),
    ]
}

/// A value: a static one, a short visible one, or any bytes.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0..61usize).prop_map(|i| super::table::STATIC[i].1.to_vec()),
        "[ -~]{0,20}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..300),
    ]
}

fn indexing() -> impl Strategy<Value = Indexing> {
    prop_oneof![
        Just(Indexing::Add),
        Just(Indexing::Skip),
        Just(Indexing::Never)
    ]
}

/// Blocks of fields, each after an optional change of the table size.
type Blocks = Vec<(Option<usize>, Vec<(Vec<u8>, Vec<u8>, Indexing)>)>;

fn blocks() -> impl Strategy<Value = Blocks> {
    let size = prop_oneof![Just(0usize), Just(64), 0..5000usize];
    let fields = proptest::collection::vec((name(), value(), indexing()), 0..12);
    proptest::collection::vec((proptest::option::weighted(0.2, size), fields), 1..8)
}

proptest! {
    /// Encoded and decoded again, fields come back as they were, and the two
    /// tables stay the same, across blocks and table size changes.
    #[test]
    fn round_trip(blocks in blocks(), huffman in prop_oneof![
        Just(Huffman::Shorter), Just(Huffman::Always), Just(Huffman::Never)
    ]) {
        let mut e = Encoder::default();
        e.set_huffman(huffman);
        let mut d = Decoder::default();
        d.set_max_header_list_size(usize::MAX);
        for (size, fields) in &blocks {
            if let Some(size) = *size {
                // We advertise it; the peer's encoder (ours here) uses it.
                d.set_max_table_size(size);
                e.set_max_table_size(size);
            }
            let mut block = Vec::new();
            e.encode(fields.iter().map(|(n, v, i)| (&n[..], &v[..], *i)), &mut block);
            let got = decode(&mut d, &block).unwrap();
            let want: Vec<Owned> = fields
                .iter()
                .map(|(n, v, i)| (n.clone(), v.clone(), *i == Indexing::Never))
                .collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(e.table_state(), d.table_state());
        }
    }

    /// Whatever the bytes: no panic, and fields within the list limit.
    #[test]
    fn arbitrary_blocks(blocks in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..64), 1..6
    )) {
        let mut d = Decoder::default();
        d.set_max_header_list_size(1000);
        for block in &blocks {
            let mut total = 0;
            let r = d.decode(block, |f| total += f.name.len() + f.value.len() + 32);
            prop_assert!(total <= 1000);
            if r.is_err() {
                break;
            }
        }
    }
}
