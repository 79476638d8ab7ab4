"""Real WebSocket clients against the `ws` protocol's echo (`/`) and rooms
(`/<room>`): Python's `websockets` (its sync client), `websocket-client`,
`aiohttp`'s client and Node's `ws` (tests/python/ws_peers/client.js), with and
without permessage-deflate where the client has it, each sending text and
binary messages, small and big, and two members of a room hearing each other
(never themselves). The server is `ws_server` (tests/python/wsraw.py):
pierhead, or WS_CONFORMANCE_URL (e.g. the Node echo server,
tests/python/ws_peers/echo_server.js, which answers the same way).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any, Callable, Union

import pytest

from wsraw import WsTarget, ws_server  # noqa: F401  (the fixture)

PEERS = Path(__file__).parent / "ws_peers"

Message = Union[str, bytes]

# (payload, what it is): text and binary, small and big.
PAYLOADS = [
    ("héllo wörld ✓", "small text"),
    ("κόσμε " * 50_000, "big text"),
    (bytes(range(256)), "small binary"),
    (os.urandom(1 << 20), "big binary"),
]


def room_url(t: WsTarget) -> str:
    return t.url.rstrip("/") + "/room-" + uuid.uuid4().hex[:8]


# -- adapters: open(url, deflate) -> (send, recv, close, negotiated extensions) ----------


class Conn:
    def __init__(self, send: Callable[[Message], None], recv: Callable[[], Message], close: Callable[[], None], ext: str):
        self.send, self.recv, self.close, self.extensions = send, recv, close, ext


def open_websockets(url: str, deflate: bool) -> Conn:
    from websockets.sync.client import connect

    stack = contextlib.ExitStack()  # websockets wants its connection in a `with`
    ws = stack.enter_context(connect(url, compression="deflate" if deflate else None, max_size=None, open_timeout=5))
    ext = ws.response.headers.get("Sec-WebSocket-Extensions", "") if ws.response else ""
    return Conn(ws.send, lambda: ws.recv(timeout=10), stack.close, ext)


def open_websocket_client(url: str, deflate: bool) -> Conn:
    import websocket

    assert not deflate, "websocket-client has no permessage-deflate"
    ws = websocket.create_connection(url, timeout=10)

    def send(m: Message) -> None:
        if isinstance(m, bytes):
            ws.send_binary(m)
        else:
            ws.send(m)

    ext = (ws.getheaders() or {}).get("sec-websocket-extensions", "")
    return Conn(send, ws.recv, ws.close, ext)


def open_aiohttp(url: str, deflate: bool) -> Conn:
    import aiohttp

    loop = asyncio.new_event_loop()

    async def start() -> "tuple[Any, Any]":
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(url, compress=15 if deflate else 0, max_msg_size=0)
        return session, ws

    session, ws = loop.run_until_complete(start())

    def send(m: Message) -> None:
        loop.run_until_complete(ws.send_bytes(m) if isinstance(m, bytes) else ws.send_str(m))

    def recv() -> Message:
        msg = loop.run_until_complete(ws.receive(timeout=10))
        assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), msg
        return msg.data

    def close() -> None:
        loop.run_until_complete(ws.close())
        loop.run_until_complete(session.close())
        loop.close()

    return Conn(send, recv, close, "permessage-deflate" if ws.compress else "")


CLIENTS = [
    pytest.param(open_websockets, True, id="websockets-deflate"),
    pytest.param(open_websockets, False, id="websockets"),
    pytest.param(open_websocket_client, False, id="websocket-client"),
    pytest.param(open_aiohttp, True, id="aiohttp-deflate"),
    pytest.param(open_aiohttp, False, id="aiohttp"),
]


@pytest.mark.parametrize("opener, deflate", CLIENTS)
def test_echo(ws_server: WsTarget, opener: Callable[[str, bool], Conn], deflate: bool) -> None:  # noqa: F811
    c = opener(ws_server.url, deflate)
    try:
        assert ("permessage-deflate" in c.extensions) == deflate, c.extensions
        for payload, what in PAYLOADS:
            c.send(payload)
            got = c.recv()
            assert type(got) is type(payload), f"{what}: came back as {type(got).__name__}"
            assert got == payload, f"{what}: {len(got)} back, sent {len(payload)}"
    finally:
        c.close()


@pytest.mark.parametrize("opener, deflate", CLIENTS)
def test_room_members_hear_each_other(ws_server: WsTarget, opener: Callable[[str, bool], Conn], deflate: bool) -> None:  # noqa: F811
    url = room_url(ws_server)
    a = opener(url, deflate)
    b = opener(url, deflate)
    try:
        assert ("permessage-deflate" in a.extensions) == deflate, a.extensions
        a.send("from a")
        assert b.recv() == "from a"
        b.send(b"\x00from b")
        # Not "from a": a member never gets its own message back.
        assert a.recv() == b"\x00from b"
        a.send(b"x" * 300_000)
        assert b.recv() == b"x" * 300_000
    finally:
        a.close()
        b.close()


def _node(mode: str, url: str, deflate: bool) -> None:
    if shutil.which("node") is None or not Path("/usr/share/nodejs/ws").exists():
        pytest.skip("node and node-ws (Debian) are needed")
    cmd = ["node", str(PEERS / "client.js"), mode, url] + ([] if deflate else ["--no-deflate"])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


@pytest.mark.parametrize("deflate", [True, False], ids=["deflate", "plain"])
def test_node_ws_echo(ws_server: WsTarget, deflate: bool) -> None:  # noqa: F811
    _node("echo", ws_server.url, deflate)


@pytest.mark.parametrize("deflate", [True, False], ids=["deflate", "plain"])
def test_node_ws_room(ws_server: WsTarget, deflate: bool) -> None:  # noqa: F811
    _node("room", room_url(ws_server), deflate)
