"""The pytest plugin: fixtures, the marker, the listen address from the
environment, and xdist."""

from __future__ import annotations

import socket

import pytest

import pierhead
from conftest import request, wait_until


def test_pierhead_server_fixture_is_started_and_fresh(pierhead_server):
    assert pierhead_server.is_running and pierhead_server.protocol == "http"
    assert pierhead_server.handlers == [] and pierhead_server.log == []
    pierhead_server.expect_request("/").respond_with_data("fixture")
    assert request(pierhead_server, "GET", "/")[2] == b"fixture"


@pytest.mark.pierhead(workers=2, max_body_bytes=4, unmatched_status=404)
def test_marker_passes_server_options(pierhead_http):
    assert request(pierhead_http, "POST", "/", body=b"12345")[0] == 413
    assert request(pierhead_http, "GET", "/")[0] == 404
    pierhead_http.clear()


def test_pierhead_echo_fixture(pierhead_echo):
    with socket.create_connection((pierhead_echo.host, pierhead_echo.port)) as s:
        s.sendall(b"ping")
        assert s.recv(4) == b"ping"


@pytest.mark.pierhead(max_message_bytes=1000)
def test_pierhead_ws_fixture(pierhead_ws):
    from websockets.exceptions import ConnectionClosedError
    from websockets.sync.client import connect

    assert pierhead_ws.protocol == "ws" and pierhead_ws.url.startswith("ws://")
    with connect(pierhead_ws.url + "/") as ws:
        ws.send("echo me")
        assert ws.recv(timeout=5) == "echo me"
    with connect(pierhead_ws.url + "/news") as member:
        assert wait_until(lambda: pierhead_ws.rooms() == {"news": 1})
        assert pierhead_ws.publish("news", b"extra").delivered == 1
        assert member.recv(timeout=5) == b"extra"
    # The marker's option holds: a message over 1000 bytes is closed with 1009.
    with connect(pierhead_ws.url + "/") as ws:
        ws.send(b"x" * 1001)
        with pytest.raises(ConnectionClosedError) as e:
            ws.recv(timeout=5)
        assert e.value.rcvd is not None and e.value.rcvd.code == 1009


def test_the_plugin_in_a_real_pytest_run(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import http.client

        def get(server, path):
            c = http.client.HTTPConnection(server.host, server.port)
            c.request("GET", path)
            return c.getresponse().status

        def test_ok(pierhead_http):
            pierhead_http.expect_request("/a").respond_with_data("a")
            assert get(pierhead_http, "/a") == 200

        def test_unexpected_request_fails_at_teardown(pierhead_http):
            assert get(pierhead_http, "/surprise") == 500

        def test_handler_error_fails_at_teardown(pierhead_http):
            pierhead_http.expect_request("/e").respond_with_handler(lambda r: 1 / 0)
            assert get(pierhead_http, "/e") == 500

        import pytest
        @pytest.mark.pierhead(check=False)
        def test_check_can_be_turned_off(pierhead_http):
            assert get(pierhead_http, "/surprise") == 500

        def test_plain_server_is_not_checked(pierhead_server):
            assert get(pierhead_server, "/surprise") == 500
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5, errors=2)
    result.stdout.fnmatch_lines(["*no expectation matched GET /surprise*", "*ZeroDivisionError*"])


def two_free_ports() -> int:
    """A port P such that P and P + 1 can both be listened on now."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        try:
            for port in (base, base + 1):
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("127.0.0.1", port))
                    s.listen()
            return base
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


def test_listen_address_from_environment_and_xdist_offsets(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    base = two_free_ports()
    pytester.makepyfile(
        **{
            f"test_port_{i}": f"""
            def test_port(pierhead_server, worker_id):
                offset = 0 if worker_id == "master" else int(worker_id[2:])
                assert pierhead_server.port == {base} + offset
            """
            for i in range(4)
        }
    )
    monkeypatch.setenv("PIERHEAD_TEST_PORT", str(base))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=4)
    monkeypatch.setenv("PIERHEAD_TEST_PORT", "not-a-port")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "0")
    result.stdout.fnmatch_lines(["*PIERHEAD_TEST_PORT*not a port number*"])
