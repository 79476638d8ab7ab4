//! The WebSocket service: one worker's part of the rooms (the frame protocol's
//! registry), a session per connection, and the fan-out at the end of each turn,
//! where a delivery is put under a WebSocket header once for all this worker's
//! members.

use std::sync::Arc;

use bytes::Bytes;

use super::close::GOING_AWAY;
use super::close::{self, code};
use super::deflate::{DeflateConfig, DeflateParams, Deflater};
use super::frame::{self, opcode};
use super::session::{Session, WsConfig, AS_FRAME, AS_WEBSOCKET_DEFLATED};
use crate::engine::Peers;
use crate::rooms::hub::LocalDelivery;
use crate::server_core::ServerCore;
use crate::service::fanout::Rooms;
use crate::service::frame::codec::{self as frame_codec, HEADER_LEN};
use crate::service::{Cx, Next, Park, Progress, Service, Wake};
use crate::stats::Counters;

/// One worker's WebSocket service: its part of the rooms, and what its sessions
/// read of the config.
pub(crate) struct WsService {
    rooms: Rooms,
    cfg: WsConfig,
    /// Compresses broadcasts for deflate members (made on first use).
    deflater: Option<Deflater>,
}

/// Broadcast payloads shorter than this go out uncompressed to every member
/// (deflate would make them longer or barely shorter).
const MIN_COMPRESSED: usize = 64;

/// A room delivery for a member, made once per delivery for all of this worker's
/// members that get it: for a WebSocket member, the payload of the frame protocol's
/// data frame under a WebSocket header (text or binary), compressed for members
/// that agreed to permessage-deflate; for a frame member, that data frame itself.
///
/// A broadcast is compressed by one compressor per worker that forgets every
/// message (no context takeover, whatever the member agreed to): its output refers
/// to nothing sent before, so every deflate member can inflate the same bytes, with
/// or without its own context.
pub(crate) fn encode(d: &LocalDelivery, encoding: usize, deflater: &mut Option<Deflater>) -> Bytes {
    if encoding == AS_FRAME {
        return d.frame.clone();
    }
    let payload = d.frame.get(HEADER_LEN..).unwrap_or_default();
    let op = if d.text { opcode::TEXT } else { opcode::BINARY };
    let mut out = Vec::with_capacity(payload.len() + 10);
    if encoding == AS_WEBSOCKET_DEFLATED && payload.len() >= MIN_COMPRESSED {
        let z = deflater.get_or_insert_with(|| Deflater::new(&BROADCAST));
        let mut compressed = Vec::with_capacity(payload.len() / 2 + 16);
        z.deflate(payload, &mut compressed);
        frame::encode(true, true, op, &compressed, &mut out);
    } else {
        frame::encode(true, false, op, payload, &mut out);
    }
    Bytes::from(out)
}

/// The broadcast compressor's parameters: a 32 KiB window, reset every message.
const BROADCAST: DeflateParams = DeflateParams {
    server_no_context_takeover: true,
    client_no_context_takeover: false,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
};

/// A worker's part of the rooms for WebSocket members (and frame members): a
/// slow consumer is told 1008 (policy violation) "slow consumer", a frame member
/// as on a frame server.
pub(crate) fn rooms(worker: usize, shared: &Arc<ServerCore>) -> Rooms {
    let mut body = Vec::new();
    close::encode_close(code::POLICY, "slow consumer", &mut body);
    let mut slow_error = Vec::new();
    frame::encode(true, false, opcode::CLOSE, &body, &mut slow_error);
    let mut frame_slow_error = Vec::new();
    frame_codec::encode_control(
        frame_codec::op::ERROR,
        b"slow consumer",
        &mut frame_slow_error,
    );
    Rooms::new(
        worker,
        shared,
        [slow_error.clone(), slow_error, frame_slow_error],
    )
}

impl Service for WsService {
    type Session = Session;
    /// The room a new member waited for is ready.
    type Event = Arc<str>;
    type Own = ();

    fn start(worker: usize, shared: &Arc<ServerCore>, _own: &()) -> WsService {
        let c = &shared.config;
        WsService {
            rooms: rooms(worker, shared),
            cfg: WsConfig {
                max_message: c.max_message_bytes,
                max_headers: c.max_headers,
                max_header_bytes: c.max_header_bytes,
                max_frame: c.max_frame_bytes,
                deflate: DeflateConfig {
                    enabled: c.ws_deflate,
                    server_no_context_takeover: false,
                    server_max_window_bits: 15,
                },
            },
            deflater: None,
        }
    }

    #[inline]
    fn open(&mut self) -> Session {
        Session::new()
    }

    #[inline]
    fn on_input(&mut self, s: &mut Session, input: &[u8], cx: &mut Cx<'_>) -> Progress {
        s.on_input(input, cx, &mut self.rooms.hub, &self.cfg)
    }

    /// The room a new member waited for is ready (a frame member gets `JOINED`).
    fn resume(&mut self, s: &mut Session, why: Wake<Arc<str>>, cx: &mut Cx<'_>) -> Next {
        if let Wake::Event(room) = why {
            s.ready(&room, cx);
        }
        Next::Continue
    }

    fn take_events(&mut self, events: &mut Vec<(mio::Token, Arc<str>)>) {
        self.rooms.take_events(events);
    }

    #[inline]
    fn park(s: &Session) -> Option<Park> {
        s.awaiting_ready().then_some(Park::Event)
    }

    #[inline]
    fn is_idle(s: &Session) -> bool {
        s.is_idle()
    }

    /// A close frame, 1001 going away, for a connection past its handshake.
    #[inline]
    fn farewell(s: &Session) -> Option<&'static [u8]> {
        s.is_open().then_some(GOING_AWAY)
    }

    /// Idle for `idle_timeout`: a ping; idle again with no answer: closed.
    fn on_idle(&mut self, s: &mut Session, cx: &mut Cx<'_>) -> bool {
        s.on_idle(cx)
    }

    fn on_request_timeout(&mut self, s: &mut Session, cx: &mut Cx<'_>) {
        s.on_timeout(cx);
    }

    fn end_turn(&mut self, peers: &mut Peers<'_, Session>) {
        let deflater = &mut self.deflater;
        self.rooms
            .end_turn(peers, |d, encoding| encode(d, encoding, deflater));
    }

    fn last_exited(_own: &(), shared: &ServerCore) {
        Rooms::last_exited(shared);
    }

    #[inline]
    fn shared_sent(&mut self, sent: u64, lost: u64, counters: &Counters) {
        Rooms::shared_sent(sent, lost, counters);
    }

    fn close(&mut self, s: &mut Session) {
        self.rooms.close(s);
    }

    fn exit(&mut self) {
        self.rooms.exit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::registry::Registry;
    use crate::service::frame::codec::{self as frame_codec, FrameType};
    use crate::service::ws::deflate::Inflater;
    use crate::service::ws::session::AS_WEBSOCKET;

    fn delivery(payload: &[u8], text: bool) -> LocalDelivery {
        let registry = Registry::new(1, None);
        let (shared, _) = registry.join("r", 0);
        let mut f = Vec::new();
        frame_codec::encode(FrameType::Data, payload, &mut f);
        LocalDelivery {
            room: 0,
            shared,
            frame: Bytes::from(f),
            text,
            except: None,
            tally: None,
        }
    }

    /// The payload of a server frame (unmasked), and whether RSV1 is set.
    fn unframe(b: &[u8]) -> (u8, bool, Vec<u8>) {
        let h = frame::decode_header(b, u64::MAX >> 1, false)
            .unwrap()
            .unwrap();
        (h.opcode, h.rsv1, b[h.header_len..].to_vec())
    }

    #[test]
    fn a_broadcast_is_compressed_once_and_inflates_with_any_context() {
        let mut deflater = None;
        let text = "a room message that is long enough to be worth compressing ".repeat(4);
        let d = delivery(text.as_bytes(), true);
        let (op, rsv1, compressed) = unframe(&encode(&d, AS_WEBSOCKET_DEFLATED, &mut deflater));
        assert_eq!((op, rsv1), (opcode::TEXT, true));
        assert!(compressed.len() < text.len() / 2);
        // A member that keeps its context (it inflated other messages before) and
        // one that does not both read it.
        for keeps_context in [true, false] {
            let params = DeflateParams {
                client_no_context_takeover: !keeps_context,
                ..BROADCAST
            };
            let mut inflater = Inflater::new(&params);
            for _ in 0..3 {
                let mut out = Vec::new();
                inflater
                    .inflate(&compressed, true, &mut out, 1 << 20)
                    .unwrap();
                assert_eq!(out, text.as_bytes());
            }
        }
        // The same delivery for members without deflate, and for frame members.
        let (op, rsv1, plain) = unframe(&encode(&d, AS_WEBSOCKET, &mut deflater));
        assert_eq!(
            (op, rsv1, plain.as_slice()),
            (opcode::TEXT, false, text.as_bytes())
        );
        assert_eq!(encode(&d, AS_FRAME, &mut deflater), d.frame);
    }

    #[test]
    fn a_short_broadcast_goes_uncompressed() {
        let mut deflater = None;
        let d = delivery(b"hi", false);
        let (op, rsv1, payload) = unframe(&encode(&d, AS_WEBSOCKET_DEFLATED, &mut deflater));
        assert_eq!(
            (op, rsv1, payload.as_slice()),
            (opcode::BINARY, false, b"hi".as_slice())
        );
    }
}
