//! WebSocket endpoints of the HTTP mock from C: the `pierhead_websocket` builder
//! (echo, script, room or handler; on-open messages, script replies, faults,
//! subprotocols, a refused upgrade, delay, drip, fragments, no pongs), the
//! handler callback with its peer and reply, and the message log.
//!
//! ```c
//! pierhead_websocket *ws = NULL;
//! pierhead_websocket_new_script(&ws);
//! pierhead_websocket_send_on_open(ws, PIERHEAD_WS_TEXT, (const uint8_t *)"welcome", 7);
//! pierhead_websocket_reply(ws, PIERHEAD_WS_MATCH_TEXT, (const uint8_t *)"ping", 4,
//!                          PIERHEAD_WS_TEXT, (const uint8_t *)"pong", 4);
//! pierhead_websocket_fault_after(ws, 3, PIERHEAD_WS_FAULT_CLOSE, 4000, "enough");
//! pierhead_route_set_websocket(route, ws); // a copy: free ws when done
//! pierhead_websocket_free(ws);
//! ```
//!
//! Every setter checks its values as it is called (the rules of
//! `Route::validate`): a bad one is `PIERHEAD_RESULT_INVALID_PARAMETER` with a
//! last error naming the field (`websocket.refuse`, ...), the builder unchanged.
//! The route attachment itself (`pierhead_route_set_websocket`) is in `route`.

use std::sync::Arc;
use std::time::Duration;

use pierhead::{
    ConfigError, ConfigProblem, Route, WebSocket, WsConnection, WsFault, WsHandler, WsHandlerError,
    WsMatch, WsMessage, WsPeer, WsReply,
};

use crate::boundary::{bytes, c_str, c_string, guard, guard_try, non_null, required};
use crate::enums::CEnum;
use crate::result::{invalid, pierhead_result, set_last_error};
use crate::server::{pierhead_server, server_ref};
use crate::UserData;

/// A WebSocket endpoint being built. Create with one of the
/// `pierhead_websocket_new_*` calls, free with `pierhead_websocket_free`;
/// `pierhead_route_set_websocket` copies it, so it can be reused or freed after.
pub struct pierhead_websocket {
    pub(crate) inner: WebSocket,
}

/// The type of a WebSocket message (the RFC 6455 opcodes of its first frame).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_ws_message_type {
    /// A text message: UTF-8.
    PIERHEAD_WS_TEXT = 1,
    /// A binary message: any bytes.
    PIERHEAD_WS_BINARY = 2,
}

c_enum!(pierhead_ws_message_type {
    PIERHEAD_WS_TEXT,
    PIERHEAD_WS_BINARY,
});

/// Which client messages a script reply answers (`pierhead_websocket_reply`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_ws_match {
    /// Every message (the match data is ignored).
    PIERHEAD_WS_MATCH_ANY = 1,
    /// A text message equal to the match data (UTF-8).
    PIERHEAD_WS_MATCH_TEXT = 2,
    /// A binary message equal to the match data.
    PIERHEAD_WS_MATCH_BINARY = 3,
    /// A text message in which the match data, a regular expression (Rust regex
    /// syntax), finds a match: anchor it with `^...$` for the whole message.
    PIERHEAD_WS_MATCH_REGEX = 4,
    /// A text message that parses as JSON equal to the match data's JSON (key
    /// order and spacing do not matter).
    PIERHEAD_WS_MATCH_JSON = 5,
}

c_enum!(pierhead_ws_match {
    PIERHEAD_WS_MATCH_ANY,
    PIERHEAD_WS_MATCH_TEXT,
    PIERHEAD_WS_MATCH_BINARY,
    PIERHEAD_WS_MATCH_REGEX,
    PIERHEAD_WS_MATCH_JSON,
});

/// A fault a WebSocket endpoint plays once (`pierhead_websocket_fault_after`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum pierhead_ws_fault {
    /// Start the close handshake with a code and reason, then close.
    PIERHEAD_WS_FAULT_CLOSE = 1,
    /// Close the TCP connection without a close frame.
    PIERHEAD_WS_FAULT_ABORT = 2,
    /// Reset the connection (RST).
    PIERHEAD_WS_FAULT_RESET = 3,
    /// Send a frame no client may accept (a reserved opcode).
    PIERHEAD_WS_FAULT_INVALID_FRAME = 4,
    /// Send a text message that is not UTF-8.
    PIERHEAD_WS_FAULT_INVALID_UTF8 = 5,
}

c_enum!(pierhead_ws_fault {
    PIERHEAD_WS_FAULT_CLOSE,
    PIERHEAD_WS_FAULT_ABORT,
    PIERHEAD_WS_FAULT_RESET,
    PIERHEAD_WS_FAULT_INVALID_FRAME,
    PIERHEAD_WS_FAULT_INVALID_UTF8,
});

/// `PIERHEAD_RESULT_INVALID_PARAMETER` with a last error naming `field`.
fn malformed(field: &'static str, got: String, expected: &'static str) -> pierhead_result {
    invalid(&ConfigError {
        field,
        problem: ConfigProblem::Malformed { got, expected },
    })
}

/// Text from C bytes, or the error naming `field`.
fn utf8(b: Vec<u8>, field: &'static str) -> Result<String, pierhead_result> {
    String::from_utf8(b).map_err(|e| {
        let got = String::from_utf8_lossy(e.as_bytes()).into_owned();
        malformed(field, got, "UTF-8 text")
    })
}

/// A message from C arguments: `message_type` (a `pierhead_ws_message_type`
/// value) and `len` bytes at `data`; text must be UTF-8 (else the error names
/// `field`).
///
/// # Safety
/// `data` valid for `len` bytes (NULL if 0).
unsafe fn message_from(
    message_type: i32,
    data: *const u8,
    len: usize,
    field: &'static str,
) -> Result<WsMessage, pierhead_result> {
    let t = pierhead_ws_message_type::from_arg(message_type, "message_type")?;
    // SAFETY: as the caller promised.
    let b = unsafe { bytes(data, len) }?;
    Ok(match t {
        pierhead_ws_message_type::PIERHEAD_WS_TEXT => WsMessage::Text(utf8(b, field)?),
        pierhead_ws_message_type::PIERHEAD_WS_BINARY => WsMessage::Binary(b),
    })
}

/// The C type of a message.
fn type_of(m: &WsMessage) -> i32 {
    let t = if m.is_text() {
        pierhead_ws_message_type::PIERHEAD_WS_TEXT
    } else {
        pierhead_ws_message_type::PIERHEAD_WS_BINARY
    };
    t.to_c()
}

/// Boxes a new builder into `*out`.
fn new_into(out: *mut *mut pierhead_websocket, inner: WebSocket) -> pierhead_result {
    guard_try(|| {
        let out = non_null(out, "out")?;
        // SAFETY: `out` is non-NULL and valid, as the caller promised.
        unsafe { *out = Box::into_raw(Box::new(pierhead_websocket { inner })) };
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}

/// An endpoint that sends every message back as it came (text as text).
///
/// # Safety
/// `out` NULL or valid for one pointer.
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_new_echo(
    out: *mut *mut pierhead_websocket,
) -> pierhead_result {
    new_into(out, WebSocket::echo())
}

/// An endpoint that answers only what its script says (on-open messages,
/// replies, faults); a message no reply matches gets no answer.
///
/// # Safety
/// `out` NULL or valid for one pointer.
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_new_script(
    out: *mut *mut pierhead_websocket,
) -> pierhead_result {
    new_into(out, WebSocket::script())
}

/// An endpoint whose connections join `room` (NUL-terminated UTF-8): each
/// member's messages go to the other members of that room on this server.
///
/// # Safety
/// `room` NULL or NUL-terminated; `out` NULL or valid for one pointer.
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_new_room(
    room: *const libc::c_char,
    out: *mut *mut pierhead_websocket,
) -> pierhead_result {
    guard_try(|| {
        non_null(out, "out")?;
        // SAFETY: as the caller promised.
        let room = unsafe { c_str(room, "room") }?;
        Ok(new_into(out, WebSocket::room(room)))
    })
}

/// What a WebSocket handler is told about the connection a message came on.
/// Valid only during the handler call.
#[repr(C)]
pub struct pierhead_ws_peer {
    /// The connection's id (as in the message log and the request log).
    pub connection_id: u64,
    /// The request target of the upgrade, NUL-terminated (`"/chat?user=1"`).
    pub target: *const libc::c_char,
    /// The subprotocol agreed, NUL-terminated; NULL when none was.
    pub subprotocol: *const libc::c_char,
    /// The client messages so far on this connection, this one included (1-based).
    pub nth: u64,
}

/// The answer a WebSocket handler builds with `pierhead_ws_reply_send` and
/// `pierhead_ws_reply_close`; owned by the library, valid during the call.
/// Starts empty (no answer).
pub struct pierhead_ws_reply {
    inner: WsReply,
}

/// Answers one client message of a WebSocket endpoint: `message_type` is a
/// `pierhead_ws_message_type` value, `data` its `len` bytes (NULL when `len` is
/// 0; valid only during the call). Fill `reply` with `pierhead_ws_reply_send` and
/// `pierhead_ws_reply_close`; return 0. A nonzero return is a failure: the
/// connection is closed with 1011 (internal error), counted in `handler_errors`.
///
/// Runs on one of the server's handler threads (`pierhead-h<N>`), never on an I/O
/// thread; calls for different connections may run at once on different threads,
/// the messages of one connection one at a time, in order (the connection reads
/// no further message until the reply is sent). A call longer than the config's
/// handler timeout fails the connection as a nonzero return does.
pub type pierhead_ws_handler = Option<
    unsafe extern "C" fn(
        user_data: *mut libc::c_void,
        peer: *const pierhead_ws_peer,
        message_type: i32,
        data: *const u8,
        len: usize,
        reply: *mut pierhead_ws_reply,
    ) -> libc::c_int,
>;

/// A handler known to be non-NULL.
type CWsHandler = unsafe extern "C" fn(
    *mut libc::c_void,
    *const pierhead_ws_peer,
    i32,
    *const u8,
    usize,
    *mut pierhead_ws_reply,
) -> libc::c_int;

/// A C WebSocket handler with its user data, as a core one.
struct CallWs {
    handler: CWsHandler,
    data: Arc<UserData>,
}

impl WsHandler for CallWs {
    fn on_message(&self, peer: &WsPeer, message: &WsMessage) -> WsReply {
        self.try_on_message(peer, message).unwrap_or_default()
    }

    fn try_on_message(
        &self,
        peer: &WsPeer,
        message: &WsMessage,
    ) -> Result<WsReply, WsHandlerError> {
        let target = c_string(&peer.target);
        let subprotocol = peer.subprotocol.as_deref().map(c_string);
        let c_peer = pierhead_ws_peer {
            connection_id: peer.connection_id,
            target: target.as_ptr(),
            subprotocol: subprotocol
                .as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr()),
            nth: peer.nth,
        };
        let data = message.as_bytes();
        let mut reply = pierhead_ws_reply {
            inner: WsReply::none(),
        };
        // SAFETY: a valid handler with its own user data; the peer, the data and
        // the reply outlive the call.
        let rc = unsafe {
            (self.handler)(
                self.data.ptr,
                &c_peer,
                type_of(message),
                if data.is_empty() {
                    std::ptr::null()
                } else {
                    data.as_ptr()
                },
                data.len(),
                &mut reply,
            )
        };
        if rc != 0 {
            return Err(WsHandlerError(format!("the C handler returned {rc}")));
        }
        Ok(reply.inner)
    }
}

/// An endpoint that calls `handler` for each client message (see
/// `pierhead_ws_handler`); `finalizer` (may be NULL) gets `user_data` once no
/// copy of the endpoint (builder, route, config, server) can call it any more.
///
/// # Safety
/// `out` NULL or valid for one pointer; `user_data` usable from the handler
/// threads.
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_new_handler(
    handler: pierhead_ws_handler,
    user_data: *mut libc::c_void,
    finalizer: crate::pierhead_free_callback,
    out: *mut *mut pierhead_websocket,
) -> pierhead_result {
    guard_try(|| {
        non_null(out, "out")?;
        let handler = required(handler, "handler")?;
        let data = Arc::new(UserData::new(user_data, finalizer));
        Ok(new_into(out, WebSocket::handler(CallWs { handler, data })))
    })
}

/// Frees a builder. NULL is accepted and ignored.
///
/// # Safety
/// `ws` NULL or from a `pierhead_websocket_new_*` call, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_free(ws: *mut pierhead_websocket) {
    let _ = guard(|| {
        if !ws.is_null() {
            // SAFETY: from `new_into` (Box::into_raw), freed only here.
            drop(unsafe { Box::from_raw(ws) });
        }
        pierhead_result::PIERHEAD_RESULT_OK
    });
}

/// Applies `f` to the builder behind `ws` and checks the result as a route would
/// (`Route::validate`); on any failure the builder is left as it was.
///
/// # Safety
/// `ws` NULL or a live builder used by one thread at a time.
unsafe fn with_ws(
    ws: *mut pierhead_websocket,
    f: impl FnOnce(WebSocket) -> Result<WebSocket, pierhead_result>,
) -> pierhead_result {
    guard_try(|| {
        let ws = non_null(ws, "ws")?;
        // SAFETY: live and not shared during the call, as promised.
        let ws = unsafe { &mut *ws };
        let candidate = f(ws.inner.clone())?;
        Route::get("/")
            .websocket(candidate.clone())
            .validate()
            .map_err(|e| invalid(&e))?;
        ws.inner = candidate;
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}

/// Sends a message as soon as a connection is open (in the order added):
/// `message_type` a `pierhead_ws_message_type` value, a copy of `len` bytes at
/// `data` (text must be UTF-8: else the error names `websocket.send_on_open`).
///
/// # Safety
/// `ws` NULL or live; `data` valid for `len` bytes (NULL if 0).
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_send_on_open(
    ws: *mut pierhead_websocket,
    message_type: i32,
    data: *const u8,
    len: usize,
) -> pierhead_result {
    let apply = |w: WebSocket| {
        // SAFETY: as the caller promised.
        let m = unsafe { message_from(message_type, data, len, "websocket.send_on_open") }?;
        Ok(w.send_on_open(m))
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_ws(ws, apply) }
}

/// Answers a client message that `match_kind` (a `pierhead_ws_match` value) with
/// `match_len` bytes at `match_data` matches with a message (`message_type`, `len`
/// bytes at `data`). Every rule that matches a message sends its reply, in the
/// order the rules were added (add the same match several times for several
/// replies); a message some rule answers is not echoed, put in the room or given
/// to the handler. A regular expression or JSON that does not parse, or text that is
/// not UTF-8, is `PIERHEAD_RESULT_INVALID_PARAMETER` naming `websocket.reply`.
///
/// # Safety
/// `ws` NULL or live; `match_data` valid for `match_len` bytes and `data` for
/// `len` bytes (each NULL if its length is 0).
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_reply(
    ws: *mut pierhead_websocket,
    match_kind: i32,
    match_data: *const u8,
    match_len: usize,
    message_type: i32,
    data: *const u8,
    len: usize,
) -> pierhead_result {
    let apply = |w: WebSocket| {
        const FIELD: &str = "websocket.reply";
        let kind = pierhead_ws_match::from_arg(match_kind, "match_kind")?;
        // SAFETY: as the caller promised.
        let m = unsafe { bytes(match_data, match_len) }?;
        let core = |r: Result<WsMatch, ConfigError>| {
            r.map_err(|e| {
                set_last_error(e.to_string());
                pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER
            })
        };
        let when = match kind {
            pierhead_ws_match::PIERHEAD_WS_MATCH_ANY => WsMatch::Any,
            pierhead_ws_match::PIERHEAD_WS_MATCH_TEXT => WsMatch::Text(utf8(m, FIELD)?),
            pierhead_ws_match::PIERHEAD_WS_MATCH_BINARY => WsMatch::Binary(m),
            pierhead_ws_match::PIERHEAD_WS_MATCH_REGEX => core(WsMatch::regex(&utf8(m, FIELD)?))?,
            pierhead_ws_match::PIERHEAD_WS_MATCH_JSON => core(WsMatch::json(&utf8(m, FIELD)?))?,
        };
        // SAFETY: as the caller promised.
        let reply = unsafe { message_from(message_type, data, len, FIELD) }?;
        Ok(w.reply(when, reply))
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_ws(ws, apply) }
}

/// Plays `fault` (a `pierhead_ws_fault` value) once `messages` client messages
/// were answered (0: right after the on-open messages). `code` and `reason`
/// (NUL-terminated UTF-8, NULL for none) are the close frame's, for
/// `PIERHEAD_WS_FAULT_CLOSE` only: a code a server may not send (1000-1003,
/// 1007-1014 and 3000-4999 it may) or a reason over 123 bytes is
/// `PIERHEAD_RESULT_INVALID_PARAMETER` naming `websocket.fault`.
///
/// # Safety
/// `ws` NULL or live; `reason` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_fault_after(
    ws: *mut pierhead_websocket,
    messages: u64,
    fault: i32,
    code: u16,
    reason: *const libc::c_char,
) -> pierhead_result {
    let apply = |w: WebSocket| {
        let f = match pierhead_ws_fault::from_arg(fault, "fault")? {
            pierhead_ws_fault::PIERHEAD_WS_FAULT_CLOSE => WsFault::Close {
                code,
                reason: if reason.is_null() {
                    String::new()
                } else {
                    // SAFETY: non-NULL and NUL-terminated, as promised.
                    unsafe { c_str(reason, "reason") }?.to_owned()
                },
            },
            pierhead_ws_fault::PIERHEAD_WS_FAULT_ABORT => WsFault::Abort,
            pierhead_ws_fault::PIERHEAD_WS_FAULT_RESET => WsFault::Reset,
            pierhead_ws_fault::PIERHEAD_WS_FAULT_INVALID_FRAME => WsFault::InvalidFrame,
            pierhead_ws_fault::PIERHEAD_WS_FAULT_INVALID_UTF8 => WsFault::InvalidUtf8,
        };
        Ok(w.fault_after(messages, f))
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_ws(ws, apply) }
}

/// Offers subprotocol `name` (NUL-terminated; a token, else
/// `PIERHEAD_RESULT_INVALID_PARAMETER` naming `websocket.subprotocol`): the first
/// protocol a client lists that the endpoint offers is agreed (the handler's
/// `peer->subprotocol`, the log's `subprotocol`).
///
/// # Safety
/// `ws` NULL or live; `name` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_add_subprotocol(
    ws: *mut pierhead_websocket,
    name: *const libc::c_char,
) -> pierhead_result {
    // SAFETY: as the caller promised.
    let apply = |w: WebSocket| Ok(w.subprotocol(unsafe { c_str(name, "name") }?));
    // SAFETY: forwarded from the caller.
    unsafe { with_ws(ws, apply) }
}

/// Refuses every upgrade with HTTP `status` (200-599 but 101; else
/// `PIERHEAD_RESULT_INVALID_PARAMETER` naming `websocket.refuse`).
///
/// # Safety
/// `ws` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_refuse(
    ws: *mut pierhead_websocket,
    status: u16,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { with_ws(ws, |w| Ok(w.refuse(status))) }
}

/// Sends each message `ms` milliseconds after it is due (later messages wait
/// behind earlier ones).
///
/// # Safety
/// `ws` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_set_delay(
    ws: *mut pierhead_websocket,
    ms: u64,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { with_ws(ws, |w| Ok(w.delay(Duration::from_millis(ms)))) }
}

/// `PIERHEAD_RESULT_INVALID_PARAMETER` naming `field` for a size of 0.
fn positive(n: usize, field: &'static str) -> Result<usize, pierhead_result> {
    if n == 0 {
        set_last_error(
            ConfigError {
                field,
                problem: ConfigProblem::TooSmall { min: 1, got: 0 },
            }
            .to_string(),
        );
        return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
    }
    Ok(n)
}

/// Sends each message's bytes `bytes` (at least 1, else
/// `PIERHEAD_RESULT_INVALID_PARAMETER` naming `websocket.drip`) at a time,
/// `interval_ms` milliseconds apart.
///
/// # Safety
/// `ws` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_set_drip(
    ws: *mut pierhead_websocket,
    bytes: usize,
    interval_ms: u64,
) -> pierhead_result {
    let apply = |w: WebSocket| {
        let n = positive(bytes, "websocket.drip")?;
        Ok(w.drip(n, Duration::from_millis(interval_ms)))
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_ws(ws, apply) }
}

/// Sends each message as frames of at most `bytes` payload bytes (at least 1,
/// else `PIERHEAD_RESULT_INVALID_PARAMETER` naming `websocket.fragment`).
///
/// # Safety
/// `ws` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_set_fragment(
    ws: *mut pierhead_websocket,
    bytes: usize,
) -> pierhead_result {
    let apply = |w: WebSocket| Ok(w.fragment(positive(bytes, "websocket.fragment")?));
    // SAFETY: forwarded from the caller.
    unsafe { with_ws(ws, apply) }
}

/// Answers no ping (a client's keep-alive must notice).
///
/// # Safety
/// `ws` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn pierhead_websocket_set_no_pong(
    ws: *mut pierhead_websocket,
) -> pierhead_result {
    // SAFETY: forwarded from the caller.
    unsafe { with_ws(ws, |w| Ok(w.no_pong())) }
}

/// Borrows the reply of the running handler.
///
/// # Safety
/// `reply` NULL or the reply given to the running handler.
unsafe fn with_reply(
    reply: *mut pierhead_ws_reply,
    f: impl FnOnce(&mut WsReply) -> Result<(), pierhead_result>,
) -> pierhead_result {
    guard_try(|| {
        let reply = non_null(reply, "reply")?;
        // SAFETY: the running handler's reply, as promised.
        let reply = unsafe { &mut *reply };
        if reply.inner.close.is_some() {
            set_last_error("the reply is closed: pierhead_ws_reply_close was called".to_owned());
            return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
        }
        f(&mut reply.inner)?;
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}

/// Adds a message to the handler's answer (sent in the order added):
/// `message_type` a `pierhead_ws_message_type` value, a copy of `len` bytes at
/// `data` (text must be UTF-8). After `pierhead_ws_reply_close`,
/// `PIERHEAD_RESULT_INVALID_PARAMETER`.
///
/// # Safety
/// `reply` NULL or the running handler's; `data` valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn pierhead_ws_reply_send(
    reply: *mut pierhead_ws_reply,
    message_type: i32,
    data: *const u8,
    len: usize,
) -> pierhead_result {
    let apply = |r: &mut WsReply| {
        // SAFETY: as the caller promised.
        let m = unsafe { message_from(message_type, data, len, "data") }?;
        r.messages.push(m);
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_reply(reply, apply) }
}

/// After the messages, starts the close handshake with `code` (one a server may
/// send: 1000-1003, 1007-1014, 3000-4999) and `reason` (NUL-terminated UTF-8 of
/// at most 123 bytes; NULL for none); else `PIERHEAD_RESULT_INVALID_PARAMETER`
/// naming `code` or `reason`. Once per reply.
///
/// # Safety
/// `reply` NULL or the running handler's; `reason` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn pierhead_ws_reply_close(
    reply: *mut pierhead_ws_reply,
    code: u16,
    reason: *const libc::c_char,
) -> pierhead_result {
    let apply = |r: &mut WsReply| {
        let reason = if reason.is_null() {
            ""
        } else {
            // SAFETY: non-NULL and NUL-terminated, as promised.
            unsafe { c_str(reason, "reason") }?
        };
        if !pierhead::websocket::sendable(code) {
            set_last_error(format!(
                "invalid parameter `code`: {code} is not a close code a server may send \
                 (1000-1003, 1007-1014, 3000-4999)"
            ));
            return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
        }
        if reason.len() > 123 {
            set_last_error(format!(
                "invalid parameter `reason`: {} bytes, at most 123",
                reason.len()
            ));
            return Err(pierhead_result::PIERHEAD_RESULT_INVALID_PARAMETER);
        }
        r.close = Some((code, reason.to_owned()));
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { with_reply(reply, apply) }
}

/// One client message in the message log.
#[repr(C)]
pub struct pierhead_ws_message {
    /// A `pierhead_ws_message_type` value.
    pub message_type: i32,
    /// The payload; NULL when `len` is 0.
    pub data: *const u8,
    /// Its length in bytes.
    pub len: usize,
}

/// One connection of a WebSocket endpoint, as the message log saw it. Valid only
/// during the callback.
#[repr(C)]
pub struct pierhead_ws_connection {
    /// `sizeof(pierhead_ws_connection)` as the library knows it: fields past it
    /// (in a newer header) are not there.
    pub struct_size: usize,
    /// The connection's id (the upgrade request's in the request log).
    pub connection_id: u64,
    /// The request target of the upgrade, NUL-terminated (`"/chat?user=1"`).
    pub target: *const libc::c_char,
    /// The id of the route that upgraded it (as `pierhead_server_add_route` gives).
    pub route_id: u64,
    /// The subprotocol agreed, NUL-terminated; NULL when none was.
    pub subprotocol: *const libc::c_char,
    /// What the client sent, in order: `message_count` messages (the last ones
    /// the request log keeps; see `messages_evicted`).
    pub messages: *const pierhead_ws_message,
    /// Number of `messages`.
    pub message_count: usize,
    /// Messages pushed out of `messages` because the log was full.
    pub messages_evicted: u64,
    /// 1 once the connection ended.
    pub closed: u8,
    /// The code of the client's close frame (1005 for one without a code); 0 if
    /// it sent none.
    pub close_code: u16,
    /// The reason of the client's close frame, NUL-terminated ("" for none).
    pub close_reason: *const libc::c_char,
    /// The code of the endpoint's own close frame if it sent one first (a fault,
    /// a handler's close, 1011 for a failed handler, 1002/1007 for a client's
    /// violation); 0 if it only answered the client's or sent none.
    pub server_close_code: u16,
    /// The reason of the endpoint's own close frame, NUL-terminated.
    pub server_close_reason: *const libc::c_char,
}

/// Called once per connection by `pierhead_server_ws_connections`, on the calling
/// thread, before that call returns.
pub type pierhead_ws_connection_callback = Option<
    unsafe extern "C" fn(user_data: *mut libc::c_void, connection: *const pierhead_ws_connection),
>;

/// Calls `callback` with one connection of the log.
///
/// # Safety
/// A valid callback.
unsafe fn report(
    c: &WsConnection,
    callback: unsafe extern "C" fn(*mut libc::c_void, *const pierhead_ws_connection),
    user_data: *mut libc::c_void,
) {
    let target = c_string(&c.target);
    let subprotocol = c.subprotocol.as_deref().map(c_string);
    let reason = c_string(&c.close_reason);
    let server_reason = c_string(&c.server_close_reason);
    let messages: Vec<pierhead_ws_message> = c
        .messages
        .iter()
        .map(|m| pierhead_ws_message {
            message_type: type_of(m),
            data: if m.as_bytes().is_empty() {
                std::ptr::null()
            } else {
                m.as_bytes().as_ptr()
            },
            len: m.as_bytes().len(),
        })
        .collect();
    let conn = pierhead_ws_connection {
        struct_size: std::mem::size_of::<pierhead_ws_connection>(),
        connection_id: c.connection_id,
        target: target.as_ptr(),
        route_id: c.route.0,
        subprotocol: subprotocol
            .as_ref()
            .map_or(std::ptr::null(), |s| s.as_ptr()),
        messages: messages.as_ptr(),
        message_count: messages.len(),
        messages_evicted: c.messages_evicted,
        closed: u8::from(c.closed),
        close_code: c.close_code.unwrap_or(0),
        close_reason: reason.as_ptr(),
        server_close_code: c.server_close_code.unwrap_or(0),
        server_close_reason: server_reason.as_ptr(),
    };
    // SAFETY: a valid callback, as promised; everything it is given lives for
    // the call.
    unsafe { callback(user_data, &conn) };
}

/// The message log: calls `callback` for each connection of the server's
/// WebSocket routes, oldest first (the last `request_log` of them), on the
/// calling thread, then returns. Nothing is logged unless
/// `pierhead_config_set_request_log` turned the request log on.
///
/// # Safety
/// `server` NULL or live; `callback` a valid function.
#[no_mangle]
pub unsafe extern "C" fn pierhead_server_ws_connections(
    server: *const pierhead_server,
    callback: pierhead_ws_connection_callback,
    user_data: *mut libc::c_void,
) -> pierhead_result {
    guard_try(|| {
        // SAFETY: forwarded from the caller.
        let server = unsafe { server_ref(server) }?;
        let callback = required(callback, "callback")?;
        for c in server.inner.ws_connections() {
            // SAFETY: a valid callback, as promised.
            unsafe { report(&c, callback, user_data) };
        }
        Ok(pierhead_result::PIERHEAD_RESULT_OK)
    })
}
