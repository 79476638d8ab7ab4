//! The WebSocket service: one worker's part of the rooms (the frame protocol's
//! registry), a session per connection, and the fan-out at the end of each turn,
//! where a delivery is put under a WebSocket header once for all this worker's
//! members.

use std::sync::Arc;

use bytes::Bytes;

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

/// A close frame with code 1001 (going away), as a stop sends it.
const GOING_AWAY: &[u8] = &[0x88, 0x02, 0x03, 0xE9];

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
fn encode(d: &LocalDelivery, encoding: usize, deflater: &mut Option<Deflater>) -> Bytes {
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

impl Service for WsService {
    type Session = Session;
    /// The room a new member waited for is ready.
    type Event = Arc<str>;
    type Own = ();

    fn start(worker: usize, shared: &Arc<ServerCore>, _own: &()) -> WsService {
        let c = &shared.config;
        // A slow consumer is told 1008 (policy violation) "slow consumer".
        let mut body = Vec::new();
        close::encode_close(code::POLICY, "slow consumer", &mut body);
        let mut slow_error = Vec::new();
        frame::encode(true, false, opcode::CLOSE, &body, &mut slow_error);
        // A frame-protocol member is told as on a frame server.
        let mut frame_slow_error = Vec::new();
        frame_codec::encode_control(
            frame_codec::op::ERROR,
            b"slow consumer",
            &mut frame_slow_error,
        );
        WsService {
            rooms: Rooms::new(
                worker,
                shared,
                [slow_error.clone(), slow_error, frame_slow_error],
            ),
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
