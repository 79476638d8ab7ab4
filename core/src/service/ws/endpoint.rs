//! A WebSocket endpoint of the HTTP mock, after its upgrade: one connection, as a
//! sans-io state machine. The client's frames are read by [`Inbound`]; each
//! message is logged, answered by the endpoint's script rules, or echoed, or
//! handed to its handler (the HTTP service runs it on the handler pool and gives
//! the reply back: [`Endpoint::handled`]). What the endpoint sends goes through a
//! queue of due times, so that delays and drips hold the connection's later
//! messages behind earlier ones; faults play after a number of answered messages.
//!
//! A close the endpoint starts (a fault, a handler's reply) waits for the client's
//! close frame (reading on, for at most the request timeout), then closes the
//! connection, as RFC 6455 section 7.1.1 asks of a server.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::close::{self, code};
use super::frame::{self, opcode};
use super::handshake::Accepted;
use super::inbound::{Deflate, Event, Fail, Inbound};
use super::session::{websocket_encoding, KEEPALIVE};
use crate::rooms::hub::{Hub, Membership};
use crate::routing::ws_log::Recorder;
use crate::routing::{
    WebSocket, WsBehavior, WsFault, WsHandler, WsHandlerError, WsMessage, WsPeer, WsReply,
};
use crate::service::fanout::Member;
use crate::service::frame::codec::{self as frame_codec, FrameType};
use crate::service::{Next, Park, Reply};
use crate::stats::Counters;

impl Member for Endpoint {
    fn take_membership(&mut self) -> Option<Membership> {
        self.membership.take()
    }

    #[inline]
    fn encoding(&self) -> usize {
        websocket_encoding(&self.inbound)
    }
}

/// A message for a handler thread ([`WsHandler`]).
pub(crate) struct Job {
    pub(crate) handler: Arc<dyn WsHandler>,
    pub(crate) peer: WsPeer,
    pub(crate) message: WsMessage,
}

impl Job {
    /// Runs the handler (on a handler thread).
    pub(crate) fn run(&self) -> Result<WsReply, WsHandlerError> {
        self.handler.try_on_message(&self.peer, &self.message)
    }
}

/// What the endpoint decided after a batch of input.
pub(crate) enum Step {
    /// What the engine does next.
    Next(Next),
    /// Run this handler job; the session waits for [`Endpoint::handled`] (parked).
    Handle(Box<Job>),
}

/// How a queued item ends the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// A close frame was sent: wait for the client's.
    Closing,
    /// Close the TCP connection, no close frame.
    Abort,
    /// Reset it.
    Reset,
}

/// Something to send at a due time: bytes, or an end.
#[derive(Debug)]
enum Item {
    Bytes(Vec<u8>),
    End(End),
}

/// What the endpoint waits for, besides its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    Nothing,
    /// Handler job `job`; it fails (1011) at `deadline`.
    Handler {
        job: u64,
        deadline: Instant,
    },
    /// Our close frame went out: the client's close (input is read on; the
    /// request timeout bounds the wait).
    Closing,
}

/// One connection of a WebSocket endpoint.
pub(crate) struct Endpoint {
    spec: Arc<WebSocket>,
    inbound: Inbound,
    peer: WsPeer,
    log: Option<Recorder>,
    /// Client messages answered (faults play after a count of them).
    answered: u64,
    queue: VecDeque<(Instant, Item)>,
    /// The due time of the last queued item (later items are never earlier).
    last_due: Instant,
    wait: Wait,
    ping_outstanding: bool,
    max_message: usize,
    /// The room it joined (a room endpoint).
    membership: Option<Membership>,
    /// Its room waits for the broker: input waits too.
    awaiting_room: bool,
    /// Messages queued and not counted yet (each is a response).
    sent: u64,
}

/// A room endpoint's view of its worker's rooms while it reads.
pub(crate) struct RoomCx<'a> {
    pub(crate) hub: &'a mut Hub,
    pub(crate) token: mio::Token,
}

/// What an endpoint's connection starts with.
pub(crate) struct Opening {
    /// The route's endpoint.
    pub(crate) spec: Arc<WebSocket>,
    /// The handshake as agreed.
    pub(crate) accepted: Accepted,
    /// The connection, as a handler sees it.
    pub(crate) peer: WsPeer,
    /// Its entry in the message log, if the log is on.
    pub(crate) log: Option<Recorder>,
    /// Largest message (after decompression).
    pub(crate) max_message: usize,
}

impl Endpoint {
    /// The upgrade was accepted (the `101` is in `out`): the messages to send on
    /// open, and the faults for after none.
    pub(crate) fn open(
        opening: Opening,
        out: &mut Reply,
        counters: &Counters,
        now: Instant,
    ) -> (Box<Endpoint>, Next) {
        let Opening {
            spec,
            accepted,
            peer,
            log,
            max_message,
        } = opening;
        let mut inbound = Inbound::default();
        inbound.deflate = accepted.deflate.map(Deflate::new);
        let mut e = Box::new(Endpoint {
            spec: spec.clone(),
            inbound,
            peer,
            log,
            answered: 0,
            queue: VecDeque::new(),
            last_due: now,
            wait: Wait::Nothing,
            ping_outstanding: false,
            max_message,
            membership: None,
            awaiting_room: false,
            sent: 0,
        });
        for m in &spec.on_open {
            e.send(m, now);
        }
        e.play_faults(now);
        e.count(counters);
        let next = e.flush(out, now);
        (e, next)
    }

    /// The room it is to join, for a room endpoint.
    pub(crate) fn room(&self) -> Option<&str> {
        match &self.spec.behavior {
            WsBehavior::Room(name) => Some(name),
            _ => None,
        }
    }

    /// It joined its room (`ready`: the room is ready at once; else it waits for
    /// [`Endpoint::room_ready`]).
    pub(crate) fn joined(&mut self, m: Membership, ready: bool) {
        self.membership = Some(m);
        self.awaiting_room = !ready;
    }

    /// Its room is ready: input goes on.
    pub(crate) fn room_ready(&mut self) {
        self.awaiting_room = false;
    }

    /// Where it waits until, if it is parked.
    pub(crate) fn park(&self) -> Option<Park> {
        if self.awaiting_room {
            return Some(Park::Event);
        }
        match self.wait {
            Wait::Handler { deadline, .. } => Some(Park::Until(deadline)),
            Wait::Closing => None,
            Wait::Nothing => self.queue.front().map(|(at, _)| Park::Until(*at)),
        }
    }

    /// Nothing to send or wait for: a stop closes it at once (with 1001), the
    /// idle timeout pings it.
    pub(crate) fn is_idle(&self) -> bool {
        self.wait == Wait::Nothing && self.queue.is_empty()
    }

    /// The handler job it waits for, if any.
    pub(crate) fn awaited_job(&self) -> Option<u64> {
        match self.wait {
            Wait::Handler { job, .. } => Some(job),
            _ => None,
        }
    }

    /// Its handler job was submitted as `job`, to answer by `deadline`.
    pub(crate) fn awaiting(&mut self, job: u64, deadline: Instant) {
        self.wait = Wait::Handler { job, deadline };
    }

    /// Idle for `idle_timeout`: a ping the first time, then (no answer) close.
    pub(crate) fn on_idle(&mut self, out: &mut Reply) -> bool {
        if self.ping_outstanding || !self.is_idle() {
            return false;
        }
        self.ping_outstanding = true;
        frame::encode(true, false, opcode::PING, KEEPALIVE, out.bytes());
        true
    }

    /// The connection is closing.
    pub(crate) fn closed(&mut self) {
        if let Some(log) = &self.log {
            log.closed();
        }
    }

    /// Feeds input: everything unconsumed so far plus what just arrived.
    pub(crate) fn on_input(
        &mut self,
        input: &[u8],
        out: &mut Reply,
        out_budget: usize,
        counters: &Counters,
        now: Instant,
        mut room: Option<RoomCx<'_>>,
    ) -> (usize, Step) {
        self.ping_outstanding = false;
        let mut pos = 0;
        loop {
            if self.park().is_some() {
                return (pos, Step::Next(Next::Park));
            }
            if pos < input.len() && out.len() >= out_budget {
                return (pos, Step::Next(Next::Pause));
            }
            let (used, found) = self.inbound.read(&input[pos..], self.max_message);
            pos += used;
            match found {
                Ok(None) => return (pos, Step::Next(Next::Continue)),
                Ok(Some(Event::Message)) => {
                    let job = self.message(counters, now, room.as_mut());
                    self.count(counters);
                    if let Some(job) = job {
                        return (pos, Step::Handle(job));
                    }
                    match self.flush(out, now) {
                        Next::Continue | Next::Park => {}
                        next => return (input.len(), Step::Next(next)),
                    }
                }
                Ok(Some(Event::Control(op, payload))) => {
                    if let Some(next) = self.control(op, &payload, out) {
                        return (input.len(), Step::Next(next));
                    }
                }
                Err(f) => return (input.len(), Step::Next(self.fail(f, out, counters))),
            }
        }
    }

    /// A whole message from the client: logged, then answered by the script, the
    /// echo, or (`Some`) the handler.
    fn message(
        &mut self,
        counters: &Counters,
        now: Instant,
        room: Option<&mut RoomCx<'_>>,
    ) -> Option<Box<Job>> {
        let m = self.inbound.take_message()?;
        let message = if m.opcode == opcode::TEXT {
            // Validated as it arrived.
            WsMessage::Text(String::from_utf8_lossy(&m.data).into_owned())
        } else {
            WsMessage::Binary(m.data.clone())
        };
        self.inbound.recycle(m);
        counters.requests.incr();
        self.peer.nth += 1;
        if let Some(log) = &self.log {
            log.message(&message);
        }
        if self.wait != Wait::Nothing {
            // Closing: what comes before the client's close is dropped.
            return None;
        }
        let spec = self.spec.clone();
        let mut scripted = false;
        for (when, reply) in &spec.replies {
            if when.matches(&message) {
                scripted = true;
                self.send(reply, now);
            }
        }
        if !scripted {
            match &spec.behavior {
                WsBehavior::Echo => self.send(&message, now),
                WsBehavior::Handler(h) => {
                    return Some(Box::new(Job {
                        handler: h.clone(),
                        peer: self.peer.clone(),
                        message,
                    }));
                }
                WsBehavior::Room(_) => {
                    if let (Some(m), Some(r)) = (self.membership, room) {
                        counters.broadcasts.incr();
                        // The rooms carry the frame protocol's data frames; each
                        // member gets it encoded once per worker (the fan-out).
                        let data = message.as_bytes();
                        let mut f = Vec::with_capacity(frame_codec::HEADER_LEN + data.len());
                        frame_codec::encode(FrameType::Data, data, &mut f);
                        r.hub
                            .broadcast(m, Bytes::from(f), message.is_text(), r.token);
                    }
                }
                WsBehavior::Script => {}
            }
        }
        self.answered(now);
        None
    }

    /// The handler's reply came back (`Err`: it failed or panicked): sends it.
    pub(crate) fn handled(
        &mut self,
        reply: Result<WsReply, WsHandlerError>,
        out: &mut Reply,
        counters: &Counters,
        now: Instant,
    ) -> Next {
        self.wait = Wait::Nothing;
        let reply = match reply {
            Ok(r) if r.close.as_ref().is_none_or(|(c, _)| close::sendable(*c)) => r,
            Ok(_) => {
                counters.handler_errors.incr();
                let f = Fail(
                    code::INTERNAL,
                    "handler gave a close code a server may not send",
                );
                return self.fail(f, out, counters);
            }
            Err(_) => {
                counters.handler_errors.incr();
                return self.fail(Fail(code::INTERNAL, "handler failed"), out, counters);
            }
        };
        for m in &reply.messages {
            self.send(m, now);
        }
        if let Some((c, reason)) = &reply.close {
            self.close_with(*c, reason, now);
        }
        self.answered(now);
        self.count(counters);
        self.flush(out, now)
    }

    /// The messages queued are counted as responses.
    fn count(&mut self, counters: &Counters) {
        if self.sent > 0 {
            counters.responses.add(self.sent);
            self.sent = 0;
        }
    }

    /// A deadline passed: the handler's (it failed), the close wait's, or the
    /// queue's next item's.
    pub(crate) fn due(&mut self, out: &mut Reply, counters: &Counters, now: Instant) -> Next {
        match self.wait {
            Wait::Handler { .. } => {
                self.wait = Wait::Nothing;
                counters.handler_errors.incr();
                self.fail(Fail(code::INTERNAL, "handler timed out"), out, counters)
            }
            _ => self.flush(out, now),
        }
    }

    /// One more message answered: the faults for this count play.
    fn answered(&mut self, now: Instant) {
        self.answered += 1;
        self.play_faults(now);
    }

    fn play_faults(&mut self, now: Instant) {
        let spec = self.spec.clone();
        for (after, fault) in &spec.faults {
            if *after != self.answered {
                continue;
            }
            match fault {
                WsFault::Close { code, reason } => self.close_with(*code, reason, now),
                WsFault::Abort => self.enqueue(Item::End(End::Abort), now, false),
                WsFault::Reset => self.enqueue(Item::End(End::Reset), now, false),
                WsFault::InvalidFrame => {
                    // FIN and opcode 0x3, reserved for data frames to come.
                    self.enqueue(Item::Bytes(vec![0x83, 0x00]), now, true);
                }
                WsFault::InvalidUtf8 => {
                    let mut b = Vec::new();
                    frame::encode(true, false, opcode::TEXT, b"not \xff\xfe UTF-8", &mut b);
                    self.enqueue(Item::Bytes(b), now, true);
                }
            }
        }
    }

    /// Queues our close frame; the connection then waits for the client's.
    fn close_with(&mut self, c: u16, reason: &str, now: Instant) {
        if let Some(log) = &self.log {
            log.server_close(c, reason);
        }
        let mut body = Vec::new();
        close::encode_close(c, reason, &mut body);
        let mut b = Vec::new();
        frame::encode(true, false, opcode::CLOSE, &body, &mut b);
        self.enqueue(Item::Bytes(b), now, false);
        self.enqueue(Item::End(End::Closing), now, false);
    }

    /// Queues a message: framed (fragmented, compressed when agreed), then delayed
    /// and dripped as the endpoint says.
    fn send(&mut self, m: &WsMessage, now: Instant) {
        self.sent += 1;
        let op = if m.is_text() {
            opcode::TEXT
        } else {
            opcode::BINARY
        };
        let data = m.as_bytes();
        let mut b = Vec::with_capacity(data.len() + 14);
        let (payload, rsv1) = match self.inbound.deflate.as_mut() {
            Some(d) if !data.is_empty() => (d.compress(data).to_vec(), true),
            _ => (data.to_vec(), false),
        };
        match self.spec.fragment {
            Some(n) if payload.len() > n => {
                let mut pieces = payload.chunks(n).peekable();
                let mut first = true;
                while let Some(p) = pieces.next() {
                    let fin = pieces.peek().is_none();
                    let op = if first { op } else { opcode::CONTINUATION };
                    frame::encode(fin, rsv1 && first, op, p, &mut b);
                    first = false;
                }
            }
            _ => frame::encode(true, rsv1, op, &payload, &mut b),
        }
        self.enqueue(Item::Bytes(b), now, true);
    }

    /// Puts an item in the queue, due after the items before it; bytes are
    /// delayed and dripped when `shaped` and the endpoint says so.
    fn enqueue(&mut self, item: Item, now: Instant, shaped: bool) {
        let mut due = self.last_due.max(now);
        if shaped {
            if let Some(d) = self.spec.delay {
                due = self.last_due.max(now + d);
            }
            if let (Some((n, every)), Item::Bytes(b)) = (self.spec.drip, &item) {
                for (i, piece) in b.chunks(n).enumerate() {
                    let at = due + every * i as u32;
                    self.queue.push_back((at, Item::Bytes(piece.to_vec())));
                    self.last_due = at;
                }
                return;
            }
        }
        self.queue.push_back((due, item));
        self.last_due = due;
    }

    /// Sends what is due: Continue when the queue is empty, Park when more is to
    /// come, or the end an item asks for.
    fn flush(&mut self, out: &mut Reply, now: Instant) -> Next {
        while let Some((at, _)) = self.queue.front() {
            if *at > now {
                return Next::Park;
            }
            let Some((_, item)) = self.queue.pop_front() else {
                break;
            };
            match item {
                Item::Bytes(b) => out.extend_from_slice(&b),
                Item::End(End::Closing) => {
                    self.queue.clear();
                    self.wait = Wait::Closing;
                    return Next::Continue;
                }
                Item::End(End::Abort) => return Next::Close,
                Item::End(End::Reset) => return Next::Reset,
            }
        }
        Next::Continue
    }

    /// A control frame, whole and unmasked: `Some` ends the reading.
    fn control(&mut self, op: u8, payload: &[u8], out: &mut Reply) -> Option<Next> {
        match op {
            opcode::PING => {
                if !self.spec.no_pong {
                    frame::encode(true, false, opcode::PONG, payload, out.bytes());
                }
                None
            }
            opcode::PONG => None,
            _ => {
                let parsed = close::parse_close(payload);
                if let Some(log) = &self.log {
                    match &parsed {
                        Ok(Some((c, reason))) => log.close_frame(Some(*c), reason),
                        _ => log.close_frame(None, ""),
                    }
                }
                if self.wait == Wait::Closing {
                    // Ours went first: the handshake is complete.
                    return Some(Next::Close);
                }
                let mut body = Vec::new();
                match parsed {
                    Ok(Some((c, _))) => close::encode_close(c, "", &mut body),
                    Ok(None) => {}
                    Err(e) => close::encode_close(e.close_code(), "bad close frame", &mut body),
                }
                // Whatever was still queued (a delay, a drip) is dropped.
                self.queue.clear();
                frame::encode(true, false, opcode::CLOSE, &body, out.bytes());
                Some(Next::Close)
            }
        }
    }

    /// Fails the connection: a close frame with the code, counted, then closed.
    fn fail(&mut self, f: Fail, out: &mut Reply, counters: &Counters) -> Next {
        if f.0 != code::INTERNAL {
            counters.protocol_errors.incr();
        }
        self.inbound.abandon();
        self.queue.clear();
        if let Some(log) = &self.log {
            log.server_close(f.0, f.1);
        }
        let mut body = Vec::new();
        close::encode_close(f.0, f.1, &mut body);
        frame::encode(true, false, opcode::CLOSE, &body, out.bytes());
        Next::Close
    }
}
