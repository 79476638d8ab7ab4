//! Faults from C beyond a route's fixed one: seeded chaos on a route, connect-phase
//! faults on a running server, and the connection counts that show reuse.

use pierhead::{Chaos, ClosedBy, ConnectFault, ConnectFaultError};
use std::collections::HashMap;
use std::time::Duration;

use crate::boundary::{guard_try, non_null};
use crate::enums::CEnum;
use crate::result::{pierhead_result, set_last_error};
use crate::route::{fault_from, fault_to_c, pierhead_fault, pierhead_route, with_c_route};
use crate::server::{pierhead_server, server_ref};

/// Adds a chance fault to the route: each answer gets `fault` (a `pierhead_fault`
/// value other than NONE; with `ms` and `bytes` as for `pierhead_route_set_fault`)
/// with `probability` (0 to 1), decided by `seed` and the answer's number, so
/// that the same seed replays the same faults. Calls add up (the probabilities to at most 1; the seed of the
/// first call holds). Replaces the route's fixed fault.
///
/// # Safety
/// `route` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_add_chaos(
    route: *mut pierhead_route,
    seed: u64,
    probability: f64,
    fault: i32,
    ms: u64,
    bytes: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_c_route(route, |r| {
            let Some(f) = fault_from(fault, ms, bytes)? else {
                set_last_error("invalid chaos fault: NONE".to_owned());
                return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
            };
            let chaos = r
                .chaos
                .clone()
                .unwrap_or_else(|| Chaos::new(seed))
                .with(probability, f);
            let candidate = r.inner.clone().chaos(chaos.clone());
            crate::route::check(&candidate)?;
            r.inner = candidate;
            r.chaos = Some(chaos);
            Ok(())
        })
    }
}

/// Which fault the route's chaos gives its `n`-th answer (1-based): to know in
/// advance what a seed does. `PIERHEAD_FAULT_NONE` for a route without chaos.
///
/// # Safety
/// `route` NULL or live; `out` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn pierhead_route_chaos_decide(
    route: *mut pierhead_route,
    n: u64,
    out: *mut pierhead_fault,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        with_c_route(route, |r| {
            let out = non_null(out, "out")?;
            let f = r.chaos.as_ref().and_then(|c| c.decide(n));
            // SAFETY: non-NULL and valid, as promised.
            *out = fault_to_c(f);
            Ok(())
        })
    }
}

/// A connect-phase fault: what happens to new connections before any byte is read.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_connect_fault {
    /// Accept and serve (the default).
    PIERHEAD_CONNECT_NORMAL = 0,
    /// Refuse (RST): `connect()` fails with ECONNREFUSED.
    PIERHEAD_CONNECT_REFUSE = 1,
    /// Leave connections in the accept queue, never served.
    PIERHEAD_CONNECT_HOLD = 2,
    /// Accept and close at once.
    PIERHEAD_CONNECT_CLOSE = 3,
    /// Accept, then serve only after `delay_ms`.
    PIERHEAD_CONNECT_DELAY = 4,
}

c_enum!(pierhead_connect_fault {
    PIERHEAD_CONNECT_NORMAL,
    PIERHEAD_CONNECT_REFUSE,
    PIERHEAD_CONNECT_HOLD,
    PIERHEAD_CONNECT_CLOSE,
    PIERHEAD_CONNECT_DELAY,
});

/// Switches the connect-phase fault of a running server to `fault`, a
/// `pierhead_connect_fault` value (any other is `PIERHEAD_RESULT_INVALID_PARAMETER`,
/// nothing changed; `delay_ms` is for DELAY); returns once every I/O thread
/// applied it. Ending REFUSE listens on the port again:
/// `PIERHEAD_RESULT_BIND_FAILED` if another socket took it meanwhile (the server
/// goes on refusing). `PIERHEAD_RESULT_ALREADY_STOPPED` once stopping.
///
/// # Safety
/// `server` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_set_connect_fault(
    server: *const pierhead_server,
    fault: i32,
    delay_ms: u64,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        let f = match pierhead_connect_fault::from_arg(fault, "fault")? {
            pierhead_connect_fault::PIERHEAD_CONNECT_NORMAL => None,
            pierhead_connect_fault::PIERHEAD_CONNECT_REFUSE => Some(ConnectFault::Refuse),
            pierhead_connect_fault::PIERHEAD_CONNECT_HOLD => Some(ConnectFault::Hold),
            pierhead_connect_fault::PIERHEAD_CONNECT_CLOSE => Some(ConnectFault::Close),
            pierhead_connect_fault::PIERHEAD_CONNECT_DELAY => {
                Some(ConnectFault::Delay(Duration::from_millis(delay_ms)))
            }
        };
        server.inner.set_connect_fault(f).map_err(|e| {
            set_last_error(e.to_string());
            match e {
                ConnectFaultError::NotRunning => pierhead_result::PIERHEAD_RESULT_ALREADY_STOPPED,
                ConnectFaultError::Rebind { .. } => pierhead_result::PIERHEAD_RESULT_BIND_FAILED,
            }
        })?;
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}

/// How the server's connections were used, from its request and connection logs
/// (kept when `pierhead_config_set_request_log` is on).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct pierhead_connections {
    /// Set by the caller to `sizeof(pierhead_connections)`; the struct may grow.
    pub struct_size: usize,
    /// Requests in the request log.
    pub requests: u64,
    /// Distinct connections those requests came on.
    pub connections: u64,
    /// The most requests one connection carried (2 or more: a client reused it).
    pub max_requests_per_connection: u64,
    /// Closed connections that the client closed first.
    pub closed_by_client: u64,
    /// Closed connections that the server closed first.
    pub closed_by_server: u64,
}

/// Fills `out` (its `struct_size` set by the caller) with how connections were used.
///
/// # Safety
/// `server` NULL or live; `out` NULL or valid, with `struct_size` set.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_connections(
    server: *const pierhead_server,
    out: *mut pierhead_connections,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        let out = non_null(out, "out")?;
        // SAFETY: non-NULL and valid, as promised; the size is read first.
        let size = unsafe { (*out).struct_size };
        if size < std::mem::size_of::<pierhead_connections>() {
            set_last_error(format!(
                "pierhead_connections.struct_size is {size}, at least {} is needed",
                std::mem::size_of::<pierhead_connections>()
            ));
            return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
        }
        let log = server.inner.requests();
        let mut per: HashMap<u64, u64> = HashMap::new();
        for r in &log {
            *per.entry(r.connection_id).or_default() += 1;
        }
        let closed = server.inner.connections();
        let by = |who| closed.iter().filter(|c| c.closed_by == who).count() as u64;
        let c = pierhead_connections {
            struct_size: std::mem::size_of::<pierhead_connections>(),
            requests: log.len() as u64,
            connections: per.len() as u64,
            max_requests_per_connection: per.values().copied().max().unwrap_or(0),
            closed_by_client: by(ClosedBy::Client),
            closed_by_server: by(ClosedBy::Server),
        };
        // SAFETY: non-NULL and valid, as promised; written only on success.
        unsafe { *out = c };
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}

/// Answers requests no route matches with `status` (100..=999) from now on,
/// while running. `PIERHEAD_RESULT_INVALID_PARAMETER` (naming `unmatched_status`)
/// for another status.
///
/// # Safety
/// `server` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_set_unmatched_status(
    server: *const pierhead_server,
    status: u16,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        server.inner.set_unmatched_status(status).map_err(|e| {
            set_last_error(e.to_string());
            pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER
        })?;
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}
