//! One WebSocket connection, as a sans-io state machine: the opening handshake,
//! then frames read as they arrive (a payload is unmasked, inflated and validated
//! piece by piece, so a large message is never held twice and a bad one fails at
//! the byte that makes it bad), messages assembled from their fragments with
//! control frames between them, and the close handshake.
//!
//! A finished message goes to the room the connection joined (the path named it),
//! or back to the client when it is in no room (the path `/`). A protocol
//! violation is answered with a close frame carrying its code (1002, 1007 invalid
//! UTF-8, 1009 too big), then the connection closes; the client's close is
//! answered with the same code, then the connection closes (the server closes the
//! TCP connection first, RFC 6455 section 7.1.1).

use bytes::Bytes;

use super::close::{self, code};
use super::deflate::{DeflateConfig, DeflateParams, Deflater, InflateError, Inflater};
use super::frame::{self, opcode, FrameError, Header};
use super::handshake;
use super::utf8::Utf8Validator;
use crate::rooms::hub::{Hub, Membership};
use crate::service::fanout::Member;
use crate::service::frame::codec::{self as frame_codec, FrameType};
use crate::service::frame::Session as FrameSession;
use crate::service::http::head;
use crate::service::{Cx, Next, Progress};

/// What the sessions read of the config.
pub(crate) struct WsConfig {
    /// Largest message, after decompression.
    pub(crate) max_message: usize,
    /// Most header fields in the handshake.
    pub(crate) max_headers: usize,
    /// Largest handshake head.
    pub(crate) max_header_bytes: usize,
    /// Largest frame payload, for frame-protocol clients.
    pub(crate) max_frame: usize,
    /// What permessage-deflate may be agreed to.
    pub(crate) deflate: DeflateConfig,
}

/// The payload of the keep-alive ping.
const KEEPALIVE: &[u8] = b"pierhead";

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the opening handshake; `scanned`: where the search for the end
    /// of its head resumes.
    Handshake { scanned: usize },
    /// Messages flow. (A close, the client's or ours after a violation, ends the
    /// connection once the close frame is sent: nothing is read after it.)
    Open,
    /// A client of the frame protocol (its first bytes were the frame magic): a
    /// member of the same rooms, served by the frame protocol's session.
    Frame,
}

/// A data frame whose payload is still arriving.
#[derive(Debug, Clone, Copy)]
struct Reading {
    header: Header,
    /// Payload bytes consumed so far.
    got: u64,
}

/// A message being assembled from its frames.
#[derive(Debug)]
struct Message {
    opcode: u8,
    compressed: bool,
    data: Vec<u8>,
    utf8: Utf8Validator,
}

/// permessage-deflate state, made on first use.
struct Deflate {
    params: DeflateParams,
    inflater: Option<Inflater>,
    deflater: Option<Deflater>,
    /// A compressed frame's payload, unmasked, before inflating.
    scratch: Vec<u8>,
}

/// Per-connection WebSocket state.
pub(crate) struct Session {
    phase: Phase,
    membership: Option<Membership>,
    /// The room's readiness waits for the broker: input waits too.
    awaiting_ready: bool,
    /// A keep-alive ping went out and nothing came since.
    ping_outstanding: bool,
    reading: Option<Reading>,
    message: Option<Box<Message>>,
    /// The last message's buffer, kept for the next one when it is small.
    spare: Option<Box<Message>>,
    deflate: Option<Box<Deflate>>,
    /// The frame protocol's session, for a frame client.
    frame: Option<Box<FrameSession>>,
}

/// The fan-out's encodings: a WebSocket frame, that frame compressed (for members
/// that agreed to permessage-deflate with a 32 KiB server window), or the frame
/// protocol's data frame.
pub(crate) const AS_WEBSOCKET: usize = 0;
/// See [`AS_WEBSOCKET`].
pub(crate) const AS_WEBSOCKET_DEFLATED: usize = 1;
/// See [`AS_WEBSOCKET`].
pub(crate) const AS_FRAME: usize = 2;

impl Member for Session {
    fn take_membership(&mut self) -> Option<Membership> {
        match &mut self.frame {
            Some(f) => f.take_membership(),
            None => self.membership.take(),
        }
    }

    #[inline]
    fn encoding(&self) -> usize {
        if self.frame.is_some() {
            AS_FRAME
        } else if self
            .deflate
            .as_ref()
            .is_some_and(|d| d.params.server_max_window_bits == 15)
        {
            AS_WEBSOCKET_DEFLATED
        } else {
            AS_WEBSOCKET
        }
    }
}

/// The frame protocol's magic, as its clients' first bytes.
const FRAME_MAGIC: [u8; 4] = frame_codec::MAGIC.to_be_bytes();

/// A message buffer up to this capacity is kept for the next message (an echo or
/// a chat message costs no allocation); a larger one is freed, so an idle member
/// holds at most this much.
const KEEP_BUFFER: usize = 512;

/// Why the connection fails: the close code and reason sent.
struct Fail(u16, &'static str);

impl From<&FrameError> for Fail {
    fn from(e: &FrameError) -> Fail {
        Fail(
            e.close_code(),
            match e {
                FrameError::ReservedBits => "reserved bits set",
                FrameError::ReservedOpcode(_) => "reserved opcode",
                FrameError::FragmentedControl => "fragmented control frame",
                FrameError::ControlTooLong(_) => "control frame too long",
                FrameError::NotMasked => "client frames must be masked",
                FrameError::TooLong { .. } => "message too big",
                FrameError::BadLength => "bad payload length",
            },
        )
    }
}

impl Session {
    /// A connection just accepted: its handshake comes first.
    pub(crate) fn new() -> Session {
        Session {
            phase: Phase::Handshake { scanned: 0 },
            membership: None,
            awaiting_ready: false,
            ping_outstanding: false,
            reading: None,
            message: None,
            spare: None,
            deflate: None,
            frame: None,
        }
    }

    /// True while its room waits for the broker.
    pub(crate) fn awaiting_ready(&self) -> bool {
        match &self.frame {
            Some(f) => f.awaiting_joined(),
            None => self.awaiting_ready,
        }
    }

    /// Its room `room` is ready: input goes on (a frame client gets `JOINED`).
    pub(crate) fn ready(&mut self, room: &str, cx: &mut Cx<'_>) {
        match &mut self.frame {
            Some(f) => f.room_ready(room, cx),
            None => self.awaiting_ready = false,
        }
    }

    /// Past the handshake: the idle timeout (and its keep-alive ping) applies. In
    /// the handshake the request timer does (408 for a slowloris).
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::Frame)
    }

    /// Past its handshake: a stop tells it 1001.
    pub(crate) fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// Idle for `idle_timeout`: the first time a ping goes out (true: keep the
    /// connection); if nothing came since the last one, false (close it).
    pub(crate) fn on_idle(&mut self, cx: &mut Cx<'_>) -> bool {
        if self.phase != Phase::Open || self.ping_outstanding {
            return false;
        }
        self.ping_outstanding = true;
        frame::encode(true, false, opcode::PING, KEEPALIVE, cx.out.bytes());
        true
    }

    /// Feeds input: everything unconsumed so far plus what just arrived.
    pub(crate) fn on_input(
        &mut self,
        input: &[u8],
        cx: &mut Cx<'_>,
        hub: &mut Hub,
        cfg: &WsConfig,
    ) -> Progress {
        // Anything from the client answers a keep-alive.
        self.ping_outstanding = false;
        if let Some(f) = &mut self.frame {
            return f.on_input(input, cx, hub, cfg.max_frame);
        }
        let mut pos = 0;
        if let Phase::Handshake { scanned } = self.phase {
            if scanned == 0 && input.first() == Some(&FRAME_MAGIC[0]) {
                let n = input.len().min(FRAME_MAGIC.len());
                if input[..n] == FRAME_MAGIC[..n] {
                    if n < FRAME_MAGIC.len() {
                        return Progress {
                            consumed: 0,
                            next: Next::Continue,
                        };
                    }
                    // A frame-protocol client: the rest is the frame session's.
                    self.phase = Phase::Frame;
                    let f = self.frame.insert(Box::default());
                    return f.on_input(input, cx, hub, cfg.max_frame);
                }
            }
            match head::find_end(input, scanned) {
                Err(resume) => {
                    if input.len() > cfg.max_header_bytes {
                        return self.refuse(431, "request head too large", input, cx);
                    }
                    self.phase = Phase::Handshake { scanned: resume };
                    return Progress {
                        consumed: 0,
                        next: Next::Continue,
                    };
                }
                Ok(len) => {
                    cx.counters.requests.incr();
                    match handshake::answer(
                        &input[..len],
                        cfg.max_headers,
                        &cfg.deflate,
                        cx.out.bytes(),
                    ) {
                        Ok(accepted) => {
                            cx.counters.responses.incr();
                            self.phase = Phase::Open;
                            self.deflate = accepted.deflate.map(|params| {
                                Box::new(Deflate {
                                    params,
                                    inflater: None,
                                    deflater: None,
                                    scratch: Vec::new(),
                                })
                            });
                            let room = accepted.room.as_str();
                            if !room.is_empty() {
                                if room.len() > frame_codec::MAX_ROOM_BYTES {
                                    return self.fail(
                                        Fail(code::POLICY, "room name too long"),
                                        input,
                                        cx,
                                    );
                                }
                                let (m, ready) = hub.join(room, cx.token);
                                self.membership = Some(m);
                                self.awaiting_ready = !ready;
                            }
                            pos = len;
                        }
                        Err(r) => {
                            return self.refuse(r.status, r.reason, input, cx);
                        }
                    }
                }
            }
        }
        loop {
            if self.awaiting_ready {
                return Progress {
                    consumed: pos,
                    next: Next::Park,
                };
            }
            if let Some(r) = self.reading {
                let rest = &input[pos..];
                let remaining = r.header.len - r.got;
                let n = remaining.min(rest.len() as u64) as usize;
                if n > 0 || remaining == 0 {
                    if let Err(f) = self.payload(&rest[..n], cfg) {
                        return self.fail(f, input, cx);
                    }
                    pos += n;
                }
                let Some(r) = self.reading.as_mut() else {
                    continue;
                };
                r.got += n as u64;
                if r.got < r.header.len {
                    break;
                }
                let fin = r.header.fin;
                self.reading = None;
                if fin {
                    match self.finish_message(cfg) {
                        Ok(()) => self.deliver(cx, hub),
                        Err(f) => return self.fail(f, input, cx),
                    }
                }
                continue;
            }
            let rest = &input[pos..];
            if rest.is_empty() {
                break;
            }
            if cx.output_full() {
                return Progress {
                    consumed: pos,
                    next: Next::Pause,
                };
            }
            let header = match frame::decode_header(rest, cfg.max_message as u64, true) {
                Ok(Some(h)) => h,
                Ok(None) => break,
                Err(e) => return self.fail(Fail::from(&e), input, cx),
            };
            if header.is_control() {
                let whole = header.header_len + header.len as usize;
                if rest.len() < whole {
                    break;
                }
                if header.rsv1 {
                    return self.fail(
                        Fail(code::PROTOCOL_ERROR, "RSV1 on a control frame"),
                        input,
                        cx,
                    );
                }
                let mut payload = Vec::with_capacity(header.len as usize);
                let key = header.mask.unwrap_or([0; 4]);
                frame::unmask_into(&mut payload, &rest[header.header_len..whole], key, 0);
                pos += whole;
                match self.control(header.opcode, &payload, cx) {
                    Ok(Next::Continue) => continue,
                    Ok(next) => {
                        return Progress {
                            consumed: input.len(),
                            next,
                        }
                    }
                    Err(f) => return self.fail(f, input, cx),
                }
            }
            if let Err(f) = self.start_frame(&header, cfg) {
                return self.fail(f, input, cx);
            }
            pos += header.header_len;
            self.reading = Some(Reading { header, got: 0 });
        }
        Progress {
            consumed: pos,
            next: Next::Continue,
        }
    }

    /// A data frame's header: a message starts or goes on.
    fn start_frame(&mut self, h: &Header, cfg: &WsConfig) -> Result<(), Fail> {
        match (&mut self.message, h.opcode) {
            (None, opcode::TEXT | opcode::BINARY) => {
                if h.rsv1 && self.deflate.is_none() {
                    return Err(Fail(
                        code::PROTOCOL_ERROR,
                        "RSV1 without permessage-deflate",
                    ));
                }
                let mut m = self.spare.take().unwrap_or_else(|| {
                    Box::new(Message {
                        opcode: h.opcode,
                        compressed: h.rsv1,
                        data: Vec::new(),
                        utf8: Utf8Validator::default(),
                    })
                });
                m.opcode = h.opcode;
                m.compressed = h.rsv1;
                m.data.reserve((h.len as usize).min(64 * 1024));
                self.message = Some(m);
            }
            (None, _) => {
                return Err(Fail(
                    code::PROTOCOL_ERROR,
                    "continuation frame with no message",
                ));
            }
            (Some(_), opcode::CONTINUATION) => {
                if h.rsv1 {
                    return Err(Fail(code::PROTOCOL_ERROR, "RSV1 on a continuation frame"));
                }
            }
            (Some(_), _) => {
                return Err(Fail(
                    code::PROTOCOL_ERROR,
                    "a new message before the last one ended",
                ));
            }
        }
        let m = self.message.as_ref().map_or(0, |m| m.data.len() as u64);
        if !self.message.as_ref().is_some_and(|m| m.compressed)
            && m + h.len > cfg.max_message as u64
        {
            return Err(Fail(code::TOO_BIG, "message too big"));
        }
        Ok(())
    }

    /// The next piece of the current data frame's payload.
    fn payload(&mut self, piece: &[u8], cfg: &WsConfig) -> Result<(), Fail> {
        let Some(r) = self.reading else {
            return Ok(());
        };
        let Some(m) = self.message.as_mut() else {
            return Ok(());
        };
        let key = r.header.mask.unwrap_or([0; 4]);
        let start = m.data.len();
        if m.compressed {
            let Some(d) = self.deflate.as_mut() else {
                return Err(Fail(
                    code::PROTOCOL_ERROR,
                    "RSV1 without permessage-deflate",
                ));
            };
            d.scratch.clear();
            frame::unmask_into(&mut d.scratch, piece, key, r.got);
            let params = d.params;
            let inflater = d.inflater.get_or_insert_with(|| Inflater::new(&params));
            inflater
                .inflate(&d.scratch, false, &mut m.data, cfg.max_message)
                .map_err(inflate_fail)?;
        } else {
            frame::unmask_into(&mut m.data, piece, key, r.got);
        }
        if m.opcode == opcode::TEXT {
            m.utf8
                .feed(&m.data[start..])
                .map_err(|e| Fail(e.close_code(), "invalid UTF-8"))?;
        }
        Ok(())
    }

    /// The final frame of a message was read: the rest of its inflating and its
    /// UTF-8 check; it is then whole in `self.message`, for [`Session::deliver`].
    fn finish_message(&mut self, cfg: &WsConfig) -> Result<(), Fail> {
        let Some(m) = self.message.as_mut() else {
            return Ok(());
        };
        if m.compressed {
            if let Some(d) = self.deflate.as_mut() {
                let params = d.params;
                let inflater = d.inflater.get_or_insert_with(|| Inflater::new(&params));
                let start = m.data.len();
                inflater
                    .inflate(&[], true, &mut m.data, cfg.max_message)
                    .map_err(inflate_fail)?;
                if m.opcode == opcode::TEXT {
                    m.utf8
                        .feed(&m.data[start..])
                        .map_err(|e| Fail(e.close_code(), "invalid UTF-8"))?;
                }
            }
        }
        if m.opcode == opcode::TEXT {
            m.utf8
                .finish()
                .map_err(|e| Fail(e.close_code(), "invalid UTF-8"))?;
        }
        Ok(())
    }

    /// A whole message: to the room, or back to the client; its buffer is kept
    /// for the next one when it is small.
    fn deliver(&mut self, cx: &mut Cx<'_>, hub: &mut Hub) {
        let Some(mut message) = self.message.take() else {
            return;
        };
        let (op, data) = (message.opcode, message.data.as_slice());
        cx.counters.requests.incr();
        match self.membership {
            Some(m) => {
                cx.counters.broadcasts.incr();
                // The rooms carry frames of the frame protocol (shared with frame
                // members and the backplane); WebSocket members get the payload
                // under a WebSocket header (see the service's fan-out).
                let mut f = Vec::with_capacity(frame_codec::HEADER_LEN + data.len());
                frame_codec::encode(FrameType::Data, data, &mut f);
                hub.broadcast(m, Bytes::from(f), op == opcode::TEXT, cx.token);
            }
            None => {
                self.send_message(op, data, cx);
                cx.counters.responses.incr();
            }
        }
        if message.data.capacity() <= KEEP_BUFFER {
            message.data.clear();
            message.utf8 = Utf8Validator::default();
            self.spare = Some(message);
        }
    }

    /// Writes a message to this client, compressed when negotiated.
    fn send_message(&mut self, op: u8, data: &[u8], cx: &mut Cx<'_>) {
        match self.deflate.as_mut() {
            Some(d) if !data.is_empty() => {
                let params = d.params;
                let deflater = d.deflater.get_or_insert_with(|| Deflater::new(&params));
                d.scratch.clear();
                deflater.deflate(data, &mut d.scratch);
                frame::encode(true, true, op, &d.scratch, cx.out.bytes());
            }
            _ => frame::encode(true, false, op, data, cx.out.bytes()),
        }
    }

    /// A control frame, whole and unmasked.
    fn control(&mut self, op: u8, payload: &[u8], cx: &mut Cx<'_>) -> Result<Next, Fail> {
        match op {
            opcode::PING => {
                frame::encode(true, false, opcode::PONG, payload, cx.out.bytes());
                Ok(Next::Continue)
            }
            opcode::PONG => Ok(Next::Continue),
            _ => {
                // CLOSE
                let parsed = close::parse_close(payload)
                    .map_err(|e| Fail(e.close_code(), "bad close frame"))?;
                let mut body = Vec::new();
                if let Some((c, _)) = parsed {
                    close::encode_close(c, "", &mut body);
                }
                frame::encode(true, false, opcode::CLOSE, &body, cx.out.bytes());
                Ok(Next::Close)
            }
        }
    }

    /// Fails the connection: a close frame with the code, counted, and the
    /// connection closes once it is sent (the rest of the input is dropped).
    fn fail(&mut self, f: Fail, input: &[u8], cx: &mut Cx<'_>) -> Progress {
        cx.counters.protocol_errors.incr();
        let mut body = Vec::new();
        close::encode_close(f.0, f.1, &mut body);
        frame::encode(true, false, opcode::CLOSE, &body, cx.out.bytes());
        self.message = None;
        self.reading = None;
        Progress {
            consumed: input.len(),
            next: Next::Close,
        }
    }

    /// Refuses the handshake with an HTTP answer, then closes.
    fn refuse(
        &mut self,
        status: u16,
        reason: &'static str,
        input: &[u8],
        cx: &mut Cx<'_>,
    ) -> Progress {
        cx.counters.protocol_errors.incr();
        handshake::refuse(&handshake::Refusal { status, reason }, cx.out.bytes());
        cx.counters.responses.incr();
        Progress {
            consumed: input.len(),
            next: Next::Close,
        }
    }

    /// The request timer ran out: in the handshake, 408.
    pub(crate) fn on_timeout(&mut self, cx: &mut Cx<'_>) {
        if let Phase::Handshake { .. } = self.phase {
            handshake::refuse(
                &handshake::Refusal {
                    status: 408,
                    reason: "the handshake did not arrive in time",
                },
                cx.out.bytes(),
            );
        }
    }
}

fn inflate_fail(e: InflateError) -> Fail {
    match e {
        InflateError::TooBig => Fail(code::TOO_BIG, "message too big"),
        _ => Fail(code::INVALID_PAYLOAD, "bad compressed data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle member costs its session, the engine's connection and the kernel's
    /// socket: the session stays small (message, deflate and frame state are boxed
    /// or absent between messages; a member that sent messages keeps at most a
    /// `KEEP_BUFFER` buffer).
    #[test]
    fn a_session_is_small() {
        let size = std::mem::size_of::<Session>();
        assert!(size <= 112, "{size} bytes");
    }
}
