//! Tests of permessage-deflate: the negotiation table (RFC 7692's examples and
//! Autobahn 12/13's offers), round trips through our own streams at every window
//! size, interop with Python's zlib and RFC 7692's byte examples, the compression
//! bomb and corrupt streams.

use super::*;

fn params(server_bits: u8, client_bits: u8, snct: bool, cnct: bool) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }
}

fn neg(offers: &[&str], cfg: &DeflateConfig) -> Option<(DeflateParams, String)> {
    let offers: Vec<&[u8]> = offers.iter().map(|o| o.as_bytes()).collect();
    negotiate(&offers, cfg)
}

#[test]
fn negotiation_table() {
    let d = DeflateConfig::default();
    let pmd = "permessage-deflate";
    let accepted: &[(&str, DeflateParams, &str)] = &[
        (pmd, params(15, 15, false, false), pmd),
        // Browsers' offer, and Autobahn 12.*.
        (
            "permessage-deflate; client_max_window_bits",
            params(15, 15, false, false),
            pmd,
        ),
        (
            "permessage-deflate; server_max_window_bits=9",
            params(9, 15, false, false),
            "permessage-deflate; server_max_window_bits=9",
        ),
        (
            "permessage-deflate; server_max_window_bits=8",
            params(8, 15, false, false),
            "permessage-deflate; server_max_window_bits=8",
        ),
        (
            "permessage-deflate; server_no_context_takeover",
            params(15, 15, true, false),
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            "permessage-deflate; client_no_context_takeover",
            params(15, 15, false, true),
            "permessage-deflate; client_no_context_takeover",
        ),
        (
            "permessage-deflate; client_max_window_bits=10",
            params(15, 10, false, false),
            "permessage-deflate; client_max_window_bits=10",
        ),
        // Autobahn 13.7: everything at once.
        (
            "permessage-deflate; client_no_context_takeover; client_max_window_bits=8; \
             server_no_context_takeover; server_max_window_bits=8",
            params(8, 8, true, true),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=8; client_max_window_bits=8",
        ),
        // RFC 7692 7.1.2.1's example: the first offer wins.
        (
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10, \
             permessage-deflate; client_max_window_bits",
            params(10, 15, false, false),
            "permessage-deflate; server_max_window_bits=10",
        ),
        // A quoted value is unquoted (RFC 7692 7); names are case-insensitive;
        // spaces around `;` and `=` are tolerated.
        (
            "permessage-deflate; server_max_window_bits=\"12\"",
            params(12, 15, false, false),
            "permessage-deflate; server_max_window_bits=12",
        ),
        (
            "PerMessage-Deflate ;Server_No_Context_Takeover ; client_max_window_bits = 9",
            params(15, 9, true, false),
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=9",
        ),
        // Another extension first, with a comma inside a quoted value.
        (
            "x-foo; a=\"1,2\", permessage-deflate",
            params(15, 15, false, false),
            pmd,
        ),
        // Declined offers are skipped, the next acceptable one taken.
        (
            "permessage-deflate; server_max_window_bits=7, \
             permessage-deflate; server_no_context_takeover",
            params(15, 15, true, false),
            "permessage-deflate; server_no_context_takeover",
        ),
        (",, permessage-deflate ,", params(15, 15, false, false), pmd),
    ];
    for (offer, want, response) in accepted {
        assert_eq!(
            neg(&[offer], &d),
            Some((*want, response.to_string())),
            "offer {offer:?}"
        );
    }
    let declined = [
        "",
        "x-webkit-deflate-frame",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits=0x9",
        "permessage-deflate; server_max_window_bits=",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=\"\"",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=\"\"",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; mux",
        "permessage-deflate; foo=1",
        "permessage-deflate;",
        "permessage-deflate; server_max_window_bits=\"10",
        "permessage-deflate; server_max_window_bits=1 0",
        "permessage-deflate-x",
    ];
    for offer in declined {
        assert_eq!(neg(&[offer], &d), None, "offer {offer:?}");
    }
}

#[test]
fn negotiation_reads_every_header_and_follows_config() {
    let d = DeflateConfig::default();
    assert_eq!(
        neg(&["x-foo", "permessage-deflate; client_max_window_bits"], &d),
        Some((params(15, 15, false, false), "permessage-deflate".into()))
    );
    assert_eq!(neg(&[], &d), None);
    let off = DeflateConfig {
        enabled: false,
        ..d
    };
    assert_eq!(neg(&["permessage-deflate"], &off), None);
    let cfg = DeflateConfig {
        enabled: true,
        server_no_context_takeover: true,
        server_max_window_bits: 10,
    };
    // The config's window is used, and answered only when the client asked.
    assert_eq!(
        neg(&["permessage-deflate"], &cfg),
        Some((
            params(10, 15, true, false),
            "permessage-deflate; server_no_context_takeover".into()
        ))
    );
    assert_eq!(
        neg(&["permessage-deflate; server_max_window_bits=12"], &cfg),
        Some((
            params(10, 15, true, false),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10".into()
        ))
    );
    assert_eq!(
        neg(&["permessage-deflate; server_max_window_bits=9"], &cfg)
            .map(|(p, _)| p.server_max_window_bits),
        Some(9)
    );
}

/// Inflates one message given in the pieces cut at `cuts`.
fn inflate_pieces(
    inf: &mut Inflater,
    msg: &[u8],
    cuts: &[usize],
    limit: usize,
) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::new();
    let mut from = 0;
    for &c in cuts.iter().chain([msg.len()].iter()) {
        let c = c.clamp(from, msg.len());
        let fin = c == msg.len();
        inf.inflate(&msg[from..c], fin, &mut out, limit)?;
        if fin {
            break;
        }
        from = c;
    }
    Ok(out)
}

/// Messages that exercise matches inside one message, across messages, stored
/// blocks (random bytes), the empty message and a large one.
fn sample_messages() -> Vec<Vec<u8>> {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut random = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng as u8
            })
            .collect()
    };
    let json = |i: usize| format!("{{\"room\":\"lobby\",\"from\":\"user{i}\",\"text\":\"hello\"}}");
    vec![
        json(1).into_bytes(),
        json(2).into_bytes(),
        Vec::new(),
        random(300),
        json(3).repeat(3).into_bytes(),
        b"a".repeat(1000),
        (0..70_000u32)
            .flat_map(|i| json(i as usize % 50).into_bytes())
            .take(70_000)
            .collect(),
        random(70_000),
        json(4).into_bytes(),
    ]
}

#[test]
fn round_trips_every_window_with_and_without_context_takeover() {
    let messages = sample_messages();
    for bits in 8..=15u8 {
        for (snct, cnct) in [(false, false), (true, true), (true, false), (false, true)] {
            let p = params(bits, bits, snct, cnct);
            let mut def = Deflater::new(&p);
            let compressed: Vec<Vec<u8>> = messages
                .iter()
                .map(|m| {
                    let mut out = Vec::new();
                    def.deflate(m, &mut out);
                    out
                })
                .collect();
            assert!(compressed[6].len() < messages[6].len() / 4, "window {bits}");
            // The receiver keeps the context unless the sender resets its own.
            let rp = params(bits, bits, cnct, snct);
            let mut inf = Inflater::new(&rp);
            for (m, c) in messages.iter().zip(&compressed) {
                let got = inflate_pieces(&mut inf, c, &[], usize::MAX);
                assert_eq!(got.as_deref(), Ok(&m[..]), "window {bits} snct {snct}");
            }
        }
    }
}

#[test]
fn round_trips_split_at_every_point() {
    let messages: Vec<Vec<u8>> = sample_messages()
        .into_iter()
        .filter(|m| m.len() <= 1000)
        .collect();
    for bits in 8..=15u8 {
        for snct in [false, true] {
            let p = params(bits, bits, snct, snct);
            let mut def = Deflater::new(&p);
            let compressed: Vec<Vec<u8>> = messages
                .iter()
                .map(|m| {
                    let mut out = Vec::new();
                    def.deflate(m, &mut out);
                    out
                })
                .collect();
            let longest = compressed.iter().map(Vec::len).max().unwrap_or(0);
            for cut in 0..=longest {
                let mut inf = Inflater::new(&p);
                for (m, c) in messages.iter().zip(&compressed) {
                    // Two cuts: at `cut` and in the middle of what follows.
                    let second = cut + (c.len().saturating_sub(cut)) / 2;
                    let got = inflate_pieces(&mut inf, c, &[cut, second], usize::MAX);
                    assert_eq!(got.as_deref(), Ok(&m[..]), "window {bits} cut {cut}");
                }
            }
        }
    }
}

#[test]
fn big_message_needs_no_more_output_than_the_limit() {
    let p = params(15, 15, false, false);
    let msg = sample_messages().swap_remove(6);
    let mut c = Vec::new();
    Deflater::new(&p).deflate(&msg, &mut c);
    let mut inf = Inflater::new(&p);
    // Exactly at the limit is fine; one byte less is too big.
    assert_eq!(
        inflate_pieces(&mut inf, &c, &[], msg.len()).as_deref(),
        Ok(&msg[..])
    );
    assert_eq!(
        inflate_pieces(&mut Inflater::new(&p), &c, &[100], msg.len() - 1),
        Err(InflateError::TooBig)
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
        .collect()
}

#[test]
fn inflates_python_zlib_output() {
    // python3: c = zlib.compressobj(6, zlib.DEFLATED, -15); per message
    // c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH), tail removed. The second
    // message refers to the first (context takeover).
    let fixtures = [
        (
            "f248cdc9c9d75128c84c2dca484d4c5154f020280000",
            "Hello, pierhead! ".repeat(3),
        ),
        (
            "aa562acacfcf55b252cac94f4aaa54d2512a49ad28017209ea54aa0500",
            r#"{"room":"lobby","text":"Hello, pierhead! Hello, pierhead!"}"#.to_string(),
        ),
        ("00", String::new()),
    ];
    let mut inf = Inflater::new(&params(15, 15, false, false));
    for (c, m) in &fixtures {
        assert_eq!(
            inflate_pieces(&mut inf, &hex(c), &[1], 1 << 20),
            Ok(m.clone().into_bytes())
        );
    }
    // The same first message ended with Z_FINISH (BFINAL set): inflated, the
    // tail ignored, and the next message starts a new stream.
    let finished = hex("f348cdc9c9d75128c84c2dca484d4c5154f020280000");
    let mut inf = Inflater::new(&params(15, 15, false, false));
    for _ in 0..2 {
        assert_eq!(
            inflate_pieces(&mut inf, &finished, &[], 1 << 20),
            Ok("Hello, pierhead! ".repeat(3).into_bytes())
        );
    }
}

#[test]
fn inflates_rfc7692_examples() {
    let p = params(15, 15, false, false);
    // 7.2.3.1: "Hello"; 7.2.3.2: a second "Hello" sharing the window.
    let mut inf = Inflater::new(&p);
    let first = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(
        inflate_pieces(&mut inf, &first, &[], 100),
        Ok(b"Hello".to_vec())
    );
    let second = [0xf2, 0x00, 0x11, 0x00, 0x00];
    assert_eq!(
        inflate_pieces(&mut inf, &second, &[], 100),
        Ok(b"Hello".to_vec())
    );
    let examples: [&[u8]; 3] = [
        // 7.2.3.3: a stored block.
        &[
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ],
        // 7.2.3.4: BFINAL set.
        &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
        // 7.2.3.5: two blocks in one message.
        &[
            0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
        ],
    ];
    for e in examples {
        let got = inflate_pieces(&mut Inflater::new(&p), e, &[3], 100);
        assert_eq!(got, Ok(b"Hello".to_vec()), "{e:02x?}");
    }
}

#[test]
fn deflates_like_rfc7692() {
    // 7.2.3.6: an empty message may be a single 00 byte; ours inflates to empty
    // whatever it is, and "Hello" compresses to the RFC's bytes.
    let p = params(15, 15, true, false);
    let mut def = Deflater::new(&p);
    let mut out = Vec::new();
    def.deflate(b"Hello", &mut out);
    assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    out.clear();
    def.deflate(b"", &mut out);
    assert!(out.len() <= 1, "{out:02x?}");
    let mut inf = Inflater::new(&p);
    assert_eq!(inflate_pieces(&mut inf, &out, &[], 0), Ok(Vec::new()));
}

#[test]
fn compression_bomb_is_refused_fast_within_the_limit() {
    // 100 MiB of zeros compress to about 100 KiB (deflate's ratio tops out near
    // 1032:1); inflating stops at the 1 MiB limit.
    let p = params(15, 15, false, false);
    let zeros = vec![0u8; 100 << 20];
    let mut bomb = Vec::new();
    Deflater::new(&p).deflate(&zeros, &mut bomb);
    drop(zeros);
    assert!(bomb.len() < 120 << 10, "{}", bomb.len());
    let limit = 1 << 20;
    let started = std::time::Instant::now();
    let mut inf = Inflater::new(&p);
    let mut out = Vec::new();
    let mut result = Ok(());
    for piece in bomb.chunks(1024) {
        result = inf.inflate(piece, false, &mut out, limit);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(InflateError::TooBig));
    assert_eq!(out.len(), limit);
    assert!(out.capacity() <= limit + 1, "capacity {}", out.capacity());
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // The inflater starts afresh after the error.
    let mut c = Vec::new();
    Deflater::new(&p).deflate(b"after", &mut c);
    assert_eq!(
        inflate_pieces(&mut inf, &c, &[], 100),
        Ok(b"after".to_vec())
    );
}

#[test]
fn corrupt_streams_are_refused() {
    let p = params(15, 15, false, false);
    let bad: [&[u8]; 3] = [
        // BTYPE 11 (reserved).
        &[0xff, 0xff, 0xff],
        // A stored block whose NLEN does not match.
        &[0x00, 0x05, 0x00, 0x00, 0x00, b'H'],
        // A distance before the start of the stream (RFC 7692's second "Hello"
        // without the first).
        &[0xf2, 0x00, 0x11, 0x00, 0x00],
    ];
    for b in bad {
        let got = inflate_pieces(&mut Inflater::new(&p), b, &[], 1 << 20);
        assert_eq!(got, Err(InflateError::Corrupt), "{b:02x?}");
    }
    // A distance beyond the negotiated client window is not refused: zlib-rs
    // keeps a 32 KiB window whatever the window bits, and inflates it right.
    // Harmless leniency, not asserted either way.
}

#[test]
fn memory_bound_follows_window_and_is_small_for_inflate() {
    let (d15, i15) = memory_bound(&params(15, 15, false, false));
    let (d9, i9) = memory_bound(&params(9, 9, false, false));
    let (d8, _) = memory_bound(&params(8, 8, false, false));
    assert_eq!(d8, d9, "window 8 compresses with 9");
    assert!(d15 > 265 << 10 && d15 < 275 << 10, "{d15}");
    assert!(d9 > 140 << 10 && d9 < 150 << 10, "{d9}");
    assert_eq!(i15, i9);
    assert!(i15 < 48 << 10, "{i15}");
}

#[test]
fn inflater_allocates_lazily_and_frees_without_context_takeover() {
    for cnct in [false, true] {
        let p = params(15, 15, false, cnct);
        let mut c = Vec::new();
        Deflater::new(&p).deflate(b"Hello", &mut c);
        let mut inf = Inflater::new(&p);
        assert!(!inf.holds_stream());
        let mut out = Vec::new();
        assert_eq!(inf.inflate(&c[..2], false, &mut out, 100), Ok(()));
        assert!(inf.holds_stream());
        assert_eq!(inf.inflate(&c[2..], true, &mut out, 100), Ok(()));
        assert_eq!(out, b"Hello");
        assert_eq!(
            inf.holds_stream(),
            !cnct,
            "client_no_context_takeover {cnct}"
        );
    }
}
