//! The rooms as the backplane sees them: [`RoomShared`] is its [`Room`], and
//! [`Remote`] is where its link thread delivers (the [`Local`] side): frames
//! from other servers and rooms whose subscription is confirmed, collected per
//! worker during a turn of the link's loop and pushed into the workers' inboxes
//! with one wake each.

use std::sync::Arc;

use bytes::Bytes;
use mio::Waker;

use super::registry::{Delivery, Incoming, Registry, RoomShared};
use crate::backplane::{Local, Room};

impl Room for RoomShared {
    fn name(&self) -> &Arc<str> {
        &self.name
    }

    fn make_ready(&self) -> bool {
        RoomShared::make_ready(self)
    }
}

/// What the link thread hands to this server's workers.
pub(crate) struct Remote {
    registry: Arc<Registry>,
    /// One per worker.
    wakers: Arc<[Waker]>,
    /// What to push into each worker's inbox after this turn.
    batches: Box<[Vec<Incoming>]>,
}

impl Remote {
    pub(crate) fn new(registry: Arc<Registry>, wakers: Arc<[Waker]>) -> Remote {
        let batches = (0..registry.workers()).map(|_| Vec::new()).collect();
        Remote {
            registry,
            wakers,
            batches,
        }
    }
}

impl Local for Remote {
    type Room = RoomShared;

    fn deliver(&mut self, room: &Arc<RoomShared>, frame: Bytes, text: bool) {
        for (w, batch) in self.batches.iter_mut().enumerate() {
            if room.members_on(w) > 0 {
                batch.push(Incoming::Frame(Delivery {
                    room: room.name.clone(),
                    frame: frame.clone(),
                    text,
                    tally: None,
                }));
            }
        }
    }

    fn ready(&mut self, room: &Arc<RoomShared>) {
        for batch in self.batches.iter_mut() {
            batch.push(Incoming::Ready(room.clone()));
        }
    }

    fn flush(&mut self) {
        for (w, batch) in self.batches.iter_mut().enumerate() {
            if !batch.is_empty() {
                self.registry.inboxes[w].push(batch);
                // A failed wake only means that worker's loop is already gone.
                let _ = self.wakers[w].wake();
            }
        }
    }
}
