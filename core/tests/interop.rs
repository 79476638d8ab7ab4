//! Interop with real clients: curl, Python's http.client and urllib3, and wrk.
//! Each must get correct answers over reused keep-alive connections: the number of
//! connections the server accepted stays at the client's pool size.
//!
//! `scripts/test.sh` installs what these need (curl and wrk from Debian, urllib3
//! in the test venv, named by `PIERHEAD_TEST_PYTHON`).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use pierhead::{Protocol, Request, Response as Reply, Route, Server};

fn server() -> Server {
    start(Protocol::Http, |c| {
        c.route(Route::get("/static").respond(Reply::text(200, "static\n")))
            .route(Route::get("/json").respond(Reply::json(200, r#"{"ok": true}"#)))
            .route(Route::post("/echo").handler(|r: &Request| Reply::new(200).body(r.body.clone())))
    })
}

/// Runs a client program; a missing program fails with what to install.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}); scripts/test.sh installs it"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn python() -> String {
    std::env::var("PIERHEAD_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn script() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop/python_clients.py")
        .display()
        .to_string()
}

#[test]
fn curl_reuses_one_connection_for_several_urls() {
    let server = server();
    let base = format!("http://{}", server.local_addr());
    let out = run(
        "curl",
        &[
            "-sS",
            "--fail",
            &format!("{base}/static"),
            &format!("{base}/json"),
            &format!("{base}/static"),
        ],
    );
    assert_eq!(out, "static\n{\"ok\": true}static\n");
    // A chunked upload from stdin.
    let out = run(
        "curl",
        &[
            "-sS",
            "--fail",
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            "chunked body from curl",
            &format!("{base}/echo"),
        ],
    );
    assert_eq!(out, "chunked body from curl");
    assert_eq!(server.stats().connections_accepted, 2, "one per curl run");
}

/// Runs one client of `python_clients.py`; it must use exactly one connection.
fn python_client(client: &str, last_check: &str) {
    let server = server();
    let out = run(&python(), &[&script(), client, &server.port().to_string()]);
    assert!(out.contains(last_check), "{out}");
    assert_eq!(server.stats().connections_accepted, 1);
    assert_eq!(server.stats().protocol_errors, 0);
}

#[test]
fn python_http_client_on_one_connection() {
    python_client("http.client", "ok 404");
}

#[test]
fn urllib3_pool_of_one_connection() {
    python_client("urllib3", "ok json");
}

#[test]
fn wrk_keeps_its_connections_alive() {
    let server = server();
    let url = format!("http://{}/static", server.local_addr());
    let out = run("wrk", &["-t1", "-c8", "-d1s", &url]);
    let stats = server.stats();
    // 8 connections for the run, plus one wrk opens first to check the address.
    assert!(
        stats.connections_accepted <= 9,
        "wrk runs 8 connections, server accepted {}\n{out}",
        stats.connections_accepted
    );
    assert!(
        stats.requests > 1000,
        "only {} requests\n{out}",
        stats.requests
    );
    assert!(!out.contains("Non-2xx"), "{out}");
    assert!(!out.contains("Socket errors"), "{out}");
}
