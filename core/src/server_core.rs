//! The state every thread of one server reads ([`ServerCore`]: its config, counters,
//! wakers, lifecycle, rooms, TLS and connect gate), and which server owns a thread.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use mio::Waker;

use crate::backplane::Backplane;
use crate::config::Config;
use crate::faults::connect::ConnectGate;
use crate::rooms::registry::{Registry, RoomShared};
use crate::routing::log::Ring;
use crate::routing::{ClosedBy, ConnectionRecord};
use crate::stats::{Counters, State, Stats};
use crate::tls::Tls;

static NEXT_SERVER_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The id of the server that owns the current thread (0: not a server thread).
    static OWNER: Cell<u64> = const { Cell::new(0) };
}

/// The server whose callback is running on a thread, carried to another thread.
///
/// A binding that runs a handler somewhere else than on the handler thread that
/// called it (Python runs handlers on its own threads) takes the handler thread's
/// scope with [`CallbackScope::current`] and enters it where the handler runs, so
/// that `Server::stop` called inside the handler behaves as it does on the server's
/// own threads: it starts the stop and returns at once (`complete: false`) instead
/// of waiting for the handler that is calling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackScope(u64);

impl CallbackScope {
    /// The scope of the current thread, if it is one of a server's threads (a
    /// worker, a handler thread, the stats thread) or inside an entered scope.
    pub fn current() -> Option<CallbackScope> {
        let id = OWNER.with(Cell::get);
        (id != 0).then_some(CallbackScope(id))
    }

    /// Makes the current thread count as the server's own until the guard drops.
    pub fn enter(self) -> CallbackGuard {
        let previous = OWNER.with(|o| o.replace(self.0));
        CallbackGuard {
            previous,
            _not_send: std::marker::PhantomData,
        }
    }
}

/// Restores the thread's previous scope when dropped; see [`CallbackScope::enter`].
#[derive(Debug)]
pub struct CallbackGuard {
    previous: u64,
    /// The scope is the thread's: the guard must be dropped where it was made.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for CallbackGuard {
    fn drop(&mut self) {
        OWNER.with(|o| o.set(self.previous));
    }
}

/// Marks the calling thread as one of server `id`'s own (its workers, stats and
/// handler threads): there, stop must not join.
pub(crate) fn adopt_thread(id: u64) {
    OWNER.with(|o| o.set(id));
}

/// When stop was first requested, and until when in-flight work may finish.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StopRequest {
    pub(crate) at: Instant,
    pub(crate) deadline: Instant,
}

/// The server-wide state shared by the handle and its threads: the config, the
/// counters, the wakers, the stop request, TLS, the connect gate and the
/// connection log. (A service's own server-wide state is its own:
/// [`crate::service::Services`].)
pub(crate) struct ServerCore {
    pub(crate) id: u64,
    pub(crate) config: Config,
    /// One block per worker, then one for the stats thread.
    pub(crate) counters: Box<[Counters]>,
    /// One per worker: wakes its loop.
    pub(crate) wakers: Arc<[Waker]>,
    pub(crate) started: Instant,
    /// Connections open over all workers, for `max_connections`.
    pub(crate) active: AtomicUsize,
    state: AtomicU8,
    stopping: AtomicBool,
    stop: OnceLock<StopRequest>,
    /// Wakes the stats thread early when stop is requested.
    reporter_wake: (Mutex<()>, Condvar),
    /// Closed connections, kept when the request log is on.
    pub(crate) connections: Option<Ring<ConnectionRecord>>,
    /// Rooms of the frame protocol, and the workers' inboxes.
    pub(crate) rooms: Arc<Registry>,
    /// TLS, when the server speaks it.
    pub(crate) tls: Option<Tls>,
    /// Worker threads not yet exited.
    workers_running: AtomicUsize,
    /// The connect-phase fault, switched at run time.
    pub(crate) gate: ConnectGate,
}

impl ServerCore {
    pub(crate) fn new(
        config: Config,
        wakers: Arc<[Waker]>,
        backplane: Option<Arc<Backplane<RoomShared>>>,
        tls: Option<Tls>,
        id: u64,
    ) -> ServerCore {
        let blocks = wakers.len() + 1;
        let workers = wakers.len();
        ServerCore {
            connections: (config.request_log > 0).then(|| Ring::new(config.request_log)),
            rooms: Arc::new(Registry::new(workers, backplane)),
            tls,
            workers_running: AtomicUsize::new(workers),
            gate: ConnectGate::new(workers),
            id,
            config,
            counters: (0..blocks).map(|_| Counters::default()).collect(),
            wakers,
            started: Instant::now(),
            active: AtomicUsize::new(0),
            state: AtomicU8::new(State::Running.to_u8()),
            stopping: AtomicBool::new(false),
            stop: OnceLock::new(),
            reporter_wake: (Mutex::new(()), Condvar::new()),
        }
    }

    /// A new server's id (never 0: 0 marks a thread of no server).
    pub(crate) fn next_id() -> u64 {
        NEXT_SERVER_ID.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Moves to `to` unless the server already failed (failure is sticky).
    pub(crate) fn set_state(&self, to: State) {
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (State::from_u8(s) != State::Failed).then_some(to.to_u8())
            });
    }

    pub(crate) fn stats(&self) -> Stats {
        Stats::sum(
            self.counters.iter(),
            self.state(),
            self.started.elapsed(),
            self.rooms.counts(),
            self.rooms.backplane.as_ref().map(|b| b.stats()),
        )
    }

    /// The counters written by the stats thread.
    pub(crate) fn reporter_counters(&self) -> &Counters {
        &self.counters[self.counters.len() - 1]
    }

    #[inline]
    pub(crate) fn stop_requested(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub(crate) fn stop_request(&self) -> Option<StopRequest> {
        self.stop.get().copied()
    }

    /// Asks every thread to stop; only the first call's deadline counts.
    pub(crate) fn request_stop(&self, grace: Duration) {
        let now = Instant::now();
        let first = self
            .stop
            .set(StopRequest {
                at: now,
                deadline: now + grace,
            })
            .is_ok();
        if !first {
            return;
        }
        self.set_state(State::Stopping);
        self.stopping.store(true, Ordering::Release);
        self.wake_all();
        let (lock, cvar) = &self.reporter_wake;
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        cvar.notify_all();
    }

    /// Sleeps the stats thread until `until` or a stop request; true if stopping.
    pub(crate) fn reporter_sleep(&self, until: Instant) -> bool {
        let (lock, cvar) = &self.reporter_wake;
        let mut guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.stop_requested() {
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            guard = cvar
                .wait_timeout(guard, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Wakes every worker (a failed wake only means that worker's loop is gone).
    pub(crate) fn wake_all(&self) {
        for waker in self.wakers.iter() {
            let _ = waker.wake();
        }
    }

    /// Records a closed connection in the connection log (when it is on): its
    /// id, and whether the client closed first.
    #[inline]
    pub(crate) fn record_close(&self, id: u64, client_first: bool) {
        if let Some(log) = &self.connections {
            log.push(ConnectionRecord {
                id,
                closed_by: if client_first {
                    ClosedBy::Client
                } else {
                    ClosedBy::Server
                },
            });
        }
    }

    /// Called by each worker as it exits: true for the last one (its service
    /// then ends what would otherwise wait for nobody: the handler pool, the
    /// backplane's link).
    pub(crate) fn worker_exited(&self) -> bool {
        self.workers_running.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// Marks the calling thread as one of this server's own.
    pub(crate) fn adopt_current_thread(&self) {
        adopt_thread(self.id);
    }

    /// True on this server's worker and stats threads: there, stop must not join.
    pub(crate) fn on_own_thread(&self) -> bool {
        OWNER.with(|o| o.get() == self.id)
    }
}
