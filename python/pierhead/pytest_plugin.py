"""pytest fixtures, registered through the ``pytest11`` entry point.

- ``pierhead_server``: a started :class:`pierhead.Server` per test (HTTP unless a
  ``@pytest.mark.pierhead(protocol=...)`` marker says otherwise), stopped after it.
- ``pierhead_http``: an HTTP server with expectations; after the test,
  ``check_assertions()`` runs, so an unexpected request or a failing handler fails
  the test (``@pytest.mark.pierhead(check=False)`` turns that off).
- ``pierhead_echo``: an echo server.
- ``pierhead_https``: ``pierhead_http`` over TLS with a throwaway CA
  (``server.url`` is ``https://``; trust it with ``server.ssl_context()`` or
  ``verify=server.ca_path``).

Each test gets a fresh server (starting one takes well under a millisecond), so
tests cannot leak expectations or log entries into each other. Any keyword of
``Server(...)`` can be given in the marker.

The address comes from ``PIERHEAD_TEST_HOST`` (default ``127.0.0.1``; ``::1`` for
IPv6) and ``PIERHEAD_TEST_PORT`` (default 0: any free port). A fixed port under
pytest-xdist is offset by the worker number (``gw3`` listens on port + 3), so
parallel workers never collide.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

from . import ConfigError, Server

HOST_ENV = "PIERHEAD_TEST_HOST"
PORT_ENV = "PIERHEAD_TEST_PORT"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "pierhead(**options): options for the pierhead fixtures' Server(...) "
        "(protocol, workers, limits) and check=False to skip check_assertions()",
    )


def listen_address(worker_id: str = "master") -> "tuple[str, int]":
    """The host and port fixtures listen on, from the environment; a fixed port is
    offset by the xdist worker number."""
    host = os.environ.get(HOST_ENV, "127.0.0.1")
    raw = os.environ.get(PORT_ENV, "0")
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"invalid config field `{PORT_ENV}`: `{raw}` is not a port number", PORT_ENV) from None
    if port and worker_id.startswith("gw") and worker_id[2:].isdigit():
        port += int(worker_id[2:])
    return host, port


def _options(request: pytest.FixtureRequest) -> "dict[str, Any]":
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("pierhead"))):
        options.update(marker.kwargs)
    return options


def _worker_id(request: pytest.FixtureRequest) -> str:
    workerinput = getattr(request.config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "master"


def _serve(
    request: pytest.FixtureRequest, protocol: str, check_after: bool, **defaults: Any
) -> Iterator[Server]:
    """A started server for one test; with `check_after`, check_assertions() runs
    after it unless the marker says check=False."""
    options = {**defaults, **_options(request)}
    check = options.pop("check", True) and check_after
    options.setdefault("protocol", protocol)
    host, port = listen_address(_worker_id(request))
    options.setdefault("host", host)
    options.setdefault("port", port)
    server = Server(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
    if check:
        server.check_assertions()


@pytest.fixture
def pierhead_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A started server (HTTP by default), stopped after the test."""
    yield from _serve(request, "http", check_after=False)


@pytest.fixture
def pierhead_http(request: pytest.FixtureRequest) -> Iterator[Server]:
    """An HTTP server with expectations; ``check_assertions()`` runs after the test."""
    yield from _serve(request, "http", check_after=True)


@pytest.fixture
def pierhead_echo(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A started echo server: every byte sent comes back."""
    yield from _serve(request, "echo", check_after=False)


@pytest.fixture
def pierhead_frame(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A started frame-protocol server (rooms, broadcast, ``publish``); connect
    clients with ``pierhead.FrameClient(server.host, server.port)``."""
    yield from _serve(request, "frame", check_after=False)


@pytest.fixture
def pierhead_ws(request: pytest.FixtureRequest) -> Iterator[Server]:
    """A started WebSocket server: ``server.url + "/"`` echoes every message,
    ``server.url + "/<room>"`` joins a room (the frame protocol's rooms; ``publish``
    reaches its members)."""
    yield from _serve(request, "ws", check_after=False)


@pytest.fixture
def pierhead_https(request: pytest.FixtureRequest) -> Iterator[Server]:
    """``pierhead_http`` over TLS (``tls=True``): a throwaway CA and a certificate
    for localhost, 127.0.0.1 and ::1. ``server.ssl_context()`` trusts it;
    ``server.ca_path`` is the CA as a PEM file (for ``requests``' ``verify=``)."""
    yield from _serve(request, "http", check_after=True, tls=True)
