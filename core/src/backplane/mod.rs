//! The Redis backplane: rooms shared by several servers (processes or machines)
//! through Redis pub/sub.
//!
//! One thread per server (`pierhead-backplane`, [`link`]) holds two connections to
//! the broker (their sockets in [`conn`]) on its own mio loop: a subscriber
//! ([`subscriber`]) and a publisher ([`publisher`]), state machines without a
//! socket that share a [`session`] each, speaking RESP ([`resp`]) to the address
//! of the URL ([`url`]), and reconnecting after a [`backoff`]. The I/O threads
//! never touch them. The rooms are reached through the traits of [`local`]
//! (the rooms implement them; the backplane never names the rooms):
//!
//! - **Publishing**: a worker collects the data frames its members broadcast
//!   during a loop turn and hands them over with one locked push ([`Backplane::offer`]),
//!   waking the link only when the queue was empty. The link writes them as
//!   pipelined `PUBLISH` commands, many per write. The queue is bounded: while the
//!   broker is down or too slow, frames are dropped and counted
//!   (`BackplaneStats::unpublished`), never waited for.
//! - **Subscribing** follows interest: the registry asks for `SUBSCRIBE` when a
//!   room gets its first member on this server and `UNSUBSCRIBE` when its last one
//!   leaves. A new room's `JOINED` answers wait until the broker confirms the
//!   subscription (so a member that has its `JOINED` gets every frame published
//!   anywhere afterwards), except while the broker is unreachable: then rooms are
//!   local-only at once, and resubscribed when it is back.
//! - **Receiving**: each message is tagged with the origin server's id; the
//!   origin drops its own echo, the others copy the frame once into a shared
//!   allocation and hand it to every worker with members of the room through the
//!   same inboxes that carry frames between workers. Order is kept per (origin
//!   server, room); delivery across servers is at most once.
//!
//! Channels are named `pierhead/<db>/<room>`: pub/sub is not scoped by Redis
//! database numbers, so the URL's `/db` scopes the channel names instead.

mod backoff;
mod conn;
mod link;
mod local;
mod publisher;
mod resp;
mod session;
mod subscriber;
mod url;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::stats::LinkCounters;
pub use crate::stats::{BackplaneState, BackplaneStats};

pub(crate) use link::{run, WAKE};
pub(crate) use local::{Local, Room};
pub use url::{BackplaneUrl, DEFAULT_REDIS_PORT};

/// Frames waiting for the link, in bytes, beyond which new frames are dropped
/// (and counted) rather than queued.
const OUTBOUND_LIMIT: usize = 32 << 20;

/// A frame on its way to the broker.
pub(crate) struct Outgoing {
    pub(crate) room: Arc<str>,
    /// The whole frame, header included (shared with local recipients).
    pub(crate) frame: Bytes,
    /// Its payload is a WebSocket text message (carried in the origin tag's top
    /// bit, [`TEXT_BIT`]).
    pub(crate) text: bool,
}

/// The origin tag's top bit: the frame's payload is a WebSocket text message.
/// Server ids never have it set; a server that does not know the bit reads such a
/// tag as another origin, and delivers the frame as binary.
pub(crate) const TEXT_BIT: u64 = 1 << 63;

/// A subscription change, in the order the registry made it.
pub(crate) enum Command<R> {
    Subscribe(Arc<R>),
    Unsubscribe(Arc<str>),
}

/// Subscription changes waiting for the link.
struct Commands<R> {
    list: Vec<Command<R>>,
    /// The link thread has exited: nothing will wait for the broker any more.
    gone: bool,
}

impl<R> Default for Commands<R> {
    fn default() -> Self {
        Commands {
            list: Vec::new(),
            gone: false,
        }
    }
}

#[derive(Default)]
struct Outbound {
    frames: Vec<Outgoing>,
    bytes: usize,
}

/// The backplane as the workers, the registry and the handle see it; the link
/// thread does the I/O. `R` is the rooms' type ([`Room`]).
pub(crate) struct Backplane<R> {
    pub(crate) url: BackplaneUrl,
    /// The origin tag of this server's frames.
    pub(crate) id: u64,
    /// `pierhead/<db>/`: every room channel starts with it.
    pub(crate) prefix: Box<[u8]>,
    /// Largest frame payload, to check frames from the broker.
    pub(crate) max_frame_bytes: usize,
    waker: mio::Waker,
    outbound: Mutex<Outbound>,
    commands: Mutex<Commands<R>>,
    state: AtomicU8,
    /// Since when the link is not up (while connecting or down).
    down_since: Mutex<Option<Instant>>,
    stop: AtomicBool,
    counters: LinkCounters,
    /// Microseconds down, up to the last change of state.
    down_us: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl<R: Room> Backplane<R> {
    pub(crate) fn new(url: BackplaneUrl, max_frame_bytes: usize, waker: mio::Waker) -> Self {
        let prefix = format!("pierhead/{}/", url.db)
            .into_bytes()
            .into_boxed_slice();
        Backplane {
            url,
            id: server_id(),
            prefix,
            max_frame_bytes,
            waker,
            outbound: Mutex::default(),
            commands: Mutex::default(),
            state: AtomicU8::new(BackplaneState::Connecting.to_u8()),
            down_since: Mutex::new(Some(Instant::now())),
            stop: AtomicBool::new(false),
            counters: LinkCounters::default(),
            down_us: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// The link's state now.
    pub(crate) fn state(&self) -> BackplaneState {
        BackplaneState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Frames a worker broadcast this turn, for the other servers (one lock). While
    /// the link is not up, or beyond the queue's bound, they are dropped and
    /// counted; the link is woken only when the queue was empty.
    pub(crate) fn offer(&self, batch: &mut Vec<Outgoing>) {
        if batch.is_empty() {
            return;
        }
        if self.state() != BackplaneState::Connected {
            self.count_unpublished(batch.len() as u64);
            batch.clear();
            return;
        }
        let mut q = self.outbound.lock().unwrap_or_else(PoisonError::into_inner);
        let was_empty = q.frames.is_empty();
        let mut dropped = 0;
        for f in batch.drain(..) {
            if q.bytes + f.frame.len() > OUTBOUND_LIMIT {
                dropped += 1;
                continue;
            }
            q.bytes += f.frame.len();
            q.frames.push(f);
        }
        drop(q);
        self.count_unpublished(dropped);
        if was_empty {
            self.wake();
        }
    }

    /// A room got its first member on this server (called under the registry's
    /// lock, so that changes reach the link in the order they were made).
    pub(crate) fn subscribe(&self, room: Arc<R>) {
        self.command(Command::Subscribe(room));
    }

    /// A room's last member on this server left (under the registry's lock).
    pub(crate) fn unsubscribe(&self, room: Arc<str>) {
        self.command(Command::Unsubscribe(room));
    }

    fn command(&self, c: Command<R>) {
        let mut q = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        if q.gone {
            // No link to subscribe for it: the room is local (its first member,
            // joining now, is told JOINED at once).
            if let Command::Subscribe(room) = c {
                room.make_ready();
            }
            return;
        }
        q.list.push(c);
        drop(q);
        self.wake();
    }

    /// Asks the link thread to close its connections and exit.
    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake();
    }

    fn wake(&self) {
        // A failed wake only means the link thread is already gone.
        let _ = self.waker.wake();
    }

    fn count_unpublished(&self, n: u64) {
        if n > 0 {
            self.counters.unpublished.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// A snapshot for `Stats` and the stop report.
    pub(crate) fn stats(&self) -> BackplaneStats {
        let mut down = Duration::from_micros(self.down_us.load(Ordering::Relaxed));
        if let Some(since) = *self
            .down_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            down += since.elapsed();
        }
        let last_error = self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        BackplaneStats::sum(&self.counters, self.state(), self.id, down, last_error)
    }

    /// The link's new state (link thread only); keeps the down-time account.
    fn set_state(&self, to: BackplaneState) {
        self.set_state_at(to, Instant::now());
    }

    /// The link's new state, which began at `at` (not later than now): a broker
    /// found unresponsive is down since it stopped answering.
    fn set_state_at(&self, to: BackplaneState, at: Instant) {
        let from = BackplaneState::from_u8(self.state.swap(to.to_u8(), Ordering::AcqRel));
        if from == to {
            return;
        }
        let mut since = self
            .down_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let up = to == BackplaneState::Connected;
        match (*since, up) {
            (Some(t), true) => {
                let us = t.elapsed().as_micros() as u64;
                self.down_us.fetch_add(us, Ordering::Relaxed);
                *since = None;
            }
            (None, false) => {
                // Down since `at`: earlier than now for a broker found
                // unresponsive only after a timeout.
                *since = Some(at);
            }
            _ => {}
        }
        if to == BackplaneState::Stopped {
            if let Some(t) = since.take() {
                let us = t.elapsed().as_micros() as u64;
                self.down_us.fetch_add(us, Ordering::Relaxed);
            }
        }
    }

    fn set_error(&self, e: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(e);
    }

    /// Takes the queued changes; with `last`, marks the link gone (later rooms
    /// do not wait for it).
    fn take_commands(&self, into: &mut Vec<Command<R>>, last: bool) {
        let mut q = self.commands.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut q.list, into);
        q.gone |= last;
    }

    fn take_outbound(&self, into: &mut Vec<Outgoing>) {
        let mut q = self.outbound.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut q.frames, into);
        q.bytes = 0;
    }

    fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// A server id that differs between servers and processes (and machines): the
/// standard library's randomly keyed hasher over the time, the process id and a
/// per-process counter.
fn server_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.write_u64(SEQ.fetch_add(1, Ordering::Relaxed));
    h.finish() & !TEXT_BIT
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::rooms::registry::{Registry, RoomShared};

    fn backplane() -> (mio::Poll, Arc<Backplane<RoomShared>>) {
        let poll = mio::Poll::new().unwrap();
        let waker = mio::Waker::new(poll.registry(), link::WAKE).unwrap();
        let url = BackplaneUrl::parse("redis://127.0.0.1:1").unwrap();
        (poll, Arc::new(Backplane::new(url, 1024, waker)))
    }

    #[test]
    fn rooms_wait_for_the_link_and_not_once_it_is_gone() {
        let (_poll, bp) = backplane();
        let reg = Registry::new(1, Some(bp.clone()));
        let (_, ready) = reg.join("early", 0);
        assert!(!ready, "a new room waits for its subscription");
        let mut queued = Vec::new();
        bp.take_commands(&mut queued, true); // the link thread exits
        assert!(matches!(&queued[..], [Command::Subscribe(r)] if &*r.name == "early"));
        let (_, ready) = reg.join("late", 0);
        assert!(ready, "no link: nothing to wait for");
    }

    #[test]
    fn frames_offered_while_the_link_is_not_up_are_counted_not_queued() {
        let (_poll, bp) = backplane();
        let frame = Bytes::from_static(b"frame");
        let mut batch: Vec<Outgoing> = (0..3)
            .map(|_| Outgoing {
                room: Arc::from("r"),
                frame: frame.clone(),
                text: false,
            })
            .collect();
        bp.offer(&mut batch);
        assert!(batch.is_empty());
        assert_eq!(bp.stats().unpublished, 3);
        let mut taken = Vec::new();
        bp.take_outbound(&mut taken);
        assert!(taken.is_empty());
        assert_eq!(bp.stats().state, BackplaneState::Connecting);
    }

    #[test]
    fn server_ids_differ() {
        let a = server_id();
        let b = server_id();
        assert_ne!(a, b);
    }
}
