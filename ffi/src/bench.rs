//! The load generator from C: `pierhead_bench_run` with an options struct and a
//! result struct, both starting with `struct_size` so that they can grow.

use std::time::Duration;

use pierhead_loadgen::{run, BenchConfig, BenchError, BenchProtocol, Latency};

use crate::boundary::{c_str, guard_try};
use crate::enums::CEnum;
use crate::result::{pierhead_result, set_last_error};
use crate::stats::write_sized;

/// The protocol of a bench run (`pierhead_bench_options.protocol`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_bench_protocol {
    /// From the target: an `http://` URL is HTTP, a `ws://` URL WebSocket.
    PIERHEAD_BENCH_FROM_TARGET = 0,
    /// HTTP/1.1, every response checked.
    PIERHEAD_BENCH_HTTP = 1,
    /// A payload per request that must come back byte for byte.
    PIERHEAD_BENCH_ECHO = 2,
    /// Frame protocol: members of a room and publishers.
    PIERHEAD_BENCH_FRAME = 3,
    /// WebSocket (a `ws://host:port/path` target): at `/`, messages that must
    /// come back byte for byte; at `/ROOM`, the room's members and publishers.
    PIERHEAD_BENCH_WS = 4,
}

c_enum!(pierhead_bench_protocol {
    PIERHEAD_BENCH_FROM_TARGET,
    PIERHEAD_BENCH_HTTP,
    PIERHEAD_BENCH_ECHO,
    PIERHEAD_BENCH_FRAME,
    PIERHEAD_BENCH_WS,
});

impl pierhead_bench_protocol {
    /// The load generator's protocol (`None`: from the target).
    fn to_core(self) -> Option<BenchProtocol> {
        match self {
            pierhead_bench_protocol::PIERHEAD_BENCH_FROM_TARGET => None,
            pierhead_bench_protocol::PIERHEAD_BENCH_HTTP => Some(BenchProtocol::Http),
            pierhead_bench_protocol::PIERHEAD_BENCH_ECHO => Some(BenchProtocol::Echo),
            pierhead_bench_protocol::PIERHEAD_BENCH_FRAME => Some(BenchProtocol::Frame),
            pierhead_bench_protocol::PIERHEAD_BENCH_WS => Some(BenchProtocol::Ws),
        }
    }
}

/// What to run. Set `struct_size` to `sizeof(pierhead_bench_options)` and zero
/// every field you do not set (`= {0}` or memset): zero means the default.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct pierhead_bench_options {
    /// Set by the caller: the size of this struct in its header.
    pub struct_size: u32,
    /// A `pierhead_bench_protocol` value (0: from the target); any other makes
    /// the run `PIERHEAD_RESULT_INVALID_PARAMETER`.
    pub protocol: i32,
    /// Required: `http://host:port/path`, `ws://host:port/path`, or `host:port`
    /// for echo and frame.
    pub target: *const libc::c_char,
    /// Connections (0: 64).
    pub connections: u32,
    /// Threads (0: 1).
    pub threads: u32,
    /// Requests in flight per connection (0: 1).
    pub pipeline: u32,
    /// Frame protocol: publishing connections (0: 1).
    pub publishers: u32,
    /// Length of the measured phase in milliseconds (0: 10 s).
    pub duration_ms: u64,
    /// Stop after this many answers instead (0: run for `duration_ms`).
    pub requests: u64,
    /// Load this long before measuring (0: none).
    pub warmup_ms: u64,
    /// An answer later than this is a timeout error (0: 2 s).
    pub timeout_ms: u64,
    /// Open loop: requests per second over all connections (0: closed loop).
    pub rate: f64,
    /// HTTP method (NULL: GET).
    pub method: *const libc::c_char,
    /// `header_count` strings "Name: value" (may be NULL when the count is 0).
    pub headers: *const *const libc::c_char,
    /// How many strings `headers` has.
    pub header_count: usize,
    /// Request body or echo/frame payload, `body_len` bytes (may be NULL when 0).
    pub body: *const u8,
    /// Bytes of `body`.
    pub body_len: usize,
    /// Frame protocol: the room (NULL: "bench").
    pub room: *const libc::c_char,
}

/// What a run measured. Set `struct_size` to `sizeof(pierhead_bench_result)`;
/// the library fills the fields that fit. Latencies are in microseconds (open
/// loop: from each request's intended send time).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pierhead_bench_result {
    /// Set by the caller: the size of this struct in its header.
    pub struct_size: u32,
    /// 1 if the run was stopped early.
    pub interrupted: u32,
    /// Microseconds measured.
    pub duration_us: u64,
    /// Right answers (HTTP 2xx/3xx, echoes, frame deliveries).
    pub requests: u64,
    /// Requests sent (frames published).
    pub sent: u64,
    /// Bytes written.
    pub bytes_sent: u64,
    /// Bytes read.
    pub bytes_received: u64,
    /// Right answers per second.
    pub requests_per_sec: f64,
    /// Connections that could not be made.
    pub errors_connect: u64,
    /// Failed reads, or requests unanswered when a connection closed.
    pub errors_read: u64,
    /// Failed writes.
    pub errors_write: u64,
    /// Answers later than the timeout.
    pub errors_timeout: u64,
    /// HTTP responses outside 200..=399.
    pub errors_status: u64,
    /// Answers that were not valid (HTTP, echo bytes, frames).
    pub errors_framing: u64,
    /// Latency: smallest.
    pub latency_min_us: u64,
    /// Latency: mean.
    pub latency_mean_us: u64,
    /// Latency: median.
    pub latency_p50_us: u64,
    /// Latency: 90th percentile.
    pub latency_p90_us: u64,
    /// Latency: 99th percentile.
    pub latency_p99_us: u64,
    /// Latency: 99.9th percentile.
    pub latency_p999_us: u64,
    /// Latency: largest.
    pub latency_max_us: u64,
    /// Open loop: median latency from the actual sends (0 in closed loop).
    pub uncorrected_p50_us: u64,
    /// Open loop: 99th percentile from the actual sends.
    pub uncorrected_p99_us: u64,
    /// Open loop: 99th percentile of how far sends lagged their schedule.
    pub send_lag_p99_us: u64,
    /// Frame protocol: median time from a publish to its last member.
    pub fanout_p50_us: u64,
    /// Frame protocol: 99th percentile of the same.
    pub fanout_p99_us: u64,
}

/// Copies what fits of the caller's options (an older, shorter struct leaves
/// the newer fields zero: their defaults).
///
/// # Safety
/// `opts` must be valid for the `struct_size` it holds.
unsafe fn read_options(
    opts: *const pierhead_bench_options,
) -> Result<pierhead_bench_options, pierhead_result> {
    let head = std::mem::size_of::<u32>();
    // SAFETY: valid for at least its first 4 bytes, as the caller promised.
    let given = unsafe { opts.cast::<u32>().read_unaligned() } as usize;
    if given < head {
        set_last_error(format!("struct_size {given} is too small"));
        return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
    }
    // SAFETY: an all-zero pierhead_bench_options is valid (NULL pointers, zeros).
    let mut o: pierhead_bench_options = unsafe { std::mem::zeroed() };
    let n = given.min(std::mem::size_of::<pierhead_bench_options>());
    // SAFETY: n bytes are within the caller's struct (its struct_size) and ours.
    unsafe {
        std::ptr::copy_nonoverlapping(
            opts.cast::<u8>(),
            (&mut o as *mut pierhead_bench_options).cast::<u8>(),
            n,
        );
    }
    Ok(o)
}

/// The config the options describe.
///
/// # Safety
/// The pointers in `o` must be NULL or valid as documented.
unsafe fn config(o: &pierhead_bench_options) -> Result<BenchConfig, pierhead_result> {
    // SAFETY: forwarded from the caller.
    let target = unsafe { c_str(o.target, "target") }?;
    let or = |v: u64, d: u64| if v == 0 { d } else { v };
    let mut c = BenchConfig::new(target)
        .connections(or(o.connections.into(), 64) as usize)
        .threads(or(o.threads.into(), 1) as usize)
        .pipeline(or(o.pipeline.into(), 1) as usize)
        .publishers(or(o.publishers.into(), 1) as usize)
        .duration(Duration::from_millis(or(o.duration_ms, 10_000)))
        .warmup(Duration::from_millis(o.warmup_ms))
        .timeout(Duration::from_millis(or(o.timeout_ms, 2_000)));
    if let Some(p) = pierhead_bench_protocol::from_arg(o.protocol, "protocol")?.to_core() {
        c = c.protocol(p);
    }
    if o.requests > 0 {
        c = c.requests(o.requests);
    }
    if o.rate != 0.0 {
        c = c.rate(o.rate);
    }
    if !o.method.is_null() {
        // SAFETY: forwarded from the caller.
        c = c.method(unsafe { c_str(o.method, "method") }?);
    }
    if !o.room.is_null() {
        // SAFETY: forwarded from the caller.
        c = c.room(unsafe { c_str(o.room, "room") }?);
    }
    if o.header_count > 0 {
        if o.headers.is_null() {
            set_last_error("headers is NULL".to_owned());
            return Err(pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER);
        }
        for k in 0..o.header_count {
            // SAFETY: `headers` holds `header_count` pointers, as promised.
            let h = unsafe { c_str(*o.headers.add(k), "headers") }?;
            let Some((name, value)) = h.split_once(':') else {
                set_last_error(format!(
                    "invalid config field `header`: `{h}` is not `Name: value`"
                ));
                return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
            };
            c = c.header(name.trim(), value.trim());
        }
    }
    if o.body_len > 0 {
        if o.body.is_null() {
            set_last_error("body is NULL".to_owned());
            return Err(pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER);
        }
        // SAFETY: `body` holds `body_len` bytes, as promised.
        c = c.body(unsafe { std::slice::from_raw_parts(o.body, o.body_len) });
    }
    Ok(c)
}

/// Runs the load generator as `opts` says, on threads of its own, and returns
/// when it is done (blocking the calling thread; no callback is called). On
/// success `*out` gets what was measured (the fields its `struct_size` holds). A
/// bad option is `PIERHEAD_RESULT_INVALID_CONFIG` with the field named by
/// `pierhead_last_error_message` (a `protocol` outside `pierhead_bench_protocol`,
/// or a malformed header, `PIERHEAD_RESULT_INVALID_PARAMETER`); a run without one
/// right answer is `PIERHEAD_RESULT_NOTHING_MEASURED` (`*out` untouched), the
/// message saying why ("no member ever got JOINED ...", "not one answer ...")
/// with the errors counted. Any thread.
///
/// # Safety
/// `opts` NULL or valid for its `struct_size`, its pointers valid as documented;
/// `out` NULL or valid for its `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn pierhead_bench_run(
    opts: *const pierhead_bench_options,
    out: *mut pierhead_bench_result,
) -> pierhead_result {
    guard_try(|| {
        if opts.is_null() || out.is_null() {
            set_last_error("opts or out is NULL".to_owned());
            return Err(pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER);
        }
        // SAFETY: forwarded from the caller.
        let o = unsafe { read_options(opts) }?;
        // SAFETY: forwarded from the caller.
        let c = unsafe { config(&o) }?;
        let r = run(&c).map_err(|e| {
            set_last_error(e.to_string());
            match e {
                BenchError::Config(_) => pierhead_result::PIERHEAD_RESULT_INVALID_CONFIG,
                BenchError::NothingMeasured(_) => pierhead_result::PIERHEAD_RESULT_NOTHING_MEASURED,
                _ => pierhead_result::PIERHEAD_RESULT_START_FAILED,
            }
        })?;
        let l = Latency::of(&r.latency);
        let u = r.uncorrected.as_ref().map(Latency::of).unwrap_or_default();
        let lag = r.send_lag.as_ref().map(Latency::of).unwrap_or_default();
        let f = r.fanout.as_ref().map(Latency::of).unwrap_or_default();
        let res = pierhead_bench_result {
            struct_size: std::mem::size_of::<pierhead_bench_result>() as u32,
            interrupted: u32::from(r.interrupted),
            duration_us: r.duration.as_micros() as u64,
            requests: r.requests,
            sent: r.sent,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            requests_per_sec: r.requests_per_sec(),
            errors_connect: r.errors.connect,
            errors_read: r.errors.read,
            errors_write: r.errors.write,
            errors_timeout: r.errors.timeout,
            errors_status: r.errors.status,
            errors_framing: r.errors.framing,
            latency_min_us: l.min_us,
            latency_mean_us: l.mean_us as u64,
            latency_p50_us: l.p50_us,
            latency_p90_us: l.p90_us,
            latency_p99_us: l.p99_us,
            latency_p999_us: l.p99_9_us,
            latency_max_us: l.max_us,
            uncorrected_p50_us: u.p50_us,
            uncorrected_p99_us: u.p99_us,
            send_lag_p99_us: lag.p99_us,
            fanout_p50_us: f.p50_us,
            fanout_p99_us: f.p99_us,
        };
        // SAFETY: valid for its struct_size, as promised.
        Ok(unsafe { write_sized(&res, out) })
    })
}
