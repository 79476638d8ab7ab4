"""WebSocket endpoints of the HTTP mock (``server.expect_websocket``,
``RequestHandler.respond_with_websocket``), seen by real clients over loopback:
``websockets`` (its sync client) mostly, ``websocket-client`` and ``aiohttp``
for the echo and the subprotocol, and a raw RFC 6455 client (wsraw.py) where
the frames themselves are the point (fragments, drips, abort and reset). Echo,
scripts (on-open messages, text/regex/JSON replies, a close with code and
reason), Python handlers (replies, a close, exceptions), rooms, every fault, the
message log and its wait helpers, refused upgrades and validation.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import Any, Iterator, Union

import pytest
import websocket as wsclient  # websocket-client
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus
from websockets.sync.client import ClientConnection, connect

import pierhead
from pierhead import ANY, ConfigError, ExpectationError, WebSocket, WsClose, WsJson, WsPeer

from conftest import request, wait_until
from wsraw import OP_CLOSE, OP_CONT, OP_TEXT, Closed, WSClient

Message = Union[str, bytes]


@pytest.fixture
def server() -> Iterator[pierhead.Server]:
    with pierhead.Server() as s:
        yield s


def ws_connect(url: str, **options: Any) -> ClientConnection:
    """The websockets sync client, without keep-alive pings or proxies."""
    options.setdefault("open_timeout", 5)
    return connect(url, proxy=None, ping_interval=None, **options)


def closed_error(c: ClientConnection) -> ConnectionClosed:
    """Reads until the connection closes; the exception that says how."""
    with pytest.raises(ConnectionClosed) as info:
        for _ in range(100):
            c.recv(timeout=5)
    return info.value


# -- echo, with three client libraries ------------------------------------------------


def echo_websockets(url: str, messages: "list[Message]") -> "list[Message]":
    with ws_connect(url) as c:
        got = []
        for m in messages:
            c.send(m)
            got.append(c.recv(timeout=5))
        return got


def echo_websocket_client(url: str, messages: "list[Message]") -> "list[Message]":
    c = wsclient.create_connection(url, timeout=5)
    try:
        got: "list[Message]" = []
        for m in messages:
            if isinstance(m, bytes):
                c.send_binary(m)
            else:
                c.send(m)
            got.append(c.recv())
        return got
    finally:
        c.close()


def echo_aiohttp(url: str, messages: "list[Message]") -> "list[Message]":
    import aiohttp

    async def run() -> "list[Message]":
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_receive=5)) as ws:
                got: "list[Message]" = []
                for m in messages:
                    if isinstance(m, bytes):
                        await ws.send_bytes(m)
                    else:
                        await ws.send_str(m)
                    msg = await ws.receive()
                    assert msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY), msg
                    got.append(msg.data)
                return got

    return asyncio.run(run())


@pytest.mark.parametrize("client", [echo_websockets, echo_websocket_client, echo_aiohttp])
def test_echo_sends_text_as_text_and_binary_as_binary(server, client):
    server.expect_websocket("/echo", WebSocket.echo())
    sent: "list[Message]" = ["héllo ✓", bytes(range(256)), "", b"\x00" * 70_000]
    assert client(server.ws_url_for("/echo"), sent) == sent
    conn = server.wait_for_ws_connection("/echo")
    # The log cuts a message to request_log_body_bytes (64 KiB), as it cuts bodies.
    assert conn.messages == [*sent[:3], b"\x00" * 65536]
    assert [type(m) for m in conn.messages] == [str, bytes, str, bytes]


# -- scripts -------------------------------------------------------------------------------


def test_script_sends_on_open_answers_text_regex_and_json_then_closes_with_code_and_reason(server):
    script = (
        WebSocket.script()
        .send_on_open("welcome")
        .send_on_open(b"\x01\x02")
        .reply("ping", "pong")
        .reply(re.compile(r"^order-\d+$"), "order noted")
        .reply(WsJson({"op": "bye", "n": [1, 2]}), b"ciao")
        .reply(b"\xff", "binary seen")
        .close_after(5, code=4000, reason="enough for today")
    )
    server.expect_websocket("/chat", script)
    with ws_connect(server.ws_url_for("/chat")) as c:
        assert c.recv(timeout=5) == "welcome"
        assert c.recv(timeout=5) == b"\x01\x02"
        c.send("ping")
        assert c.recv(timeout=5) == "pong"
        c.send("order-42")
        assert c.recv(timeout=5) == "order noted"
        c.send("order-42x")  # the pattern is anchored: no rule, and a script is silent
        c.send('{ "n": [1, 2],   "op": "bye" }')  # the same JSON value, other text
        assert c.recv(timeout=5) == b"ciao"
        c.send(b"\xff")
        assert c.recv(timeout=5) == "binary seen"
        err = closed_error(c)
    assert isinstance(err, ConnectionClosedError)
    assert err.rcvd is not None and (err.rcvd.code, err.rcvd.reason) == (4000, "enough for today")
    conn = server.wait_for_ws_connection("/chat")
    assert conn.messages == ["ping", "order-42", "order-42x", '{ "n": [1, 2],   "op": "bye" }', b"\xff"]
    # The endpoint waited for the client's close frame: the client echoed 4000.
    assert wait_until(lambda: server.ws_connections()[0].closed)
    assert server.ws_connections()[0].close_code == 4000
    # The endpoint's own close, as it sent it.
    assert (conn.server_close_code, conn.server_close_reason) == (4000, "enough for today")


def test_every_matching_rule_answers_and_any_matches_everything(server):
    server.expect_websocket(
        "/multi", WebSocket.echo().reply(ANY, "seen").reply(None, "also seen").reply("x", "x!")
    )
    with ws_connect(server.ws_url_for("/multi")) as c:
        c.send("x")
        assert [c.recv(timeout=5) for _ in range(3)] == ["seen", "also seen", "x!"]
        c.send(b"bin")  # a rule answers it, so it is not echoed
        assert [c.recv(timeout=5) for _ in range(2)] == ["seen", "also seen"]
        with pytest.raises(TimeoutError):
            c.recv(timeout=0.3)


def test_builder_methods_return_new_endpoints():
    base = WebSocket.echo()
    scripted = base.reply("a", "b").no_pong()
    assert repr(base) == "WebSocket.echo()"
    assert repr(scripted) == "WebSocket.echo().reply('a', 'b').no_pong()"
    with pytest.raises(AttributeError):
        base.x = 1  # type: ignore[attr-defined]


# -- handlers ------------------------------------------------------------------------------


def test_handler_gets_the_peer_and_answers_with_lists_and_a_close(server):
    seen: "list[tuple[Message, int, str, str, str]]" = []

    def chat(message: Message, peer: WsPeer) -> Any:
        seen.append((message, peer.nth, peer.target, peer.path, threading.current_thread().name))
        if message == "bye":
            return [f"{peer.nth}: bye", WsClose(4002, "done")]
        if isinstance(message, bytes):
            return message[::-1]
        if message == "quiet":
            return None
        return [f"{peer.nth}: {message}", message.upper()]

    server.expect_websocket("/h", WebSocket.handler(chat))
    with ws_connect(server.ws_url_for("/h?user=7")) as c:
        c.send("hi")
        assert [c.recv(timeout=5), c.recv(timeout=5)] == ["1: hi", "HI"]
        c.send(b"abc")
        assert c.recv(timeout=5) == b"cba"
        c.send("quiet")
        c.send("bye")
        assert c.recv(timeout=5) == "4: bye"
        err = closed_error(c)
    assert err.rcvd is not None and (err.rcvd.code, err.rcvd.reason) == (4002, "done")
    assert [s[:2] for s in seen] == [("hi", 1), (b"abc", 2), ("quiet", 3), ("bye", 4)]
    assert {s[2:4] for s in seen} == {("/h?user=7", "/h")}
    # On Python's handler threads, not the test's nor a Rust one.
    assert {s[4] for s in seen} == {"pierhead-py-handler"}
    conn = server.wait_for_ws_connection("/h")
    assert conn.target == "/h?user=7" and conn.messages == ["hi", b"abc", "quiet", "bye"]
    server.check_assertions()


def test_handler_exception_closes_with_1011_and_check_assertions_raises_it(server):
    def fragile(message: Message, peer: WsPeer) -> Any:
        if message == "boom":
            raise ValueError("cannot take boom")
        if message == "wrong type":
            return 42
        return message

    server.expect_websocket("/fragile", WebSocket.handler(fragile))
    with ws_connect(server.ws_url_for("/fragile")) as c:
        c.send("fine")
        assert c.recv(timeout=5) == "fine"
        c.send("boom")
        err = closed_error(c)
    assert err.rcvd is not None and err.rcvd.code == 1011
    with ws_connect(server.ws_url_for("/fragile")) as c:
        c.send("wrong type")
        err = closed_error(c)
    assert err.rcvd is not None and err.rcvd.code == 1011
    assert server.stats().handler_errors == 2
    with pytest.raises(ExpectationError) as info:
        server.check_assertions()
    assert "ValueError: cannot take boom" in str(info.value)
    assert "TypeError: a WebSocket handler must return None, str, bytes, WsClose" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)
    server.clear_assertions()
    server.check_assertions()


def test_handler_close_must_come_last(server):
    server.expect_websocket("/h", WebSocket.handler(lambda m, p: [WsClose(), "late"]))
    with ws_connect(server.ws_url_for("/h")) as c:
        c.send("x")
        err = closed_error(c)
    assert err.rcvd is not None and err.rcvd.code == 1011
    assert "WsClose must come last" in str(server.errors[0])


# -- rooms -----------------------------------------------------------------------------------


def test_room_members_hear_each_other_and_publishes(server):
    server.expect_websocket("/lobby", WebSocket.room("lobby"))
    with ws_connect(server.ws_url_for("/lobby")) as a, ws_connect(server.ws_url_for("/lobby")) as b:
        assert wait_until(lambda: server.rooms().get("lobby") == 2)
        a.send("from a")
        assert b.recv(timeout=5) == "from a"
        b.send(b"from b")
        assert a.recv(timeout=5) == b"from b"
        with pytest.raises(TimeoutError):
            a.recv(timeout=0.3)  # a member does not hear itself
        assert server.publish("lobby", b"from the test").delivered == 2
        assert a.recv(timeout=5) == b"from the test" and b.recv(timeout=5) == b"from the test"


# -- faults -------------------------------------------------------------------------------------


def test_abort_closes_without_a_close_frame(server):
    server.expect_websocket("/abort", WebSocket.echo().fault_after(1, "abort"))
    with ws_connect(server.ws_url_for("/abort")) as c:
        c.send("last")
        assert c.recv(timeout=5) == "last"
        err = closed_error(c)
    assert isinstance(err, ConnectionClosedError) and err.rcvd is None
    # On the wire: the echo, then EOF (a FIN, not a reset), no close frame.
    with WSClient.connect(server.ws_url_for("/abort")) as raw:
        raw.send_message("last")
        frames = []
        with pytest.raises(Closed, match="EOF"):
            for _ in range(10):
                frames.append(raw.recv_frame())
    assert [(f.opcode, f.payload) for f in frames] == [(OP_TEXT, b"last")]


def test_reset_resets_the_connection(server):
    server.expect_websocket("/reset", WebSocket.echo().fault_after(1, "reset"))
    with ws_connect(server.ws_url_for("/reset")) as c:
        c.send("x")
        err = closed_error(c)
    assert err.rcvd is None
    with WSClient.connect(server.ws_url_for("/reset")) as raw:
        raw.send_message("x")
        with pytest.raises(Closed) as info:
            for _ in range(10):
                assert raw.recv_frame().opcode != OP_CLOSE
    assert "reset" in str(info.value).lower()


@pytest.mark.parametrize(("fault", "code"), [("invalid_frame", 1002), ("invalid_utf8", 1007)])
def test_invalid_frame_and_invalid_utf8_make_the_client_fail_the_connection(server, fault, code):
    server.expect_websocket("/bad", WebSocket.echo().fault_after(1, fault))
    with ws_connect(server.ws_url_for("/bad")) as c:
        c.send("ok")
        assert c.recv(timeout=5) == "ok"
        err = closed_error(c)
    assert isinstance(err, ConnectionClosedError)
    assert err.sent is not None and err.sent.code == code
    # The server logged the client's close frame with that code.
    assert wait_until(lambda: server.ws_connections()[0].close_code == code)


def test_fragment_splits_each_message_into_frames(server):
    server.expect_websocket("/frag", WebSocket.echo().fragment(4))
    with WSClient.connect(server.ws_url_for("/frag")) as raw:
        raw.send_message("abcdefghij")
        frames = [raw.recv_frame() for _ in range(3)]
        raw.send_message("abcd")  # no bigger than a fragment: one frame
        one = raw.recv_frame()
    assert [(f.fin, f.opcode, f.payload) for f in frames] == [
        (False, OP_TEXT, b"abcd"),
        (False, OP_CONT, b"efgh"),
        (True, OP_CONT, b"ij"),
    ]
    assert (one.fin, one.opcode, one.payload) == (True, OP_TEXT, b"abcd")
    with ws_connect(server.ws_url_for("/frag")) as c:  # a client puts them together
        c.send("x" * 100)
        assert c.recv(timeout=5) == "x" * 100


def test_delay_holds_each_message(server):
    server.expect_websocket("/slow", WebSocket.echo().send_on_open("hello").delay(0.3))
    t0 = time.monotonic()
    with ws_connect(server.ws_url_for("/slow")) as c:
        assert c.recv(timeout=5) == "hello"
        assert time.monotonic() - t0 >= 0.3
        t1 = time.monotonic()
        c.send("a")
        c.send("b")
        assert [c.recv(timeout=5), c.recv(timeout=5)] == ["a", "b"]
        assert time.monotonic() - t1 >= 0.3


def test_drip_sends_a_message_a_few_bytes_at_a_time(server):
    server.expect_websocket("/drip", WebSocket.echo().drip(2, every=0.05))
    with WSClient.connect(server.ws_url_for("/drip")) as raw:
        sent = time.monotonic()
        raw.send_message("abcdefgh")  # echoed as a 10-byte frame: 5 pieces, 4 gaps of 0.05 s
        f = raw.recv_frame()
        took = time.monotonic() - sent
    assert (f.fin, f.opcode, f.payload) == (True, OP_TEXT, b"abcdefgh")
    assert took >= 0.2


def test_no_pong_leaves_pings_unanswered_but_still_echoes(server):
    server.expect_websocket("/nopong", WebSocket.echo().no_pong())
    server.expect_websocket("/pong", WebSocket.echo())
    with ws_connect(server.ws_url_for("/pong")) as c:
        assert c.ping(b"p").wait(5)  # the control: a normal endpoint answers
    with ws_connect(server.ws_url_for("/nopong")) as c:
        pong = c.ping(b"p")
        c.send("still here")
        assert c.recv(timeout=5) == "still here"
        assert not pong.wait(0.5)


def test_refuse_answers_the_upgrade_with_the_status(server):
    server.expect_websocket("/down", WebSocket.echo().refuse(503))
    with pytest.raises(InvalidStatus) as info:
        ws_connect(server.ws_url_for("/down"))
    assert info.value.response.status_code == 503
    assert server.ws_connections() == []
    server.check_assertions()  # matched, refused on purpose


def test_subprotocol_is_agreed_and_told_to_the_handler(server):
    ws = WebSocket.handler(lambda m, peer: f"{peer.subprotocol}: {m}").subprotocol("chat.v1").subprotocol("chat.v2")
    server.expect_websocket("/proto", ws)
    with ws_connect(server.ws_url_for("/proto"), subprotocols=["other", "chat.v2"]) as c:
        assert c.subprotocol == "chat.v2"
        c.send("hi")
        assert c.recv(timeout=5) == "chat.v2: hi"
    c2 = wsclient.create_connection(server.ws_url_for("/proto"), timeout=5, subprotocols=["chat.v1"])
    try:
        assert c2.getsubprotocol() == "chat.v1"
        c2.send("yo")
        assert c2.recv() == "chat.v1: yo"
    finally:
        c2.close()
    with ws_connect(server.ws_url_for("/proto")) as c:  # asks for none: gets none
        assert c.subprotocol is None
        c.send("plain")
        assert c.recv(timeout=5) == "None: plain"
    assert [c.subprotocol for c in server.ws_connections()] == ["chat.v2", "chat.v1", None]


def test_a_client_asking_only_for_protocols_not_offered_gets_none(server):
    server.expect_websocket("/proto", WebSocket.echo().subprotocol("chat.v1"))
    # RFC 6455 4.2.2: answered without Sec-WebSocket-Protocol; websockets accepts that.
    with ws_connect(server.ws_url_for("/proto"), subprotocols=["other"]) as c:
        assert c.subprotocol is None
        assert c.response is not None and "Sec-WebSocket-Protocol" not in c.response.headers
        c.send("x")
        assert c.recv(timeout=5) == "x"
    assert server.ws_connections()[0].subprotocol is None


# -- routing ------------------------------------------------------------------------------------


def test_plain_get_gets_426_and_the_request_log_has_the_upgrade(server):
    server.expect_request("/ws").respond_with_websocket(WebSocket.echo())
    status, headers, _ = request(server, "GET", "/ws")
    assert status == 426
    assert headers.get("upgrade", "").lower() == "websocket"
    with ws_connect(server.ws_url_for("/ws")) as c:
        c.send("x")
        assert c.recv(timeout=5) == "x"
    upgrade = [r for r in server.log if r.header("Upgrade")]
    assert len(upgrade) == 1 and upgrade[0].method == "GET" and upgrade[0].path == "/ws"
    assert upgrade[0].header("Sec-WebSocket-Version") == "13"
    conn = server.ws_connections()[0]
    assert conn.connection_id == upgrade[0].connection_id
    assert conn.route_id == upgrade[0].route_id is not None
    assert server.handlers[0].hits == 2  # the refused GET and the upgrade
    server.check_assertions()


def test_matchers_and_uses_apply_and_routes_work_before_and_after_start():
    s = pierhead.Server()
    s.expect_websocket("/before", WebSocket.echo())
    s.expect_request("/token", headers={"X-Token": "t1"}).respond_with_websocket(WebSocket.script().send_on_open("ok"))
    with s:
        s.expect_websocket("/after", WebSocket.echo().send_on_open("late"), uses=1)
        with ws_connect(s.ws_url_for("/before")) as c:
            c.send("b")
            assert c.recv(timeout=5) == "b"
        with ws_connect(s.ws_url_for("/token"), additional_headers={"X-Token": "t1"}) as c:
            assert c.recv(timeout=5) == "ok"
        with ws_connect(s.ws_url_for("/after")) as c:
            assert c.recv(timeout=5) == "late"
        with pytest.raises(InvalidStatus) as info:  # no token: no expectation matches
            ws_connect(s.ws_url_for("/token"))
        assert info.value.response.status_code == 500
        with pytest.raises(InvalidStatus):  # /after was used up
            ws_connect(s.ws_url_for("/after"))
        with pytest.raises(ExpectationError, match="no expectation matched GET /token"):
            s.check_assertions()
        assert [h.hits for h in s.handlers] == [1, 1, 1]


def test_a_restarted_server_serves_its_websocket_routes_again():
    with pierhead.Server() as s:
        s.expect_websocket("/e", WebSocket.echo())
        s.stop()
        s.start()
        with ws_connect(s.ws_url_for("/e")) as c:
            c.send("again")
            assert c.recv(timeout=5) == "again"


# -- the message log and its helpers -----------------------------------------------------


def test_the_log_keeps_messages_in_order_and_the_clients_close(server):
    server.expect_websocket("/log", WebSocket.script())
    with ws_connect(server.ws_url_for("/log?room=9")) as c:
        for m in ["one", b"two", "three"]:
            c.send(m)
        assert server.wait_for_ws_messages(3, path="/log") == ["one", b"two", "three"]
        assert server.wait_for_ws_connection("/log?room=9").target == "/log?room=9"
        server.assert_ws_received("/log", ["one", b"two", "three"])
        with pytest.raises(ExpectationError, match=r"no WebSocket connection at /log sent \['one', 'two'"):
            server.assert_ws_received("/log", ["one", "two", "three"])  # b"two" was binary
        c.close(4005, "bye now")
    assert wait_until(lambda: server.ws_connections()[0].closed)
    conn = server.ws_connections()[0]
    assert (conn.close_code, conn.close_reason, conn.messages_evicted) == (4005, "bye now", 0)
    assert (conn.server_close_code, conn.server_close_reason) == (None, "")  # it only answered
    assert conn.path == "/log" and conn.subprotocol is None
    assert repr(conn) == f"<WsConnection {conn.connection_id} /log?room=9 (3 messages, closed 4005)>"
    server.clear_log()
    assert server.ws_connections() == []


def test_the_log_evicts_the_oldest_messages_and_cuts_long_ones():
    with pierhead.Server(request_log=3, request_log_body_bytes=5) as s:
        s.expect_websocket("/e", WebSocket.echo())
        with ws_connect(s.ws_url_for("/e")) as c:
            for m in ["0", "1", "2", "ééé", b"0123456789"]:
                c.send(m)
                assert c.recv(timeout=5) == m  # the echo is whole
        conn = s.ws_connections()[0]
        assert (conn.messages, conn.messages_evicted) == (["2", "éé", b"01234"], 2)


def test_wait_helpers_say_what_they_got_on_timeout(server):
    server.expect_websocket("/w", WebSocket.script())
    with pytest.raises(ExpectationError, match=r"waited 0.2 s for a WebSocket connection to /w, got none"):
        server.wait_for_ws_connection("/w", timeout=0.2)
    with pytest.raises(ExpectationError, match="no connection to /w"):
        server.wait_for_ws_messages(1, path="/w", timeout=0.2)
    with ws_connect(server.ws_url_for("/w")) as c:
        c.send("only one")
        with pytest.raises(ExpectationError) as info:
            server.wait_for_ws_messages(2, path="/w", timeout=0.3)
    assert "waited 0.3 s for 2 WebSocket message(s) at /w" in str(info.value)
    assert "sent 1: ['only one']" in str(info.value)


def test_a_stop_closes_websocket_clients_with_1001(server):
    server.expect_websocket("/e", WebSocket.echo())
    with ws_connect(server.ws_url_for("/e")) as c:
        c.send("x")
        assert c.recv(timeout=5) == "x"
        server.stop()
        err = closed_error(c)
    assert err.rcvd is not None and err.rcvd.code == 1001


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: WebSocket.echo().refuse(99), "websocket.refuse"),
        (lambda: WebSocket.echo().close_after(1, code=1005), "websocket.fault"),
        (lambda: WebSocket.echo().close_after(1, reason="x" * 124), "websocket.fault"),
        (lambda: WebSocket.echo().close_after(-1), "websocket.close_after"),
        (lambda: WebSocket.echo().fault_after(1, "explode"), "websocket.fault"),  # type: ignore[arg-type]
        (lambda: WebSocket.echo().subprotocol("two words"), "websocket.subprotocol"),
        (lambda: WebSocket.echo().reply(re.compile(r"a(?=b)"), "x"), "websocket.reply"),  # no look-ahead in Rust
        (lambda: WebSocket.echo().reply(re.compile(rb"a"), "x"), "websocket.reply"),  # type: ignore[arg-type]
        (lambda: WebSocket.echo().reply(3, "x"), "websocket.reply"),  # type: ignore[arg-type]
        (lambda: WebSocket.echo().reply("a", 3), "websocket.reply"),  # type: ignore[arg-type]
        (lambda: WsJson(object()), "websocket.reply"),
        (lambda: WebSocket.echo().send_on_open(None), "websocket.send_on_open"),  # type: ignore[arg-type]
        (lambda: WebSocket.echo().delay(-1), "websocket.delay"),
        (lambda: WebSocket.echo().drip(0, every=0.1), "websocket.drip"),
        (lambda: WebSocket.echo().drip(1, every=-0.1), "websocket.drip"),
        (lambda: WebSocket.echo().fragment(0), "websocket.fragment"),
        (lambda: WebSocket.handler(42), "websocket.handler"),  # type: ignore[arg-type]
        (lambda: WebSocket.room(""), "websocket.room"),
        (lambda: WsClose(1005), "close.code"),
        (lambda: WsClose(4000, "é" * 62), "close.reason"),
    ],
)
def test_invalid_values_raise_config_error_naming_the_field(build, field):
    with pytest.raises(ConfigError) as info:
        build()
    assert info.value.field == field


def test_respond_with_websocket_refuses_what_it_cannot_serve(server):
    with pytest.raises(ConfigError) as info:
        server.expect_request("/x").respond_with_websocket("echo")  # type: ignore[arg-type]
    assert info.value.field == "websocket"
    with pytest.raises(ConfigError) as info:
        server.expect_ordered_request("/o").respond_with_websocket(WebSocket.echo())
    assert info.value.field == "ordering"
