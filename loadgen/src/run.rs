//! A run: the config split into per-thread plans, the threads started, progress
//! sampled once a second on the calling thread, and the threads' results merged
//! (histograms added losslessly) into one [`BenchResult`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::config::{BenchConfig, BenchProtocol, ConfigError, Progress};
use crate::proto::http;
use crate::result::{fit_timeline, histogram, BenchResult, ErrorCounts};
use crate::worker::{self, Clock, Live, Plan, Shared, ThreadResult};

/// Default echo and frame payload, in bytes.
pub const DEFAULT_PAYLOAD: usize = 64;

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A config value was rejected (the field is named).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A thread or its event loop could not be created.
    #[error("cannot start a load thread: {0}")]
    Thread(std::io::Error),
    /// A load thread panicked (a bug: please report it).
    #[error("a load thread panicked")]
    Panicked,
    /// The run ended without one right answer: it measured nothing (why, and
    /// what it did count, are in the error).
    #[error(transparent)]
    NothingMeasured(Box<NothingMeasured>),
}

/// Why a run measured nothing: not one right answer in its measured phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unmeasured {
    /// No connection to the target could be made.
    NoConnection,
    /// Frame protocol: no member ever got JOINED (the server did not answer
    /// JOIN, or answered ERROR).
    NeverJoined,
    /// Answers came, and every one was wrong (a bad status, bad framing).
    AllWrong,
    /// Stopped (Ctrl-C, the caller's stop) before any right answer.
    Interrupted,
    /// Frame protocol: members joined, but no frame reached one.
    NoDelivery,
    /// Connected, sent, and not one answer came back.
    NoAnswer,
}

impl Unmeasured {
    /// A name for scripts: `no_connection`, `never_joined`, `all_wrong`,
    /// `interrupted`, `no_delivery`, `no_answer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Unmeasured::NoConnection => "no_connection",
            Unmeasured::NeverJoined => "never_joined",
            Unmeasured::AllWrong => "all_wrong",
            Unmeasured::Interrupted => "interrupted",
            Unmeasured::NoDelivery => "no_delivery",
            Unmeasured::NoAnswer => "no_answer",
        }
    }
}

/// A run that measured nothing ([`BenchError::NothingMeasured`]): why, and the
/// result with what it did count (errors, requests sent), to be reported as well.
#[derive(Clone)]
pub struct NothingMeasured {
    /// Why.
    pub why: Unmeasured,
    /// What the run counted: no right answer, and its errors.
    pub result: BenchResult,
    /// Frame protocol: the room.
    pub room: String,
    /// The config's timeout.
    pub timeout: Duration,
}

impl Unmeasured {
    /// Why a finished run measured nothing, if it did: `opened` connections were
    /// made, and a frame member joined if `joined`.
    fn of(result: &BenchResult, opened: u64, joined: bool) -> Option<Unmeasured> {
        if result.requests > 0 {
            return None;
        }
        let e = &result.errors;
        // Frame protocol or WebSocket rooms.
        let frame = result.fanout.is_some();
        Some(if opened == 0 && e.status + e.framing > 0 {
            // WebSocket: every handshake was refused.
            Unmeasured::AllWrong
        } else if opened == 0 {
            Unmeasured::NoConnection
        } else if frame && !joined {
            Unmeasured::NeverJoined
        } else if e.status + e.framing > 0 {
            Unmeasured::AllWrong
        } else if result.interrupted {
            Unmeasured::Interrupted
        } else if frame {
            Unmeasured::NoDelivery
        } else {
            Unmeasured::NoAnswer
        })
    }
}

impl std::fmt::Display for NothingMeasured {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.result;
        let e = &r.errors;
        let secs = r.duration.as_secs_f64();
        let timeout = format!("{:?}", self.timeout);
        write!(f, "measured nothing: ")?;
        match self.why {
            Unmeasured::NoConnection => write!(
                f,
                "no connection to {} could be made ({} connect errors)",
                r.target, e.connect
            ),
            Unmeasured::NeverJoined => write!(
                f,
                "no member ever got JOINED in room `{}`: the server did not answer JOIN \
                 within the {timeout} timeout (errors {}: {e})",
                self.room,
                e.total()
            ),
            Unmeasured::AllWrong => write!(f, "every answer was wrong (errors {}: {e})", e.total()),
            Unmeasured::Interrupted => write!(
                f,
                "stopped after {secs:.2}s, before any right answer (errors {}: {e})",
                e.total()
            ),
            Unmeasured::NoDelivery => write!(
                f,
                "members joined room `{}`, but no frame reached one in {secs:.2}s \
                 ({} published; errors {}: {e})",
                self.room,
                r.sent,
                e.total()
            ),
            Unmeasured::NoAnswer => {
                write!(
                    f,
                    "not one answer in {secs:.2}s to the {} requests sent (errors {}: {e}",
                    r.sent,
                    e.total()
                )?;
                if e.total() == 0 {
                    write!(f, "; the {timeout} timeout is not shorter than the run")?;
                }
                write!(f, ")")
            }
        }
    }
}

impl std::fmt::Debug for NothingMeasured {
    /// The message and the summary (not the histograms' buckets).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}\n{}", self.result.summary())
    }
}

impl std::error::Error for NothingMeasured {}

/// Runs `config` to its end (duration or request count). A run without one
/// right answer is [`BenchError::NothingMeasured`].
pub fn run(config: &BenchConfig) -> Result<BenchResult, BenchError> {
    run_until(config, &Arc::new(AtomicBool::new(false)))
}

/// Runs `config` until its end or until `stop` is set (from any thread); a run
/// stopped early still returns what it measured, marked `interrupted`. A run
/// without one right answer is [`BenchError::NothingMeasured`].
pub fn run_until(config: &BenchConfig, stop: &Arc<AtomicBool>) -> Result<BenchResult, BenchError> {
    let resolved = config.resolve()?;
    let room = resolved.room(config);
    let target = resolved.target;
    let fans_out = target.fans_out();
    let protocol = target.protocol;
    let threads = config.threads;
    let split = |total: usize, k: usize| total / threads + usize::from(k < total % threads);
    let publishers = if fans_out {
        config.publishers
    } else {
        config.connections
    };
    let payload_len = if config.body.is_empty() {
        DEFAULT_PAYLOAD
    } else {
        config.body.len()
    };
    let request: Arc<[u8]> = match protocol {
        BenchProtocol::Http => Arc::from(http::request(config, &target)),
        _ => Arc::from(Vec::new()),
    };
    let interval = config
        .rate
        .map(|r| Duration::from_secs_f64(publishers as f64 / r).max(Duration::from_nanos(1)));
    let start = Instant::now();
    let measure_start = start + config.warmup;
    let clock = Clock {
        start,
        measure_start,
        end: config
            .requests
            .is_none()
            .then(|| measure_start + config.duration),
    };
    let shared = Arc::new(Shared {
        stop: stop.clone(),
        live: (0..threads).map(|_| Live::default()).collect(),
        joined: AtomicUsize::new(0),
        connections: config.connections,
        sending: AtomicUsize::new(threads),
    });
    let mut plans = Vec::with_capacity(threads);
    let (mut first_conn, mut first_sender) = (0, 0);
    for k in 0..threads {
        let conns = split(config.connections, k);
        let senders = split(publishers, k).min(conns);
        // Requests mode: each thread sends its senders' share of the requests.
        let quota = config.requests.map(|n| {
            let before = (n as u128 * first_sender as u128 / publishers as u128) as u64;
            let after = (n as u128 * (first_sender + senders) as u128 / publishers as u128) as u64;
            after - before
        });
        plans.push(Plan {
            index: k,
            target: target.clone(),
            conns,
            first_conn,
            publishers: (first_sender..first_sender + senders)
                .map(|p| p as u32)
                .collect(),
            pipeline: config.pipeline,
            interval,
            first_sender,
            total_senders: publishers.max(1),
            timeout: config.timeout,
            quota,
            request: request.clone(),
            payload_len,
            head_request: config.method.eq_ignore_ascii_case("HEAD"),
            room: room.clone(),
            fans_out,
            ws_text: config.ws_text,
            clock,
        });
        first_conn += conns;
        first_sender += senders;
    }
    let mut handles = Vec::with_capacity(threads);
    for plan in plans {
        let shared = shared.clone();
        let h = thread::Builder::new()
            .name(format!("pierhead-bench-{}", plan.index))
            .spawn(move || worker::run(plan, shared));
        match h {
            Ok(h) => handles.push(h),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                for h in handles {
                    let _ = h.join();
                }
                return Err(BenchError::Thread(e));
            }
        }
    }
    watch(config, &shared, &handles, start, measure_start);
    let mut results = Vec::with_capacity(threads);
    let mut failure = None;
    for h in handles {
        match h.join() {
            Ok(Ok(r)) => results.push(r),
            Ok(Err(e)) => failure = Some(BenchError::Thread(e)),
            Err(_) => failure = Some(BenchError::Panicked),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let finished = Instant::now();
    let measured_until = clock.end.map_or(finished, |end| end.min(finished));
    let opened = results.iter().map(|t| t.opened).sum();
    let result = merge(
        config,
        protocol,
        fans_out,
        results,
        measured_until.saturating_duration_since(measure_start),
        stop.load(Ordering::Relaxed),
    );
    let joined = shared.joined.load(Ordering::Acquire) > 0;
    match Unmeasured::of(&result, opened, joined) {
        Some(why) => Err(BenchError::NothingMeasured(Box::new(NothingMeasured {
            why,
            result,
            room,
            timeout: config.timeout,
        }))),
        None => Ok(result),
    }
}

/// Samples progress once a second (calling the callback) until every thread ended.
fn watch(
    config: &BenchConfig,
    shared: &Shared,
    handles: &[thread::JoinHandle<std::io::Result<ThreadResult>>],
    start: Instant,
    measure_start: Instant,
) {
    let mut last = (0u64, 0u64);
    let mut next = start + Duration::from_secs(1);
    loop {
        if handles.iter().all(|h| h.is_finished()) {
            return;
        }
        let now = Instant::now();
        if now < next {
            thread::sleep((next - now).min(Duration::from_millis(5)));
            continue;
        }
        next += Duration::from_secs(1);
        let answers: u64 = shared
            .live
            .iter()
            .map(|l| l.answers.load(Ordering::Relaxed))
            .sum();
        let errors: u64 = shared
            .live
            .iter()
            .map(|l| l.errors.load(Ordering::Relaxed))
            .sum();
        let open: u64 = shared
            .live
            .iter()
            .map(|l| l.open.load(Ordering::Relaxed))
            .sum();
        if let Some(cb) = &config.progress {
            cb(&Progress {
                elapsed: now - start,
                warming_up: now < measure_start,
                requests: answers - last.0,
                errors: errors - last.1,
                connections: open,
            });
        }
        last = (answers, errors);
    }
}

fn merge(
    config: &BenchConfig,
    protocol: BenchProtocol,
    fans_out: bool,
    results: Vec<ThreadResult>,
    duration: Duration,
    interrupted: bool,
) -> BenchResult {
    let open_loop = config.rate.is_some();
    let mut r = BenchResult {
        target: config.target.clone(),
        protocol,
        connections: config.connections as u64,
        threads: config.threads as u64,
        pipeline: config.pipeline as u64,
        rate: config.rate,
        duration,
        requests: 0,
        sent: 0,
        bytes_sent: 0,
        bytes_received: 0,
        errors: ErrorCounts::default(),
        latency: histogram(),
        uncorrected: open_loop.then(histogram),
        send_lag: open_loop.then(histogram),
        fanout: fans_out.then(histogram),
        timeline: Vec::new(),
        runs: 1,
        interrupted,
    };
    let mut fanout: HashMap<(u32, u64), u64> = HashMap::new();
    for t in results {
        r.requests += t.requests;
        r.sent += t.sent;
        r.bytes_sent += t.bytes_sent;
        r.bytes_received += t.bytes_received;
        let e = &t.errors;
        r.errors.connect += e.connect;
        r.errors.read += e.read;
        r.errors.write += e.write;
        r.errors.timeout += e.timeout;
        r.errors.status += e.status;
        r.errors.framing += e.framing;
        let _ = r.latency.add(&t.latency);
        if let (Some(a), Some(b)) = (r.uncorrected.as_mut(), t.uncorrected.as_ref()) {
            let _ = a.add(b);
        }
        if let (Some(a), Some(b)) = (r.send_lag.as_mut(), t.send_lag.as_ref()) {
            let _ = a.add(b);
        }
        if r.timeline.len() < t.timeline.len() {
            r.timeline.resize(t.timeline.len(), Default::default());
        }
        for (a, b) in r.timeline.iter_mut().zip(&t.timeline) {
            a.requests += b.requests;
            a.errors += b.errors;
        }
        for (k, v) in t.fanout {
            let e = fanout.entry(k).or_insert(0);
            *e = (*e).max(v);
        }
    }
    fit_timeline(&mut r.timeline, duration);
    if let Some(h) = r.fanout.as_mut() {
        for v in fanout.into_values() {
            h.saturating_record(v);
        }
    }
    r
}
