//! accept() failing with EMFILE must neither spin nor stall: the worker backs off and
//! serves the waiting connections once descriptors are free again. Its own test
//! binary, because it lowers the process's descriptor limit.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::time::Duration;

use pierhead::{Config, Server};
use socket2::{Domain, Socket, Type};

#[test]
fn emfile_backs_off_then_recovers() {
    let server = Server::start(Config::new().workers(1)).unwrap();
    let addr = server.local_addr();
    // Client sockets are made while descriptors are still available.
    let clients: Vec<Socket> = (0..4)
        .map(|_| Socket::new(Domain::IPV4, Type::STREAM, None).unwrap())
        .collect();
    // A low limit keeps the filling below cheap whatever the machine's limit is.
    let open_now = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let limit = libc::rlimit {
        rlim_cur: open_now + 64,
        rlim_max: libc::RLIM_INFINITY,
    };
    let mut old = limit;
    // SAFETY: getrlimit/setrlimit with valid pointers to rlimit structs.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut old), 0);
        let lowered = libc::rlimit {
            rlim_max: old.rlim_max,
            ..limit
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lowered), 0);
    }
    // Fill every remaining descriptor.
    let mut filler: Vec<OwnedFd> = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => filler.push(f.into()),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(24), "{e}"); // EMFILE
                break;
            }
        }
        assert!(filler.len() <= 100, "descriptor limit not applied");
    }
    for c in &clients {
        c.connect(&addr.into()).unwrap(); // completes in the kernel's accept queue
    }
    std::thread::sleep(Duration::from_millis(400));
    let errors = server.stats().accept_errors;
    // Back-off from 5 ms doubling: a handful of attempts, not a busy loop.
    assert!(
        (1..=20).contains(&errors),
        "accept errors in 400 ms: {errors}"
    );
    assert_eq!(server.stats().connections_accepted, 0);

    drop(filler);
    for c in clients {
        let mut s: std::net::TcpStream = c.into();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        assert_eq!(line, "HTTP/1.1 200 OK\r\n");
    }
    assert_eq!(server.stats().connections_accepted, 4);
}
