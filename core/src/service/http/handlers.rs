//! The handler pool: threads that run route handlers, off the I/O threads.
//!
//! A worker that matched a handler route submits a job and parks the connection.
//! A pool thread runs the handler (catching panics), queues the result for that
//! worker and wakes it; the worker then writes the response. Threads are started
//! on demand, up to `Config::handler_threads`, so a server without handler routes
//! starts none. The pool closes when the last worker exits; stop waits for its
//! threads until the stop deadline and then leaves any still inside a handler
//! running on their own (counted in `StopReport::handlers_abandoned`).

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use mio::Waker;

use super::shared::HttpShared;
use crate::faults::Fault;
use crate::routing::table::{Answer, RouteTable};
use crate::routing::{Handler, Prepared, Request, Response, WebSocket, WsHandlerError, WsReply};
use crate::server_core::adopt_thread;
use crate::service::ws;

/// A request to run a handler for one connection of one worker.
pub(crate) struct Job {
    pub(crate) worker: usize,
    pub(crate) token: mio::Token,
    /// Tells this job's result from that of an earlier, timed-out job.
    pub(crate) id: u64,
    pub(crate) work: Work,
}

/// What a job does.
pub(crate) enum Work {
    /// Run this route's handler for the request.
    Handle(Arc<dyn Handler>, Request),
    /// Finish matching the request from route `from` of `table` (deferred
    /// conditions), then answer as the route found says.
    Resolve {
        table: Arc<RouteTable>,
        from: usize,
        request: Request,
    },
    /// Run a WebSocket endpoint's handler for a message.
    Message(Box<ws::endpoint::Job>),
}

/// A finished job, queued for its worker.
pub(crate) struct Completion {
    pub(crate) token: mio::Token,
    pub(crate) id: u64,
    pub(crate) outcome: Outcome,
}

/// How a handler call ended.
pub(crate) enum Outcome {
    /// It built a response.
    Answered(Response),
    /// It reported a failure, with the response to send (counted as a handler error).
    Failed(Response),
    /// It panicked (answered 500, counted as a handler error).
    Panicked,
    /// A resolved match found a static route: its answer, with this fault.
    Static(Arc<Prepared>, Option<Fault>),
    /// A resolved match found a handler route; its handler gave this (an `Err` is
    /// a reported failure), to send with this fault.
    Routed(Result<Response, Response>, Option<Fault>),
    /// A resolved match found no route.
    Unmatched,
    /// A resolved match found a WebSocket route: the request, to upgrade.
    Upgrade(Arc<WebSocket>, Box<Request>),
    /// A WebSocket handler's reply (`Err`: it failed or panicked).
    Replied(Result<WsReply, WsHandlerError>),
}

#[derive(Default)]
struct PoolState {
    jobs: VecDeque<Job>,
    idle: usize,
    live: usize,
    closed: bool,
    threads: Vec<JoinHandle<()>>,
}

pub(crate) struct HandlerPool {
    max_threads: usize,
    state: Mutex<PoolState>,
    work: Condvar,
    exited: Condvar,
    /// Finished jobs, one queue per worker.
    completions: Box<[Mutex<Vec<Completion>>]>,
    /// Wake the workers when their jobs finish.
    wakers: Arc<[Waker]>,
    /// The server's id: handler threads are its own (a stop from a handler must
    /// not join).
    server_id: u64,
}

impl HandlerPool {
    pub(crate) fn new(max_threads: usize, wakers: Arc<[Waker]>, server_id: u64) -> HandlerPool {
        HandlerPool {
            max_threads,
            state: Mutex::new(PoolState::default()),
            work: Condvar::new(),
            exited: Condvar::new(),
            completions: (0..wakers.len()).map(|_| Mutex::new(Vec::new())).collect(),
            wakers,
            server_id,
        }
    }

    /// Queues a job's result for its worker and wakes it.
    fn complete(&self, worker: usize, completion: Completion) {
        let Some(queue) = self.completions.get(worker) else {
            return;
        };
        queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(completion);
        if let Some(waker) = self.wakers.get(worker) {
            // A failed wake only means that worker's loop is already gone.
            let _ = waker.wake();
        }
    }

    /// Takes the results queued for `worker` (appended to `into`).
    pub(crate) fn take_completions(&self, worker: usize, into: &mut Vec<Completion>) {
        if let Some(q) = self.completions.get(worker) {
            into.append(&mut q.lock().unwrap_or_else(PoisonError::into_inner));
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a job, starting a thread if none is idle. False (the job dropped) if
    /// the pool is closed.
    pub(crate) fn submit(pool: &Arc<HandlerPool>, shared: &Arc<HttpShared>, job: Job) -> bool {
        let mut st = pool.lock();
        if st.closed {
            return false;
        }
        st.jobs.push_back(job);
        if st.idle == 0 && st.live < pool.max_threads {
            let n = st.threads.len();
            let for_thread = (pool.clone(), shared.clone());
            let spawned = thread::Builder::new()
                .name(format!("pierhead-h{n}"))
                .spawn(move || run_thread(for_thread));
            // If no thread can be started the job waits for a busy one, or for the
            // handler timeout, which answers it 500.
            if let Ok(handle) = spawned {
                st.live += 1;
                st.threads.push(handle);
            }
        } else {
            pool.work.notify_one();
        }
        true
    }

    /// No more jobs: idle threads exit now, busy ones after their handler returns.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.jobs.clear();
        self.work.notify_all();
    }

    /// Waits until every thread has exited or `deadline` passed; joins those that
    /// exited and returns how many are still inside a handler (left detached).
    pub(crate) fn join(&self, deadline: Instant) -> u64 {
        self.close();
        let mut st = self.lock();
        while st.live > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .exited
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let abandoned = st.live as u64;
        let threads = std::mem::take(&mut st.threads);
        drop(st);
        for handle in threads {
            // With none live, every thread has left its loop and is only exiting.
            if abandoned == 0 || handle.is_finished() {
                let _ = handle.join();
            } // else: detached; it exits when its handler returns
        }
        abandoned
    }
}

/// Matches `request` from route `from` on (deferred conditions included), logs
/// it, and runs the handler of the route found, here on this handler thread.
fn resolve(shared: &HttpShared, table: &RouteTable, from: usize, mut request: Request) -> Outcome {
    let Some((entry, nth)) = table.resolve(from, &request) else {
        shared.misses.record(|limit| request.with_body_cut(limit));
        if let Some(log) = &shared.log {
            log.record_copy(&request);
        }
        return Outcome::Unmatched;
    };
    let (fault, chaos) = entry.decide(nth);
    request.route = Some(entry.id);
    (request.fault, request.chaos) = (fault, chaos);
    if let Some(log) = &shared.log {
        log.record_copy(&request);
    }
    match &entry.answer {
        Answer::Static(p) | Answer::Stream(p) => Outcome::Static(p.clone(), fault),
        Answer::Handler(h) => Outcome::Routed(h.try_handle(&request), fault),
        Answer::WebSocket(w) => Outcome::Upgrade(w.clone(), Box::new(request)),
    }
}

fn run_thread((pool, shared): (Arc<HandlerPool>, Arc<HttpShared>)) {
    adopt_thread(pool.server_id);
    let mut st = pool.lock();
    loop {
        if let Some(job) = st.jobs.pop_front() {
            drop(st);
            run_job(&pool, &shared, job);
            st = pool.lock();
            continue;
        }
        if st.closed {
            break;
        }
        st.idle += 1;
        st = pool.work.wait(st).unwrap_or_else(PoisonError::into_inner);
        st.idle -= 1;
    }
    st.live -= 1;
    pool.exited.notify_all();
}

fn run_job(pool: &HandlerPool, shared: &HttpShared, job: Job) {
    let outcome = match job.work {
        Work::Handle(handler, request) => {
            let outcome = match catch_unwind(AssertUnwindSafe(|| handler.try_handle(&request))) {
                Ok(Ok(response)) => Outcome::Answered(response),
                Ok(Err(response)) => Outcome::Failed(response),
                Err(_) => Outcome::Panicked,
            };
            // Dropped here, on this thread, not on the I/O thread.
            drop(handler);
            drop(request);
            outcome
        }
        Work::Resolve {
            table,
            from,
            request,
        } => match catch_unwind(AssertUnwindSafe(|| resolve(shared, &table, from, request))) {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Panicked,
        },
        Work::Message(job) => {
            let reply = catch_unwind(AssertUnwindSafe(|| job.run()))
                .unwrap_or_else(|_| Err(WsHandlerError("it panicked".into())));
            drop(job);
            Outcome::Replied(reply)
        }
    };
    pool.complete(
        job.worker,
        Completion {
            token: job.token,
            id: job.id,
            outcome,
        },
    );
}
