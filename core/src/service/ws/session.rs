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
use super::deflate::DeflateConfig;
use super::frame::{self, opcode};
use super::handshake;
use super::inbound::{Deflate, Event, Fail, Inbound};
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
pub(crate) const KEEPALIVE: &[u8] = b"pierhead";

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

/// Per-connection WebSocket state.
pub(crate) struct Session {
    phase: Phase,
    membership: Option<Membership>,
    /// The room's readiness waits for the broker: input waits too.
    awaiting_ready: bool,
    /// A keep-alive ping went out and nothing came since.
    ping_outstanding: bool,
    inbound: Inbound,
    /// The frame protocol's session, for a frame client.
    frame: Option<Box<FrameSession>>,
}

/// Echoes a whole unfragmented, uncompressed data message at the start of
/// `input` by unmasking its payload straight into the answer: the bytes used, or
/// the failure (invalid UTF-8: the answer is taken back); `None` when the input
/// does not start with such a frame (the reader takes it, and any error).
#[inline]
fn echo_whole(input: &[u8], max_message: usize, cx: &mut Cx<'_>) -> Option<Result<usize, Fail>> {
    let h = frame::decode_header(input, max_message as u64, true).ok()??;
    let whole = h.header_len + h.len as usize;
    if !h.fin || h.rsv1 || !matches!(h.opcode, opcode::TEXT | opcode::BINARY) || input.len() < whole
    {
        return None;
    }
    let out = cx.out.bytes();
    let start = out.len();
    frame::encode_header(true, false, h.opcode, h.len as usize, out);
    let body = out.len();
    frame::unmask_into(
        out,
        &input[h.header_len..whole],
        h.mask.unwrap_or([0; 4]),
        0,
    );
    if h.opcode == opcode::TEXT && std::str::from_utf8(&out[body..]).is_err() {
        out.truncate(start);
        return Some(Err(Fail(code::INVALID_PAYLOAD, "invalid UTF-8")));
    }
    cx.counters.requests.incr();
    cx.counters.responses.incr();
    Some(Ok(whole))
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
        } else {
            websocket_encoding(&self.inbound)
        }
    }
}

/// The encoding of room deliveries for a WebSocket member (the rooms service's
/// and the HTTP mock's room endpoints'): compressed for one that agreed to
/// permessage-deflate with a 32 KiB server window.
#[inline]
pub(crate) fn websocket_encoding(inbound: &Inbound) -> usize {
    match &inbound.deflate {
        Some(d) if d.params.server_max_window_bits == 15 => AS_WEBSOCKET_DEFLATED,
        _ => AS_WEBSOCKET,
    }
}

/// The frame protocol's magic, as its clients' first bytes.
const FRAME_MAGIC: [u8; 4] = frame_codec::MAGIC.to_be_bytes();

impl Session {
    /// A connection just accepted: its handshake comes first.
    pub(crate) fn new() -> Session {
        Session {
            phase: Phase::Handshake { scanned: 0 },
            membership: None,
            awaiting_ready: false,
            ping_outstanding: false,
            inbound: Inbound::default(),
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
                            self.inbound.deflate = accepted.deflate.map(Deflate::new);
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
            if pos < input.len() && cx.output_full() {
                return Progress {
                    consumed: pos,
                    next: Next::Pause,
                };
            }
            if self.membership.is_none() && self.inbound.deflate.is_none() && self.inbound.idle() {
                // Echo of a whole one-frame message: unmasked straight into the
                // answer, never held (the common case of an echo client).
                match echo_whole(&input[pos..], cfg.max_message, cx) {
                    Some(Ok(used)) => {
                        pos += used;
                        continue;
                    }
                    Some(Err(f)) => return self.fail(f, input, cx),
                    None => {}
                }
            }
            let (used, found) = self.inbound.read(&input[pos..], cfg.max_message);
            pos += used;
            match found {
                Ok(None) => break,
                Ok(Some(Event::Message)) => self.deliver(cx, hub),
                Ok(Some(Event::Control(op, payload))) => match self.control(op, &payload, cx) {
                    Ok(Next::Continue) => {}
                    Ok(next) => {
                        return Progress {
                            consumed: input.len(),
                            next,
                        }
                    }
                    Err(f) => return self.fail(f, input, cx),
                },
                Err(f) => return self.fail(f, input, cx),
            }
        }
        Progress {
            consumed: pos,
            next: Next::Continue,
        }
    }

    /// A whole message: to the room, or back to the client; its buffer is kept
    /// for the next one when it is small.
    fn deliver(&mut self, cx: &mut Cx<'_>, hub: &mut Hub) {
        let Some(message) = self.inbound.take_message() else {
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
        self.inbound.recycle(message);
    }

    /// Writes a message to this client, compressed when negotiated.
    fn send_message(&mut self, op: u8, data: &[u8], cx: &mut Cx<'_>) {
        match self.inbound.deflate.as_mut() {
            Some(d) if !data.is_empty() => {
                frame::encode(true, true, op, d.compress(data), cx.out.bytes());
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
        self.inbound.abandon();
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
