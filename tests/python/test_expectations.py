"""The expectations API: matching, answers, use limits, order, faults, the log and
assertions. Clients: http.client (conftest.request), urllib3 and raw sockets."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time

import pytest
import urllib3

import pierhead
from conftest import raw_exchange, request


def test_respond_with_data_json_response_and_handler(pierhead_http):
    s = pierhead_http
    s.expect_request("/data").respond_with_data("hi", status=201, headers={"X-A": "1"})
    s.expect_request("/bytes").respond_with_data(b"\x00\x01", content_type="application/x-thing")
    s.expect_request("/json").respond_with_json({"a": [1, 2]}, status=202)
    s.expect_request("/resp").respond_with_response(pierhead.Response(b"r", 418, [("X-B", "2")]))
    seen = []

    def handler(req: pierhead.Request) -> pierhead.Response:
        with open(f"/proc/self/task/{threading.get_native_id()}/comm") as f:
            thread = (f.read().strip(), threading.current_thread().name)
        seen.append((req.method, req.path, req.query_string, req.args, req.header("x-who"), req.body, thread))
        return pierhead.Response(f"hello {req.header('X-Who')}", status=200)

    s.expect_request("/h", method="POST").respond_with_handler(handler)

    status, headers, body = request(s, "GET", "/data")
    assert (status, body, headers["x-a"], headers["content-type"]) == (201, b"hi", "1", "text/plain; charset=utf-8")
    status, headers, body = request(s, "GET", "/bytes")
    assert (body, headers["content-type"]) == (b"\x00\x01", "application/x-thing")
    status, headers, body = request(s, "GET", "/json")
    assert (status, json.loads(body), headers["content-type"]) == (202, {"a": [1, 2]}, "application/json")
    status, headers, body = request(s, "GET", "/resp")
    assert (status, body, headers["x-b"]) == (418, b"r", "2")
    status, _, body = request(s, "POST", "/h?x=1&x=2&y=a%20b", body=b"payload", headers={"X-Who": "me"})
    assert (status, body) == (200, b"hello me")
    assert seen[0][:6] == ("POST", "/h", "x=1&x=2&y=a%20b", {"x": "1", "y": "a b"}, "me", b"payload")
    # A Python thread of the package's, never an I/O thread (pierhead-w<N>).
    os_name, python_name = seen[0][6]
    assert python_name == "pierhead-py-handler" and not os_name.startswith("pierhead-w")


def test_handler_may_return_str_or_bytes_and_its_errors_are_reported():
    with pierhead.Server() as s:
        s.expect_request("/str").respond_with_handler(lambda r: "text")
        s.expect_request("/bytes").respond_with_handler(lambda r: b"raw")
        s.expect_request("/bytearray").respond_with_handler(lambda r: bytearray(b"ba"))
        s.expect_request("/bad").respond_with_handler(lambda r: 42)

        def boom(r):
            assert r.path == "/nope", "the handler's own assertion"

        s.expect_request("/boom").respond_with_handler(boom)
        status, headers, body = request(s, "GET", "/str")
        assert (body, headers["content-type"]) == (b"text", "text/plain; charset=utf-8")
        status, headers, body = request(s, "GET", "/bytes")
        assert (body, headers["content-type"]) == (b"raw", "application/octet-stream")
        assert request(s, "GET", "/bytearray")[2] == b"ba"
        status, _, body = request(s, "GET", "/bad")
        assert status == 500 and b"TypeError" in body
        status, _, body = request(s, "GET", "/boom")
        assert status == 500 and b"AssertionError: the handler's own assertion" in body
        assert s.stats().handler_errors == 2
        with pytest.raises(pierhead.ExpectationError) as info:
            s.check_assertions()
        assert "TypeError" in str(info.value) and "the handler's own assertion" in str(info.value)
        assert isinstance(info.value.__cause__, TypeError)
        assert [type(e) for e in s.errors] == [TypeError, AssertionError]
        s.clear_assertions()
        s.check_assertions()


def test_matching_on_method_query_headers_data_json_and_prefix(pierhead_http):
    s = pierhead_http
    s.expect_request("/m", method="PUT").respond_with_data("put")
    s.expect_request("/q", query_string="a=1&b=2").respond_with_data("exact query")
    s.expect_request("/qd", query_string={"b": "2", "a": ["1", "3"]}).respond_with_data("dict query")
    s.expect_request("/h", headers={"X-Token": "abc"}).respond_with_data("header")
    s.expect_request("/d", method="POST", data=b"exact body").respond_with_data("data")
    s.expect_request("/j", method="POST", json={"k": [1, {"z": None}]}).respond_with_data("json")
    s.expect_request("/api/", prefix=True).respond_with_data("prefix")
    s.expect_request("/", method=None).respond_with_data("fallback")

    assert request(s, "PUT", "/m")[2] == b"put"
    assert request(s, "GET", "/q?a=1&b=2")[2] == b"exact query"
    assert request(s, "GET", "/qd?a=1&b=2&a=3")[2] == b"dict query"
    assert request(s, "GET", "/qd?a=3&a=1&b=%32")[2] == b"dict query"
    assert request(s, "GET", "/h", headers={"x-token": "abc"})[2] == b"header"
    assert request(s, "POST", "/d", body=b"exact body")[2] == b"data"
    assert request(s, "POST", "/j", body=b'{ "k" : [1, {"z": null}] }')[2] == b"json"
    assert request(s, "GET", "/api/v1/items")[2] == b"prefix"
    assert request(s, "GET", "/")[2] == b"fallback"

    misses = [
        ("GET", "/m", None, None),
        ("GET", "/q?b=2&a=1", None, None),
        ("GET", "/qd?a=1&b=2", None, None),
        ("GET", "/h", None, {"X-Token": "abd"}),
        ("POST", "/d", b"exact body!", None),
        ("POST", "/j", b'{"k": [1]}', None),
        ("POST", "/j", b"not json", None),
        ("GET", "/ap", None, None),
    ]
    for method, target, body, headers in misses:
        assert request(s, method, target, body=body, headers=headers)[0] == 500, target
    assert s.get_matching_requests_count("/j", method="POST", json={"k": [1, {"z": None}]}) == 1
    with pytest.raises(pierhead.ExpectationError, match="no expectation matched GET /m"):
        s.check_assertions()
    s.clear()  # so the fixture's own check passes


def test_expectations_are_tried_in_order_and_oneshot_falls_through(pierhead_http):
    s = pierhead_http
    s.expect_oneshot_request("/x").respond_with_data("first")
    s.expect_request("/x").respond_with_data("later")
    assert [request(s, "GET", "/x")[2] for _ in range(3)] == [b"first", b"later", b"later"]
    h = s.expect_oneshot_request("/only-once")
    h.respond_with_data("once")
    assert request(s, "GET", "/only-once")[0] == 200
    assert request(s, "GET", "/only-once")[0] == 500
    assert h.hits == 1
    s.assert_expectations_used()
    with pytest.raises(pierhead.ExpectationError, match="no expectation matched GET /only-once"):
        s.check_assertions()
    s.clear()


def test_oneshot_is_answered_exactly_once_under_concurrency():
    with pierhead.Server(workers=2) as s:
        s.expect_oneshot_request("/race").respond_with_data("won")
        statuses = []

        def hit():
            statuses.append(request(s, "GET", "/race")[0])

        threads = [threading.Thread(target=hit) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [200] + [500] * 15


def test_ordered_expectations(pierhead_http):
    s = pierhead_http
    s.expect_ordered_request("/1").respond_with_data("one")
    s.expect_ordered_request("/2", method="POST").respond_with_data("two")
    assert request(s, "GET", "/1")[2] == b"one"
    assert request(s, "POST", "/2")[2] == b"two"
    s.assert_expectations_used()


def test_ordered_request_out_of_order_fails():
    with pierhead.Server() as s:
        first = s.expect_ordered_request("/1")
        second = s.expect_ordered_request("/2")
        second.respond_with_data("two")  # answers declared out of order: order is by expect
        first.respond_with_data("one")
        status, _, body = request(s, "GET", "/2")
        assert status == 500 and b"out of order" in body
        # Once out of order, the sequence stays failed.
        assert request(s, "GET", "/1")[0] == 500
        with pytest.raises(pierhead.ExpectationError) as info:
            s.check_assertions()
        assert "#2 was requested out of order by GET /2: the next one due was #1 (* /1)" in str(info.value)
        assert "#1 was requested by GET /1 after the sequence had already failed" in str(info.value)


def test_respond_again_replaces_the_answer_in_place(pierhead_http):
    s = pierhead_http
    h = s.expect_request("/r")
    s.expect_request("/r").respond_with_data("second expectation")
    assert request(s, "GET", "/r")[2] == b"second expectation"  # the first has no answer yet
    h.respond_with_data("v1")
    assert request(s, "GET", "/r")[2] == b"v1"  # put in its declared place
    h.respond_with_data("v2")
    assert request(s, "GET", "/r")[2] == b"v2"


def test_answering_an_earlier_expectation_leaves_the_later_ones_in_place():
    """An expectation answered after later ones are in place goes in at its
    declared place in one step (the core's insert-at): requests for the later
    ones keep their answer meanwhile. (Its route used to go in by removing and
    re-adding every later route, and requests in between got the unmatched 500.)"""
    with pierhead.Server() as s:
        early = [s.expect_request(f"/early/{i}") for i in range(30)]
        for i in range(300):
            s.expect_request(f"/late/{i}").respond_with_data("late")
        statuses: "list[int]" = []
        asking = threading.Event()
        stop = threading.Event()

        def ask() -> None:
            pool = urllib3.HTTPConnectionPool(s.host, s.port, maxsize=1, retries=False)
            while not stop.is_set():
                statuses.append(pool.request("GET", "/late/299").status)
                asking.set()

        client = threading.Thread(target=ask)
        client.start()
        try:
            assert asking.wait(10)
            for h in early:
                h.respond_with_data("early")
                time.sleep(0.001)  # let the client ask between two answers
        finally:
            stop.set()
            client.join(10)
        assert len(statuses) > 1 and set(statuses) == {200}, sorted(set(statuses))
        assert request(s, "GET", "/early/29")[2] == b"early"
        # Tried in the declared order: an early one, then the late ones.
        assert s._core.route_ids() == [h._route_id for h in s.handlers]
        s.check_assertions()


def test_log_and_assert_request_made(pierhead_http):
    s = pierhead_http
    s.expect_request("/a").respond_with_data("a")
    pool = urllib3.HTTPConnectionPool(s.host, s.port, maxsize=1)
    pool.request("GET", "/a?x=1", headers={"X-K": "v"})
    pool.request("POST", "/a", body=b"b" * 100)
    log = s.log
    assert [(r.method, r.target, r.body_len) for r in log] == [("GET", "/a?x=1", 0), ("POST", "/a", 100)]
    assert log[0].header("x-k") == "v" and ("X-K", "v") in log[0].headers
    assert log[0].connection_id == log[1].connection_id  # one keep-alive connection
    assert log[0].route_id == log[1].route_id is not None
    assert log[1].body == b"b" * 100 and log[0].version == "HTTP/1.1"
    s.assert_request_made("/a", count=2)
    s.assert_request_made("/a", method="POST", data=b"b" * 100)
    s.assert_request_made("/a", query_string={"x": "1"}, headers={"X-K": "v"})
    s.assert_request_made("/b", count=0)
    with pytest.raises(pierhead.ExpectationError, match=r"expected 1 request\(s\) matching GET /b, got 0") as info:
        s.assert_request_made("/b", method="GET")
    assert "GET /a?x=1" in str(info.value)  # says what did arrive
    s.clear_log()
    assert s.log == []


def test_faults(pierhead_http):
    s = pierhead_http
    s.expect_request("/delay").respond_with_data("late", fault=pierhead.Fault.delay(0.3))
    s.expect_request("/drip").respond_with_data("abcdef", fault=pierhead.Fault.drip(2, 0.05))
    s.expect_request("/close").respond_with_data("never sent", fault=pierhead.Fault.close_after_headers())
    s.expect_request("/reset").respond_with_fault(pierhead.Fault.reset())
    s.expect_request("/silent").respond_with_fault(pierhead.Fault.no_response())
    s.expect_request("/slow-handler").respond_with_handler(lambda r: "h", fault=pierhead.Fault.delay(0.2))

    t = time.monotonic()
    assert request(s, "GET", "/delay")[2] == b"late"
    assert time.monotonic() - t >= 0.3
    t = time.monotonic()
    assert request(s, "GET", "/drip")[2] == b"abcdef"
    assert time.monotonic() - t >= 0.1
    assert request(s, "GET", "/slow-handler")[2] == b"h"

    conn = http.client.HTTPConnection(s.host, s.port, timeout=5)
    conn.request("GET", "/close")
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()

    with pytest.raises(ConnectionResetError):
        raw = socket.create_connection((s.host, s.port))
        raw.sendall(b"GET /reset HTTP/1.1\r\nHost: t\r\n\r\n")
        raw.recv(100)
        raw.recv(100)

    silent = socket.create_connection((s.host, s.port), timeout=0.3)
    silent.sendall(b"GET /silent HTTP/1.1\r\nHost: t\r\n\r\n")
    with pytest.raises(socket.timeout):
        silent.recv(100)
    silent.close()


def test_static_answers_need_no_gil_and_handlers_do(pierhead_http, tmp_path):
    """While this thread holds the GIL for a whole second, a static expectation is
    answered at once; a Python handler waits for the GIL."""
    s = pierhead_http
    s.expect_request("/static").respond_with_data("s")
    s.expect_request("/python").respond_with_handler(lambda r: "p")

    def time_while_gil_held(path: str) -> float:
        # Another process sends the request 0.3 s from now, while this thread
        # spins in pure Python (which never lets go of the GIL before the switch
        # interval), and reports how long the answer took.
        client = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import socket, sys, time\n"
                "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
                "time.sleep(0.3)\n"
                "t = time.monotonic()\n"
                "s.sendall(b'GET ' + sys.argv[2].encode() + b' HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n')\n"
                "s.recv(1000)\n"
                "print(time.monotonic() - t)\n",
                str(s.port),
                path,
            ],
            stdout=subprocess.PIPE,
        )
        old = sys.getswitchinterval()
        sys.setswitchinterval(30)
        try:
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                pass
        finally:
            sys.setswitchinterval(old)
        out, _ = client.communicate(timeout=10)
        return float(out)

    assert time_while_gil_held("/static") < 0.5
    assert time_while_gil_held("/python") > 0.5


def test_clear_removes_expectations_log_and_errors(pierhead_http):
    s = pierhead_http
    s.expect_request("/e").respond_with_handler(lambda r: 1 / 0)
    assert request(s, "GET", "/e")[0] == 500
    assert request(s, "GET", "/unexpected")[0] == 500
    with pytest.raises(pierhead.ExpectationError):
        s.check_assertions()
    s.clear()
    assert s.handlers == [] and s.log == [] and s.errors == []
    s.check_assertions()
    assert request(s, "GET", "/e")[0] == 500  # no expectation any more
    s.clear()


def test_many_connections_at_once():
    with pierhead.Server() as s:
        s.expect_request("/").respond_with_data("ok")
        socks = [socket.create_connection((s.host, s.port)) for _ in range(2000)]
        try:
            for sock in socks:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            for sock in socks:
                assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            assert s.stats().connections_active == 2000
        finally:
            for sock in socks:
                sock.close()


def test_body_limit_and_pipelining_over_raw_sockets():
    with pierhead.Server(max_body_bytes=10) as s:
        s.expect_request("/p", method="POST").respond_with_handler(lambda r: r.body.upper())
        reply = raw_exchange(
            s,
            b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
            b"POST /p HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
            b"POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n",
        )
        assert reply.count(b"HTTP/1.1 200") == 2
        assert reply.index(b"ABC") < reply.index(b"DE")
        assert b"HTTP/1.1 413" in reply


# -- defects found by real clients (issue 10) --------------------------------------


def test_absolute_form_targets_match_expectations_through_a_proxy_setting(pierhead_http):
    """A client whose proxy setting points at the server sends absolute-form targets."""
    import urllib.request

    s = pierhead_http
    s.expect_request("/health", method="GET").respond_with_data("ok")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": s.url}))
    with opener.open("http://service.invalid/health", timeout=5) as resp:
        assert resp.read() == b"ok"
    assert s.log[0].target == "http://service.invalid/health"
    assert s.log[0].path == "/health"
    s.assert_request_made("/health")


def test_escaped_and_unicode_paths_and_lowercase_methods(pierhead_http):
    import urllib.request

    s = pierhead_http
    s.expect_request("/café", method="get").respond_with_data("café")
    s.expect_request("/~user").respond_with_data("home")
    s.expect_request("/%7Eraw", raw_path=True).respond_with_data("raw")
    url = s.url_for("/café")
    assert url.endswith("/caf%C3%A9")
    assert urllib.request.urlopen(url, timeout=5).read() == "café".encode()
    assert request(s, "GET", "/caf%c3%a9")[2] == "café".encode()
    assert request(s, "GET", "/%7Euser")[2] == b"home"
    assert request(s, "GET", "/%7Eraw")[2] == b"raw"
    assert request(s, "GET", "/~raw")[0] == 500  # raw: compared as sent
    s.clear_assertions()
    s.assert_request_made("/café", method="get", count=2)
    assert s.url_for("/a%20b?x=1") == s.url + "/a%20b?x=1"


def test_an_unexpected_request_fails_check_however_many_follow():
    with pierhead.Server(request_log=5) as s:
        s.expect_request("/ok").respond_with_data("ok")
        assert request(s, "GET", "/surprise")[0] == 500
        for _ in range(20):
            assert request(s, "GET", "/ok")[0] == 200
        assert all(r.path == "/ok" for r in s.log)  # the surprise was evicted
        with pytest.raises(pierhead.ExpectationError, match="no expectation matched GET /surprise"):
            s.check_assertions()
        s.clear_assertions()
        s.check_assertions()


def test_assertions_on_bodies_the_log_cut():
    body = b"x" * 200_000
    with pierhead.Server(request_log_body_bytes=1000) as s:
        s.expect_request("/up", method="POST", data=body).respond_with_data("matched")
        s.expect_request("/json", method="POST").respond_with_data("j")
        assert request(s, "POST", "/up", body=body)[2] == b"matched"
        assert s.log[0].body_len == 200_000 and len(s.log[0].body) == 1000
        s.assert_request_made("/up", data=body)
        assert s.get_matching_requests_count("/up", data=body) == 1
        assert s.get_matching_requests_count("/up", data=body[:-1] + b"y") == 0
        assert s.get_matching_requests_count("/up", data=body[:1000]) == 0
        big_json = json.dumps({"k": "v" * 5000}).encode()
        assert request(s, "POST", "/json", body=big_json)[2] == b"j"
        with pytest.raises(pierhead.ExpectationError, match="request_log_body_bytes"):
            s.assert_request_made("/json", json={"k": "v" * 5000})
        # A request that fails another condition is simply not a match.
        assert s.get_matching_requests_count("/other", json={"k": 1}) == 0
