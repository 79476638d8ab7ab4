"""Assertions: what a :class:`~pierhead.Server` received, checked against what it
was told to expect; waiting for requests (and WebSocket messages) to arrive.

The request log and the WebSocket message log are Rust's (``requests()``,
``ws_connections()``); this layer matches them against matchers, describes what
arrived, and turns unmatched requests, handler errors and unused expectations
into ``ExpectationError``.
"""

from __future__ import annotations

import time
from http import HTTPStatus
from typing import Any, Callable, Optional, Union

from ._errors import ExpectationError
from ._expectations import UNSET, HeaderValueMatcher, Headers, QueryString, Uri, _Expectations, _matcher
from ._pierhead import Fault, Request, Response, WsConnection

__all__: "list[str]" = []


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


class _Assertions(_Expectations):
    """The assertions part of :class:`~pierhead.Server`: the log, the checks on
    it, and waiting for what is expected."""

    _unmatched_status: int
    _fixed_response: bool

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
        """Empties the request log (and the connection log, and the WebSocket
        message log)."""
        if self._core.state != "new":
            self._core.clear_requests()

    def clear_assertions(self) -> None:
        """Forgets what ``check_assertions()`` would report: recorded errors
        (handler exceptions, ordering failures) and unmatched requests."""
        self._core.clear_errors()
        if self._core.state != "new":
            self._core.clear_unmatched()

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
            return stop_on_unmatched and self._core.is_running and self._core.unmatched()[0] > 0

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

    # -- WebSocket endpoints (expect_websocket) --------------------------------------

    def ws_connections(self) -> "list[WsConnection]":
        """The connections of WebSocket endpoints, oldest first (the last
        ``request_log`` of them): what each client sent (``messages``: ``str`` for
        text, ``bytes`` for binary, in order) and how it ended (``closed``, and the
        client's ``close_code`` and ``close_reason``). Empty with
        ``request_log=0``."""
        if self._core.state == "new":
            return []
        return self._core.ws_connections()

    def wait_for_ws_connection(self, target_or_path: Optional[str] = None, timeout: float = 5.0) -> WsConnection:
        """Waits until a client has connected to a WebSocket endpoint at
        ``target_or_path`` (a path, compared with ``WsConnection.path``; with a
        ``?``, the whole target; ``None``: any) and returns the newest such
        connection; ``ExpectationError`` after ``timeout`` seconds, with the
        connections there were."""
        found: "list[WsConnection]" = []

        def connected() -> bool:
            found[:] = [c for c in self.ws_connections() if _ws_at(c, target_or_path)]
            return bool(found)

        if not _poll(connected, timeout):
            raise ExpectationError(
                f"waited {timeout} s for a WebSocket connection to {target_or_path or 'any endpoint'}, got none\n"
                + _describe_ws(self.ws_connections())
            )
        return found[-1]

    def wait_for_ws_messages(
        self, count: int, *, path: Optional[str] = None, timeout: float = 5.0
    ) -> "list[Union[str, bytes]]":
        """Waits until the newest connection at ``path`` (as in
        ``wait_for_ws_connection``; ``None``: any endpoint) has sent at least
        ``count`` messages, and returns its messages; ``ExpectationError`` after
        ``timeout`` seconds, saying what it had sent. For a client whose messages
        get no answer to wait for (a script, a room)."""
        newest: "list[WsConnection]" = []

        def enough() -> bool:
            newest[:] = [c for c in self.ws_connections() if _ws_at(c, path)][-1:]
            return bool(newest) and len(newest[0].messages) >= count

        if not _poll(enough, timeout):
            where = path or "any endpoint"
            if not newest:
                got = f"no connection to {where}\n" + _describe_ws(self.ws_connections())
            else:
                got = f"connection {newest[0].connection_id} sent {len(newest[0].messages)}: {newest[0].messages!r}"
            raise ExpectationError(f"waited {timeout} s for {count} WebSocket message(s) at {where}, got {got}")
        return newest[0].messages

    def assert_ws_received(self, path: str, messages: "list[Union[str, bytes]]") -> None:
        """Raises ``ExpectationError`` unless some connection at ``path`` (as in
        ``wait_for_ws_connection``) sent exactly ``messages``, in order (``str``
        is a text message, ``bytes`` a binary one). It looks at the log as it
        is: after an answer the client read, the message is there; for messages
        that get no answer, ``wait_for_ws_messages`` first."""
        want = list(messages)
        conns = [c for c in self.ws_connections() if _ws_at(c, path)]
        if any(c.messages == want and c.messages_evicted == 0 for c in conns):
            return
        raise ExpectationError(
            f"no WebSocket connection at {path} sent {want!r}\n" + _describe_ws(conns, f"connections at {path}")
        )

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


def _ws_at(connection: WsConnection, target_or_path: Optional[str]) -> bool:
    """Whether a connection is at this path (or, with a ``?``, this target)."""
    if target_or_path is None:
        return True
    if "?" in target_or_path:
        return connection.target == target_or_path
    return connection.path == target_or_path


def _describe_ws(connections: "list[WsConnection]", what: str = "WebSocket connections", limit: int = 20) -> str:
    if not connections:
        return f"{what}: none"
    lines = [f"{what} ({len(connections)}):"]
    if len(connections) > limit:
        lines.append(f"  ... {len(connections) - limit} earlier ones, then")
    for c in connections[-limit:]:
        evicted = f" after {c.messages_evicted} evicted" if c.messages_evicted else ""
        lines.append(f"  {c.connection_id} {c.target}: {c.messages!r}{evicted}")
    return "\n".join(lines)


def _describe_log(log: "list[Request]", limit: int = 20) -> str:
    if not log:
        return "no requests were received"
    lines = [f"requests received ({len(log)}):"]
    for r in log[:limit]:
        lines.append(f"  {r.method} {r.target} ({r.body_len} body bytes)")
    if len(log) > limit:
        lines.append(f"  ... and {len(log) - limit} more")
    return "\n".join(lines)
