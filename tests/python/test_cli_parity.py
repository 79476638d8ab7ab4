"""``pierhead serve`` (the binary) and ``python -m pierhead serve`` are one program:
the same argument lists give the same exit code, the same error text, the same
first line, the same answers to the same requests and the same stop report; and
so are ``pierhead bench`` and ``python -m pierhead bench``.

The binary is ``$PIERHEAD_BIN`` (scripts/test-python.sh builds it from this
checkout), or ``target/debug/pierhead`` built here with cargo."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Optional

import pytest

from conftest import raw_exchange

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def binary() -> str:
    given = os.environ.get("PIERHEAD_BIN")
    if given:
        assert os.access(given, os.X_OK), f"PIERHEAD_BIN={given} is not an executable"
        return given
    subprocess.run(["cargo", "build", "-q", "-p", "pierhead-cli"], cwd=ROOT, check=True, timeout=1800)
    return str(ROOT / "target" / "debug" / "pierhead")


def commands(binary: str) -> "dict[str, list[str]]":
    return {"binary": [binary], "python": [sys.executable, "-m", "pierhead"]}


def mask(text: str) -> str:
    """What differs between two runs of one program: ports, times, the date, and
    whether a connection the client just closed was still open at the stop."""
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"stopped in [0-9.]+ ms: \d+ idle closed, \d+ drained", "stopped in T ms: N idle closed, N drained", text)
    return re.sub(r"(?im)^date: .*\r\n", "", text)


def exchange(port: int, data: bytes) -> str:
    """Sends one request (closing the connection after it), returns the answer."""
    return raw_exchange(SimpleNamespace(host="127.0.0.1", port=port), data, timeout=10).decode("latin-1")


def get(path: str, method: str = "GET", body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
    if body or method == "POST":
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def serve(
    cmd: "list[str]", args: "list[str]", requests: "list[bytes]", stop: int
) -> "tuple[int, str, str, list[str]]":
    """Runs `serve` with `args`, sends `requests` once it listens, stops it with
    `stop`: (exit code, stdout, stderr, answers), ports and times masked."""
    child = subprocess.Popen(
        [*cmd, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    answers = []
    try:
        assert child.stdout is not None
        first = child.stdout.readline()
        m = re.match(r"pierhead listening on 127\.0\.0\.1:(\d+) ", first)
        assert m, (first, child.stderr.read() if child.stderr else "")
        answers = [mask(exchange(int(m.group(1)), r)) for r in requests]
        child.send_signal(stop)
        out, err = child.communicate(timeout=20)
    finally:
        child.kill()
    return child.returncode, mask(first + out), err, answers


def run_both(binary: str, run: Callable[["list[str]"], "tuple[object, ...]"]) -> "tuple[object, object]":
    got = {name: run(cmd) for name, cmd in commands(binary).items()}
    return got["binary"], got["python"]


BASE = ["--bind", "127.0.0.1:0", "--workers", "1", "--stats-interval", "off"]


def test_the_divergences_of_issue_23_are_gone(binary: str) -> None:
    """`GET /x 200 ok` answered `ok\\n` from the binary and `ok` from Python, and
    Python took `GET /x hello world` as a 200 with body `world`."""
    b, p = run_both(binary, lambda cmd: serve(cmd, [*BASE, "--route", "GET /x 200 ok"], [get("/x")], signal.SIGTERM))
    assert b == p
    assert b[3][0].endswith("\r\n\r\nok\n"), b
    refused = [
        subprocess.run([*cmd, "serve", *BASE, "--route", "GET /x hello world"], capture_output=True, text=True, timeout=60)
        for cmd in commands(binary).values()
    ]
    assert [r.returncode for r in refused] == [2, 2]
    assert refused[0].stderr == refused[1].stderr
    assert "invalid config field `route.status`: `hello` is not a status code" in refused[0].stderr


@pytest.mark.parametrize(
    "args, field",
    [
        (["--route", "GET"], "`route`"),
        (["--route", "GET nopath"], "route.path"),
        (["--route", "G@T /"], "route.method"),
        (["--route", "GET / 1000"], "response.status"),
        (["--route", "GET / 200 @/no/such/file"], "route.body"),
        (["--max-body-bytes", "lots"], "--max-body-bytes"),
        (["--max-header-bytes", "1.5k"], "--max-header-bytes"),
        (["--max-output-bytes", "1"], "max_output_bytes"),
        (["--protocol", "smtp"], "invalid config field `protocol`"),
        (["--protocol", "frame", "--slow-consumer", "sometimes"], "`slow_consumer`"),
        (["--idle-timeout", "5"], "--idle-timeout"),
        (["--write-timeout", "0s"], "write_timeout"),
        (["--workers", "0"], "`workers`"),
        (["--max-headers", "0"], "max_headers"),
        (["--bind", "nowhere"], "`bind`"),
        (["--unmatched-status", "7"], "unmatched_status"),
        (["--no-such-flag"], "--no-such-flag"),
        (["--tls-bad-cert", "expired"], "--tls-auto"),
    ],
)
def test_bad_arguments_give_the_same_error(binary: str, args: "list[str]", field: str) -> None:
    base = [a for flag, value in zip(BASE[::2], BASE[1::2]) if flag not in args for a in (flag, value)]

    def run(cmd: "list[str]") -> "tuple[int, str, str]":
        done = subprocess.run([*cmd, "serve", *base, *args], capture_output=True, text=True, timeout=60)
        return done.returncode, done.stdout, done.stderr

    b, p = run_both(binary, run)
    assert b == p
    code, _, err = b
    assert code == 2 and field in err, err


def test_help_and_version_are_the_same(binary: str) -> None:
    for args in (["serve", "--help"], ["--version"], []):
        runs = [
            subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=60)
            for cmd in commands(binary).values()
        ]
        assert [(r.returncode, r.stdout, r.stderr) for r in runs[:1]] == [
            (r.returncode, r.stdout, r.stderr) for r in runs[1:]
        ], args


def file_route(tmp: Path) -> str:
    page = tmp / "page.bin"
    page.write_bytes(b"<h1>file</h1>\x00\xff")
    return f"GET /page 201 @{page}"


@pytest.mark.parametrize(
    "args, requests, stop",
    [
        ([], [get("/"), get("/anything", "DELETE")], signal.SIGINT),
        (
            ["--route", "GET /hi 200 hello there", "--route", "FILE", "--route", "* /api/* 503", "--unmatched-status", "410"],
            [get("/hi"), get("/hi", "HEAD"), get("/page"), get("/api/x", "DELETE"), get("/other"), get("/hi?q=1")],
            signal.SIGTERM,
        ),
        (
            ["--route", "POST /up 201 took it", "--max-body-bytes", "1k", "--max-headers", "4"],
            [get("/up", "POST", b"x" * 1024), get("/up", "POST", b"x" * 1025), get("/up", "POST")],
            signal.SIGINT,
        ),
        (
            ["--route", "GET /x", "--route", "GET /y 404", "--header-timeout", "1.5s", "--idle-timeout", "2m"],
            [get("/x"), get("/y"), get("/z"), b"BAD REQUEST\r\n\r\n"],
            signal.SIGTERM,
        ),
        (["--protocol", "echo"], [b"echo these bytes\x00\xff"], signal.SIGTERM),
    ],
)
def test_the_same_arguments_serve_the_same_answers(
    binary: str, tmp_path: Path, args: "list[str]", requests: "list[bytes]", stop: int
) -> None:
    args = [file_route(tmp_path) if a == "FILE" else a for a in args]
    b, p = run_both(binary, lambda cmd: serve(cmd, [*BASE, *args], requests, stop))
    code, out, err, answers = b
    assert code == 0, err
    name = "SIGINT" if stop == signal.SIGINT else "SIGTERM"
    assert f"{name}: stopping (grace 5s)" in out and "stopped in" in out, out
    assert all(answers), answers
    assert b == p


def test_stats_lines_come_from_the_same_code(binary: str) -> None:
    """The stats line, and its rates, are the binary's in both."""

    def run(cmd: "list[str]") -> "tuple[int, str, str]":
        child = subprocess.Popen(
            [*cmd, "serve", "--bind", "127.0.0.1:0", "--workers", "1", "--stats-interval", "100ms"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert child.stdout is not None
            child.stdout.readline()
            line: Optional[str] = child.stdout.readline()
            child.send_signal(signal.SIGTERM)
            _, err = child.communicate(timeout=20)
        finally:
            child.kill()
        shape = re.sub(r"\d+", "N", line or "")
        return child.returncode, shape, err

    b, p = run_both(binary, run)
    assert b == p
    assert b[1].startswith("stats: up Ns running | conns active N accepted N refused N | requests N (N/s)"), b


# -- bench: the same code too ------------------------------------------------------


@pytest.mark.parametrize(
    "args, words",
    [
        (["http://127.0.0.1:1/", "--protocol", "smtp"], "invalid config field `protocol`"),
        (["127.0.0.1:1", "--protocol", "discard"], "one of: http, echo, frame"),
        (["http://127.0.0.1:1/", "-d", "5"], "--duration"),
        (["http://127.0.0.1:1/", "--body-size", "lots"], "--body-size"),
        (["http://127.0.0.1:1/", "-H", "no colon"], "`header`"),
        (["http://127.0.0.1:1/", "-c", "0"], "`connections`"),
        (["merge", "/no/such/result.json"], "cannot read /no/such/result.json"),
        ([], "TARGET"),
    ],
)
def test_bench_refuses_bad_arguments_alike(binary: str, args: "list[str]", words: str) -> None:
    def run(cmd: "list[str]") -> "tuple[int, str, str]":
        done = subprocess.run([*cmd, "bench", *args], capture_output=True, text=True, timeout=60)
        return done.returncode, done.stdout, done.stderr

    b, p = run_both(binary, run)
    assert b == p
    assert b[0] == 2 and words in b[2], b


def summary_shape(text: str) -> str:
    """A bench summary without its figures."""
    return re.sub(r"\d+(\.\d+)?\s*(us|ms|s|KiB|MiB|GiB|B|/s)?", "N", text)


@pytest.fixture(scope="module")
def hello(binary: str):
    """A `pierhead serve` to load."""
    child = subprocess.Popen([binary, "serve", *BASE], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    url = "http://" + child.stdout.readline().split()[3] + "/"
    yield url
    child.kill()
    child.wait()


def test_bench_runs_and_reports_alike(binary: str, hello: str, tmp_path: Path) -> None:
    def run(cmd: "list[str]") -> "tuple[int, str, str, int]":
        out = tmp_path / f"{len(cmd)}.json"
        done = subprocess.run(
            [*cmd, "bench", hello, "-c", "2", "-n", "300", "--json", str(out)], capture_output=True, text=True, timeout=60
        )
        return done.returncode, summary_shape(done.stdout), done.stderr, json.loads(out.read_text())["requests"]

    b, p = run_both(binary, run)
    assert b == p
    assert b[0] == 0 and b[3] == 300 and "errors N: connect N" in b[1], b


def test_an_interrupted_bench_reports_what_it_measured(binary: str, hello: str) -> None:
    """Ctrl-C ends a run early in both, with the summary and exit 0 (Python's
    SIGINT handler is how the extension learns of it)."""

    def run(cmd: "list[str]") -> "tuple[int, str, str]":
        child = subprocess.Popen(
            [*cmd, "bench", hello, "-c", "2", "-d", "60s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(1.5)
        t = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
        assert time.monotonic() - t < 20
        return child.returncode, summary_shape(out), err

    b, p = run_both(binary, run)
    assert b == p
    assert b[0] == 0 and "(interrupted)" in b[1], b
