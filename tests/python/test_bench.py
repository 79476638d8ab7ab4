"""``pierhead.bench``: the load generator from Python, against real servers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

import pierhead
from conftest import BlackHole


@pytest.fixture
def hello() -> "pierhead.Server":
    with pierhead.Server(fixed_response=True) as s:  # every request: 200 hello
        yield s


def test_bench_counts_checks_and_reports(hello: pierhead.Server) -> None:
    r = pierhead.bench(hello.url + "/", connections=4, requests=500)
    assert (r.requests, r.sent, r.errors_total) == (500, 500, 0)
    assert r.errors == {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0, "framing": 0}
    assert hello.stats().requests == 500
    lat = r.latency
    assert lat.count == 500 and 0 < lat.p50 <= lat.p99 <= lat.max < 2.0
    assert r.quantile(0.5) == pytest.approx(lat.p50)
    assert sum(n for _, n in r.buckets()) == 500
    assert r.protocol == "http" and r.rate is None and r.uncorrected_latency is None
    d = r.to_dict()
    assert d["schema"] == "pierhead-bench/1" and d["requests"] == 500
    back = pierhead.BenchResult.from_json(r.to_json())
    assert back.to_json() == r.to_json()
    both = r.merge(back)
    assert (both.requests, both.runs) == (1000, 2)
    assert both.latency.count == 1000
    page = r.html_report()
    assert "<svg" in page and "pierhead-bench-result" in page
    assert "500 requests" in r.summary()


def test_open_loop_holds_the_rate(hello: pierhead.Server) -> None:
    r = pierhead.bench(hello.url + "/", connections=8, rate=1000, duration=1.0)
    assert r.rate == 1000
    assert abs(r.requests_per_sec - 1000) < 15, r.summary()
    assert r.uncorrected_latency is not None and r.send_lag is not None
    assert len(r.timeline) == 1 and r.timeline[0][0] == r.requests


def test_the_gil_is_released_while_it_runs() -> None:
    # Every answer comes from a Python handler, which needs the GIL: a bench that
    # held it would time out every request.
    with pierhead.Server() as s:
        s.expect_request("/py").respond_with_handler(lambda req: pierhead.Response("from python"))
        r = pierhead.bench(s.url_for("/py"), connections=4, requests=200, timeout=5.0)
        assert (r.requests, r.errors_total) == (200, 0), r.summary()


def test_echo_and_frame_protocols() -> None:
    with pierhead.Server("echo") as s:
        r = pierhead.bench(f"{s.host}:{s.port}", protocol="echo", connections=2, requests=300, body_size=100)
        assert (r.requests, r.errors_total, r.bytes_received) == (300, 0, 30_000)
    with pierhead.Server("frame", workers=2) as s:
        r = pierhead.bench(f"{s.host}:{s.port}", protocol="frame", connections=5, publishers=1, requests=100)
        assert (r.sent, r.requests, r.errors_total) == (100, 400, 0), r.summary()
        assert r.fanout_latency is not None and r.fanout_latency.count == 100


def test_ws_echo_and_rooms() -> None:
    with pierhead.Server(protocol="ws", workers=2) as s:
        r = pierhead.bench(f"ws://{s.host}:{s.port}/", connections=2, requests=300, body_size=100)
        assert (r.protocol, r.requests, r.errors_total) == ("ws", 300, 0), r.summary()
        assert r.fanout_latency is None
        r = pierhead.bench(f"ws://{s.host}:{s.port}/", connections=2, requests=100, ws_text=True, rate=500.0)
        assert (r.requests, r.errors_total) == (100, 0), r.summary()
        r = pierhead.bench(f"ws://{s.host}:{s.port}/lobby", connections=5, publishers=1, requests=100)
        assert (r.sent, r.requests, r.errors_total) == (100, 400, 0), r.summary()
        assert r.fanout_latency is not None and r.fanout_latency.count == 100
    with pytest.raises(pierhead.ConfigError) as e:
        pierhead.bench("wss://127.0.0.1:1/")
    assert e.value.field == "target" and "wss" in str(e.value)


def test_wrong_answers_are_errors(hello: pierhead.Server) -> None:
    with pierhead.Server() as s:  # no expectation: every request gets 500
        with pytest.raises(pierhead.NothingMeasuredError) as e:
            pierhead.bench(s.url + "/", connections=2, requests=50)
    assert e.value.reason == "all_wrong"
    r = e.value.result
    assert (r.requests, r.errors["status"]) == (0, 50)
    assert "measured nothing: every answer was wrong" in str(e.value)


def test_python_http_server_is_measured(python_http_server: str) -> None:
    # Issue 22: Python's http.server (HTTP/1.0: it closes after every answer,
    # the body's end told by a Content-Length or by the close) in a thread of
    # this process: right answers, no error (it reported 0 and 0: an answer
    # whose bytes and close came in one event waited for a read that never came).
    r = pierhead.bench(python_http_server, connections=4, duration=1.0, timeout=5.0)
    assert r.errors_total == 0, r.summary()
    assert r.requests > 0 and r.sent - r.requests <= 4, r.summary()


@pytest.mark.parametrize(
    "protocol, reason, says",
    [
        ("http", "no_answer", "not one answer"),
        ("echo", "no_answer", "not one answer"),
        ("frame", "never_joined", "no member ever got JOINED in room `bench`"),
    ],
)
def test_a_black_hole_measured_nothing(black_hole: BlackHole, protocol: str, reason: str, says: str) -> None:
    # Issue 22: a server that never answers: an error saying why, in pierhead's
    # hierarchy, with what the run counted (its timeouts).
    target = black_hole.url if protocol == "http" else black_hole.addr
    with pytest.raises(pierhead.NothingMeasuredError) as e:
        pierhead.bench(target, protocol=protocol, connections=2, duration=1.0, timeout=0.2)
    assert isinstance(e.value, pierhead.PierheadError)
    assert e.value.reason == reason
    assert str(e.value).startswith(f"measured nothing: {says}"), str(e.value)
    r = e.value.result
    assert r.requests == 0 and r.errors["timeout"] >= 2 and r.errors_total == r.errors["timeout"], r.summary()


def test_merge_refuses_runs_that_measured_different_things(hello: pierhead.Server) -> None:
    # Issue 22: merged, a closed-loop and an open-loop run were labelled "open loop".
    closed = pierhead.bench(hello.url + "/", connections=2, requests=100)
    closed2 = pierhead.bench(hello.url + "/", connections=2, requests=150)
    opened = pierhead.bench(hello.url + "/", connections=2, rate=1000, duration=0.3)
    deep = pierhead.bench(hello.url + "/", connections=2, requests=100, pipeline=8)
    with pierhead.Server("echo") as echo:
        echoed = pierhead.bench(f"{echo.host}:{echo.port}", protocol="echo", connections=2, requests=100)
    for a, b, field, ours, theirs in [
        (closed, opened, "loop", "closed loop", "open loop at 1000/s"),
        (opened, closed, "loop", "open loop at 1000/s", "closed loop"),
        (closed, echoed, "protocol", "an http run", "an echo run"),
        (closed, deep, "pipeline", "pipeline 1", "pipeline 8"),
    ]:
        with pytest.raises(pierhead.MergeError) as e:
            a.merge(b)
        assert (e.value.field, e.value.ours, e.value.theirs) == (field, ours, theirs)
        assert str(e.value) == f"cannot merge: one run is {ours}, the other is {theirs}"
        assert isinstance(e.value, pierhead.ConfigError) and isinstance(e.value, ValueError)
    both = closed.merge(closed2)
    assert (both.requests, both.runs, both.rate) == (250, 2, None)
    assert "closed loop (2 runs merged)" in both.summary()


def test_bad_options_raise_config_error_naming_them(hello: pierhead.Server) -> None:
    with pytest.raises(pierhead.ConfigError) as e:
        pierhead.bench(hello.url + "/", connections=0)
    assert e.value.field == "connections"
    with pytest.raises(pierhead.ConfigError) as e:
        pierhead.bench("localhost:1")
    assert e.value.field == "target"
    with pytest.raises(pierhead.ConfigError) as e:
        pierhead.bench(hello.url + "/", protocol="gopher")
    assert e.value.field == "protocol"
    with pytest.raises(pierhead.ConfigError):
        pierhead.bench(hello.url + "/", body=b"x", body_size=3)


def test_ctrl_c_stops_a_run() -> None:
    code = (
        "import pierhead\n"
        "with pierhead.Server(fixed_response=True) as s:\n"
        "    print('running', flush=True)\n"
        "    pierhead.bench(s.url + '/', connections=2, duration=60)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    assert p.stdout.readline().strip() == "running"
    time.sleep(0.5)
    t = time.monotonic()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=10)
    assert time.monotonic() - t < 5
    assert "KeyboardInterrupt" in err, err


def test_python_m_pierhead_bench_measuring_nothing_exits_1(black_hole: BlackHole, tmp_path) -> None:
    out = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "pierhead", "bench", black_hole.url, "-c", "2", "-d", "1s", "--timeout", "200ms"]
        + ["--json", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    # The binary's words (python -m pierhead bench is the binary's code).
    assert "pierhead: measured nothing: not one answer" in done.stderr
    assert "0 requests" in done.stdout
    assert json.loads(out.read_text())["errors"]["timeout"] >= 2


def test_python_m_pierhead_bench(hello: pierhead.Server, tmp_path) -> None:
    out = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "pierhead", "bench", hello.url + "/", "-c", "2", "-n", "100", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "100 requests" in done.stdout
    assert json.loads(out.read_text())["requests"] == 100
