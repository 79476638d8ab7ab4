//! Memory that must stay bounded or be given back: measured as live heap bytes
//! with a counting allocator (`cap`), so the figures do not depend on how the
//! allocator returns pages. One test function: the sections run one after the
//! other, so no other test's allocations are counted. Bounds are generous (several
//! times the expected figure) and an order of magnitude below the old behaviour.

mod common;

use std::alloc::System;
use std::io::{BufReader, Read, Write};
use std::time::Duration;

use cap::Cap;
use common::*;
use pierhead::{Config, Protocol, Response, Route, Server};

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

const MIB: usize = 1 << 20;

fn live() -> usize {
    ALLOC.allocated()
}

/// Heap growth while `f` runs, after settling.
fn growth_of<T>(f: impl FnOnce() -> T) -> (T, isize) {
    let before = live();
    let out = f();
    (out, live() as isize - before as isize)
}

#[test]
fn memory_stays_bounded() {
    route_body_is_stored_once();
    pipelined_large_bodies_are_not_rendered_ahead();
    burst_buffers_are_given_back();
    logged_bodies_keep_only_their_cut();
    a_frame_claiming_4_gib_allocates_nothing();
    a_broadcast_is_stored_once_for_all_members();
}

/// A route's body is held once: not copied by the config, the route table and the
/// prepared response (it was three copies).
fn route_body_is_stored_once() {
    let (server, grew) = growth_of(|| {
        let body = vec![b'r'; 32 * MIB];
        let config = Config::new()
            .workers(2)
            .route(Route::get("/big").respond(Response::new(200).body(body)));
        Server::start(config).unwrap()
    });
    println!("route of 32 MiB: heap grew {} KiB", grew / 1024);
    assert!(
        grew < 40 * MIB as isize,
        "heap grew {grew} B for a 32 MiB route"
    );
    server.stop(Duration::from_secs(1));
}

/// Twenty pipelined GETs for an 8 MiB route from a client that does not read:
/// the server answers one at a time as output drains, holding the body by
/// reference (it rendered all twenty, 160 MiB, and kept the buffer).
fn pipelined_large_bodies_are_not_rendered_ahead() {
    let body: Vec<u8> = (0..8 * MIB).map(|i| (i % 251) as u8).collect();
    let server = common::start(Protocol::Http, |c| {
        c.route(Route::get("/big").respond(Response::new(200).body(body.clone())))
    });
    let mut client = connect(server.local_addr());
    let batch = b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n".repeat(20);
    let (_, grew) = growth_of(|| {
        client.write_all(&batch).unwrap();
        assert!(wait_until(IO_TIMEOUT, || server.stats().bytes_read
            == batch.len() as u64));
        std::thread::sleep(Duration::from_millis(300));
    });
    println!(
        "20 pipelined 8 MiB responses, unread: heap grew {} KiB",
        grew / 1024
    );
    assert!(grew < 4 * MIB as isize, "heap grew {grew} B");
    // Every response arrives whole and in order once the client reads.
    let mut r = BufReader::with_capacity(MIB, client);
    for _ in 0..20 {
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!(resp.status, 200);
        assert!(resp.body == body, "body differs");
    }
    assert_eq!(server.stats().responses, 20);
    server.stop(Duration::from_secs(1));
}

/// A burst of pipelined requests for a 10 KiB body (copied into the answer, not
/// shared) renders a large answer; afterwards the worker keeps no more than a
/// bounded buffer (it kept the burst's peak, 20 MiB here, for good).
fn burst_buffers_are_given_back() {
    let server = common::start(Protocol::Http, |c| {
        c.workers(1)
            .route(Route::get("/").respond(Response::new(200).body(vec![b'k'; 10 * 1024])))
    });
    let before = live();
    for _ in 0..2 {
        let mut c = connect(server.local_addr());
        // 2000 requests in one write: 20 MiB of answers.
        c.write_all(&GET.repeat(2000)).unwrap();
        let mut r = BufReader::new(c.try_clone().unwrap());
        for _ in 0..2000 {
            assert_eq!(read_response(&mut r, false).unwrap().body.len(), 10 * 1024);
        }
    }
    assert!(wait_until(IO_TIMEOUT, || server.stats().connections_active == 0));
    let grew = live() as isize - before as isize;
    println!(
        "after bursts of 2000 pipelined 10 KiB answers: heap grew {} KiB",
        grew / 1024
    );
    assert!(
        grew < 4 * MIB as isize,
        "heap grew {grew} B after the burst"
    );
    server.stop(Duration::from_secs(1));
}

/// Uploads of 4 MiB into a server with a request log (64 KiB bodies): each entry
/// holds 64 KiB, not the upload's allocation; for static and handler routes alike.
fn logged_bodies_keep_only_their_cut() {
    let server = common::start(Protocol::Http, |c| {
        c.request_log(1000)
            .max_body_bytes(8 * MIB as u64)
            .route(Route::post("/static").respond(Response::new(201)))
            .route(
                Route::post("/handled")
                    .handler(|r: &pierhead::Request| Response::text(200, r.body.len().to_string())),
            )
    });
    let upload = vec![b'u'; 4 * MIB];
    let (_, grew) = growth_of(|| {
        let mut s = connect(server.local_addr());
        let mut r = BufReader::new(s.try_clone().unwrap());
        for i in 0..20 {
            let path = if i % 2 == 0 { "/static" } else { "/handled" };
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
                upload.len()
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&upload).unwrap();
            let resp = read_response(&mut r, false).unwrap();
            assert!(resp.status == 201 || resp.body == b"4194304", "{resp:?}");
        }
        let mut rest = Vec::new();
        drop(s.shutdown(std::net::Shutdown::Write));
        let _ = r.read_to_end(&mut rest);
    });
    println!("20 logged uploads of 4 MiB: heap grew {} KiB", grew / 1024);
    let log = server.requests();
    assert_eq!(log.len(), 20);
    assert!(log
        .iter()
        .all(|r| r.body.len() == 64 * 1024 && r.body_len == 4 * MIB as u64));
    // 20 entries of 64 KiB (was 20 x 4 MiB and more).
    assert!(grew < 8 * MIB as isize, "heap grew {grew} B");
    server.stop(Duration::from_secs(1));
}

/// A frame header claiming 4 GiB is refused (ERROR, close) as soon as it arrives,
/// and nothing is allocated for the claim.
fn a_frame_claiming_4_gib_allocates_nothing() {
    let server = common::start(Protocol::Frame, |c| c.workers(1));
    let mut header = Vec::new();
    pierhead::frame::encode_header(pierhead::frame::FrameType::Data, 0, &mut header);
    header[12..16].copy_from_slice(&u32::MAX.to_be_bytes());
    let (_, grew) = growth_of(|| {
        let mut c = connect(server.local_addr());
        c.write_all(&header).unwrap();
        c.write_all(&[0u8; 1000]).unwrap(); // the start of the "payload"
        let mut answer = Vec::new();
        let _ = c.read_to_end(&mut answer);
        assert!(String::from_utf8_lossy(&answer).contains("4294967295"));
        assert!(wait_until(IO_TIMEOUT, || server.stats().connections_active == 0));
    });
    println!("a 4 GiB frame claim: heap grew {grew} B");
    assert!(grew < MIB as isize, "heap grew {grew} B");
    server.stop(Duration::from_secs(1));
}

/// One 1 MiB frame published to 300 members that do not read: every member's
/// output refers to the one allocation (300 copies would be 300 MiB).
fn a_broadcast_is_stored_once_for_all_members() {
    let server = common::start(Protocol::Frame, |c| c.workers(2).max_frame_bytes(2 << 20));
    let mut members = Vec::new();
    for _ in 0..300 {
        let mut m = connect(server.local_addr());
        // A small receive buffer: most of the frame stays queued in the server.
        socket2::SockRef::from(&m)
            .set_recv_buffer_size(4096)
            .unwrap();
        let mut join = Vec::new();
        pierhead::frame::encode_control(pierhead::frame::op::JOIN, b"all", &mut join);
        m.write_all(&join).unwrap();
        let mut joined = [0u8; 16 + 4];
        m.read_exact(&mut joined).unwrap();
        members.push(m);
    }
    let payload = vec![b'b'; MIB];
    let (report, grew) = growth_of(|| server.publish("all", &payload).unwrap());
    println!(
        "1 MiB published to 300 unread members: heap grew {} KiB",
        grew / 1024
    );
    assert_eq!(report.delivered, 300);
    assert!(grew < 8 * MIB as isize, "heap grew {grew} B");
    drop(members);
    server.stop(Duration::from_secs(1));
}
