//! Delivering broadcast frames to this worker's room members, at the end of each
//! loop turn: the rooms' part every room service shares (the frame protocol and
//! WebSocket), each encoding a delivery its own way, once per delivery.
//!
//! During a turn, sessions hand their data frames to the hub; frames from other
//! workers, the backplane and host publishes arrive through the inbox. Then
//! [`fan_out`] queues each frame on every recipient's send queue (a reference to
//! the one shared allocation, never a copy), applies the slow-consumer policy to
//! members already over `max_output_bytes` (a disconnected one leaves its room at
//! once and gets the rest of a frame partly sent, then `ERROR slow consumer`,
//! within a grace), and pushes the frames for other workers into their inboxes
//! with one wake each. The engine then flushes every recipient once (one vectored
//! send for all the frames it got this turn).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::config::SlowConsumer;
use crate::engine::{Peer, Peers};
use crate::rooms::hub::{Hub, LocalDelivery, Membership};
use crate::rooms::registry::{Delivery, Incoming};
use crate::server_core::ServerCore;
use crate::stats::Counters;

/// How many encodings of a delivery a service may have: a WebSocket server's
/// rooms hold WebSocket members (with and without permessage-deflate) and
/// frame-protocol members.
pub(crate) const ENCODINGS: usize = 3;

/// A session that may be a room member.
pub(crate) trait Member {
    /// The membership, taken (the member leaves its room).
    fn take_membership(&mut self) -> Option<Membership>;

    /// Which of the service's encodings of a delivery this member gets
    /// (`0..ENCODINGS`); each is made once per delivery, when a member needs it.
    #[inline]
    fn encoding(&self) -> usize {
        0
    }
}

/// What offering a frame to a member did.
#[derive(Debug, Default, Clone, Copy)]
struct Offer {
    queued: bool,
    /// Frames dropped for it (the new one, or older queued ones).
    dropped: u64,
    disconnect: bool,
}

/// Queues `frame` for a member, or applies the slow-consumer policy when its
/// pending output is already over `max_output`.
#[inline]
fn offer<S>(m: &mut Peer<'_, S>, frame: &Bytes, max_output: usize, policy: SlowConsumer) -> Offer {
    if !m.receptive() {
        // Closing (a slow consumer disconnected this turn, or by its own course),
        // or its client shut down its side (it closes once its answers are sent):
        // it gets nothing more.
        return Offer {
            dropped: 1,
            ..Offer::default()
        };
    }
    let mut dropped = 0;
    if m.pending() > max_output {
        match policy {
            SlowConsumer::Disconnect => {
                return Offer {
                    // The frame it was offered is not delivered to it either.
                    dropped: 1,
                    disconnect: true,
                    ..Offer::default()
                };
            }
            SlowConsumer::DropNewest => {
                return Offer {
                    dropped: 1,
                    ..Offer::default()
                }
            }
            SlowConsumer::DropOldest => {
                let need = m.pending() + frame.len() - max_output;
                dropped = m.drop_queued_shared(need);
                if m.pending() > max_output {
                    // Nothing left to drop but its own answers: drop the new one.
                    return Offer {
                        dropped: dropped + 1,
                        ..Offer::default()
                    };
                }
            }
        }
    }
    m.queue_shared(frame.clone());
    Offer {
        queued: true,
        dropped,
        disconnect: false,
    }
}

/// Delivers the turn's frames under the slow-consumer `policy` (a member
/// disconnected gets `slow_error` last), each encoded once by `encode` for all its
/// recipients, and sends the frames for other workers on their way (`wake` wakes a
/// worker).
fn fan_out<S: Member>(
    hub: &mut Hub,
    peers: &mut Peers<'_, S>,
    policy: SlowConsumer,
    slow_error: &[Vec<u8>; ENCODINGS],
    mut encode: impl FnMut(&LocalDelivery, usize) -> Bytes,
    wake: impl FnMut(usize),
) {
    if !hub.local.is_empty() {
        let mut batch = std::mem::take(&mut hub.local);
        let mut doomed = Vec::new();
        for d in batch.drain(..) {
            deliver(hub, peers, d, policy, slow_error, &mut encode, &mut doomed);
        }
        if hub.local.is_empty() {
            hub.local = batch; // keep the capacity
        }
        // Out of the room at once: no frame is offered to them any more.
        for token in doomed {
            if let Some(m) = peers
                .get(token)
                .and_then(|mut p| p.session().take_membership())
            {
                hub.leave(m);
            }
        }
    }
    hub.flush_outboxes(wake);
}

/// Queues one frame for every local member of its room but the sender.
fn deliver<S: Member>(
    hub: &Hub,
    peers: &mut Peers<'_, S>,
    d: LocalDelivery,
    policy: SlowConsumer,
    slow_error: &[Vec<u8>; ENCODINGS],
    encode: &mut impl FnMut(&LocalDelivery, usize) -> Bytes,
    doomed: &mut Vec<mio::Token>,
) {
    let (mut delivered, mut dropped, mut disconnected, mut cut) = (0u64, 0u64, 0u64, 0u64);
    let max_output = peers.max_output();
    let room = hub
        .rooms
        .get(d.room)
        .filter(|r| Arc::ptr_eq(&r.shared, &d.shared));
    if let Some(room) = room {
        let mut encoded: [Option<Bytes>; ENCODINGS] = Default::default();
        // Members waiting for JOINED get nothing yet (rare: a new room with a
        // backplane, for a round trip to the broker).
        let waiting = !room.waiting.is_empty();
        for (_, &token) in room.members.iter() {
            if Some(token) == d.except || (waiting && room.waiting.contains(&token)) {
                continue;
            }
            let Some(mut m) = peers.get(token) else {
                continue;
            };
            if m.pending() > max_output {
                // Over the limit with what this turn queued: a member is slow only
                // if the kernel will not take it now.
                m.send_now();
            }
            let e = m.session().encoding().min(ENCODINGS - 1);
            let frame = encoded[e].get_or_insert_with(|| encode(&d, e));
            let o = offer(&mut m, frame, max_output, policy);
            dropped += o.dropped;
            if o.queued {
                delivered += 1;
            }
            if o.disconnect {
                disconnected += 1;
                // The queue is cut after a frame partly sent (those cut were never
                // sent: dropped, not delivered), and the ERROR follows it.
                cut += m.evict(&slow_error[e]);
                doomed.push(token);
            }
        }
    }
    let counters = peers.counters();
    counters.frames_dropped.add(dropped + cut);
    counters.slow_consumer_disconnects.add(disconnected);
    if let Some(t) = d.tally {
        // The report says what became of the frame now: queued for a member
        // (`delivered`), dropped for one, or one disconnected for it. The stats
        // count a queued frame as delivered once it is sent whole.
        t.delivered.fetch_add(delivered, Ordering::Relaxed);
        t.dropped
            .fetch_add(dropped - disconnected, Ordering::Relaxed);
        t.disconnected.fetch_add(disconnected, Ordering::Relaxed);
        t.worker_done();
    }
}

/// At exit: host publishes still queued are told this worker is done.
fn release(incoming: &mut Vec<Incoming>) {
    for item in incoming.drain(..) {
        if let Incoming::Frame(Delivery { tally: Some(t), .. }) = item {
            t.worker_done();
        }
    }
}

/// A rooms service's part of one worker (the frame protocol's and WebSocket's):
/// the hub, the inbox it drains and the fan-out it runs at the end of each turn;
/// each service brings its own encoding of a delivery and its slow-consumer
/// goodbye.
pub(crate) struct Rooms {
    /// This worker's rooms.
    pub(crate) hub: Hub,
    shared: Arc<ServerCore>,
    worker: usize,
    policy: SlowConsumer,
    /// Deliveries taken from this worker's inbox (kept for its capacity).
    incoming: Vec<Incoming>,
    /// What a member disconnected as a slow consumer gets last, per encoding.
    slow_error: [Vec<u8>; ENCODINGS],
}

impl Rooms {
    /// Worker `worker`'s part of `shared`'s rooms.
    pub(crate) fn new(
        worker: usize,
        shared: &Arc<ServerCore>,
        slow_error: [Vec<u8>; ENCODINGS],
    ) -> Rooms {
        Rooms {
            hub: Hub::new(worker, shared.config.workers, shared.rooms.clone()),
            shared: shared.clone(),
            worker,
            policy: shared.config.slow_consumer,
            incoming: Vec::new(),
            slow_error,
        }
    }

    /// Takes what other workers, the backplane and host publishes sent to this
    /// worker: frames for its members (delivered at the end of the turn), and
    /// rooms now ready (their waiting members are resumed now, before any frame
    /// for them).
    pub(crate) fn take_events(&mut self, events: &mut Vec<(mio::Token, Arc<str>)>) {
        self.shared.rooms.inboxes[self.worker].take(&mut self.incoming);
        self.hub.accept(&mut self.incoming);
        events.append(&mut self.hub.joined);
    }

    /// The turn's deliveries, each encoded once per encoding its members need by
    /// `encode` ([`fan_out`]).
    pub(crate) fn end_turn<S: Member>(
        &mut self,
        peers: &mut Peers<'_, S>,
        encode: impl FnMut(&LocalDelivery, usize) -> Bytes,
    ) {
        let wakers = &self.shared.wakers;
        fan_out(
            &mut self.hub,
            peers,
            self.policy,
            &self.slow_error,
            encode,
            |w| {
                // A failed wake only means that worker's loop is already gone.
                let _ = wakers[w].wake();
            },
        );
    }

    /// A member's connection is closing: it leaves its room.
    pub(crate) fn close<S: Member>(&mut self, s: &mut S) {
        if let Some(m) = s.take_membership() {
            self.hub.leave(m);
        }
    }

    /// The worker is exiting: host publishes still queued for it are told it is
    /// done, so that `Server::publish` does not wait for a worker that is gone.
    pub(crate) fn exit(&mut self) {
        self.shared.rooms.inboxes[self.worker].take(&mut self.incoming);
        release(&mut self.incoming);
    }

    /// Frames sent whole count as delivered; those lost with a closing member as
    /// dropped (every frame offered to a member is counted once).
    #[inline]
    pub(crate) fn shared_sent(sent: u64, lost: u64, counters: &Counters) {
        counters.deliveries.add(sent);
        counters.responses.add(sent);
        counters.frames_dropped.add(lost);
    }

    /// The last worker exited: the backplane's link stops.
    pub(crate) fn last_exited(shared: &ServerCore) {
        if let Some(bp) = &shared.rooms.backplane {
            bp.request_stop();
        }
    }
}
