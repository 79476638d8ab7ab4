//! `pierhead_config`: a typed builder for everything `pierhead::Config` has.
//!
//! Setters check only what they can see (NULL, UTF-8); the whole config is
//! validated by `pierhead_server_start`, which names the bad field.

use std::time::Duration;

use pierhead::{Config, Protocol, SlowConsumer};

use crate::boundary::{c_str, guard};
use crate::enums::CEnum;
use crate::result::{pierhead_result, set_last_error};

/// The protocol a server speaks.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_protocol {
    /// Read and drop everything (RFC 863).
    PIERHEAD_PROTOCOL_DISCARD = 1,
    /// Send back every byte received (RFC 862).
    PIERHEAD_PROTOCOL_ECHO = 2,
    /// HTTP/1.1 with keep-alive, pipelining, routes and handlers.
    PIERHEAD_PROTOCOL_HTTP = 3,
    /// Length-prefixed binary frames with rooms and broadcast.
    PIERHEAD_PROTOCOL_FRAME = 4,
    /// WebSocket (RFC 6455, permessage-deflate): `ws://host/<room>` joins a room of
    /// the frame protocol's registry; `ws://host/` echoes.
    PIERHEAD_PROTOCOL_WS = 5,
}

c_enum!(pierhead_protocol {
    PIERHEAD_PROTOCOL_DISCARD,
    PIERHEAD_PROTOCOL_ECHO,
    PIERHEAD_PROTOCOL_HTTP,
    PIERHEAD_PROTOCOL_FRAME,
    PIERHEAD_PROTOCOL_WS,
});

impl From<pierhead_protocol> for Protocol {
    fn from(p: pierhead_protocol) -> Protocol {
        match p {
            pierhead_protocol::PIERHEAD_PROTOCOL_DISCARD => Protocol::Discard,
            pierhead_protocol::PIERHEAD_PROTOCOL_ECHO => Protocol::Echo,
            pierhead_protocol::PIERHEAD_PROTOCOL_HTTP => Protocol::Http,
            pierhead_protocol::PIERHEAD_PROTOCOL_FRAME => Protocol::Frame,
            pierhead_protocol::PIERHEAD_PROTOCOL_WS => Protocol::Ws,
        }
    }
}

/// What happens to a room member whose pending output is over `max_output_bytes`
/// when a broadcast frame arrives for it (frame protocol).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_slow_consumer {
    /// Send ERROR "slow consumer" (best effort) and close it (the default).
    PIERHEAD_SLOW_CONSUMER_DISCONNECT = 1,
    /// Drop the frames that do not fit, for that member.
    PIERHEAD_SLOW_CONSUMER_DROP_NEWEST = 2,
    /// Drop queued frames from the front to make room (never one partly sent).
    PIERHEAD_SLOW_CONSUMER_DROP_OLDEST = 3,
}

c_enum!(pierhead_slow_consumer {
    PIERHEAD_SLOW_CONSUMER_DISCONNECT,
    PIERHEAD_SLOW_CONSUMER_DROP_NEWEST,
    PIERHEAD_SLOW_CONSUMER_DROP_OLDEST,
});

impl From<pierhead_slow_consumer> for SlowConsumer {
    fn from(p: pierhead_slow_consumer) -> SlowConsumer {
        match p {
            pierhead_slow_consumer::PIERHEAD_SLOW_CONSUMER_DISCONNECT => SlowConsumer::Disconnect,
            pierhead_slow_consumer::PIERHEAD_SLOW_CONSUMER_DROP_NEWEST => SlowConsumer::DropNewest,
            pierhead_slow_consumer::PIERHEAD_SLOW_CONSUMER_DROP_OLDEST => SlowConsumer::DropOldest,
        }
    }
}

/// A server configuration being built. Create with `pierhead_config_new`, free
/// with `pierhead_config_free` (a started server keeps its own copy).
pub struct pierhead_config {
    pub(crate) inner: Config,
}

/// Creates a config with the defaults (HTTP on 127.0.0.1:0, one worker per core;
/// see README). On success `*out` is the new config.
///
/// # Safety
/// `out` must be NULL or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_new(out: *mut *mut pierhead_config) -> pierhead_result {
    guard(|| {
        if out.is_null() {
            return pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER;
        }
        let config = Box::new(pierhead_config {
            inner: Config::new(),
        });
        // SAFETY: `out` is non-NULL and valid, as the caller promised.
        unsafe { *out = Box::into_raw(config) };
        pierhead_result::PIERHEAD_RESULT_OK
    })
}

/// Frees a config. NULL is accepted and ignored.
///
/// # Safety
/// `config` must be NULL or a pointer from `pierhead_config_new` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_free(config: *mut pierhead_config) {
    let _ = guard(|| {
        if !config.is_null() {
            // SAFETY: from `pierhead_config_new` (Box::into_raw), freed only here.
            drop(unsafe { Box::from_raw(config) });
        }
        pierhead_result::PIERHEAD_RESULT_OK
    });
}

/// Applies `edit` to the config behind `config`.
///
/// # Safety
/// `config` must be NULL or a live pointer from `pierhead_config_new`.
pub(crate) unsafe fn edit(
    config: *mut pierhead_config,
    edit: impl FnOnce(Config) -> Result<Config, pierhead_result>,
) -> pierhead_result {
    guard(|| {
        if config.is_null() {
            set_last_error("config is NULL".to_owned());
            return pierhead_result::PIERHEAD_RESULT_NULL_PARAMETER;
        }
        // SAFETY: a live config, as the caller promised; not shared across threads
        // during this call (the header says configs are not thread-safe).
        let config = unsafe { &mut *config };
        let current = std::mem::take(&mut config.inner);
        match edit(current.clone()) {
            Ok(next) => {
                config.inner = next;
                pierhead_result::PIERHEAD_RESULT_OK
            }
            Err(e) => {
                config.inner = current;
                e
            }
        }
    })
}

/// Sets a text field: `value` is read as a NUL-terminated UTF-8 string named
/// `name` in errors, then given to `apply`.
///
/// # Safety
/// `config` must be NULL or a live config; `value` NULL or a NUL-terminated string.
pub(crate) unsafe fn set_text(
    config: *mut pierhead_config,
    value: *const libc::c_char,
    name: &str,
    apply: impl FnOnce(Config, &str) -> Config,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        edit(config, |c| {
            // SAFETY: forwarded from the caller.
            let v = c_str(value, name)?;
            Ok(apply(c, v))
        })
    }
}

/// Sets the protocol: `protocol` is a `pierhead_protocol` value (any other is
/// `PIERHEAD_RESULT_INVALID_PARAMETER`, the config unchanged).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_protocol(
    config: *mut pierhead_config,
    protocol: i32,
) -> pierhead_result {
    let apply =
        |c: Config| Ok(c.protocol(pierhead_protocol::from_arg(protocol, "protocol")?.into()));
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, apply) }
}

/// Sets the listen address, `"host:port"` (`"[::1]:0"` for IPv6; port 0 picks a
/// free port, read back with `pierhead_server_port`). Checked at start.
///
/// # Safety
/// `config` must be NULL or a live config; `addr` NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_bind(
    config: *mut pierhead_config,
    addr: *const libc::c_char,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { set_text(config, addr, "addr", |c, v| c.bind(v)) }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Worker threads, each with its own event loop (1..=256).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_workers(
    config: *mut pierhead_config,
    value: u32,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.workers(value as usize))) }
}

/// Connections served at once; more are refused (HTTP: 503).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_max_connections(
    config: *mut pierhead_config,
    value: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.max_connections(value as usize))) }
}

/// Length of the kernel's accept queue.
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_listen_backlog(
    config: *mut pierhead_config,
    value: u32,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.listen_backlog(value))) }
}

/// Close a connection idle this long (milliseconds, > 0).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_idle_timeout_ms(
    config: *mut pierhead_config,
    value: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.idle_timeout(ms(value)))) }
}

/// Answer 408 to a request not complete after this long (milliseconds, > 0).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_header_timeout_ms(
    config: *mut pierhead_config,
    value: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.header_timeout(ms(value)))) }
}

/// Close a connection whose output makes no progress this long (milliseconds).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_write_timeout_ms(
    config: *mut pierhead_config,
    value: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.write_timeout(ms(value)))) }
}

/// Largest HTTP request head; larger gets 431, or 414 when the request line alone
/// is larger (a request-target too long).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_max_header_bytes(
    config: *mut pierhead_config,
    value: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.max_header_bytes(value as usize))) }
}

/// Most header fields in an HTTP request head (1..=256, default 100); more gets 431.
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_max_headers(
    config: *mut pierhead_config,
    value: u32,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.max_headers(value as usize))) }
}

/// Largest frame payload (frame protocol, default 1 MiB); a longer frame is
/// refused with ERROR as soon as its header arrives.
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_max_frame_bytes(
    config: *mut pierhead_config,
    value: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.max_frame_bytes(value as usize))) }
}

/// Largest WebSocket message after decompression (ws protocol, default 16 MiB); a
/// longer one is refused with close code 1009 before it is buffered.
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_max_message_bytes(
    config: *mut pierhead_config,
    value: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.max_message_bytes(value as usize))) }
}

/// Whether WebSocket connections may negotiate permessage-deflate (ws protocol,
/// default true).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_ws_deflate(
    config: *mut pierhead_config,
    on: bool,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.ws_deflate(on))) }
}

/// The slow-consumer policy (frame protocol): `policy` is a
/// `pierhead_slow_consumer` value (any other is `PIERHEAD_RESULT_INVALID_PARAMETER`,
/// the config unchanged).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_slow_consumer(
    config: *mut pierhead_config,
    policy: i32,
) -> pierhead_result {
    let apply = |c: Config| {
        let p = pierhead_slow_consumer::from_arg(policy, "policy")?;
        Ok(c.slow_consumer(p.into()))
    };
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, apply) }
}

/// Largest HTTP request body; larger gets 413.
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_max_body_bytes(
    config: *mut pierhead_config,
    value: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.max_body_bytes(value))) }
}

/// Pending output per connection above which reading pauses.
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_max_output_bytes(
    config: *mut pierhead_config,
    value: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.max_output_bytes(value as usize))) }
}

/// Status answered when routes exist and none matches (default 404).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_unmatched_status(
    config: *mut pierhead_config,
    value: u16,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.unmatched_status(value))) }
}

/// Keep the last N requests in the request log (0: off, the default).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_request_log(
    config: *mut pierhead_config,
    value: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.request_log(value as usize))) }
}

/// Most threads running HTTP handlers at once (1..=1024, default 8).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_handler_threads(
    config: *mut pierhead_config,
    value: u32,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.handler_threads(value as usize))) }
}

/// A handler not done after this long is answered 500 (milliseconds, > 0).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_handler_timeout_ms(
    config: *mut pierhead_config,
    value: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.handler_timeout(ms(value)))) }
}

/// Bytes of each body kept in the request log (default 64 KiB).
///
/// # Safety
/// `config` must be NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn pierhead_config_set_request_log_body_bytes(
    config: *mut pierhead_config,
    value: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { edit(config, |c| Ok(c.request_log_body_bytes(value as usize))) }
}
