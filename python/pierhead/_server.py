"""``pierhead.Server``: lifecycle, addresses, stats, and HTTP expectations.

The heavy lifting is in the Rust module: matching, serving static answers, the
request log. This layer keeps the list of expectations (so they can be declared
before ``start()`` and survive a restart) and turns the log into assertions.
"""

from __future__ import annotations

import contextlib
import json as _json
import os
import queue
import re
import ssl
import tempfile
import threading
import time
import weakref
from http import HTTPStatus
from urllib.parse import quote as _quote
from urllib.parse import unquote as _unquote
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Protocol, Union

from . import _pierhead
from ._errors import ConfigError, ExpectationError, ServerStateError
from ._pierhead import Chaos, Fault, Matcher, Ordering, PublishReport, Request, Response, Route, Stats, StopReport

__all__ = ["Server", "RequestHandler", "PendingRequest", "HandlerResult", "QueryString", "Headers", "Uri", "URIPattern", "HeaderValueMatcher"]

#: What a ``respond_with_handler`` callable may return.
HandlerResult = Union[Response, str, bytes]
#: A query-string condition: exact text, or parameters compared in any order.
QueryString = Union[str, bytes, Mapping[str, Union[str, Iterable[str]]]]
#: Header conditions or response headers.
Headers = Union[Mapping[str, str], Iterable["tuple[str, str]"]]


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class _Unset:
    """Marks an argument not given (``json=None`` is a valid JSON body: ``null``)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class URIPattern(Protocol):
    """A path condition of your own: ``match(path)`` gets the request's path
    (``%XX`` escapes decoded, without the query) and says whether it matches."""

    def match(self, uri: str) -> Any: ...


#: What ``uri`` may be: an exact path, a regular expression matched from the start
#: of the path (``re.match``), or a :class:`URIPattern`.
Uri = Union[str, "re.Pattern[str]", URIPattern]
#: ``header_value_matcher(name, actual_or_None, expected) -> bool``.
HeaderValueMatcher = Callable[[str, Optional[str], str], bool]


class _PathCondition:
    """A regex or URIPattern on the decoded path (as pytest-httpserver and werkzeug
    see paths); run on the server's handler threads."""

    def __init__(self, uri: Union["re.Pattern[str]", URIPattern], raw_path: bool) -> None:
        self.uri = uri
        self.raw_path = raw_path

    def __call__(self, request: Request) -> bool:
        path = request.path if self.raw_path else _unquote(request.path)
        return bool(self.uri.match(path))

    def __repr__(self) -> str:
        if isinstance(self.uri, re.Pattern):
            return f"re.compile({self.uri.pattern!r})"
        return repr(self.uri)


class _HeaderCondition:
    """Headers compared by a header value matcher."""

    def __init__(self, headers: "list[tuple[str, str]]", compare: HeaderValueMatcher) -> None:
        self.headers = headers
        self.compare = compare

    def __call__(self, request: Request) -> bool:
        return all(self.compare(name, request.header(name), want) for name, want in self.headers)

    def __repr__(self) -> str:
        return f"headers {dict(self.headers)!r} by {getattr(self.compare, '__name__', self.compare)!r}"


def _matcher(
    uri: Uri,
    method: Optional[str],
    query_string: Optional[QueryString],
    headers: Optional[Headers],
    data: Optional[Union[str, bytes]],
    json: Any,
    prefix: bool,
    raw_path: bool,
    header_value_matcher: Optional[HeaderValueMatcher] = None,
    predicate: Optional[Callable[[Request], bool]] = None,
) -> Matcher:
    json_text = None if json is UNSET else _json.dumps(json)
    conditions: "list[Callable[[Request], bool]]" = []
    description = None
    if isinstance(uri, str):
        path = uri
    elif isinstance(uri, re.Pattern) or callable(getattr(uri, "match", None)):
        cond = _PathCondition(uri, raw_path)
        path, prefix, description = "/", True, repr(cond)
        conditions.append(cond)
    else:
        raise ConfigError(
            "invalid config field `uri`: must be a path (str), a compiled regular expression "
            f"or an object with a match(path) method, not {type(uri).__name__}",
            "uri",
        )
    if header_value_matcher is not None and headers:
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        conditions.append(_HeaderCondition(pairs, header_value_matcher))
        headers = None
    if predicate is not None:
        conditions.append(predicate)
    return Matcher(
        path, method, query_string, headers, data, json_text, prefix, raw_path, conditions or None, description
    )


class RequestHandler:
    """One expectation, returned by ``expect_request``: say what it answers with one
    of the ``respond_with_*`` methods. Until then, matching requests get the
    unmatched status. Calling a ``respond_with_*`` method again replaces the answer.
    """

    def __init__(
        self,
        server: "Server",
        matcher: Matcher,
        uses: Optional[int],
        ordering: Optional["tuple[Ordering, int]"],
    ) -> None:
        # A weak reference: no cycle, so a dropped server is freed at once.
        self._server_ref = weakref.ref(server)
        self.matcher = matcher
        self.uses = uses
        self._ordering = ordering
        self._route: Optional[Route] = None
        # What it answers, for ``Server.exchanges()``: the fixed response, or the
        # handler's answers per connection, in order.
        self._response: Optional[Response] = None
        self._answers: "dict[int, list[Optional[Response]]]" = {}
        self._route_id: Optional[int] = None
        # Requests answered by earlier runs of a restarted server.
        self._hits_before = 0

    def __repr__(self) -> str:
        return f"<RequestHandler {self.matcher} uses={self.uses} hits={self.hits}>"

    @property
    def _server(self) -> "Server":
        server = self._server_ref()
        if server is None:
            raise ServerStateError("the server of this expectation no longer exists")
        return server

    @property
    def hits(self) -> int:
        """Requests this expectation has answered."""
        now = 0
        if self._route_id is not None and self._server._core.state != "new":
            now = self._server._core.route_hits(self._route_id) or 0
        return self._hits_before + now

    def _uses_left(self) -> Optional[int]:
        """Uses left over all runs; ``None`` for unlimited."""
        if self.uses is None:
            return None
        return max(0, self.uses - self._hits_before)

    def respond_with_data(
        self,
        response_data: Union[str, bytes] = "",
        status: int = 200,
        headers: Optional[Headers] = None,
        content_type: Optional[str] = None,
        *,
        fault: Optional[Union[Fault, Chaos]] = None,
    ) -> None:
        """Answer with this body (``str`` is sent as UTF-8 ``text/plain``)."""
        self.respond_with_response(Response(response_data, status, headers, content_type), fault=fault)

    def respond_with_json(
        self,
        response_json: Any,
        status: int = 200,
        headers: Optional[Headers] = None,
        content_type: str = "application/json",
        *,
        fault: Optional[Union[Fault, Chaos]] = None,
    ) -> None:
        """Answer with ``json.dumps(response_json)``."""
        body = _json.dumps(response_json)
        self.respond_with_response(Response(body, status, headers, content_type), fault=fault)

    def respond_with_response(self, response: Response, *, fault: Optional[Union[Fault, Chaos]] = None) -> None:
        """Answer with this :class:`Response` (served from Rust, without the GIL)."""
        if not isinstance(response, Response):
            raise ConfigError(
                f"invalid config field `response`: must be pierhead.Response, not {type(response).__name__}",
                "response",
            )
        self._response, self._answers = response, {}
        self._install(Route(self.matcher, response=response, uses=self.uses, fault=fault, ordering=self._ordering))

    def respond_with_handler(
        self, func: Callable[[Request], HandlerResult], *, fault: Optional[Union[Fault, Chaos]] = None
    ) -> None:
        """Answer with whatever ``func(request)`` returns: a :class:`Response`, ``str``
        or ``bytes``. It runs on one of the server's handler threads, holding the GIL
        only while it runs. An exception gives a 500 and is raised again by
        ``check_assertions()``."""
        answers: "dict[int, list[Optional[Response]]]" = {}
        self._response, self._answers = None, answers

        def recorded(request: Request) -> HandlerResult:
            kept = answers.setdefault(request.connection_id, [])
            try:
                result = func(request)
            except BaseException:
                kept.append(None)
                raise
            if isinstance(result, Response):
                kept.append(result)
            elif isinstance(result, (str, bytes, bytearray)):
                kept.append(Response(bytes(result) if isinstance(result, bytearray) else result))
            else:
                kept.append(None)  # the server refuses it, and says why
            return result

        self._install(Route(self.matcher, handler=recorded, uses=self.uses, fault=fault, ordering=self._ordering))

    def respond_later(self, timeout: float = 30.0) -> None:
        """Blocking mode: hold each matching request until the test thread takes
        it with ``server.next_request()`` and answers it (``PendingRequest.respond``).
        A request not answered within ``timeout`` seconds gets a 504. The request
        waits on a handler thread; I/O threads go on serving."""
        held = self._server._held

        def hold(request: Request) -> Response:
            pending = PendingRequest(request)
            held.put(pending)
            return pending._wait(timeout)

        self.respond_with_handler(hold)

    def respond_with_fault(self, fault: Fault, status: int = 200, body: Union[str, bytes] = "") -> None:
        """Misbehave: delay, drip, close after the headers, reset, or never answer."""
        self.respond_with_response(Response(body, status), fault=fault)

    def _install(self, route: Route) -> None:
        self._route = route
        self._server._install(self)


class PendingRequest:
    """A request held for the test thread (``RequestHandler.respond_later``):
    ``request`` is it; answer once with ``respond`` (a ``Response``, ``str`` or
    ``bytes``) or ``respond_with_json``."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self._answer: "queue.Queue[Response]" = queue.Queue(maxsize=1)
        self._answered = threading.Lock()

    def __repr__(self) -> str:
        return f"<PendingRequest {self.request.method} {self.request.target}>"

    def respond(self, response: Union[Response, str, bytes], status: int = 200) -> None:
        """Sends the answer (``ServerStateError`` if already answered)."""
        if not isinstance(response, Response):
            response = Response(response, status)
        if not self._answered.acquire(blocking=False):
            raise ServerStateError("this request was answered already")
        self._answer.put_nowait(response)

    def respond_with_json(self, value: Any, status: int = 200) -> None:
        self.respond(Response(_json.dumps(value), status, content_type="application/json"))

    def _wait(self, timeout: float) -> Response:
        try:
            return self._answer.get(timeout=timeout)
        except queue.Empty:
            return Response(f"no answer from the test within {timeout} s\n", 504)


def _poll(done: Callable[[], Any], timeout: float) -> bool:
    """Calls ``done`` every 5 ms until it is true (True) or ``timeout`` passes
    (False). Sleeps release the GIL; Ctrl-C interrupts."""
    deadline = time.monotonic() + timeout
    while True:
        if done():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


class Server:
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
        """``http://127.0.0.1:PORT`` (``http://[::1]:PORT`` for IPv6)."""
        return self._core.url

    def url_for(self, path: str) -> str:
        """The URL of ``path`` on this server, percent-encoded where a URL needs it
        (``/café`` gives ``.../caf%C3%A9``; ``%`` escapes already there are kept)."""
        if not path.startswith("/"):
            path = "/" + path
        return self.url + _quote(path, safe="/?&=%:@!$'()*+,;~#[]")

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

    # -- waiting -----------------------------------------------------------------

    def wait_for(
        self,
        uri: Uri,
        method: Optional[str] = None,
        query_string: Optional[QueryString] = None,
        headers: Optional[Headers] = None,
        data: Optional[Union[str, bytes]] = None,
        json: Any = UNSET,
        *,
        prefix: bool = False,
        raw_path: bool = False,
        header_value_matcher: Optional[HeaderValueMatcher] = None,
        predicate: Optional[Callable[[Request], bool]] = None,
        count: int = 1,
        timeout: float = 5.0,
    ) -> "list[Request]":
        """Waits until at least ``count`` logged requests match (the rules of
        ``expect_request``) and returns them; ``ExpectationError`` after
        ``timeout`` seconds, with what did arrive. For code under test that calls
        the server from a background thread or process."""
        m = _matcher(
            uri, method, query_string, headers, data, json, prefix, raw_path, header_value_matcher, predicate
        )
        found: "list[Request]" = []

        def enough() -> bool:
            found[:] = [r for r in self.log if m.matches(r)]
            return len(found) >= count

        if not _poll(enough, timeout):
            raise ExpectationError(
                f"waited {timeout} s for {count} request(s) matching {m}, got {len(found)}\n"
                + _describe_log(self.log)
            )
        return found

    def wait(self, timeout: float = 5.0, *, stop_on_unmatched: bool = True, raise_assertions: bool = True) -> bool:
        """Waits until every expectation with a use limit (oneshot, ordered,
        ``uses=``) is used up: True. False if ``timeout`` passes first, or (with
        ``stop_on_unmatched``) a request no expectation matched has come; then,
        with ``raise_assertions``, ``ExpectationError`` says which.

        An unmatched request counts from the start or the last
        ``clear_assertions()``, not from this call: one sent by the code under
        test just before ``wait()`` was called ends the wait at once (it would
        fail ``check_assertions()`` anyway), so there is no race with the call."""

        def used_up() -> bool:
            return all(h.hits >= h.uses for h in self.handlers if h.uses is not None)

        def unexpected() -> bool:
            return stop_on_unmatched and self.is_running and self._core.unmatched()[0] > 0

        if _poll(lambda: used_up() or unexpected(), timeout) and used_up():
            return True
        if raise_assertions:
            if unexpected():
                self.check_assertions()
            unused = [
                f"{h.matcher}: {h.hits} of {h.uses} uses"
                for h in self.handlers
                if h.uses is not None and h.hits < h.uses
            ]
            raise ExpectationError(f"waited {timeout} s; expectations not used up:\n  " + "\n  ".join(unused))
        return False

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

    def requests_per_connection(self) -> "dict[int, int]":
        """How many logged requests came on each connection (by ``connection_id``,
        in the order the connections first sent one)."""
        counts: "dict[int, int]" = {}
        for r in self.log:
            counts[r.connection_id] = counts.get(r.connection_id, 0) + 1
        return counts

    def assert_connection_reused(self, min_requests: int = 2) -> None:
        """Raises ``ExpectationError`` unless some connection carried at least
        ``min_requests`` logged requests: proves a client pools connections."""
        counts = self.requests_per_connection()
        if not any(n >= min_requests for n in counts.values()):
            raise ExpectationError(
                f"no connection carried {min_requests} requests: {len(self.log)} request(s) "
                f"came on {len(counts)} connection(s) {sorted(counts.values(), reverse=True)[:10]}"
            )

    def assert_connections(self, count: int) -> None:
        """Raises ``ExpectationError`` unless the logged requests came on exactly
        ``count`` connections."""
        got = len(self.requests_per_connection())
        if got != count:
            raise ExpectationError(f"expected requests on {count} connection(s), got {got}")

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

    # -- expectations ------------------------------------------------------------

    def expect_request(
        self,
        uri: Uri,
        method: Optional[str] = None,
        query_string: Optional[QueryString] = None,
        headers: Optional[Headers] = None,
        data: Optional[Union[str, bytes]] = None,
        json: Any = UNSET,
        *,
        prefix: bool = False,
        raw_path: bool = False,
        header_value_matcher: Optional[HeaderValueMatcher] = None,
        predicate: Optional[Callable[[Request], bool]] = None,
        uses: Optional[int] = None,
    ) -> RequestHandler:
        """Expect requests for ``uri`` (exact path; with ``prefix=True`` any path
        starting with it). Paths are compared with ``%XX`` escapes decoded on both
        sides (``/café`` matches ``/caf%C3%A9``; ``raw_path=True`` compares them as
        sent), and an absolute-form target (``http://host/path``) by its path.
        ``method=None`` matches any method (case does not matter); ``query_string`` is
        text compared exactly, or a mapping compared as decoded parameters in any
        order; every header in ``headers`` must be present with that value;
        ``data`` is the exact body; ``json`` a value the body must equal when
        parsed. ``uri`` may also be a compiled regular expression (``re.match`` on
        the decoded path) or an object with a ``match(path)`` method;
        ``header_value_matcher(name, actual, expected)`` compares the ``headers``
        instead of equality; ``predicate(request)`` is any further condition.
        Those Python conditions run on the server's handler threads, never on an
        I/O thread (requests that pass the other conditions are handed over).
        Expectations are tried in the order they were made."""
        m = _matcher(
            uri, method, query_string, headers, data, json, prefix, raw_path, header_value_matcher, predicate
        )
        return self._expect(m, uses, None)

    def expect_oneshot_request(
        self,
        uri: Uri,
        method: Optional[str] = None,
        query_string: Optional[QueryString] = None,
        headers: Optional[Headers] = None,
        data: Optional[Union[str, bytes]] = None,
        json: Any = UNSET,
        *,
        prefix: bool = False,
        raw_path: bool = False,
        header_value_matcher: Optional[HeaderValueMatcher] = None,
        predicate: Optional[Callable[[Request], bool]] = None,
    ) -> RequestHandler:
        """Like ``expect_request``, answered once; later matching requests fall
        through to later expectations (or are unmatched)."""
        return self.expect_request(
            uri,
            method,
            query_string,
            headers,
            data,
            json,
            prefix=prefix,
            raw_path=raw_path,
            header_value_matcher=header_value_matcher,
            predicate=predicate,
            uses=1,
        )

    def expect_ordered_request(
        self,
        uri: Uri,
        method: Optional[str] = None,
        query_string: Optional[QueryString] = None,
        headers: Optional[Headers] = None,
        data: Optional[Union[str, bytes]] = None,
        json: Any = UNSET,
        *,
        prefix: bool = False,
        raw_path: bool = False,
        header_value_matcher: Optional[HeaderValueMatcher] = None,
        predicate: Optional[Callable[[Request], bool]] = None,
    ) -> RequestHandler:
        """A oneshot expectation that must be requested after every ordered
        expectation made before it. A request out of order gets a 500 and fails
        every later ordered request; ``check_assertions()`` reports it."""
        m = _matcher(
            uri, method, query_string, headers, data, json, prefix, raw_path, header_value_matcher, predicate
        )
        place = self._ordering.reserve(str(m))
        return self._expect(m, 1, (self._ordering, place))

    def _expect(
        self, matcher: Matcher, uses: Optional[int], ordering: Optional["tuple[Ordering, int]"]
    ) -> RequestHandler:
        if self._core.protocol != "http":
            raise ConfigError(
                f"invalid config field `protocol`: expectations need protocol='http', not {self._core.protocol!r}",
                "protocol",
            )
        handler = RequestHandler(self, matcher, uses, ordering)
        with self._lock:
            self._handlers.append(handler)
        return handler

    def _install(self, handler: RequestHandler) -> None:
        """Puts a handler's route in place, at its declared position (if the server
        runs and the handler has an answer)."""
        if handler._route is None or not self.is_running:
            return
        with self._lock:
            if handler not in self._handlers:
                return
            if handler._route_id is not None:
                # A new answer for a placed expectation: same id, same position,
                # with the uses it has left.
                self._settle(handler)
                left = handler._uses_left()
                if left != 0 and self._core.replace_route(handler._route_id, handler._route.with_uses(left)):
                    # Its hits restart from zero in the replaced route.
                    return
                self._core.remove_route(handler._route_id)
                handler._route_id = None
                return
            self._place(self._handlers[self._handlers.index(handler) :])

    def _place_order_guard(self) -> None:
        """With ``strict_ordering``: a first route that fails every request while
        an ordered expectation is due and the request is not it, and every request
        after that (pytest-httpserver's ordered semantics). Its condition runs on
        the handler threads; requests pass through to the other routes otherwise."""
        if not self._strict_ordering:
            return
        ref = weakref.ref(self)

        def out_of_order(request: Request) -> bool:
            server = ref()
            if server is None:
                return False
            if server._order_broken:
                return True
            due = next((h for h in server.handlers if h._ordering is not None and h.hits < 1), None)
            if due is None or due.matcher.matches(request):
                return False
            server._order_broken = True
            return True

        def refuse(request: Request) -> Response:
            server = ref()
            due = [str(h.matcher) for h in server.handlers if h._ordering is not None and h.hits < 1] if server else []
            raise ExpectationError(
                f"{request.method} {request.target} came while ordered expectations were due "
                f"(strict_ordering: every later request fails): {due}"
            )

        guard = Matcher("/", prefix=True, conditions=[out_of_order], description="strict ordering")
        self._core.add_route(Route(guard, handler=refuse))

    def _settle(self, handler: RequestHandler) -> None:
        """Moves the hits of a handler's current route into its history."""
        if handler._route_id is not None:
            handler._hits_before += self._core.route_hits(handler._route_id) or 0

    def _place(self, handlers: "list[RequestHandler]") -> None:
        """(Re-)adds these handlers' routes, in order, after every other route. The
        core appends routes, so putting one in the middle means re-adding the
        ones after it. Called with the lock held."""
        for h in handlers:
            if h._route_id is not None:
                self._settle(h)
                self._core.remove_route(h._route_id)
                h._route_id = None
        for h in handlers:
            left = h._uses_left()
            if h._route is not None and left != 0:
                h._route_id = self._core.add_route(h._route.with_uses(left))

    @property
    def handlers(self) -> "list[RequestHandler]":
        """The expectations, in the order they are tried."""
        with self._lock:
            return list(self._handlers)

    # -- what happened -------------------------------------------------------------

    @property
    def log(self) -> "list[Request]":
        """Requests received, oldest first (the last ``request_log`` of them)."""
        return self._core.requests()

    def exchanges(self) -> "list[tuple[Request, Optional[Response]]]":
        """The log as (request, response) pairs, oldest first: the expectation's
        fixed response, what its handler returned (matched to the request by
        connection, in order), the unmatched answer, or ``None`` when no response
        was sent (a reset or no-response fault, a handler that raised). An
        ordered expectation's answer is shown even for a request it refused."""
        by_route = {h._route_id: h for h in self.handlers if h._route_id is not None}
        seen: "dict[tuple[int, int], int]" = {}
        unmatched = Response(f"{HTTPStatus(self._unmatched_status).phrase}\n", self._unmatched_status)
        pairs: "list[tuple[Request, Optional[Response]]]" = []
        for r in self.log:
            h = by_route.get(r.route_id) if r.route_id is not None else None
            response: Optional[Response]
            if r.fault is not None and r.fault in (Fault.reset(), Fault.no_response()):
                response = None
            elif h is None:
                response = unmatched if r.route_id is None else None
            elif h._response is not None:
                response = h._response
            else:
                key = (id(h), r.connection_id)
                n = seen.get(key, 0)
                seen[key] = n + 1
                answers = h._answers.get(r.connection_id, [])
                response = answers[n] if n < len(answers) else None
            pairs.append((r, response))
        return pairs

    @property
    def errors(self) -> "list[BaseException]":
        """Exceptions from handlers and the stats callback, and ordering failures."""
        return self._core.errors()

    def get_matching_requests_count(
        self,
        uri: Uri,
        method: Optional[str] = None,
        query_string: Optional[QueryString] = None,
        headers: Optional[Headers] = None,
        data: Optional[Union[str, bytes]] = None,
        json: Any = UNSET,
        *,
        prefix: bool = False,
        raw_path: bool = False,
        header_value_matcher: Optional[HeaderValueMatcher] = None,
        predicate: Optional[Callable[[Request], bool]] = None,
    ) -> int:
        """How many logged requests match, with the same rules as ``expect_request``
        (a body the log cut is compared exactly for ``data``; for ``json`` it cannot
        be, and ``ExpectationError`` says so)."""
        m = _matcher(
            uri, method, query_string, headers, data, json, prefix, raw_path, header_value_matcher, predicate
        )
        return sum(1 for r in self.log if m.matches(r))

    def assert_request_made(
        self,
        uri: Uri,
        method: Optional[str] = None,
        query_string: Optional[QueryString] = None,
        headers: Optional[Headers] = None,
        data: Optional[Union[str, bytes]] = None,
        json: Any = UNSET,
        *,
        prefix: bool = False,
        raw_path: bool = False,
        header_value_matcher: Optional[HeaderValueMatcher] = None,
        predicate: Optional[Callable[[Request], bool]] = None,
        count: int = 1,
    ) -> None:
        """Raises ``ExpectationError`` unless exactly ``count`` logged requests match."""
        m = _matcher(
            uri, method, query_string, headers, data, json, prefix, raw_path, header_value_matcher, predicate
        )
        log = self.log
        got = sum(1 for r in log if m.matches(r))
        if got != count:
            raise ExpectationError(
                f"expected {count} request(s) matching {m}, got {got}\n" + _describe_log(log)
            )

    def check_assertions(self) -> None:
        """Raises ``ExpectationError`` if anything went wrong while serving: a request
        no expectation matched, an ordered expectation requested out of order, or an
        exception in a handler or the stats callback (chained as the cause)."""
        problems: list[str] = []
        errors = self._core.errors()
        for e in errors:
            problems.append(f"{type(e).__name__}: {e}")
        dropped = self._core.errors_dropped
        if dropped:
            problems.append(f"... and {dropped} more errors not kept")
        if self._core.protocol == "http" and not self._fixed_response and self._core.state != "new":
            # Counted by the server, not found in the bounded log: an unexpected
            # request is reported however many requests came after it.
            count, first = self._core.unmatched()
            for r in first[:20]:
                problems.append(f"no expectation matched {r.method} {r.target}")
            if count > 20:
                problems.append(f"... and {count - 20} more unmatched requests")
        if problems:
            raise ExpectationError("\n".join(problems)) from (errors[0] if errors else None)

    check = check_assertions

    def assert_expectations_used(self) -> None:
        """Raises ``ExpectationError`` if an expectation with a use limit (oneshot,
        ordered) has not been used up."""
        unused = [h for h in self.handlers if h.uses is not None and h.hits < h.uses]
        if unused:
            lines = [f"{h.matcher}: {h.hits} of {h.uses} uses" for h in unused]
            raise ExpectationError("expectations not used up:\n  " + "\n  ".join(lines))

    def clear_log(self) -> None:
        """Empties the request log (and the connection log)."""
        if self._core.state != "new":
            self._core.clear_requests()

    def clear_assertions(self) -> None:
        """Forgets what ``check_assertions()`` would report: recorded errors
        (handler exceptions, ordering failures) and unmatched requests."""
        self._core.clear_errors()
        if self._core.state != "new":
            self._core.clear_unmatched()

    def clear_all_handlers(self) -> None:
        """Removes every expectation."""
        with self._lock:
            self._handlers.clear()
            self._ordering = Ordering()
            self._order_broken = False
            if self._core.state != "new":
                self._core.clear_routes()
                if self.is_running:
                    self._place_order_guard()

    def clear(self) -> None:
        """Removes every expectation and forgets the log and the errors: a fresh
        server for the next test, without a restart."""
        self.clear_all_handlers()
        self.clear_log()
        self.clear_assertions()


def _describe_log(log: "list[Request]", limit: int = 20) -> str:
    if not log:
        return "no requests were received"
    lines = [f"requests received ({len(log)}):"]
    for r in log[:limit]:
        lines.append(f"  {r.method} {r.target} ({r.body_len} body bytes)")
    if len(log) > limit:
        lines.append(f"  ... and {len(log) - limit} more")
    return "\n".join(lines)
