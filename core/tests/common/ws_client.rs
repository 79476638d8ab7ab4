//! A real WebSocket client (tungstenite) for the tests of the ws service and of
//! the HTTP mock's WebSocket routes.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use tungstenite::Message;

/// A client connection.
pub type Ws = tungstenite::WebSocket<TcpStream>;

/// Opens `ws://addr/path` (the handshake must be answered 101).
pub fn client(addr: SocketAddr, path: &str) -> Ws {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (ws, resp) = tungstenite::client(format!("ws://{addr}{path}"), stream).unwrap();
    assert_eq!(resp.status(), 101);
    ws
}

/// The next data message or close (pings answered by tungstenite are skipped).
pub fn next(ws: &mut Ws) -> Message {
    loop {
        if let m @ (Message::Text(_) | Message::Binary(_) | Message::Close(_)) = ws.read().unwrap()
        {
            return m;
        }
    }
}
