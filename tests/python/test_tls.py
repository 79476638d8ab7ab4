"""TLS from Python's side: ``Server(tls=...)`` with ``ssl``, ``urllib`` and
``requests`` as clients: trust through ``ssl_context()`` and ``ca_path``, each
misbehaving certificate refused with the expected error, each handshake fault as
the exception a test author would expect, frames over TLS, mutual TLS, the
``pierhead_https`` fixture, sessions resumed (or not, with ``tls_resumption=False``)
and a client that leaves Nagle on answered at once."""

from __future__ import annotations

import pathlib
import socket
import ssl
import statistics
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import requests

import pierhead


def test_https_with_urllib_and_requests(pierhead_https: pierhead.Server) -> None:
    s = pierhead_https
    assert s.url.startswith("https://127.0.0.1:")
    s.expect_request("/hi").respond_with_json({"secure": True})
    with urllib.request.urlopen(s.url_for("/hi"), context=s.ssl_context()) as r:
        assert r.read() == b'{"secure": true}'
    with requests.Session() as session:  # keep-alive: one connection for both
        for _ in range(2):
            assert session.get(s.url_for("/hi"), verify=s.ca_path).json() == {"secure": True}
    assert s.stats().connections_accepted == 2  # urllib's, then requests' one
    # By host name too (the certificate is for localhost, 127.0.0.1 and ::1).
    url = s.url_for("/hi").replace("127.0.0.1", "localhost")
    assert requests.get(url, verify=s.ca_path).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(s.url_for("/hi"))  # the system's CAs do not know it


@pytest.mark.parametrize(
    "kind, message",
    [
        ("expired", "certificate has expired"),
        ("not_yet_valid", "certificate is not yet valid"),
        ("wrong_host", "IP address mismatch"),
        ("self_signed", "self-signed certificate"),
        ("untrusted_ca", "unable to get local issuer certificate"),
    ],
)
def test_each_bad_certificate_is_refused(kind: str, message: str) -> None:
    with pierhead.Server(tls=kind, fixed_response=True) as s:
        with pytest.raises(urllib.error.URLError) as e:
            urllib.request.urlopen(s.url + "/", context=s.ssl_context(), timeout=5)
        reason = e.value.reason
        assert isinstance(reason, ssl.SSLCertVerificationError), reason
        assert message in reason.verify_message, reason.verify_message
        with pytest.raises(requests.exceptions.SSLError, match=message.split()[0]):
            requests.get(s.url + "/", verify=s.ca_path, timeout=5)


def _handshake(s: pierhead.Server, timeout: float = 5.0) -> ssl.SSLSocket:
    sock = socket.create_connection((s.host, s.port), timeout=timeout)
    return s.ssl_context().wrap_socket(sock, server_hostname="localhost")


def test_handshake_faults() -> None:
    with pierhead.Server(tls=True, tls_fault="stall_handshake") as s:
        with pytest.raises(TimeoutError):
            _handshake(s, timeout=0.3)
    with pierhead.Server(tls=True, tls_fault="reset_handshake") as s:
        with pytest.raises(ConnectionResetError):
            _handshake(s)
    with pierhead.Server(tls=True, tls_fault="garbage_hello") as s:
        with pytest.raises(ssl.SSLError) as e:
            _handshake(s)
        assert not isinstance(e.value, ssl.SSLCertVerificationError)
    with pierhead.Server(tls=True, tls_fault="no_close_notify", fixed_response=True) as s:
        sock = s.ssl_context().wrap_socket(
            socket.create_connection((s.host, s.port), timeout=5),
            server_hostname="localhost",
            suppress_ragged_eofs=False,
        )
        sock.sendall(b"GET / HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
        got = b""
        with pytest.raises(ssl.SSLEOFError):
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                got += chunk
        assert got.endswith(b"hello\n")


def test_frames_over_tls() -> None:
    with pierhead.Server("frame", tls=True) as s:
        ctx = s.ssl_context()
        with pierhead.FrameClient(s.host, s.port, ssl_context=ctx) as a, pierhead.FrameClient(
            s.host, s.port, ssl_context=ctx
        ) as b:
            a.join("room")
            b.join("room")
            a.send(b"private")
            assert b.recv() == b"private"
        assert s.url.startswith("tls://")


def test_mutual_tls(tmp_path: pathlib.Path) -> None:
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=client CA")
    openssl("req", *curve, "-keyout", "c.key", "-out", "c.csr", "-subj", "/CN=client")
    (tmp_path / "ext").write_text("extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", "c.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "c.pem", "-days", "2", "-extfile", "ext")
    with pierhead.Server(tls=True, tls_client_ca=str(tmp_path / "ca.pem"), fixed_response=True) as s:
        r = requests.get(s.url + "/", verify=s.ca_path, cert=(str(tmp_path / "c.pem"), str(tmp_path / "c.key")))
        assert r.text == "hello\n"
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            requests.get(s.url + "/", verify=s.ca_path, timeout=5)


def test_tls_options_are_checked() -> None:
    with pytest.raises(pierhead.ConfigError) as e:
        pierhead.Server(tls="broken")
    assert e.value.field == "tls"
    with pytest.raises(pierhead.ConfigError) as e:
        pierhead.Server(tls=True, tls_fault="nope")
    assert e.value.field == "tls_fault"
    s = pierhead.Server(tls=("/no/cert.pem", "/no/key.pem"))
    with pytest.raises(pierhead.ConfigError) as e:
        s.start()
    assert e.value.field == "tls_cert"
    with pierhead.Server() as plain:
        with pytest.raises(pierhead.ServerStateError):
            plain.ssl_context()


def _nagle_on_request(
    s: pierhead.Server, ctx: ssl.SSLContext, session: "ssl.SSLSession | None" = None
) -> "tuple[float, ssl.SSLSession | None, bool]":
    """A handshake then one request, from a socket that leaves Nagle on (as
    Python's sockets do by default): the seconds the request took to be answered,
    the session (with the tickets that came before the answer) and whether the
    handshake resumed ``session``."""
    sock = ctx.wrap_socket(
        socket.create_connection((s.host, s.port), timeout=5),
        server_hostname="localhost",
        session=session,
    )
    with sock:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        sent = time.perf_counter()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        got = sock.recv(65536)
        took = time.perf_counter() - sent
        assert got.startswith(b"HTTP/1.1 200"), got
        return took, sock.session, sock.session_reused


@pytest.mark.parametrize("resumption", [True, False])
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_a_client_that_leaves_nagle_on_is_answered_at_once(
    version: ssl.TLSVersion, resumption: bool
) -> None:
    """Issue 22: a Nagle-on client holds its first request until its Finished is
    acknowledged; a server that answers the Finished with nothing (TLS 1.3 without
    session tickets, a resumed TLS 1.2 handshake) let the kernel delay that ACK by
    40 ms or more. 20 connections, each offering the previous one's session: the
    median is far below the stall (~0.1 ms when fixed, 40+ ms when not)."""
    with pierhead.Server(tls=True, fixed_response=True, tls_resumption=resumption) as s:
        ctx = s.ssl_context()
        ctx.minimum_version = ctx.maximum_version = version
        took, reused, session = [], [], None
        for _ in range(20):
            t, session, r = _nagle_on_request(s, ctx, session)
            took.append(t)
            reused.append(r)
        assert statistics.median(took) < 0.020, [f"{t * 1e3:.2f} ms" for t in took]
        assert reused == [False] + [resumption] * 19


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_sessions_resume_from_tickets_unless_tls_resumption_is_off(version: ssl.TLSVersion) -> None:
    for resumption in (True, False):
        with pierhead.Server(tls=True, fixed_response=True, tls_resumption=resumption) as s:
            ctx = s.ssl_context()
            ctx.minimum_version = ctx.maximum_version = version
            _, session, reused = _nagle_on_request(s, ctx)
            assert session is not None and not reused
            assert session.has_ticket == resumption
            _, _, reused = _nagle_on_request(s, ctx, session)
            assert reused == resumption
    with pytest.raises(pierhead.ConfigError) as e:
        pierhead.Server(tls=True, tls_resumption="no")
    assert e.value.field == "tls_resumption"
