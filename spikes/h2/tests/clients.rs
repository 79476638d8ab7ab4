//! Both spike servers against real HTTP/2 clients (Debian `nghttp2-client`: `nghttp`
//! and `h2load`, which scripts/bench-h2-choice.sh installs): the answer's headers and
//! body, many streams on a few connections, request bodies larger than the windows
//! (flow control released), and a broken preface refused.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(bin: &str, extra: &[&str]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .arg(port.to_string())
        .args(extra)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{bin} did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server(child, port)
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (apt-get install nghttp2-client)"));
    assert!(out.status.success(), "{cmd} {args:?} failed");
    String::from_utf8(out.stdout).unwrap()
}

fn check(bin: &str, extra: &[&str]) {
    let s = start(bin, extra);
    let url = format!("http://127.0.0.1:{}/x", s.1);
    let v = run("nghttp", &["-v", &url]);
    assert!(v.contains(":status: 200"), "{v}");
    assert!(v.contains("content-type: text/plain"), "{v}");
    assert!(v.contains("\nhello\n"), "{v}");
    let load = run("h2load", &["-n", "3000", "-c", "3", "-m", "16", &url]);
    assert!(load.contains("3000 succeeded, 0 failed"), "{load}");
    assert!(load.contains("3000 2xx"), "{load}");
    // 200 KiB bodies: past both 64 KiB receive windows, so the server must give
    // window back or the uploads stall (h2load would time out with failures).
    let body = std::env::temp_dir().join(format!("h2spike-body-{}", s.1));
    std::fs::write(&body, vec![b'b'; 200 * 1024]).unwrap();
    let args = ["-n", "40", "-c", "2", "-m", "4", "-N", "3", "-d"];
    let load = run(
        "h2load",
        &[&args[..], &[body.to_str().unwrap(), &url]].concat(),
    );
    let _ = std::fs::remove_file(&body);
    assert!(load.contains("40 succeeded, 0 failed"), "{load}");
    // Not the preface: the connection is refused (closed, after a GOAWAY at most).
    let mut c = TcpStream::connect(("127.0.0.1", s.1)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert!(!got.windows(5).any(|w| w == b"hello"), "{got:?}");
}

#[test]
fn own_serves_real_clients() {
    check(env!("CARGO_BIN_EXE_own"), &[]);
}

#[test]
fn h2crate_serves_real_clients() {
    check(env!("CARGO_BIN_EXE_h2crate"), &[]);
}

#[test]
fn own_with_httlib_hpack_serves_real_clients() {
    check(env!("CARGO_BIN_EXE_own"), &["httlib"]);
}
