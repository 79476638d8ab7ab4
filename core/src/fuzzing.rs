//! Entry points for the fuzz targets in `fuzz/`: the internal decoders, fed
//! arbitrary bytes. Not an API (feature `fuzzing` only).

/// Finds the end of a request head in `data` and parses it (with the server's
/// header-slot limit); must never panic, whatever the bytes.
pub fn http_head(data: &[u8]) {
    if let Ok(end) = crate::service::http::head::find_end(data, 0) {
        let mut slots = crate::service::http::head::header_slots();
        let _ = crate::service::http::head::parse(&data[..end], &mut slots, 64);
    }
    let _ = crate::service::http::head::plausible_start(data);
    let _ = crate::service::http::head::request_line_too_long(data, 8192);
}

/// Decodes `data` as a chunked body, fed in the pieces `split` cuts it into;
/// the decoded bytes must be the same however it is cut.
pub fn chunked(data: &[u8], split: usize) {
    let decode = |pieces: &[&[u8]]| {
        let mut c = crate::service::http::chunked::Chunked::default();
        let mut out = Vec::new();
        for p in pieces {
            let mut rest = *p;
            while !rest.is_empty() {
                match c.feed(rest, 1 << 20, 4096, |d| out.extend_from_slice(d)) {
                    Ok((used, done)) => {
                        if done {
                            return (Some(out), true);
                        }
                        if used == 0 {
                            break;
                        }
                        rest = &rest[used..];
                    }
                    Err(_) => return (None, false),
                }
            }
        }
        (Some(out), false)
    };
    let whole = decode(&[data]);
    let at = split % (data.len() + 1);
    let cut = decode(&[&data[..at], &data[at..]]);
    assert_eq!(
        whole, cut,
        "a chunked body decodes differently when cut at {at}"
    );
}

/// Inflates `data` as permessage-deflate messages under `limit`, with the window
/// and context options `flags` picks, cut into pieces at `split` (each message
/// ends at a 0xFF byte); must never panic, never go past the limit, and give the
/// same bytes and errors however each message is cut.
pub fn ws_inflate(data: &[u8], split: usize, limit: usize, flags: u8) {
    use crate::service::ws::deflate::{DeflateParams, Inflater};
    let p = DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: flags & 1 != 0,
        server_max_window_bits: 15,
        client_max_window_bits: 8 + (flags >> 1) % 8,
    };
    let limit = limit % (1 << 20);
    let messages: Vec<&[u8]> = data.split(|&b| b == 0xff).collect();
    let run = |cut: Option<usize>| {
        let mut inf = Inflater::new(&p);
        let mut results = Vec::new();
        for m in &messages {
            let mut out = Vec::new();
            let r = match cut {
                Some(c) => {
                    let at = c % (m.len() + 1);
                    inf.inflate(&m[..at], false, &mut out, limit)
                        .and_then(|()| inf.inflate(&m[at..], true, &mut out, limit))
                }
                None => inf.inflate(m, true, &mut out, limit),
            };
            assert!(out.len() <= limit, "inflated past the limit");
            results.push(r.map(|()| out));
        }
        results
    };
    let whole = run(None);
    let cut = run(Some(split));
    assert_eq!(whole, cut, "inflates differently when cut at {split}");
}
