"""Shared helpers for the Python tests. Every test talks to a real server over
loopback sockets; nothing of pierhead is mocked."""

from __future__ import annotations

import http.client
import os
import socket
from typing import Optional

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


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")
