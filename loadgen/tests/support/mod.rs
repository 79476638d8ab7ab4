//! Servers the load generator is tested against, beside pierhead itself: a
//! black hole, small servers of the test's own that answer as a script says
//! (close-delimited, `Connection: close`, HTTP/1.0 keep-alive, cut bodies,
//! wrong answers), and Python's `http.server`. Shared by the loadgen tests and
//! the command line's (`#[path]`).
// Each test crate uses its own part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// A server of the test's own on a free port of 127.0.0.1, a thread per
/// connection; counts what it accepted and answered.
pub struct Scripted {
    pub addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    answered: Arc<AtomicU64>,
}

/// What a scripted server does with the bytes of one read.
#[derive(Clone, Copy)]
pub enum Reply {
    /// Nothing, ever (a black hole: it accepts and reads).
    Nothing,
    /// These bytes for every read, the connection kept open.
    Each(fn(&[u8]) -> Vec<u8>),
    /// One answer in these pieces (written apart, a moment between them), then
    /// the server closes its side, reads until the client closes, and ends.
    OnceThenClose(&'static [&'static [u8]]),
}

impl Scripted {
    pub fn start(reply: Reply) -> Scripted {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let accepted = Arc::new(AtomicU64::new(0));
        let answered = Arc::new(AtomicU64::new(0));
        let (acc, ans) = (accepted.clone(), answered.clone());
        thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { return };
                acc.fetch_add(1, Ordering::Relaxed);
                let ans = ans.clone();
                thread::spawn(move || serve(s, reply, &ans));
            }
        });
        Scripted {
            addr,
            accepted,
            answered,
        }
    }

    /// A black hole: accepts, reads, never answers.
    pub fn black_hole() -> Scripted {
        Scripted::start(Reply::Nothing)
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }
}

fn serve(mut s: TcpStream, reply: Reply, answered: &AtomicU64) {
    let mut buf = [0u8; 65536];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            return;
        }
        match reply {
            Reply::Nothing => {}
            // An answer is counted before its last byte goes out: a client that
            // has it may read the count at once (counted after, the test's read
            // could come first on a busy machine).
            Reply::Each(answer) => {
                answered.fetch_add(1, Ordering::Relaxed);
                if s.write_all(&answer(&buf[..n])).is_err() {
                    answered.fetch_sub(1, Ordering::Relaxed);
                    return;
                }
            }
            Reply::OnceThenClose(pieces) => {
                for (k, p) in pieces.iter().enumerate() {
                    if k > 0 {
                        thread::sleep(Duration::from_millis(1));
                    }
                    let last = k + 1 == pieces.len();
                    if last {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    if s.write_all(p).is_err() {
                        if last {
                            answered.fetch_sub(1, Ordering::Relaxed);
                        }
                        return;
                    }
                }
                // Closes its side, then reads what else the client sent until it
                // closes too (closing with unread bytes would reset instead).
                let _ = s.shutdown(Shutdown::Write);
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
                return;
            }
        }
    }
}

/// Python's `http.server` in a process of its own, killed when dropped.
pub struct PythonHttp {
    child: Child,
    pub addr: SocketAddr,
}

/// `kind`: `simple` (`python3 -m http.server`'s handler: HTTP/1.0, a
/// Content-Length, the head and the body written apart) or `close-delimited`
/// (a `BaseHTTPRequestHandler` that writes no length: the body runs to the close).
const PYTHON_HTTP: &str = r#"
import sys
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer

class CloseDelimited(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"hello\n")

    def log_message(self, *args):
        pass

class Simple(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a broken pipe: the run ended with this answer in flight

handler = {"simple": Simple, "close-delimited": CloseDelimited}[sys.argv[1]]
server = Server(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl PythonHttp {
    pub fn start(kind: &str) -> PythonHttp {
        let mut child = Command::new("python3")
            .args(["-c", PYTHON_HTTP, kind])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs (scripts/test.sh needs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no port from python3: {line:?}"));
        PythonHttp {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for PythonHttp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
