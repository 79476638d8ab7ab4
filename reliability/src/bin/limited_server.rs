//! An echo server under a descriptor limit, for `tests/fd_exhaustion.rs`:
//! `limited_server NOFILE` lowers its own RLIMIT_NOFILE, prints the port, serves
//! until stdin ends, then stops and prints how long the stop took (ms) and the
//! accept errors it counted.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use pierhead::{Config, Protocol, Server};

fn main() {
    let nofile: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    let limit = libc::rlimit {
        rlim_cur: nofile,
        rlim_max: nofile,
    };
    // SAFETY: setrlimit with a valid pointer to an rlimit struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        eprintln!("setrlimit failed: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    let server = Server::start(
        Config::new()
            .protocol(Protocol::Echo)
            .workers(1)
            .listen_backlog(4096),
    )
    .expect("server starts");
    println!("{}", server.local_addr().port());
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let t0 = Instant::now();
    let report = server.stop(Duration::from_secs(2));
    println!(
        "stopped {:.1} ms, accept errors {}, complete {}",
        t0.elapsed().as_secs_f64() * 1000.0,
        server.stats().accept_errors,
        report.complete
    );
}
