"""Expectations: what a :class:`~pierhead.Server` is told to expect and answer.

``expect_request`` and its kin make a :class:`RequestHandler` (a matcher, then
an answer from one of its ``respond_with_*`` methods); its route goes into the
server's route table at the expectation's place (``insert_route``: in one step,
the routes after it never missing meanwhile). :class:`PendingRequest` is a
request held for the test thread (``respond_later``). The matching itself is
Rust's (``pierhead._pierhead.Matcher``).
"""

from __future__ import annotations

import json as _json
import queue
import re
import threading
import weakref
from urllib.parse import unquote as _unquote
from typing import Any, Callable, Iterable, Mapping, Optional, Protocol, Union

from . import _pierhead
from ._errors import ConfigError, ExpectationError, ServerStateError
from ._pierhead import Chaos, Fault, Matcher, Ordering, Request, Response, Route, WebSocket

__all__ = [
    "RequestHandler",
    "PendingRequest",
    "HandlerResult",
    "QueryString",
    "Headers",
    "Uri",
    "URIPattern",
    "HeaderValueMatcher",
    "UNSET",
]

#: What a ``respond_with_handler`` callable may return.
HandlerResult = Union[Response, str, bytes]
#: A query-string condition: exact text, or parameters compared in any order.
QueryString = Union[str, bytes, Mapping[str, Union[str, Iterable[str]]]]
#: Header conditions or response headers.
Headers = Union[Mapping[str, str], Iterable["tuple[str, str]"]]


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
        server: "_Expectations",
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
    def _server(self) -> "_Expectations":
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

    def respond_with_websocket(self, websocket: WebSocket) -> None:
        """Upgrade matching requests to WebSocket and serve the connection as
        ``websocket`` says (:class:`~pierhead.WebSocket`: echo, a room, a script or
        a handler, with its faults). A matching request that is not a valid opening
        handshake is refused (426 without ``Upgrade: websocket``, 405 for another
        method than GET); the upgrade is in the request log, and what each client
        sends in ``ws_connections()``. Not for ordered expectations."""
        _check_websocket(websocket)
        route = Route(self.matcher, websocket=websocket, uses=self.uses, ordering=self._ordering)
        self._response, self._answers = None, {}
        self._install(route)

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


def _check_websocket(websocket: object) -> None:
    if not isinstance(websocket, WebSocket):
        raise ConfigError(
            f"invalid config field `websocket`: must be pierhead.WebSocket, not {type(websocket).__name__}",
            "websocket",
        )


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


class _Expectations:
    """The expectations part of :class:`~pierhead.Server`: declaring them, and
    keeping their routes in the core's table in the declared order."""

    _core: _pierhead.Server
    _lock: threading.Lock
    _handlers: "list[RequestHandler]"
    _ordering: Ordering
    _strict_ordering: bool
    _order_broken: bool
    # Requests held for the test thread (``respond_later``), oldest first.
    _held: "queue.Queue[PendingRequest]"

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

    def expect_websocket(
        self,
        uri: Uri,
        websocket: WebSocket,
        *,
        query_string: Optional[QueryString] = None,
        headers: Optional[Headers] = None,
        prefix: bool = False,
        raw_path: bool = False,
        predicate: Optional[Callable[[Request], bool]] = None,
        uses: Optional[int] = None,
    ) -> RequestHandler:
        """A WebSocket endpoint at ``uri``: ``expect_request(uri, ...)``
        answered with ``respond_with_websocket(websocket)``. Connect to
        ``server.ws_url_for(uri)``."""
        _check_websocket(websocket)
        handler = self.expect_request(
            uri,
            query_string=query_string,
            headers=headers,
            prefix=prefix,
            raw_path=raw_path,
            predicate=predicate,
            uses=uses,
        )
        handler.respond_with_websocket(websocket)
        return handler

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

    @property
    def handlers(self) -> "list[RequestHandler]":
        """The expectations, in the order they are tried."""
        with self._lock:
            return list(self._handlers)

    def clear_all_handlers(self) -> None:
        """Removes every expectation."""
        with self._lock:
            self._handlers.clear()
            self._ordering = Ordering()
            self._order_broken = False
            if self._core.state != "new":
                self._core.clear_routes()
                if self._core.is_running:
                    self._place_order_guard()

    def _install(self, handler: RequestHandler) -> None:
        """Puts a handler's route in place, at its declared position (if the server
        runs and the handler has an answer)."""
        if handler._route is None or not self._core.is_running:
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
            self._insert(handler)

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
        """Adds these handlers' routes, in order, after every other route (at
        start, when none is placed). Called with the lock held."""
        for h in handlers:
            left = h._uses_left()
            if h._route is not None and left != 0:
                h._route_id = self._core.add_route(h._route.with_uses(left))

    def _insert(self, handler: RequestHandler) -> None:
        """Puts the route of a handler not placed yet at its declared place:
        before the route of the next placed handler after it (in one step: the
        routes after it never go missing), or after every route. Called with the
        lock held."""
        left = handler._uses_left()
        if handler._route is None or left == 0:
            return
        route = handler._route.with_uses(left)
        later = self._handlers[self._handlers.index(handler) + 1 :]
        following = next((h._route_id for h in later if h._route_id is not None), None)
        if following is None:
            handler._route_id = self._core.add_route(route)
        else:
            position = self._core.route_ids().index(following)
            handler._route_id = self._core.insert_route(position, route)
