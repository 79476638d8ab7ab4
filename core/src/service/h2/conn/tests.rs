//! The connection driven as a client would: frames from the frame layer's
//! encoders, header blocks from `hpack::Encoder`, the server's output decoded
//! by the frame layer and `hpack::Decoder`. No sockets. Tests named `h2spec_*`
//! do what that h2spec case (its `http2` group, RFC 7540 numbering) does.

use super::super::frame::{
    decode, encode_data, encode_goaway, encode_headers, encode_ping, encode_preface,
    encode_rst_stream, encode_settings, encode_settings_ack, encode_window_update, flag, kind,
    Continuation, Data, ErrorCode, Frame, FrameHeader, Priority, Setting, StreamDependency,
    Unknown, MAX_FRAME_SIZE_LIMIT, MAX_WINDOW,
};
use super::super::hpack::{Decoder, Encoder, Indexing};
use super::limits::{FloodLimit, Limits};
use super::*;

/// What the server sent, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Settings(bool, Vec<Setting>),
    Ping(bool, [u8; 8]),
    GoAway(u32, ErrorCode),
    Rst(u32, ErrorCode),
    Window(u32, u32),
    /// Stream, END_STREAM, the fields decoded.
    Headers(u32, bool, Vec<(String, String)>),
    /// Stream, END_STREAM, the content.
    Data(u32, bool, Vec<u8>),
}

/// A client and the server connection it talks to.
struct Peer {
    conn: Connection,
    out: Vec<u8>,
    enc: Encoder,
    dec: Decoder,
}

type Fields<'a> = &'a [(&'a str, &'a str)];

const GET: Fields<'static> = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":authority", "example.com"),
    (":path", "/"),
];

fn frame(f: Frame<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    f.encode(&mut v);
    v
}

fn data(id: u32, bytes: &[u8], end: bool) -> Vec<u8> {
    let mut v = Vec::new();
    encode_data(id, bytes, end, &mut v);
    v
}

fn settings(s: &[Setting]) -> Vec<u8> {
    let mut v = Vec::new();
    encode_settings(s, &mut v);
    v
}

fn ping(payload: [u8; 8]) -> Vec<u8> {
    let mut v = Vec::new();
    encode_ping(payload, false, &mut v);
    v
}

fn rst(id: u32, code: ErrorCode) -> Vec<u8> {
    let mut v = Vec::new();
    encode_rst_stream(id, code, &mut v);
    v
}

fn window(id: u32, inc: u32) -> Vec<u8> {
    let mut v = Vec::new();
    encode_window_update(id, inc, &mut v);
    v
}

fn continuation(id: u32, fragment: &[u8], end_headers: bool) -> Vec<u8> {
    frame(Frame::Continuation(Continuation {
        stream_id: id,
        end_headers,
        fragment,
    }))
}

/// Decodes everything the server sent, joining header blocks.
fn parse(out: &[u8], dec: &mut Decoder) -> Vec<Got> {
    let mut got = Vec::new();
    let mut pos = 0;
    let mut block: Option<(u32, bool, Vec<u8>)> = None;
    while pos < out.len() {
        let (f, used) = decode(&out[pos..], MAX_FRAME_SIZE_LIMIT)
            .expect("the server sends valid frames")
            .expect("the server sends whole frames");
        pos += used;
        let end_block = match f {
            Frame::Headers(h) => {
                block = Some((h.stream_id, h.end_stream, h.fragment.to_vec()));
                h.end_headers
            }
            Frame::Continuation(c) => {
                block.as_mut().expect("HEADERS first").2.extend(c.fragment);
                c.end_headers
            }
            Frame::Settings(s) => {
                got.push(Got::Settings(s.ack, s.iter().collect()));
                false
            }
            Frame::Ping(p) => {
                got.push(Got::Ping(p.ack, p.data));
                false
            }
            Frame::GoAway(g) => {
                got.push(Got::GoAway(g.last_stream_id, g.code));
                false
            }
            Frame::RstStream(r) => {
                got.push(Got::Rst(r.stream_id, r.code));
                false
            }
            Frame::WindowUpdate(w) => {
                got.push(Got::Window(w.stream_id, w.increment));
                false
            }
            Frame::Data(d) => {
                got.push(Got::Data(d.stream_id, d.end_stream, d.data.to_vec()));
                false
            }
            other => panic!("a server does not send {other:?}"),
        };
        if end_block {
            let (id, end, b) = block.take().expect("a block");
            let mut fields = Vec::new();
            dec.decode(&b, |f| {
                fields.push((
                    String::from_utf8_lossy(f.name).into_owned(),
                    String::from_utf8_lossy(f.value).into_owned(),
                ))
            })
            .expect("the server's HPACK decodes");
            got.push(Got::Headers(id, end, fields));
        }
    }
    got
}

impl Peer {
    /// A connection past its preface (the client's SETTINGS empty), the
    /// server's first frames taken.
    fn new() -> Peer {
        Peer::with(Config::default())
    }

    fn with(config: Config) -> Peer {
        let mut out = Vec::new();
        let conn = Connection::new(config, &mut out);
        let mut p = Peer {
            conn,
            out,
            enc: Encoder::default(),
            dec: Decoder::default(),
        };
        let mut hello = Vec::new();
        encode_preface(&mut hello);
        encode_settings(&[], &mut hello);
        encode_settings_ack(&mut hello);
        assert_eq!(p.send(&hello), Step::Continue);
        let got = p.got();
        assert_eq!(got.last(), Some(&Got::Settings(true, vec![])), "{got:?}");
        p
    }

    /// Feeds `bytes` whole.
    fn send(&mut self, bytes: &[u8]) -> Step {
        let (used, step) = self.conn.on_input(bytes, &mut self.out);
        if step == Step::Continue {
            assert_eq!(used, bytes.len(), "whole frames are consumed");
        }
        step
    }

    /// What the server sent since last asked.
    fn got(&mut self) -> Vec<Got> {
        let out = std::mem::take(&mut self.out);
        parse(&out, &mut self.dec)
    }

    /// The events since last asked.
    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.conn.next_event()).collect()
    }

    /// A header block of `fields`.
    fn block(&mut self, fields: Fields<'_>) -> Vec<u8> {
        let mut b = Vec::new();
        self.enc.encode(
            fields
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes(), Indexing::Add)),
            &mut b,
        );
        b
    }

    /// HEADERS (one frame) with `fields`.
    fn headers(&mut self, id: u32, fields: Fields<'_>, end_stream: bool) -> Vec<u8> {
        let b = self.block(fields);
        let mut v = Vec::new();
        encode_headers(id, &b, end_stream, MAX_FRAME_SIZE_LIMIT, &mut v);
        v
    }

    /// Sends a request's HEADERS.
    fn request(&mut self, id: u32, fields: Fields<'_>, end_stream: bool) -> Step {
        let h = self.headers(id, fields, end_stream);
        self.send(&h)
    }

    /// Sends a GET and takes its request event.
    fn get(&mut self, id: u32) -> Event {
        assert_eq!(self.request(id, GET, true), Step::Continue);
        let mut events = self.events();
        assert_eq!(events.len(), 1, "{events:?}");
        events.remove(0)
    }

    /// Answers `id` with 200 and `body`.
    fn respond(&mut self, id: u32, body: &[u8]) -> bool {
        self.conn
            .respond(id, 200, &[], body.to_vec(), vec![], &mut self.out)
    }

    /// Sends `bytes`, expecting a connection error with `code`.
    fn expect_goaway(&mut self, bytes: &[u8], last: u32, code: ErrorCode) {
        assert_eq!(self.send(bytes), Step::Close);
        let got = self.got();
        assert_eq!(got.last(), Some(&Got::GoAway(last, code)), "{got:?}");
        assert_eq!(self.conn.step(), Step::Close);
    }

    /// Sends `bytes`, expecting RST_STREAM on `id` with `code`, the connection
    /// going on.
    fn expect_rst(&mut self, bytes: &[u8], id: u32, code: ErrorCode) {
        assert_eq!(self.send(bytes), Step::Continue);
        let got = self.got();
        assert_eq!(got.last(), Some(&Got::Rst(id, code)), "{got:?}");
    }
}

fn head_of(e: &Event) -> &RequestHead {
    match e {
        Event::Request { head, .. } => head,
        other => panic!("not a request: {other:?}"),
    }
}

// 1. The preface, SETTINGS, PING, GOAWAY, unknown frames, connection errors.

#[test]
fn our_settings_go_first_with_the_connection_window() {
    let mut out = Vec::new();
    let config = Config {
        max_concurrent_streams: 7,
        initial_window: 1000,
        connection_window: 1 << 20,
        max_frame_size: 32768,
        max_header_list_size: 8192,
        ..Config::default()
    };
    let _conn = Connection::new(config, &mut out);
    let got = parse(&out, &mut Decoder::default());
    assert_eq!(
        got,
        vec![
            Got::Settings(
                false,
                vec![
                    Setting::HeaderTableSize(4096),
                    Setting::MaxConcurrentStreams(7),
                    Setting::InitialWindowSize(1000),
                    Setting::MaxFrameSize(32768),
                    Setting::MaxHeaderListSize(8192),
                ]
            ),
            Got::Window(0, (1 << 20) - 65535),
        ]
    );
}

#[test]
fn settings_out_of_their_bounds_are_brought_within_them() {
    let mut out = Vec::new();
    let config = Config {
        initial_window: u32::MAX,
        connection_window: u32::MAX,
        max_frame_size: 1,
        ..Config::default()
    };
    let _conn = Connection::new(config, &mut out);
    // The frame layer's decoder refuses SETTINGS out of bounds: these decode.
    let got = parse(&out, &mut Decoder::default());
    let Got::Settings(false, s) = &got[0] else {
        panic!("{got:?}")
    };
    assert!(s.contains(&Setting::InitialWindowSize(MAX_WINDOW)));
    assert!(s.contains(&Setting::MaxFrameSize(16_384)));
    assert_eq!(got[1], Got::Window(0, MAX_WINDOW - 65_535));
}

#[test]
fn h2spec_3_5_1_the_preface_and_settings_are_acknowledged() {
    let mut out = Vec::new();
    let mut conn = Connection::new(Config::default(), &mut out);
    out.clear();
    let mut hello = Vec::new();
    encode_preface(&mut hello);
    hello.extend(settings(&[Setting::MaxFrameSize(20000)]));
    // Fed a byte at a time, as a slow client would send it.
    let mut buf = Vec::new();
    for &b in &hello {
        buf.push(b);
        let (used, step) = conn.on_input(&buf, &mut out);
        assert_eq!(step, Step::Continue);
        buf.drain(..used);
    }
    assert!(buf.is_empty());
    assert_eq!(
        parse(&out, &mut Decoder::default()),
        vec![Got::Settings(true, vec![])]
    );
    assert_eq!(conn.peer_settings().max_frame_size, 20000);
}

#[test]
fn h2spec_3_5_2_an_invalid_preface_is_a_protocol_error() {
    let mut out = Vec::new();
    let mut conn = Connection::new(Config::default(), &mut out);
    out.clear();
    let (_, step) = conn.on_input(b"PRI * HTTP/1.1\r\n", &mut out);
    assert_eq!(step, Step::Close);
    assert_eq!(
        parse(&out, &mut Decoder::default()),
        vec![Got::GoAway(0, ErrorCode::ProtocolError)]
    );
}

#[test]
fn the_preface_must_be_followed_by_settings() {
    for first in [ping([1; 8]), window(0, 10), {
        let mut v = Vec::new();
        encode_settings_ack(&mut v);
        v
    }] {
        let mut out = Vec::new();
        let mut conn = Connection::new(Config::default(), &mut out);
        out.clear();
        let mut hello = Vec::new();
        encode_preface(&mut hello);
        hello.extend(first);
        assert_eq!(conn.on_input(&hello, &mut out).1, Step::Close);
        assert_eq!(
            parse(&out, &mut Decoder::default()),
            vec![Got::GoAway(0, ErrorCode::ProtocolError)]
        );
    }
}

#[test]
fn h2spec_6_5_3_the_peer_settings_are_applied_and_acknowledged() {
    let mut p = Peer::new();
    let s = settings(&[
        Setting::HeaderTableSize(0),
        Setting::InitialWindowSize(100),
        Setting::MaxFrameSize(1 << 20),
        Setting::MaxConcurrentStreams(3),
        Setting::MaxHeaderListSize(999),
        Setting::EnablePush(false),
    ]);
    assert_eq!(p.send(&s), Step::Continue);
    assert_eq!(p.got(), vec![Got::Settings(true, vec![])]);
    assert_eq!(
        *p.conn.peer_settings(),
        PeerSettings {
            header_table_size: 0,
            initial_window: 100,
            max_frame_size: 1 << 20,
            max_concurrent_streams: Some(3),
            max_header_list_size: Some(999),
        }
    );
    // The table size is honoured: the next response's block starts with a size
    // update to 0, which the client's decoder takes.
    p.dec.set_max_table_size(0);
    p.get(1);
    assert!(p.respond(1, b""));
    let got = p.got();
    assert_eq!(
        got,
        vec![Got::Headers(
            1,
            true,
            vec![(":status".into(), "200".into())]
        )]
    );
    assert_eq!(p.dec.table_state(), (0, 0, 0));
}

#[test]
fn h2spec_6_5_2_5_unknown_settings_are_ignored_and_acknowledged() {
    let mut p = Peer::new();
    let mut s = settings(&[]);
    // One parameter of identifier 0xff.
    s[2] = 6;
    s.extend([0, 0xff, 0, 0, 0, 1]);
    assert_eq!(p.send(&s), Step::Continue);
    assert_eq!(p.got(), vec![Got::Settings(true, vec![])]);
}

#[test]
fn h2spec_6_7_1_ping_is_answered_with_ack_and_acks_are_not() {
    let mut p = Peer::new();
    assert_eq!(p.send(&ping(*b"pierhead")), Step::Continue);
    assert_eq!(p.got(), vec![Got::Ping(true, *b"pierhead")]);
    let mut ack = Vec::new();
    encode_ping([9; 8], true, &mut ack);
    assert_eq!(p.send(&ack), Step::Continue);
    assert_eq!(p.got(), vec![]);
}

#[test]
fn h2spec_5_5_1_unknown_frames_are_ignored() {
    let mut p = Peer::new();
    let u = frame(Frame::Unknown(Unknown {
        kind: 0xee,
        flags: 0xff,
        stream_id: 5,
        payload: b"whatever",
    }));
    assert_eq!(p.send(&u), Step::Continue);
    assert_eq!(p.send(&ping([2; 8])), Step::Continue);
    assert_eq!(p.got(), vec![Got::Ping(true, [2; 8])]);
}

#[test]
fn h2spec_5_5_2_an_unknown_frame_inside_a_header_block_is_a_protocol_error() {
    let mut p = Peer::new();
    let b = p.block(GET);
    let mut v = Vec::new();
    encode_headers(1, &b, true, 16384, &mut v);
    v[4] &= !flag::END_HEADERS;
    v.extend(frame(Frame::Unknown(Unknown {
        kind: 0xee,
        flags: 0,
        stream_id: 1,
        payload: b"",
    })));
    p.expect_goaway(&v, 0, ErrorCode::ProtocolError);
}

#[test]
fn a_goaway_received_lets_active_streams_finish_and_refuses_new_ones() {
    let mut p = Peer::new();
    p.get(1);
    let mut g = Vec::new();
    encode_goaway(0, ErrorCode::NoError, b"bye", &mut g);
    assert_eq!(p.send(&g), Step::Continue);
    assert_eq!(
        p.events(),
        vec![Event::GoAway {
            last_stream_id: 0,
            code: ErrorCode::NoError
        }]
    );
    let h = p.headers(3, GET, true);
    p.expect_rst(&h, 3, ErrorCode::RefusedStream);
    assert!(p.events().is_empty());
    assert!(p.respond(1, b"done"));
    assert_eq!(p.conn.step(), Step::Close);
}

#[test]
fn a_connection_error_names_the_last_stream_processed() {
    let mut p = Peer::new();
    p.get(1);
    p.get(3);
    // DATA on idle stream 5.
    p.expect_goaway(&data(5, b"x", true), 3, ErrorCode::ProtocolError);
    // Nothing more is read.
    assert_eq!(p.send(&ping([0; 8])), Step::Close);
    assert_eq!(p.got(), vec![]);
}

#[test]
fn frame_layer_errors_end_the_connection_or_the_stream() {
    // h2spec 4.2/2: DATA over our maximum frame size.
    let mut p = Peer::new();
    p.request(1, GET, false);
    p.expect_goaway(&data(1, &[0; 16385], true), 1, ErrorCode::FrameSizeError);
    // h2spec 6.3/2: PRIORITY of 4 bytes is a stream error; the connection goes on.
    let mut p = Peer::new();
    let mut v = Vec::new();
    FrameHeader {
        len: 4,
        kind: kind::PRIORITY,
        flags: 0,
        stream_id: 1,
    }
    .encode(&mut v);
    v.extend([0; 4]);
    p.expect_rst(&v, 1, ErrorCode::FrameSizeError);
    assert_eq!(p.send(&ping([3; 8])), Step::Continue);
    assert_eq!(p.got(), vec![Got::Ping(true, [3; 8])]);
}

// 2. Requests.

#[test]
fn a_get_is_a_request_event() {
    let mut p = Peer::new();
    let fields: Fields<'_> = &[
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (":path", "/a?b"),
        ("accept", "*/*"),
        ("te", "trailers"),
    ];
    assert_eq!(p.request(1, fields, true), Step::Continue);
    assert_eq!(
        p.events(),
        vec![Event::Request {
            stream_id: 1,
            head: RequestHead {
                method: b"GET".to_vec(),
                scheme: b"https".to_vec(),
                authority: b"example.com".to_vec(),
                path: b"/a?b".to_vec(),
                fields: vec![
                    (b"accept".to_vec(), b"*/*".to_vec()),
                    (b"te".to_vec(), b"trailers".to_vec())
                ],
                content_length: None,
            },
            body: vec![],
            trailers: vec![],
        }]
    );
    assert_eq!(p.conn.counters().requests, 1);
}

#[test]
fn h2spec_6_10_1_headers_and_continuations_are_joined() {
    let mut p = Peer::new();
    let long = "v".repeat(40_000);
    let fields: Fields<'_> = &[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/up"),
        ("x-long", &long),
    ];
    let b = p.block(fields);
    let mut v = Vec::new();
    encode_headers(1, &b, false, 16384, &mut v);
    v.extend(data(1, b"body", true));
    // Fed in two pieces cut inside a CONTINUATION.
    let cut = 20_000;
    let (used, step) = p.conn.on_input(&v[..cut], &mut p.out);
    assert_eq!(step, Step::Continue);
    let mut rest = v[used..cut].to_vec();
    rest.extend(&v[cut..]);
    assert_eq!(p.send(&rest), Step::Continue);
    let events = p.events();
    let Event::Request { head, body, .. } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(head.fields, vec![(b"x-long".to_vec(), long.into_bytes())]);
    assert_eq!(body, b"body");
}

#[test]
fn h2spec_6_10_2_and_6_10_3_nothing_may_come_between_headers_and_continuation() {
    for between in [data(1, b"", true), ping([0; 8]), continuation(3, b"", true)] {
        let mut p = Peer::new();
        let b = p.block(GET);
        let mut v = Vec::new();
        encode_headers(1, &b[..2], true, 16384, &mut v);
        v[4] &= !flag::END_HEADERS;
        v.extend(between);
        p.expect_goaway(&v, 0, ErrorCode::ProtocolError);
    }
}

#[test]
fn h2spec_5_1_4_and_6_10_a_continuation_without_headers_is_a_protocol_error() {
    let mut p = Peer::new();
    p.expect_goaway(&continuation(1, b"", true), 0, ErrorCode::ProtocolError);
    let mut p = Peer::new();
    p.get(1);
    p.expect_goaway(&continuation(1, b"", true), 1, ErrorCode::ProtocolError);
}

#[test]
fn h2spec_8_1_2_malformed_requests_are_reset_with_protocol_error() {
    let cases: &[(&str, Fields<'_>)] = &[
        (
            "8.1.2/1 uppercase name",
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                ("X-Upper", "1"),
            ],
        ),
        (
            "8.1.2.1/1 unknown pseudo-header",
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":foo", "1"),
            ],
        ),
        (
            "8.1.2.1/2 response pseudo-header",
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":status", "200"),
            ],
        ),
        (
            "8.1.2.1/4 pseudo-header after a regular field",
            &[
                (":method", "GET"),
                (":scheme", "http"),
                ("accept", "*/*"),
                (":path", "/"),
            ],
        ),
        (
            "8.1.2.2/1 connection-specific field",
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                ("connection", "keep-alive"),
            ],
        ),
        (
            "8.1.2.2/2 TE other than trailers",
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                ("te", "gzip"),
            ],
        ),
        (
            "8.1.2.3/1 empty :path",
            &[(":method", "GET"), (":scheme", "http"), (":path", "")],
        ),
        (
            "8.1.2.3/2 no :method",
            &[(":scheme", "http"), (":path", "/")],
        ),
        (
            "8.1.2.3/3 no :scheme",
            &[(":method", "GET"), (":path", "/")],
        ),
        (
            "8.1.2.3/4 no :path",
            &[(":method", "GET"), (":scheme", "http")],
        ),
        (
            "8.1.2.3/5 two :method",
            &[
                (":method", "GET"),
                (":method", "POST"),
                (":scheme", "http"),
                (":path", "/"),
            ],
        ),
        (
            "8.1.2.3/6 two :scheme",
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":scheme", "https"),
                (":path", "/"),
            ],
        ),
        (
            "8.1.2.3/7 two :path",
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                (":path", "/"),
            ],
        ),
        (
            "a value with CR LF",
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                ("x", "a\r\nb"),
            ],
        ),
        (
            "CONNECT with :path",
            &[
                (":method", "CONNECT"),
                (":authority", "h:1"),
                (":path", "/"),
            ],
        ),
        (
            "content-length not a number",
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                ("content-length", "1x"),
            ],
        ),
    ];
    for (case, fields) in cases {
        let mut p = Peer::new();
        let h = p.headers(1, fields, true);
        assert_eq!(p.send(&h), Step::Continue, "{case}");
        assert_eq!(
            p.got(),
            vec![Got::Rst(1, ErrorCode::ProtocolError)],
            "{case}"
        );
        assert!(p.events().is_empty(), "{case}");
        // The HPACK table stayed in step: the next request decodes.
        p.get(3);
    }
}

#[test]
fn connect_needs_only_method_and_authority() {
    let mut p = Peer::new();
    assert_eq!(
        p.request(1, &[(":method", "CONNECT"), (":authority", "h:443")], false),
        Step::Continue
    );
    assert_eq!(p.send(&data(1, b"", true)), Step::Continue);
    let e = p.events();
    assert_eq!(head_of(&e[0]).authority, b"h:443");
}

#[test]
fn h2spec_5_1_1_stream_identifiers_are_odd_and_increasing() {
    let mut p = Peer::new();
    let h = p.headers(2, GET, true);
    p.expect_goaway(&h, 0, ErrorCode::ProtocolError);
    let mut p = Peer::new();
    p.get(5);
    let h = p.headers(3, GET, true);
    p.expect_goaway(&h, 5, ErrorCode::ProtocolError);
}

#[test]
fn h2spec_5_1_frames_on_idle_streams_are_protocol_errors() {
    for f in [
        data(1, b"x", false),
        rst(1, ErrorCode::Cancel),
        window(1, 1),
        continuation(1, b"", true),
    ] {
        let mut p = Peer::new();
        p.expect_goaway(&f, 0, ErrorCode::ProtocolError);
    }
    // PRIORITY on an idle stream is fine (h2spec 5.1/... "idle: PRIORITY").
    let mut p = Peer::new();
    let pr = frame(Frame::Priority(Priority {
        stream_id: 9,
        dependency: StreamDependency {
            exclusive: false,
            stream_id: 0,
            weight: 15,
        },
    }));
    assert_eq!(p.send(&pr), Step::Continue);
    p.get(1);
}

#[test]
fn h2spec_5_1_5_and_5_1_6_half_closed_remote_takes_no_data_or_headers() {
    let mut p = Peer::new();
    p.get(1);
    p.expect_rst(&data(1, b"x", true), 1, ErrorCode::StreamClosed);
    let mut p = Peer::new();
    p.get(1);
    let h = p.headers(1, GET, true);
    p.expect_rst(&h, 1, ErrorCode::StreamClosed);
}

#[test]
fn h2spec_5_1_8_and_5_1_9_frames_after_the_client_reset_a_stream() {
    let mut p = Peer::new();
    p.request(1, GET, false);
    assert_eq!(p.send(&rst(1, ErrorCode::Cancel)), Step::Continue);
    assert_eq!(
        p.events(),
        vec![Event::Reset {
            stream_id: 1,
            code: ErrorCode::Cancel
        }]
    );
    p.expect_rst(&data(1, b"x", true), 1, ErrorCode::StreamClosed);
    let h = p.headers(1, GET, true);
    p.expect_rst(&h, 1, ErrorCode::StreamClosed);
    // A response to it is refused.
    assert!(!p.respond(1, b""));
}

#[test]
fn h2spec_5_1_11_and_5_1_12_frames_after_a_stream_finished() {
    let mut p = Peer::new();
    p.get(1);
    assert!(p.respond(1, b""));
    p.got();
    p.expect_goaway(&data(1, b"x", true), 1, ErrorCode::StreamClosed);
    let mut p = Peer::new();
    p.get(1);
    assert!(p.respond(1, b""));
    p.got();
    let h = p.headers(1, GET, true);
    p.expect_goaway(&h, 1, ErrorCode::StreamClosed);
}

#[test]
fn frames_on_a_stream_we_reset_are_ignored() {
    let mut p = Peer::new();
    let h = p.headers(1, &[(":method", "GET")], false);
    p.expect_rst(&h, 1, ErrorCode::ProtocolError);
    assert_eq!(p.send(&data(1, b"late", true)), Step::Continue);
    assert_eq!(p.send(&window(1, 10)), Step::Continue);
    assert_eq!(p.send(&rst(1, ErrorCode::Cancel)), Step::Continue);
    assert_eq!(p.got(), vec![]);
    assert!(p.events().is_empty());
}

#[test]
fn h2spec_5_3_1_1_headers_depending_on_itself_is_reset_and_hpack_stays_in_step() {
    let mut p = Peer::new();
    let b = p.block(GET);
    let h = frame(Frame::Headers(super::super::frame::Headers {
        stream_id: 1,
        end_stream: true,
        end_headers: true,
        padding: None,
        priority: Some(StreamDependency {
            exclusive: false,
            stream_id: 1,
            weight: 0,
        }),
        fragment: &b,
    }));
    p.expect_rst(&h, 1, ErrorCode::ProtocolError);
    // Stream 3's block refers to the dynamic table entries stream 1's added.
    let e = p.get(3);
    assert_eq!(head_of(&e).authority, b"example.com");
}

#[test]
fn a_body_in_several_data_frames_with_trailers() {
    let mut p = Peer::new();
    let fields: Fields<'_> = &[
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/"),
        ("content-length", "6"),
    ];
    p.request(1, fields, false);
    p.send(&data(1, b"abc", false));
    p.send(&data(1, b"def", false));
    assert!(p.events().is_empty());
    p.request(1, &[("grpc-status", "0")], true);
    let e = p.events();
    let Event::Request {
        head,
        body,
        trailers,
        ..
    } = &e[0]
    else {
        panic!("{e:?}")
    };
    assert_eq!(head.content_length, Some(6));
    assert_eq!(body, b"abcdef");
    assert_eq!(trailers, &vec![(b"grpc-status".to_vec(), b"0".to_vec())]);
}

#[test]
fn trailers_must_end_the_stream_and_have_no_pseudo_headers() {
    let mut p = Peer::new();
    p.request(1, GET, false);
    let h = p.headers(1, &[("x", "1")], false);
    p.expect_rst(&h, 1, ErrorCode::ProtocolError);
    let mut p = Peer::new();
    p.request(1, GET, false);
    let h = p.headers(1, &[(":path", "/")], true);
    p.expect_rst(&h, 1, ErrorCode::ProtocolError);
}

#[test]
fn h2spec_8_1_2_6_content_length_must_match_the_data() {
    let post = |n: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/"),
            ("content-length", n),
        ]
    };
    // More DATA than said: reset as soon as it is over.
    let mut p = Peer::new();
    p.request(1, &post("2"), false);
    p.expect_rst(&data(1, b"abc", false), 1, ErrorCode::ProtocolError);
    // Less.
    let mut p = Peer::new();
    p.request(1, &post("4"), false);
    p.expect_rst(&data(1, b"abc", true), 1, ErrorCode::ProtocolError);
    // None at all.
    let mut p = Peer::new();
    let h = p.headers(1, &post("4"), true);
    p.expect_rst(&h, 1, ErrorCode::ProtocolError);
    // Exactly.
    let mut p = Peer::new();
    p.request(1, &post("3"), false);
    assert_eq!(p.send(&data(1, b"abc", true)), Step::Continue);
    assert_eq!(p.events().len(), 1);
}

#[test]
fn h2spec_4_3_1_a_bad_header_block_is_a_compression_error() {
    let mut p = Peer::new();
    let mut v = Vec::new();
    // Index 0 does not exist.
    encode_headers(1, &[0x80], true, 16384, &mut v);
    p.expect_goaway(&v, 0, ErrorCode::CompressionError);
}

#[test]
fn the_same_requests_at_every_cut_of_the_input() {
    let mut p = Peer::new();
    let mut v = p.headers(1, GET, true);
    v.extend(p.headers(3, GET, false));
    v.extend(data(3, b"hello", false));
    v.extend(ping([4; 8]));
    v.extend(data(3, b" world", true));
    let mut whole = Peer::new();
    assert_eq!(whole.send(&v), Step::Continue);
    let expected = whole.events();
    assert_eq!(expected.len(), 2);
    for cut in 1..v.len() {
        let mut q = Peer::new();
        let (used, step) = q.conn.on_input(&v[..cut], &mut q.out);
        assert_eq!(step, Step::Continue);
        assert_eq!(q.send(&v[used..]), Step::Continue, "cut at {cut}");
        assert_eq!(q.events(), expected, "cut at {cut}");
    }
}

// 3. Flow control and responses.

const POST: Fields<'static> = &[(":method", "POST"), (":scheme", "http"), (":path", "/")];

/// The DATA frames of `got` on `id`: their sizes, and whether the last ended
/// the stream.
fn data_sizes(got: &[Got], id: u32) -> (Vec<usize>, bool) {
    let mut sizes = Vec::new();
    let mut end = false;
    for g in got {
        if let Got::Data(s, e, d) = g {
            if *s == id {
                sizes.push(d.len());
                end = *e;
            }
        }
    }
    (sizes, end)
}

#[test]
fn receive_windows_are_given_back_as_data_comes_in() {
    let config = Config {
        initial_window: 65_536,
        connection_window: 1 << 20,
        ..Config::default()
    };
    let mut p = Peer::with(config);
    p.request(1, POST, false);
    // Under half of either window: nothing given back yet.
    p.send(&data(1, &[1; 16_384], false));
    assert_eq!(p.got(), vec![]);
    // Half the stream's: given back.
    p.send(&data(1, &[1; 16_384], false));
    assert_eq!(p.got(), vec![Got::Window(1, 32_768)]);
    // Twice the window in all: only possible because it is given back.
    for _ in 0..6 {
        p.send(&data(1, &[1; 16_384], false));
    }
    assert_eq!(p.got(), vec![Got::Window(1, 32_768); 3]);
    // Padding counts too (RFC 9113 section 6.9.1); END_STREAM: nothing to give back.
    let padded = frame(Frame::Data(Data {
        stream_id: 1,
        end_stream: true,
        padding: Some(255),
        data: b"x",
    }));
    assert_eq!(p.send(&padded), Step::Continue);
    assert_eq!(p.got(), vec![]);
    let e = p.events();
    let Event::Request { body, .. } = &e[0] else {
        panic!("{e:?}")
    };
    assert_eq!(body.len(), 8 * 16_384 + 1);
    // The connection's window is given back once half of it (512 KiB) was taken.
    p.request(3, POST, false);
    let mut given = 0;
    for _ in 0..24 {
        p.send(&data(3, &[1; 16_384], false));
        for g in p.got() {
            if let Got::Window(0, n) = g {
                given += n;
            }
        }
    }
    // All that was taken, given back when the 24th frame crossed half.
    assert_eq!(given, 8 * 16_384 + 257 + 24 * 16_384);
}

#[test]
fn h2spec_6_9_1_data_over_the_stream_window_is_a_stream_flow_control_error() {
    let config = Config {
        initial_window: 65_535,
        max_frame_size: 1 << 17,
        ..Config::default()
    };
    let mut p = Peer::with(config);
    p.request(1, POST, false);
    p.expect_rst(
        &data(1, &[0; 65_536], false),
        1,
        ErrorCode::FlowControlError,
    );
    // The connection goes on, and its window was charged and given back.
    p.get(3);
}

#[test]
fn data_over_the_connection_window_is_a_connection_flow_control_error() {
    let config = Config {
        connection_window: 65_535,
        initial_window: 1 << 20,
        max_frame_size: 1 << 17,
        ..Config::default()
    };
    let mut p = Peer::with(config);
    p.request(1, POST, false);
    p.expect_goaway(
        &data(1, &[0; 65_536], false),
        1,
        ErrorCode::FlowControlError,
    );
}

#[test]
fn a_response_is_headers_then_data_split_by_the_max_frame_size() {
    let mut p = Peer::new();
    p.get(1);
    let headers: &[(&[u8], &[u8])] = &[(b"content-type", b"text/plain")];
    assert!(p
        .conn
        .respond(1, 200, headers, vec![7; 40_000], vec![], &mut p.out));
    let got = p.got();
    assert_eq!(
        got[0],
        Got::Headers(
            1,
            false,
            vec![
                (":status".into(), "200".into()),
                ("content-type".into(), "text/plain".into())
            ]
        )
    );
    assert_eq!(data_sizes(&got, 1), (vec![16_384, 16_384, 7_232], true));
    assert_eq!(p.conn.counters().responses, 1);
    // Answered: not again.
    assert!(!p.respond(1, b"again"));
    // A larger max frame size from the peer: larger frames.
    p.send(&settings(&[Setting::MaxFrameSize(1 << 20)]));
    p.send(&window(0, 1 << 20));
    p.get(3);
    assert!(p.respond(3, &[1; 40_000]));
    let got = p.got();
    assert_eq!(data_sizes(&got, 3), (vec![40_000], true));
}

#[test]
fn a_response_waits_for_the_send_windows_and_goes_on_as_they_open() {
    let mut p = Peer::new();
    p.get(1);
    p.get(3);
    assert!(p.respond(1, &[1; 100_000]));
    assert!(p.respond(3, b"small"));
    let got = p.got();
    // The connection's window (65,535) is all stream 1's; stream 3 waits.
    assert_eq!(
        data_sizes(&got, 1),
        (vec![16_384, 16_384, 16_384, 16_383], false)
    );
    assert_eq!(data_sizes(&got, 3), (vec![], false));
    // The stream's window opens, not the connection's: nothing moves.
    p.send(&window(1, 100_000));
    assert_eq!(p.got(), vec![]);
    // The connection's opens: stream 1 first (the lowest), then stream 3.
    p.send(&window(0, 40_000));
    let got = p.got();
    assert_eq!(data_sizes(&got, 1), (vec![16_384, 16_384, 1_697], true));
    assert_eq!(data_sizes(&got, 3), (vec![5], true));
    assert_eq!(p.conn.counters().responses, 2);
}

#[test]
fn h2spec_6_9_2_1_a_lower_initial_window_can_make_the_send_window_negative() {
    let mut p = Peer::new();
    p.get(1);
    p.send(&window(0, 1 << 20));
    assert!(p.respond(1, &[1; 70_000]));
    assert_eq!(data_sizes(&p.got(), 1).0.iter().sum::<usize>(), 65_535);
    // Initial 65,535 -> 0: the stream's window, 0 after sending, goes to
    // -65,535; a WINDOW_UPDATE of 65,535 brings it back to 0 only.
    p.send(&settings(&[Setting::InitialWindowSize(0)]));
    assert_eq!(p.got(), vec![Got::Settings(true, vec![])]);
    p.send(&window(1, 65_535));
    assert_eq!(data_sizes(&p.got(), 1).0, Vec::<usize>::new());
    // Back up: 4,465 still to send.
    p.send(&settings(&[Setting::InitialWindowSize(70_000)]));
    let got = p.got();
    assert_eq!(data_sizes(&got, 1), (vec![4_465], true));
}

#[test]
fn h2spec_6_9_1_2_and_6_9_2_3_windows_past_2_31_minus_1() {
    // The connection's: a connection error.
    let mut p = Peer::new();
    p.expect_goaway(&window(0, MAX_WINDOW), 0, ErrorCode::FlowControlError);
    // A stream's: a stream error.
    let mut p = Peer::new();
    p.request(1, GET, false);
    p.expect_rst(&window(1, MAX_WINDOW), 1, ErrorCode::FlowControlError);
    // By SETTINGS_INITIAL_WINDOW_SIZE: a connection error.
    let mut p = Peer::new();
    p.request(1, GET, false);
    p.send(&window(1, MAX_WINDOW - 65_535));
    p.expect_goaway(
        &settings(&[Setting::InitialWindowSize(65_536)]),
        1,
        ErrorCode::FlowControlError,
    );
}

#[test]
fn response_trailers_follow_the_body_and_end_the_stream() {
    let mut p = Peer::new();
    p.get(1);
    let trailers = vec![(b"grpc-status".to_vec(), b"0".to_vec())];
    assert!(p
        .conn
        .respond(1, 200, &[], b"msg".to_vec(), trailers.clone(), &mut p.out));
    let got = p.got();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[1], Got::Data(1, false, b"msg".to_vec()));
    assert_eq!(
        got[2],
        Got::Headers(1, true, vec![("grpc-status".into(), "0".into())])
    );
    // No body: HEADERS, then the trailers.
    p.get(3);
    assert!(p.conn.respond(3, 204, &[], vec![], trailers, &mut p.out));
    let got = p.got();
    assert!(
        matches!(
            &got[..],
            [Got::Headers(3, false, _), Got::Headers(3, true, _)]
        ),
        "{got:?}"
    );
}

// 4. Protections.

fn limited(f: impl FnOnce(&mut Limits)) -> Config {
    let mut config = Config::default();
    f(&mut config.limits);
    config
}

#[test]
fn h2spec_5_1_2_1_streams_over_the_concurrency_limit_are_refused() {
    let mut p = Peer::with(Config {
        max_concurrent_streams: 2,
        ..Config::default()
    });
    p.request(1, POST, false);
    p.get(3);
    // Stream 3 awaits its response: it still counts.
    let h = p.headers(5, GET, true);
    p.expect_rst(&h, 5, ErrorCode::RefusedStream);
    assert_eq!(p.conn.counters().refused, 1);
    assert!(p.events().is_empty());
    // Once one is answered, a new one is taken.
    assert!(p.respond(3, b""));
    p.got();
    p.get(7);
    assert_eq!(p.conn.counters().streams_opened, 4);
}

#[test]
fn rapid_reset_ends_the_connection_with_enhance_your_calm() {
    let flood = FloodLimit { max: 10, per: 10 };
    let mut p = Peer::with(limited(|l| l.rapid_reset = flood));
    let mut id = 1;
    for _ in 0..10 {
        p.request(id, GET, false);
        assert_eq!(p.send(&rst(id, ErrorCode::Cancel)), Step::Continue);
        id += 2;
    }
    p.request(id, GET, false);
    p.expect_goaway(&rst(id, ErrorCode::Cancel), id, ErrorCode::EnhanceYourCalm);
    assert_eq!(p.conn.counters().resets_received, 11);
    assert_eq!(p.conn.counters().calm, 1);

    // Resets among as many completed responses are fine.
    let mut p = Peer::with(limited(|l| l.rapid_reset = flood));
    let mut id = 1;
    for _ in 0..100 {
        p.request(id, GET, false);
        assert_eq!(p.send(&rst(id, ErrorCode::Cancel)), Step::Continue);
        assert_eq!(p.events().len(), 1);
        p.get(id + 2);
        assert!(p.respond(id + 2, b""));
        id += 4;
    }
    assert_eq!(p.conn.counters().calm, 0);
}

#[test]
fn our_stream_errors_count_as_resets_too() {
    let mut p = Peer::with(limited(|l| l.rapid_reset = FloodLimit { max: 3, per: 3 }));
    for id in [1, 3, 5] {
        let h = p.headers(id, &[(":method", "GET")], true);
        p.expect_rst(&h, id, ErrorCode::ProtocolError);
    }
    let h = p.headers(7, &[(":method", "GET")], true);
    p.expect_goaway(&h, 7, ErrorCode::EnhanceYourCalm);
}

#[test]
fn a_continuation_flood_ends_the_connection() {
    // Too many frames, however small.
    let mut p = Peer::with(limited(|l| l.max_continuations = 5));
    let mut v = Vec::new();
    let b = p.block(GET);
    encode_headers(1, &b, true, 16384, &mut v);
    v[4] &= !flag::END_HEADERS;
    for _ in 0..5 {
        v.extend(continuation(1, b"", false));
    }
    assert_eq!(p.send(&v), Step::Continue);
    p.expect_goaway(&continuation(1, b"", false), 0, ErrorCode::EnhanceYourCalm);
    assert_eq!(p.conn.counters().continuations, 6);
    // Too many bytes.
    let mut p = Peer::with(limited(|l| l.max_header_block = 1000));
    let mut v = Vec::new();
    encode_headers(1, &[0; 600], true, 16384, &mut v);
    v[4] &= !flag::END_HEADERS;
    v.extend(continuation(1, &[0; 401], false));
    p.expect_goaway(&v, 0, ErrorCode::EnhanceYourCalm);
    // One HEADERS over it.
    let mut p = Peer::with(limited(|l| l.max_header_block = 1000));
    let mut v = Vec::new();
    encode_headers(1, &[0; 1001], true, 16384, &mut v);
    v[4] &= !flag::END_HEADERS;
    p.expect_goaway(&v, 0, ErrorCode::EnhanceYourCalm);
}

#[test]
fn a_header_list_over_our_limit_is_a_connection_error() {
    let mut p = Peer::with(Config {
        max_header_list_size: 200,
        ..Config::default()
    });
    let long = "x".repeat(200);
    let h = p.headers(1, &[(":method", "GET"), ("x", &long)], true);
    p.expect_goaway(&h, 0, ErrorCode::CompressionError);
}

#[test]
fn settings_ping_and_empty_data_floods_end_the_connection() {
    type Case = (&'static str, fn() -> Vec<u8>, fn(&mut Limits));
    let cases: [Case; 3] = [
        (
            "settings",
            || settings(&[]),
            |l| l.settings = FloodLimit { max: 5, per: 4 },
        ),
        (
            "ping",
            || ping([0; 8]),
            |l| l.ping = FloodLimit { max: 5, per: 4 },
        ),
        (
            "empty data",
            || data(1, b"", false),
            |l| l.empty_data = FloodLimit { max: 5, per: 4 },
        ),
    ];
    for (name, make, set) in cases {
        let mut p = Peer::with(limited(set));
        p.request(1, POST, false);
        // The preface's SETTINGS counted once already for "settings".
        let allowed = if name == "settings" { 4 } else { 5 };
        for _ in 0..allowed {
            let f = make();
            assert_eq!(p.send(&f), Step::Continue, "{name}");
        }
        let f = make();
        p.expect_goaway(&f, 1, ErrorCode::EnhanceYourCalm);
        assert_eq!(p.conn.counters().calm, 1, "{name}");

        // One per frame of real work (DATA with content here): no end.
        let mut p = Peer::with(limited(set));
        p.request(1, POST, false);
        for i in 0..100 {
            let f = make();
            assert_eq!(p.send(&f), Step::Continue, "{name} {i}");
            assert_eq!(p.send(&data(1, b"work", false)), Step::Continue);
        }
        assert_eq!(p.conn.counters().calm, 0, "{name}");
    }
}

#[test]
fn a_body_over_the_limit_is_reset() {
    let mut p = Peer::with(limited(|l| l.max_body = 10));
    p.request(1, POST, false);
    p.send(&data(1, b"12345", false));
    p.expect_rst(&data(1, b"123456", false), 1, ErrorCode::EnhanceYourCalm);
}

// 5. Stopping.

#[test]
fn a_graceful_goaway_lets_active_streams_finish() {
    let mut p = Peer::new();
    p.get(1);
    p.request(3, POST, false);
    assert_eq!(p.conn.goaway(true, &mut p.out), Step::Continue);
    assert_eq!(p.got(), vec![Got::GoAway(3, ErrorCode::NoError)]);
    // A stream above the last one is ignored, its DATA and WINDOW_UPDATE too;
    // those below go on.
    assert_eq!(p.request(5, POST, false), Step::Continue);
    assert_eq!(p.send(&data(5, b"ignored", true)), Step::Continue);
    assert_eq!(p.send(&window(5, 100)), Step::Continue);
    assert_eq!(p.got(), vec![]);
    assert_eq!(p.send(&data(3, b"x", true)), Step::Continue);
    let e = p.events();
    assert_eq!(e.len(), 1);
    assert!(matches!(e[0], Event::Request { stream_id: 3, .. }));
    assert!(p.respond(1, b"one"));
    assert_eq!(p.conn.step(), Step::Continue);
    assert!(p.respond(3, b"three"));
    assert_eq!(p.conn.step(), Step::Close);
    // Only one GOAWAY.
    assert_eq!(p.conn.goaway(true, &mut p.out), Step::Close);
    let got = p.got();
    assert!(!got.iter().any(|g| matches!(g, Got::GoAway(..))), "{got:?}");
}

#[test]
fn an_abrupt_goaway_closes_at_once() {
    let mut p = Peer::new();
    p.get(1);
    assert_eq!(p.conn.goaway(false, &mut p.out), Step::Close);
    assert_eq!(p.got(), vec![Got::GoAway(1, ErrorCode::NoError)]);
    assert_eq!(p.send(&ping([0; 8])), Step::Close);
    assert_eq!(p.got(), vec![]);
}

// Any client: the server never panics, only sends valid frames, and a
// GOAWAY other than NO_ERROR is the last thing it says.

use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Get(u32),
    Post(u32),
    Data(u32, usize, bool),
    Rst(u32),
    Window(u32, u32),
    Ping,
    InitialWindow(u32),
    Continuation(u32),
    Raw(Vec<u8>),
    Respond(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let id = (0u32..12).prop_map(|i| 2 * i + 1);
    prop_oneof![
        id.clone().prop_map(Op::Get),
        id.clone().prop_map(Op::Post),
        (id.clone(), 0usize..40_000, any::<bool>()).prop_map(|(i, n, e)| Op::Data(i, n, e)),
        id.clone().prop_map(Op::Rst),
        ((0u32..12).prop_map(|i| i * 2), 1u32..1 << 20).prop_map(|(i, n)| Op::Window(i, n)),
        Just(Op::Ping),
        (0u32..1 << 18).prop_map(Op::InitialWindow),
        id.prop_map(Op::Continuation),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Op::Raw),
        (0usize..100_000).prop_map(Op::Respond),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_client_gets_valid_frames_and_at_most_one_goaway(ops in proptest::collection::vec(op(), 1..40)) {
        let mut p = Peer::new();
        let mut pending = Vec::new();
        let mut closed = false;
        for op in ops {
            let bytes = match op {
                Op::Get(id) => p.headers(id, GET, true),
                Op::Post(id) => p.headers(id, POST, false),
                Op::Data(id, n, end) => data(id, &vec![0; n], end),
                Op::Rst(id) => rst(id, ErrorCode::Cancel),
                Op::Window(id, n) => window(id, n),
                Op::Ping => ping([1; 8]),
                Op::InitialWindow(n) => settings(&[Setting::InitialWindowSize(n)]),
                Op::Continuation(id) => continuation(id, b"", true),
                Op::Raw(b) => b,
                Op::Respond(n) => {
                    if let Some(id) = pending.pop() {
                        p.conn.respond(id, 200, &[], vec![2; n], vec![], &mut p.out);
                    }
                    Vec::new()
                }
            };
            let (used, step) = p.conn.on_input(&bytes, &mut p.out);
            prop_assert!(used <= bytes.len());
            if closed {
                prop_assert_eq!(step, Step::Close);
            }
            closed |= step == Step::Close && p.conn.failed;
            for e in p.events() {
                if let Event::Request { stream_id, .. } = e {
                    pending.push(stream_id);
                }
            }
            if closed {
                break;
            }
        }
        // The whole output decodes (HPACK included), and a GOAWAY ends it.
        let got = p.got();
        let goaways = got.iter().filter(|g| matches!(g, Got::GoAway(..))).count();
        prop_assert!(goaways <= 1);
        if goaways == 1 {
            prop_assert!(matches!(got.last(), Some(Got::GoAway(..))));
        }
    }
}

/// The fuzz target's checks (`fuzzing::h2_conn`) on a request, a request cut
/// anywhere, and garbage after the preface.
#[test]
fn the_fuzz_targets_checks_hold_on_requests_and_garbage() {
    let mut p = Peer::new();
    let mut bytes = p.headers(1, GET, true);
    bytes.extend(p.headers(3, POST, false));
    bytes.extend(data(3, b"body", true));
    for choice in 0u8..=255 {
        let mut input = vec![choice];
        input.extend_from_slice(&bytes);
        crate::fuzzing::h2_conn(&input);
    }
    crate::fuzzing::h2_conn(&[0, 0, 0, 4, 0xff, 0, 0, 0, 0, 1]);
    crate::fuzzing::h2_conn(b"\x02GET / HTTP/1.1\r\n\r\n");
}
