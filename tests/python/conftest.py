"""Shared helpers for the Python tests. Every test talks to a real server over
loopback sockets; nothing of pierhead is mocked."""

from __future__ import annotations

import http.client
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
from typing import Callable, Iterator, Optional

import pytest

pytest_plugins = ["pytester"]


def request(
    server_or_url,
    method: str,
    path: str,
    body: Optional[bytes] = None,
    headers: Optional[dict] = None,
    timeout: float = 5.0,
) -> "tuple[int, dict, bytes]":
    """One request on a fresh connection: (status, headers lower-cased, body)."""
    host, port = _address(server_or_url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _address(server) -> "tuple[str, int]":
    return server.host, server.port


def raw_exchange(server, data: bytes, timeout: float = 5.0) -> bytes:
    """Sends raw bytes, half-closes, returns everything read until the peer closes."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                return b"".join(chunks)
            chunks.append(b)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Polls `cond` every 5 ms until it holds (True) or `timeout` passes (its
    last answer). For what the server sees a moment after the client: a close,
    a count after a write, a thread leaving /proc."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def fds_and_threads_back_to(want: "tuple[int, int]") -> "tuple[int, int]":
    """(open_fds(), os_threads()) once they are back to `want`, or as they stand
    after 2 s. A joined thread may be listed in /proc for a moment: the kernel
    wakes the joiner before it removes the task."""
    wait_until(lambda: (open_fds(), os_threads()) == want, timeout=2.0)
    return open_fds(), os_threads()


def assert_on_timeline(arrivals: "list[float]", due: "list[float]", resolution: float = 0.0) -> None:
    """Piece k arrived no earlier than it was due (`due[k]` seconds after the
    request, the pauses before it summed; `resolution` is how finely the
    arrivals were printed), and the first came well before the last, so the
    answer was not held to the end.

    Arrivals are measured from before the request was sent, so the lower bounds
    hold however loaded the machine is; gaps between arrivals would not (a
    client late to read one piece sees a shorter gap to the next).
    """
    assert len(arrivals) == len(due), arrivals
    for k, (got, want) in enumerate(zip(arrivals, due)):
        assert got >= want - resolution / 2 - 1e-9, f"piece {k} came {got:.3f} s after the request, before its {want} s"
    assert arrivals[0] < arrivals[-1] - (due[-1] - due[0]) / 2 + resolution, f"held to the end: {arrivals}"


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Redis:
    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is missing: scripts/test.sh installs it (apt-get install redis-server)")
        self.port = _free_port()
        self.proc: "subprocess.Popen[bytes] | None" = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def channels(self) -> "list[str]":
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"PUBSUB CHANNELS pierhead/*\r\n")
            data = b""
            while not data.endswith(b"\r\n") or data.count(b"\r\n") < 1 + 2 * int(data[1 : data.index(b"\r\n")]):
                data += s.recv(65536)
        return sorted(line.decode() for line in data.split(b"\r\n")[2::2] if line)


@pytest.fixture
def redis() -> Iterator[Redis]:
    """A redis-server of the test's own, on a free loopback port."""
    r = Redis()
    yield r
    r.kill()


@pytest.fixture
def redis_url(redis: Redis) -> str:
    return redis.url


class BlackHole:
    """A TCP server that accepts, reads, and never answers (a thread per
    connection); `addr` is ``host:port``, `url` its ``http://`` form."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.url = f"http://{self.addr}/"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    @staticmethod
    def _drain(conn: socket.socket) -> None:
        with conn:
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    hole = BlackHole()
    yield hole
    hole.close()


class CloseDelimited(http.server.BaseHTTPRequestHandler):
    """HTTP/1.0 without a Content-Length: the body runs to the close."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"hello\n")

    def log_message(self, *args: object) -> None:
        pass


class Simple(http.server.SimpleHTTPRequestHandler):
    """``python -m http.server``'s handler: HTTP/1.0, a Content-Length, the head
    and the body written apart."""

    def log_message(self, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a broken pipe: the bench ended with this answer in flight


@pytest.fixture(params=["close-delimited", "simple"])
def python_http_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """Python's own ``http.server`` in a thread of this process: its URL."""
    handler = {"close-delimited": CloseDelimited, "simple": Simple}[request.param]
    server = _QuietServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d/" % server.server_address[1]
    server.shutdown()
    server.server_close()
    t.join()
