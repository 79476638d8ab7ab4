//! A WebSocket endpoint in the HTTP mock: a script that greets, answers by text
//! and JSON, and closes after three messages; what the client sent, from the
//! message log. The client is tungstenite (a dev-dependency).
//!
//! `cargo run --example websocket -p pierhead`

use std::net::TcpStream;
use std::time::Duration;

use pierhead::{Config, Route, Server, WebSocket, WsFault, WsMatch, WsMessage};
use tungstenite::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(Config::new().bind("127.0.0.1:0").request_log(100))?;
    server.add_route(
        Route::get("/chat").websocket(
            WebSocket::script()
                .send_on_open(WsMessage::text("welcome"))
                .reply(WsMatch::text("ping"), WsMessage::text("pong"))
                .reply(
                    WsMatch::json(r#"{"op":"sum","n":[1,2]}"#)?,
                    WsMessage::text("3"),
                )
                .fault_after(
                    3,
                    WsFault::Close {
                        code: 4000,
                        reason: "enough".into(),
                    },
                ),
        ),
    )?;
    let addr = server.local_addr();
    let (mut ws, _) = tungstenite::client(format!("ws://{addr}/chat"), TcpStream::connect(addr)?)?;
    println!("got: {}", ws.read()?);
    for m in ["ping", r#"{ "n": [1, 2], "op": "sum" }"#, "anyone?"] {
        ws.send(Message::text(m))?;
        println!("sent {m:?}, got: {:?}", ws.read()?);
    }
    while ws.read().is_ok() {} // answers the close, until the server closes
    for c in server.ws_connections() {
        println!(
            "{} sent {:?}, then close {:?}",
            c.target, c.messages, c.close_code
        );
    }
    let report = server.stop(Duration::from_secs(1));
    println!("stopped, complete: {}", report.complete);
    Ok(())
}
