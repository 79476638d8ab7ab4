"""pierhead: an embeddable, fast TCP/HTTP server for tests and benchmarks.

The server runs in Rust threads behind :class:`Server`; Python only runs when a
``respond_with_handler`` callable or an ``on_stats`` callback is called. Quick start::

    import pierhead, urllib.request

    with pierhead.Server() as server:
        server.expect_request("/hello", method="GET").respond_with_json({"hi": 1})
        print(urllib.request.urlopen(server.url_for("/hello")).read())
        server.check_assertions()
"""

from __future__ import annotations

import atexit as _atexit

from . import _pierhead
from ._errors import (
    BindError,
    ConfigError,
    ExpectationError,
    FrameError,
    MergeError,
    NothingMeasuredError,
    PierheadError,
    ServerStateError,
    StartError,
)
from ._frame import FrameClient
from ._pierhead import (
    ANY,
    BackplaneStats,
    BenchResult,
    Chaos,
    Fault,
    LatencySummary,
    Matcher,
    PublishReport,
    Request,
    Response,
    SseEvent,
    Stats,
    Step,
    StopReport,
    WebSocket,
    WsClose,
    WsConnection,
    WsJson,
    WsPeer,
    bench,
)
from ._server import PendingRequest, RequestHandler, Server, URIPattern

__version__: str = _pierhead.__version__

__all__ = [
    "ANY",
    "BackplaneStats",
    "BenchResult",
    "BindError",
    "Chaos",
    "ConfigError",
    "ExpectationError",
    "Fault",
    "FrameClient",
    "FrameError",
    "LatencySummary",
    "Matcher",
    "MergeError",
    "NothingMeasuredError",
    "PendingRequest",
    "PierheadError",
    "PublishReport",
    "Request",
    "RequestHandler",
    "Response",
    "Server",
    "ServerStateError",
    "SseEvent",
    "StartError",
    "Stats",
    "Step",
    "StopReport",
    "URIPattern",
    "WebSocket",
    "WsClose",
    "WsConnection",
    "WsJson",
    "WsPeer",
    "__version__",
    "bench",
]

# Servers still running at exit are stopped while the interpreter is fully alive,
# so a handler thread finishing its call can still take the GIL.
_atexit.register(_pierhead.stop_all, 1.0)
