"""``HTTPServer.bake()``: an ``HTTPServer`` with default arguments for its
``expect_*request`` methods."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

    from .httpserver import URI_T, HTTPServer, RequestHandler, RequestMatcherKwargs

__all__ = ["BakedHTTPServer"]


class BakedHTTPServer:
    """Delegates to its server; ``expect_request``, ``expect_oneshot_request``
    and ``expect_ordered_request`` merge the baked keyword arguments under the
    ones given at the call (the call's win). As a context manager it starts the
    server if it was not running, and stops it at the end of the outermost block."""

    def __init__(self, server: "HTTPServer", **kwargs: "Unpack[RequestMatcherKwargs]") -> None:
        self._server = server
        self._defaults = kwargs
        self._context_depth = 0
        self._started_server = False

    def __enter__(self) -> "Self":
        if self._context_depth == 0:
            self._started_server = not self._server.is_running()
            self._server.__enter__()
        self._context_depth += 1
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self._context_depth -= 1
        if self._context_depth == 0 and self._started_server:
            self._started_server = False
            self._server.__exit__(exc_type, exc_value, traceback)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} defaults={self._defaults!r} server={self._server!r}>"

    def _merged(self, kwargs: "RequestMatcherKwargs") -> "RequestMatcherKwargs":
        return {**self._defaults, **kwargs}

    def bake(self, **kwargs: "Unpack[RequestMatcherKwargs]") -> "Self":
        """Another layer of defaults over these."""
        return type(self)(self._server, **self._merged(kwargs))

    def expect_request(
        self, uri: "URI_T", **kwargs: "Unpack[RequestMatcherKwargs]"
    ) -> "RequestHandler":
        return self._server.expect_request(uri, **self._merged(kwargs))

    def expect_oneshot_request(
        self, uri: "URI_T", **kwargs: "Unpack[RequestMatcherKwargs]"
    ) -> "RequestHandler":
        return self._server.expect_oneshot_request(uri, **self._merged(kwargs))

    def expect_ordered_request(
        self, uri: "URI_T", **kwargs: "Unpack[RequestMatcherKwargs]"
    ) -> "RequestHandler":
        return self._server.expect_ordered_request(uri, **self._merged(kwargs))
