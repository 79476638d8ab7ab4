//! `cargo run --release --example hpack_bench -p pierhead`: pierhead's HPACK
//! decoder on the three request header blocks issue 25's spike weighed
//! loona-hpack and httlib-hpack on (spikes/h2/examples/hpack_decoders.rs;
//! BENCHMARKS.md "Issue 25: choosing the HTTP/2 implementation"), in ns per
//! block, best of 5 rounds of 100,000 decodes, measured the same way:
//!   first     a client's first request: literals with incremental indexing,
//!             Huffman-coded values (what h2load and browsers send first)
//!   indexed   the same request again: every field from the dynamic table
//!   new-path  a request whose :path is new (a Huffman literal with a literal
//!             name, not indexed), the rest indexed: a client walking many URLs
//! The blocks are the spike's bytes (38, 6 and 29 bytes), made here by our encoder
//! (Huffman always, as httlib's encoder was told) and, for the new path, by hand
//! as httlib wrote it; the fields the decoder hands over are checked first.
//! Timing lives here, never in a test.
use pierhead::http2::hpack::{huffman, Decoder, Encoder, Huffman, Indexing};
use std::hint::black_box;
use std::time::Instant;

fn fields(path: &[u8]) -> Vec<(&[u8], &[u8], Indexing)> {
    vec![
        (b":method", b"GET", Indexing::Add),
        (b":scheme", b"http", Indexing::Add),
        (b":path", path, Indexing::Add),
        (b":authority", b"127.0.0.1:19301", Indexing::Add),
        (b"user-agent", b"h2load nghttp2/1.52.0", Indexing::Add),
        (b"accept", b"*/*", Indexing::Add),
    ]
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

fn decoded(d: &mut Decoder, block: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    d.decode(block, |f| out.push((f.name.to_vec(), f.value.to_vec())))
        .expect("the block decodes");
    out
}

fn main() {
    let mut enc = Encoder::default();
    enc.set_huffman(Huffman::Always);
    let mut first = Vec::new();
    enc.encode(fields(b"/"), &mut first);
    let mut indexed = Vec::new();
    enc.encode(fields(b"/"), &mut indexed);
    // 82 86, then :path as httlib wrote it (literal without indexing, literal
    // name, Huffman value), then the rest from the dynamic table (c0 bf be).
    let new_path = b"/api/v1/items/8c1f2e3a";
    let mut newpath = vec![0x82, 0x86, 0x00, 0x05];
    newpath.extend_from_slice(b":path");
    newpath.push(0x80 | huffman::encoded_len(new_path) as u8);
    huffman::encode(new_path, &mut newpath);
    newpath.extend_from_slice(&indexed[3..]);
    assert_eq!(
        [first.len(), indexed.len(), newpath.len()],
        [38, 6, 29],
        "the spike's block sizes"
    );

    let cases: [Case; 3] = [
        ("first", None, &first),
        ("indexed", Some(&first), &indexed),
        ("new-path", Some(&first), &newpath),
    ];
    println!("| block | bytes | pierhead ns |");
    println!("|---|---|---|");
    for (name, setup, block) in cases {
        let mut d = Decoder::default();
        if let Some(s) = setup {
            decoded(&mut d, s);
        }
        let path: &[u8] = if name == "new-path" { new_path } else { b"/" };
        let want: Vec<(Vec<u8>, Vec<u8>)> = fields(path)
            .into_iter()
            .map(|(n, v, _)| (n.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(decoded(&mut d, block), want, "{name}");

        // A block that adds to the dynamic table needs a fresh decoder each time
        // (its construction, measured alone, is taken off); the others leave the
        // table as it is and are decoded again and again by one primed decoder.
        let ns = if setup.is_none() {
            let new = best_ns(|| {
                black_box(Decoder::default());
            });
            best_ns(|| {
                let mut d = Decoder::default();
                let mut n = 0;
                d.decode(black_box(block), |f| n += f.name.len() + f.value.len())
                    .unwrap();
                black_box(n);
            }) - new
        } else {
            best_ns(|| {
                let mut n = 0;
                d.decode(black_box(block), |f| n += f.name.len() + f.value.len())
                    .unwrap();
                black_box(n);
            })
        };
        println!("| {name} | {} | {ns:.0} |", block.len());
    }
}
