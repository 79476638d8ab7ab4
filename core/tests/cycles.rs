//! Start/stop 1,000 times: no file descriptor or thread may remain. Also checks that
//! every descriptor the server opens is close-on-exec. Its own test binary, because
//! it counts the whole process's descriptors and threads.

use std::io::{Read, Write};
use std::time::Duration;

mod common;

use common::{thread_count, threads_back_to};
use pierhead::{Config, Protocol, Server};

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn open_fds() -> Vec<u32> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

#[test]
fn start_stop_1000_times_leaks_no_fd_or_thread_and_fds_are_cloexec() {
    // Warm up once so that lazily created process state is not counted as growth.
    Server::start(Config::new().workers(2))
        .unwrap()
        .stop(Duration::from_secs(1));
    let (fds, threads) = (fd_count(), thread_count());

    // Every fd opened by a running server (epoll, eventfd, listener dups, accepted
    // sockets) carries O_CLOEXEC.
    let before = open_fds();
    let server = Server::start(Config::new().protocol(Protocol::Echo).workers(2)).unwrap();
    let mut client = std::net::TcpStream::connect(server.local_addr()).unwrap();
    client.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    client.read_exact(&mut b).unwrap();
    let new: Vec<u32> = open_fds()
        .into_iter()
        .filter(|fd| !before.contains(fd))
        .collect();
    assert!(new.len() >= 6, "{new:?}");
    for fd in new {
        let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
            continue; // the read_dir handle itself
        };
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|v| u32::from_str_radix(v.trim(), 8).unwrap())
            .unwrap();
        if std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .is_ok_and(|p| p.to_string_lossy().contains("/proc/"))
        {
            continue;
        }
        let is_client = fd as i32 == std::os::fd::AsRawFd::as_raw_fd(&client);
        assert!(
            is_client || flags & 0o2000000 != 0,
            "fd {fd} lacks O_CLOEXEC: flags {flags:o}"
        );
    }
    drop(client);
    server.stop(Duration::from_secs(1));
    drop(server); // the handle owns the wakers until dropped

    for i in 0..1000 {
        let protocol = [Protocol::Http, Protocol::Echo, Protocol::Discard][i % 3];
        let server = Server::start(Config::new().protocol(protocol).workers(2)).unwrap();
        if i % 50 == 0 {
            // Some cycles carry a live connection through the stop.
            let _c = std::net::TcpStream::connect(server.local_addr()).unwrap();
            server.stop(Duration::from_millis(200));
        } else {
            server.stop(Duration::from_millis(200));
        }
    }
    assert_eq!(fd_count(), fds, "file descriptors leaked");
    assert!(
        threads_back_to(threads),
        "threads leaked: {} > {threads}",
        thread_count()
    );
}
