"""Type stubs of the Rust extension module ``pierhead._pierhead``."""

import re
from typing import Any, Callable, Final, Iterable, Literal, Mapping, Optional, Union, final

__all__ = [
    "ANY",
    "BackplaneStats",
    "BenchResult",
    "Chaos",
    "LatencySummary",
    "DEFAULT_REQUEST_LOG",
    "DEFAULT_UNMATCHED_STATUS",
    "DEFAULT_WORKERS",
    "Fault",
    "Matcher",
    "Ordering",
    "PublishReport",
    "Request",
    "Response",
    "Route",
    "Server",
    "SseEvent",
    "Stats",
    "Step",
    "StopReport",
    "WebSocket",
    "WsClose",
    "WsConnection",
    "WsJson",
    "WsPeer",
    "__version__",
    "_AnyMessage",
    "_Job",
    "_executor_fd",
    "_executor_threads",
    "_stats_example",
    "_stats_table",
    "_take_job",
    "bench",
    "cli",
    "frame_control",
    "frame_data",
    "frame_decode",
    "stop_all",
]
__version__: Final[str]
DEFAULT_WORKERS: Final[int]
DEFAULT_REQUEST_LOG: Final[int]
DEFAULT_UNMATCHED_STATUS: Final[int]

_Headers = Union[Mapping[str, str], Iterable["tuple[str, str]"]]

@final
class Stats:
    """A snapshot of a server's counters, summed over its workers."""

    @property
    def uptime(self) -> float:
        """Time since the server started. In seconds."""
    @property
    def state(self) -> str:
        """Lifecycle state: running, stopping, stopped or failed."""
    @property
    def connections_active(self) -> int:
        """Connections open now."""
    @property
    def connections_accepted(self) -> int:
        """Connections accepted and served (refused ones are not included)."""
    @property
    def connections_closed(self) -> int:
        """Connections closed, for any reason."""
    @property
    def connections_refused(self) -> int:
        """Connections accepted then closed at once because `max_connections` was reached."""
    @property
    def requests(self) -> int:
        """Requests received: HTTP requests, frames (frame protocol), or handshakes and messages (ws)."""
    @property
    def responses(self) -> int:
        """Responses sent: HTTP responses (error responses included), or frames sent (frame
        protocol: echoes, control answers and broadcast deliveries), or handshake answers and messages sent (ws).
        """
    @property
    def bytes_read(self) -> int:
        """Bytes received from clients."""
    @property
    def bytes_written(self) -> int:
        """Bytes sent to clients, counted once each write returns (so a snapshot may lag, by
        one write, bytes a client has already read).
        """
    @property
    def rooms(self) -> int:
        """Rooms with at least one member, now."""
    @property
    def members(self) -> int:
        """Members over all rooms, now."""
    @property
    def broadcasts(self) -> int:
        """Data frames broadcast to a room (by members and by the host program's publish). The
        host program publishes with `Server.publish`.
        """
    @property
    def deliveries(self) -> int:
        """Broadcast frames delivered to a member (one per recipient), counted once the whole
        frame is handed to the kernel (so, like `bytes_written`, a snapshot may lag a frame
        a client has already read).
        """
    @property
    def frames_dropped(self) -> int:
        """Broadcast frames a member did not get: dropped by `drop_newest` or `drop_oldest`,
        cut from (or offered to) a member being disconnected as a slow consumer, or left
        queued when a member's connection closed. With `deliveries`, every frame offered to
        a member is counted once.
        """
    @property
    def slow_consumer_disconnects(self) -> int:
        """Room members disconnected as slow consumers: their pending output stayed over
        `max_output_bytes`.
        """
    @property
    def backplane(self) -> Optional["BackplaneStats"]:
        """The Redis backplane's link and counts, when one is configured."""
    @property
    def protocol_errors(self) -> int:
        """Bad input from a client: malformed or oversized requests and frames, broken TLS
        records.
        """
    @property
    def timeouts(self) -> int:
        """Connections closed by a timeout (idle, header, write stall)."""
    @property
    def accept_errors(self) -> int:
        """Failed `accept()` calls (e.g. EMFILE), each followed by a back-off."""
    @property
    def handler_errors(self) -> int:
        """Failures of user code: handlers and callbacks that panicked or returned an error."""
    @property
    def internal_errors(self) -> int:
        """Panics caught inside the engine: the connection was closed, the server kept serving."""

@final
class BackplaneStats:
    """The Redis backplane's link and counts (``Stats.backplane``, ``StopReport.backplane``)."""

    @property
    def state(self) -> str:
        """The link to the broker: connecting, connected, down or stopped."""
    @property
    def server_id(self) -> int:
        """This server's id: the tag its published frames carry."""
    @property
    def subscriptions(self) -> int:
        """Room channels this server is subscribed to now."""
    @property
    def published(self) -> int:
        """Frames published to the broker and confirmed by it."""
    @property
    def unpublished(self) -> int:
        """Frames that were not published: dropped while the broker was down or too slow (the
        queue was full), refused by it, or not yet written whole when the link was lost or
        the server stopped. Members on other servers missed them.
        """
    @property
    def unconfirmed(self) -> int:
        """Frames written to the broker whose confirmation never came: the link was lost (or
        the server stopped) first. The broker may have run them or not (a broker that was
        frozen runs them when it resumes), so members on other servers may or may not have
        got them.
        """
    @property
    def received(self) -> int:
        """Frames from other servers handed to this server's members."""
    @property
    def echoes_dropped(self) -> int:
        """This server's own frames coming back from the broker, dropped."""
    @property
    def bad_messages(self) -> int:
        """Messages on a room channel that were not a valid data frame (or were over this
        server's `max_frame_bytes`), dropped.
        """
    @property
    def outages(self) -> int:
        """Times the link went down (including an unreachable broker at start)."""
    @property
    def reconnects(self) -> int:
        """Times the link came back up after an outage."""
    @property
    def down_time(self) -> float:
        """Total time the link was not up (connecting or down). In seconds."""
    @property
    def last_error(self) -> Optional[str]:
        """The last error on the link (connect, authentication, protocol), if any."""

@final
class PublishReport:
    """What a host publish did."""

    @property
    def delivered(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def disconnected(self) -> int: ...
    @property
    def forwarded(self) -> bool: ...

@final
class StopReport:
    """What a stop did."""

    @property
    def complete(self) -> bool: ...
    @property
    def idle_closed(self) -> int: ...
    @property
    def drained(self) -> int: ...
    @property
    def force_closed(self) -> int: ...
    @property
    def handlers_abandoned(self) -> int: ...
    @property
    def elapsed(self) -> float: ...
    @property
    def backplane(self) -> Optional[BackplaneStats]: ...

@final
class Request:
    """A received request."""

    @property
    def method(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query_string(self) -> str: ...
    @property
    def query(self) -> list[tuple[str, str]]: ...
    @property
    def args(self) -> dict[str, str]: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    def header(self, name: str, default: Optional[str] = None) -> Optional[str]: ...
    @property
    def body(self) -> bytes: ...
    @property
    def data(self) -> bytes: ...
    @property
    def text(self) -> str: ...
    def json(self) -> Any: ...
    @property
    def body_len(self) -> int: ...
    @property
    def version(self) -> str: ...
    @property
    def connection_id(self) -> int: ...
    @property
    def route_id(self) -> Optional[int]: ...
    @property
    def fault(self) -> Optional[Fault]: ...
    @property
    def chaos(self) -> Optional[tuple[int, int]]: ...

@final
class Response:
    """An HTTP response to give."""

    def __new__(
        cls,
        body: Optional[Union[str, bytes]] = None,
        status: int = 200,
        headers: Optional[_Headers] = None,
        content_type: Optional[str] = None,
    ) -> "Response": ...
    @staticmethod
    def stream(
        steps: Iterable[Union[str, bytes, Step]],
        status: int = 200,
        headers: Optional[_Headers] = None,
        content_type: Optional[str] = None,
    ) -> "Response": ...
    @staticmethod
    def sse(
        events: Iterable[Union[SseEvent, Step]],
        retry: Optional[float] = None,
        headers: Optional[_Headers] = None,
    ) -> "Response": ...
    @property
    def is_stream(self) -> bool: ...
    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    @property
    def body(self) -> bytes: ...

@final
class Step:
    """One step of a streamed body."""

    @staticmethod
    def send(data: Union[str, bytes]) -> "Step": ...
    @staticmethod
    def pause(seconds_: float) -> "Step": ...
    @staticmethod
    def cut() -> "Step": ...
    @staticmethod
    def reset() -> "Step": ...

@final
class SseEvent:
    """A server-sent event, or a comment line."""

    def __new__(
        cls,
        data: str,
        id: Optional[str] = None,
        event: Optional[str] = None,
        delay: Optional[float] = None,
    ) -> "SseEvent": ...
    @staticmethod
    def comment(text: str) -> "SseEvent": ...
    def encode(self) -> bytes: ...

@final
class Chaos:
    """Faults chosen by chance from a seed."""

    def __new__(cls, seed: int, faults: list[tuple[float, Fault]]) -> "Chaos": ...
    @property
    def seed(self) -> int: ...
    def decide(self, n: int) -> Optional[Fault]: ...

@final
class Fault:
    """A misbehaviour on purpose."""

    @staticmethod
    def delay(seconds: float) -> "Fault": ...
    @staticmethod
    def drip(chunk_bytes: int, interval: float) -> "Fault": ...
    @staticmethod
    def close_after_headers() -> "Fault": ...
    @staticmethod
    def reset() -> "Fault": ...
    @staticmethod
    def no_response() -> "Fault": ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Matcher:
    """Which requests an expectation is about."""

    def __new__(
        cls,
        uri: str,
        method: Optional[str] = None,
        query_string: Optional[Union[str, bytes, Mapping[str, Any]]] = None,
        headers: Optional[_Headers] = None,
        data: Optional[Union[str, bytes]] = None,
        json_text: Optional[str] = None,
        prefix: bool = False,
        raw_path: bool = False,
        conditions: Optional[list[Callable[[Request], Any]]] = None,
        description: Optional[str] = None,
    ) -> "Matcher": ...
    def matches(self, request: Request) -> bool: ...

@final
class Ordering:
    """Expectations that must be requested in sequence."""

    def __new__(cls) -> "Ordering": ...
    def reserve(self, description: str) -> int: ...
    @property
    def pending(self) -> list[str]: ...
    @property
    def failed(self) -> bool: ...

@final
class Route:
    """An expectation ready to be added to a server."""

    def __new__(
        cls,
        matcher: Matcher,
        *,
        response: Optional[Response] = None,
        handler: Optional[Callable[[Request], Union[Response, str, bytes]]] = None,
        uses: Optional[int] = None,
        fault: Optional[Union[Fault, Chaos]] = None,
        ordering: Optional[tuple[Ordering, int]] = None,
        websocket: Optional[WebSocket] = None,
    ) -> "Route": ...
    def with_uses(self, uses: Optional[int]) -> "Route": ...
    @property
    def uses(self) -> Optional[int]: ...
    @property
    def matcher(self) -> Matcher: ...

# -- WebSocket endpoints of the HTTP mock -------------------------------------------

@final
class _AnyMessage:
    """The type of :data:`ANY`."""

#: ``WebSocket.reply(ANY, ...)``: every message.
ANY: Final[_AnyMessage]

@final
class WsJson:
    """``reply(WsJson(value), ...)``: a text message that parses as JSON equal to
    ``value`` (given as a Python value, dumped with ``json.dumps``)."""

    def __new__(cls, value: Any) -> "WsJson": ...
    @property
    def text(self) -> str: ...

@final
class WsClose:
    """A close a WebSocket handler asks for (alone, or last in its list)."""

    def __new__(cls, code: int = 1000, reason: str = "") -> "WsClose": ...
    @property
    def code(self) -> int: ...
    @property
    def reason(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class WsPeer:
    """What a WebSocket handler is told about the connection a message came on."""

    @property
    def connection_id(self) -> int: ...
    @property
    def target(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def subprotocol(self) -> Optional[str]: ...
    @property
    def nth(self) -> int: ...

@final
class WsConnection:
    """One connection of a WebSocket endpoint, as the message log saw it."""

    @property
    def connection_id(self) -> int: ...
    @property
    def target(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def route_id(self) -> int: ...
    @property
    def subprotocol(self) -> Optional[str]: ...
    @property
    def messages(self) -> list[Union[str, bytes]]: ...
    @property
    def messages_evicted(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    @property
    def close_code(self) -> Optional[int]: ...
    @property
    def close_reason(self) -> str: ...
    @property
    def server_close_code(self) -> Optional[int]: ...
    @property
    def server_close_reason(self) -> str: ...

#: What a WebSocket handler may return.
_WsReply = Union[None, str, bytes, WsClose, list[Union[str, bytes, WsClose]]]
#: A script rule's ``when``.
_WsWhen = Union[str, bytes, "re.Pattern[str]", WsJson, _AnyMessage, None]
_WsFault = Literal["abort", "reset", "invalid_frame", "invalid_utf8"]

@final
class WebSocket:
    """A WebSocket endpoint of the HTTP mock (each method returns a new one)."""

    @staticmethod
    def echo() -> "WebSocket": ...
    @staticmethod
    def script() -> "WebSocket": ...
    @staticmethod
    def room(name: str) -> "WebSocket": ...
    @staticmethod
    def handler(func: Callable[[Union[str, bytes], WsPeer], _WsReply]) -> "WebSocket":
        """``func(message, peer)`` answers each message no script rule answers, on
        the server's handler threads: ``None``, ``str`` (text), ``bytes``
        (binary), a ``WsClose``, or a list of those (a ``WsClose`` last). An
        exception closes the connection with 1011 and is raised again by
        ``check_assertions()``."""
    def send_on_open(self, message: Union[str, bytes]) -> "WebSocket": ...
    def reply(self, when: _WsWhen, reply: Union[str, bytes]) -> "WebSocket":
        """Answers a message ``when`` matches with ``reply``: ``when`` is exact text
        (``str``), an exact binary message (``bytes``), a ``re.Pattern`` (its
        ``pattern`` searched in text messages, compiled by Rust's ``regex`` crate:
        no look-around or backreferences, flags not used: write ``(?i)``),
        ``WsJson(value)``, or ``None``/``ANY`` (every message)."""
    def close_after(self, messages: int, code: int = 1000, reason: str = "") -> "WebSocket": ...
    def fault_after(self, messages: int, fault: _WsFault) -> "WebSocket":
        """After ``messages`` answered messages: ``"abort"`` (no close frame),
        ``"reset"`` (RST), ``"invalid_frame"`` (client fails 1002),
        ``"invalid_utf8"`` (client fails 1007). A close is ``close_after``."""
    def subprotocol(self, name: str) -> "WebSocket": ...
    def refuse(self, status: int) -> "WebSocket": ...
    def delay(self, seconds: float) -> "WebSocket": ...
    def drip(self, bytes: int, every: float) -> "WebSocket": ...
    def fragment(self, bytes: int) -> "WebSocket": ...
    def no_pong(self) -> "WebSocket": ...

@final
class Server:
    """The core server handle (``pierhead.Server`` wraps it)."""

    def __new__(
        cls,
        protocol: str = "http",
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int = 1,
        on_stats: Optional[Callable[[Stats], object]] = None,
        **limits: Any,
    ) -> "Server": ...
    def start(self) -> None: ...
    def stop(self, timeout: float = 5.0) -> StopReport: ...
    def serve_forever(self, stop_timeout: float = 1.0) -> StopReport: ...
    @property
    def port(self) -> int: ...
    @property
    def host(self) -> str: ...
    @property
    def tls_ca_pem(self) -> Optional[str]: ...
    @property
    def is_tls(self) -> bool: ...
    @property
    def metrics_url(self) -> Optional[str]: ...
    def metrics_text(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def protocol(self) -> str: ...
    @property
    def is_running(self) -> bool: ...
    @property
    def state(self) -> str: ...
    def stats(self) -> Stats: ...
    def add_route(self, route: Route) -> int: ...
    def insert_route(self, position: int, route: Route) -> int: ...
    def route_ids(self) -> list[int]: ...
    def replace_route(self, route_id: int, route: Route) -> bool: ...
    def remove_route(self, route_id: int) -> bool: ...
    def clear_routes(self) -> None: ...
    def route_hits(self, route_id: int) -> Optional[int]: ...
    def requests(self) -> list[Request]: ...
    def ws_connections(self) -> list[WsConnection]: ...
    def clear_requests(self) -> None: ...
    def set_connect_fault(self, fault: Optional[str], seconds: Optional[float] = None) -> None: ...
    def set_unmatched_status(self, status: int) -> None: ...
    def connect_fault(self) -> Optional[Union[str, tuple[str, float]]]: ...
    def connections(self) -> list[tuple[int, str]]: ...
    def unmatched(self) -> tuple[int, list[Request]]: ...
    def publish(self, room: str, payload: Union[bytes, str]) -> PublishReport: ...
    def rooms(self) -> list[tuple[str, int]]: ...
    def clear_unmatched(self) -> None: ...
    @property
    def requests_evicted(self) -> int: ...
    def errors(self) -> list[BaseException]: ...
    @property
    def errors_dropped(self) -> int: ...
    def clear_errors(self) -> None: ...

def stop_all(timeout: float = 1.0) -> int: ...
def cli(argv: list[str]) -> int:
    """Runs the ``pierhead`` command line ``argv`` (the program's name first) in
    this process, as the binary does, and returns its exit code
    (``python -m pierhead``). Call it from the main thread: Ctrl-C and SIGTERM
    stop ``serve`` through Python's signal handlers."""

# Python handlers' threads (pierhead._executor); internal.
@final
class _Job:
    @property
    def handler(self) -> Callable[..., Any]: ...
    @property
    def args(self) -> tuple[Any, ...]: ...
    @property
    def spawn(self) -> bool: ...
    def answer(self, result: Any) -> None: ...
    def fail(self, error: BaseException) -> None: ...

def _executor_fd() -> int: ...
def _executor_threads(delta: int) -> int: ...
def _take_job() -> Optional[_Job]: ...
def _stats_table() -> list[dict[str, Any]]: ...
def _stats_example() -> Stats: ...
def frame_data(payload: bytes) -> bytes: ...
def frame_control(opcode: int, arg: bytes) -> bytes: ...
def frame_decode(buf: bytes, max_len: int) -> Optional[tuple[int, int, bytes, int]]: ...

@final
class LatencySummary:
    """Percentiles of one latency histogram, in seconds."""

    @property
    def count(self) -> int: ...
    @property
    def min(self) -> float: ...
    @property
    def mean(self) -> float: ...
    @property
    def stdev(self) -> float: ...
    @property
    def p50(self) -> float: ...
    @property
    def p90(self) -> float: ...
    @property
    def p99(self) -> float: ...
    @property
    def p999(self) -> float: ...
    @property
    def max(self) -> float: ...

@final
class BenchResult:
    """What a load-generator run measured."""

    @property
    def target(self) -> str: ...
    @property
    def protocol(self) -> str: ...
    @property
    def connections(self) -> int: ...
    @property
    def threads(self) -> int: ...
    @property
    def pipeline(self) -> int: ...
    @property
    def rate(self) -> Optional[float]: ...
    @property
    def duration(self) -> float: ...
    @property
    def requests(self) -> int: ...
    @property
    def requests_per_sec(self) -> float: ...
    @property
    def sent(self) -> int: ...
    @property
    def bytes_sent(self) -> int: ...
    @property
    def bytes_received(self) -> int: ...
    @property
    def errors(self) -> dict[str, int]: ...
    @property
    def errors_total(self) -> int: ...
    @property
    def latency(self) -> LatencySummary: ...
    @property
    def uncorrected_latency(self) -> Optional[LatencySummary]: ...
    @property
    def send_lag(self) -> Optional[LatencySummary]: ...
    @property
    def fanout_latency(self) -> Optional[LatencySummary]: ...
    @property
    def timeline(self) -> list[tuple[int, int]]: ...
    @property
    def runs(self) -> int: ...
    @property
    def interrupted(self) -> bool: ...
    def quantile(self, q: float) -> float: ...
    def buckets(self) -> list[tuple[float, int]]: ...
    def to_json(self) -> str: ...
    def to_dict(self) -> Any: ...
    def html_report(self) -> str: ...
    def merge(self, other: "BenchResult") -> "BenchResult":
        """This result and ``other`` added up, exactly; :class:`pierhead.MergeError`
        for runs of another protocol, loop (closed, or open) or pipeline depth."""
    @staticmethod
    def from_json(text: str) -> "BenchResult": ...
    def summary(self) -> str: ...

def bench(
    target: str,
    *,
    protocol: Optional[str] = None,
    connections: int = 64,
    threads: int = 1,
    duration: float = 10.0,
    requests: Optional[int] = None,
    warmup: float = 0.0,
    pipeline: int = 1,
    rate: Optional[float] = None,
    method: str = "GET",
    headers: Optional[_Headers] = None,
    body: Optional[bytes] = None,
    body_size: Optional[int] = None,
    timeout: float = 2.0,
    room: str = "bench",
    publishers: int = 1,
    ws_text: bool = False,
) -> BenchResult:
    """Runs the load generator against ``target`` (an ``http://`` URL, a
    ``ws://`` URL: ``/`` echoes, ``/ROOM`` loads that room with ``publishers``
    publishers, ``ws_text`` sends text messages; or ``host:port`` with
    ``protocol="echo"`` or ``"frame"``); the GIL is released
    while it runs and Ctrl-C stops it. A run without one right answer raises
    :class:`pierhead.NothingMeasuredError` (its ``reason``, and the ``result``
    with the errors it counted)."""
