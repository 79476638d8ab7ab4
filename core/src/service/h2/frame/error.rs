//! Error codes (RFC 9113 section 7) and the errors a frame can be (section 5.4).

/// The error codes of RST_STREAM and GOAWAY (RFC 9113 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0x0: not an error (a graceful GOAWAY).
    NoError,
    /// 0x1: an unspecific protocol error.
    ProtocolError,
    /// 0x2: an unexpected internal error.
    InternalError,
    /// 0x3: the peer broke flow control.
    FlowControlError,
    /// 0x4: SETTINGS were not acknowledged in time.
    SettingsTimeout,
    /// 0x5: a frame on a half-closed stream.
    StreamClosed,
    /// 0x6: a frame of an invalid size.
    FrameSizeError,
    /// 0x7: the stream was refused before any processing.
    RefusedStream,
    /// 0x8: the stream is no longer needed.
    Cancel,
    /// 0x9: the header compression context cannot be kept.
    CompressionError,
    /// 0xa: a CONNECT tunnel's connection was reset.
    ConnectError,
    /// 0xb: the peer behaves in a way that may be abusive.
    EnhanceYourCalm,
    /// 0xc: the transport does not meet the security requirements.
    InadequateSecurity,
    /// 0xd: use HTTP/1.1 for this request.
    Http11Required,
    /// Any other code: kept as received and treated as INTERNAL_ERROR
    /// (RFC 9113 section 7). [`ErrorCode::from`] puts only codes over 0xd here.
    Unknown(u32),
}

/// The 14 codes by value.
const CODES: [ErrorCode; 14] = [
    ErrorCode::NoError,
    ErrorCode::ProtocolError,
    ErrorCode::InternalError,
    ErrorCode::FlowControlError,
    ErrorCode::SettingsTimeout,
    ErrorCode::StreamClosed,
    ErrorCode::FrameSizeError,
    ErrorCode::RefusedStream,
    ErrorCode::Cancel,
    ErrorCode::CompressionError,
    ErrorCode::ConnectError,
    ErrorCode::EnhanceYourCalm,
    ErrorCode::InadequateSecurity,
    ErrorCode::Http11Required,
];

/// The RFC's names of [`CODES`], in order.
const CODE_NAMES: [&str; 14] = [
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
];

impl From<u32> for ErrorCode {
    #[inline]
    fn from(code: u32) -> ErrorCode {
        usize::try_from(code)
            .ok()
            .and_then(|i| CODES.get(i).copied())
            .unwrap_or(ErrorCode::Unknown(code))
    }
}

impl From<ErrorCode> for u32 {
    #[inline]
    fn from(code: ErrorCode) -> u32 {
        match code {
            ErrorCode::Unknown(c) => c,
            // The 14 named codes are their index in CODES.
            named => CODES.iter().position(|&c| c == named).unwrap_or(0) as u32,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match CODE_NAMES.get(u32::from(*self) as usize) {
            Some(name) => f.write_str(name),
            None => write!(f, "error code {:#x}", u32::from(*self)),
        }
    }
}

/// What a frame did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// Its length is over the maximum frame size we advertised.
    #[error("a frame of {len} bytes over the maximum frame size of {max}")]
    TooLarge {
        /// The frame's payload length.
        len: u32,
        /// Our SETTINGS_MAX_FRAME_SIZE.
        max: u32,
    },
    /// A type that belongs to a stream, on stream 0.
    #[error("a frame of type {0} on stream 0")]
    StreamZero(u8),
    /// A type that belongs to the connection, on a stream.
    #[error("a frame of type {0} on a stream (only stream 0 may carry it)")]
    NotStreamZero(u8),
    /// A length its type does not allow (fixed-size frames, fixed fields).
    #[error("a frame of type {kind} with a payload of {len} bytes")]
    BadLength {
        /// The frame's type.
        kind: u8,
        /// Its payload length.
        len: u32,
    },
    /// Padding as long as the payload or longer (nothing left for the fields).
    #[error("padding of {0} bytes longer than what it pads")]
    PaddingTooLong(u8),
    /// SETTINGS_ENABLE_PUSH other than 0 or 1.
    #[error("SETTINGS_ENABLE_PUSH of {0}")]
    EnablePush(u32),
    /// SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1.
    #[error("SETTINGS_INITIAL_WINDOW_SIZE of {0}")]
    InitialWindowSize(u32),
    /// SETTINGS_MAX_FRAME_SIZE out of 16384..=16777215.
    #[error("SETTINGS_MAX_FRAME_SIZE of {0}")]
    MaxFrameSize(u32),
    /// A WINDOW_UPDATE with an increment of 0.
    #[error("a window increment of 0")]
    ZeroIncrement,
    /// A stream made to depend on itself (PRIORITY or HEADERS).
    #[error("a stream depending on itself")]
    SelfDependency,
    /// A client sent PUSH_PROMISE (only servers push).
    #[error("PUSH_PROMISE sent to a server")]
    PushPromiseToServer,
    /// The connection did not start with the client preface.
    #[error("not the HTTP/2 connection preface")]
    BadPreface,
}

impl Violation {
    /// The error code the RFC names for it.
    pub fn code(&self) -> ErrorCode {
        match self {
            Violation::TooLarge { .. } | Violation::BadLength { .. } => ErrorCode::FrameSizeError,
            Violation::InitialWindowSize(_) => ErrorCode::FlowControlError,
            Violation::StreamZero(_)
            | Violation::NotStreamZero(_)
            | Violation::PaddingTooLong(_)
            | Violation::EnablePush(_)
            | Violation::MaxFrameSize(_)
            | Violation::ZeroIncrement
            | Violation::SelfDependency
            | Violation::PushPromiseToServer
            | Violation::BadPreface => ErrorCode::ProtocolError,
        }
    }
}

/// Whom an error ends (RFC 9113 section 5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The connection: send GOAWAY with the code, then close.
    Connection,
    /// One stream: send RST_STREAM with the code on it, and go on with the
    /// connection after the frame (the whole of it is in the input).
    Stream {
        /// The stream.
        stream_id: u32,
        /// The frame's length, header included: the bytes to consume.
        frame_len: usize,
    },
}

/// A frame that breaks a rule of RFC 9113: why, and whom it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{why}: {} error {}", scope_name(.scope), .why.code())]
pub struct FrameError {
    /// The rule broken.
    pub why: Violation,
    /// A connection or a stream error.
    pub scope: Scope,
}

/// How [`FrameError`]'s message names its scope.
fn scope_name(scope: &Scope) -> String {
    match scope {
        Scope::Connection => "connection".to_string(),
        Scope::Stream { stream_id, .. } => format!("stream {stream_id}"),
    }
}

impl FrameError {
    /// A connection error.
    #[inline]
    pub(crate) fn connection(why: Violation) -> FrameError {
        FrameError {
            why,
            scope: Scope::Connection,
        }
    }

    /// The error code to send (in GOAWAY or RST_STREAM).
    #[inline]
    pub fn code(&self) -> ErrorCode {
        self.why.code()
    }

    /// It ends the connection.
    #[inline]
    pub fn is_connection(&self) -> bool {
        self.scope == Scope::Connection
    }
}
