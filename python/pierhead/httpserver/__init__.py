"""pytest-httpserver's API on pierhead: change ``pytest_httpserver`` to
``pierhead.httpserver`` in imports, and load the fixtures with
``-p pierhead.httpserver.pytest_plugin``. See ``pierhead.httpserver.httpserver``
for what differs. Requires werkzeug (``pip install "pierhead[httpserver]"``)."""

from .bake import BakedHTTPServer
from .blocking_httpserver import BlockingHTTPServer, BlockingRequestHandler
from .httpserver import (
    METHOD_ALL,
    URI_DEFAULT,
    Error,
    HeaderValueMatcher,
    HTTPServer,
    HTTPServerError,
    NoHandlerError,
    RequestHandler,
    RequestMatcher,
    RequestMatcherKwargs,
    URIPattern,
    WaitingSettings,
)

__all__ = [
    "METHOD_ALL",
    "URI_DEFAULT",
    "BakedHTTPServer",
    "BlockingHTTPServer",
    "BlockingRequestHandler",
    "Error",
    "HTTPServer",
    "HTTPServerError",
    "HeaderValueMatcher",
    "NoHandlerError",
    "RequestHandler",
    "RequestMatcher",
    "RequestMatcherKwargs",
    "URIPattern",
    "WaitingSettings",
]
