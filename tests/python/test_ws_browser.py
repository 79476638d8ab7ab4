"""A browser in a room: headless Chromium (Debian's ``chromium``; scripts/test.sh
installs it) loads a page served by pierhead's HTTP server
(tests/python/ws_peers/room_page.html) whose JavaScript joins a room on
pierhead's ws server with the browser's own WebSocket, next to a frame-protocol
client (pierhead.FrameClient) and a Python ``websockets`` client. The room's
name is not ASCII, so the browser sends it percent-encoded and the others by
name: one room only if the server decodes the path.

Chromium is driven over the DevTools protocol (CDP) on a WebSocket of its own:
Page.navigate, Runtime.evaluate to read what the page got, and
Page.captureScreenshot for its background colour (green: exactly the expected
messages; blue: closed as asked; red: anything else).
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import pathlib
import queue
import signal
import subprocess
import threading
import time
from typing import Any, Iterator, Optional

import pytest
from PIL import Image
from websockets.sync.client import ClientConnection, connect

import pierhead
from conftest import wait_until
from test_report import chromium, near  # find Chromium (or fail saying so); a colour within 12

PAGE = pathlib.Path(__file__).parent / "ws_peers" / "room_page.html"
ROOM = "café-lobby"
GREEN, BLUE, RED = (0x00, 0xA0, 0x00), (0x00, 0x40, 0xC0), (0xC0, 0x00, 0x00)
WAIT = 5.0  # seconds, for anything on loopback
LOAD = 10.0  # seconds, for a page to load, run and join (a new renderer on a busy machine)


class Cdp:
    """The Chrome DevTools Protocol over the browser's WebSocket: one page target
    attached with flat sessions, commands answered in turn (events skipped)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.session: Optional[str] = None

    def call(self, method: str, timeout: float = WAIT, **params: Any) -> "dict[str, Any]":
        """The command's result; CdpError if Chromium answers with an error."""
        msg: "dict[str, Any]" = {"id": next(self.ids), "method": method, "params": params}
        if self.session is not None and not method.startswith("Target."):
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"CDP {method}: no answer in {timeout} s")
            answer = json.loads(self.ws.recv(timeout=left))
            if answer.get("id") == msg["id"]:
                if "error" in answer:
                    raise CdpError(f"CDP {method}: {answer['error']}")
                return answer["result"]  # type: ignore[no-any-return]

    def open_page(self, width: int = 480, height: int = 320) -> None:
        """A new tab of this size, which the calls after this one drive."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def navigate(self, url: str) -> None:
        done = self.call("Page.navigate", timeout=LOAD, url=url)
        assert "errorText" not in done, done

    def evaluate(self, expression: str) -> Any:
        """The expression's value in the page (as JSON: objects come back as dicts)."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise CdpError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait_for(self, expression: str, timeout: float = WAIT) -> Any:
        """Polls `expression` until it is truthy and returns it; fails with its
        last value (or error) when `timeout` passes. Errors are kept polling
        through: the page may still be loading."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression)
            except CdpError as e:
                last = e
            if last and not isinstance(last, CdpError):
                return last
            time.sleep(0.02)
        pytest.fail(f"{expression} still {last!r} after {timeout} s; the page: {self.state()!r}")

    def state(self) -> Any:
        try:
            return self.evaluate("window.roomState")
        except CdpError as e:
            return e

    def screenshot(self, path: pathlib.Path) -> Image.Image:
        png = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        path.write_bytes(png)
        return Image.open(io.BytesIO(png)).convert("RGB")


class CdpError(Exception):
    pass


@pytest.fixture
def browser(tmp_path: pathlib.Path) -> Iterator[Cdp]:
    """Headless Chromium with its DevTools on a port it picks (read from its
    stderr), in a process group of its own that is killed whatever happens."""
    proc = subprocess.Popen(
        [
            chromium(),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    # Its stderr is read to the end by a thread, so Chromium never blocks on a
    # full pipe; the DevTools line is handed over once it comes.
    lines: "list[str]" = []
    found: "queue.Queue[str]" = queue.Queue()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("DevTools listening on "):
                found.put(line.split(" on ", 1)[1].strip())
        found.put("")  # Chromium is gone

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        try:
            url = found.get(timeout=15)  # the first start on a busy machine is slow
        except queue.Empty:
            url = ""
        if not url:
            pytest.fail("Chromium gave no DevTools address (in 15 s, or exited):\n" + "".join(lines))
        with connect(url, max_size=None, open_timeout=WAIT) as ws:
            cdp = Cdp(ws)
            cdp.open_page()
            yield cdp
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=WAIT)
        reader.join(timeout=WAIT)


class Room:
    """The ws server with the room, the HTTP server with the page, and the two
    members that are not a browser: a frame client and a websockets client."""

    def __init__(
        self, ws: pierhead.Server, http: pierhead.Server, frame: pierhead.FrameClient, py: ClientConnection
    ) -> None:
        self.ws_server, self.http, self.frame, self.py = ws, http, frame, py

    def page_url(self, hello: str, texts: "list[str]", binaries: "list[str]") -> str:
        """The page, served at /room.html, set to join ROOM and expect these messages."""
        # The room's name as it is: the browser percent-encodes it.
        url = f"ws://{self.ws_server.host}:{self.ws_server.port}/{ROOM}"
        config = json.dumps({"url": url, "hello": hello, "texts": texts, "binaries": binaries}, ensure_ascii=False)
        page = PAGE.read_text().replace("/*CONFIG*/null", config.replace("</", "<\\/"))
        self.http.expect_request("/room.html", method="GET").respond_with_data(
            page, content_type="text/html; charset=utf-8"
        )
        return self.http.url_for("/room.html")


@pytest.fixture
def room() -> Iterator[Room]:
    with pierhead.Server(protocol="ws") as ws, pierhead.Server() as http:
        with pierhead.FrameClient(ws.host, ws.port, timeout=WAIT) as frame:
            frame.join(ROOM)
            # Named as a client library sends it (url_for percent-encodes: /caf%C3%A9-lobby).
            with connect(ws.url_for("/" + ROOM), open_timeout=WAIT) as py:
                assert wait_until(lambda: ws.rooms() == {ROOM: 2}, timeout=WAIT), ws.rooms()
                yield Room(ws, http, frame, py)
        http.check_assertions()  # the page was all it was asked for (no favicon, nothing else)


def background(img: Image.Image) -> "tuple[int, ...]":
    """The colour of the bottom right corner, below the page's text."""
    px = img.getpixel((img.width - 4, img.height - 4))
    assert isinstance(px, tuple)
    return px


def test_a_browser_a_frame_client_and_a_websockets_client_share_a_room(
    room: Room, browser: Cdp, tmp_path: pathlib.Path
) -> None:
    hello = "bonjour du navigateur ✓"
    texts = ["from python 1 ✓", "from python 2 — κόσμε"]
    binaries = ["from the frame client 1 ✓", "from the frame client 2 — ça va"]
    browser.navigate(room.page_url(hello, texts, binaries))

    # The page's first message: a data frame to the frame client, text to Python.
    assert room.frame.recv(timeout=LOAD) == hello.encode()
    assert room.py.recv(timeout=WAIT) == hello
    # One room of three, under its decoded name; the browser sent it encoded.
    assert room.ws_server.rooms() == {ROOM: 3}
    assert browser.evaluate("roomState.url") == f"ws://127.0.0.1:{room.ws_server.port}/caf%C3%A9-lobby"

    # Interleaved; each sender's order is what the page checks.
    for text, binary in zip(texts, binaries):
        room.py.send(text)
        room.frame.send(binary)
    # The other two hear each other too (the frame client's as binary).
    assert [room.frame.recv() for _ in texts] == [t.encode() for t in texts]
    assert [room.py.recv(timeout=WAIT) for _ in binaries] == [b.encode() for b in binaries]

    browser.wait_for("roomState.phase !== 'open' && roomState.phase !== 'connecting'")
    state = browser.evaluate("roomState")
    assert state["phase"] == "complete", state
    assert (state["texts"], state["binaries"], state["error"]) == (texts, binaries, None)
    # Rendered in the DOM, in arrival order per kind.
    items = browser.evaluate("[...document.querySelectorAll('#got li')].map(li => [li.className, li.textContent])")
    assert [t for k, t in items if k == "text"] == texts and [t for k, t in items if k == "binary"] == binaries
    # The page's message went to the two others once each, never back to it.
    st = room.ws_server.stats()
    assert (st.broadcasts, st.rooms, st.members) == (5, 1, 3), st
    assert wait_until(lambda: room.ws_server.stats().deliveries == 10, timeout=WAIT), room.ws_server.stats()

    img = browser.screenshot(tmp_path / "room.png")
    assert near(background(img), GREEN) and not near(background(img), RED), background(img)
    room.http.assert_request_made("/room.html")  # once: the page did not load twice


def test_the_browser_closes_with_its_own_code(room: Room, browser: Cdp, tmp_path: pathlib.Path) -> None:
    hello = "here, then gone"
    browser.navigate(room.page_url(hello, [], []))
    assert room.frame.recv(timeout=LOAD) == hello.encode()
    assert room.py.recv(timeout=WAIT) == hello
    assert room.ws_server.rooms() == {ROOM: 3}
    assert room.ws_server.stats().connections_active == 3

    # An application's code and a reason that is not ASCII (a reason that is
    # not UTF-8 would be answered with 1007): the server answers with the same
    # code and closes, so the page sees a clean close with it.
    browser.evaluate("closeRoom(4000, 'au revoir ✓')")
    browser.wait_for("roomState.phase === 'closed' || roomState.phase === 'failed'")
    state = browser.evaluate("roomState")
    assert state["phase"] == "closed" and state["close"]["code"] == 4000 and state["close"]["wasClean"], state

    # Rooms announce no leaves; the server's own counts say the member left.
    assert wait_until(lambda: room.ws_server.stats().connections_active == 2, timeout=WAIT), room.ws_server.stats()
    assert room.ws_server.rooms() == {ROOM: 2}
    room.py.send("after the browser left")
    assert room.frame.recv() == b"after the browser left"
    st = room.ws_server.stats()
    assert (st.broadcasts, st.members) == (2, 2), st
    assert wait_until(lambda: room.ws_server.stats().deliveries == 3, timeout=WAIT), room.ws_server.stats()
    assert room.ws_server.stats().frames_dropped == 0

    img = browser.screenshot(tmp_path / "closed.png")
    assert near(background(img), BLUE) and not near(background(img), RED), background(img)
