//! Decoding: the preface, then one frame at a time, with every check one frame
//! allows (the table in the module above).

use super::error::{ErrorCode, FrameError, Scope, Violation};
use super::frames::{
    Continuation, Data, Decoded, Frame, GoAway, Headers, Ping, Priority, PushPromise, RstStream,
    StreamDependency, Unknown, WindowUpdate,
};
use super::header::{flag, kind, FrameHeader, HEADER_LEN, PREFACE, STREAM_ID_MASK};
use super::settings::{Settings, PARAM_LEN};

/// Checks the start of a connection against the client preface: `Ok(true)` once
/// all 24 bytes are there (the frames start after them), `Ok(false)` while the
/// bytes so far are its beginning, or a connection PROTOCOL_ERROR as soon as a
/// byte differs (h2spec 3.5/2).
pub fn decode_preface(buf: &[u8]) -> Result<bool, FrameError> {
    let n = buf.len().min(PREFACE.len());
    if buf[..n] != PREFACE[..n] {
        return Err(FrameError::connection(Violation::BadPreface));
    }
    Ok(n == PREFACE.len())
}

/// Decodes the frame at the start of `buf`, where `max_frame_size` is the
/// SETTINGS_MAX_FRAME_SIZE this side advertised: the frame and the bytes it
/// takes (header included), `Ok(None)` until all of it is there, or the error
/// it is (connection errors shown by the header as soon as it is there). For
/// either side of a connection; a server uses [`decode_at_server`].
#[inline]
pub fn decode(buf: &[u8], max_frame_size: u32) -> Decoded<'_> {
    decode_as(buf, max_frame_size, false)
}

/// [`decode`] for a server: PUSH_PROMISE is a connection PROTOCOL_ERROR (RFC
/// 9113 section 8.4: clients cannot push), as soon as its header is there.
#[inline]
pub fn decode_at_server(buf: &[u8], max_frame_size: u32) -> Decoded<'_> {
    decode_as(buf, max_frame_size, true)
}

fn decode_as(buf: &[u8], max_frame_size: u32, server: bool) -> Decoded<'_> {
    let Some(head) = FrameHeader::decode(buf) else {
        return Ok(None);
    };
    check_header(&head, max_frame_size, server).map_err(FrameError::connection)?;
    let used = HEADER_LEN + head.len as usize;
    let Some(payload) = buf.get(HEADER_LEN..used) else {
        return Ok(None);
    };
    let frame = parse(&head, payload).map_err(|(why, stream)| FrameError {
        why,
        scope: if stream {
            Scope::Stream {
                stream_id: head.stream_id,
                frame_len: used,
            }
        } else {
            Scope::Connection
        },
    })?;
    Ok(Some((frame, used)))
}

/// The connection errors a frame header shows: the length over the limit, the
/// stream identifier the type forbids, a length the type forbids.
fn check_header(h: &FrameHeader, max: u32, server: bool) -> Result<(), Violation> {
    if h.len > max {
        return Err(Violation::TooLarge { len: h.len, max });
    }
    if server && h.kind == kind::PUSH_PROMISE {
        return Err(Violation::PushPromiseToServer);
    }
    let on_stream = match h.kind {
        kind::DATA
        | kind::HEADERS
        | kind::PRIORITY
        | kind::RST_STREAM
        | kind::PUSH_PROMISE
        | kind::CONTINUATION => Some(true),
        kind::SETTINGS | kind::PING | kind::GOAWAY => Some(false),
        _ => None,
    };
    match on_stream {
        Some(true) if h.stream_id == 0 => return Err(Violation::StreamZero(h.kind)),
        Some(false) if h.stream_id != 0 => return Err(Violation::NotStreamZero(h.kind)),
        _ => {}
    }
    let len = h.len as usize;
    let padded = usize::from(h.flags & flag::PADDED != 0);
    let fits = match h.kind {
        kind::DATA => len >= padded,
        kind::HEADERS => len >= padded + if h.flags & flag::PRIORITY != 0 { 5 } else { 0 },
        kind::PUSH_PROMISE => len >= padded + 4,
        kind::RST_STREAM | kind::WINDOW_UPDATE => len == 4,
        kind::PING => len == 8,
        kind::GOAWAY => len >= 8,
        kind::SETTINGS if h.flags & flag::ACK != 0 => len == 0,
        kind::SETTINGS => len.is_multiple_of(PARAM_LEN),
        // PRIORITY's length is a stream error: checked with the whole frame.
        _ => true,
    };
    if !fits {
        return Err(Violation::BadLength {
            kind: h.kind,
            len: h.len,
        });
    }
    Ok(())
}

/// The frame `payload` makes under `h` (already checked by [`check_header`]),
/// or what it breaks and whether that is a stream error.
fn parse<'a>(h: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, (Violation, bool)> {
    let conn = |why| (why, false);
    let stream = h.stream_id;
    let set = |f: u8| h.flags & f != 0;
    Ok(match h.kind {
        kind::DATA => {
            let (padding, data) = unpad(h, payload, 0).map_err(conn)?;
            Frame::Data(Data {
                stream_id: stream,
                end_stream: set(flag::END_STREAM),
                padding,
                data,
            })
        }
        kind::HEADERS => {
            let fixed = if set(flag::PRIORITY) { 5 } else { 0 };
            let (padding, body) = unpad(h, payload, fixed).map_err(conn)?;
            let (priority, fragment) = body.split_at(fixed);
            Frame::Headers(Headers {
                stream_id: stream,
                end_stream: set(flag::END_STREAM),
                end_headers: set(flag::END_HEADERS),
                padding,
                priority: priority.first_chunk().map(dependency),
                fragment,
            })
        }
        kind::PRIORITY => {
            let Some(fields) = payload.first_chunk().filter(|_| payload.len() == 5) else {
                return Err((
                    Violation::BadLength {
                        kind: h.kind,
                        len: h.len,
                    },
                    true,
                ));
            };
            let dependency = dependency(fields);
            if dependency.stream_id == stream {
                return Err((Violation::SelfDependency, true));
            }
            Frame::Priority(Priority {
                stream_id: stream,
                dependency,
            })
        }
        kind::RST_STREAM => Frame::RstStream(RstStream {
            stream_id: stream,
            code: ErrorCode::from(be32(payload)),
        }),
        kind::SETTINGS => Frame::Settings(Settings::parse(set(flag::ACK), payload).map_err(conn)?),
        kind::PUSH_PROMISE => {
            let (padding, body) = unpad(h, payload, 4).map_err(conn)?;
            Frame::PushPromise(PushPromise {
                stream_id: stream,
                end_headers: set(flag::END_HEADERS),
                padding,
                promised_stream_id: be32(body) & STREAM_ID_MASK,
                fragment: &body[4..],
            })
        }
        kind::PING => Frame::Ping(Ping {
            ack: set(flag::ACK),
            data: payload.first_chunk().copied().unwrap_or_default(),
        }),
        kind::GOAWAY => Frame::GoAway(GoAway {
            last_stream_id: be32(payload) & STREAM_ID_MASK,
            code: ErrorCode::from(be32(&payload[4..])),
            debug: &payload[8..],
        }),
        kind::WINDOW_UPDATE => {
            let increment = be32(payload) & STREAM_ID_MASK;
            if increment == 0 {
                // RFC 9113 section 6.9: a stream error on a stream, a connection
                // error on the connection's window.
                return Err((Violation::ZeroIncrement, stream != 0));
            }
            Frame::WindowUpdate(WindowUpdate {
                stream_id: stream,
                increment,
            })
        }
        kind::CONTINUATION => Frame::Continuation(Continuation {
            stream_id: stream,
            end_headers: set(flag::END_HEADERS),
            fragment: payload,
        }),
        _ => Frame::Unknown(Unknown {
            kind: h.kind,
            flags: h.flags,
            stream_id: stream,
            payload,
        }),
    })
}

/// Splits a payload whose PADDED flag may be set: the pad length, and what lies
/// between the pad length byte and the padding, which must hold at least
/// `fixed` bytes (RFC 9113 sections 6.1, 6.2: padding that leaves less is a
/// PROTOCOL_ERROR). The header check made sure the pad length byte is there.
fn unpad<'a>(
    h: &FrameHeader,
    payload: &'a [u8],
    fixed: usize,
) -> Result<(Option<u8>, &'a [u8]), Violation> {
    if h.flags & flag::PADDED == 0 {
        return Ok((None, payload));
    }
    let Some((&pad, rest)) = payload.split_first() else {
        return Err(Violation::PaddingTooLong(0));
    };
    match rest.len().checked_sub(usize::from(pad)) {
        Some(end) if end >= fixed => Ok((Some(pad), &rest[..end])),
        _ => Err(Violation::PaddingTooLong(pad)),
    }
}

/// A stream dependency's 5 bytes: E and the stream (31 bits), the weight.
fn dependency(b: &[u8; 5]) -> StreamDependency {
    let word = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    StreamDependency {
        exclusive: word & !STREAM_ID_MASK != 0,
        stream_id: word & STREAM_ID_MASK,
        weight: b[4],
    }
}

/// The big-endian u32 at the start of `b` (the header check made sure it is there).
#[inline]
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
