//! The frames: one value per type, borrowing its variable parts from the input.

use super::error::ErrorCode;
use super::error::{FrameError, Scope, Violation};
use super::header::HEADER_LEN;
use super::settings::Settings;

/// A stream dependency (RFC 7540 section 5.3; deprecated by RFC 9113, which
/// still requires parsing it): in HEADERS with the PRIORITY flag, and in PRIORITY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamDependency {
    /// E: the dependency is exclusive.
    pub exclusive: bool,
    /// The stream depended on (31 bits; 0: the root).
    pub stream_id: u32,
    /// The weight less one, as on the wire (0-255 for weights 1-256).
    pub weight: u8,
}

/// What decoding the start of a buffer gives: the first frame and the bytes it
/// takes (header included), `None` while it is incomplete, or the error it is.
pub type Decoded<'a> = Result<Option<(Frame<'a>, usize)>, FrameError>;

/// A frame, its variable parts borrowed from the input. Only the flags defined
/// for its type are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// DATA.
    Data(Data<'a>),
    /// HEADERS.
    Headers(Headers<'a>),
    /// PRIORITY.
    Priority(Priority),
    /// RST_STREAM.
    RstStream(RstStream),
    /// SETTINGS.
    Settings(Settings<'a>),
    /// PUSH_PROMISE.
    PushPromise(PushPromise<'a>),
    /// PING.
    Ping(Ping),
    /// GOAWAY.
    GoAway(GoAway<'a>),
    /// WINDOW_UPDATE.
    WindowUpdate(WindowUpdate),
    /// CONTINUATION.
    Continuation(Continuation<'a>),
    /// A type this layer does not know: to be ignored (RFC 9113 section 5.5),
    /// except that it may not come between a HEADERS and its CONTINUATIONs.
    Unknown(Unknown<'a>),
}

/// DATA (RFC 9113 section 6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Data<'a> {
    /// The stream (never 0).
    pub stream_id: u32,
    /// END_STREAM.
    pub end_stream: bool,
    /// The pad length when PADDED was set (the padding itself is dropped).
    pub padding: Option<u8>,
    /// The content.
    pub data: &'a [u8],
}

impl Data<'_> {
    /// What it takes from the flow-control windows: the whole payload, the pad
    /// length byte and the padding included (RFC 9113 section 6.9.1).
    #[inline]
    pub fn flow_len(&self) -> u32 {
        (self.data.len() + self.padding.map_or(0, |p| 1 + usize::from(p))) as u32
    }
}

/// HEADERS (RFC 9113 section 6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers<'a> {
    /// The stream (never 0).
    pub stream_id: u32,
    /// END_STREAM.
    pub end_stream: bool,
    /// END_HEADERS: no CONTINUATION follows.
    pub end_headers: bool,
    /// The pad length when PADDED was set.
    pub padding: Option<u8>,
    /// The stream dependency when the PRIORITY flag was set.
    pub priority: Option<StreamDependency>,
    /// The start (or the whole) of the field block.
    pub fragment: &'a [u8],
}

impl Headers<'_> {
    /// The stream error this HEADERS is (stream PROTOCOL_ERROR: its stream
    /// depends on itself, h2spec 5.3.1/1), if any. Not returned by
    /// [`decode`](fn@super::decode): the field block must still go through HPACK first, or the decoder's
    /// dynamic table would fall out of step with the peer's.
    pub fn stream_error(&self) -> Option<FrameError> {
        let dep = self.priority?;
        (dep.stream_id == self.stream_id).then(|| FrameError {
            why: Violation::SelfDependency,
            scope: Scope::Stream {
                stream_id: self.stream_id,
                frame_len: HEADER_LEN
                    + self.padding.map_or(0, |p| 1 + usize::from(p))
                    + 5
                    + self.fragment.len(),
            },
        })
    }
}

/// PRIORITY (RFC 9113 section 6.3): parsed, and to be ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// The stream (never 0; may be idle or closed).
    pub stream_id: u32,
    /// Its dependency (never on itself).
    pub dependency: StreamDependency,
}

/// RST_STREAM (RFC 9113 section 6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RstStream {
    /// The stream (never 0).
    pub stream_id: u32,
    /// Violation it ends.
    pub code: ErrorCode,
}

/// PUSH_PROMISE (RFC 9113 section 6.6): only a client receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushPromise<'a> {
    /// The stream it is associated with (never 0).
    pub stream_id: u32,
    /// END_HEADERS.
    pub end_headers: bool,
    /// The pad length when PADDED was set.
    pub padding: Option<u8>,
    /// The stream the server reserves (31 bits).
    pub promised_stream_id: u32,
    /// The start of the promised request's field block.
    pub fragment: &'a [u8],
}

/// PING (RFC 9113 section 6.7): on stream 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    /// ACK: the answer to a PING.
    pub ack: bool,
    /// The 8 opaque bytes an answer echoes.
    pub data: [u8; 8],
}

/// GOAWAY (RFC 9113 section 6.8): on stream 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoAway<'a> {
    /// The last stream the sender processed or may process (31 bits).
    pub last_stream_id: u32,
    /// Violation the connection ends.
    pub code: ErrorCode,
    /// Opaque diagnostic bytes.
    pub debug: &'a [u8],
}

/// WINDOW_UPDATE (RFC 9113 section 6.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowUpdate {
    /// The stream, or 0 for the connection's window.
    pub stream_id: u32,
    /// The increment: 1..=2^31-1.
    pub increment: u32,
}

/// CONTINUATION (RFC 9113 section 6.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Continuation<'a> {
    /// The stream (never 0).
    pub stream_id: u32,
    /// END_HEADERS.
    pub end_headers: bool,
    /// The next piece of the field block.
    pub fragment: &'a [u8],
}

/// A frame of a type this layer does not define, as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unknown<'a> {
    /// Its type.
    pub kind: u8,
    /// Its flags.
    pub flags: u8,
    /// Its stream (may be 0).
    pub stream_id: u32,
    /// Its payload.
    pub payload: &'a [u8],
}
