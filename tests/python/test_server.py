"""Server lifecycle, addresses, stats, errors, protocols."""

from __future__ import annotations

import errno
import socket
import threading

import pytest
import urllib3

import pierhead
from conftest import needs_ipv6, raw_exchange, request, wait_until


def test_context_manager_start_stop_and_addresses():
    server = pierhead.Server()
    assert server.state == "new" and not server.is_running
    with pytest.raises(pierhead.ServerStateError, match="not been started"):
        server.port
    with server:
        assert server.is_running and server.state == "running"
        assert server.host == "127.0.0.1" and server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.url_for("/a?b=1") == server.url + "/a?b=1"
        assert server.url_for("x") == server.url + "/x"
        with pytest.raises(pierhead.ServerStateError, match="already running"):
            server.start()
    assert server.state == "stopped" and not server.is_running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=2)


@needs_ipv6
def test_ipv6_url_has_brackets():
    with pierhead.Server(host="::1") as server:
        assert server.host == "::1"
        assert server.url == f"http://[::1]:{server.port}"
        server.expect_request("/six").respond_with_data("six")
        pool = urllib3.PoolManager()
        r = pool.request("GET", server.url_for("/six"))
        assert (r.status, r.data) == (200, b"six")


def test_restart_keeps_expectations_and_their_remaining_uses():
    server = pierhead.Server()
    server.expect_request("/always").respond_with_data("a")
    server.expect_oneshot_request("/once").respond_with_data("o")
    with server:
        assert request(server, "GET", "/once")[0] == 200
        assert request(server, "GET", "/always")[0] == 200
    with server:  # a new port, the same expectations, the oneshot used up
        assert request(server, "GET", "/always")[2] == b"a"
        assert request(server, "GET", "/once")[0] == 500


def test_stats_are_typed_and_count():
    with pierhead.Server() as server:
        server.expect_request("/").respond_with_data("x")
        for _ in range(3):
            request(server, "GET", "/")
        s = server.stats()
        assert isinstance(s, pierhead.Stats)
        assert (s.requests, s.responses, s.connections_accepted) == (3, 3, 3)
        assert s.state == "running" and s.uptime > 0
        assert s.bytes_read > 0 and s.bytes_written > 0
        assert "requests=3" in repr(s)


def test_stop_report_closes_idle_keep_alive_connections_at_once():
    with pierhead.Server() as server:
        server.expect_request("/").respond_with_data("x")
        conns = []
        for _ in range(100):
            s = socket.create_connection((server.host, server.port))
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            conns.append(s)
        for s in conns:
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        report = server.stop(timeout=5)
    assert report.complete and report.idle_closed == 100 and report.force_closed == 0
    # A hang guard, not a benchmark (BENCHMARKS.md has the figures).
    assert report.elapsed < 1.0
    for s in conns:
        assert s.recv(1) == b""
        s.close()
    assert server.stop().idle_closed == 100  # idempotent: the first stop's report


def test_config_errors_name_the_field():
    cases = {
        "max_conections": 3,  # a typo
        "idle_timeout": -1,
        "header_timeout": "10s",
        "max_body_bytes": -5,
        "workers": 0,
        "unmatched_status": 70000,
        "fixed_response": 1,
    }
    for field, value in cases.items():
        with pytest.raises(pierhead.ConfigError) as info:
            pierhead.Server(**{field: value})
        assert info.value.field == field, (field, str(info.value))
        assert field in str(info.value)
        assert isinstance(info.value, ValueError) and isinstance(info.value, pierhead.PierheadError)
    with pytest.raises(pierhead.ConfigError, match="protocol") as info:
        pierhead.Server("gopher")
    assert info.value.field == "protocol"
    with pytest.raises(pierhead.ConfigError, match="host") as info:
        pierhead.Server(host="not an address")
    with pytest.raises(pierhead.ConfigError) as info:
        pierhead.Response("x", status=42)
    assert info.value.field == "response.status"
    with pytest.raises(pierhead.ConfigError) as info:
        pierhead.Response("x", headers={"X-Bad": "a\r\nInjected: 1"})
    assert info.value.field == "response.header"
    for body in (["a list"], 42):
        with pytest.raises(pierhead.ConfigError) as info:
            pierhead.Response(body)  # type: ignore[arg-type]
        assert info.value.field == "response.body"
    with pytest.raises(pierhead.ConfigError, match="100..=999, got -1"):
        pierhead.Response("x", status=-1)
    with pytest.raises(pierhead.ConfigError) as info:
        pierhead.Fault.drip(0, 0.1)
    assert info.value.field == "fault.drip.chunk_bytes"


def test_bind_error_is_an_oserror_naming_the_address():
    with pierhead.Server() as first:
        taken = pierhead.Server(port=first.port)
        with pytest.raises(OSError) as info:
            taken.start()
    e = info.value
    assert isinstance(e, pierhead.BindError) and isinstance(e, pierhead.PierheadError)
    assert e.errno == errno.EADDRINUSE
    assert e.address == f"127.0.0.1:{first.port}"
    assert str(first.port) in str(e)
    assert taken.state == "new"


def test_serve_forever_returns_when_stopped_from_another_thread():
    server = pierhead.Server().start()
    threading.Timer(0.2, server.stop).start()
    report = server.serve_forever()
    assert isinstance(report, pierhead.StopReport) and report.complete
    assert server.state == "stopped"


def test_echo_protocol_over_raw_sockets(pierhead_echo):
    assert pierhead_echo.url.startswith("tcp://")
    payload = bytes(range(256)) * 64
    assert raw_exchange(pierhead_echo, payload) == payload
    with pytest.raises(pierhead.ConfigError, match="protocol='http'"):
        pierhead_echo.expect_request("/")


def test_discard_protocol_reads_and_answers_nothing():
    with pierhead.Server("discard") as server:
        assert raw_exchange(server, b"x" * 10000) == b""
        wait_until(lambda: server.stats().bytes_read >= 10000, timeout=2)
        assert server.stats().bytes_read == 10000


def test_http_bad_input_gets_400_and_is_counted():
    with pierhead.Server() as server:
        reply = raw_exchange(server, b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        assert reply.startswith(b"HTTP/1.1 400")
        assert server.stats().protocol_errors == 1
        assert server.log == []  # a rejected request never reaches the log


def test_the_installed_package_is_under_test():
    import pathlib

    here = pathlib.Path(pierhead.__file__).parent
    assert "site-packages" in here.parts, here
    assert (here / "py.typed").exists() and (here / "_pierhead.pyi").exists()
    assert pierhead.__version__ == pierhead._pierhead.__version__
    assert pierhead._pierhead.__file__.endswith(".abi3.so")
