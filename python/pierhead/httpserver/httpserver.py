"""pytest-httpserver's ``HTTPServer`` API, served by pierhead.

The socket, HTTP/1.1 parsing, keep-alive, start and stop are pierhead's (start and
stop in well under a millisecond, where werkzeug's server takes up to half a
second to stop). Matching follows pytest-httpserver's rules exactly: a request is
turned into a ``werkzeug.Request`` on one of the server's handler threads (never
an I/O thread), dispatched to the ordered, oneshot and permanent handlers in that
order, and the ``werkzeug.Response`` it gets is sent by pierhead. Handlers,
matchers, hooks and ``header_value_matcher`` callables are the user's Python code
and run there too.

Switching a suite over: ``pytest -p pierhead.httpserver.pytest_plugin`` (or
``pytest_plugins = ["pierhead.httpserver.pytest_plugin"]`` in ``conftest.py``)
gives the ``httpserver`` fixtures, and ``from pierhead.httpserver import
HTTPServer`` replaces ``from pytest_httpserver import HTTPServer``. Requires
``werkzeug`` (``pip install "pierhead[httpserver]"``).
"""

from __future__ import annotations

import abc
import io
import ipaddress
import json as _json
import queue
import sys
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager, suppress
from copy import copy
from enum import Enum
from http import HTTPStatus
from re import Pattern
from ssl import SSLContext
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Optional, TypedDict, Union

import werkzeug.http
from werkzeug import Request, Response
from werkzeug.datastructures import Authorization, MultiDict
from werkzeug.exceptions import InternalServerError

import pierhead

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

    from .bake import BakedHTTPServer

__all__ = [
    "METHOD_ALL",
    "UNDEFINED",
    "URI_DEFAULT",
    "BooleanQueryMatcher",
    "Error",
    "HTTPServer",
    "HTTPServerBase",
    "HTTPServerError",
    "HandlerType",
    "HeaderValueMatcher",
    "MappingQueryMatcher",
    "NoHandlerError",
    "NoMethodFoundForMatchingHeaderValueError",
    "QueryMatcher",
    "RequestHandler",
    "RequestHandlerBase",
    "RequestHandlerList",
    "RequestMatcher",
    "RequestMatcherKwargs",
    "StringQueryMatcher",
    "URIPattern",
    "Undefined",
    "Waiting",
    "WaitingSettings",
]

#: ``uri`` that matches every path.
URI_DEFAULT = ""
#: ``method`` that matches every method.
METHOD_ALL = "__ALL"

HEADERS_T = Union[Mapping[str, Union[str, Iterable[str]]], Iterable["tuple[str, str]"]]
HVMATCHER_T = Callable[[str, Optional[str], str], bool]
# What an expectation's ``uri`` and ``query_string`` may be.
URI_T = Union[str, "URIPattern", "Pattern[str]"]
QUERY_STRING_T = Union[None, "QueryMatcher", str, bytes, Mapping[str, str]]


class Undefined:
    """The type of ``UNDEFINED``: ``json=`` not given (``None`` is valid JSON)."""

    def __repr__(self) -> str:
        return "<UNDEFINED>"


UNDEFINED = Undefined()


class Error(Exception):
    """Base of this module's exceptions."""


class NoHandlerError(Error):
    """A request matched an expectation that was given no response."""


class HTTPServerError(Error):
    """The server is in the wrong state for the call (started twice, not running)."""


class NoMethodFoundForMatchingHeaderValueError(Error):
    """A ``HeaderValueMatcher`` has no comparison for a header."""


class WaitingSettings:
    """Defaults for ``HTTPServer.wait()``."""

    def __init__(self, raise_assertions: bool = True, stop_on_nohandler: bool = True, timeout: float = 5) -> None:
        self.raise_assertions = raise_assertions
        self.stop_on_nohandler = stop_on_nohandler
        self.timeout = timeout


class Waiting:
    """What ``HTTPServer.wait()`` yields: ``result`` and ``elapsed_time`` once the
    block is over."""

    def __init__(self) -> None:
        self._result: Optional[bool] = None
        self._start = time.monotonic()
        self._stop: Optional[float] = None

    def complete(self, result: bool) -> None:
        self._result = result
        self._stop = time.monotonic()

    @property
    def result(self) -> bool:
        return bool(self._result)

    @property
    def elapsed_time(self) -> float:
        """Seconds from entering the block to the end of the wait."""
        if self._stop is None:
            raise TypeError("unsupported operand type(s) for -: 'NoneType' and 'float'")
        return self._stop - self._start


class HeaderValueMatcher:
    """Compares header values, per header name: by default exactly, and
    ``Authorization`` by its parsed value (so parameter order does not matter)."""

    DEFAULT_MATCHERS: ClassVar[MutableMapping[str, Callable[[Optional[str], str], bool]]]

    def __init__(self, matchers: Optional[Mapping[str, Callable[[Optional[str], str], bool]]] = None) -> None:
        self.matchers = self.DEFAULT_MATCHERS if matchers is None else matchers

    @staticmethod
    def authorization_header_value_matcher(actual: Optional[str], expected: str) -> bool:
        parse = getattr(Authorization, "from_header", None)
        if parse is None:  # werkzeug < 2.3
            parse = getattr(werkzeug.http, "parse_authorization_header")
        return bool(parse(actual) == parse(expected))

    @staticmethod
    def default_header_value_matcher(actual: Optional[str], expected: str) -> bool:
        return actual == expected

    def __call__(self, header_name: str, actual: Optional[str], expected: str) -> bool:
        try:
            compare = self.matchers[header_name]
        except KeyError:
            raise NoMethodFoundForMatchingHeaderValueError(
                f"No method found for matching header value: {header_name}"
            ) from None
        return compare(actual, expected)


HeaderValueMatcher.DEFAULT_MATCHERS = defaultdict(
    lambda: HeaderValueMatcher.default_header_value_matcher,
    {"Authorization": HeaderValueMatcher.authorization_header_value_matcher},
)


class QueryMatcher(abc.ABC):
    """Compares a request's query string: ``get_comparing_values`` gives two
    values that must be equal."""

    def match(self, request_query_string: bytes) -> bool:
        got, want = self.get_comparing_values(request_query_string)
        return bool(got == want)

    @abc.abstractmethod
    def get_comparing_values(self, request_query_string: bytes) -> "tuple[Any, Any]":
        """The request's value and the expected one."""


class StringQueryMatcher(QueryMatcher):
    """The query string, byte for byte (``str`` is encoded as UTF-8)."""

    def __init__(self, query_string: Union[bytes, str]) -> None:
        if not isinstance(query_string, (str, bytes)):
            raise TypeError("query_string must be a string, or a bytes-like object")
        self.query_string = query_string

    def get_comparing_values(self, request_query_string: bytes) -> "tuple[bytes, bytes]":
        if not isinstance(self.query_string, (str, bytes)):
            raise TypeError("query_string must be a string, or a bytes-like object")
        want = self.query_string.encode() if isinstance(self.query_string, str) else self.query_string
        return request_query_string, want


class MappingQueryMatcher(QueryMatcher):
    """Decoded parameters in any order: a dict compares the first value of each
    name, a werkzeug ``MultiDict`` all of them."""

    def __init__(self, query_dict: Union[Mapping[str, str], "MultiDict[str, str]"]) -> None:
        self.query_dict = query_dict

    def get_comparing_values(self, request_query_string: bytes) -> "tuple[Any, Any]":
        got: MultiDict[str, str] = MultiDict(urllib.parse.parse_qsl(request_query_string.decode("utf-8")))
        if isinstance(self.query_dict, MultiDict):
            return got, self.query_dict
        return got.to_dict(), dict(self.query_dict)


class BooleanQueryMatcher(QueryMatcher):
    """Every query string (``True``) or none (``False``)."""

    def __init__(self, result: bool) -> None:
        self.result = result

    def get_comparing_values(self, request_query_string: bytes) -> "tuple[bool, bool]":
        return True, self.result


def _query_matcher(query_string: QUERY_STRING_T) -> QueryMatcher:
    if isinstance(query_string, QueryMatcher):
        return query_string
    if query_string is None:
        return BooleanQueryMatcher(result=True)
    if isinstance(query_string, (str, bytes)):
        return StringQueryMatcher(query_string)
    if isinstance(query_string, Mapping):
        return MappingQueryMatcher(query_string)
    raise TypeError(f"Unable to cast this type to QueryMatcher: {type(query_string)!r}")


class URIPattern(abc.ABC):
    """A path condition of your own: ``match(path)`` gets the request's path
    (decoded, without the query)."""

    @abc.abstractmethod
    def match(self, uri: str) -> bool:
        """True if ``uri`` matches."""


class RequestMatcherKwargs(TypedDict, total=False):
    """The keyword arguments of ``expect_request()`` besides ``uri``."""

    method: str
    data: Union[str, bytes, None]
    data_encoding: str
    headers: Optional[Mapping[str, str]]
    query_string: QUERY_STRING_T
    header_value_matcher: Optional[HVMATCHER_T]
    json: Any


class RequestMatcher:
    """Which requests an expectation is about: ``uri`` (a path, ``URIPattern`` or
    compiled regex, matched from the start of the path), ``method``, ``data`` (the
    exact body), ``headers`` (compared by ``header_value_matcher``),
    ``query_string`` and ``json`` (the parsed body equals it)."""

    def __init__(
        self,
        uri: URI_T,
        method: str = METHOD_ALL,
        data: Union[str, bytes, None] = None,
        data_encoding: str = "utf-8",
        headers: Optional[Mapping[str, str]] = None,
        query_string: QUERY_STRING_T = None,
        header_value_matcher: Optional[HVMATCHER_T] = None,
        json: Any = UNDEFINED,
    ) -> None:
        if json is not UNDEFINED and data is not None:
            raise ValueError("data and json parameters are mutually exclusive")
        self.uri = uri
        self.method = method
        self.query_string = query_string
        self.query_matcher = _query_matcher(query_string)
        self.json = json
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        self.data = data.encode(data_encoding) if isinstance(data, str) else data
        self.data_encoding = data_encoding
        self.header_value_matcher: HVMATCHER_T = (
            header_value_matcher if header_value_matcher is not None else HeaderValueMatcher()
        )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} uri={self.uri!r} method={self.method!r} "
            f"query_string={self.query_string!r} headers={self.headers!r} data={self.data!r} json={self.json!r}>"
        )

    def match_data(self, request: Request) -> bool:
        return self.data is None or request.data == self.data

    def match_uri(self, request: Request) -> bool:
        path = request.path
        if isinstance(self.uri, URIPattern):
            return self.uri.match(path)
        if isinstance(self.uri, Pattern):
            return self.uri.match(path) is not None
        # Any object comparing equal to the path will do (not only str).
        return bool(self.uri == URI_DEFAULT or self.uri == path)

    def match_json(self, request: Request) -> bool:
        if self.json is UNDEFINED:
            return True
        try:
            return bool(_json.loads(request.data.decode(self.data_encoding)) == self.json)
        except (ValueError, UnicodeDecodeError):
            return False

    def difference(self, request: Request) -> "list[tuple[str, Any, Any]]":
        """The fields where ``request`` differs: (field, the request's value, the
        expected value); empty when it matches."""
        diff: list[tuple[str, Any, Any]] = []
        if not self.match_uri(request):
            diff.append(("uri", request.path, self.uri))
        if self.method not in (METHOD_ALL, request.method):
            diff.append(("method", request.method, self.method))
        if not self.query_matcher.match(request.query_string):
            diff.append(("query_string", request.query_string, self.query_string))
        got_headers: dict[str, Optional[str]] = {}
        want_headers: dict[str, str] = {}
        for name, want in self.headers.items():
            got = request.headers.get(name)
            if not self.header_value_matcher(name, got, want):
                got_headers[name] = got
                want_headers[name] = want
        if want_headers:
            diff.append(("headers", got_headers, want_headers))
        if not self.match_data(request):
            diff.append(("data", request.data, self.data))
        if not self.match_json(request):
            diff.append(("json", request.data, self.json))
        return diff

    def match(self, request: Request) -> bool:
        return not self.difference(request)


class RequestHandlerBase(abc.ABC):
    """The ``respond_with_*`` methods."""

    def respond_with_json(
        self,
        response_json: Any,
        status: int = HTTPStatus.OK.value,
        headers: Optional[Mapping[str, str]] = None,
        content_type: str = "application/json",
    ) -> None:
        """Answer with ``json.dumps(response_json, indent=4)``."""
        self.respond_with_data(_json.dumps(response_json, indent=4), status, headers, content_type=content_type)

    def respond_with_data(
        self,
        response_data: Union[str, bytes] = "",
        status: int = HTTPStatus.OK.value,
        headers: Optional[HEADERS_T] = None,
        mimetype: Optional[str] = None,
        content_type: Optional[str] = None,
    ) -> None:
        """Answer with this body; the arguments are ``werkzeug.Response``'s."""
        self.respond_with_response(Response(response_data, status, headers, mimetype, content_type))

    @abc.abstractmethod
    def respond_with_response(self, response: Response) -> None:
        """Answer with this ``werkzeug.Response``."""


class RequestHandler(RequestHandlerBase):
    """An expectation: its matcher and what it answers (a fixed response or a
    function of the request), then its post hooks in order."""

    def __init__(self, matcher: RequestMatcher) -> None:
        self.matcher = matcher
        self.request_handler: Optional[Callable[[Request], Response]] = None
        self._hooks: list[Callable[[Request, Response], Response]] = []

    def with_post_hook(self, hook: Callable[[Request, Response], Response]) -> "RequestHandler":
        """Passes each response through ``hook(request, response)`` (see
        ``pierhead.httpserver.hooks``); returns self, so hooks chain."""
        self._hooks.append(hook)
        return self

    def respond(self, request: Request) -> Response:
        if self.request_handler is None:
            raise NoHandlerError(
                f"Matching request handler found but no response defined: {request.method} {request.path}"
            )
        response = self.request_handler(request)
        for hook in self._hooks:
            response = hook(request, response)
        return response

    def respond_with_handler(self, func: Callable[[Request], Response]) -> None:
        """Answer with ``func(request)`` (a werkzeug ``Request``; return a
        ``Response``, a ``str`` or ``None``)."""
        self.request_handler = func

    def respond_with_response(self, response: Response) -> None:
        self.request_handler = lambda _request: response

    def __repr__(self) -> str:
        m = self.matcher
        return (
            f"<{type(self).__name__} uri={m.uri!r} method={m.method!r} query_string={m.query_string!r} "
            f"headers={m.headers!r} data={m.data!r} json={m.json!r}>"
        )


class RequestHandlerList(list[RequestHandler]):
    """Expectations, tried in order."""

    def match(self, request: Request) -> Optional[RequestHandler]:
        """The first one whose matcher matches ``request``."""
        return next((h for h in self if h.matcher.match(request)), None)


class HandlerType(Enum):
    PERMANENT = "permanent"
    ONESHOT = "oneshot"
    ORDERED = "ordered"


# Headers the pierhead engine writes itself; a werkzeug response's are dropped.
_ENGINE_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "date", "server"})


def _environ(request: pierhead.Request, host: str, port: int) -> "dict[str, Any]":
    """The WSGI environ werkzeug's own server would build for ``request``."""
    target = request.target
    if target.startswith(("http://", "https://")):
        parts = urllib.parse.urlsplit(target)
        path, query = parts.path or "/", parts.query
    else:
        path, _, query = target.partition("?")
    body = request.body
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        # Decoded, as bytes in a latin-1 str: the WSGI convention werkzeug reads.
        "PATH_INFO": urllib.parse.unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "REQUEST_URI": target,
        "RAW_URI": target,
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": request.version,
        # The engine does not report the peer; the server's own address is the
        # one a loopback test client has.
        "REMOTE_ADDR": "::1" if ":" in host else "127.0.0.1",
        "REMOTE_PORT": 0,
        # Filled from the headers below; werkzeug leaves out empty ones.
        "CONTENT_TYPE": "",
        "CONTENT_LENGTH": "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request.headers:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if environ.get(key) else value
    if "HTTP_TRANSFER_ENCODING" in environ:
        # The engine decoded the chunked body: the input is the body, to its end.
        environ["wsgi.input_terminated"] = True
    return environ


def _to_pierhead(response: Response, head: bool) -> pierhead.Response:
    """A werkzeug response as the engine sends it (framing headers are its own)."""
    headers = [(n, v) for n, v in response.headers.items() if n.lower() not in _ENGINE_HEADERS]
    body = b"" if head else response.get_data()
    return pierhead.Response(body, response.status_code, headers)


class HTTPServerBase(abc.ABC):
    """A pierhead server answering through ``dispatch(werkzeug.Request)``, with the
    log, assertions and handler errors pytest-httpserver keeps.

    ``log`` is a list of (``werkzeug.Request``, ``werkzeug.Response``) pairs;
    ``no_handler_status_code`` (default 500) is the status of unmatched requests
    and may be changed while running. ``ssl_context`` is not supported (pierhead
    makes its own certificates: use ``pierhead.Server(tls=True)``)."""

    def __init__(
        self,
        host: str,
        port: int,
        ssl_context: Optional[SSLContext] = None,
        *,
        threaded: bool = False,
    ) -> None:
        if ssl_context is not None:
            raise HTTPServerError(
                "ssl_context is not supported by pierhead.httpserver: use pierhead.Server(tls=True), "
                "which makes its own CA and certificate"
            )
        self.host = host
        self.port = port
        self.server: Optional[pierhead.Server] = None
        self.assertions: list[Union[str, AssertionError]] = []
        self.handler_errors: list[Exception] = []
        self.log: list[tuple[Request, Response]] = []
        self.ssl_context = ssl_context
        self.threaded = threaded
        self.no_handler_status_code = 500

    def __repr__(self) -> str:
        return f"<{type(self).__name__} host={self.host} port={self.port}>"

    def clear(self) -> None:
        """Forgets assertions, handler errors and the log; unmatched status 500."""
        self.clear_assertions()
        self.clear_handler_errors()
        self.clear_log()
        self.no_handler_status_code = 500

    def clear_assertions(self) -> None:
        self.assertions = []

    def clear_handler_errors(self) -> None:
        self.handler_errors = []

    def clear_log(self) -> None:
        self.log = []

    def url_for(self, suffix: str) -> str:
        """``http://HOST:PORT/suffix`` (IPv6 hosts in brackets)."""
        if not suffix.startswith("/"):
            suffix = "/" + suffix
        scheme = "http" if self.ssl_context is None else "https"
        return f"{scheme}://{self.format_host(self.host)}:{self.port}{suffix}"

    def create_matcher(self, *args: Any, **kwargs: Any) -> RequestMatcher:
        """Makes the matcher of an expectation; override to use your own."""
        return RequestMatcher(*args, **kwargs)

    def _matcher_of(
        self,
        uri: URI_T,
        method: str,
        data: Union[str, bytes, None],
        data_encoding: str,
        headers: Optional[Mapping[str, str]],
        query_string: QUERY_STRING_T,
        header_value_matcher: Optional[HVMATCHER_T],
        json: Any,
    ) -> RequestMatcher:
        """``create_matcher`` with the method compared case-insensitively."""
        return self.create_matcher(
            uri,
            method=method.upper(),
            data=data,
            data_encoding=data_encoding,
            headers=headers,
            query_string=query_string,
            header_value_matcher=header_value_matcher,
            json=json,
        )

    def is_running(self) -> bool:
        return self.server is not None

    def start(self) -> None:
        """Listens and serves from pierhead's threads; returns at once
        (``HTTPServerError`` if already running)."""
        if self.is_running():
            raise HTTPServerError("Server is already running")
        server = pierhead.Server(
            "http",
            self.host,
            self.port,
            # Like werkzeug's server, one request at a time unless threaded.
            handler_threads=16 if self.threaded else 1,
            handler_timeout=3600,
            max_body_bytes=1 << 30,
            request_log=0,
        )
        server.expect_request("/", prefix=True).respond_with_handler(self._serve)
        server.expect_request("*").respond_with_handler(self._serve)
        server.start()
        self.server = server
        self.port = server.port

    def stop(self) -> None:
        """Stops (``HTTPServerError`` if not running). In-flight handlers get a
        second to finish."""
        if self.server is None:
            raise HTTPServerError("Server is not running")
        server, self.server = self.server, None
        server.stop(1.0)

    def _serve(self, request: pierhead.Request) -> pierhead.Response:
        """The engine's handler, on a handler thread: werkzeug in, werkzeug out."""
        wrequest = Request(_environ(request, self.host, self.port))
        try:
            response = self.application(wrequest)
        except Exception:
            # As werkzeug's server does when the application raises.
            response = InternalServerError().get_response()
        return _to_pierhead(response, request.method == "HEAD")

    def add_assertion(self, obj: Union[str, AssertionError]) -> None:
        """Queues an assertion for ``check_assertions()``."""
        self.assertions.append(obj)

    def check(self) -> None:
        """``check_assertions()`` then ``check_handler_errors()``."""
        self.check_assertions()
        self.check_handler_errors()

    def check_assertions(self) -> None:
        """Raises (and forgets) the first queued assertion, if any."""
        if self.assertions:
            assertion = self.assertions.pop(0)
            if isinstance(assertion, AssertionError):
                raise assertion
            raise AssertionError(assertion)

    def check_handler_errors(self) -> None:
        """Raises (and forgets) the first exception a handler raised, if any."""
        if self.handler_errors:
            raise self.handler_errors.pop(0)

    def respond_nohandler(self, request: Request, extra_message: str = "") -> Response:
        """The answer to an unexpected request; queues an assertion about it."""
        text = f"No handler found for request {request!r} with data {request.data!r}."
        self.add_assertion(text + extra_message)
        return Response(text + extra_message, self.no_handler_status_code)

    @abc.abstractmethod
    def dispatch(self, request: Request) -> Response:
        """The response to ``request``."""

    def application(self, request: Request) -> Response:
        """Dispatches, then logs the pair."""
        request.get_data()
        response = self.dispatch(request)
        self.log.append((request, response))
        return response

    def __enter__(self) -> "Self":
        if not self.is_running():
            self.start()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        if self.is_running():
            self.stop()

    @staticmethod
    def format_host(host: str) -> str:
        """``::1`` as ``[::1]``, for URLs."""
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return host
        return host if host.startswith("[") else f"[{host}]"


class HTTPServer(HTTPServerBase):
    """pytest-httpserver's ``HTTPServer`` on pierhead: ordered, oneshot and
    permanent expectations, ``wait()``, log queries, ``bake()``."""

    DEFAULT_LISTEN_HOST = "localhost"
    DEFAULT_LISTEN_PORT = 0

    def __init__(
        self,
        host: str = DEFAULT_LISTEN_HOST,
        port: int = DEFAULT_LISTEN_PORT,
        ssl_context: Optional[SSLContext] = None,
        default_waiting_settings: Optional[WaitingSettings] = None,
        *,
        threaded: bool = False,
        startup_timeout: Optional[float] = None,
    ) -> None:
        super().__init__(host, port, ssl_context, threaded=threaded)
        self.ordered_handlers: list[RequestHandler] = []
        self.oneshot_handlers = RequestHandlerList()
        self.handlers = RequestHandlerList()
        self.permanently_failed = False
        self.default_waiting_settings = default_waiting_settings or WaitingSettings()
        self._waiting_settings = copy(self.default_waiting_settings)
        self._waiting_result: queue.LifoQueue[bool] = queue.LifoQueue(maxsize=1)
        self.startup_timeout = startup_timeout
        self._readiness_check_pending = False

    def start(self) -> None:
        super().start()
        self._readiness_check_pending = self.startup_timeout is not None
        try:
            self.wait_for_server_ready()
        except Exception:
            self.stop()
            raise

    def wait_for_server_ready(self) -> None:
        """With ``startup_timeout``, one request to ``/`` must get ``200 OK``
        (answered by the server itself) before ``start()`` returns."""
        if not self._readiness_check_pending:
            return
        url = self.url_for("/")
        with urllib.request.urlopen(url, timeout=self.startup_timeout) as resp:  # noqa: S310
            if resp.status != HTTPStatus.OK.value or resp.read() != b"OK":
                raise HTTPServerError(f"Readiness check failed with status code: {resp.status}")

    def clear(self) -> None:
        """Also removes every expectation and leaves the permanent-failure mode."""
        super().clear()
        self.clear_all_handlers()
        self.permanently_failed = False

    def clear_all_handlers(self) -> None:
        self.ordered_handlers = []
        self.oneshot_handlers = RequestHandlerList()
        self.handlers = RequestHandlerList()

    def expect(self, matcher: RequestMatcher, handler_type: HandlerType = HandlerType.PERMANENT) -> RequestHandler:
        """Registers an expectation for a matcher you built."""
        handler = RequestHandler(matcher)
        if handler_type == HandlerType.PERMANENT:
            self.handlers.append(handler)
        elif handler_type == HandlerType.ONESHOT:
            self.oneshot_handlers.append(handler)
        elif handler_type == HandlerType.ORDERED:
            self.ordered_handlers.append(handler)
        return handler

    def expect_request(
        self,
        uri: URI_T,
        method: str = METHOD_ALL,
        data: Union[str, bytes, None] = None,
        data_encoding: str = "utf-8",
        headers: Optional[Mapping[str, str]] = None,
        query_string: QUERY_STRING_T = None,
        header_value_matcher: Optional[HVMATCHER_T] = None,
        handler_type: HandlerType = HandlerType.PERMANENT,
        json: Any = UNDEFINED,
    ) -> RequestHandler:
        """Expects requests matching these conditions (see ``RequestMatcher``);
        answer them with the returned handler's ``respond_with_*``."""
        matcher = self._matcher_of(
            uri, method, data, data_encoding, headers, query_string, header_value_matcher, json
        )
        return self.expect(matcher, handler_type)

    def expect_oneshot_request(
        self,
        uri: URI_T,
        method: str = METHOD_ALL,
        data: Union[str, bytes, None] = None,
        data_encoding: str = "utf-8",
        headers: Optional[Mapping[str, str]] = None,
        query_string: QUERY_STRING_T = None,
        header_value_matcher: Optional[HVMATCHER_T] = None,
        json: Any = UNDEFINED,
    ) -> RequestHandler:
        """Answered once."""
        return self.expect_request(
            uri, method, data, data_encoding, headers, query_string, header_value_matcher, HandlerType.ONESHOT, json
        )

    def expect_ordered_request(
        self,
        uri: URI_T,
        method: str = METHOD_ALL,
        data: Union[str, bytes, None] = None,
        data_encoding: str = "utf-8",
        headers: Optional[Mapping[str, str]] = None,
        query_string: QUERY_STRING_T = None,
        header_value_matcher: Optional[HVMATCHER_T] = None,
        json: Any = UNDEFINED,
    ) -> RequestHandler:
        """Answered once, and only after every ordered expectation made before it;
        a request out of order fails it and every later request."""
        return self.expect_request(
            uri, method, data, data_encoding, headers, query_string, header_value_matcher, HandlerType.ORDERED, json
        )

    def format_matchers(self) -> str:
        """The expectations, for error messages."""

        def listed(handlers: Iterable[RequestHandler]) -> "list[str]":
            lines = [f"    {h.matcher!r}" for h in handlers]
            return lines or ["    none"]

        return "\n".join(
            ["Ordered matchers:", *listed(self.ordered_handlers), ""]
            + ["Oneshot matchers:", *listed(self.oneshot_handlers), ""]
            + ["Persistent matchers:", *listed(self.handlers)]
        )

    def respond_nohandler(self, request: Request, extra_message: str = "") -> Response:
        if self._waiting_settings.stop_on_nohandler:
            self._set_waiting_result(False)
        return super().respond_nohandler(request, self.format_matchers() + extra_message)

    def respond_permanent_failure(self) -> Response:
        """The answer once an ordered expectation was missed."""
        self.add_assertion("All requests will be permanently failed due failed ordered handler")
        return Response("No handler found for this request", 500)

    def _pick(self, request: Request) -> "tuple[Optional[RequestHandler], Optional[Response]]":
        """The expectation that answers ``request``, or the error answer."""
        if self.ordered_handlers:
            first = self.ordered_handlers[0]
            if not first.matcher.match(request):
                self.permanently_failed = True
                return None, self.respond_nohandler(request)
            self.ordered_handlers.pop(0)
            self._update_waiting_result()
            return first, None
        once = self.oneshot_handlers.match(request)
        if once is not None:
            self.oneshot_handlers.remove(once)
            self._update_waiting_result()
            return once, None
        permanent = self.handlers.match(request)
        if permanent is None:
            return None, self.respond_nohandler(request)
        return permanent, None

    def dispatch(self, request: Request) -> Response:
        """Ordered expectations first (the next one must match), then oneshot,
        then permanent ones; handler exceptions are kept for ``check()``."""
        if self._readiness_check_pending:
            self._readiness_check_pending = False
            return Response(HTTPStatus.OK.phrase, status=HTTPStatus.OK.value)
        if self.permanently_failed:
            return self.respond_permanent_failure()
        handler, failure = self._pick(request)
        if handler is None:
            assert failure is not None
            return failure
        try:
            response: Union[Response, str, None] = handler.respond(request)
        except Error:
            raise
        except AssertionError as e:
            self.add_assertion(e)
            raise
        except Exception as e:
            self.handler_errors.append(e)
            raise
        if response is None:
            return Response("")
        if isinstance(response, str):
            return Response(response)
        return response

    def _set_waiting_result(self, value: bool) -> None:
        with suppress(queue.Full):
            self._waiting_result.put_nowait(value)

    def _update_waiting_result(self) -> None:
        if not self.oneshot_handlers and not self.ordered_handlers:
            self._set_waiting_result(True)

    @contextmanager
    def wait(
        self,
        raise_assertions: Optional[bool] = None,
        stop_on_nohandler: Optional[bool] = None,
        timeout: Optional[float] = None,
    ) -> Generator[Waiting, None, None]:
        """Waits after the block until every oneshot and ordered expectation was
        used, an unexpected request came (``stop_on_nohandler``), or ``timeout``
        passed; ``raise_assertions`` raises on the latter two."""
        d = self.default_waiting_settings
        s = self._waiting_settings
        s.raise_assertions = d.raise_assertions if raise_assertions is None else raise_assertions
        s.stop_on_nohandler = d.stop_on_nohandler if stop_on_nohandler is None else stop_on_nohandler
        s.timeout = d.timeout if timeout is None else timeout
        with suppress(queue.Empty):
            self._waiting_result.get_nowait()
        waiting = Waiting()
        yield waiting
        try:
            waiting.complete(self._waiting_result.get(timeout=s.timeout))
        except queue.Empty:
            waiting.complete(False)
            if s.raise_assertions:
                raise AssertionError(
                    "Wait timeout occurred, but some handlers left:\n" + self.format_matchers()
                ) from None
        if s.raise_assertions and not waiting.result:
            self.check_assertions()

    def iter_matching_requests(self, matcher: RequestMatcher) -> Iterator["tuple[Request, Response]"]:
        """The logged (request, response) pairs whose request matches."""
        return ((req, resp) for req, resp in list(self.log) if matcher.match(req))

    def get_matching_requests_count(self, matcher: RequestMatcher) -> int:
        return sum(1 for _ in self.iter_matching_requests(matcher))

    def assert_request_made(self, matcher: RequestMatcher, *, count: int = 1) -> None:
        """Asserts that exactly ``count`` logged requests match; the message shows
        the logged requests with the same path."""
        got = self.get_matching_requests_count(matcher)
        if got == count:
            return
        lines = [f"Matching request found {got} times but expected {count} times.", f"Expected request: {matcher}"]
        similar = [req for req, _ in self.log if req.path == matcher.uri]
        if similar:
            lines.append(f"Found {len(similar)} similar request(s):")
            for req in similar:
                lines += [
                    "--- Similar Request Start",
                    f"Path: {req.path}",
                    f"Method: {req.method}",
                    f"Body: {req.get_data()!r}",
                    f"Headers: {req.headers}",
                    f"Query String: {req.query_string.decode('utf-8')!r}",
                    "--- Similar Request End",
                ]
        else:
            lines.append("No similar requests found.")
        raise AssertionError("\n".join(lines) + "\n")

    def bake(self, **kwargs: "Unpack[RequestMatcherKwargs]") -> "BakedHTTPServer":
        """A proxy whose ``expect_*request`` methods default to these arguments."""
        from .bake import BakedHTTPServer

        return BakedHTTPServer(self, **kwargs)

