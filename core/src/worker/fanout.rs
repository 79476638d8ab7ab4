//! Delivering broadcast frames to this worker's room members (frame protocol).
//!
//! During a turn of the loop, sessions hand their data frames to the hub; frames
//! from other workers and host publishes arrive through the inbox. After the turn's
//! events, [`Worker::fan_out`] queues each frame on every recipient's output (a
//! reference to the one shared allocation, never a copy), applies the slow-consumer
//! policy to members already over `max_output_bytes` (a disconnected one gets the
//! rest of a frame partly sent and `ERROR slow consumer` within a grace, then is
//! closed), flushes every recipient once
//! (one vectored send for all the frames it got this turn), and pushes the frames
//! for other workers into their inboxes with one wake each.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::connection::{sink, Connection, Phase};
use super::token::ConnToken;
use super::{live, Fate, Worker};
use crate::config::SlowConsumer;
use crate::protocol::frame::codec::{self, op};
use crate::protocol::Session;
use crate::rooms::hub::LocalDelivery;
use crate::rooms::registry::{Delivery, Incoming};

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
fn offer(conn: &mut Connection, frame: &Bytes, max_output: usize, policy: SlowConsumer) -> Offer {
    if conn.phase != Phase::Open || conn.read_closed {
        // Closing (a slow consumer being disconnected this turn, or by its own
        // course), or its client shut down its side (it closes once its answers
        // are sent): it gets nothing more.
        return Offer {
            dropped: 1,
            ..Offer::default()
        };
    }
    let mut dropped = 0;
    if conn.output.len() > max_output {
        match policy {
            SlowConsumer::Disconnect => {
                conn.phase = Phase::Evicted;
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
                let need = conn.output.len() + frame.len() - max_output;
                dropped = conn.output.drop_queued_shared(need);
                if conn.output.len() > max_output {
                    // Nothing left to drop but its own answers: drop the new one.
                    return Offer {
                        dropped: dropped + 1,
                        ..Offer::default()
                    };
                }
            }
        }
    }
    conn.output.push_shared(frame.clone());
    Offer {
        queued: true,
        dropped,
        disconnect: false,
    }
}

impl Worker {
    /// At exit: host publishes still queued for this worker are told it is done, so
    /// that `Server::publish` does not wait for a worker that is gone.
    pub(super) fn release_inbox(&mut self) {
        self.io.shared.rooms.inboxes[self.io.index].take(&mut self.io.incoming);
        for item in self.io.incoming.drain(..) {
            if let Incoming::Frame(Delivery { tally: Some(t), .. }) = item {
                t.worker_done();
            }
        }
    }

    /// Takes what other workers and host publishes sent to this worker.
    pub(super) fn take_inbox(&mut self) {
        let Some(hub) = self.io.hub.as_mut() else {
            return;
        };
        self.io.shared.rooms.inboxes[self.io.index].take(&mut self.io.incoming);
        hub.accept(&mut self.io.incoming);
    }

    /// Delivers the turn's frames, flushes their recipients, and sends the frames
    /// for other workers on their way.
    pub(super) fn fan_out(&mut self) {
        let Some(hub) = self.io.hub.as_mut() else {
            return;
        };
        if !hub.joined.is_empty() {
            self.send_joined();
        }
        let Some(hub) = self.io.hub.as_mut() else {
            return;
        };
        if !hub.local.is_empty() {
            let mut batch = std::mem::take(&mut hub.local);
            for d in batch.drain(..) {
                self.deliver(d);
            }
            if let Some(hub) = self.io.hub.as_mut() {
                if hub.local.is_empty() {
                    hub.local = batch; // keep the capacity
                }
            }
            self.disconnect_doomed();
            self.flush_queued();
        }
        if let Some(hub) = self.io.hub.as_mut() {
            let wakers = &self.io.shared.wakers;
            hub.flush_outboxes(|w| {
                // A failed wake only means that worker's loop is already gone.
                let _ = wakers[w].wake();
            });
        }
    }

    /// Queues one frame for every local member of its room but the sender.
    fn deliver(&mut self, d: LocalDelivery) {
        let io = &mut self.io;
        let (mut delivered, mut dropped, mut disconnected) = (0u64, 0u64, 0u64);
        let mut written = 0u64;
        let room = io
            .hub
            .as_ref()
            .and_then(|hub| hub.rooms.get(d.room))
            .filter(|r| Arc::ptr_eq(&r.shared, &d.shared));
        if let Some(room) = room {
            // Members waiting for JOINED get nothing yet (rare: a new room with a
            // backplane, for a round trip to the broker).
            let waiting = !room.waiting.is_empty();
            for (_, &token) in room.members.iter() {
                if Some(token) == d.except || (waiting && room.waiting.contains(&token)) {
                    continue;
                }
                let Some(ct) = ConnToken::from_token(token) else {
                    continue;
                };
                let Some(conn) = live(&mut self.conns, ct) else {
                    continue;
                };
                if conn.output.len() > io.max_output {
                    // Over the limit with what this turn queued: a member is slow
                    // only if the kernel will not take it now. (An error shows in
                    // the flush after the deliveries, which closes it.)
                    let mut sink = sink(&conn.stream, &mut conn.tls);
                    let (n, _) = conn.output.send(&mut sink, &mut io.pool, &mut io.delivered);
                    written += n as u64;
                }
                let o = offer(conn, &d.frame, io.max_output, io.slow_consumer);
                dropped += o.dropped;
                if o.queued {
                    delivered += 1;
                    if !conn.queued {
                        conn.queued = true;
                        io.flushing.push(ct);
                    }
                }
                if o.disconnect {
                    disconnected += 1;
                    io.doomed.push(ct);
                }
            }
        }
        let counters = &io.shared.counters[io.index];
        counters.bytes_written.add(written);
        counters.frames_dropped.add(dropped);
        counters.slow_consumer_disconnects.add(disconnected);
        if let Some(t) = d.tally {
            // The report says what became of the frame now: queued for a member
            // (`delivered`), dropped for one, or one disconnected for it. The
            // stats count a queued frame as delivered once it is sent whole.
            t.delivered.fetch_add(delivered, Ordering::Relaxed);
            t.dropped
                .fetch_add(dropped - disconnected, Ordering::Relaxed);
            t.disconnected.fetch_add(disconnected, Ordering::Relaxed);
            t.worker_done();
        }
    }

    /// Tells the members whose room became ready that they are in (`JOINED
    /// <room>`), before any frame for them this turn, and resumes the input each
    /// kept back behind its `JOIN`.
    fn send_joined(&mut self) {
        let Some(hub) = self.io.hub.as_mut() else {
            return;
        };
        let joined = std::mem::take(&mut hub.joined);
        let mut answer = Vec::new();
        for (token, room) in &joined {
            let Some(ct) = ConnToken::from_token(*token) else {
                continue;
            };
            let Some(conn) = live(&mut self.conns, ct) else {
                continue;
            };
            if conn.phase != Phase::Open {
                continue;
            }
            answer.clear();
            codec::encode_control(op::JOINED, room.as_bytes(), &mut answer);
            conn.output.push_copy(&answer, &mut self.io.pool);
            self.io.counters().responses.incr();
            if !conn.queued {
                conn.queued = true;
                self.io.flushing.push(ct);
            }
            if let Session::Frame(s) = &mut conn.session {
                if s.awaiting_joined() {
                    s.joined();
                    // The frames after its JOIN are answered next turn.
                    self.io.requeue(conn);
                }
            }
        }
        if let Some(hub) = self.io.hub.as_mut() {
            hub.joined = joined;
            hub.joined.clear();
        }
        if self.io.hub.as_ref().is_some_and(|h| h.local.is_empty()) {
            self.flush_queued();
        }
    }

    /// Closes the slow consumers found this turn: what is queued for them is
    /// dropped (but a frame partly sent is finished), `ERROR slow consumer` is
    /// handed to the kernel if it takes it, then the connection closes.
    fn disconnect_doomed(&mut self) {
        let doomed = std::mem::take(&mut self.io.doomed);
        let mut error = Vec::new();
        codec::encode_control(op::ERROR, b"slow consumer", &mut error);
        for &ct in &doomed {
            self.step(ct, |io, conn| {
                // Out of the room at once: no frame is offered to it any more.
                if let (Session::Frame(s), Some(hub)) = (&mut conn.session, io.hub.as_mut()) {
                    if let Some(m) = s.take_membership() {
                        hub.leave(m);
                    }
                }
                // The frames cut here were never sent: dropped, not delivered.
                let cut = conn.output.truncate_to_started(&mut io.pool);
                io.counters().frames_dropped.add(cut);
                conn.output.push_copy(&error, &mut io.pool);
                // The rest of a frame partly sent, then the ERROR, within the grace.
                conn.phase = Phase::Evicted;
                conn.started = Some(io.now);
                conn.input_paused = false;
                if io.flush(conn) == Fate::Close {
                    return Fate::Close;
                }
                let backlog =
                    conn.pending_output() + crate::net::kernel_unsent(&conn.stream).unwrap_or(0);
                if let Session::Frame(s) = &mut conn.session {
                    s.evicted_progress(backlog);
                }
                io.settle(conn)
            });
        }
        self.io.doomed = doomed;
        self.io.doomed.clear();
    }

    /// Sends what this turn queued on each recipient, once each.
    fn flush_queued(&mut self) {
        let list = std::mem::take(&mut self.io.flushing);
        for &ct in &list {
            self.step(ct, |io, conn| {
                conn.queued = false;
                if io.flush(conn) == Fate::Close {
                    Fate::Close
                } else {
                    io.settle(conn)
                }
            });
        }
        self.io.flushing = list;
        self.io.flushing.clear();
    }
}
