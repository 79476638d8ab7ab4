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

/// Resident memory of a process, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn stop(child: &mut Child) {
    // SAFETY: sending SIGTERM to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    assert!(child.wait().unwrap().success());
}

/// Every config limit has a flag; sizes take units. Uploads over the default 1 MiB
/// body limit need `--max-body-bytes`, and the server's memory does not grow with
/// the number of uploads.
#[test]
fn limit_flags_set_the_config() {
    let (mut child, _out, addr) = spawn_serve(&[
        "--stats-interval",
        "off",
        "--route",
        "POST /up 201 stored",
        "--max-body-bytes",
        "8m",
        "--max-header-bytes",
        "2k",
        "--max-headers",
        "8",
        "--max-output-bytes",
        "64KiB",
        "--write-timeout",
        "5s",
        "--listen-backlog",
        "64",
    ]);
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let upload = vec![b'u'; 5 << 20];
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut status = String::new();
    let mut read_answer = |r: &mut BufReader<std::net::TcpStream>| {
        status.clear();
        r.read_line(&mut status).unwrap();
        let mut line = String::new();
        while line != "\r\n" {
            line.clear();
            r.read_line(&mut line).unwrap();
        }
        let mut body = [0u8; 7];
        r.read_exact(&mut body).unwrap();
        status.clone()
    };
    let mut rss_after_first = 0;
    for i in 0..40 {
        let head = format!(
            "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            upload.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&upload).unwrap();
        assert!(
            read_answer(&mut r).starts_with("HTTP/1.1 201 "),
            "upload {i}"
        );
        if i == 0 {
            rss_after_first = rss_kib(child.id());
        }
    }
    let grew = rss_kib(child.id()) as i64 - rss_after_first as i64;
    println!("40 uploads of 5 MiB: RSS grew {grew} KiB after the first");
    assert!(grew < 32 * 1024, "RSS grew {grew} KiB over 39 uploads");
    // The other limits are in force: 9 header fields, a 3 KiB head.
    let mut head = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    head.push_str(&"X-A: 1\r\n".repeat(8));
    s.write_all(format!("{head}\r\n").as_bytes()).unwrap();
    assert!(read_answer(&mut r).starts_with("HTTP/1.1 431 "));
    stop(&mut child);

    for (flag, value, field) in [
        ("--max-headers", "0", "`max_headers`"),
        ("--max-body-bytes", "lots", "--max-body-bytes"),
        ("--max-output-bytes", "1", "`max_output_bytes`"),
        ("--write-timeout", "0s", "`write_timeout`"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_pierhead"))
            .args(["serve", "--bind", "127.0.0.1:0", flag, value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(field), "{flag} {value}: {err}");
    }
}

/// A 64 MiB `@FILE` route costs one copy of the file (it cost three).
#[test]
fn a_file_route_is_held_once() {
    let dir = std::env::temp_dir().join(format!("pierhead-file-route-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("big.bin");
    std::fs::write(&file, vec![b'f'; 64 << 20]).unwrap();
    let (mut child, _out, _addr) = spawn_serve(&[
        "--stats-interval",
        "off",
        "--workers",
        "1",
        "--route",
        &format!("GET /big 200 @{}", file.display()),
    ]);
    let rss = rss_kib(child.id());
    println!("serving a 64 MiB file route: RSS {rss} KiB");
    stop(&mut child);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(rss < 100 * 1024, "RSS {rss} KiB for a 64 MiB route");
}

/// `--protocol frame`: two clients in a room, the stats line shows the room.
#[test]
fn serve_frame_protocol_with_rooms() {
    use pierhead::frame::{self, op, FrameType};
    let (mut child, mut out, addr) = spawn_serve(&[
        "--protocol",
        "frame",
        "--stats-interval",
        "100ms",
        "--max-frame-bytes",
        "64k",
        "--slow-consumer",
        "drop_oldest",
    ]);
    let join = |s: &mut std::net::TcpStream| {
        let mut f = Vec::new();
        frame::encode_control(op::JOIN, b"lobby", &mut f);
        s.write_all(&f).unwrap();
        let mut joined = [0u8; 16 + 6];
        s.read_exact(&mut joined).unwrap();
        assert_eq!(&joined[16..], b"\x06lobby");
    };
    let mut a = std::net::TcpStream::connect(&addr).unwrap();
    let mut b = std::net::TcpStream::connect(&addr).unwrap();
    b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    a.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    join(&mut a);
    join(&mut b);
    let mut f = Vec::new();
    frame::encode(FrameType::Data, b"hi there", &mut f);
    a.write_all(&f).unwrap();
    let mut got = vec![0u8; f.len()];
    b.read_exact(&mut got).unwrap();
    assert_eq!(got, f);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "no stats line");
        if line.contains("rooms 1 members 2 broadcasts 1 deliveries 1") {
            break;
        }
    }
    // Over --max-frame-bytes: ERROR, then close.
    let mut big = Vec::new();
    frame::encode_header(FrameType::Data, 70_000, &mut big);
    a.write_all(&big).unwrap();
    let mut rest = Vec::new();
    a.read_to_end(&mut rest).unwrap();
    assert!(String::from_utf8_lossy(&rest).contains("over the limit of 65536"));
    stop(&mut child);
}
