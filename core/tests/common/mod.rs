//! Helpers shared by the integration tests: real loopback sockets, a small HTTP
//! response reader, and bounded waiting.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use pierhead::{Config, Protocol, Server};

pub mod frame_client;
pub mod redis;
pub mod rooms_check;
pub mod ws_client;

pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub fn start(protocol: Protocol, tweak: impl FnOnce(Config) -> Config) -> Server {
    let config = tweak(Config::new().protocol(protocol).workers(2));
    Server::start(config).expect("server starts")
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// One parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response; `head_request` means the body is announced but not sent.
pub fn read_response(r: &mut impl BufRead, head_request: bool) -> io::Result<Response> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("status line {line:?}"))
        })?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l
            .split_once(':')
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, l.to_owned()))?;
        headers.push((n.trim().to_owned(), v.trim().to_owned()));
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let len: usize = resp
        .header("content-length")
        .map(|v| v.parse().unwrap())
        .unwrap_or(0);
    if !head_request && status != 100 {
        resp.body.resize(len, 0);
        r.read_exact(&mut resp.body)?;
    }
    Ok(resp)
}

/// Sends `request` and reads one response on a fresh connection.
pub fn http_once(addr: SocketAddr, request: &[u8]) -> Response {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    read_response(&mut BufReader::new(s), false).unwrap()
}

/// Sends `request`, reads the one response, and checks the server then closes.
pub fn answer_then_close(addr: SocketAddr, request: &[u8]) -> Response {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    let resp = read_response(&mut BufReader::new(s.try_clone().unwrap()), false).unwrap();
    assert!(closed_by_peer(&mut s), "server kept the connection open");
    resp
}

/// True when the peer has closed: a read gives EOF or a reset (within IO_TIMEOUT).
pub fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Polls `cond` every 5 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

/// Threads of this process.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

/// Waits (up to 2 s) until this process's thread `tid` is gone from
/// `/proc/self/task`. A joined thread may still be listed for a moment: the kernel
/// wakes the joiner when it clears the thread's id, before it removes the task, and
/// a busy machine can preempt the exiting thread in between.
pub fn thread_gone(tid: i32) -> bool {
    let path = format!("/proc/self/task/{tid}");
    wait_until(Duration::from_secs(2), || {
        !std::path::Path::new(&path).exists()
    })
}

/// Waits (up to 2 s) until this process has at most `n` threads (see
/// [`thread_gone`] for why a joined thread may be counted for a moment).
pub fn threads_back_to(n: usize) -> bool {
    wait_until(Duration::from_secs(2), || thread_count() <= n)
}
