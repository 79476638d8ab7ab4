//! The frame layer's tests: round trips of every frame type, the encoders, each
//! error rule with its code and scope (named after the h2spec case it answers),
//! and decoding from buffers cut anywhere.

use super::*;
use crate::fuzzing::h2_frame;
use proptest::prelude::*;

const MAX: u32 = DEFAULT_MAX_FRAME_SIZE;

/// A frame header's 9 bytes.
fn head(len: u32, kind: u8, flags: u8, stream_id: u32) -> Vec<u8> {
    let mut out = Vec::new();
    FrameHeader {
        len,
        kind,
        flags,
        stream_id,
    }
    .encode(&mut out);
    out
}

/// A frame: its header, then `payload`.
fn raw(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = head(payload.len() as u32, kind, flags, stream_id);
    out.extend_from_slice(payload);
    out
}

/// The one frame `bytes` hold, all of them used.
fn one(bytes: &[u8]) -> Frame<'_> {
    match decode(bytes, MAX) {
        Ok(Some((f, used))) if used == bytes.len() => f,
        other => panic!("{bytes:x?} decoded to {other:?}"),
    }
}

/// `bytes` are a connection error with `code`, reported once `need` bytes are
/// there (`Ok(None)` before).
fn connection_error(bytes: &[u8], need: usize, code: ErrorCode) -> Violation {
    for n in 0..need {
        assert_eq!(decode(&bytes[..n], MAX), Ok(None), "{bytes:x?} cut at {n}");
    }
    let e = decode(&bytes[..need], MAX).expect_err("an error");
    assert_eq!((e.scope, e.code()), (Scope::Connection, code), "{e}");
    assert_eq!(decode(bytes, MAX), Err(e));
    e.why
}

/// A frame of `kind` with `len` bytes of payload is a connection
/// FRAME_SIZE_ERROR as soon as its header is there.
fn bad_length(kind: u8, flags: u8, stream_id: u32, len: usize) {
    let bytes = raw(kind, flags, stream_id, &vec![0; len]);
    let why = connection_error(&bytes, HEADER_LEN, ErrorCode::FrameSizeError);
    let len = len as u32;
    assert_eq!(why, Violation::BadLength { kind, len });
}

/// `bytes` (one whole frame) are a stream error on `stream_id` with `code`,
/// reported only once all of them are there, then reading goes on after them.
fn stream_error(bytes: &[u8], stream_id: u32, code: ErrorCode) -> Violation {
    for n in 0..bytes.len() {
        assert_eq!(decode(&bytes[..n], MAX), Ok(None), "{bytes:x?} cut at {n}");
    }
    let e = decode(bytes, MAX).expect_err("an error");
    let frame_len = bytes.len();
    assert_eq!(
        (e.scope, e.code()),
        (
            Scope::Stream {
                stream_id,
                frame_len
            },
            code
        ),
        "{e}"
    );
    let mut then = bytes.to_vec();
    encode_ping([7; 8], false, &mut then);
    let seen = h2_frame(&then, 0, 0);
    assert_eq!(seen[0], Err(e));
    assert_eq!(
        seen[1].as_ref().map(|f| one(f)),
        Ok(Frame::Ping(Ping {
            ack: false,
            data: [7; 8]
        }))
    );
    e.why
}

#[test]
fn the_preface_is_checked_byte_by_byte() {
    for n in 0..PREFACE.len() {
        assert_eq!(decode_preface(&PREFACE[..n]), Ok(false));
    }
    let mut out = Vec::new();
    encode_preface(&mut out);
    encode_settings_ack(&mut out);
    assert_eq!(decode_preface(&out), Ok(true));
    // h2spec 3.5/2: an invalid preface; HTTP/1.1's request line too.
    for bad in [
        &b"PRI * HTTP/2.0\r\n\r\nXX"[..],
        b"GET / HTTP/1.1\r\n",
        b"P",
    ] {
        let want = bad != b"P";
        let r = decode_preface(bad);
        assert_eq!(r.is_err(), want, "{bad:?}");
        if let Err(e) = r {
            assert_eq!(
                (e.why, e.code()),
                (Violation::BadPreface, ErrorCode::ProtocolError)
            );
        }
    }
}

#[test]
fn error_codes_keep_unknown_values() {
    for v in 0..=0xd_u32 {
        let c = ErrorCode::from(v);
        assert_ne!(c, ErrorCode::Unknown(v));
        assert_eq!(u32::from(c), v);
    }
    assert_eq!(ErrorCode::from(0xb), ErrorCode::EnhanceYourCalm);
    assert_eq!(ErrorCode::EnhanceYourCalm.to_string(), "ENHANCE_YOUR_CALM");
    assert_eq!(ErrorCode::Http11Required.to_string(), "HTTP_1_1_REQUIRED");
    for v in [0xe, 0xff, u32::MAX] {
        assert_eq!(ErrorCode::from(v), ErrorCode::Unknown(v));
        assert_eq!(u32::from(ErrorCode::Unknown(v)), v);
    }
    assert_eq!(ErrorCode::Unknown(0x1f).to_string(), "error code 0x1f");
}

#[test]
fn h2spec_7_1_and_7_2_unknown_error_codes_are_kept() {
    let mut out = Vec::new();
    encode_goaway(3, ErrorCode::from(0xabcd), b"why", &mut out);
    assert_eq!(
        one(&out),
        Frame::GoAway(GoAway {
            last_stream_id: 3,
            code: ErrorCode::Unknown(0xabcd),
            debug: b"why"
        })
    );
    out.clear();
    encode_rst_stream(5, ErrorCode::Unknown(0x100), &mut out);
    assert_eq!(
        one(&out),
        Frame::RstStream(RstStream {
            stream_id: 5,
            code: ErrorCode::Unknown(0x100)
        })
    );
}

#[test]
fn h2spec_4_1_unknown_types_undefined_flags_and_the_r_bit_are_ignored() {
    // 4.1/1: an unknown type is returned as it is, to be ignored.
    let bytes = raw(0x16, 0xff, 0, b"ext");
    let f = one(&bytes);
    assert_eq!(
        f,
        Frame::Unknown(Unknown {
            kind: 0x16,
            flags: 0xff,
            stream_id: 0,
            payload: b"ext"
        })
    );
    // 4.1/2: undefined flags on PING (only ACK is defined) are dropped.
    let bytes = raw(kind::PING, 0xfe, 0, &[1; 8]);
    assert_eq!(
        one(&bytes),
        Frame::Ping(Ping {
            ack: false,
            data: [1; 8]
        })
    );
    // 4.1/3: the reserved bit R on a stream identifier is masked off.
    let mut bytes = raw(kind::DATA, flag::END_STREAM, 3, b"x");
    bytes[5] |= 0x80;
    assert_eq!(FrameHeader::decode(&bytes).map(|h| h.stream_id), Some(3));
    assert_eq!(
        one(&bytes),
        Frame::Data(Data {
            stream_id: 3,
            end_stream: true,
            padding: None,
            data: b"x"
        })
    );
    // ...and on SETTINGS, where the stream must be 0: R alone is still stream 0.
    let mut bytes = raw(kind::SETTINGS, 0, 0, &[]);
    bytes[5] = 0x80;
    assert!(matches!(one(&bytes), Frame::Settings(s) if !s.ack && s.iter().count() == 0));
}

#[test]
fn h2spec_4_2_frame_size() {
    // 4.2/1: a DATA frame of 2^14 bytes is fine.
    let mut out = Vec::new();
    encode_data(1, &[0; 16_384], false, &mut out);
    assert!(matches!(one(&out), Frame::Data(d) if d.data.len() == 16_384));
    // 4.2/2, 4.2/3: one byte over SETTINGS_MAX_FRAME_SIZE, as soon as the header
    // is there (the payload never is).
    for kind in [kind::DATA, kind::HEADERS, kind::SETTINGS, 0x20] {
        let bytes = head(16_385, kind, 0, 1);
        let why = connection_error(&bytes, 9, ErrorCode::FrameSizeError);
        assert_eq!(
            why,
            Violation::TooLarge {
                len: 16_385,
                max: MAX
            }
        );
    }
    // The limit is ours: a larger one lets the frame through.
    let mut out = Vec::new();
    encode_data(1, &[0; 16_385], false, &mut out);
    assert!(decode(&out, 16_385).unwrap().is_some());
}

#[test]
fn h2spec_stream_id_rules() {
    // 6.1/1, 6.2/3, 6.3/1, 6.4/1, 6.10/3 (and PUSH_PROMISE): stream 0.
    let stream_frames: [(u8, &[u8]); 6] = [
        (kind::DATA, b""),
        (kind::HEADERS, b""),
        (kind::PRIORITY, &[0, 0, 0, 1, 16]),
        (kind::RST_STREAM, &[0, 0, 0, 8]),
        (kind::PUSH_PROMISE, &[0, 0, 0, 2]),
        (kind::CONTINUATION, b""),
    ];
    for (kind, payload) in stream_frames {
        let why = connection_error(&raw(kind, 0, 0, payload), 9, ErrorCode::ProtocolError);
        assert_eq!(why, Violation::StreamZero(kind));
    }
    // 6.5/2, 6.7/3, 6.8/1: SETTINGS, PING, GOAWAY on a stream.
    let connection_frames: [(u8, &[u8]); 3] = [
        (kind::SETTINGS, b""),
        (kind::PING, &[0; 8]),
        (kind::GOAWAY, &[0; 8]),
    ];
    for (kind, payload) in connection_frames {
        let why = connection_error(&raw(kind, 0, 1, payload), 9, ErrorCode::ProtocolError);
        assert_eq!(why, Violation::NotStreamZero(kind));
    }
}

#[test]
fn h2spec_6_1_3_and_6_2_4_padding_longer_than_the_payload() {
    // DATA: 3 bytes of payload: pad length 3 leaves nothing for the pad length
    // byte itself; 2 leaves an empty body (fine).
    let bad = raw(kind::DATA, flag::PADDED, 1, &[3, 0, 0]);
    let why = connection_error(&bad, bad.len(), ErrorCode::ProtocolError);
    assert_eq!(why, Violation::PaddingTooLong(3));
    let ok = raw(kind::DATA, flag::PADDED, 1, &[2, 0, 0]);
    assert!(matches!(one(&ok), Frame::Data(d) if d.data.is_empty() && d.flow_len() == 3));
    // HEADERS: the padding must leave room for the priority fields too.
    // 7 bytes: the pad length, 5 of priority, 1 of padding: an empty fragment;
    // 2 of padding would eat into the priority fields.
    let flags = flag::PADDED | flag::PRIORITY;
    let ok = raw(kind::HEADERS, flags, 1, &[1, 0, 0, 0, 0, 9, 0]);
    assert!(matches!(one(&ok), Frame::Headers(h) if h.fragment.is_empty() && h.padding == Some(1)));
    let bad = raw(kind::HEADERS, flags, 1, &[2, 0, 0, 0, 0, 9, 0]);
    let why = connection_error(&bad, bad.len(), ErrorCode::ProtocolError);
    assert_eq!(why, Violation::PaddingTooLong(2));
    let bad = raw(kind::HEADERS, flag::PADDED, 1, &[6, 0, 0, 0, 0, 0]);
    connection_error(&bad, bad.len(), ErrorCode::ProtocolError);
    // PUSH_PROMISE: room for the promised stream.
    let bad = raw(kind::PUSH_PROMISE, flag::PADDED, 1, &[1, 0, 0, 0, 2]);
    connection_error(&bad, bad.len(), ErrorCode::ProtocolError);
}

#[test]
fn frames_too_short_for_their_fixed_fields() {
    // The pad length byte, the priority fields, the promised stream, GOAWAY's 8
    // bytes: a FRAME_SIZE_ERROR as soon as the header says so.
    let cases: [(u8, u8, usize); 5] = [
        (kind::DATA, flag::PADDED, 0),
        (kind::HEADERS, flag::PRIORITY, 4),
        (kind::HEADERS, flag::PADDED | flag::PRIORITY, 5),
        (kind::PUSH_PROMISE, 0, 3),
        (kind::GOAWAY, 0, 7),
    ];
    for (kind, flags, len) in cases {
        let stream = if kind == kind::GOAWAY { 0 } else { 1 };
        bad_length(kind, flags, stream, len);
    }
}

#[test]
fn h2spec_6_3_2_priority_of_the_wrong_length_is_a_stream_error() {
    for len in [0, 4, 6] {
        let why = stream_error(
            &raw(kind::PRIORITY, 0, 3, &vec![0; len]),
            3,
            ErrorCode::FrameSizeError,
        );
        assert_eq!(
            why,
            Violation::BadLength {
                kind: kind::PRIORITY,
                len: len as u32
            }
        );
    }
}

#[test]
fn h2spec_5_3_1_a_stream_depending_on_itself() {
    // 5.3.1/2: PRIORITY, a stream error once the frame is there.
    let bytes = raw(kind::PRIORITY, 0, 5, &[0x80, 0, 0, 5, 16]);
    let why = stream_error(&bytes, 5, ErrorCode::ProtocolError);
    assert_eq!(why, Violation::SelfDependency);
    // 5.3.1/1: HEADERS is returned (its block must reach HPACK), and says it.
    let bytes = raw(
        kind::HEADERS,
        flag::PRIORITY | flag::END_HEADERS,
        5,
        &[0, 0, 0, 5, 16, 0x82],
    );
    let Frame::Headers(h) = one(&bytes) else {
        panic!("not HEADERS");
    };
    assert_eq!(h.fragment, [0x82]);
    let e = h.stream_error().expect("a stream error");
    assert_eq!(e.code(), ErrorCode::ProtocolError);
    assert_eq!(
        e.scope,
        Scope::Stream {
            stream_id: 5,
            frame_len: bytes.len()
        }
    );
    // Depending on another stream is fine.
    let bytes = raw(kind::HEADERS, flag::PRIORITY, 5, &[0, 0, 0, 3, 16]);
    assert!(matches!(one(&bytes), Frame::Headers(h) if h.stream_error().is_none()));
}

#[test]
fn h2spec_6_4_3_rst_stream_and_6_9_3_window_update_of_the_wrong_length() {
    for (kind, stream) in [
        (kind::RST_STREAM, 1),
        (kind::WINDOW_UPDATE, 0),
        (kind::WINDOW_UPDATE, 1),
    ] {
        for len in [0, 3, 5] {
            bad_length(kind, 0, stream, len);
        }
    }
}

#[test]
fn h2spec_6_5_settings_shapes() {
    // 6.5/1: ACK with a payload.
    let bytes = raw(kind::SETTINGS, flag::ACK, 0, &[0, 4, 0, 0, 0, 1]);
    connection_error(&bytes, 9, ErrorCode::FrameSizeError);
    // 6.5/3: a length not a multiple of 6.
    for len in [1, 5, 7, 13] {
        let bytes = raw(kind::SETTINGS, 0, 0, &vec![0; len]);
        connection_error(&bytes, 9, ErrorCode::FrameSizeError);
    }
}

#[test]
fn h2spec_6_5_2_settings_values() {
    let settings = |id: u16, value: u32| {
        let mut p = id.to_be_bytes().to_vec();
        p.extend_from_slice(&value.to_be_bytes());
        // A valid parameter first: the whole frame is refused all the same.
        let mut payload = vec![0, 3, 0, 0, 0, 100];
        payload.extend_from_slice(&p);
        raw(kind::SETTINGS, 0, 0, &payload)
    };
    let refused = [
        (2, 2, Violation::EnablePush(2), ErrorCode::ProtocolError), // 6.5.2/1
        (
            4,
            1 << 31,
            Violation::InitialWindowSize(1 << 31),
            ErrorCode::FlowControlError,
        ), // 6.5.2/2, 6.9.2/3
        (
            5,
            16_383,
            Violation::MaxFrameSize(16_383),
            ErrorCode::ProtocolError,
        ), // 6.5.2/3
        (
            5,
            1 << 24,
            Violation::MaxFrameSize(1 << 24),
            ErrorCode::ProtocolError,
        ), // 6.5.2/4
    ];
    for (id, value, want, code) in refused {
        let bytes = settings(id, value);
        assert_eq!(connection_error(&bytes, bytes.len(), code), want);
    }
    // The bounds themselves are fine; 6.5.2/5: an unknown identifier is ignored.
    let accepted = [
        (2, 0, Some(Setting::EnablePush(false))),
        (2, 1, Some(Setting::EnablePush(true))),
        (4, MAX_WINDOW, Some(Setting::InitialWindowSize(MAX_WINDOW))),
        (5, 16_384, Some(Setting::MaxFrameSize(16_384))),
        (
            5,
            MAX_FRAME_SIZE_LIMIT,
            Some(Setting::MaxFrameSize(MAX_FRAME_SIZE_LIMIT)),
        ),
        (0xff, u32::MAX, None),
        (0, 7, None),
    ];
    for (id, value, want) in accepted {
        let bytes = settings(id, value);
        let Frame::Settings(s) = one(&bytes) else {
            panic!("not SETTINGS");
        };
        let got: Vec<Setting> = s.iter().collect();
        let mut expect = vec![Setting::MaxConcurrentStreams(100)];
        expect.extend(want);
        assert_eq!(got, expect);
    }
}

#[test]
fn h2spec_6_7_4_and_5_4_1_1_ping_of_the_wrong_length() {
    for len in [0, 7, 9] {
        bad_length(kind::PING, 0, 0, len);
    }
}

#[test]
fn h2spec_6_9_1_and_6_9_2_a_zero_window_increment() {
    // 6.9/1: on the connection, a connection error.
    let bytes = raw(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 0]);
    assert_eq!(
        connection_error(&bytes, bytes.len(), ErrorCode::ProtocolError),
        Violation::ZeroIncrement
    );
    // 6.9/2: on a stream, a stream error.
    let bytes = raw(kind::WINDOW_UPDATE, 0, 7, &[0, 0, 0, 0]);
    assert_eq!(
        stream_error(&bytes, 7, ErrorCode::ProtocolError),
        Violation::ZeroIncrement
    );
    // The reserved bit is not part of the increment: R alone is still 0.
    let bytes = raw(kind::WINDOW_UPDATE, 0, 7, &[0x80, 0, 0, 0]);
    stream_error(&bytes, 7, ErrorCode::ProtocolError);
    let bytes = raw(kind::WINDOW_UPDATE, 0, 7, &[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        one(&bytes),
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 7,
            increment: MAX_WINDOW
        })
    );
}

#[test]
fn push_promise_is_a_connection_error_at_a_server_only() {
    let mut payload = 2u32.to_be_bytes().to_vec();
    payload.push(0x82);
    let bytes = raw(kind::PUSH_PROMISE, flag::END_HEADERS, 1, &payload);
    assert_eq!(
        one(&bytes),
        Frame::PushPromise(PushPromise {
            stream_id: 1,
            end_headers: true,
            padding: None,
            promised_stream_id: 2,
            fragment: &[0x82]
        })
    );
    for n in 0..9 {
        assert_eq!(decode_at_server(&bytes[..n], MAX), Ok(None));
    }
    let e = decode_at_server(&bytes[..9], MAX).expect_err("an error");
    assert_eq!(
        (e.why, e.scope, e.code()),
        (
            Violation::PushPromiseToServer,
            Scope::Connection,
            ErrorCode::ProtocolError
        )
    );
}

#[test]
fn error_messages_say_the_rule_the_scope_and_the_code() {
    let e = decode(&raw(kind::PING, 0, 0, &[0; 4]), MAX).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a frame of type 6 with a payload of 4 bytes: connection error FRAME_SIZE_ERROR"
    );
    assert!(e.is_connection());
    let e = decode(&raw(kind::WINDOW_UPDATE, 0, 9, &[0; 4]), MAX).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a window increment of 0: stream 9 error PROTOCOL_ERROR"
    );
    assert!(!e.is_connection());
}

#[test]
fn the_server_encoders_decode_to_what_they_were_given() {
    let mut out = Vec::new();
    let sent = [
        Setting::HeaderTableSize(0),
        Setting::EnablePush(false),
        Setting::MaxConcurrentStreams(128),
        Setting::InitialWindowSize(MAX_WINDOW),
        Setting::MaxFrameSize(MAX_FRAME_SIZE_LIMIT),
        Setting::MaxHeaderListSize(16_384),
    ];
    encode_settings(&sent, &mut out);
    assert_eq!(out.len(), 9 + 36);
    assert!(matches!(one(&out), Frame::Settings(s) if !s.ack && s.iter().eq(sent)));
    out.clear();
    encode_settings_ack(&mut out);
    assert_eq!(out, [0, 0, 0, 4, 1, 0, 0, 0, 0]);
    out.clear();
    encode_ping(*b"pierhead", true, &mut out);
    assert_eq!(
        one(&out),
        Frame::Ping(Ping {
            ack: true,
            data: *b"pierhead"
        })
    );
    out.clear();
    encode_window_update(0, 1 << 20, &mut out);
    assert_eq!(out, [0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0x10, 0, 0]);
    out.clear();
    encode_data_header(3, 5, true, &mut out);
    out.extend_from_slice(b"hello");
    let mut whole = Vec::new();
    encode_data(3, b"hello", true, &mut whole);
    assert_eq!(out, whole);
    assert_eq!(
        one(&out),
        Frame::Data(Data {
            stream_id: 3,
            end_stream: true,
            padding: None,
            data: b"hello"
        })
    );
}

#[test]
fn an_empty_field_block_is_one_headers_frame() {
    let mut out = Vec::new();
    encode_headers(1, &[], true, MAX, &mut out);
    assert_eq!(
        out,
        raw(kind::HEADERS, flag::END_STREAM | flag::END_HEADERS, 1, &[])
    );
}

proptest! {
    #[test]
    fn headers_split_into_continuations_at_the_max_frame_size(
        len in 0usize..70_000,
        max in prop_oneof![Just(0u32), Just(16_384), 16_384u32..40_000, Just(u32::MAX)],
        end_stream in any::<bool>(),
        stream in 1u32..=MAX_WINDOW,
    ) {
        let block: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        encode_headers(stream, &block, end_stream, max, &mut out);
        let limit = max.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_FRAME_SIZE_LIMIT);
        let mut rest = &out[..];
        let mut got = Vec::new();
        let mut n = 0;
        while !rest.is_empty() {
            let (f, used) = decode(rest, limit).unwrap().unwrap();
            let (end_headers, fragment) = match (n, f) {
                (0, Frame::Headers(h)) => {
                    prop_assert_eq!((h.stream_id, h.end_stream, h.padding, h.priority), (stream, end_stream, None, None));
                    (h.end_headers, h.fragment)
                }
                (1.., Frame::Continuation(c)) => {
                    prop_assert_eq!(c.stream_id, stream);
                    (c.end_headers, c.fragment)
                }
                (_, f) => panic!("frame {n}: {f:?}"),
            };
            got.extend_from_slice(fragment);
            rest = &rest[used..];
            // END_HEADERS on the last frame only; every frame but the last full.
            prop_assert_eq!(end_headers, rest.is_empty());
            if !end_headers {
                prop_assert_eq!(fragment.len(), limit as usize);
            }
            n += 1;
        }
        prop_assert_eq!(got, block);
        prop_assert_eq!(n, len.div_ceil(limit as usize).max(1));
    }
}

/// The fields of any frame, to build it borrowing from them.
#[derive(Debug, Clone)]
struct Recipe {
    which: u8,
    stream: u32,
    a: bool,
    b: bool,
    padding: Option<u8>,
    dependency: Option<StreamDependency>,
    bytes: Vec<u8>,
    n: u32,
    ping: [u8; 8],
    settings: Vec<u8>,
}

fn setting() -> impl Strategy<Value = Setting> {
    prop_oneof![
        any::<u32>().prop_map(Setting::HeaderTableSize),
        any::<bool>().prop_map(Setting::EnablePush),
        any::<u32>().prop_map(Setting::MaxConcurrentStreams),
        (0..=MAX_WINDOW).prop_map(Setting::InitialWindowSize),
        (DEFAULT_MAX_FRAME_SIZE..=MAX_FRAME_SIZE_LIMIT).prop_map(Setting::MaxFrameSize),
        any::<u32>().prop_map(Setting::MaxHeaderListSize),
    ]
}

fn recipe() -> impl Strategy<Value = Recipe> {
    let dependency =
        (any::<bool>(), 0..=MAX_WINDOW, any::<u8>()).prop_map(|(exclusive, stream_id, weight)| {
            StreamDependency {
                exclusive,
                stream_id,
                weight,
            }
        });
    (
        (0u8..=10, 1..=MAX_WINDOW, any::<bool>(), any::<bool>()),
        proptest::option::of(any::<u8>()),
        proptest::option::of(dependency),
        proptest::collection::vec(any::<u8>(), 0..64),
        (any::<u32>(), any::<[u8; 8]>()),
        proptest::collection::vec(setting(), 0..8),
    )
        .prop_map(
            |((which, stream, a, b), padding, dependency, bytes, (n, ping), settings)| {
                let mut encoded = Vec::new();
                if a {
                    encode_settings_ack(&mut encoded);
                } else {
                    encode_settings(&settings, &mut encoded);
                }
                Recipe {
                    which,
                    stream,
                    a,
                    b,
                    padding,
                    dependency: dependency.map(|d| StreamDependency {
                        // Never on itself (a stream error, tested apart).
                        stream_id: if d.stream_id == stream {
                            0
                        } else {
                            d.stream_id
                        },
                        ..d
                    }),
                    bytes,
                    n,
                    ping,
                    settings: encoded,
                }
            },
        )
}

/// The frame `r` describes (every type: `which` 10 is an unknown type).
fn build(r: &Recipe) -> Frame<'_> {
    let stream_id = r.stream;
    let dependency = r.dependency.unwrap_or(StreamDependency {
        exclusive: r.a,
        stream_id: 0,
        weight: r.n as u8,
    });
    match r.which {
        0 => Frame::Data(Data {
            stream_id,
            end_stream: r.a,
            padding: r.padding,
            data: &r.bytes,
        }),
        1 => Frame::Headers(Headers {
            stream_id,
            end_stream: r.a,
            end_headers: r.b,
            padding: r.padding,
            priority: r.dependency,
            fragment: &r.bytes,
        }),
        2 => Frame::Priority(Priority {
            stream_id,
            dependency,
        }),
        3 => Frame::RstStream(RstStream {
            stream_id,
            code: ErrorCode::from(r.n),
        }),
        4 => one(&r.settings),
        5 => Frame::PushPromise(PushPromise {
            stream_id,
            end_headers: r.a,
            padding: r.padding,
            promised_stream_id: r.n & MAX_WINDOW,
            fragment: &r.bytes,
        }),
        6 => Frame::Ping(Ping {
            ack: r.a,
            data: r.ping,
        }),
        7 => Frame::GoAway(GoAway {
            last_stream_id: stream_id,
            code: ErrorCode::from(r.n),
            debug: &r.bytes,
        }),
        8 => Frame::WindowUpdate(WindowUpdate {
            stream_id: if r.a { 0 } else { stream_id },
            increment: r.n % MAX_WINDOW + 1,
        }),
        9 => Frame::Continuation(Continuation {
            stream_id,
            end_headers: r.a,
            fragment: &r.bytes,
        }),
        _ => Frame::Unknown(Unknown {
            kind: 10 + (r.n % 246) as u8,
            flags: r.ping[0],
            stream_id: if r.b { 0 } else { stream_id },
            payload: &r.bytes,
        }),
    }
}

proptest! {
    #[test]
    fn every_frame_type_round_trips(r in recipe()) {
        let frame = build(&r);
        let mut out = vec![0xAA];
        frame.encode(&mut out);
        let bytes = &out[1..];
        for n in 0..bytes.len() {
            prop_assert_eq!(decode(&bytes[..n], MAX), Ok(None));
        }
        prop_assert_eq!(decode(bytes, MAX), Ok(Some((frame, bytes.len()))));
        let at_server = decode_at_server(bytes, MAX);
        if matches!(frame, Frame::PushPromise(_)) {
            prop_assert!(at_server.is_err());
        } else {
            prop_assert_eq!(at_server, Ok(Some((frame, bytes.len()))));
        }
        // The flow-controlled length of DATA is its whole payload.
        if let Frame::Data(d) = frame {
            prop_assert_eq!(d.flow_len() as usize, bytes.len() - HEADER_LEN);
        }
    }

    #[test]
    fn frames_decode_the_same_from_a_buffer_cut_anywhere(
        recipes in proptest::collection::vec(recipe(), 1..6),
        tail in proptest::collection::vec(any::<u8>(), 0..20),
        split in any::<usize>(),
        server in any::<bool>(),
    ) {
        let frames: Vec<Frame<'_>> = recipes.iter().map(build).filter(|f| !server || !matches!(f, Frame::PushPromise(_))).collect();
        let mut stream = Vec::new();
        for f in &frames {
            f.encode(&mut stream);
        }
        let frames_end = stream.len();
        stream.extend_from_slice(&tail);
        // h2_frame decodes the whole and the two pieces and asserts they agree.
        let seen = h2_frame(&stream, split, u8::from(server));
        prop_assert!(seen.len() >= frames.len());
        let mut at = 0;
        for (f, got) in frames.iter().zip(&seen) {
            let got = got.as_ref().expect("a frame");
            prop_assert_eq!(one(got), *f);
            at += got.len();
        }
        prop_assert_eq!(at, frames_end);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_decode_the_same_cut_anywhere(
        data in proptest::collection::vec(any::<u8>(), 0..200),
        split in any::<usize>(),
        flags in any::<u8>(),
    ) {
        h2_frame(&data, split, flags);
    }
}

#[test]
fn a_stream_of_frames_decodes_the_same_at_every_cut() {
    let mut stream = Vec::new();
    encode_preface(&mut stream);
    let preface = stream.len();
    encode_settings(
        &[Setting::MaxFrameSize(20_000), Setting::EnablePush(false)],
        &mut stream,
    );
    encode_window_update(0, 1 << 16, &mut stream);
    encode_headers(1, &[0x82; 40], false, MAX, &mut stream);
    stream.extend_from_slice(&raw(kind::PRIORITY, 0, 1, &[0, 0, 0, 1, 0])); // a stream error
    encode_data(1, b"body", true, &mut stream);
    encode_ping([1; 8], false, &mut stream);
    stream.extend_from_slice(&raw(kind::RST_STREAM, 0, 0, &[0; 4])); // a connection error
    encode_goaway(0, ErrorCode::NoError, b"", &mut stream); // never reached
    let frames = &stream[preface..];
    let whole = h2_frame(frames, 0, 1);
    let kinds: Vec<_> = whole
        .iter()
        .map(|r| r.as_ref().map(|f| f[3]).map_err(|e| (e.why, e.scope)))
        .collect();
    assert_eq!(
        kinds,
        [
            Ok(kind::SETTINGS),
            Ok(kind::WINDOW_UPDATE),
            Ok(kind::HEADERS),
            Err((
                Violation::SelfDependency,
                Scope::Stream {
                    stream_id: 1,
                    frame_len: 14
                }
            )),
            Ok(kind::DATA),
            Ok(kind::PING),
            Err((Violation::StreamZero(kind::RST_STREAM), Scope::Connection)),
        ]
    );
    for at in 0..=frames.len() {
        assert_eq!(h2_frame(frames, at, 1), whole, "cut at {at}");
    }
}
