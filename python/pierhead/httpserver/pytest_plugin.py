"""The pytest-httpserver fixtures on pierhead: ``httpserver``, ``make_httpserver``,
``httpserver_listen_address``, ``httpserver_ssl_context``, ``httpserver_ipv4``,
``httpserver_ipv6``. Enable with ``-p pierhead.httpserver.pytest_plugin`` or
``pytest_plugins = ["pierhead.httpserver.pytest_plugin"]`` (instead of having
pytest-httpserver installed: the fixture names are the same)."""

from __future__ import annotations

import os
from collections.abc import Generator
from ssl import SSLContext
from typing import Optional

import pytest

from .httpserver import HTTPServer

__all__ = [
    "get_httpserver_listen_address",
    "httpserver",
    "httpserver_ipv4",
    "httpserver_ipv6",
    "httpserver_listen_address",
    "httpserver_ssl_context",
    "make_httpserver",
    "make_httpserver_ipv4",
    "make_httpserver_ipv6",
]


def get_httpserver_listen_address() -> "tuple[Optional[str], Optional[int]]":
    """``PYTEST_HTTPSERVER_HOST`` and ``PYTEST_HTTPSERVER_PORT`` from the environment."""
    host = os.environ.get("PYTEST_HTTPSERVER_HOST")
    port = os.environ.get("PYTEST_HTTPSERVER_PORT")
    return host, int(port) if port else None


@pytest.fixture(scope="session")
def httpserver_listen_address() -> "tuple[Optional[str], Optional[int]]":
    return get_httpserver_listen_address()


@pytest.fixture(scope="session")
def httpserver_ssl_context() -> Optional[SSLContext]:
    return None


def _session_server(host: str, port: int, ssl_context: Optional[SSLContext]) -> Generator[HTTPServer, None, None]:
    server = HTTPServer(host=host, port=port, ssl_context=ssl_context)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture(scope="session")
def make_httpserver(
    httpserver_listen_address: "tuple[Optional[str], Optional[int]]",
    httpserver_ssl_context: Optional[SSLContext],
) -> Generator[HTTPServer, None, None]:
    host, port = httpserver_listen_address
    yield from _session_server(
        host or HTTPServer.DEFAULT_LISTEN_HOST, port or HTTPServer.DEFAULT_LISTEN_PORT, httpserver_ssl_context
    )


@pytest.fixture
def httpserver(make_httpserver: HTTPServer) -> HTTPServer:
    make_httpserver.clear()
    return make_httpserver


@pytest.fixture(scope="session")
def make_httpserver_ipv4(httpserver_ssl_context: Optional[SSLContext]) -> Generator[HTTPServer, None, None]:
    yield from _session_server("127.0.0.1", 0, httpserver_ssl_context)


@pytest.fixture
def httpserver_ipv4(make_httpserver_ipv4: HTTPServer) -> HTTPServer:
    make_httpserver_ipv4.clear()
    return make_httpserver_ipv4


@pytest.fixture(scope="session")
def make_httpserver_ipv6(httpserver_ssl_context: Optional[SSLContext]) -> Generator[HTTPServer, None, None]:
    yield from _session_server("::1", 0, httpserver_ssl_context)


@pytest.fixture
def httpserver_ipv6(make_httpserver_ipv6: HTTPServer) -> HTTPServer:
    make_httpserver_ipv6.clear()
    return make_httpserver_ipv6
