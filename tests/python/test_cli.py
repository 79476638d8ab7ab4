"""python -m pierhead serve: the command line from Python."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from conftest import request


class Address:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port


def test_serve_routes_then_stops_on_sigint(tmp_path):
    page = tmp_path / "page.html"
    page.write_bytes(b"<h1>file</h1>")
    child = subprocess.Popen(
        [
            sys.executable, "-m", "pierhead", "serve", "--bind", "127.0.0.1:0",
            "--stats-interval", "off",
            "--route", "GET /hi 200 hello there",
            "--route", f"GET /page 200 @{page}",
            "--route", "* /api/* 204",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = child.stdout.readline()
        assert first.startswith("pierhead listening on 127.0.0.1:") and "(protocol http," in first
        port = int(first.split()[3].rsplit(":", 1)[1])
        where = Address("127.0.0.1", port)
        # As the binary answers (a newline added): the same code runs.
        assert request(where, "GET", "/hi")[:3:2] == (200, b"hello there\n")
        assert request(where, "GET", "/page")[2] == b"<h1>file</h1>"
        assert request(where, "DELETE", "/api/x")[0] == 204
        assert request(where, "GET", "/other")[0] == 404
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert "SIGINT: stopping" in out
    assert "stopped in" in out and "4 requests" in out


def test_without_routes_it_answers_hello():
    child = subprocess.Popen(
        [sys.executable, "-m", "pierhead", "serve", "--bind", "127.0.0.1:0", "--stats-interval", "off"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(child.stdout.readline().split()[3].rsplit(":", 1)[1])
        assert request(Address("127.0.0.1", port), "GET", "/")[2] == b"hello\n"
        child.terminate()
        out, _ = child.communicate(timeout=10)
    finally:
        child.kill()
    assert "SIGTERM: stopping" in out and child.returncode == 0


def test_limit_flags_reach_the_server():
    """A POST over the default 1 MiB needs --max-body-bytes; sizes take units."""
    child = subprocess.Popen(
        [sys.executable, "-m", "pierhead", "serve", "--bind", "127.0.0.1:0", "--stats-interval", "off",
         "--route", "POST /up 201 ok", "--max-body-bytes", "4m", "--max-headers", "4"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(child.stdout.readline().split()[3].rsplit(":", 1)[1])
        where = Address("127.0.0.1", port)
        assert request(where, "POST", "/up", body=b"x" * (3 << 20))[0] == 201
        assert request(where, "POST", "/up", body=b"x" * (5 << 20))[0] == 413
        assert request(where, "POST", "/up", headers={f"X-{i}": "v" for i in range(4)})[0] == 431
        child.terminate()
        child.communicate(timeout=10)
    finally:
        child.kill()
    assert child.returncode == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--workers", "0"], "workers"),
        (["--protocol", "smtp"], "protocol"),
        (["--bind", "nowhere"], "bind"),
        (["--route", "GET"], "route"),
        (["--max-body-bytes", "lots"], "--max-body-bytes"),
        (["--max-headers", "0"], "max_headers"),
        (["--max-output-bytes", "1"], "max_output_bytes"),
        (["--protocol", "frame", "--slow-consumer", "sometimes"], "slow_consumer"),
        (["--protocol", "frame", "--max-frame-bytes", "0"], "max_frame_bytes"),
    ],
)
def test_bad_arguments_are_rejected_naming_the_field(args, message):
    done = subprocess.run(
        [sys.executable, "-m", "pierhead", "serve", "--bind", "127.0.0.1:0", *args],
        capture_output=True, text=True, timeout=20,
    )
    assert done.returncode == 2 and message in done.stderr
