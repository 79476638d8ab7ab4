//! `pierhead serve` over TLS, as curl sees it: the generated CA trusted with
//! `--cacert`, keep-alive, chunked uploads, each bad certificate refused with
//! curl's certificate error, each handshake fault as the error a user would see,
//! mutual TLS with a client certificate made by the openssl command line, and
//! `openssl s_client` resuming its session unless `--tls-no-resumption`.

use std::path::{Path, PathBuf};
mod common;

use common::Serve;
use std::process::{Command, Output, Stdio};

/// A `pierhead serve` speaking TLS.
fn serve_tls(args: &[&str]) -> Serve {
    let s = Serve::start(args);
    assert!(s.first_line.contains(", tls,"), "{}", s.first_line);
    s
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pierhead-cli-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
        .expect("curl is installed (scripts/test.sh installs it)")
}

#[test]
fn curl_trusts_the_generated_ca_keeps_alive_and_uploads_chunked() {
    let d = dir("ok");
    let ca = d.join("ca.pem");
    let s = serve_tls(&[
        "--tls-auto",
        ca.to_str().unwrap(),
        "--route",
        "* /up 201 stored",
    ]);
    let url = format!("https://localhost:{}/", s.port);
    let out = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "-w",
        " %{http_code} %{num_connects} %{ssl_verify_result}\n",
        &url,
        &url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // Two requests, one connection (the second reuses it), verified.
    assert!(text.contains("Not Found\n 404 1 0"), "{text}");
    assert!(text.contains("Not Found\n 404 0 0"), "{text}");
    let up = format!("https://127.0.0.1:{}/up", s.port);
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            "--cacert",
            ca.to_str().unwrap(),
            "-T",
            "-",
            "-H",
            "Transfer-Encoding: chunked",
        ])
        .arg(&up)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&vec![b'x'; 100_000])?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "stored\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without the CA curl refuses.
    let out = curl(&[&url]);
    assert_eq!(
        out.status.code(),
        Some(60),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn curl_refuses_each_bad_certificate() {
    for (kind, words) in [
        ("expired", "expired"),
        ("not_yet_valid", "not yet valid"),
        (
            "wrong_host",
            "no alternative certificate subject name matches",
        ),
        ("self_signed", "self-signed"),
        ("untrusted_ca", "unable to get local issuer"),
    ] {
        let d = dir(kind);
        let ca = d.join("ca.pem");
        let s = serve_tls(&["--tls-auto", ca.to_str().unwrap(), "--tls-bad-cert", kind]);
        let out = curl(&[
            "--cacert",
            ca.to_str().unwrap(),
            &format!("https://localhost:{}/", s.port),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(60) | Some(51)),
            "{kind}: {:?} {err}",
            out.status.code()
        );
        assert!(err.contains(words), "{kind}: {err}");
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn curl_sees_each_handshake_fault() {
    for (fault, code, words) in [
        ("stall_handshake", 28, "timed out"),
        ("reset_handshake", 35, "reset"),
        ("garbage_hello", 35, ""),
    ] {
        let d = dir(fault);
        let ca = d.join("ca.pem");
        let s = serve_tls(&["--tls-auto", ca.to_str().unwrap(), "--tls-fault", fault]);
        let out = curl(&[
            "--max-time",
            "1",
            "--cacert",
            ca.to_str().unwrap(),
            &format!("https://localhost:{}/", s.port),
        ]);
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert_eq!(out.status.code(), Some(code), "{fault}: {err}");
        assert!(err.contains(words), "{fault}: {err}");
        let _ = std::fs::remove_dir_all(&d);
    }
}

fn openssl(args: &[&str], cwd: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mutual_tls_with_a_client_certificate_from_openssl() {
    let d = dir("mtls");
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "cca.key",
            "-out",
            "cca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=client CA",
        ],
        &d,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
            "-subj",
            "/CN=client",
        ],
        &d,
    );
    std::fs::write(d.join("ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "cca.pem",
            "-CAkey",
            "cca.key",
            "-CAcreateserial",
            "-out",
            "client.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
        &d,
    );
    let ca = d.join("ca.pem");
    let s = serve_tls(&[
        "--tls-auto",
        ca.to_str().unwrap(),
        "--tls-client-ca",
        d.join("cca.pem").to_str().unwrap(),
    ]);
    let url = format!("https://localhost:{}/", s.port);
    let cacert = ca.to_str().unwrap();
    let out = curl(&[
        "--cacert",
        cacert,
        "--cert",
        d.join("client.pem").to_str().unwrap(),
        "--key",
        d.join("client.key").to_str().unwrap(),
        &url,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = curl(&["--cacert", cacert, &url]);
    assert!(!out.status.success(), "served without a client certificate");
    let _ = std::fs::remove_dir_all(&d);
}

/// `openssl s_client` makes one request (reading the session tickets that come
/// before the answer), saving its session to `sess` when `save`, or offering the
/// saved one: how OpenSSL says the handshake went ("New, TLSv1.3, ..." or
/// "Reused, TLSv1.3, ...").
fn s_client_session(port: u16, version: &str, sess: &Path, save: bool) -> String {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args([version, "-ign_eof"])
        .args([if save { "-sess_out" } else { "-sess_in" }])
        .arg(sess)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\r\n\r\nhello\n"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find(|l| l.starts_with("New,") || l.starts_with("Reused,"))
        .unwrap_or_else(|| panic!("no New/Reused line: {text}"))
        .to_owned()
}

#[test]
fn openssl_resumes_a_session_unless_tls_no_resumption() {
    for (flags, resumes) in [(&[][..], true), (&["--tls-no-resumption"][..], false)] {
        let d = dir(if resumes { "resume" } else { "noresume" });
        let ca = d.join("ca.pem");
        let mut args = vec!["--tls-auto", ca.to_str().unwrap()];
        args.extend_from_slice(flags);
        let s = serve_tls(&args);
        for version in ["-tls1_3", "-tls1_2"] {
            let sess = d.join(format!("sess{version}"));
            let first = s_client_session(s.port, version, &sess, true);
            assert!(first.starts_with("New,"), "{flags:?} {version}: {first}");
            if !resumes {
                // No ticket and no session ID: OpenSSL saves nothing to resume.
                assert!(!sess.exists(), "{version}: a resumable session");
                continue;
            }
            let second = s_client_session(s.port, version, &sess, false);
            assert!(second.starts_with("Reused,"), "{version}: {second}");
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
