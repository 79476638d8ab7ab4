//! `pierhead serve` as a user runs it: first line, stats lines, stop report.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// Starts `pierhead serve ARGS` on a free port; returns the child, its output after
/// the first line, and the address that line names.
fn spawn_serve(args: &[&str]) -> (Child, BufReader<ChildStdout>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pierhead"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("pierhead listening on 127.0.0.1:"),
        "{first}"
    );
    let addr = first.split_whitespace().nth(3).unwrap().to_owned();
    (child, out, addr)
}

#[test]
fn serve_prints_address_stats_and_stop_report_on_sigterm() {
    let (mut child, mut out, addr) = spawn_serve(&["--workers", "1", "--stats-interval", "100ms"]);

    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200 OK") && resp.ends_with("hello\n"),
        "{resp}"
    );

    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "no stats line");
        if line.contains("requests 1 ") {
            break;
        }
        assert!(line.starts_with("stats: "), "{line}");
    }
    // SAFETY: sending SIGTERM to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(rest.contains("SIGTERM: stopping"), "{rest}");
    assert!(
        rest.contains("stopped in ") && rest.contains("1 requests"),
        "{rest}"
    );
}

#[test]
fn bad_flag_values_are_rejected_with_the_field_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_pierhead"))
        .args(["serve", "--workers", "0", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`workers`"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_pierhead"))
        .args(["serve", "--protocol", "gopher"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("gopher"));
}

#[test]
fn serve_with_routes_answers_them_and_rejects_bad_ones() {
    let (mut child, _out, addr) = spawn_serve(&[
        "--stats-interval",
        "off",
        "--route",
        "GET /health 200 all good",
        "--route",
        "* /api/* 503",
        "--unmatched-status",
        "410",
    ]);
    let ask = |req: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp
    };
    let r = ask("GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert!(
        r.starts_with("HTTP/1.1 200 OK") && r.ends_with("\r\n\r\nall good\n"),
        "{r}"
    );
    let r =
        ask("POST /api/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 503 "), "{r}");
    let r = ask("GET /other HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 410 Gone"), "{r}");
    // SAFETY: sending SIGTERM to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    assert!(child.wait().unwrap().success());

    let out = Command::new(env!("CARGO_BIN_EXE_pierhead"))
        .args(["serve", "--route", "GET nopath"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("route.path"), "{err}");
}
