//! Shared pieces of the reliability suite (`tests/`): clients that tag their bytes
//! with a nonce and check every byte they get back, abortive closes (RST), and
//! process measurements (descriptors, threads, RSS, CPU).
//!
//! Every scenario has a CI size (seconds) and a long size (`RELIABILITY=long`),
//! whose figures RELIABILITY.md records with the command that produced them.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

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
