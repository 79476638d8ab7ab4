"""The hard parts of living inside a Python process: callbacks that stop the
server, stop while a handler needs the GIL, Ctrl-C, interpreter exit without stop,
and thousands of start/stop cycles without leaks."""

from __future__ import annotations

import gc
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import pierhead
from conftest import fds_and_threads_back_to, open_fds, os_threads, request


def run_python(code: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout
    )


def test_stop_while_a_python_handler_runs_does_not_deadlock():
    """stop() releases the GIL, so the handler it waits for can finish."""
    with pierhead.Server() as s:
        entered = threading.Event()

        def slow(req):
            entered.set()
            time.sleep(0.3)
            return "finished"

        s.expect_request("/slow").respond_with_handler(slow)
        result = {}
        t = threading.Thread(target=lambda: result.update(r=request(s, "GET", "/slow")))
        t.start()
        assert entered.wait(5)
        report = s.stop(timeout=5)
        t.join(5)
    assert report.complete and report.drained == 1 and report.handlers_abandoned == 0
    status, headers, body = result["r"]
    assert (status, body, headers["connection"]) == (200, b"finished", "close")


def test_stop_from_inside_a_handler():
    with pierhead.Server() as s:
        reports = []

        def stopper(req):
            reports.append(s.stop())
            return "stopping"

        s.expect_request("/stop").respond_with_handler(stopper)
        status, headers, body = request(s, "GET", "/stop")
        assert (status, body, headers["connection"]) == (200, b"stopping", "close")
        assert not reports[0].complete  # a thread cannot wait for itself
        final = s.stop()
        assert final.complete and s.state == "stopped"


def test_stop_from_inside_the_stats_callback():
    calls = []
    done = threading.Event()

    def on_stats(stats):
        calls.append(stats)
        calls.append(server.stop())
        done.set()

    server = pierhead.Server(on_stats=on_stats, stats_interval=0.05)
    server.start()
    assert done.wait(5)
    report = server.stop()
    assert report.complete and server.state == "stopped"
    assert isinstance(calls[0], pierhead.Stats) and calls[0].state == "running"
    assert calls[1].complete is False


def test_stats_callback_exceptions_are_reported_not_swallowed():
    reported = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda u: reported.append(u.exc_value)
    try:
        with pierhead.Server(on_stats=lambda st: 1 / 0, stats_interval=0.02) as s:
            deadline = time.monotonic() + 5
            while not reported and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        sys.unraisablehook = old_hook
    assert reported and isinstance(reported[0], ZeroDivisionError)
    assert any(isinstance(e, ZeroDivisionError) for e in s.errors)
    with pytest.raises(pierhead.ExpectationError, match="ZeroDivisionError"):
        s.check_assertions()
    with pytest.raises(pierhead.ConfigError, match="on_stats"):
        pierhead.Server(on_stats="not callable")


def test_ctrl_c_during_serve_forever():
    """SIGINT while serve_forever waits: KeyboardInterrupt, server stopped. The
    child reports when serve_forever returned on the system-wide monotonic clock."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import time, pierhead
                s = pierhead.Server().start()
                print(s.port, flush=True)
                try:
                    s.serve_forever()
                except KeyboardInterrupt:
                    print(time.monotonic(), s.state, flush=True)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(child.stdout.readline())
        socket.create_connection(("127.0.0.1", port)).close()  # it serves
        time.sleep(0.2)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        returned, state = child.stdout.readline().split()
        assert child.wait(10) == 0
    finally:
        child.kill()
    latency = float(returned) - sent
    assert state == "stopped"
    # Polled every 50 ms; the 200 ms target is measured in BENCHMARKS.md. This bound
    # only catches a hang on this shared machine.
    assert latency < 1.0, latency


def test_interpreter_exit_without_stop():
    """A running server with open connections, a stats callback and a handler in
    progress: the interpreter exits promptly and quietly."""
    t = time.monotonic()
    done = run_python(
        """
        import socket, threading, time, pierhead
        s = pierhead.Server(on_stats=lambda st: None, stats_interval=0.01)
        s.start()
        s.expect_request("/slow").respond_with_handler(lambda r: time.sleep(0.3) or "x")
        s.expect_request("/").respond_with_data("ok")
        idle = socket.create_connection((s.host, s.port))
        idle.sendall(b"GET / HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n")
        idle.recv(1000)
        busy = socket.create_connection((s.host, s.port))
        busy.sendall(b"GET /slow HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n")
        time.sleep(0.1)
        print("exiting", flush=True)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "exiting\n" and done.stderr == ""
    assert time.monotonic() - t < 10


@pytest.mark.parametrize("run", range(3))
def test_abandoned_handler_returning_at_exit_does_not_abort(run):
    """A handler that stop() abandoned returns while the interpreter exits: the
    process must end normally (it aborted with SIGABRT, "FATAL: exception not
    rethrown", when handlers ran on a Rust thread)."""
    done = run_python(
        """
        import socket, threading, time, pierhead
        ev = threading.Event()
        s = pierhead.Server()
        s.start()
        entered = threading.Event()
        def wait(req):
            entered.set()
            ev.wait()
            return "late"
        s.expect_request("/wait").respond_with_handler(wait)
        c = socket.create_connection((s.host, s.port))
        c.sendall(b"GET /wait HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
        assert entered.wait(5)
        report = s.stop(timeout=0.1)
        print(report.handlers_abandoned, flush=True)
        ev.set()
        """
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "1\n", "")


def test_garbage_collected_server_stops():
    gc.collect()
    fds = open_fds()
    s = pierhead.Server()
    s.start()
    port = s.port
    del s
    gc.collect()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert open_fds() == fds


def test_ten_thousand_start_stop_cycles_leak_no_fds_or_threads():
    def cycle():
        s = pierhead.Server()
        s.start()
        s.stop()

    # Warm up lazily created state: the Python handler threads (kept for the
    # process, one idle at least), imports, the error classes.
    with pierhead.Server() as s:
        s.expect_request("/").respond_with_handler(lambda r: "h")
        assert request(s, "GET", "/")[2] == b"h"
    del s
    for _ in range(20):
        cycle()
    gc.collect()
    fds, threads = open_fds(), os_threads()
    for _ in range(10_000):
        cycle()
    assert fds_and_threads_back_to((fds, threads)) == (fds, threads)
    # The same with a Python handler called in each cycle.
    for _ in range(200):
        with pierhead.Server() as s:
            s.expect_request("/").respond_with_handler(lambda r: "h")
            assert request(s, "GET", "/")[2] == b"h"
    del s
    assert fds_and_threads_back_to((fds, threads)) == (fds, threads)
