//! A target that stalls on purpose, for the coordinated-omission comparison of
//! `scripts/bench-loadgen.sh`: `GET /` answers `200 ok`, and every `EVERY`-th
//! answer (counted over the whole server) waits `DELAY_MS` first.
//!
//! Usage: stall_target PORT [EVERY, default 100] [DELAY_MS, default 100]
//! Prints the address, then serves until killed.

use std::time::Duration;

use pierhead::{Config, Fault, Response, Route, Server};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).expect("PORT");
    let every: u64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(100);
    let delay: u64 = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(100);
    let server = Server::start(
        Config::new()
            .bind(format!("127.0.0.1:{port}"))
            .workers(1)
            .route(
                Route::get("/")
                    .respond(Response::text(200, "ok"))
                    .fault(Fault::Delay(Duration::from_millis(delay)))
                    .fault_every(every),
            ),
    )
    .expect("server starts");
    println!(
        "stall target on {} (every {every}th answer waits {delay} ms)",
        server.local_addr()
    );
    loop {
        std::thread::park();
    }
}
