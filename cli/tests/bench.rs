//! `pierhead bench` as users run it: against a `pierhead serve` of the test's own,
//! the summary, `--json`, `bench merge`, `--report`, `--find-rate`, bad flags.

mod common;

use common::Serve;
use std::process::{Command, Output};

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

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn summary_json_merge_and_report() {
    let t = Serve::start(&[]);
    let dir = std::env::temp_dir().join(format!("pierhead-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
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
        "--pipeline",
        "8",
        "--json",
        b.to_str().unwrap(),
        &url(&t),
    ]);
    assert!(out.status.success());
    assert_eq!(json(&a)["requests"], 1000);
    assert_eq!(json(&b)["pipeline"], 8);
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
