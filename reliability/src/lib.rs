//! Shared pieces of the reliability suite (`tests/`): clients that tag their bytes
//! with a nonce and check every byte they get back, frame-protocol clients,
//! abortive closes (RST), a real redis-server ([`redis`], the main test suite's),
//! WebSocket clients from raw bytes ([`ws`]), the latency targets, and process
//! measurements (descriptors, threads, RSS, CPU).
//!
//! Every scenario has a CI size (seconds) and a long size (`RELIABILITY=long`),
//! whose figures RELIABILITY.md records with the command that produced them.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pierhead::frame::{self, op, FrameType};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A redis-server child on a free loopback port: the main test suite's own
/// (`core/tests/common/redis.rs`), which panics with the package to install if
/// redis-server is missing.
#[path = "../../core/tests/common/redis.rs"]
pub mod redis;

pub mod ws;

/// True for the long, documented run (`RELIABILITY=long`).
pub fn long() -> bool {
    std::env::var("RELIABILITY").is_ok_and(|v| v == "long")
}

/// `ci` in CI, `long` in the documented run.
pub fn scale<T>(ci: T, long_run: T) -> T {
    if long() {
        long_run
    } else {
        ci
    }
}

/// A figure for RELIABILITY.md, printed as `figure: name = value` (run with
/// `--nocapture` to see them).
pub fn figure(name: &str, value: impl std::fmt::Display) {
    println!("figure: {name} = {value}");
}

/// A connected TCP stream with timeouts.
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Closes `s` with RST instead of FIN (SO_LINGER 0).
pub fn reset(s: TcpStream) {
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    drop(s);
}

/// A payload of `len` bytes unique to `nonce`: every 8-byte word is the nonce
/// mixed with its position, so a byte from anywhere else shows.
pub fn payload(nonce: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(&(nonce ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

/// A nonce unique to this process's call, spread over the whole range.
pub fn next_nonce() -> u64 {
    static NONCE: AtomicU64 = AtomicU64::new(1);
    NONCE
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// One frame of `kind` with `payload`, encoded.
pub fn frame_of(kind: FrameType, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    frame::encode(kind, payload, &mut f);
    f
}

/// One control frame (`JOIN`, `LEAVE`, ...) with its argument, encoded.
pub fn control_of(opcode: u8, arg: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    frame::encode_control(opcode, arg, &mut f);
    f
}

/// Reads one frame: its type and payload.
pub fn read_frame(r: &mut impl Read) -> io::Result<(FrameType, Vec<u8>)> {
    let mut head = [0u8; frame::HEADER_LEN];
    r.read_exact(&mut head)?;
    let h = frame::decode_header(&head, 1 << 20)
        .map_err(|e| io::Error::other(format!("{e:?}")))?
        .ok_or_else(|| io::Error::other("short header"))?;
    let mut body = vec![0u8; h.len];
    r.read_exact(&mut body)?;
    Ok((h.kind, body))
}

/// Joins `room` and waits for its `JOINED`.
pub fn join(s: &mut (impl Read + Write), room: &str) -> io::Result<()> {
    s.write_all(&control_of(op::JOIN, room.as_bytes()))?;
    await_joined(s)
}

/// Waits for a `JOINED` answer (nothing else is due before it).
pub fn await_joined(r: &mut impl Read) -> io::Result<()> {
    let (kind, body) = read_frame(r)?;
    if kind == FrameType::Control && body.first() == Some(&op::JOINED) {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "expected JOINED, got {kind:?} {body:?}"
        )))
    }
}

/// The latency target of a scenario: `during` (a p99, µs) within `factor` times
/// its `baseline` plus 1 ms of this shared machine's noise. Ratios on a shared
/// machine of two cores are figures in CI, where only starvation fails (p99 over
/// 100 ms); the long run (`RELIABILITY=long`) asserts the target.
pub fn assert_latency(what: &str, baseline: f64, during: f64, factor: f64) {
    assert!(during < 100_000.0, "{what}: starved: p99 {during:.0} us");
    if long() {
        assert!(
            during <= factor * baseline + 1000.0,
            "{what}: p99 {during:.0} us against {baseline:.0} us alone (target {factor}x + 1 ms)"
        );
    }
}

/// `src/bin/limited_server` in a child process: an echo server under its own
/// descriptor limit, in a process apart from the clients (the two together would
/// need more than the 20,000 descriptors a process may have here).
pub struct LimitedServer {
    child: Child,
    out: BufReader<ChildStdout>,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl LimitedServer {
    /// Starts `exe` (the test's `env!("CARGO_BIN_EXE_limited_server")`) limited to
    /// `nofile` descriptors, and waits until it listens.
    pub fn start(exe: &str, nofile: u32) -> LimitedServer {
        let mut child = Command::new(exe)
            .arg(nofile.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("limited_server starts");
        let mut out = BufReader::new(child.stdout.take().expect("its stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("its port");
        let addr = format!("127.0.0.1:{}", line.trim())
            .parse()
            .expect("a port on its first line");
        LimitedServer { child, out, addr }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Ends its stdin, so that it stops; asserts that it exited cleanly and
    /// returns its report (`stopped <ms> ms, accept errors <n>, complete <bool>`)
    /// and the stop time in milliseconds.
    pub fn stop(mut self) -> (String, f64) {
        drop(self.child.stdin.take());
        let mut report = String::new();
        self.out.read_to_string(&mut report).expect("its report");
        let status = self.child.wait().expect("it exits");
        assert!(status.success(), "limited_server: {report}");
        let ms = report
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no stop time in {report:?}"));
        (report.trim().to_string(), ms)
    }
}

/// Reads exactly `want.len()` bytes and says whether they are `want`.
pub fn read_matches(r: &mut impl Read, want: &[u8]) -> io::Result<bool> {
    let mut got = vec![0u8; want.len()];
    r.read_exact(&mut got)?;
    Ok(got == want)
}

/// Open descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Threads of this process.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

/// Resident set size of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ") ".
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split(' ').collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// Clock ticks per second.
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(t).unwrap_or(100)
}

/// A TLS client stream (rustls) that trusts `ca_pem`, handshake done.
pub type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A client config trusting `ca_pem`.
pub fn tls_client(ca_pem: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()).flatten() {
        let _ = roots.add(c);
    }
    Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Connects and completes a TLS handshake for `localhost`.
pub fn tls_connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> io::Result<Tls> {
    let tcp = connect(addr)?;
    let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
    let conn = ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
    let mut s = StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(s)
}

/// Writes all of `data` and flushes.
pub fn send(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    w.write_all(data)?;
    w.flush()
}

/// Holds the timing-sensitive tests of one binary apart (the harness runs a
/// binary's tests on parallel threads): take it first.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
