"""Streamed answers, server-sent events, connect-phase faults, chaos and the
connection log, seen by real clients: httpx streaming, requests with stream=True,
httpx-sse, curl -N, and raw sockets."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import httpx
import pytest
import requests
from httpx_sse import connect_sse

import pierhead
from pierhead import Chaos, ConfigError, Fault, Response, SseEvent, Step

from conftest import assert_on_timeline, wait_until


@pytest.fixture
def server():
    with pierhead.Server() as s:
        yield s


def tokens_route(server: pierhead.Server) -> None:
    server.expect_request("/v1/chat").respond_with_response(
        Response.stream(
            ['{"t":"Hel"}\n', Step.pause(0.15), '{"t":"lo"}\n', Step.pause(0.15), '{"t":"!"}\n'],
            content_type="application/x-ndjson",
        )
    )


def test_httpx_streaming_gets_each_chunk_on_its_timeline(server):
    tokens_route(server)
    t0 = time.monotonic()
    arrivals = []
    with httpx.stream("GET", server.url_for("/v1/chat")) as r:
        assert r.headers["transfer-encoding"] == "chunked"
        assert r.headers["content-type"] == "application/x-ndjson"
        for line in r.iter_lines():
            arrivals.append((line, time.monotonic() - t0))
    assert [a[0] for a in arrivals] == ['{"t":"Hel"}', '{"t":"lo"}', '{"t":"!"}']
    assert_on_timeline([a[1] for a in arrivals], [0, 0.15, 0.3])
    server.check_assertions()


def test_requests_stream_true_reads_chunks_as_they_come(server):
    tokens_route(server)
    t0 = time.monotonic()
    with requests.get(server.url_for("/v1/chat"), stream=True, timeout=5) as r:
        times = [time.monotonic() - t0 for _ in r.iter_content(chunk_size=None)]
    assert len(times) == 3
    assert_on_timeline(times, [0, 0.15, 0.3])


def test_sse_client_library_sees_events_ids_retry_and_delays(server):
    server.expect_request("/events").respond_with_response(
        Response.sse(
            [
                SseEvent("hello", id="1"),
                SseEvent.comment("keep-alive"),
                SseEvent('{"n": 2}', id="2", event="update", delay=0.2),
                SseEvent("line one\nline two", id="3", delay=0.1),
            ],
            retry=1.5,
        )
    )
    t0 = time.monotonic()
    got = []
    with httpx.Client() as client, connect_sse(client, "GET", server.url_for("/events")) as source:
        assert source.response.headers["content-type"] == "text/event-stream"
        for sse in source.iter_sse():
            if not sse.data:
                continue
            got.append((sse.event, sse.data, sse.id, sse.retry, time.monotonic() - t0))
    assert [(e, d, i) for e, d, i, _, _ in got] == [
        ("message", "hello", "1"),
        ("update", '{"n": 2}', "2"),
        ("message", "line one\nline two", "3"),
    ]
    assert_on_timeline([g[4] for g in got], [0, 0.2, 0.3])


def sse_events(server: pierhead.Server, path: str) -> tuple[httpx.Headers, list[tuple[str, str, str]]]:
    """The response headers and every (event, data, id) httpx-sse gets from `path`."""
    with httpx.Client() as client, connect_sse(client, "GET", server.url_for(path)) as source:
        return source.response.headers, [(e.event, e.data, e.id) for e in source.iter_sse()]


# CR, LF and CRLF each end a line in text/event-stream: data holding any of them
# must come out whole, as the client joins the data lines (with "\n").
LINE_BREAK_DATA = [
    ("a\rb", "a\nb"),
    ("a\nb", "a\nb"),
    ("a\r\nb", "a\nb"),
    ("a\r\rb", "a\n\nb"),
    ("a\r", "a\n"),
    ("a\n\r", "a\n\n"),
    ("\r\n", "\n"),
    ("a\rb\r\nc\nd", "a\nb\nc\nd"),
]


def test_sse_data_with_cr_lf_and_crlf_reaches_the_client_whole(server):
    server.expect_request("/lines").respond_with_response(
        Response.sse([SseEvent(sent, id=str(i)) for i, (sent, _) in enumerate(LINE_BREAK_DATA)])
    )
    _, got = sse_events(server, "/lines")
    assert got == [("message", seen, str(i)) for i, (_, seen) in enumerate(LINE_BREAK_DATA)]


def test_sse_comments_cannot_inject_lines_and_ids_or_names_with_breaks_are_refused(server):
    server.expect_request("/comment").respond_with_response(
        Response.sse([SseEvent.comment("keep\rdata: injected\r\nid: 9\nalive"), SseEvent("real", id="1")])
    )
    _, got = sse_events(server, "/comment")
    assert got == [("message", "real", "1")]
    for bad in ["1\n2", "1\r2", "1\r\n2", "1\r"]:
        with pytest.raises(ConfigError) as e:
            SseEvent("x", id=bad)
        assert e.value.field == "sse.id"
        with pytest.raises(ConfigError) as e:
            SseEvent("x", event=bad)
        assert e.value.field == "sse.event"


def test_sse_headers_given_replace_the_defaults(server):
    server.expect_request("/typed").respond_with_response(
        Response.sse([SseEvent("x")], headers={"Content-Type": "text/event-stream; charset=utf-8", "X-Trace": "7"})
    )
    headers, got = sse_events(server, "/typed")
    assert headers.get_list("content-type") == ["text/event-stream; charset=utf-8"]
    assert headers.get_list("cache-control") == ["no-cache"]
    assert headers["x-trace"] == "7"
    assert got == [("message", "x", "")]


def test_curl_no_buffer_prints_events_as_they_arrive(server):
    curl = shutil.which("curl")
    assert curl is not None, "curl is needed (scripts/test.sh installs it: apt-get install curl)"
    server.expect_request("/tick").respond_with_response(
        Response.sse([SseEvent(str(i), delay=0.1 if i else None) for i in range(4)])
    )
    t0 = time.monotonic()
    p = subprocess.Popen([curl, "-sN", server.url_for("/tick")], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    lines = []
    for line in p.stdout:
        if line.startswith("data: "):
            lines.append((line.strip(), time.monotonic() - t0))
    assert p.wait(5) == 0
    assert [l for l, _ in lines] == ["data: 0", "data: 1", "data: 2", "data: 3"]
    assert_on_timeline([t for _, t in lines], [0, 0.1, 0.2, 0.3])


def test_faults_inside_the_stream_are_seen_by_clients(server):
    server.expect_request("/cut").respond_with_response(Response.stream(["first\n", Step.pause(0.05), Step.cut()]))
    server.expect_request("/reset").respond_with_response(Response.stream(["first\n", Step.reset()]))
    server.expect_request("/stall").respond_with_response(Response.stream(["a", Step.pause(1.0), "b"]))
    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("GET", server.url_for("/cut")) as r:
            lines = r.iter_lines()
            assert next(lines) == "first"
            list(lines)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        with httpx.stream("GET", server.url_for("/reset")) as r:
            list(r.iter_bytes())
    # A stall longer than the client's read timeout.
    with pytest.raises(httpx.ReadTimeout):
        with httpx.stream("GET", server.url_for("/stall"), timeout=httpx.Timeout(5, read=0.3)) as r:
            list(r.iter_bytes())


def test_stream_steps_are_checked():
    with pytest.raises(ConfigError) as e:
        Response.stream(["ok", 3])  # type: ignore[list-item]
    assert e.value.field == "response.stream"
    with pytest.raises(ConfigError):
        Step.pause(-1)
    with pytest.raises(ConfigError) as e:
        Response.sse([Step.send("x")])
    assert e.value.field == "response.sse"


def test_connect_faults_seen_by_real_clients(server):
    server.expect_request("/").respond_with_data("ok")
    with server.connect_fault_while("refuse"):
        assert server.connect_fault == "refuse"
        with pytest.raises(requests.ConnectionError) as e:
            requests.get(server.url, timeout=2)
        assert "refused" in str(e.value).lower()
    assert requests.get(server.url, timeout=2).text == "ok"

    with server.connect_fault_while("hold"):
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(server.url, timeout=httpx.Timeout(2, read=0.3))
    with server.connect_fault_while("close"):
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            httpx.get(server.url, timeout=2)
    with server.connect_fault_while("delay", seconds=0.6):
        assert server.connect_fault == ("delay", 0.6)
        t0 = time.monotonic()
        assert httpx.get(server.url, timeout=2).text == "ok"
        assert time.monotonic() - t0 >= 0.6
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(server.url, timeout=httpx.Timeout(2, read=0.1))
    assert server.connect_fault is None
    t0 = time.monotonic()
    assert httpx.get(server.url, timeout=2).text == "ok"
    assert time.monotonic() - t0 < 0.6  # not the 0.6 s delay any more


def test_connect_fault_errors(server):
    with pytest.raises(ConfigError) as e:
        server.set_connect_fault("sometimes")
    assert e.value.field == "connect_fault"
    with pytest.raises(ConfigError):
        server.set_connect_fault("delay")
    server.set_connect_fault("refuse")
    thief = socket.socket()
    thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    thief.bind((server.host, server.port))
    thief.listen()
    try:
        with pytest.raises(pierhead.BindError):
            server.set_connect_fault(None)
        assert server.connect_fault == "refuse"
    finally:
        thief.close()
    server.set_connect_fault(None)
    server.stop()
    with pytest.raises(pierhead.ServerStateError):
        server.set_connect_fault("hold")


def test_chaos_is_logged_and_replays_from_its_seed():
    chaos = Chaos(99, [(0.3, Fault.reset()), (0.1, Fault.delay(0.01))])
    runs = []
    for _ in range(2):
        with pierhead.Server() as server:
            server.expect_request("/flaky").respond_with_data("ok", fault=chaos)
            seen = []
            for _ in range(60):
                try:
                    seen.append(requests.get(server.url_for("/flaky"), timeout=2).status_code)
                except requests.ConnectionError:
                    seen.append("reset")
            log = server.log
            assert [r.chaos for r in log] == [(99, n) for n in range(1, 61)]
            assert [r.fault for r in log] == [chaos.decide(n) for n in range(1, 61)]
            assert [s == "reset" for s in seen] == [r.fault == Fault.reset() for r in log]
            runs.append(seen)
    assert runs[0] == runs[1]
    assert 5 < runs[0].count("reset") < 35
    with pytest.raises(ConfigError) as e:
        Chaos(1, [(0.8, Fault.reset()), (0.5, Fault.no_response())])
    assert e.value.field == "route.chaos"


def test_assert_connection_reused(server):
    server.expect_request("/a").respond_with_data("a")
    with requests.Session() as s:
        for _ in range(5):
            s.get(server.url_for("/a"), timeout=2)
    server.assert_connection_reused()
    server.assert_connections(1)
    # The session's close reaches the connection log when the server reads it.
    wait_until(lambda: len(server.connections()) >= 1)
    assert [by for _, by in server.connections()] == ["client"]
    server.clear_log()
    for _ in range(3):
        requests.get(server.url_for("/a"), headers={"Connection": "close"}, timeout=2)
    with pytest.raises(pierhead.ExpectationError, match="no connection carried 2 requests"):
        server.assert_connection_reused()
    server.assert_connections(3)
    wait_until(lambda: len(server.connections()) >= 3)
    assert [by for _, by in server.connections()] == ["server"] * 3
