"""``pierhead.FrameClient``: a blocking client of the frame protocol, for tests.

It encodes and decodes with the server's own codec (Rust, ``pierhead._pierhead``),
so it speaks exactly what the server does.
"""

from __future__ import annotations

import collections
import socket
import ssl
import time
from typing import Optional, Union

from . import _pierhead
from ._errors import FrameError

__all__ = ["FrameClient"]

_JOIN, _LEAVE, _PING, _PONG, _ERROR, _JOINED, _LEFT = 1, 2, 3, 4, 5, 6, 7
_CONTROL, _DATA = 1, 2


class FrameClient:
    """A connection to a pierhead server speaking ``protocol="frame"``.

    ``join(room)`` returns once the server says the membership is in force, so a
    test can join, then publish, with no race. ``recv()`` returns the next data
    frame's payload; data frames that arrive while ``join``, ``leave`` or ``ping``
    wait for their answer are kept for it. The server's ``ERROR`` (and a closed
    connection) raises :class:`pierhead.FrameError`, its text in ``.text``; a
    timeout raises ``TimeoutError``. ``timeout`` (seconds, ``None`` for none) is the
    default of every wait. ``ssl_context`` speaks TLS to a server started with
    ``tls=...`` (``server.ssl_context()`` trusts its generated CA).
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: Optional[float] = 5.0,
        max_frame_bytes: int = 1 << 30,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.timeout = timeout
        self.max_frame_bytes = max_frame_bytes
        self.room: Optional[str] = None
        sock = socket.create_connection((host, port), timeout=timeout)
        if ssl_context is not None:
            # Over TLS (a server with tls=...): server.ssl_context() trusts its CA.
            sock = ssl_context.wrap_socket(sock, server_hostname=host)
        self._sock = sock
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self._data: "collections.deque[bytes]" = collections.deque()

    def __repr__(self) -> str:
        return f"<pierhead.FrameClient room={self.room!r}>"

    def __enter__(self) -> "FrameClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection (leaving its room)."""
        self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    # -- sending -----------------------------------------------------------------

    def send(self, payload: Union[bytes, str]) -> None:
        """Sends a data frame: to every other member of the room, or back to this
        client when it is in no room (echo)."""
        if isinstance(payload, str):
            payload = payload.encode()
        self._sock.sendall(_pierhead.frame_data(payload))

    def join(self, room: str, timeout: Optional[float] = None) -> None:
        """Enters ``room`` (leaving any other); returns once it is in force."""
        self._sock.sendall(_pierhead.frame_control(_JOIN, room.encode()))
        self._await(_JOINED, room.encode(), timeout)
        self.room = room

    def leave(self, timeout: Optional[float] = None) -> None:
        """Leaves the room; returns once the server said LEFT."""
        self._sock.sendall(_pierhead.frame_control(_LEAVE, b""))
        self._await(_LEFT, b"", timeout)
        self.room = None

    def ping(self, data: bytes = b"", timeout: Optional[float] = None) -> float:
        """Sends PING, waits for its PONG; returns the round trip in seconds."""
        t = time.perf_counter()
        self._sock.sendall(_pierhead.frame_control(_PING, data))
        self._await(_PONG, data, timeout)
        return time.perf_counter() - t

    # -- receiving ---------------------------------------------------------------

    def recv(self, timeout: Optional[float] = None) -> bytes:
        """The payload of the next data frame (``timeout``: this client's default
        when ``None``)."""
        if self._data:
            return self._data.popleft()
        deadline = self._deadline(timeout)
        while True:
            kind, opcode, payload = self._next_frame(deadline)
            if kind == _DATA:
                return payload
            self._control(opcode, payload)

    def _await(self, opcode: int, arg: bytes, timeout: Optional[float]) -> None:
        deadline = self._deadline(timeout)
        while True:
            kind, got, payload = self._next_frame(deadline)
            if kind == _DATA:
                self._data.append(payload)
            elif got == opcode and payload == arg:
                return
            else:
                self._control(got, payload)

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == _ERROR:
            text = payload.decode("utf-8", "replace")
            raise FrameError(f"the server sent ERROR: {text}", text)
        # Any other unasked-for control frame (a late PONG) is not an error.

    def _deadline(self, timeout: Optional[float]) -> Optional[float]:
        t = self.timeout if timeout is None else timeout
        return None if t is None else time.monotonic() + t

    def _next_frame(self, deadline: Optional[float]) -> "tuple[int, int, bytes]":
        while True:
            got = _pierhead.frame_decode(bytes(self._buf), self.max_frame_bytes)
            if got is not None:
                kind, opcode, payload, used = got
                del self._buf[:used]
                return kind, opcode, payload
            if deadline is None:
                self._sock.settimeout(None)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no frame from the server in time")
                self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(1 << 16)
            except socket.timeout:
                raise TimeoutError("no frame from the server in time") from None
            except ConnectionResetError as e:
                raise FrameError("the server reset the connection") from e
            except ssl.SSLEOFError as e:
                raise FrameError("the server closed the connection") from e
            if not chunk:
                raise FrameError("the server closed the connection")
            self._buf += chunk
