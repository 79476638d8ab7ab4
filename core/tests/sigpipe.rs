//! A host process whose SIGPIPE is at its default action (as in most C programs)
//! must survive clients that disconnect while the server writes to them. Its own test
//! binary, because it changes the process's signal disposition.

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use pierhead::{Config, Protocol, Server};

#[test]
fn clients_vanishing_mid_response_do_not_raise_sigpipe() {
    // SAFETY: restoring the default disposition of SIGPIPE; no handler is involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    for protocol in [Protocol::Echo, Protocol::Http] {
        let server = Server::start(Config::new().protocol(protocol).workers(2)).unwrap();
        for _ in 0..20 {
            let mut s = std::net::TcpStream::connect(server.local_addr()).unwrap();
            let mut load = Vec::new();
            for _ in 0..20_000 {
                load.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
            }
            let _ = s.write_all(&load);
            // Close with unread responses: the server's next writes hit a reset socket.
            let _ = s.shutdown(Shutdown::Both);
            drop(s);
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(server.stats().bytes_written > 0);
        server.stop(Duration::from_secs(1));
    }
    // Reaching this line means the process was not killed by SIGPIPE.
}
