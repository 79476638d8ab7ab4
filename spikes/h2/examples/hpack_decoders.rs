//! `cargo run --release --example hpack_decoders`: the two HPACK decoders weighed for
//! the own frame layer, on three request header blocks, in ns per block (best of 5
//! rounds of 100,000 decodes; httlib-hpack's includes copying the block into the
//! `Vec` its API consumes):
//!   first     a client's first request: literals with incremental indexing,
//!             Huffman-coded values (what h2load and browsers send first)
//!   indexed   the same request again: every field from the dynamic table
//!   new-path  a request whose :path is new (Huffman literal, not indexed), the
//!             rest indexed: a client walking many URLs
//! Blocks are made by httlib-hpack's encoder; both decoders must agree on them.
use httlib_hpack::{Decoder as HttDecoder, Encoder};
use std::hint::black_box;
use std::time::Instant;

const HUFF: u8 = Encoder::HUFFMAN_VALUE;
const INDEX: u8 = Encoder::WITH_INDEXING | Encoder::BEST_FORMAT;

fn fields(path: &[u8]) -> Vec<(Vec<u8>, Vec<u8>, u8)> {
    vec![
        (b":method".to_vec(), b"GET".to_vec(), INDEX),
        (b":scheme".to_vec(), b"http".to_vec(), INDEX),
        (b":path".to_vec(), path.to_vec(), INDEX | HUFF),
        (
            b":authority".to_vec(),
            b"127.0.0.1:19301".to_vec(),
            INDEX | HUFF,
        ),
        (
            b"user-agent".to_vec(),
            b"h2load nghttp2/1.52.0".to_vec(),
            INDEX | HUFF,
        ),
        (b"accept".to_vec(), b"*/*".to_vec(), INDEX | HUFF),
    ]
}

fn encode(enc: &mut Encoder, fields: &[(Vec<u8>, Vec<u8>, u8)]) -> Vec<u8> {
    let mut dst = Vec::new();
    for (n, v, f) in fields {
        enc.encode((n.clone(), v.clone(), *f), &mut dst).unwrap();
    }
    dst
}

/// A block's name, the block that primes the dynamic table for it, the block.
type Case<'a> = (&'a str, Option<&'a [u8]>, &'a [u8]);

fn best_ns(mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..100_000 {
                f();
            }
            t.elapsed().as_nanos() as f64 / 100_000.0
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let mut enc = Encoder::default();
    let first = encode(&mut enc, &fields(b"/"));
    let indexed = encode(&mut enc, &fields(b"/"));
    let mut newpath = encode(&mut enc, &fields(b"/"));
    // Replace the :path reference (the third field) with a Huffman literal, not indexed.
    let mut tail = Vec::new();
    enc.encode(
        (b":path".to_vec(), b"/api/v1/items/8c1f2e3a".to_vec(), HUFF),
        &mut tail,
    )
    .unwrap();
    newpath.splice(2..3, tail);

    // (setup, block): setup primes the dynamic table for the block.
    let cases: [Case; 3] = [
        ("first", None, &first),
        ("indexed", Some(&first), &indexed),
        ("new-path", Some(&first), &newpath),
    ];
    println!("| block | bytes | loona-hpack ns | httlib-hpack ns |");
    println!("|---|---|---|---|");
    for (name, setup, block) in cases {
        // Both decode the same fields.
        let mut a = loona_hpack::Decoder::new();
        let mut b = HttDecoder::default();
        if let Some(s) = setup {
            a.decode(s).unwrap();
            b.decode(&mut s.to_vec(), &mut Vec::new()).unwrap();
        }
        let la = a.decode(block).unwrap();
        let mut lb = Vec::new();
        b.decode(&mut block.to_vec(), &mut lb).unwrap();
        let lb: Vec<_> = lb.into_iter().map(|(n, v, _)| (n, v)).collect();
        assert_eq!(la, lb, "{name}");

        // A block that adds to the dynamic table needs a fresh decoder each time
        // (its construction, measured alone, is taken off); the others leave the
        // table as it is and are decoded again and again by one primed decoder.
        let fresh = setup.is_none();
        let (loona, htt) = if fresh {
            let new_a = best_ns(|| {
                black_box(loona_hpack::Decoder::new());
            });
            let new_b = best_ns(|| {
                black_box(HttDecoder::default());
            });
            let la = best_ns(|| {
                let mut d = loona_hpack::Decoder::new();
                let mut n = 0;
                d.decode_with_cb(block, |k, v| n += k.len() + v.len())
                    .unwrap();
                black_box(n);
            });
            let lb = best_ns(|| {
                let mut d = HttDecoder::default();
                let mut out = Vec::new();
                d.decode(&mut block.to_vec(), &mut out).unwrap();
                black_box(out.len());
            });
            (la - new_a, lb - new_b)
        } else {
            let la = best_ns(|| {
                let mut n = 0;
                a.decode_with_cb(block, |k, v| n += k.len() + v.len())
                    .unwrap();
                black_box(n);
            });
            let lb = best_ns(|| {
                let mut out = Vec::new();
                b.decode(&mut block.to_vec(), &mut out).unwrap();
                black_box(out.len());
            });
            (la, lb)
        };
        println!("| {name} | {} | {:.0} | {:.0} |", block.len(), loona, htt);
    }
}
