//! A worker's side of the rooms: its local members of each room, the frames it
//! owes its own members, and the frames it sends to other workers.
//!
//! Nothing here locks on the per-frame path: a broadcast appends to `local` (for
//! this worker's members, delivered by the worker after the turn's events) and to
//! one outbox per other worker that has members in the room (read from the room's
//! atomic per-worker counts). The worker pushes each non-empty outbox into its
//! target's inbox once per turn and wakes it once. With a backplane, the turn's
//! frames also go to the broker for the other servers, in one hand-over per turn.
//!
//! A member of a room that is not ready yet (its subscription is not confirmed)
//! waits for its `JOINED` and gets no frame until then.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use slab::Slab;

use super::registry::{Delivery, Incoming, Registry, RoomShared, Tally};
use crate::backplane::Outgoing;

/// A connection's membership, held by its frame session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Membership {
    /// The room's slot in [`Hub::rooms`].
    room: usize,
    /// The member's slot in the room.
    key: usize,
}

/// This worker's members of one room.
pub(crate) struct LocalRoom {
    pub(crate) shared: Arc<RoomShared>,
    /// Member connections (their mio tokens, generation included).
    pub(crate) members: Slab<mio::Token>,
    /// Members still waiting for `JOINED` (the room is not ready): they get no
    /// frame until then.
    pub(crate) waiting: Vec<mio::Token>,
}

/// Frames for this worker's members of a room.
pub(crate) struct LocalDelivery {
    pub(crate) room: usize,
    /// The room it is for: the slot may hold another room by the time it is
    /// delivered (every local member left, and a new room took the slot).
    pub(crate) shared: Arc<RoomShared>,
    pub(crate) frame: Bytes,
    /// The payload is text (see [`Delivery::text`]).
    pub(crate) text: bool,
    /// The sender, who does not get its own frame.
    pub(crate) except: Option<mio::Token>,
    pub(crate) tally: Option<Arc<Tally>>,
}

/// One worker's room state.
pub(crate) struct Hub {
    worker: usize,
    registry: Arc<Registry>,
    pub(crate) rooms: Slab<LocalRoom>,
    by_name: HashMap<Arc<str>, usize>,
    /// Frames owed to this worker's members, in order.
    pub(crate) local: Vec<LocalDelivery>,
    /// Frames for each other worker, pushed once per turn.
    outboxes: Box<[Vec<Incoming>]>,
    /// Frames for the other servers (with a backplane), handed over once per turn.
    remote: Option<Vec<Outgoing>>,
    /// Members whose room became ready: the worker sends them `JOINED <room>`.
    pub(crate) joined: Vec<(mio::Token, Arc<str>)>,
}

impl Hub {
    pub(crate) fn new(worker: usize, workers: usize, registry: Arc<Registry>) -> Hub {
        Hub {
            worker,
            rooms: Slab::new(),
            by_name: HashMap::new(),
            local: Vec::new(),
            outboxes: (0..workers).map(|_| Vec::new()).collect(),
            remote: registry.backplane.as_ref().map(|_| Vec::new()),
            joined: Vec::new(),
            registry,
        }
    }

    /// Adds `member` to `room`; in force (for every worker) when this returns.
    /// True if the member may be told `JOINED` now; otherwise it waits until the
    /// room is ready and the worker tells it then (see [`Hub::joined`]).
    pub(crate) fn join(&mut self, room: &str, member: mio::Token) -> (Membership, bool) {
        // The registry counts members per worker: each one, not each room.
        let (shared, ready) = self.registry.join(room, self.worker);
        let slot = match self.by_name.get(room) {
            Some(&slot) => slot,
            None => {
                let slot = self.rooms.insert(LocalRoom {
                    shared: shared.clone(),
                    members: Slab::new(),
                    waiting: Vec::new(),
                });
                self.by_name.insert(shared.name.clone(), slot);
                slot
            }
        };
        let local = &mut self.rooms[slot];
        let key = local.members.insert(member);
        if !ready {
            local.waiting.push(member);
        }
        (Membership { room: slot, key }, ready)
    }

    /// The name of the room a membership is in.
    pub(crate) fn room_name(&self, m: Membership) -> Option<&str> {
        self.rooms.get(m.room).map(|r| &*r.shared.name)
    }

    /// Removes a member; frees the local room (and the room, if it was the last
    /// member anywhere).
    pub(crate) fn leave(&mut self, m: Membership) {
        let Some(local) = self.rooms.get_mut(m.room) else {
            return;
        };
        let Some(token) = local.members.try_remove(m.key) else {
            return;
        };
        local.waiting.retain(|&t| t != token);
        self.registry.leave(&local.shared, self.worker);
        if local.members.is_empty() {
            let local = self.rooms.remove(m.room);
            self.by_name.remove(&local.shared.name);
        }
    }

    /// Sends `frame` (a whole data frame of the frame protocol; `text`: its payload
    /// is a WebSocket text message) to every other member of the sender's room, on
    /// every worker.
    pub(crate) fn broadcast(
        &mut self,
        m: Membership,
        frame: Bytes,
        text: bool,
        sender: mio::Token,
    ) {
        let Some(local) = self.rooms.get(m.room) else {
            return;
        };
        for (w, outbox) in self.outboxes.iter_mut().enumerate() {
            if w != self.worker && local.shared.members_on(w) > 0 {
                outbox.push(Incoming::Frame(Delivery {
                    room: local.shared.name.clone(),
                    frame: frame.clone(),
                    text,
                    tally: None,
                }));
            }
        }
        if let Some(remote) = &mut self.remote {
            remote.push(Outgoing {
                room: local.shared.name.clone(),
                frame: frame.clone(),
                text,
            });
        }
        if local.members.len() > 1 {
            self.local.push(LocalDelivery {
                room: m.room,
                shared: local.shared.clone(),
                frame,
                text,
                except: Some(sender),
                tally: None,
            });
        }
    }

    /// Turns deliveries that arrived from other workers, the backplane or a host
    /// publish into local ones; a delivery for a room this worker has no member of
    /// any more is dropped (its tally is still told this worker is done). A room
    /// that became ready moves its waiting members to [`Hub::joined`].
    pub(crate) fn accept(&mut self, incoming: &mut Vec<Incoming>) {
        for item in incoming.drain(..) {
            let d = match item {
                Incoming::Frame(d) => d,
                Incoming::Ready(room) => {
                    let local = self
                        .by_name
                        .get(&room.name)
                        .and_then(|&slot| self.rooms.get_mut(slot))
                        .filter(|local| Arc::ptr_eq(&local.shared, &room));
                    if let Some(local) = local {
                        for token in local.waiting.drain(..) {
                            self.joined.push((token, room.name.clone()));
                        }
                    }
                    continue;
                }
            };
            match self.by_name.get(&d.room) {
                Some(&room) => self.local.push(LocalDelivery {
                    room,
                    shared: self.rooms[room].shared.clone(),
                    frame: d.frame,
                    text: d.text,
                    except: None,
                    tally: d.tally,
                }),
                None => {
                    if let Some(t) = d.tally {
                        t.worker_done();
                    }
                }
            }
        }
    }

    /// Pushes each non-empty outbox into its worker's inbox (calling `wake` for
    /// each such worker) and hands the turn's frames for other servers to the
    /// backplane.
    pub(crate) fn flush_outboxes(&mut self, mut wake: impl FnMut(usize)) {
        for (w, outbox) in self.outboxes.iter_mut().enumerate() {
            if !outbox.is_empty() {
                self.registry.inboxes[w].push(outbox);
                wake(w);
            }
        }
        if let (Some(remote), Some(bp)) = (&mut self.remote, &self.registry.backplane) {
            bp.offer(remote);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_broadcast_leave() {
        let reg = Arc::new(Registry::new(2, None));
        let mut a = Hub::new(0, 2, reg.clone());
        let mut b = Hub::new(1, 2, reg.clone());
        let (t1, t2, t3) = (mio::Token(1), mio::Token(2), mio::Token(3));
        let (m1, _) = a.join("r", t1);
        let (m2, _) = a.join("r", t2);
        let (m3, ready) = b.join("r", t3);
        assert!(ready);
        assert_eq!(reg.list(), vec![("r".to_owned(), 3)]);
        a.broadcast(m1, Bytes::from_static(b"frame"), false, t1);
        assert_eq!(a.local.len(), 1);
        assert_eq!(a.local[0].except, Some(t1));
        let mut woken = vec![];
        a.flush_outboxes(|w| woken.push(w));
        assert_eq!(woken, [1]);
        let mut inbox = Vec::new();
        reg.inboxes[1].take(&mut inbox);
        assert_eq!(inbox.len(), 1);
        b.accept(&mut inbox);
        assert_eq!(b.local.len(), 1);
        assert_eq!(b.local[0].except, None);
        a.leave(m1);
        a.leave(m2);
        a.leave(m2); // twice: nothing happens
        assert!(a.rooms.is_empty());
        assert_eq!(reg.list(), vec![("r".to_owned(), 1)]);
        b.leave(m3);
        assert!(reg.list().is_empty());
    }
}
