//! `pierhead bench` as users run it: against a `pierhead serve` of the test's own,
//! the summary, `--json`, `bench merge`, `--report`, `--find-rate`, bad flags;
//! against Python's `http.server` and a black hole (the loadgen tests' servers).

mod common;
#[path = "../../loadgen/tests/support/mod.rs"]
mod support;

use common::Serve;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{PythonHttp, Scripted};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pierhead")
}

fn url(t: &Serve) -> String {
    format!("http://{}/", t.addr)
}

fn bench(args: &[&str]) -> Output {
    Command::new(bin())
        .arg("bench")
        .args(args)
        .output()
        .unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A directory of its own for a test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pierhead-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn summary_json_merge_and_report() {
    let t = Serve::start(&[]);
    let dir = scratch("merge");
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    let out = bench(&[
        "-c",
        "4",
        "-n",
        "1000",
        "--json",
        a.to_str().unwrap(),
        &url(&t),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1000 requests"), "{text}");
    assert!(text.contains("errors 0:"), "{text}");
    assert!(
        out.stderr.is_empty(),
        "no progress line when not on a terminal"
    );
    let out = bench(&[
        "-c",
        "2",
        "-n",
        "500",
        "--json",
        b.to_str().unwrap(),
        &url(&t),
    ]);
    assert!(out.status.success());
    assert_eq!(json(&a)["requests"], 1000);
    assert_eq!(json(&b)["requests"], 500);
    // JSON on standard output, the summary on standard error.
    let out = bench(&["-c", "1", "-n", "10", "--json", "-", &url(&t)]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "pierhead-bench/1");
    assert!(String::from_utf8_lossy(&out.stderr).contains("10 requests"));

    let merged = dir.join("merged.json");
    let report = dir.join("report.html");
    let out = Command::new(bin())
        .args(["bench", "merge", a.to_str().unwrap(), b.to_str().unwrap()])
        .args([
            "--json",
            merged.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("(2 runs merged)"));
    let m = json(&merged);
    assert_eq!(
        (
            m["requests"].as_u64(),
            m["runs"].as_u64(),
            m["connections"].as_u64()
        ),
        (Some(1500), Some(2), Some(6))
    );
    assert_eq!(m["latency"]["count"], 1500);
    let max = json(&a)["latency"]["max_us"]
        .as_u64()
        .max(json(&b)["latency"]["max_us"].as_u64());
    assert_eq!(m["latency"]["max_us"].as_u64(), max);
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("<svg") && page.contains("2 runs merged"));
    // Merging something that is not a result fails clearly.
    std::fs::write(dir.join("bad.json"), "{}").unwrap();
    let out = Command::new(bin())
        .args([
            "bench",
            "merge",
            a.to_str().unwrap(),
            dir.join("bad.json").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.json"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 22: runs that measured different things are not merged: exit 2, the
/// message naming both files and how they differ; the same runs merge with their
/// own kind.
#[test]
fn bench_merge_refuses_runs_that_measured_different_things() {
    let http = Serve::start(&[]);
    let echo = Serve::start(&["--protocol", "echo"]);
    let dir = scratch("refuse");
    let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    for (name, args) in [
        ("closed.json", vec!["-c", "2", "-n", "200", &url(&http)]),
        ("closed2.json", vec!["-c", "2", "-n", "300", &url(&http)]),
        (
            "open.json",
            vec!["-c", "2", "-d", "300ms", "--rate", "1000", &url(&http)],
        ),
        (
            "deep.json",
            vec!["-c", "2", "-n", "200", "--pipeline", "8", &url(&http)],
        ),
        (
            "echo.json",
            vec!["--protocol", "echo", "-c", "2", "-n", "200", &echo.addr],
        ),
    ] {
        let out = bench(&[&["--json", &file(name)], &args[..]].concat());
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
    }
    let merge = |a: &str, b: &str| {
        Command::new(bin())
            .args(["bench", "merge", &file(a), &file(b)])
            .output()
            .unwrap()
    };
    for (a, b, says) in [
        (
            "closed.json",
            "open.json",
            "is closed loop, {b} is open loop at 1000/s",
        ),
        (
            "open.json",
            "closed.json",
            "is open loop at 1000/s, {b} is closed loop",
        ),
        (
            "closed.json",
            "echo.json",
            "is an http run, {b} is an echo run",
        ),
        (
            "closed.json",
            "deep.json",
            "is pipeline 1, {b} is pipeline 8",
        ),
    ] {
        let out = merge(a, b);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{a} + {b}: {err}");
        let want = format!(
            "cannot merge: {} {}",
            file(a),
            says.replace("{b}", &file(b))
        );
        assert!(err.contains(&want), "{a} + {b}: {err}\nwanted: {want}");
        assert!(
            out.stdout.is_empty(),
            "nothing merged: {}",
            text(&out.stdout)
        );
    }
    let out = merge("closed.json", "closed2.json");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("500 requests"),
        "{}",
        text(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 22: Python's `http.server` (HTTP/1.0, closing after every answer)
/// measured from the command line: answers, no error.
#[test]
fn python_http_server_from_the_command_line() {
    for kind in ["simple", "close-delimited"] {
        let py = PythonHttp::start(kind);
        let dir = scratch(kind);
        let file = dir.join("r.json");
        let out = bench(&[
            "-c",
            "4",
            "-d",
            "1s",
            "--timeout",
            "5s",
            "--json",
            file.to_str().unwrap(),
            &py.url(),
        ]);
        let summary = text(&out.stdout);
        assert!(
            out.status.success(),
            "{kind}: {summary} {}",
            text(&out.stderr)
        );
        assert!(summary.contains("errors 0:"), "{kind}: {summary}");
        let r = json(&file);
        let (answers, sent) = (r["requests"].as_u64().unwrap(), r["sent"].as_u64().unwrap());
        assert!(answers > 0 && sent - answers <= 4, "{kind}: {summary}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Issue 22: against a black hole every protocol measured nothing: exit 1, the
/// reason on standard error, and the summary, JSON and report still written (their
/// timeouts say what happened).
#[test]
fn a_run_that_measured_nothing_exits_1_saying_why() {
    let hole = Scripted::black_hole();
    let dir = scratch("hole");
    let (j, report) = (dir.join("r.json"), dir.join("r.html"));
    let addr = hole.addr.to_string();
    let url = hole.url();
    for (protocol, target, why) in [
        ("http", url.as_str(), "not one answer"),
        ("echo", addr.as_str(), "not one answer"),
        (
            "frame",
            addr.as_str(),
            "no member ever got JOINED in room `bench`",
        ),
    ] {
        let out = bench(&[
            "--protocol",
            protocol,
            "-c",
            "2",
            "-d",
            "1s",
            "--timeout",
            "200ms",
            "--json",
            j.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            target,
        ]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{protocol}: {err}");
        assert!(
            err.contains(&format!("pierhead: measured nothing: {why}")),
            "{protocol}: {err}"
        );
        let summary = text(&out.stdout);
        assert!(
            summary.contains("latency      n/a") && summary.contains(", timeout "),
            "{protocol}: the summary: {summary}"
        );
        let r = json(&j);
        assert_eq!(r["requests"], 0);
        assert!(
            r["errors"]["timeout"].as_u64() >= Some(2),
            "{protocol}: {r}"
        );
        assert!(std::fs::read_to_string(&report).unwrap().contains("n/a"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn open_loop_and_find_rate() {
    let t = Serve::start(&[]);
    let out = bench(&["-c", "8", "-d", "1s", "--rate", "500", &url(&t)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("open loop at 500/s"), "{text}");
    assert!(
        text.contains("uncorrected") && text.contains("send lag"),
        "{text}"
    );
    let out = bench(&[
        "-c",
        "4",
        "-d",
        "300ms",
        "--find-rate",
        "--p99",
        "50ms",
        &url(&t),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("highest rate with p99 <= 50.00ms"), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("-> ok"));
}

#[test]
fn echo_and_frame_targets() {
    let echo = Serve::start(&["--protocol", "echo"]);
    let out = bench(&[
        "--protocol",
        "echo",
        "-c",
        "2",
        "-n",
        "200",
        "--body-size",
        "1k",
        &echo.addr,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("200 requests") && text.contains("errors 0:"),
        "{text}"
    );
    let frame = Serve::start(&["--protocol", "frame"]);
    let out = bench(&[
        "--protocol",
        "frame",
        "-c",
        "6",
        "--publishers",
        "2",
        "-n",
        "100",
        "--room",
        "r",
        &frame.addr,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    // Two publishers, 100 frames in all, each to the 5 other members.
    assert!(text.contains("500 deliveries"), "{text}");
    assert!(text.contains("last member"), "{text}");
}

#[test]
fn ws_echo_and_rooms_targets() {
    let ws = Serve::start(&["--protocol", "ws"]);
    let out = bench(&[
        "-c",
        "2",
        "-n",
        "200",
        "--body-size",
        "1k",
        "--ws-text",
        &format!("ws://{}/", ws.addr),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("ws ws://") && text.contains("200 requests") && text.contains("errors 0:"),
        "{text}"
    );
    let out = bench(&[
        "-c",
        "6",
        "--publishers",
        "2",
        "-n",
        "100",
        &format!("ws://{}/lobby", ws.addr),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    // Two publishers, 100 messages in all, each to the 5 other members.
    assert!(text.contains("500 deliveries"), "{text}");
    assert!(text.contains("last member"), "{text}");
    let out = bench(&["-c", "1", "-n", "1", "wss://127.0.0.1:1/"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`target`") && err.contains("wss"), "{err}");
}

#[test]
fn bad_flags_exit_2_naming_the_field() {
    for (args, field) in [
        (vec!["-c", "0", "http://127.0.0.1:1/"], "`connections`"),
        (vec!["127.0.0.1:1"], "`target`"),
        (vec!["-H", "nocolon", "http://127.0.0.1:1/"], "`header`"),
        (vec!["--rate=-5", "http://127.0.0.1:1/"], "`rate`"),
    ] {
        let out = bench(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(field),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
