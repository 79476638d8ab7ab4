//! TLS over real sockets with a rustls client: HTTPS keep-alive and pipelining,
//! chunked bodies, 10 MB of echo both ways, frames, each misbehaving certificate
//! refused for its own reason, each handshake fault as a client sees it, mutual
//! TLS, a flood of handshakes that never finish, and a client that leaves Nagle
//! on answered at once, resuming its session or not.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use pierhead::frame::{self, op, FrameType};
use pierhead::{BadCert, Config, Protocol, Server, TlsFault};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

type Tls = StreamOwned<ClientConnection, TcpStream>;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca_pem: &str) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    roots
}

fn client_config(ca_pem: &str) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots(ca_pem))
            .with_no_client_auth(),
    )
}

/// A TLS connection with the handshake done (or its error).
fn handshake(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    name: &str,
) -> Result<Tls, std::io::Error> {
    let tcp = connect(addr);
    let conn =
        ClientConnection::new(config, ServerName::try_from(name.to_owned()).unwrap()).unwrap();
    let mut s = StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(s)
}

fn tls_server(protocol: Protocol, tweak: impl FnOnce(Config) -> Config) -> Server {
    start(protocol, |c| tweak(c.tls_auto()))
}

fn ca(s: &Server) -> String {
    s.tls_ca_pem().expect("a generated CA").to_owned()
}

#[test]
fn https_keep_alive_pipelining_and_chunked_bodies() {
    let s = tls_server(Protocol::Http, |c| c);
    let mut t = handshake(s.local_addr(), client_config(&ca(&s)), "localhost").unwrap();
    assert_eq!(t.conn.alpn_protocol(), None, "the client offered none");
    // Keep-alive: three requests one after another, then 16 in one write.
    for _ in 0..3 {
        t.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let r = read_response(&mut std::io::BufReader::new(&mut t), false).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello\n"[..]));
    }
    t.write_all(&b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(16))
        .unwrap();
    let mut reader = std::io::BufReader::new(&mut t);
    for _ in 0..16 {
        assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
    }
    drop(reader);
    // A chunked request body.
    t.write_all(b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        .unwrap();
    assert_eq!(
        read_response(&mut std::io::BufReader::new(&mut t), false)
            .unwrap()
            .status,
        200
    );
    let st = s.stats();
    assert_eq!((st.connections_accepted, st.requests), (1, 20));
    // ALPN: a client asking for http/1.1 gets it.
    let mut cfg = (*client_config(&ca(&s))).clone();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let t = handshake(s.local_addr(), Arc::new(cfg), "127.0.0.1").unwrap();
    assert_eq!(t.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
}

#[test]
fn ten_megabytes_of_echo_both_ways() {
    let s = tls_server(Protocol::Echo, |c| c.workers(1));
    let t = handshake(s.local_addr(), client_config(&ca(&s)), "localhost").unwrap();
    let data: Vec<u8> = (0..10u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let expected = data.clone();
    // Written and read in turns of 256 KiB (one StreamOwned cannot be shared by
    // two threads); the server echoes each turn before the next.
    let mut t = t;
    t.sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut got = Vec::with_capacity(data.len());
    let mut buf = vec![0u8; 1 << 16];
    for chunk in data.chunks(256 * 1024) {
        t.write_all(chunk).unwrap();
        t.flush().unwrap();
        let want = got.len() + chunk.len();
        while got.len() < want {
            let n = t.read(&mut buf).unwrap();
            assert!(n > 0, "the server closed");
            got.extend_from_slice(&buf[..n]);
        }
    }
    assert!(got == expected, "10 MB came back as sent");
    assert_eq!(s.stats().bytes_read, 10 << 20);
}

#[test]
fn frames_over_tls() {
    let s = tls_server(Protocol::Frame, |c| c);
    let cfg = client_config(&ca(&s));
    let mut a = handshake(s.local_addr(), cfg.clone(), "localhost").unwrap();
    let mut b = handshake(s.local_addr(), cfg, "localhost").unwrap();
    let mut join = Vec::new();
    frame::encode_control(op::JOIN, b"room", &mut join);
    for t in [&mut a, &mut b] {
        t.write_all(&join).unwrap();
        let mut joined = [0u8; 16 + 5];
        t.read_exact(&mut joined).unwrap();
        assert_eq!(&joined[16..], b"\x06room");
    }
    let mut f = Vec::new();
    frame::encode(FrameType::Data, b"secret", &mut f);
    a.write_all(&f).unwrap();
    let mut got = vec![0u8; f.len()];
    b.read_exact(&mut got).unwrap();
    assert_eq!(got, f);
}

#[test]
fn every_bad_certificate_is_refused_for_its_own_reason() {
    use rustls::{CertificateError, Error};
    for (bad, expected) in [
        (BadCert::Expired, CertificateError::Expired),
        (BadCert::NotYetValid, CertificateError::NotValidYet),
        (BadCert::WrongHost, CertificateError::NotValidForName),
        (BadCert::SelfSigned, CertificateError::UnknownIssuer),
        (BadCert::UntrustedCa, CertificateError::UnknownIssuer),
    ] {
        let s = tls_server(Protocol::Http, |c| c.tls_bad_cert(bad));
        let e = handshake(s.local_addr(), client_config(&ca(&s)), "localhost").unwrap_err();
        let inner = e.get_ref().and_then(|i| i.downcast_ref::<Error>()).cloned();
        let matches = match (&inner, &expected) {
            (
                Some(Error::InvalidCertificate(CertificateError::ExpiredContext { .. })),
                CertificateError::Expired,
            )
            | (
                Some(Error::InvalidCertificate(CertificateError::NotValidYetContext { .. })),
                CertificateError::NotValidYet,
            )
            | (
                Some(Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                    ..
                })),
                CertificateError::NotValidForName,
            ) => true,
            (Some(Error::InvalidCertificate(c)), want) => c == want,
            _ => false,
        };
        assert!(matches, "{bad:?}: {e} ({inner:?})");
        // The server counts the refused handshake.
        assert!(
            wait_until(Duration::from_secs(5), || s.stats().protocol_errors >= 1),
            "{bad:?}"
        );
    }
}

#[test]
fn handshake_faults_look_to_a_client_as_they_should() {
    // Stall: the handshake never finishes; the client's own timeout ends it.
    let s = tls_server(Protocol::Http, |c| c.tls_fault(TlsFault::StallHandshake));
    let tcp = connect(s.local_addr());
    tcp.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let conn = ClientConnection::new(
        client_config(&ca(&s)),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut t = StreamOwned::new(conn, tcp);
    let e = loop {
        match t.conn.complete_io(&mut t.sock) {
            Ok(_) if t.conn.is_handshaking() => continue,
            Ok(_) => panic!("the handshake finished"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e}"
    );

    // Reset after the ClientHello.
    let s = tls_server(Protocol::Http, |c| c.tls_fault(TlsFault::ResetHandshake));
    let e = handshake(s.local_addr(), client_config(&ca(&s)), "localhost").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");

    // Garbage instead of a ServerHello.
    let s = tls_server(Protocol::Http, |c| c.tls_fault(TlsFault::GarbageHello));
    let e = handshake(s.local_addr(), client_config(&ca(&s)), "localhost").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");

    // No close_notify: a client reading to the end sees the stream cut.
    let s = tls_server(Protocol::Http, |c| c.tls_fault(TlsFault::NoCloseNotify));
    let mut t = handshake(s.local_addr(), client_config(&ca(&s)), "localhost").unwrap();
    t.write_all(b"GET / HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    let e = t.read_to_end(&mut all).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnexpectedEof, "{e}");
    assert!(all.ends_with(b"hello\n"), "the answer came before the cut");
    // Without the fault the same exchange ends cleanly (close_notify).
    let s = tls_server(Protocol::Http, |c| c);
    let mut t = handshake(s.local_addr(), client_config(&ca(&s)), "localhost").unwrap();
    t.write_all(b"GET / HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    t.read_to_end(&mut all).unwrap();
    assert!(all.ends_with(b"hello\n"));
}

/// A client CA and a client certificate it signs (rcgen), as PEM.
fn client_identity(
    dir: &std::path::Path,
) -> (
    std::path::PathBuf,
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
) {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_p = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_p.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_p, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["client".to_owned()]).unwrap();
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = p.signed_by(&key, &issuer).unwrap();
    let path = dir.join("client-ca.pem");
    std::fs::write(&path, ca_cert.pem()).unwrap();
    (
        path,
        vec![cert.der().clone()],
        PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
}

#[test]
fn mutual_tls_accepts_a_known_client_and_refuses_others() {
    let dir = std::env::temp_dir().join(format!("pierhead-mtls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca_path, chain, key) = client_identity(&dir);
    let s = tls_server(Protocol::Http, |c| c.tls_client_ca(&ca_path));
    let with_cert = Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots(&ca(&s)))
            .with_client_auth_cert(chain, key)
            .unwrap(),
    );
    let mut t = handshake(s.local_addr(), with_cert, "localhost").unwrap();
    t.write_all(b"GET / HTTP/1.1\r\nHost: l\r\n\r\n").unwrap();
    assert_eq!(
        read_response(&mut std::io::BufReader::new(&mut t), false)
            .unwrap()
            .status,
        200
    );
    // No certificate: the server refuses (TLS 1.3: the client learns it when it reads).
    let refused =
        handshake(s.local_addr(), client_config(&ca(&s)), "localhost").and_then(|mut t| {
            t.write_all(b"GET / HTTP/1.1\r\nHost: l\r\n\r\n")?;
            let mut b = [0u8; 1];
            t.read(&mut b).map(|_| t)
        });
    assert!(
        refused.is_err(),
        "a client without a certificate was served"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_flood_of_handshakes_that_never_finish_is_closed_at_the_header_timeout() {
    let s = tls_server(Protocol::Http, |c| {
        c.header_timeout(Duration::from_secs(1)).workers(2)
    });
    let cfg = client_config(&ca(&s));
    // 1,000 connections: half say nothing, half send the start of a ClientHello.
    let mut flood: Vec<TcpStream> = (0..1000)
        .map(|i| {
            let mut c = connect(s.local_addr());
            if i % 2 == 1 {
                c.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
            }
            c
        })
        .collect();
    assert!(wait_until(Duration::from_secs(5), || s
        .stats()
        .connections_active
        >= 1000));
    // Meanwhile a normal client is served, quickly.
    let t0 = Instant::now();
    for _ in 0..20 {
        let mut t = handshake(s.local_addr(), cfg.clone(), "localhost").unwrap();
        t.write_all(b"GET / HTTP/1.1\r\nHost: l\r\n\r\n").unwrap();
        assert_eq!(
            read_response(&mut std::io::BufReader::new(&mut t), false)
                .unwrap()
                .status,
            200
        );
    }
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "served slowly: {:?}",
        t0.elapsed()
    );
    // Then every flooding connection is closed by the server.
    let closed_by = Instant::now() + Duration::from_secs(5);
    for c in &mut flood {
        c.set_read_timeout(Some(
            closed_by
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ))
        .unwrap();
        assert!(closed_by_peer(c), "a stalled handshake stayed open");
    }
    assert!(s.stats().timeouts >= 1000, "{:?}", s.stats());
}

#[test]
fn stop_with_tls_connections_open_returns_at_once() {
    let s = tls_server(Protocol::Http, |c| c);
    let cfg = client_config(&ca(&s));
    let idle: Vec<Tls> = (0..50)
        .map(|_| handshake(s.local_addr(), cfg.clone(), "localhost").unwrap())
        .collect();
    let handshaking: Vec<TcpStream> = (0..50).map(|_| connect(s.local_addr())).collect();
    assert!(wait_until(Duration::from_secs(5), || s
        .stats()
        .connections_active
        == 100));
    let t = Instant::now();
    let r = s.stop(Duration::from_secs(2));
    assert!(t.elapsed() < Duration::from_millis(500), "{r:?}");
    assert_eq!(r.idle_closed, 100, "{r:?}");
    drop((idle, handshaking));
}

#[test]
fn bad_certificate_files_are_errors_naming_the_field() {
    let e = Server::start(Config::new().tls_files("/no/such/cert.pem", "/no/such/key.pem"))
        .unwrap_err();
    assert!(
        e.to_string().contains("`tls_cert`") && e.to_string().contains("/no/such/cert.pem"),
        "{e}"
    );
    let e = Server::start(
        Config::new()
            .tls_files("/no/such/cert.pem", "k")
            .tls_bad_cert(BadCert::Expired),
    )
    .unwrap_err();
    assert!(e.to_string().contains("`tls_bad_cert`"), "{e}");
    // Files written from a generated server's CA are not a key: refused, named.
    let s = tls_server(Protocol::Http, |c| c);
    let dir = std::env::temp_dir().join(format!("pierhead-tlsfiles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, s.tls_ca_pem().unwrap()).unwrap();
    let e = Server::start(Config::new().tls_files(&ca, &ca)).unwrap_err();
    assert!(e.to_string().contains("`tls_key`"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_plain_http_request_on_the_tls_port_gets_a_plain_400_and_others_are_unharmed() {
    let s = tls_server(Protocol::Http, |c| c);
    // A TLS client, mid keep-alive, while a plain one is refused.
    let mut t = handshake(s.local_addr(), client_config(&ca(&s)), "localhost").unwrap();
    t.write_all(b"GET / HTTP/1.1\r\nHost: l\r\n\r\n").unwrap();
    let mut plain = connect(s.local_addr());
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: l\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    plain.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer:?}"
    );
    assert!(answer.contains("Connection: close\r\n"), "{answer:?}");
    assert!(answer.ends_with("\r\n\r\nplain HTTP request sent to a TLS port: use https://\n"));
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    assert!(answer.contains(&format!("Content-Length: {}\r\n", body.len())));
    assert!(wait_until(Duration::from_secs(5), || s
        .stats()
        .protocol_errors
        >= 1));
    // Binary garbage is not HTTP: a TLS alert, not the plain answer.
    let mut junk = connect(s.local_addr());
    junk.write_all(&[0x00; 64]).unwrap();
    let mut back = Vec::new();
    let _ = junk.read_to_end(&mut back);
    assert!(!back.starts_with(b"HTTP/"), "{back:?}");
    // The TLS connection never noticed.
    t.write_all(b"GET / HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = String::new();
    let _ = t.read_to_string(&mut got);
    assert_eq!(got.matches("HTTP/1.1 200 OK").count(), 2, "{got}");
}

#[test]
fn a_frame_server_over_tls_answers_plain_bytes_with_an_alert_not_http() {
    let s = tls_server(Protocol::Frame, |c| c);
    let mut plain = connect(s.local_addr());
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: l\r\n\r\n")
        .unwrap();
    let mut back = Vec::new();
    let _ = plain.read_to_end(&mut back);
    assert!(!back.starts_with(b"HTTP/"), "{back:?}");
    assert!(wait_until(Duration::from_secs(5), || s
        .stats()
        .protocol_errors
        >= 1));
}

/// Connections made one after another by a client that leaves Nagle on (no
/// TCP_NODELAY, as Python's `ssl` sockets), each a handshake then one request:
/// how long each request took to be answered, and how each handshake went.
fn nagle_on_requests(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    n: usize,
) -> Vec<(Duration, rustls::HandshakeKind)> {
    (0..n)
        .map(|_| {
            let mut t = handshake(addr, config.clone(), "localhost").unwrap();
            t.sock.set_nodelay(false).unwrap();
            let kind = t.conn.handshake_kind().expect("handshake done");
            let sent = Instant::now();
            // The request goes out while the client's Finished may be unacknowledged.
            t.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap();
            let r = read_response(&mut std::io::BufReader::new(&mut t), false).unwrap();
            assert_eq!(r.status, 200);
            (sent.elapsed(), kind)
        })
        .collect()
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

/// A client config speaking only this TLS version.
fn client_config_for(
    ca_pem: &str,
    version: &'static rustls::SupportedProtocolVersion,
) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots(ca_pem))
            .with_no_client_auth(),
    )
}

/// Issue 22. A client that leaves Nagle on holds its first request until its
/// Finished is acknowledged; a server that answers the Finished with nothing (TLS
/// 1.3 without session tickets; a resumed TLS 1.2 handshake) let the kernel delay
/// that ACK by 40 ms or more (delayed ACK meets Nagle). The server acknowledges at
/// once when a handshake completes: in each case, TLS 1.3 and 1.2 with resumption
/// on (the client resumes after its first connection) and off, the median of 20
/// requests is far below the stall (~0.1 ms here when fixed, 40+ ms when not).
#[test]
fn a_client_that_leaves_nagle_on_is_answered_without_the_delayed_ack_stall() {
    use rustls::version::{TLS12, TLS13};
    use rustls::HandshakeKind::{Full, Resumed};
    for resumption in [true, false] {
        let s = tls_server(Protocol::Http, |c| c.workers(1).tls_resumption(resumption));
        for version in [&TLS13, &TLS12] {
            let cfg = client_config_for(&ca(&s), version);
            let took = nagle_on_requests(s.local_addr(), &cfg, 20);
            let case = format!("{:?}, resumption {resumption}", version.version);
            let m = median(took.iter().map(|t| t.0).collect());
            assert!(
                m < Duration::from_millis(20),
                "{case}: median {m:?}: {took:?}"
            );
            // Resumed after the first when on, never when off.
            let kinds: Vec<_> = took.iter().map(|t| t.1).collect();
            let resumed = if resumption { Resumed } else { Full };
            assert_eq!(kinds[0], Full, "{case}");
            assert!(
                kinds[1..].iter().all(|k| *k == resumed),
                "{case}: {kinds:?}"
            );
        }
    }
}

/// `tls_resumption` says how TLS resumes once it is on; alone, it does not turn
/// TLS on (the other `tls_*` options choose certificates or faults, and do).
#[test]
fn tls_resumption_alone_does_not_turn_tls_on() {
    let s = start(Protocol::Http, |c| c.tls_resumption(false));
    assert!(!s.is_tls());
    let r = http_once(s.local_addr(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
}
