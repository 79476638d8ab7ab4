"""``BlockingHTTPServer``: the test thread takes each request and answers it.

``assert_request(...)`` waits for the next request, checks it against the
conditions, and returns a handler whose ``respond_with_*`` sends the answer;
meanwhile the request waits on a pierhead handler thread, never an I/O thread."""

from __future__ import annotations

from collections.abc import Mapping
from queue import Empty, Queue
from ssl import SSLContext
from typing import Any, Optional, Union

from werkzeug import Request, Response

from .httpserver import (
    METHOD_ALL,
    QUERY_STRING_T,
    UNDEFINED,
    URI_T,
    HeaderValueMatcher,
    HTTPServerBase,
    RequestHandlerBase,
)

__all__ = ["BlockingHTTPServer", "BlockingRequestHandler"]


class BlockingRequestHandler(RequestHandlerBase):
    """Answers one request, from the test thread."""

    def __init__(self) -> None:
        self.response_queue: Queue[Response] = Queue()

    def respond_with_response(self, response: Response) -> None:
        self.response_queue.put_nowait(response)


class BlockingHTTPServer(HTTPServerBase):
    """A server whose requests are answered by the test as they come; ``timeout``
    (seconds) bounds how long a request waits to be taken and then answered."""

    DEFAULT_LISTEN_HOST = "localhost"
    DEFAULT_LISTEN_PORT = 0

    def __init__(
        self,
        host: str = DEFAULT_LISTEN_HOST,
        port: int = DEFAULT_LISTEN_PORT,
        ssl_context: Optional[SSLContext] = None,
        timeout: int = 30,
    ) -> None:
        super().__init__(host, port, ssl_context)
        self.timeout = timeout
        self.request_queue: Queue[Request] = Queue()
        self.request_handlers: dict[Request, Queue[BlockingRequestHandler]] = {}

    def assert_request(
        self,
        uri: URI_T,
        method: str = METHOD_ALL,
        data: Union[str, bytes, None] = None,
        data_encoding: str = "utf-8",
        headers: Optional[Mapping[str, str]] = None,
        query_string: QUERY_STRING_T = None,
        header_value_matcher: Optional[HeaderValueMatcher] = None,
        json: Any = UNDEFINED,
        timeout: int = 30,
    ) -> BlockingRequestHandler:
        """Takes the next request (``AssertionError`` if none comes within
        ``timeout``), checks it (``AssertionError`` naming the differences, and the
        request gets the unmatched answer), and returns its handler."""
        matcher = self._matcher_of(
            uri, method, data, data_encoding, headers, query_string, header_value_matcher, json
        )
        try:
            request = self.request_queue.get(timeout=timeout)
        except Empty:
            raise AssertionError(f"Waiting for request {matcher} timed out") from None
        diff = matcher.difference(request)
        handler = BlockingRequestHandler()
        self.request_handlers[request].put_nowait(handler)
        if diff:
            handler.respond_with_response(self.respond_nohandler(request))
            raise AssertionError(f"Request {matcher} does not match: {diff}")
        return handler

    def dispatch(self, request: Request) -> Response:
        """Hands the request to the test thread and waits for its answer."""
        self.request_handlers[request] = Queue()
        try:
            self.request_queue.put_nowait(request)
            try:
                handler = self.request_handlers[request].get(timeout=self.timeout)
            except Empty:
                return self.respond_nohandler(request)
            try:
                return handler.response_queue.get(timeout=self.timeout)
            except Empty:
                assertion = AssertionError(f"No response for request: {request}")
                self.add_assertion(assertion)
                raise assertion from None
        finally:
            del self.request_handlers[request]
