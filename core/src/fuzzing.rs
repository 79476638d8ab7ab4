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

/// Decodes `data` as a stream of client frames (required masked or not, and the
/// payload limit, chosen by `choice`): never a panic; a header re-encodes to its
/// own bytes when its length was encoded in the fewest bytes; a payload unmasks
/// the same whole or in two pieces (cut where `choice` says) and masks back to
/// the bytes it came from; a text payload validates in two pieces as
/// `std::str::from_utf8` says of the whole, and a close payload that parses
/// re-encodes to itself.
pub fn ws_frame(data: &[u8], choice: u32) {
    use crate::service::ws::{close, frame, utf8};
    let require_mask = choice & 1 != 0;
    let max = if choice & 2 != 0 { 125 } else { 1 << 16 };
    let mut rest = data;
    while let Ok(Some(h)) = frame::decode_header(rest, max, require_mask) {
        let ext = match h.len {
            0..=125 => 0,
            126..=65535 => 2,
            _ => 8,
        };
        let key_len = if h.mask.is_some() { 4 } else { 0 };
        let minimal = h.header_len == 2 + ext + key_len;
        if minimal {
            let mut again = Vec::new();
            frame::encode_header(h.fin, h.rsv1, h.opcode, h.len as usize, &mut again);
            if let Some(key) = h.mask {
                again[1] |= 0x80;
                again.extend_from_slice(&key);
            }
            assert_eq!(again, rest[..h.header_len], "header {h:?}");
        }
        let Some(body) = rest.get(h.header_len..h.header_len + h.len as usize) else {
            return;
        };
        let key = h.mask.unwrap_or([0; 4]);
        let mut payload = Vec::new();
        frame::unmask_into(&mut payload, body, key, 0);
        let at = (choice >> 8) as usize % (body.len() + 1);
        let mut pieces = Vec::new();
        frame::unmask_into(&mut pieces, &body[..at], key, 0);
        frame::unmask_into(&mut pieces, &body[at..], key, at as u64);
        assert_eq!(payload, pieces, "unmasked differently when cut at {at}");
        if minimal && !h.rsv1 {
            if let Some(key) = h.mask {
                let mut again = Vec::new();
                frame::encode_masked(h.fin, h.opcode, &payload, key, &mut again);
                assert_eq!(again, rest[..h.header_len + body.len()]);
            }
        }
        match h.opcode {
            frame::opcode::TEXT | frame::opcode::CONTINUATION => {
                let mut v = utf8::Utf8Validator::default();
                let ok = v
                    .feed(&payload[..at])
                    .and_then(|()| v.feed(&payload[at..]))
                    .and_then(|()| v.finish())
                    .is_ok();
                assert_eq!(ok, std::str::from_utf8(&payload).is_ok());
            }
            frame::opcode::CLOSE => {
                if let Ok(Some((code, reason))) = close::parse_close(&payload) {
                    let mut again = Vec::new();
                    close::encode_close(code, reason, &mut again);
                    assert_eq!(again, payload);
                }
            }
            _ => {}
        }
        rest = &rest[h.header_len + body.len()..];
    }
}

/// Reads `data` as a client's frames with the reader every WebSocket session
/// uses (messages assembled from fragments, control frames between them,
/// incremental UTF-8, the message limit `max_message`): never a panic, and the
/// same messages, control frames and close code whole as cut in two at `split`.
pub fn ws_inbound(data: &[u8], split: usize, max_message: usize) {
    use crate::service::ws::inbound::{Event, Inbound};
    fn trace(pieces: &[&[u8]], max_message: usize) -> Vec<(char, u16, Vec<u8>)> {
        let mut inbound = Inbound::default();
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            loop {
                let (used, found) = inbound.read(&buf, max_message);
                buf.drain(..used);
                match found {
                    Ok(None) => break,
                    Ok(Some(Event::Message)) => {
                        let Some(m) = inbound.take_message() else {
                            panic!("a message announced and not there");
                        };
                        seen.push(('m', u16::from(m.opcode), m.data.clone()));
                        inbound.recycle(m);
                    }
                    Ok(Some(Event::Control(op, payload))) => {
                        seen.push(('c', u16::from(op), payload));
                    }
                    Err(f) => {
                        seen.push(('e', f.0, Vec::new()));
                        return seen;
                    }
                }
            }
        }
        seen
    }
    let at = split % (data.len() + 1);
    let whole = trace(&[data], max_message);
    let cut = trace(&[&data[..at], &data[at..]], max_message);
    assert_eq!(whole, cut, "read differently when cut at {at}");
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

/// Decodes `data` as HTTP/2 frames with the frame layer (as a server when
/// `flags & 1`; the maximum frame size 16384, or `flags >> 2` with `flags & 2`),
/// whole and cut in two at `split`: never a panic; every frame re-encodes to
/// as many bytes as it came in, which decode to the same frame; a stream error
/// skips its frame and reading goes on; the frames and errors are the same
/// however the bytes are cut. Returns them (each frame re-encoded), for tests.
pub fn h2_frame(
    data: &[u8],
    split: usize,
    flags: u8,
) -> Vec<Result<Vec<u8>, crate::http2::FrameError>> {
    use crate::http2::{decode, decode_at_server, Decoded, Frame, Scope};
    let server = flags & 1 != 0;
    let max = if flags & 2 != 0 {
        u32::from(flags >> 2)
    } else {
        16_384
    };
    let decode: fn(&[u8], u32) -> Decoded<'_> = if server { decode_at_server } else { decode };
    let run = |pieces: &[&[u8]]| {
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            loop {
                match decode(&buf, max) {
                    Ok(None) => break,
                    Ok(Some((frame, used))) => {
                        let mut again = Vec::new();
                        frame.encode(&mut again);
                        assert_eq!(again.len(), used, "{frame:?} re-encoded to another length");
                        assert_eq!(decode(&again, max), Ok(Some((frame, used))), "{again:x?}");
                        if let Frame::Headers(h) = frame {
                            if let Some(e) = h.stream_error() {
                                assert!(
                                    matches!(e.scope, Scope::Stream { frame_len, .. } if frame_len == used)
                                );
                            }
                        }
                        seen.push(Ok(again));
                        buf.drain(..used);
                    }
                    Err(e) => {
                        seen.push(Err(e));
                        match e.scope {
                            Scope::Stream { frame_len, .. } => {
                                assert!(frame_len <= buf.len(), "{e}: the frame is not all there");
                                buf.drain(..frame_len);
                            }
                            Scope::Connection => return seen,
                        }
                    }
                }
            }
        }
        seen
    };
    let at = split % (data.len() + 1);
    let whole = run(&[data]);
    let cut = run(&[&data[..at], &data[at..]]);
    assert_eq!(whole, cut, "decoded differently when cut at {at}");
    whole
}

/// Decodes `data` as HPACK header blocks on one connection (the first byte
/// chooses the table size we advertise, the header list limit and how fields are
/// encoded again; each block is preceded by its length byte): never a panic,
/// never a field past the list limit; the fields of each block that decodes,
/// encoded again by an encoder kept in step with a second decoder (the size
/// updates the input made included), decode to the same fields, and the second
/// pair's tables stay alike.
pub fn hpack(data: &[u8]) {
    use crate::service::h2::hpack::{Decoder, Encoder, Huffman, Indexing};
    type Owned = (Vec<u8>, Vec<u8>, bool);
    let Some((&choice, mut rest)) = data.split_first() else {
        return;
    };
    let table_size = [0, 64, 256, 4096][usize::from(choice & 3)];
    let limit = [256, 4096, 1 << 16][usize::from(choice >> 2 & 3) % 3];
    let huffman =
        [Huffman::Shorter, Huffman::Always, Huffman::Never][usize::from(choice >> 4 & 3) % 3];
    let mode = choice >> 6;
    let mut d = Decoder::new(table_size);
    d.set_max_header_list_size(limit);
    let mut e = Encoder::new(table_size);
    e.set_huffman(huffman);
    let mut again = Decoder::new(table_size);
    again.set_max_header_list_size(usize::MAX);
    while let Some((&len, tail)) = rest.split_first() {
        let (block, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        let mut fields: Vec<Owned> = Vec::new();
        let mut total = 0;
        let decoded = d.decode(block, |f| {
            total += f.name.len() + f.value.len() + 32;
            fields.push((f.name.to_vec(), f.value.to_vec(), f.sensitive));
        });
        assert!(
            total <= limit,
            "fields past the list limit: {total} > {limit}"
        );
        if decoded.is_err() {
            return;
        }
        let capacity = d.table_state().2;
        if capacity != e.table_state().2 {
            e.set_max_table_size(capacity);
            again.set_max_table_size(capacity);
        }
        let indexing = |i: usize, sensitive: bool| match (sensitive, mode) {
            (true, _) => Indexing::Never,
            (false, 0) => Indexing::Add,
            (false, 1) => Indexing::Skip,
            _ if (i + usize::from(mode)) & 1 == 0 => Indexing::Add,
            _ => Indexing::Skip,
        };
        let mut out = Vec::new();
        e.encode(
            fields
                .iter()
                .enumerate()
                .map(|(i, (n, v, s))| (&n[..], &v[..], indexing(i, *s))),
            &mut out,
        );
        let mut got: Vec<Owned> = Vec::new();
        let r = again.decode(&out, |f| {
            got.push((f.name.to_vec(), f.value.to_vec(), f.sensitive))
        });
        assert_eq!(r, Ok(()), "the encoder's block does not decode");
        assert_eq!(got, fields, "encoded again, the fields changed");
        assert_eq!(
            e.table_state(),
            again.table_state(),
            "the tables went apart"
        );
    }
}

/// Feeds `data` to an HTTP/2 server connection after a client's preface and
/// empty SETTINGS (the first byte chooses where the input is cut in two and
/// whether every request is answered): never a panic, everything it sends is a
/// sequence of frames that decode, at most one GOAWAY and nothing after it, and
/// nothing read after it said Close.
pub fn h2_conn(data: &[u8]) {
    use crate::service::h2::conn::{Config, Connection, Event, Step};
    use crate::service::h2::frame::{decode, encode_settings, Frame, PREFACE};
    let Some((&choice, data)) = data.split_first() else {
        return;
    };
    let mut out = Vec::new();
    let mut conn = Connection::new(Config::default(), &mut out);
    let mut input = PREFACE.to_vec();
    encode_settings(&[], &mut input);
    input.extend_from_slice(data);
    let at = (usize::from(choice) * 7) % (input.len() + 1);
    let mut buf = Vec::new();
    for piece in [&input[..at], &input[at..]] {
        buf.extend_from_slice(piece);
        let (used, step) = conn.on_input(&buf, &mut out);
        assert!(used <= buf.len());
        buf.drain(..used);
        while let Some(event) = conn.next_event() {
            if let Event::Request { stream_id, .. } = event {
                if choice & 1 == 0 {
                    conn.respond(stream_id, 200, &[], b"ok".to_vec(), Vec::new(), &mut out);
                }
            }
        }
        if step == Step::Close {
            break;
        }
    }
    // What the server said: whole frames, the last of them a GOAWAY if any is.
    let mut rest = out.as_slice();
    let mut goaways = 0;
    while !rest.is_empty() {
        let (frame, used) = match decode(rest, 1 << 24) {
            Ok(Some(f)) => f,
            other => panic!("the server sent bytes that are not a frame: {other:?}"),
        };
        if let Frame::GoAway(_) = frame {
            goaways += 1;
        } else {
            assert_eq!(goaways, 0, "a frame after GOAWAY");
        }
        rest = &rest[used..];
    }
    assert!(goaways <= 1, "{goaways} GOAWAYs");
}
