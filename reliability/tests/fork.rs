//! Fork hygiene: a host that forks and execs while serving gives the child none
//! of the server's descriptors (listener, connections, epoll, wakers, pipes).

// Runs on the engine as shipped: the tiny-buffers build is for the cross-talk
// scenarios (see Cargo.toml).
#![cfg(not(feature = "tiny-buffers"))]

use std::io::Write;
use std::process::Command;

use pierhead::{Config, Protocol, Server};
use pierhead_reliability::*;

/// What a child exec'd now inherits: the targets of its descriptors beyond 0 to 2.
fn inherited() -> Vec<String> {
    // std::process::Command forks and execs without closing descriptors itself:
    // only close-on-exec keeps them out of the child.
    let out = Command::new("sh")
        .arg("-c")
        .arg("for f in /proc/$$/fd/*; do case ${f##*/} in 0|1|2) ;; *) readlink $f;; esac; done")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_child_execd_while_serving_inherits_no_socket() {
    // What the test process itself passes on (e.g. the harness's pipes).
    let before = inherited();
    let server =
        Server::start(Config::new().protocol(Protocol::Echo).workers(2).tls_auto()).unwrap();
    let frames = Server::start(Config::new().protocol(Protocol::Frame).workers(2)).unwrap();
    // Connections open and in flight at the moment of the fork.
    let mut conns: Vec<_> = (0..20)
        .map(|_| connect(server.local_addr()).unwrap())
        .collect();
    conns.extend((0..20).map(|_| connect(frames.local_addr()).unwrap()));
    for c in &mut conns {
        c.write_all(b"ping").unwrap();
    }
    let after = inherited();
    let leaked: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
    figure("parent_descriptors", open_fds());
    figure("child_inherited_from_the_servers", leaked.len());
    assert!(leaked.is_empty(), "the child inherited {leaked:?}");
}
