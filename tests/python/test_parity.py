"""pytest-httpserver parity on pierhead.Server: regex and pattern URIs, header
value matchers and predicates (run off the I/O threads, with fall-through),
wait() and wait_for(), blocking mode, and the unmatched status changed live."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests

import pierhead
from pierhead import ConfigError, ExpectationError, Request


@pytest.fixture
def server():
    with pierhead.Server() as s:
        yield s


class Prefix:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def match(self, uri: str) -> bool:
        return uri.startswith(self.prefix)


def test_regex_and_pattern_uris_match_the_decoded_path(server):
    server.expect_request(re.compile(r"/items/\d+$"), method="GET").respond_with_data("item")
    server.expect_request(Prefix("/café/")).respond_with_data("cafe")
    assert requests.get(server.url_for("/items/42")).text == "item"
    assert requests.get(server.url_for("/café/menu")).text == "cafe"
    assert requests.get(server.url_for("/items/x")).status_code == 500
    assert server.get_matching_requests_count(re.compile(r"/items/")) == 2
    server.assert_request_made(Prefix("/caf"), count=1)
    with pytest.raises(ConfigError) as e:
        server.expect_request(42)  # type: ignore[arg-type]
    assert e.value.field == "uri"


def test_predicates_fall_through_in_order_and_run_off_the_io_threads(server):
    threads = set()

    def is_admin(r: Request) -> bool:
        threads.add(threading.current_thread().name)
        return r.header("X-Role") == "admin"

    server.expect_request("/panel", predicate=is_admin).respond_with_data("admin")
    server.expect_request("/panel").respond_with_data("user")
    assert requests.get(server.url_for("/panel"), headers={"X-Role": "admin"}).text == "admin"
    assert requests.get(server.url_for("/panel")).text == "user"
    assert server.handlers[0].hits == 1 and server.handlers[1].hits == 1
    # Called on the Python handler threads, not the test's.
    assert threads and threading.current_thread().name not in threads
    server.check_assertions()


def test_header_value_matcher(server):
    def case_insensitive(name: str, actual: "str | None", expected: str) -> bool:
        return actual is not None and actual.lower() == expected.lower()

    server.expect_request("/h", headers={"X-Token": "abc"}, header_value_matcher=case_insensitive).respond_with_data(
        "ok"
    )
    assert requests.get(server.url_for("/h"), headers={"X-Token": "ABC"}).text == "ok"
    assert requests.get(server.url_for("/h"), headers={"X-Token": "abd"}).status_code == 500
    server.clear_assertions()


def test_a_failing_predicate_is_reported_and_does_not_match(server):
    def boom(r: Request) -> bool:
        raise ValueError("predicate broke")

    server.expect_request("/x", predicate=boom).respond_with_data("never")
    assert requests.get(server.url_for("/x")).status_code == 500
    with pytest.raises(ExpectationError, match="predicate broke"):
        server.check_assertions()


def test_slow_predicates_do_not_hold_other_requests(server):
    def slow(r: Request) -> bool:
        time.sleep(1.5)
        return True

    server.expect_request("/slow", predicate=slow).respond_with_data("slow")
    server.expect_request("/fast").respond_with_data("fast")
    t = threading.Thread(target=lambda: requests.get(server.url_for("/slow"), timeout=5))
    t.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    assert requests.get(server.url_for("/fast")).text == "fast"
    fast = time.monotonic() - t0
    t.join()
    assert fast < 1.0, f"/fast waited {fast:.2f} s behind a slow predicate"


def test_wait_for_returns_requests_made_in_the_background(server):
    server.expect_request("/hook", method="POST").respond_with_data("ok")

    def later() -> None:
        time.sleep(0.2)
        for i in range(3):
            requests.post(server.url_for("/hook"), data=str(i))

    threading.Thread(target=later).start()
    got = server.wait_for("/hook", method="POST", count=3, timeout=5)
    assert sorted(r.text for r in got) == ["0", "1", "2"]
    with pytest.raises(ExpectationError, match="waited 0.2 s for 1 request"):
        server.wait_for("/never", timeout=0.2)


def test_wait_until_oneshot_and_ordered_are_used(server):
    server.expect_oneshot_request("/a").respond_with_data("a")
    server.expect_ordered_request("/b").respond_with_data("b")
    threading.Thread(target=lambda: (requests.get(server.url_for("/a")), requests.get(server.url_for("/b")))).start()
    assert server.wait(timeout=5) is True
    server.expect_oneshot_request("/c").respond_with_data("c")
    t0 = time.monotonic()
    assert server.wait(timeout=0.2, raise_assertions=False) is False
    assert time.monotonic() - t0 >= 0.2
    # An unexpected request ends the wait at once: one that comes during it...
    threading.Thread(target=lambda: (time.sleep(0.05), requests.get(server.url_for("/unexpected")))).start()
    t0 = time.monotonic()
    with pytest.raises(ExpectationError, match="no expectation matched GET /unexpected"):
        server.wait(timeout=5)
    assert time.monotonic() - t0 < 4
    # ... and one that came before the call: no race with the code under test.
    server.clear_assertions()
    requests.get(server.url_for("/early"))
    t0 = time.monotonic()
    with pytest.raises(ExpectationError, match="no expectation matched GET /early"):
        server.wait(timeout=5)
    assert time.monotonic() - t0 < 4
    # Once cleared, the wait is for the expectations again.
    server.clear_assertions()
    assert server.wait(timeout=0.2, raise_assertions=False) is False


def test_blocking_mode_the_test_thread_answers(server):
    server.expect_request("/ask", method="POST").respond_later()
    result = {}
    t = threading.Thread(
        target=lambda: result.update(r=requests.post(server.url_for("/ask"), json={"q": 1}, timeout=5))
    )
    t.start()
    pending = server.next_request(timeout=5)
    assert pending.request.json() == {"q": 1}
    pending.respond_with_json({"a": 2}, status=201)
    t.join()
    assert result["r"].status_code == 201 and result["r"].json() == {"a": 2}
    with pytest.raises(pierhead.ServerStateError):
        pending.respond("twice")
    with pytest.raises(ExpectationError):
        server.next_request(timeout=0.1)


def test_an_unanswered_held_request_gets_504(server):
    server.expect_request("/ask").respond_later(timeout=0.2)
    r = requests.get(server.url_for("/ask"), timeout=5)
    assert r.status_code == 504
    assert server.next_request(timeout=1).request.path == "/ask"


def test_unmatched_status_changes_while_running(server):
    assert server.unmatched_status == 500
    assert requests.get(server.url_for("/nope")).status_code == 500
    server.unmatched_status = 404
    assert requests.get(server.url_for("/nope")).status_code == 404
    with pytest.raises(ConfigError):
        server.unmatched_status = 42
    server.clear_assertions()
    # It holds across a restart.
    server.stop()
    server.start()
    assert requests.get(server.url_for("/nope")).status_code == 404
    server.clear_assertions()


def test_exchanges_pair_each_request_with_its_response(server):
    server.expect_request("/fixed").respond_with_data("fixed", status=201)
    server.expect_request("/echo", method="POST").respond_with_handler(lambda r: r.text.upper())
    server.expect_request("/reset").respond_with_fault(pierhead.Fault.reset())
    with requests.Session() as s:
        s.get(server.url_for("/fixed"))
        s.post(server.url_for("/echo"), data="a")
        s.post(server.url_for("/echo"), data="b")
        s.get(server.url_for("/missing"))
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url_for("/reset"))
    got = [(r.method, r.path, resp.status if resp else None, resp.body if resp else None) for r, resp in server.exchanges()]
    assert got == [
        ("GET", "/fixed", 201, b"fixed"),
        ("POST", "/echo", 200, b"A"),
        ("POST", "/echo", 200, b"B"),
        ("GET", "/missing", 500, b"Internal Server Error\n"),
        ("GET", "/reset", None, None),
    ]
    server.clear_assertions()


def test_strict_ordering_is_pytest_httpservers():
    with pierhead.Server(strict_ordering=True) as server:
        server.expect_ordered_request("/a").respond_with_data("a")
        server.expect_ordered_request("/b").respond_with_data("b")
        server.expect_request("/other").respond_with_data("other")
        assert requests.get(server.url_for("/a")).text == "a"
        assert requests.get(server.url_for("/b")).text == "b"
        # The ordered ones are used up: everything else is served.
        assert requests.get(server.url_for("/other")).text == "other"
        server.check_assertions()

        server.clear()
        server.expect_ordered_request("/a").respond_with_data("a")
        server.expect_request("/other").respond_with_data("other")
        # /a is due: /other fails, and so does everything after it.
        assert requests.get(server.url_for("/other")).status_code == 500
        assert requests.get(server.url_for("/a")).status_code == 500
        with pytest.raises(ExpectationError, match="strict_ordering"):
            server.check_assertions()
        server.clear()
        server.expect_request("/other").respond_with_data("other")
        assert requests.get(server.url_for("/other")).text == "other"
