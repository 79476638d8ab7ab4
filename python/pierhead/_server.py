"""``pierhead.Server``: lifecycle, addresses, stats, TLS, connect faults, rooms.

The heavy lifting is in the Rust module: matching, serving static answers, the
request log. The Python layer keeps the list of expectations (so they can be
declared before ``start()`` and survive a restart; ``_expectations``) and turns
the log into assertions (``_assertions``); :class:`Server` is both, and the
server's own life.
"""

from __future__ import annotations

import contextlib
import os
import queue
import ssl
import tempfile
import threading
import time
import weakref
from urllib.parse import quote as _quote
from typing import Any, Callable, Iterator, Optional, Union

from . import _pierhead
from ._assertions import _Assertions
from ._errors import ConfigError, ExpectationError, ServerStateError
from ._expectations import (
    HandlerResult,
    HeaderValueMatcher,
    Headers,
    PendingRequest,
    QueryString,
    RequestHandler,
    Uri,
    URIPattern,
)
from ._pierhead import Ordering, PublishReport, Stats, StopReport

__all__ = ["Server", "RequestHandler", "PendingRequest", "HandlerResult", "QueryString", "Headers", "Uri", "URIPattern", "HeaderValueMatcher"]


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class Server(_Assertions):
    """A pierhead server: HTTP (with expectations), echo or discard.

    ``Server(protocol="http", host="127.0.0.1", port=0, workers=1, on_stats=None,
    **limits)``; ``protocol`` is ``http``, ``echo``, ``discard`` or ``frame`` validates every option at once (``ConfigError`` names the bad one).
    ``limits`` are the core's options: ``max_connections``, ``listen_backlog``,
    ``idle_timeout``, ``header_timeout``, ``write_timeout``, ``handler_timeout``,
    ``stats_interval`` (seconds), ``max_header_bytes``, ``max_headers``, ``max_body_bytes``,
    ``max_output_bytes``, ``max_frame_bytes``, ``slow_consumer`` (``"disconnect"``,
    ``"drop_newest"``, ``"drop_oldest"``), ``backplane`` (frame protocol: a
    ``redis://[[user]:password@]host[:port][/db]`` URL; every server given the same
    broker shares its rooms; ``stats().backplane`` says how the link stands),
    ``metrics`` (``"host:port"``: the stats as Prometheus text at ``metrics_url``),
    ``tls`` (``True``: a throwaway CA and a certificate for localhost, 127.0.0.1 and
    ::1, trusted by ``ssl_context()`` and ``ca_path``; ``(cert, key)`` PEM paths;
    or a certificate that misbehaves: ``"expired"``, ``"not_yet_valid"``,
    ``"wrong_host"``, ``"self_signed"``, ``"untrusted_ca"``), ``tls_client_ca``
    (a CA file: client certificates are required), ``tls_fault``
    (``"stall_handshake"``, ``"reset_handshake"``, ``"no_close_notify"``,
    ``"garbage_hello"``), ``tls_resumption`` (default True: session tickets let
    clients resume, as with nginx; False: every connection a full handshake),
    ``strict_ordering`` (default False: pytest-httpserver's ordered semantics,
    where while an ordered expectation is due any other request fails, and every
    request after that), ``unmatched_status`` (default 500), ``request_log``
    (default 10000 requests), ``request_log_body_bytes``, ``handler_threads`` and
    ``fixed_response`` (default False: with no expectation every request is
    unmatched).

    Use it as a context manager, or call ``start()`` and ``stop()``. A server still
    running when the interpreter exits is stopped first.
    """

    def __init__(
        self,
        protocol: str = "http",
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        workers: int = _pierhead.DEFAULT_WORKERS,
        on_stats: Optional[Callable[[Stats], object]] = None,
        **limits: Any,
    ) -> None:
        self._strict_ordering = bool(limits.pop("strict_ordering", False))
        self._order_broken = False
        self._core = _pierhead.Server(protocol, host, port, workers, on_stats, **limits)
        self._ca_file: "Optional[tuple[str, str]]" = None
        self._fixed_response = bool(limits.get("fixed_response", False))
        self._handlers: list[RequestHandler] = []
        self._ordering = Ordering()
        self._lock = threading.Lock()
        self._configured_unmatched = int(limits.get("unmatched_status", _pierhead.DEFAULT_UNMATCHED_STATUS))
        self._unmatched_status = self._configured_unmatched
        # Requests held for the test thread (``respond_later``), oldest first.
        self._held: "queue.Queue[PendingRequest]" = queue.Queue()

    def __repr__(self) -> str:
        where = self.url if self._core.state != "new" else "not started"
        return f"<pierhead.Server {self._core.protocol} {where} ({self._core.state})>"

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> "Server":
        """Starts listening (``BindError`` if the address is taken). Expectations
        declared before, or left over from an earlier run, are put in place."""
        self._core.start()
        if self._unmatched_status != self._configured_unmatched:
            self._core.set_unmatched_status(self._unmatched_status)
        with self._lock:
            for h in self._handlers:
                h._route_id = None  # ids of the previous run
            self._place_order_guard()
            self._place(self._handlers)
        return self

    def stop(self, timeout: float = 5.0) -> StopReport:
        """Stops: idle connections close at once, in-flight requests get up to
        ``timeout`` seconds. Idempotent. Releases the GIL while waiting."""
        report = self._core.stop(timeout)
        if report.complete:
            with self._lock:
                for h in self._handlers:
                    self._settle(h)
                    h._route_id = None
                # The routes (and the handlers they hold) live on in self._handlers
                # for a restart; the stopped core need not keep them.
                self._core.clear_routes()
        return report

    def serve_forever(self, stop_timeout: float = 1.0) -> StopReport:
        """Serves until ``stop()`` is called elsewhere or Ctrl-C (``KeyboardInterrupt``
        is raised after a stop with ``stop_timeout`` seconds of grace)."""
        return self._core.serve_forever(stop_timeout)

    def __enter__(self) -> "Server":
        if not self.is_running:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._core.state != "new":
            self.stop()

    # -- where and how it is doing -----------------------------------------------

    @property
    def protocol(self) -> str:
        return self._core.protocol

    @property
    def host(self) -> str:
        """The address listened on (``127.0.0.1``, ``::1``)."""
        return self._core.host

    @property
    def port(self) -> int:
        return self._core.port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``http://[::1]:PORT`` for IPv6; ``https://`` over
        TLS, ``ws://``/``wss://`` for ``protocol="ws"``, ``tcp://`` for the others)."""
        return self._core.url

    def url_for(self, path: str) -> str:
        """The URL of ``path`` on this server, percent-encoded where a URL needs it
        (``/café`` gives ``.../caf%C3%A9``; ``%`` escapes already there are kept)."""
        if not path.startswith("/"):
            path = "/" + path
        return self.url + _quote(path, safe="/?&=%:@!$'()*+,;~#[]")

    def ws_url_for(self, path: str) -> str:
        """``url_for(path)`` with ``ws://`` (``wss://`` over TLS): where a
        WebSocket client connects to an endpoint of the HTTP mock
        (``expect_websocket``)."""
        url = self.url_for(path)
        return "ws" + url[len("http") :] if url.startswith("http") else url

    @property
    def is_running(self) -> bool:
        return self._core.is_running

    @property
    def state(self) -> str:
        """``new``, ``running``, ``stopping``, ``stopped`` or ``failed``."""
        return self._core.state

    def stats(self) -> Stats:
        return self._core.stats()

    # -- TLS -----------------------------------------------------------------------

    @property
    def ca_path(self) -> str:
        """A PEM file holding the CA that signed this server's generated certificate
        (``tls=True`` or a certificate kind), for clients that take a file
        (``requests``: ``verify=server.ca_path``; curl: ``--cacert``). Removed when
        the server object goes away."""
        pem = self._core.tls_ca_pem
        if pem is None:
            raise ServerStateError("no generated CA: the server was not started with tls=True")
        if self._ca_file is None or self._ca_file[1] != pem:
            fd, path = tempfile.mkstemp(prefix="pierhead-ca-", suffix=".pem")
            with os.fdopen(fd, "w") as f:
                f.write(pem)
            weakref.finalize(self, _remove, path)
            self._ca_file = (path, pem)
        return self._ca_file[0]

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's generated CA (and checks host
        names: ``localhost``, ``127.0.0.1`` and ``::1`` are in the certificate)."""
        pem = self._core.tls_ca_pem
        if pem is None:
            raise ServerStateError("no generated CA: the server was not started with tls=True")
        return ssl.create_default_context(cadata=pem)

    @property
    def metrics_url(self) -> Optional[str]:
        """``http://HOST:PORT/metrics`` of the Prometheus endpoint (the ``metrics=``
        option, e.g. ``"127.0.0.1:0"``), or None when it is off."""
        return self._core.metrics_url

    def metrics_text(self) -> str:
        """The stats as Prometheus text, as the endpoint serves them."""
        return self._core.metrics_text()

    @property
    def unmatched_status(self) -> int:
        """The status of requests no expectation matches (default 500); may be
        changed while running (``server.unmatched_status = 404``)."""
        return self._unmatched_status

    @unmatched_status.setter
    def unmatched_status(self, status: int) -> None:
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ConfigError(
                f"invalid config field `unmatched_status`: must be 100..=999, got {status!r}", "unmatched_status"
            )
        if self.is_running:
            self._core.set_unmatched_status(status)
        self._unmatched_status = status

    # -- blocking mode -------------------------------------------------------------

    def next_request(self, timeout: float = 5.0) -> "PendingRequest":
        """The next request held by an expectation answered with
        ``respond_later()``: the test thread looks at it and answers it
        (``ExpectationError`` if none arrives within ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                # Short waits, so that Ctrl-C is seen.
                return self._held.get(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise ExpectationError(f"no held request arrived within {timeout} s") from None

    # -- connect-phase faults -----------------------------------------------------

    def set_connect_fault(self, fault: Optional[str], seconds: Optional[float] = None) -> None:
        """Misbehave before any byte is read, from now on: ``"refuse"`` (clients get
        "connection refused"), ``"hold"`` (they connect, nothing is ever read:
        a read timeout), ``"close"`` (accepted and closed at once), ``"delay"``
        (served after ``seconds``); ``None`` is normal again. Returns once every
        I/O thread applied it. Ending ``"refuse"`` listens on the port again
        (``BindError`` if another socket took it meanwhile)."""
        self._core.set_connect_fault(fault, seconds)

    @property
    def connect_fault(self) -> "Optional[Union[str, tuple[str, float]]]":
        """The connect-phase fault in force (``None``, ``"refuse"``, ``"hold"``,
        ``"close"``, ``("delay", seconds)``)."""
        return self._core.connect_fault()

    @contextlib.contextmanager
    def connect_fault_while(self, fault: str, seconds: Optional[float] = None) -> Iterator[None]:
        """``with server.connect_fault_while("refuse"): ...``: the fault inside the
        block, normal after it (also when the block raises)."""
        self.set_connect_fault(fault, seconds)
        try:
            yield
        finally:
            if self.is_running:
                self.set_connect_fault(None)

    # -- connections -----------------------------------------------------------------

    def connections(self) -> "list[tuple[int, str]]":
        """Closed connections, oldest first: ``(connection_id, closed_by)`` with
        ``closed_by`` ``"client"`` or ``"server"`` (who closed first). Kept with
        the request log."""
        return self._core.connections()

    # -- rooms (protocol="frame") ------------------------------------------------

    def publish(self, room: str, payload: Union[bytes, str]) -> PublishReport:
        """Sends a data frame to every member of ``room`` and returns once every
        worker has queued it: how many got it, how many frames slow members lost,
        how many were disconnected. A room with no members gives zeros. With a
        backplane it also goes to the members on other servers (``forwarded``)."""
        return self._core.publish(room, payload)

    def rooms(self) -> "dict[str, int]":
        """The rooms with members, with their member counts."""
        return dict(self._core.rooms())

    # -- all of it ----------------------------------------------------------------

    def clear(self) -> None:
        """Removes every expectation and forgets the log and the errors: a fresh
        server for the next test, without a restart."""
        self.clear_all_handlers()
        self.clear_log()
        self.clear_assertions()
