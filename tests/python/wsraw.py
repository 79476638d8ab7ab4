"""A small raw RFC 6455 WebSocket client over a plain socket, for the
conformance suite (test_ws_conformance.py): it sends any frame a test asks for
(any opcode, RSV bits, masked or not, fragmented, split into pieces with
pauses) and reads frames with a timeout, so a test can say exactly what went on
the wire and what came back: an echo, a pong, a close code, the TCP close.

Client-side permessage-deflate (RFC 7692) with Python's zlib (raw deflate,
``wbits=-N``) for the compression groups 12 and 13: the offer is built from the
parameters, the server's answer is parsed, and ``send_message``/``recv_message``
compress and inflate whole messages.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Iterator, Optional, Union
from urllib.parse import urlsplit

import pytest

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# The trailer RFC 7692 strips from each compressed message (section 7.2.1).
_TAIL = b"\x00\x00\xff\xff"


class Closed(Exception):
    """The peer closed the TCP connection (EOF or reset) while we read."""


class Timeout(Exception):
    """No (complete) frame arrived within the timeout."""


@dataclass
class Frame:
    """One frame as read off the wire (payload unmasked, still compressed)."""

    fin: bool
    rsv: int  # the three RSV bits, RSV1 = 4
    opcode: int
    payload: bytes
    masked: bool = False

    def close_code(self) -> Optional[int]:
        """The status code of a close frame (None when its payload is empty)."""
        if len(self.payload) < 2:
            return None
        return struct.unpack("!H", self.payload[:2])[0]


def mask(data: bytes, key: bytes) -> bytes:
    """XORs `data` with the 4-byte `key` repeated (fast: one big-int XOR)."""
    if not data:
        return data
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def encode_frame(
    opcode: int,
    payload: bytes = b"",
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    key: Optional[bytes] = None,
    length: Optional[int] = None,
) -> bytes:
    """The bytes of one frame. `length` overrides the length field (for lying
    frames); `rsv` is the three RSV bits (RSV1 = 4, RSV2 = 2, RSV3 = 1)."""
    n = len(payload) if length is None else length
    head = bytearray([(0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)])
    m = 0x80 if masked else 0
    if n < 126:
        head.append(m | n)
    elif n < 65536:
        head.append(m | 126)
        head += struct.pack("!H", n)
    else:
        head.append(m | 127)
        head += struct.pack("!Q", n)
    if masked:
        key = key if key is not None else os.urandom(4)
        head += key
        payload = mask(payload, key)
    return bytes(head) + payload


def close_payload(code: Optional[int] = None, reason: Union[bytes, str] = b"") -> bytes:
    """A close frame's payload: the code (big-endian) and the reason."""
    if code is None:
        return b""
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


@dataclass
class DeflateParams:
    """What was negotiated for permessage-deflate (RFC 7692 section 7.1)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15

    @staticmethod
    def parse(header: str) -> "Optional[DeflateParams]":
        """The first permessage-deflate entry of a Sec-WebSocket-Extensions
        response header, or None when the server did not accept it."""
        for ext in header.split(","):
            parts = [p.strip() for p in ext.split(";")]
            if parts[0].lower() != "permessage-deflate":
                continue
            d = DeflateParams()
            for p in parts[1:]:
                name, _, value = p.partition("=")
                name, value = name.strip().lower(), value.strip().strip('"')
                if name == "server_no_context_takeover":
                    d.server_no_context_takeover = True
                elif name == "client_no_context_takeover":
                    d.client_no_context_takeover = True
                elif name == "server_max_window_bits":
                    d.server_max_window_bits = int(value)
                elif name == "client_max_window_bits":
                    d.client_max_window_bits = int(value) if value else 15
                else:
                    raise ValueError(f"unknown permessage-deflate parameter {p!r}")
            return d
        return None


def deflate_offer(
    server_no_context_takeover: bool = False,
    client_no_context_takeover: bool = False,
    server_max_window_bits: Optional[int] = None,
    client_max_window_bits: Union[bool, int] = True,
) -> str:
    """One permessage-deflate offer (RFC 7692 section 7.1) as header text."""
    parts = ["permessage-deflate"]
    if server_no_context_takeover:
        parts.append("server_no_context_takeover")
    if client_no_context_takeover:
        parts.append("client_no_context_takeover")
    if server_max_window_bits is not None:
        parts.append(f"server_max_window_bits={server_max_window_bits}")
    if client_max_window_bits is True:
        parts.append("client_max_window_bits")
    elif client_max_window_bits:
        parts.append(f"client_max_window_bits={client_max_window_bits}")
    return "; ".join(parts)


@dataclass
class _Deflater:
    params: DeflateParams
    _comp: "Optional[zlib._Compress]" = field(default=None, repr=False)
    _decomp: "Optional[zlib._Decompress]" = field(default=None, repr=False)

    def compress(self, data: bytes) -> bytes:
        if self._comp is None or self.params.client_no_context_takeover:
            bits = self.params.client_max_window_bits
            # zlib has no raw deflate with an 8-bit window; stored blocks (level 0)
            # carry no back-references at all, so they fit any window.
            self._comp = zlib.compressobj(0 if bits < 9 else 6, zlib.DEFLATED, -max(bits, 9))
        out = self._comp.compress(data) + self._comp.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(_TAIL)
        return out[: -len(_TAIL)]

    def decompress(self, data: bytes, max_size: int = 0) -> bytes:
        if self._decomp is None or self.params.server_no_context_takeover:
            # The window the server agreed to, so a server that compresses with a
            # bigger one fails here (zlib's raw inflate has no 8: 9 is its least,
            # and zlib's own deflate turns 8 into 9 as well).
            self._decomp = zlib.decompressobj(-max(self.params.server_max_window_bits, 9))
        return self._decomp.decompress(data + _TAIL, max_size)


class WSClient:
    """One raw WebSocket connection. `connect` does the opening handshake;
    then frames go out with `send_frame` (or `send_raw` for any bytes, in
    pieces) and come in with `recv_frame`/`recv_message`."""

    def __init__(self, sock: socket.socket, response_headers: "dict[str, str]", leftover: bytes) -> None:
        self.sock = sock
        self.headers = response_headers
        self._buf = bytearray(leftover)
        ext = response_headers.get("sec-websocket-extensions", "")
        self.deflate_params = DeflateParams.parse(ext) if ext else None
        self._deflate = _Deflater(self.deflate_params) if self.deflate_params else None

    # -- opening handshake ------------------------------------------------------

    @classmethod
    def connect(
        cls,
        url: str,
        path: Optional[str] = None,
        extensions: Optional[str] = None,
        timeout: float = 5.0,
        extra_headers: "Optional[dict[str, str]]" = None,
    ) -> "WSClient":
        """Opens `url` (ws://host:port/path; `path` overrides its path), with
        `extensions` as the Sec-WebSocket-Extensions offer."""
        u = urlsplit(url)
        host, port = u.hostname or "127.0.0.1", u.port or 80
        target = path if path is not None else (u.path or "/")
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if extensions:
            lines.append(f"Sec-WebSocket-Extensions: {extensions}")
        for k, v in (extra_headers or {}).items():
            lines.append(f"{k}: {v}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                sock.close()
                raise Closed(f"closed during the handshake after {data!r}")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        status, *header_lines = head.decode("latin-1").split("\r\n")
        if status.split(" ")[1] != "101":
            sock.close()
            raise ConnectionError(f"handshake refused: {status}")
        headers: "dict[str, str]" = {}
        for line in header_lines:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            headers[k] = (headers[k] + ", " + v.strip()) if k in headers else v.strip()
        want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != want:
            sock.close()
            raise ConnectionError(f"bad Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}")
        return cls(sock, headers, rest)

    def close_socket(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "WSClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_socket()

    # -- sending ------------------------------------------------------------------

    def send_raw(self, data: bytes, chop: int = 0, pause: float = 0.0) -> None:
        """Writes `data`; with `chop`, in pieces of that many bytes, sleeping
        `pause` between them."""
        if not chop:
            self.sock.sendall(data)
            return
        for i in range(0, len(data), chop):
            self.sock.sendall(data[i : i + chop])
            if pause:
                time.sleep(pause)

    def send_frame(
        self,
        opcode: int,
        payload: Union[bytes, str] = b"",
        fin: bool = True,
        rsv: int = 0,
        masked: bool = True,
        chop: int = 0,
        pause: float = 0.0,
    ) -> None:
        """Sends one frame exactly as described (no compression applied)."""
        if isinstance(payload, str):
            payload = payload.encode()
        self.send_raw(encode_frame(opcode, payload, fin, rsv, masked), chop, pause)

    def send_close(self, code: Optional[int] = 1000, reason: Union[bytes, str] = b"") -> None:
        self.send_frame(OP_CLOSE, close_payload(code, reason))

    def send_message(self, payload: Union[bytes, str], binary: Optional[bool] = None, frag: int = 0) -> None:
        """Sends one data message: compressed when deflate was negotiated,
        split into frames of `frag` payload bytes when `frag` is given."""
        if isinstance(payload, str):
            payload = payload.encode()
            binary = False if binary is None else binary
        opcode = OP_BINARY if binary else OP_TEXT
        rsv = 0
        if self._deflate is not None:
            payload = self._deflate.compress(payload)
            rsv = 4
        if not frag or len(payload) <= frag:
            self.send_raw(encode_frame(opcode, payload, True, rsv))
            return
        out = bytearray()
        pieces = [payload[i : i + frag] for i in range(0, len(payload), frag)]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            out += encode_frame(opcode if i == 0 else OP_CONT, piece, last, rsv if i == 0 else 0)
        self.send_raw(bytes(out))

    # -- receiving ----------------------------------------------------------------

    def _fill(self, need: int, deadline: float) -> None:
        while len(self._buf) < need:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout(f"needed {need} bytes, have {len(self._buf)}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(65536, need - len(self._buf)))
            except socket.timeout:
                raise Timeout(f"needed {need} bytes, have {len(self._buf)}") from None
            except (ConnectionResetError, BrokenPipeError) as e:
                raise Closed(str(e)) from None
            if not chunk:
                raise Closed("EOF")
            self._buf += chunk

    def recv_frame(self, timeout: float = 5.0) -> Frame:
        """The next frame; Timeout if none is complete in time, Closed on EOF."""
        deadline = time.monotonic() + timeout
        self._fill(2, deadline)
        b0, b1 = self._buf[0], self._buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            self._fill(4, deadline)
            n = struct.unpack("!H", self._buf[2:4])[0]
            pos = 4
        elif n == 127:
            self._fill(10, deadline)
            n = struct.unpack("!Q", self._buf[2:10])[0]
            pos = 10
        masked = bool(b1 & 0x80)
        key = b""
        if masked:
            self._fill(pos + 4, deadline)
            key = bytes(self._buf[pos : pos + 4])
            pos += 4
        self._fill(pos + n, deadline)
        payload = bytes(self._buf[pos : pos + n])
        del self._buf[: pos + n]
        if masked:
            payload = mask(payload, key)
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, payload, masked)

    def recv_message(self, timeout: float = 5.0) -> "tuple[int, bytes]":
        """The next whole data message as (opcode, payload), reassembled and
        inflated; control frames in between are answered (ping) or skipped
        (pong); a close frame is returned as (OP_CLOSE, payload)."""
        deadline = time.monotonic() + timeout
        opcode, parts, compressed = None, [], False
        while True:
            f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if f.opcode == OP_CLOSE:
                return OP_CLOSE, f.payload
            if f.opcode == OP_PING:
                self.send_frame(OP_PONG, f.payload)
                continue
            if f.opcode == OP_PONG:
                continue
            if opcode is None:
                opcode, compressed = f.opcode, bool(f.rsv & 4)
            parts.append(f.payload)
            if f.fin:
                data = b"".join(parts)
                if compressed:
                    assert self._deflate is not None, "RSV1 set without deflate negotiated"
                    data = self._deflate.decompress(data)
                return opcode, data

    def expect_close(self, codes: "Optional[tuple[Optional[int], ...]]" = None, timeout: float = 5.0) -> Optional[int]:
        """Reads (skipping data and pongs) until a close frame, checks its code
        is one of `codes` (None in `codes` means an empty close payload is
        fine; `codes=None` accepts any), and returns it."""
        deadline = time.monotonic() + timeout
        while True:
            f = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if f.opcode == OP_CLOSE:
                code = f.close_code()
                if codes is not None:
                    assert code in codes, f"close code {code}, expected one of {codes}"
                return code

    def fail_or_drop(self, codes: "tuple[int, ...]", timeout: float = 5.0) -> Optional[int]:
        """What Autobahn accepts for a failed connection: a close frame with
        one of `codes` (returned) followed by the TCP close, or the TCP close
        alone (None). Data frames before it are skipped."""
        try:
            code = self.expect_close(codes, timeout)
        except Closed:
            return None
        self.expect_tcp_close(timeout)
        return code

    def expect_tcp_close(self, timeout: float = 5.0) -> None:
        """Waits for the server to close the TCP connection (any frames that
        still arrive are discarded); AssertionError if it stays open."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "the server did not close the TCP connection"
            try:
                self.recv_frame(left)
            except Closed:
                return
            except Timeout:
                raise AssertionError("the server did not close the TCP connection") from None

    def expect_nothing(self, timeout: float = 0.3) -> None:
        """Asserts no frame arrives within `timeout` (the connection may stay open)."""
        try:
            f = self.recv_frame(timeout)
        except Timeout:
            return
        raise AssertionError(f"unexpected frame {f}")

    def close_handshake(self, code: int = 1000, timeout: float = 5.0) -> Optional[int]:
        """Our close, the server's echo (its code returned), then its TCP close."""
        self.send_close(code)
        got = self.expect_close(None, timeout)
        self.expect_tcp_close(timeout)
        return got


# -- the server under test ---------------------------------------------------------


@dataclass
class WsTarget:
    """The server a WebSocket test talks to: its base URL (ws://host:port/),
    whether it is held to Autobahn's strict outcomes (fail fast on invalid
    UTF-8 inside a message), and whether it is an outside server."""

    url: str
    strict: bool
    external: bool

    def connect(self, path: str = "/", extensions: Optional[str] = None, timeout: float = 5.0) -> WSClient:
        return WSClient.connect(self.url, path=path, extensions=extensions, timeout=timeout)


def ws_target_from_env() -> Optional[WsTarget]:
    """The outside server named by WS_CONFORMANCE_URL (strict only when
    WS_CONFORMANCE_STRICT=1), or None when the variable is unset."""
    url = os.environ.get("WS_CONFORMANCE_URL")
    if not url:
        return None
    return WsTarget(url, os.environ.get("WS_CONFORMANCE_STRICT") == "1", True)


@pytest.fixture(scope="module")
def ws_server() -> "Iterator[WsTarget]":
    """The server under test for a module: WS_CONFORMANCE_URL when set, else a
    `pierhead.Server(protocol="ws")` (echo on `/`, rooms on `/<room>`,
    permessage-deflate on, 16 MiB messages) held to the strict outcomes."""
    target = ws_target_from_env()
    if target is not None:
        yield target
        return
    import pierhead  # only here: an outside server needs no built module

    with pierhead.Server(protocol="ws") as s:
        yield WsTarget(f"ws://127.0.0.1:{s.port}/", True, False)
