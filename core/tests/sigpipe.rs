//! A host process whose SIGPIPE is at its default action (as in most C programs)
//! must survive clients that disconnect while the server writes to them. Its own test
//! binary, because it changes the process's signal disposition.
//!
//! Linux raises SIGPIPE (EPIPE) only for a send after an RST received in CLOSE_WAIT,
//! i.e. after the peer's FIN. So the client makes the echo server's output back up
//! (tiny receive buffer, an upload far larger than any kernel send buffer, a large
//! `max_output_bytes` so the server keeps reading up to the FIN), half-closes (the
//! server enters CLOSE_WAIT with output still queued), then closes with unread data,
//! which sends RST. The server's next send is EPIPE: with plain `write(2)` instead of
//! `send(MSG_NOSIGNAL)` this process is killed (checked by swapping the call).

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use pierhead::{Config, Protocol, Server};
use socket2::{Domain, Socket, Type};

#[test]
fn clients_vanishing_mid_response_do_not_raise_sigpipe() {
    // SAFETY: restoring the default disposition of SIGPIPE; no handler is involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let upload = vec![b'x'; 16 * 1024 * 1024];
    let server = Server::start(
        Config::new()
            .protocol(Protocol::Echo)
            .workers(1)
            .max_output_bytes(64 * 1024 * 1024),
    )
    .unwrap();
    for _ in 0..3 {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        sock.connect(&server.local_addr().into()).unwrap();
        let mut s: std::net::TcpStream = sock.into();
        s.write_all(&upload).unwrap();
        s.shutdown(Shutdown::Write).unwrap(); // FIN: the server enters CLOSE_WAIT
        std::thread::sleep(Duration::from_millis(100));
        drop(s); // unread data: RST; the server's next send is EPIPE
    }
    let closed = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        server.stats().connections_active == 0
    });
    assert!(closed, "{:?}", server.stats());
    assert!(server.stats().bytes_written > 0);
    server.stop(Duration::from_secs(1));
    // Reaching this line means the process was not killed by SIGPIPE.
}
