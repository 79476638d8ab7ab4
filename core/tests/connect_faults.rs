//! Connect-phase faults seen by real clients: refused, held unaccepted, closed at
//! once, served late; switched live and back to normal.

mod common;

use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{connect, http_once, read_response};
use pierhead::{ConnectFault, ConnectFaultError, Protocol, Server};

const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

fn http() -> Server {
    common::start(Protocol::Http, |c| c.fixed_response(true))
}

fn served(server: &Server) -> bool {
    http_once(server.local_addr(), REQ).status == 200
}

#[test]
fn refuse_gives_connection_refused_and_normal_comes_back() {
    let server = http();
    // A keep-alive connection made before the refusal goes on being served.
    // (Answered once: accepted, not waiting in the queue, which a refusal resets.)
    let mut before = connect(server.local_addr());
    before.write_all(REQ).unwrap();
    read_response(&mut BufReader::new(before.try_clone().unwrap()), false).unwrap();
    for _ in 0..3 {
        server
            .set_connect_fault(Some(ConnectFault::Refuse))
            .unwrap();
        assert_eq!(server.connect_fault(), Some(ConnectFault::Refuse));
        let err = TcpStream::connect(server.local_addr()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        before.write_all(REQ).unwrap();
        let r = read_response(&mut BufReader::new(before.try_clone().unwrap()), false).unwrap();
        assert_eq!(r.status, 200);
        server.set_connect_fault(None).unwrap();
        assert!(served(&server));
    }
}

#[test]
fn hold_leaves_clients_unserved_until_lifted() {
    let server = http();
    server.set_connect_fault(Some(ConnectFault::Hold)).unwrap();
    // The handshake completes in the kernel; nothing is read.
    let mut s = connect(server.local_addr());
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.write_all(REQ).unwrap();
    let mut buf = [0u8; 64];
    let err = s.read(&mut buf).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    assert_eq!(server.stats().connections_accepted, 0);
    // Lifted: the held connection is accepted and answered.
    server.set_connect_fault(None).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let r = read_response(&mut BufReader::new(s), false).unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn close_ends_each_connection_at_once() {
    let server = http();
    server.set_connect_fault(Some(ConnectFault::Close)).unwrap();
    for _ in 0..5 {
        let mut s = connect(server.local_addr());
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("expected end of file, got {other:?}"),
        }
    }
    server.set_connect_fault(None).unwrap();
    assert!(served(&server));
}

#[test]
fn delay_serves_each_connection_late() {
    let server = http();
    server
        .set_connect_fault(Some(ConnectFault::Delay(Duration::from_millis(600))))
        .unwrap();
    let t0 = Instant::now();
    let conns: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut s = connect(server.local_addr());
            s.write_all(REQ).unwrap();
            s
        })
        .collect();
    for s in conns {
        assert_eq!(
            read_response(&mut BufReader::new(s), false).unwrap().status,
            200
        );
    }
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(600), "served after {took:?}");
    // All ten waited together, not one after another (that would be 6 s).
    assert!(took < Duration::from_secs(4), "served after {took:?}");
    server.set_connect_fault(None).unwrap();
    let t0 = Instant::now();
    assert!(served(&server));
    assert!(t0.elapsed() < Duration::from_millis(500), "still delayed");
}

#[test]
fn a_port_taken_during_a_refusal_is_reported_and_refusing_goes_on() {
    let server = http();
    server
        .set_connect_fault(Some(ConnectFault::Refuse))
        .unwrap();
    let thief = TcpListener::bind(server.local_addr()).expect("the refused port is free");
    let err = server.set_connect_fault(None).unwrap_err();
    assert!(matches!(err, ConnectFaultError::Rebind { .. }), "{err}");
    assert!(err.to_string().contains("cannot listen on"), "{err}");
    assert_eq!(server.connect_fault(), Some(ConnectFault::Refuse));
    drop(thief);
    server.set_connect_fault(None).unwrap();
    assert!(served(&server));
}

#[test]
fn stop_is_prompt_under_every_fault_and_switching_after_it_is_refused() {
    for fault in [
        ConnectFault::Refuse,
        ConnectFault::Hold,
        ConnectFault::Close,
        ConnectFault::Delay(Duration::from_secs(30)),
    ] {
        let server = http();
        server.set_connect_fault(Some(fault)).unwrap();
        let _waiting: Vec<_> = (0..5)
            .filter_map(|_| TcpStream::connect(server.local_addr()).ok())
            .collect();
        let t0 = Instant::now();
        server.stop(Duration::from_secs(5));
        assert!(
            t0.elapsed() < Duration::from_millis(500),
            "{fault:?}: {:?}",
            t0.elapsed()
        );
        assert!(matches!(
            server.set_connect_fault(None),
            Err(ConnectFaultError::NotRunning)
        ));
        // The port is free at once.
        drop(TcpListener::bind(server.local_addr()).expect("port free after stop"));
    }
}
