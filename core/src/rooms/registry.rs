//! The server-wide room registry and the per-worker inboxes.
//!
//! The registry maps a room name to its [`RoomShared`]: how many members the room
//! has on each worker. It is locked only to join or leave (rare); the per-frame
//! path reads a room's per-worker counts with relaxed atomic loads to know which
//! workers to send a frame to, and never locks.
//!
//! Frames for members on another worker travel through that worker's [`Inbox`]: the
//! sending worker collects them during a turn of its loop and appends them in one
//! locked push per target worker, then wakes it once. The backplane's link thread
//! uses the same inboxes for frames from other servers, and to say that a new
//! room's subscription is confirmed ([`Incoming::Ready`]).
//!
//! With a backplane, a room new on this server starts not *ready*: its members
//! get their `JOINED` once the broker has confirmed the subscription. The
//! registry asks the backplane to subscribe and unsubscribe under its lock, so
//! the requests reach it in the order rooms were made and freed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use bytes::Bytes;

use crate::backplane::Backplane;
use crate::stats::RoomCounts;

/// One room as every worker sees it.
#[derive(Debug)]
pub(crate) struct RoomShared {
    pub(crate) name: Arc<str>,
    /// Members on each worker.
    members: Box<[AtomicU32]>,
    /// Members may be told `JOINED`: always without a backplane; with one, once
    /// the broker confirmed the subscription (or could not be reached).
    ready: AtomicBool,
}

impl RoomShared {
    /// Members of this room on `worker` (a relaxed read: a member joining at this
    /// very moment may be missed, which is right: its JOINED is not sent yet).
    #[inline]
    pub(crate) fn members_on(&self, worker: usize) -> u32 {
        self.members[worker].load(Ordering::Relaxed)
    }

    /// Whether a member joining now is told `JOINED` at once.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the room ready; true if it was not (the caller then tells the
    /// workers, whose waiting members get their `JOINED`).
    pub(crate) fn make_ready(&self) -> bool {
        !self.ready.swap(true, Ordering::AcqRel)
    }

    fn total(&self) -> u64 {
        self.members
            .iter()
            .map(|m| u64::from(m.load(Ordering::Relaxed)))
            .sum()
    }
}

/// Counts of one host publish, filled in by every worker that has members.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) delivered: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) disconnected: AtomicU64,
    /// Workers that have not handled the publish yet.
    pending: Mutex<usize>,
    done: Condvar,
}

impl Tally {
    pub(crate) fn new(workers: usize) -> Tally {
        Tally {
            pending: Mutex::new(workers),
            ..Tally::default()
        }
    }

    /// One worker has handled it.
    pub(crate) fn worker_done(&self) {
        let mut left = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.done.notify_all();
        }
    }

    /// Waits until every worker has handled it or `deadline` passes; true if all did.
    pub(crate) fn wait(&self, deadline: std::time::Instant) -> bool {
        let mut left = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        while *left > 0 {
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            left = self
                .done
                .wait_timeout(left, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

/// A frame for the members of a room on one worker.
pub(crate) struct Delivery {
    pub(crate) room: Arc<str>,
    /// The whole frame, header included, shared by every recipient.
    pub(crate) frame: Bytes,
    /// The payload is text (a WebSocket text message): WebSocket members get it as
    /// text, frame members as a data frame.
    pub(crate) text: bool,
    /// Set for a host publish: where the worker adds its counts.
    pub(crate) tally: Option<Arc<Tally>>,
}

/// What a worker's inbox carries, in order.
pub(crate) enum Incoming {
    /// A frame for its members of a room.
    Frame(Delivery),
    /// The room's subscription is confirmed: its waiting members get `JOINED`.
    Ready(Arc<RoomShared>),
}

/// What waits for one worker.
#[derive(Default)]
pub(crate) struct Inbox {
    queue: Mutex<Vec<Incoming>>,
}

impl Inbox {
    /// Appends a batch (in order).
    pub(crate) fn push(&self, batch: &mut Vec<Incoming>) {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        q.append(batch);
    }

    /// Takes everything queued, into `into` (which keeps its capacity).
    pub(crate) fn take(&self, into: &mut Vec<Incoming>) {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut *q, into);
    }
}

/// The rooms of a server.
pub(crate) struct Registry {
    workers: usize,
    rooms: Mutex<HashMap<Arc<str>, Arc<RoomShared>>>,
    /// Members over all rooms.
    members: AtomicU64,
    /// Frames published by the host (counted as broadcasts).
    host_publishes: AtomicU64,
    /// One inbox per worker.
    pub(crate) inboxes: Box<[Inbox]>,
    /// Rooms shared with other servers through the broker, if configured.
    pub(crate) backplane: Option<Arc<Backplane<RoomShared>>>,
}

impl Registry {
    pub(crate) fn new(workers: usize, backplane: Option<Arc<Backplane<RoomShared>>>) -> Registry {
        Registry {
            backplane,
            workers,
            rooms: Mutex::new(HashMap::new()),
            members: AtomicU64::new(0),
            host_publishes: AtomicU64::new(0),
            inboxes: (0..workers).map(|_| Inbox::default()).collect(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Arc<RoomShared>>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A member joins `room` on `worker`; the count is in force when this returns.
    /// Also says whether the member may be told `JOINED` now (see
    /// [`RoomShared::is_ready`]); a room new on this server is subscribed to.
    pub(crate) fn join(&self, room: &str, worker: usize) -> (Arc<RoomShared>, bool) {
        let mut rooms = self.lock();
        let shared = match rooms.get(room) {
            Some(r) => r.clone(),
            None => {
                let name: Arc<str> = Arc::from(room);
                let r = Arc::new(RoomShared {
                    name: name.clone(),
                    members: (0..self.workers).map(|_| AtomicU32::new(0)).collect(),
                    ready: AtomicBool::new(self.backplane.is_none()),
                });
                rooms.insert(name, r.clone());
                if let Some(bp) = &self.backplane {
                    bp.subscribe(r.clone());
                }
                r
            }
        };
        shared.members[worker].fetch_add(1, Ordering::Relaxed);
        self.members.fetch_add(1, Ordering::Relaxed);
        let ready = shared.is_ready();
        (shared, ready)
    }

    /// A member of `room` on `worker` leaves; an empty room is freed (and
    /// unsubscribed from).
    pub(crate) fn leave(&self, room: &RoomShared, worker: usize) {
        let mut rooms = self.lock();
        room.members[worker].fetch_sub(1, Ordering::Relaxed);
        self.members.fetch_sub(1, Ordering::Relaxed);
        if room.total() == 0 && rooms.remove(&room.name).is_some() {
            if let Some(bp) = &self.backplane {
                bp.unsubscribe(room.name.clone());
            }
        }
    }

    /// The number of workers.
    pub(crate) fn workers(&self) -> usize {
        self.workers
    }

    /// The room of this name, if it has members.
    pub(crate) fn get(&self, room: &str) -> Option<Arc<RoomShared>> {
        self.lock().get(room).cloned()
    }

    /// Every room with its member count, by name.
    pub(crate) fn list(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .lock()
            .values()
            .map(|r| (r.name.to_string(), r.total()))
            .collect();
        out.sort();
        out
    }

    /// A host publish (any thread).
    pub(crate) fn count_host_publish(&self) {
        self.host_publishes.fetch_add(1, Ordering::Relaxed);
    }

    /// For stats: rooms, members over all rooms, host publishes.
    pub(crate) fn counts(&self) -> RoomCounts {
        RoomCounts {
            rooms: self.lock().len() as u64,
            members: self.members.load(Ordering::Relaxed),
            host_publishes: self.host_publishes.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_made_on_join_and_freed_when_empty() {
        let reg = Registry::new(2, None);
        let (a, ready) = reg.join("lobby", 0);
        assert!(ready, "without a backplane every room is ready");
        let (b, _) = reg.join("lobby", 1);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!((a.members_on(0), a.members_on(1)), (1, 1));
        assert_eq!(reg.list(), vec![("lobby".to_owned(), 2)]);
        assert_eq!((reg.counts().rooms, reg.counts().members), (1, 2));
        reg.leave(&a, 0);
        assert!(reg.get("lobby").is_some());
        reg.leave(&b, 1);
        assert!(reg.get("lobby").is_none());
        assert_eq!((reg.counts().rooms, reg.counts().members), (0, 0));
    }
}
