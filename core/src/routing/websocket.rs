//! WebSocket endpoints in the HTTP mock: a route that upgrades to WebSocket
//! ([`Route::websocket`](crate::Route::websocket)) and what it does with the
//! connection: echo, join a room, play a script, or call a handler per message,
//! with the faults a client library's tests need.
//!
//! ```
//! use pierhead::{Route, WebSocket, WsFault, WsMatch, WsMessage};
//! use std::time::Duration;
//! let echo = Route::get("/echo").websocket(WebSocket::echo());
//! let chat = Route::get("/chat").websocket(
//!     WebSocket::script()
//!         .send_on_open(WsMessage::text("welcome"))
//!         .reply(WsMatch::text("ping"), WsMessage::text("pong"))
//!         .reply(WsMatch::json(r#"{"op":"bye"}"#).unwrap(), WsMessage::text("ciao"))
//!         .fault_after(3, WsFault::Close { code: 4000, reason: "enough".into() }),
//! );
//! let flaky = Route::get("/flaky").websocket(
//!     WebSocket::echo().fragment(3).delay(Duration::from_millis(20)).no_pong(),
//! );
//! # let _ = (echo, chat, flaky);
//! ```

use std::sync::Arc;
use std::time::Duration;

use crate::error::{ConfigError, ConfigProblem};

/// A WebSocket message: what a client sent, or what an endpoint sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message (valid UTF-8).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl WsMessage {
    /// A text message.
    pub fn text(s: impl Into<String>) -> WsMessage {
        WsMessage::Text(s.into())
    }

    /// A binary message.
    pub fn binary(b: impl Into<Vec<u8>>) -> WsMessage {
        WsMessage::Binary(b.into())
    }

    /// The payload.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            WsMessage::Text(s) => s.as_bytes(),
            WsMessage::Binary(b) => b,
        }
    }

    /// True for a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, WsMessage::Text(_))
    }
}

/// Which client messages a script's reply answers ([`WebSocket::reply`]).
#[derive(Debug, Clone)]
pub enum WsMatch {
    /// Every message.
    Any,
    /// A text message equal to this.
    Text(String),
    /// A binary message equal to this.
    Binary(Vec<u8>),
    /// A text message in which this regular expression finds a match (anchor it
    /// with `^...$` to match the whole message).
    Regex(regex::Regex),
    /// A text message that parses as JSON equal to this value (key order and
    /// spacing do not matter).
    Json(serde_json::Value),
}

impl WsMatch {
    /// A text message equal to `s`.
    pub fn text(s: impl Into<String>) -> WsMatch {
        WsMatch::Text(s.into())
    }

    /// A text message the pattern matches; an invalid pattern names the field
    /// `websocket.reply`.
    pub fn regex(pattern: &str) -> Result<WsMatch, ConfigError> {
        regex::Regex::new(pattern)
            .map(WsMatch::Regex)
            .map_err(|_| bad(pattern, "a regular expression (Rust regex syntax)"))
    }

    /// A text message that is this JSON value; invalid JSON names the field
    /// `websocket.reply`.
    pub fn json(value: &str) -> Result<WsMatch, ConfigError> {
        serde_json::from_str(value)
            .map(WsMatch::Json)
            .map_err(|_| bad(value, "JSON"))
    }

    /// Whether `message` is one this matches.
    pub fn matches(&self, message: &WsMessage) -> bool {
        match (self, message) {
            (WsMatch::Any, _) => true,
            (WsMatch::Text(t), WsMessage::Text(m)) => t == m,
            (WsMatch::Binary(b), WsMessage::Binary(m)) => b == m,
            (WsMatch::Regex(r), WsMessage::Text(m)) => r.is_match(m),
            (WsMatch::Json(v), WsMessage::Text(m)) => {
                serde_json::from_str::<serde_json::Value>(m).is_ok_and(|got| &got == v)
            }
            _ => false,
        }
    }
}

fn bad(got: &str, expected: &'static str) -> ConfigError {
    ConfigError {
        field: "websocket.reply",
        problem: ConfigProblem::Malformed {
            got: got.to_owned(),
            expected,
        },
    }
}

/// A fault an endpoint plays once, after a number of client messages
/// ([`WebSocket::fault_after`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsFault {
    /// Start the close handshake with this code and reason, then close.
    Close {
        /// The close code (1000-4999, as a server may send).
        code: u16,
        /// Its reason (at most 123 bytes of UTF-8).
        reason: String,
    },
    /// Close the TCP connection without a close frame.
    Abort,
    /// Reset the connection (RST).
    Reset,
    /// Send a frame no client may accept (a reserved opcode).
    InvalidFrame,
    /// Send a text message that is not UTF-8.
    InvalidUtf8,
}

/// What a handler answers to one message ([`WsHandler`]). A close code a server
/// may not send (see [`WsFault::Close`]) fails the handler: 1011.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WsReply {
    /// Messages to send, in order.
    pub messages: Vec<WsMessage>,
    /// Then start the close handshake with this code and reason.
    pub close: Option<(u16, String)>,
}

impl WsReply {
    /// No answer.
    pub fn none() -> WsReply {
        WsReply::default()
    }

    /// One message.
    pub fn message(m: WsMessage) -> WsReply {
        WsReply {
            messages: vec![m],
            close: None,
        }
    }
}

/// A WebSocket handler failed (it raised, returned an error, or panicked): the
/// connection is closed with 1011 (internal error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("WebSocket handler failed: {0}")]
pub struct WsHandlerError(pub String);

/// What a handler is told about the connection a message came on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsPeer {
    /// The connection's id (as in the request log).
    pub connection_id: u64,
    /// The request target of the upgrade (`/chat?user=1`).
    pub target: String,
    /// The subprotocol agreed, if any.
    pub subprotocol: Option<String>,
    /// The client messages so far on this connection, this one included (1-based).
    pub nth: u64,
}

/// Answers each message of a WebSocket endpoint ([`WebSocket::handler`]). Runs on
/// the server's handler threads (as HTTP handlers do), one message of a connection
/// at a time, in order: the connection reads no further message until the reply is
/// sent. A panic closes the connection with 1011 (internal error), counted in
/// `Stats::handler_errors`, as a handler that takes longer than
/// `Config::handler_timeout` is.
///
/// Any `Fn(&WsPeer, &WsMessage) -> WsReply + Send + Sync + 'static` closure is one.
pub trait WsHandler: Send + Sync + 'static {
    /// The reply to `message`.
    fn on_message(&self, peer: &WsPeer, message: &WsMessage) -> WsReply;

    /// Like [`WsHandler::on_message`], but may report a failure (a binding's
    /// callback that raised): `Err` closes the connection with 1011 and counts
    /// a handler error. The default calls `on_message`.
    fn try_on_message(
        &self,
        peer: &WsPeer,
        message: &WsMessage,
    ) -> Result<WsReply, WsHandlerError> {
        Ok(self.on_message(peer, message))
    }
}

impl<F> WsHandler for F
where
    F: Fn(&WsPeer, &WsMessage) -> WsReply + Send + Sync + 'static,
{
    fn on_message(&self, peer: &WsPeer, message: &WsMessage) -> WsReply {
        self(peer, message)
    }
}

/// What an endpoint does with the client's messages.
#[derive(Clone)]
pub(crate) enum Behavior {
    /// Sends every message back.
    Echo,
    /// Joins the room: a member's messages go to every other member (the rooms of
    /// the frame protocol and `--protocol ws`, on this server).
    Room(String),
    /// Only the script ([`WebSocket::reply`]); other messages get no answer.
    Script,
    /// Calls a handler per message.
    Handler(Arc<dyn WsHandler>),
}

impl std::fmt::Debug for Behavior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Behavior::Echo => f.write_str("Echo"),
            Behavior::Room(r) => f.debug_tuple("Room").field(r).finish(),
            Behavior::Script => f.write_str("Script"),
            Behavior::Handler(_) => f.write_str("Handler(<callback>)"),
        }
    }
}

/// A WebSocket endpoint of the HTTP mock: what a route that upgrades does
/// ([`Route::websocket`](crate::Route::websocket)). A request to it without a
/// valid opening handshake is refused (426, 400, ...), as by `--protocol ws`.
///
/// Script replies ([`WebSocket::reply`]) come first for every behaviour: a
/// message that matches a rule gets the rule's replies and nothing else; other
/// messages are echoed, go to the room, or go to the handler. Every client
/// message is in the message log ([`Server::ws_connections`](crate::Server::ws_connections))
/// when the request log is on.
#[derive(Debug, Clone)]
pub struct WebSocket {
    pub(crate) behavior: Behavior,
    pub(crate) on_open: Vec<WsMessage>,
    pub(crate) replies: Vec<(WsMatch, WsMessage)>,
    pub(crate) faults: Vec<(u64, WsFault)>,
    pub(crate) subprotocols: Vec<String>,
    pub(crate) refuse: Option<u16>,
    pub(crate) delay: Option<Duration>,
    pub(crate) drip: Option<(usize, Duration)>,
    pub(crate) fragment: Option<usize>,
    pub(crate) no_pong: bool,
}

impl WebSocket {
    fn with(behavior: Behavior) -> WebSocket {
        WebSocket {
            behavior,
            on_open: Vec::new(),
            replies: Vec::new(),
            faults: Vec::new(),
            subprotocols: Vec::new(),
            refuse: None,
            delay: None,
            drip: None,
            fragment: None,
            no_pong: false,
        }
    }

    /// Sends every message back, as it came (text as text).
    pub fn echo() -> WebSocket {
        WebSocket::with(Behavior::Echo)
    }

    /// Joins `room`: each member's messages go to every other member, WebSocket
    /// and frame-protocol members alike ([`Server::publish`](crate::Server::publish)
    /// reaches them too).
    pub fn room(name: impl Into<String>) -> WebSocket {
        WebSocket::with(Behavior::Room(name.into()))
    }

    /// Answers only what the script says ([`WebSocket::send_on_open`],
    /// [`WebSocket::reply`], [`WebSocket::fault_after`]).
    pub fn script() -> WebSocket {
        WebSocket::with(Behavior::Script)
    }

    /// Calls `handler` for each message (on the handler threads).
    pub fn handler(handler: impl WsHandler) -> WebSocket {
        WebSocket::with(Behavior::Handler(Arc::new(handler)))
    }

    /// Sends `message` as soon as the connection is open (in the order given).
    pub fn send_on_open(mut self, message: WsMessage) -> WebSocket {
        self.on_open.push(message);
        self
    }

    /// Answers a client message that `when` matches with `reply`. Every rule whose
    /// `when` matches sends its reply, in the order the rules were given (give the
    /// same match several times for several replies).
    pub fn reply(mut self, when: WsMatch, reply: WsMessage) -> WebSocket {
        self.replies.push((when, reply));
        self
    }

    /// Plays `fault` once `messages` client messages were answered (0: right after
    /// the messages sent on open).
    pub fn fault_after(mut self, messages: u64, fault: WsFault) -> WebSocket {
        self.faults.push((messages, fault));
        self
    }

    /// Offers subprotocol `name`: the first protocol the client lists in
    /// `Sec-WebSocket-Protocol` that this endpoint offers is agreed. A client that
    /// asks only for protocols not offered is answered without the header, as RFC
    /// 6455 section 4.2.2 says (a strict client then fails the handshake itself).
    pub fn subprotocol(mut self, name: impl Into<String>) -> WebSocket {
        self.subprotocols.push(name.into());
        self
    }

    /// Refuses the upgrade with this HTTP status (a client's retry logic).
    pub fn refuse(mut self, status: u16) -> WebSocket {
        self.refuse = Some(status);
        self
    }

    /// Sends each message this long after it is due.
    pub fn delay(mut self, delay: Duration) -> WebSocket {
        self.delay = Some(delay);
        self
    }

    /// Sends each message's bytes `bytes` at a time (at least 1), `interval` apart.
    pub fn drip(mut self, bytes: usize, interval: Duration) -> WebSocket {
        self.drip = Some((bytes, interval));
        self
    }

    /// Sends each message as frames of at most `bytes` payload bytes each (at
    /// least 1).
    pub fn fragment(mut self, bytes: usize) -> WebSocket {
        self.fragment = Some(bytes);
        self
    }

    /// Answers no ping (a client's keep-alive must notice).
    pub fn no_pong(mut self) -> WebSocket {
        self.no_pong = true;
        self
    }

    /// Checks what cannot be checked as it is given: statuses, close codes and
    /// reasons; an error names the field.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if let Some(s) = self.refuse {
            if !(200..=599).contains(&s) || s == 101 {
                return Err(ConfigError {
                    field: "websocket.refuse",
                    problem: ConfigProblem::Malformed {
                        got: s.to_string(),
                        expected: "a status to refuse an upgrade with (200-599)",
                    },
                });
            }
        }
        for (field, zero) in [
            ("websocket.fragment", self.fragment == Some(0)),
            ("websocket.drip", matches!(self.drip, Some((0, _)))),
        ] {
            if zero {
                return Err(ConfigError {
                    field,
                    problem: ConfigProblem::TooSmall { min: 1, got: 0 },
                });
            }
        }
        for (_, f) in &self.faults {
            if let WsFault::Close { code, reason } = f {
                if !crate::service::ws::close::sendable(*code)
                    || reason.len() > crate::service::ws::close::MAX_REASON_BYTES
                {
                    return Err(ConfigError {
                        field: "websocket.fault",
                        problem: ConfigProblem::Malformed {
                            got: format!("close {code} with a {}-byte reason", reason.len()),
                            expected: "a close code a server may send (1000-1003, 1007-1014, 3000-4999) with a reason of at most 123 bytes",
                        },
                    });
                }
            }
        }
        for p in &self.subprotocols {
            if p.is_empty() || !p.bytes().all(crate::syntax::is_token_byte) {
                return Err(ConfigError {
                    field: "websocket.subprotocol",
                    problem: ConfigProblem::Malformed {
                        got: p.clone(),
                        expected: "a token (a subprotocol name)",
                    },
                });
            }
        }
        Ok(())
    }
}
