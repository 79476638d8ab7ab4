//! The README's Rust quick start: a programmable HTTP server in a test.
//! Run: `cargo run --example quickstart -p pierhead`

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use pierhead::{Config, Fault, Request, Response, Route, Server};

fn get(server: &Server, target: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(server.local_addr())?;
    write!(s, "GET {target} HTTP/1.1\r\nConnection: close\r\n\r\n")?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    Ok(resp.lines().next().unwrap_or_default().to_owned()
        + " | "
        + resp.lines().last().unwrap_or_default())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(Config::new().bind("127.0.0.1:0").request_log(100))?;
    server.add_route(Route::get("/health").respond(Response::text(200, "ok")))?;
    server.add_route(
        Route::get("/once")
            .respond(Response::text(200, "first"))
            .uses(1),
    )?;
    server.add_route(
        Route::get("/slow")
            .respond(Response::text(200, "late"))
            .fault(Fault::Delay(Duration::from_millis(100))),
    )?;
    server.add_route(Route::get("/hello").handler(|req: &Request| {
        Response::text(200, format!("hello, {}", req.query().unwrap_or("nobody")))
    }))?;

    for target in ["/health", "/once", "/once", "/slow", "/hello?ann", "/nope"] {
        println!("{target:<11} -> {}", get(&server, target)?);
    }
    let log = server.requests();
    println!(
        "logged {} requests; last: {} {}",
        log.len(),
        log[5].method,
        log[5].target
    );
    let report = server.stop(Duration::from_secs(1));
    println!(
        "stopped in {:?}, complete: {}",
        report.elapsed, report.complete
    );
    Ok(())
}
