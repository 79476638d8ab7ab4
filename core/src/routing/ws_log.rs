//! The WebSocket message log: per connection of a WebSocket endpoint, what the
//! client sent, in order, and how the connection ended; for assertions, like the
//! request log (and on when it is: `Config::request_log`).

use std::sync::{Arc, Mutex, PoisonError};

use super::id::RouteId;
use super::log::Ring;
use super::websocket::WsMessage;

/// One connection of a WebSocket endpoint, as the message log saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsConnection {
    /// The connection's id (the upgrade request's `connection_id` in the request log).
    pub connection_id: u64,
    /// The request target of the upgrade (`/chat?user=1`).
    pub target: String,
    /// The route that upgraded it.
    pub route: RouteId,
    /// The subprotocol agreed, if any.
    pub subprotocol: Option<String>,
    /// What the client sent, in order (the last `request_log` messages, see
    /// `messages_evicted`; each cut to `request_log_body_bytes`, as request bodies
    /// are, a text message at a character boundary).
    pub messages: Vec<WsMessage>,
    /// Messages pushed out of `messages` because it was full.
    pub messages_evicted: u64,
    /// The connection ended.
    pub closed: bool,
    /// The code of the client's close frame, if it sent one (1005 for a close frame
    /// without a code).
    pub close_code: Option<u16>,
    /// The reason of the client's close frame.
    pub close_reason: String,
    /// The code of the endpoint's own close frame, if it sent one first (a
    /// fault, a handler's close, 1011 for a handler that failed, 1002 or 1007
    /// for what the client did wrong); `None` when it only answered the
    /// client's, or sent none (a stop's 1001 is not recorded).
    pub server_close_code: Option<u16>,
    /// The reason of the endpoint's own close frame.
    pub server_close_reason: String,
}

/// A connection's entry, shared by its session (which appends) and the log.
pub(crate) type Entry = Arc<Mutex<WsConnection>>;

/// The log: the most recent connections of WebSocket endpoints, oldest first.
pub(crate) struct WsLog {
    connections: Ring<Entry>,
    /// Most messages kept per connection.
    per_connection: usize,
    /// Longest message kept (longer ones are cut).
    message_limit: usize,
}

impl WsLog {
    /// Keeps the last `capacity` connections and the last `capacity` messages of
    /// each, each cut to `message_limit` bytes.
    pub(crate) fn new(capacity: usize, message_limit: usize) -> WsLog {
        WsLog {
            connections: Ring::new(capacity),
            per_connection: capacity,
            message_limit,
        }
    }

    /// A connection was upgraded: its entry, to record into.
    pub(crate) fn open(
        &self,
        connection_id: u64,
        target: &str,
        route: RouteId,
        subprotocol: Option<&str>,
    ) -> Recorder {
        let entry = Arc::new(Mutex::new(WsConnection {
            connection_id,
            target: target.to_owned(),
            route,
            subprotocol: subprotocol.map(str::to_owned),
            messages: Vec::new(),
            messages_evicted: 0,
            closed: false,
            close_code: None,
            close_reason: String::new(),
            server_close_code: None,
            server_close_reason: String::new(),
        }));
        self.connections.push(entry.clone());
        Recorder {
            entry,
            limit: self.per_connection,
            message_limit: self.message_limit,
        }
    }

    /// A copy of every connection's entry, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<WsConnection> {
        self.connections
            .snapshot()
            .iter()
            .map(|e| lock(e).clone())
            .collect()
    }

    /// Forgets every connection.
    pub(crate) fn clear(&self) {
        self.connections.clear();
    }
}

fn lock(e: &Entry) -> std::sync::MutexGuard<'_, WsConnection> {
    e.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a session records into its connection's entry.
#[derive(Debug)]
pub(crate) struct Recorder {
    entry: Entry,
    limit: usize,
    message_limit: usize,
}

impl Recorder {
    /// The client sent `message`.
    pub(crate) fn message(&self, message: &WsMessage) {
        let mut e = lock(&self.entry);
        if e.messages.len() >= self.limit {
            e.messages.remove(0);
            e.messages_evicted += 1;
        }
        let n = self.message_limit;
        e.messages.push(match message {
            WsMessage::Binary(b) if b.len() > n => WsMessage::Binary(b[..n].to_vec()),
            WsMessage::Text(t) if t.len() > n => {
                let mut end = n;
                while !t.is_char_boundary(end) {
                    end -= 1;
                }
                WsMessage::Text(t[..end].to_owned())
            }
            m => m.clone(),
        });
    }

    /// The client sent a close frame.
    pub(crate) fn close_frame(&self, code: Option<u16>, reason: &str) {
        let mut e = lock(&self.entry);
        e.close_code = Some(code.unwrap_or(1005));
        e.close_reason = reason.to_owned();
    }

    /// The endpoint sent its own close frame first.
    pub(crate) fn server_close(&self, code: u16, reason: &str) {
        let mut e = lock(&self.entry);
        if e.server_close_code.is_none() {
            e.server_close_code = Some(code);
            e.server_close_reason = reason.to_owned();
        }
    }

    /// The connection ended.
    pub(crate) fn closed(&self) {
        lock(&self.entry).closed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_messages_and_connections() {
        let log = WsLog::new(2, 4);
        let r = log.open(1, "/a", RouteId(0), Some("chat"));
        for i in 0..3 {
            r.message(&WsMessage::text(i.to_string()));
        }
        r.message(&WsMessage::text("ééé"));
        r.message(&WsMessage::binary(vec![7; 9]));
        r.close_frame(Some(4000), "bye");
        r.closed();
        let c = &log.snapshot()[0];
        assert_eq!(
            c.messages,
            vec![WsMessage::text("éé"), WsMessage::binary(vec![7; 4])]
        );
        assert_eq!((c.messages_evicted, c.closed), (3, true));
        assert_eq!((c.close_code, c.close_reason.as_str()), (Some(4000), "bye"));
        log.open(2, "/b", RouteId(0), None);
        log.open(3, "/c", RouteId(0), None);
        let ids: Vec<u64> = log.snapshot().iter().map(|c| c.connection_id).collect();
        assert_eq!(ids, vec![2, 3]);
    }
}
