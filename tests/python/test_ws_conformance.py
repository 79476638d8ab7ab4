"""WebSocket conformance (RFC 6455, RFC 7692), organized by Autobahn|Testsuite's
case groups: one pytest case per Autobahn case id (the test id is the case id,
e.g. ``test_case[6.4.1]``), each asserting the outcome Autobahn expects of a
server: the echo, the pong, the close code, the fail-fast. The wire work is
tests/python/wsraw.py (a raw client that can send any frame).

Groups (Autobahn's case files: autobahntestsuite/case/case<group>_*.py):
  1  framing: text and binary messages of the boundary lengths   (case1_*)
  2  ping/pong: payloads, 125/126 bytes, unsolicited pongs         (case2_*)
  3  reserved bits set on data and control frames                  (case3_*)
  4  reserved opcodes, non-control and control                     (case4_*)
  5  fragmentation: control frames between fragments, bad orders   (case5_*)
  6  UTF-8: valid and invalid text, fail-fast inside a message     (case6_*)
  7  close: codes, reasons, what follows a close                   (case7_*)
  9  limits and performance: up to 16 MiB, chopped into frames     (case9_*)
  10 misc: auto-fragmented message                                 (case10_*)
  12 permessage-deflate on five payload kinds                      (case12_x_x)
  13 permessage-deflate parameter variants                         (case12_x_x)

Differences from Autobahn, all to keep the run short: groups 12/13 send
between 8 and 250 messages a case (Autobahn: 1000) on synthetic data of the
same kinds (Autobahn ships files); 9.x is paced by the data, not timed.

The server: `ws_server` (wsraw.py) starts `pierhead.Server(protocol="ws")`, or
takes WS_CONFORMANCE_URL=ws://host:port/ (an outside echo server). pierhead is
held to the strict outcome (6.4.x: the connection fails as soon as the invalid
UTF-8 arrives); an outside server only with WS_CONFORMANCE_STRICT=1, else the
non-strict outcome Autobahn also passes (failing at the end of the message) is
allowed. Proven against Node's `ws` (tests/python/ws_peers/echo_server.js):
    scripts/ws-conformance-table.py --node
"""

from __future__ import annotations

import random
import struct
import time
from typing import Callable, Optional

import pytest

from wsraw import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    Closed,
    Timeout,
    WSClient,
    WsTarget,
    close_payload,
    deflate_offer,
    encode_frame,
    ws_server,  # noqa: F401  (the fixture)
)

CASES: "dict[str, Callable[[WsTarget], None]]" = {}


def case(case_id: str) -> "Callable[[Callable[[WsTarget], None]], Callable[[WsTarget], None]]":
    def register(fn: "Callable[[WsTarget], None]") -> "Callable[[WsTarget], None]":
        assert case_id not in CASES, case_id
        CASES[case_id] = fn
        return fn

    return register


def _key(case_id: str) -> "tuple[int, ...]":
    return tuple(int(p) for p in case_id.split("."))


# -- outcomes ------------------------------------------------------------------------


def expect_echo(c: WSClient, opcode: int, payload: bytes, timeout: float = 10.0) -> None:
    op, got = c.recv_message(timeout)
    assert op == opcode, f"opcode {op} (payload {got[:60]!r}), expected {opcode}"
    assert len(got) == len(payload), f"{len(got)} bytes back, sent {len(payload)}"
    assert got == payload


def expect_pong(c: WSClient, payload: bytes, timeout: float = 5.0) -> None:
    f = c.recv_frame(timeout)
    assert f.opcode == OP_PONG and f.fin, f"expected a pong, got {f}"
    assert f.payload == payload
    assert not f.masked, "server frames are never masked"


def expect_fail(c: WSClient, code: int = 1002, timeout: float = 5.0) -> None:
    """The connection fails: a close frame with `code`, then the TCP close.
    Data frames still echoed before it would be a protocol failure."""
    f = c.recv_frame(timeout)
    assert f.opcode == OP_CLOSE, f"expected close {code}, got {f}"
    assert f.close_code() == code, f"close code {f.close_code()}, expected {code}"
    c.expect_tcp_close(timeout)


def clean_close(c: WSClient, codes: "tuple[Optional[int], ...]" = (1000,)) -> None:
    """Our close 1000, the server's close (one of `codes`), the TCP close."""
    c.send_close(1000)
    c.expect_close(codes)
    c.expect_tcp_close()


# -- 1 framing -----------------------------------------------------------------------

_LENGTHS = [0, 125, 126, 127, 128, 65535, 65536]


def _framing(opcode: int, n: int, chop: int = 0) -> "Callable[[WsTarget], None]":
    def run(t: WsTarget) -> None:
        payload = (b"*" if opcode == OP_TEXT else b"\xfe") * n
        with t.connect() as c:
            c.send_frame(opcode, payload, chop=chop)
            expect_echo(c, opcode, payload)
            clean_close(c)

    return run


for _i, _n in enumerate(_LENGTHS, 1):
    case(f"1.1.{_i}")(_framing(OP_TEXT, _n))
    case(f"1.2.{_i}")(_framing(OP_BINARY, _n))
case("1.1.8")(_framing(OP_TEXT, 65536, chop=997))
case("1.2.8")(_framing(OP_BINARY, 65536, chop=997))


# -- 2 ping/pong ---------------------------------------------------------------------


def _ping(payload: bytes, chop: int = 0) -> "Callable[[WsTarget], None]":
    def run(t: WsTarget) -> None:
        with t.connect() as c:
            c.send_frame(OP_PING, payload, chop=chop, pause=0.0005 if chop else 0.0)
            expect_pong(c, payload)
            clean_close(c)

    return run


case("2.1")(_ping(b""))
case("2.2")(_ping(b"Hello, world!"))
case("2.3")(_ping(bytes([0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF])))
case("2.4")(_ping(b"\xfe" * 125))
case("2.6")(_ping(b"\xfe" * 125, chop=1))


@case("2.5")
def _ping_too_long(t: WsTarget) -> None:
    with t.connect() as c:
        c.send_frame(OP_PING, b"\xfe" * 126)
        expect_fail(c, 1002)


@case("2.7")
def _unsolicited_pong(t: WsTarget) -> None:
    with t.connect() as c:
        c.send_frame(OP_PONG)
        c.expect_nothing()
        clean_close(c)


@case("2.8")
def _unsolicited_pong_payload(t: WsTarget) -> None:
    with t.connect() as c:
        c.send_frame(OP_PONG, b"unsolicited pong payload")
        c.expect_nothing()
        clean_close(c)


@case("2.9")
def _pong_then_ping(t: WsTarget) -> None:
    with t.connect() as c:
        c.send_frame(OP_PONG, b"unsolicited pong payload")
        c.send_frame(OP_PING, b"ping payload")
        expect_pong(c, b"ping payload")
        clean_close(c)


def _ten_pings(chop: int) -> "Callable[[WsTarget], None]":
    def run(t: WsTarget) -> None:
        with t.connect() as c:
            for i in range(10):
                c.send_frame(OP_PING, b"payload-%d" % i, chop=chop)
            # RFC 6455 5.5.3 lets a server answer only the latest of pings it has not
            # answered yet; Autobahn wants at least the last pong: pongs in order, ending so.
            last = -1
            while last < 9:
                f = c.recv_frame()
                assert f.opcode == OP_PONG and f.payload.startswith(b"payload-"), f"expected a pong, got {f}"
                i = int(f.payload[8:])
                assert i > last, f"pong {i} after pong {last}"
                last = i
            clean_close(c)

    return run


case("2.10")(_ten_pings(0))
case("2.11")(_ten_pings(1))


# -- 3 reserved bits -----------------------------------------------------------------


@case("3.1")
def _rsv1_text(t: WsTarget) -> None:
    with t.connect() as c:
        c.send_frame(OP_TEXT, "Hello, world!", rsv=4)
        expect_fail(c)


def _rsv_after_echo(rsv: int, mode: str) -> "Callable[[WsTarget], None]":
    """A text message, then one with RSV bits set, then a ping: the first is
    echoed, then the connection fails (no pong). `mode`: all at once, frame
    by frame, or chopped into 1-byte pieces."""

    def run(t: WsTarget) -> None:
        with t.connect() as c:
            frames = [
                encode_frame(OP_TEXT, b"Hello, world!"),
                encode_frame(OP_TEXT, b"Hello, world!", rsv=rsv),
                encode_frame(OP_PING, b""),
            ]
            if mode == "burst":
                c.send_raw(b"".join(frames))
            else:
                for f in frames:
                    c.send_raw(f, chop=1 if mode == "chop" else 0)
                    time.sleep(0.02)
            expect_echo(c, OP_TEXT, b"Hello, world!")
            expect_fail(c)

    return run


case("3.2")(_rsv_after_echo(2, "burst"))
case("3.3")(_rsv_after_echo(3, "frames"))
case("3.4")(_rsv_after_echo(4, "chop"))


def _rsv_alone(opcode: int, rsv: int, payload: bytes) -> "Callable[[WsTarget], None]":
    def run(t: WsTarget) -> None:
        with t.connect() as c:
            c.send_frame(opcode, payload, rsv=rsv)
            expect_fail(c)

    return run


case("3.5")(_rsv_alone(OP_BINARY, 5, bytes(range(8))))
case("3.6")(_rsv_alone(OP_PING, 6, b"Hello, world!"))
case("3.7")(_rsv_alone(OP_CLOSE, 7, close_payload(1000)))


# -- 4 reserved opcodes --------------------------------------------------------------


def _reserved_opcode(opcode: int, payload: bytes, around: bool) -> "Callable[[WsTarget], None]":
    """A frame with reserved `opcode`; with `around`, after an echoed text
    message and before a ping that must go unanswered."""

    def run(t: WsTarget) -> None:
        with t.connect() as c:
            if around:
                c.send_frame(OP_TEXT, "Hello, world!")
            c.send_frame(opcode, payload)
            if around:
                c.send_frame(OP_PING)
                expect_echo(c, OP_TEXT, b"Hello, world!")
            expect_fail(c)

    return run


for _base, _group in ((3, "4.1"), (11, "4.2")):
    case(f"{_group}.1")(_reserved_opcode(_base, b"", False))
    case(f"{_group}.2")(_reserved_opcode(_base + 1, b"reserved opcode payload", False))
    case(f"{_group}.3")(_reserved_opcode(_base + 2, b"", True))
    case(f"{_group}.4")(_reserved_opcode(_base + 3, b"reserved opcode payload", True))
    case(f"{_group}.5")(_reserved_opcode(_base + 4, b"reserved opcode payload", True))


# -- 5 fragmentation -----------------------------------------------------------------


def _fragmented_control(opcode: int) -> "Callable[[WsTarget], None]":
    def run(t: WsTarget) -> None:
        with t.connect() as c:
            c.send_frame(opcode, "fragment1", fin=False)
            c.send_frame(OP_CONT, "fragment2", fin=True)
            expect_fail(c)

    return run


case("5.1")(_fragmented_control(OP_PING))
case("5.2")(_fragmented_control(OP_PONG))


def _two_fragments(pause: float, ping: bool, chop: int) -> "Callable[[WsTarget], None]":
    """A text message in two fragments; with `ping` a ping between them
    (answered first); frames chopped into `chop`-byte pieces."""

    def run(t: WsTarget) -> None:
        with t.connect() as c:
            c.send_frame(OP_TEXT, "fragment1", fin=False, chop=chop, pause=0.001 if chop else 0.0)
            time.sleep(pause)
            if ping:
                c.send_frame(OP_PING, "ping payload", chop=chop, pause=0.001 if chop else 0.0)
                time.sleep(pause)
            c.send_frame(OP_CONT, "fragment2", fin=True, chop=chop, pause=0.001 if chop else 0.0)
            if ping:
                expect_pong(c, b"ping payload")
            expect_echo(c, OP_TEXT, b"fragment1fragment2")
            clean_close(c)

    return run


case("5.3")(_two_fragments(0.0, False, 0))
case("5.4")(_two_fragments(0.5, False, 0))
case("5.5")(_two_fragments(0.0, False, 1))
case("5.6")(_two_fragments(0.0, True, 0))
case("5.7")(_two_fragments(0.5, True, 0))
case("5.8")(_two_fragments(0.0, True, 1))


def _orphan_continuation(fin: bool, mode: str) -> "Callable[[WsTarget], None]":
    """A continuation frame with nothing to continue, then a text message in
    two fragments that must not be echoed: the connection fails."""

    def run(t: WsTarget) -> None:
        with t.connect() as c:
            frames = [
                encode_frame(OP_CONT, b"non-continuation payload", fin=fin),
                encode_frame(OP_TEXT, b"Hello, world!", fin=False),
                encode_frame(OP_CONT, b"Hello, world!", fin=True),
            ]
            if mode == "burst":
                c.send_raw(b"".join(frames))
            else:
                for f in frames:
                    try:
                        c.send_raw(f, chop=1 if mode == "chop" else 0, pause=0.0005 if mode == "chop" else 0.0)
                    except (BrokenPipeError, ConnectionResetError):
                        break  # failed already: what we want
            expect_fail(c)

    return run


for _i, (_fin, _mode) in enumerate(
    [(True, "burst"), (True, "frames"), (True, "chop"), (False, "burst"), (False, "frames"), (False, "chop")], 9
):
    case(f"5.{_i}")(_orphan_continuation(_fin, _mode))


@case("5.15")
def _message_then_orphans(t: WsTarget) -> None:
    with t.connect() as c:
        c.send_raw(
            encode_frame(OP_TEXT, b"fragment1", fin=False)
            + encode_frame(OP_CONT, b"fragment2", fin=True)
            + encode_frame(OP_CONT, b"fragment3", fin=False)
            + encode_frame(OP_TEXT, b"fragment4", fin=True)
        )
        expect_echo(c, OP_TEXT, b"fragment1fragment2")
        expect_fail(c)


def _bad_order(first_fin: bool) -> "Callable[[WsTarget], None]":
    def run(t: WsTarget) -> None:
        with t.connect() as c:
            one = (
                encode_frame(OP_CONT, b"fragment1", fin=first_fin)
                + encode_frame(OP_TEXT, b"fragment2", fin=False)
                + encode_frame(OP_CONT, b"fragment3", fin=True)
            )
            c.send_raw(one + one)
            expect_fail(c)

    return run


case("5.16")(_bad_order(False))
case("5.17")(_bad_order(True))


@case("5.18")
def _text_inside_text(t: WsTarget) -> None:
    with t.connect() as c:
        c.send_raw(encode_frame(OP_TEXT, b"fragment1", fin=False) + encode_frame(OP_TEXT, b"fragment2", fin=True))
        expect_fail(c)


def _five_fragments_with_pings(chop: int) -> "Callable[[WsTarget], None]":
    def run(t: WsTarget) -> None:
        with t.connect() as c:
            kw = {"chop": chop, "pause": 0.0005} if chop else {}
            c.send_frame(OP_TEXT, "fragment1", fin=False, **kw)
            c.send_frame(OP_CONT, "fragment2", fin=False, **kw)
            c.send_frame(OP_PING, "pongme 1!", **kw)
            expect_pong(c, b"pongme 1!")
            time.sleep(0.2)
            c.send_frame(OP_CONT, "fragment3", fin=False, **kw)
            c.send_frame(OP_CONT, "fragment4", fin=False, **kw)
            c.send_frame(OP_PING, "pongme 2!", **kw)
            expect_pong(c, b"pongme 2!")
            c.send_frame(OP_CONT, "fragment5", fin=True, **kw)
            expect_echo(c, OP_TEXT, b"fragment1fragment2fragment3fragment4fragment5")
            clean_close(c)

    return run


case("5.19")(_five_fragments_with_pings(0))
case("5.20")(_five_fragments_with_pings(1))


# -- 6 UTF-8 -------------------------------------------------------------------------


def _valid_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")  # strict: no surrogates, no overlongs, nothing past U+10FFFF
        return True
    except UnicodeDecodeError:
        return False


def _text_in_frames(pieces: "list[bytes]") -> "Callable[[WsTarget], None]":
    """One text message in the frames `pieces`: echoed whole when the
    concatenation is valid UTF-8, else the connection fails with 1007."""

    def run(t: WsTarget) -> None:
        whole = b"".join(pieces)
        with t.connect() as c:
            for i, p in enumerate(pieces):
                c.send_frame(OP_TEXT if i == 0 else OP_CONT, p, fin=i == len(pieces) - 1)
            if _valid_utf8(whole):
                expect_echo(c, OP_TEXT, whole)
                clean_close(c)
            else:
                expect_fail(c, 1007)

    return run


_HELLO = "Hello-µ@ßöäüàá-UTF-8!!".encode()
_KOSME = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"  # κόσμε
_BAD = _KOSME + b"\xed\xa0\x80edited"  # a UTF-16 surrogate inside

case("6.1.1")(_text_in_frames([b""]))
case("6.1.2")(_text_in_frames([b"", b"", b""]))
case("6.1.3")(_text_in_frames([b"", b"middle frame payload", b""]))
case("6.2.1")(_text_in_frames([_HELLO]))
case("6.2.2")(_text_in_frames([_HELLO[:12], _HELLO[12:]]))  # split on a code point boundary
case("6.2.3")(_text_in_frames([_HELLO[i : i + 1] for i in range(len(_HELLO))]))
case("6.2.4")(_text_in_frames([_KOSME[i : i + 1] for i in range(len(_KOSME))]))
case("6.3.1")(_text_in_frames([_BAD]))
case("6.3.2")(_text_in_frames([_BAD[i : i + 1] for i in range(len(_BAD))]))


def _fail_fast(parts: "list[bytes]", by_frames: bool) -> "Callable[[WsTarget], None]":
    """parts[1] makes the text invalid UTF-8 (with parts[0] before it); parts[2]
    comes a second later. `by_frames`: the parts are three fragments, else
    three TCP writes of one frame. Strict: the close 1007 comes before
    parts[2] is sent; non-strict: after it."""

    def run(t: WsTarget) -> None:
        with t.connect() as c:
            if by_frames:
                c.send_frame(OP_TEXT, parts[0], fin=False)
                c.send_frame(OP_CONT, parts[1], fin=False)
            else:
                frame = encode_frame(OP_TEXT, b"".join(parts))
                head = len(frame) - len(b"".join(parts))
                c.send_raw(frame[: head + len(parts[0])])
                c.send_raw(frame[head + len(parts[0]) : head + len(parts[0]) + len(parts[1])])
            try:
                f = c.recv_frame(1.0)
            except Timeout:
                assert not t.strict, "strict: the invalid UTF-8 must fail the connection before the message ends"
                rest = encode_frame(OP_CONT, parts[2], fin=True) if by_frames else frame[head + len(b"".join(parts[:2])) :]
                c.send_raw(rest)
                expect_fail(c, 1007)
                return
            assert f.opcode == OP_CLOSE and f.close_code() == 1007, f"expected close 1007, got {f}"
            c.expect_tcp_close()

    return run


case("6.4.1")(_fail_fast([_KOSME, b"\xf4\x90\x80\x80", b"edited"], True))
case("6.4.2")(_fail_fast([_KOSME + b"\xf4", b"\x90", b"\x80\x80edited"], True))
case("6.4.3")(_fail_fast([_KOSME, b"\xf4\x90\x80\x80", b"edited"], False))
case("6.4.4")(_fail_fast([_KOSME, b"\xf4\x90", b"\x80\x80edited"], False))


def _utf8_sequences() -> "list[list[bytes]]":
    """Autobahn's 6.5 ... 6.23 payloads (Markus Kuhn's UTF-8 decoder test, as
    case6_x_x.py arranges it), one list per sub-group in order."""
    kosme = _KOSME
    missing = [
        b"\xc0", b"\xe0\x80", b"\xf0\x80\x80", b"\xf8\x80\x80\x80", b"\xfc\x80\x80\x80\x80",
        b"\xdf", b"\xef\xbf", b"\xf7\xbf\xbf", b"\xfb\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf",
    ]
    noncharacters = [b"\xef\xbf\xbe", b"\xef\xbf\xbf"]
    for z1 in b"\xf0\xf1\xf2\xf3\xf4":
        for z2 in b"\x8f\x9f\xaf\xbf":
            if z1 == 0xF4 and z2 != 0x8F:
                continue  # past U+10FFFF
            for z3 in b"\xbe\xbf":
                zz = bytes([z1, z2, 0xBF, z3])
                if zz not in (b"\xf0\x8f\xbf\xbe", b"\xf0\x8f\xbf\xbf"):  # overlong
                    noncharacters.append(zz)
    return [
        [b"hello\x24world", b"hello\xc2\xa2world", b"hello\xe2\x82\xacworld", b"hello\xf0\xa4\xad\xa2world", kosme],
        [kosme[:i] for i in range(1, len(kosme) + 1)],
        [b"\x00", b"\xc2\x80", b"\xe0\xa0\x80", b"\xf0\x90\x80\x80"],
        [b"\xf8\x88\x80\x80\x80", b"\xfc\x84\x80\x80\x80\x80"],
        [b"\x7f", b"\xdf\xbf", b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf"],
        [b"\xf7\xbf\xbf\xbf", b"\xfb\xbf\xbf\xbf\xbf", b"\xfd\xbf\xbf\xbf\xbf\xbf"],
        [b"\xed\x9f\xbf", b"\xee\x80\x80", b"\xef\xbf\xbd", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80"],
        [b"\x80", b"\xbf", b"\x80\xbf", b"\x80\xbf\x80", b"\x80\xbf\x80\xbf", b"\x80\xbf\x80\xbf\x80",
         b"\x80\xbf\x80\xbf\x80\xbf", bytes(range(0x80, 0xBF))],
        [b"".join(bytes([i, 0x20]) for i in range(lo, hi))
         for lo, hi in ((0xC0, 0xDF), (0xE0, 0xEF), (0xF0, 0xF7), (0xF8, 0xFB), (0xFC, 0xFD))],
        missing,
        [b"".join(missing)],
        [b"\xfe", b"\xff", b"\xfe\xfe\xff\xff"],
        [b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf", b"\xf8\x80\x80\x80\xaf", b"\xfc\x80\x80\x80\x80\xaf"],
        [b"\xc1\xbf", b"\xe0\x9f\xbf", b"\xf0\x8f\xbf\xbf", b"\xf8\x87\xbf\xbf\xbf", b"\xfc\x83\xbf\xbf\xbf\xbf"],
        [b"\xc0\x80", b"\xe0\x80\x80", b"\xf0\x80\x80\x80", b"\xf8\x80\x80\x80\x80", b"\xfc\x80\x80\x80\x80\x80"],
        [b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf", b"\xed\xb0\x80", b"\xed\xbe\x80",
         b"\xed\xbf\xbf"],
        [a + b for a in (b"\xed\xa0\x80", b"\xed\xad\xbf", b"\xed\xae\x80", b"\xed\xaf\xbf")
         for b in (b"\xed\xb0\x80", b"\xed\xbf\xbf")],
        noncharacters,
        [b"\xef\xbf\xb9", b"\xef\xbf\xba", b"\xef\xbf\xbb", b"\xef\xbf\xbc", b"\xef\xbf\xbd", b"\xef\xbf\xbe",
         b"\xef\xbf\xbf"],
    ]


for _g, _seqs in enumerate(_utf8_sequences(), 5):
    for _j, _payload in enumerate(_seqs, 1):
        case(f"6.{_g}.{_j}")(_text_in_frames([_payload]))


# -- 7 close -------------------------------------------------------------------------


@case("7.1.1")
def _echo_then_close(t: WsTarget) -> None:
    with t.connect() as c:
        c.send_frame(OP_TEXT, "Hello World!")
        expect_echo(c, OP_TEXT, b"Hello World!")
        clean_close(c)


def _after_close(then: bytes, then_frames: bytes = b"") -> "Callable[[WsTarget], None]":
    """Our close followed by `then` (frames the server must ignore): the
    server's close is the only frame back, then the TCP close."""

    def run(t: WsTarget) -> None:
        with t.connect() as c:
            c.send_raw(then_frames + encode_frame(OP_CLOSE, close_payload(1000)) + then)
            f = c.recv_frame()
            assert f.opcode == OP_CLOSE and f.close_code() == 1000, f"expected the close 1000 only, got {f}"
            c.expect_tcp_close()

    return run


case("7.1.2")(_after_close(encode_frame(OP_CLOSE, close_payload(1000))))
case("7.1.3")(_after_close(encode_frame(OP_PING, b"")))
case("7.1.4")(_after_close(encode_frame(OP_TEXT, b"Hello World!")))
case("7.1.5")(_after_close(encode_frame(OP_CONT, b"fragment2"), encode_frame(OP_TEXT, b"fragment1", fin=False)))


@case("7.1.6")
def _close_behind_big_message(t: WsTarget) -> None:
    with t.connect() as c:
        c.send_raw(
            encode_frame(OP_TEXT, b"BAsd7&jh23" * 26214 + b"BAsd")
            + encode_frame(OP_TEXT, b"Hello World!")
            + encode_frame(OP_CLOSE, close_payload(1000))
        )
        c.expect_close((1000,), timeout=10)  # the echoes may come first
        c.expect_tcp_close()


def _close_with(payload: bytes, want: "tuple[Optional[int], ...]") -> "Callable[[WsTarget], None]":
    def run(t: WsTarget) -> None:
        with t.connect() as c:
            c.send_frame(OP_CLOSE, payload)
            f = c.recv_frame()
            assert f.opcode == OP_CLOSE, f"expected a close, got {f}"
            assert f.close_code() in want, f"close code {f.close_code()}, expected one of {want}"
            c.expect_tcp_close()

    return run


case("7.3.1")(_close_with(b"", (None, 1000)))
case("7.3.2")(_close_with(b"\x03", (1002,)))
case("7.3.3")(_close_with(close_payload(1000), (1000,)))
case("7.3.4")(_close_with(close_payload(1000, "Hello World!"), (1000,)))
case("7.3.5")(_close_with(close_payload(1000, b"*" * 123), (1000,)))
case("7.3.6")(_close_with(close_payload(1000, b"*" * 124), (1002,)))
case("7.5.1")(_close_with(close_payload(1000, _BAD), (1007,)))

for _i, _code in enumerate([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999], 1):
    case(f"7.7.{_i}")(_close_with(close_payload(_code), (1000, _code)))
for _i, _code in enumerate([0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999], 1):
    case(f"7.9.{_i}")(_close_with(close_payload(_code), (1002,)))
case("7.13.1")(_close_with(close_payload(5000), (1002,)))
case("7.13.2")(_close_with(close_payload(65535), (1002,)))


# -- 9 limits and performance -------------------------------------------------------

_K, _M = 1 << 10, 1 << 20


def _big(opcode: int, n: int, frag: int = 0, chop: int = 0) -> "Callable[[WsTarget], None]":
    """An `n`-byte message: in one frame, or in frames of `frag` bytes, or in
    one frame written in `chop`-byte pieces; echoed whole."""

    def run(t: WsTarget) -> None:
        payload = (b"*" if opcode == OP_TEXT else b"\xfe") * n
        with t.connect(timeout=30) as c:
            if frag:
                out = bytearray()
                for i in range(0, n, frag):
                    out += encode_frame(OP_CONT if i else opcode, payload[i : i + frag], fin=i + frag >= n)
                c.send_raw(bytes(out))
            else:
                c.send_raw(encode_frame(opcode, payload), chop=chop)
            expect_echo(c, opcode, payload, timeout=30)
            clean_close(c)

    return run


def _round_trips(opcode: int, n: int, count: int = 1000) -> "Callable[[WsTarget], None]":
    def run(t: WsTarget) -> None:
        payload = (b"*" if opcode == OP_TEXT else b"\xfe") * n
        frame = encode_frame(opcode, payload)
        with t.connect() as c:
            for _ in range(count):
                c.send_raw(frame)
                expect_echo(c, opcode, payload)
            clean_close(c)

    return run


for _op, _a, _b, _c, _d in ((OP_TEXT, "9.1", "9.3", "9.5", "9.7"), (OP_BINARY, "9.2", "9.4", "9.6", "9.8")):
    for _i, _n in enumerate([64 * _K, 256 * _K, _M, 4 * _M, 8 * _M, 16 * _M], 1):
        case(f"{_a}.{_i}")(_big(_op, _n))
    for _i, _f in enumerate([64, 256, _K, 4 * _K, 16 * _K, 64 * _K, 256 * _K, _M, 4 * _M], 1):
        case(f"{_b}.{_i}")(_big(_op, 4 * _M, frag=_f))
    for _i, _ch in enumerate([64, 128, 256, 512, 1024, 2048], 1):
        case(f"{_c}.{_i}")(_big(_op, _M, chop=_ch))
    for _i, _n in enumerate([0, 16, 64, 256, _K, 4 * _K], 1):
        case(f"{_d}.{_i}")(_round_trips(_op, _n))


# -- 10 misc -------------------------------------------------------------------------


@case("10.1.1")
def _auto_fragmented(t: WsTarget) -> None:
    payload = b"*" * 65536
    with t.connect() as c:
        c.send_message(payload, binary=False, frag=1300)
        expect_echo(c, OP_TEXT, payload)
        clean_close(c)


# -- 12, 13 permessage-deflate --------------------------------------------------------

# (payload length, auto-fragment size) as in case12_x_x.py's MSG_SIZES.
_DEFLATE_SIZES = [(16, 0), (64, 0), (256, 0), (1024, 0), (4096, 0), (8192, 0), (16384, 0), (32768, 0), (65536, 0),
                  (131072, 0), (8192, 256), (16384, 256), (32768, 256), (65536, 256), (131072, 256),
                  (131072, 1024), (131072, 4096), (131072, 32768)]


def _corpus(kind: str, size: int = 400_000) -> bytes:
    """Deterministic stand-ins for Autobahn's test files, of the same kinds."""
    rng = random.Random(kind)
    if kind == "text":  # German prose (Autobahn: Faust I)
        words = "der die das und ist nicht ich du mit Geist Welt Nacht Himmel Erde Faust Mephistopheles wohl".split()
        return " ".join(rng.choice(words) for _ in range(size // 5)).encode()[:size]
    if kind == "bitmap":  # a smooth greyscale picture with noise (Autobahn: lena512.bmp)
        return bytes((((x // 7) ^ (y // 5)) + rng.randrange(8)) & 0xFF for y in range(size // 512) for x in range(512))
    if kind == "pdf":  # compressed streams amid text (Autobahn: a larger PDF)
        out = bytearray()
        while len(out) < size:
            out += b"%d 0 obj << /Length 512 /Filter /FlateDecode >> stream\n" % rng.randrange(999)
            out += rng.randbytes(512) + b"\nendstream endobj\n"
        return bytes(out[:size])
    if kind == "json":
        items = ",".join(
            '{"id":%d,"name":"item-%d","tags":["a","b"],"price":%d.%02d,"ok":%s}'
            % (i, rng.randrange(10_000), rng.randrange(100), rng.randrange(100), rng.choice(["true", "false"]))
            for i in range(size // 60)
        )
        return ("[" + items + "]").encode()[:size]
    # html
    rows = "".join(
        '<tr class="r%d"><td>%d</td><td><a href="/p/%d">page %d</a></td></tr>\n' % (i % 2, i, rng.randrange(999), i)
        for i in range(size // 60)
    )
    return ("<html><body><table>\n" + rows + "</table></body></html>").encode()[:size]


# (name, corpus kind, sent as binary) in case12_x_x.py's order.
_DATASETS = [("gutenberg_faust", "text", True), ("lena512", "bitmap", True), ("ooms", "pdf", True),
             ("json_data1", "json", False), ("html_data1", "html", False)]
_CORPORA: "dict[str, bytes]" = {}

# case13's (offers, what the response must grant): (server_no_context_takeover, server_max_window_bits).
_OFFERS = [
    [deflate_offer()],
    [deflate_offer(server_no_context_takeover=True)],
    [deflate_offer(server_max_window_bits=8)],
    [deflate_offer(server_max_window_bits=15)],
    [deflate_offer(server_no_context_takeover=True, server_max_window_bits=8)],
    [deflate_offer(server_no_context_takeover=True, server_max_window_bits=15)],
    [deflate_offer(server_no_context_takeover=True, server_max_window_bits=8),
     deflate_offer(server_no_context_takeover=True), deflate_offer()],
]


def _compressed_echo(kind: str, binary: bool, size: int, frag: int, offers: "list[str]") -> "Callable[[WsTarget], None]":
    count = max(8, min(250, _M // size))

    def run(t: WsTarget) -> None:
        data = _CORPORA.setdefault(kind, _corpus(kind))
        c = t.connect(extensions=", ".join(offers), timeout=30)
        with c:
            p = c.deflate_params
            if p is None:
                if t.external:
                    pytest.skip("the server declined permessage-deflate")
                raise AssertionError("permessage-deflate was not accepted")
            offered = offers[0]  # the response must grant what the first acceptable offer asked
            if len(offers) == 1:
                if "server_no_context_takeover" in offered:
                    assert p.server_no_context_takeover, "server_no_context_takeover asked, not granted"
                if "server_max_window_bits=8" in offered:
                    assert p.server_max_window_bits <= 8
            assert 8 <= p.server_max_window_bits <= 15 and 8 <= p.client_max_window_bits <= 15
            pos = 0
            for _ in range(count):
                msg = (data + data)[pos : pos + size]
                pos = (pos + size) % len(data)
                c.send_message(msg, binary=binary, frag=frag)
                op, got = c.recv_message(30)
                assert op == (OP_BINARY if binary else OP_TEXT)
                assert got == msg, f"{len(got)} bytes back, sent {len(msg)}"
            clean_close(c)

    return run


for _j, (_name, _kind, _binary) in enumerate(_DATASETS, 1):
    for _i, (_size, _frag) in enumerate(_DEFLATE_SIZES, 1):
        case(f"12.{_j}.{_i}")(_compressed_echo(_kind, _binary, _size, _frag, _OFFERS[0]))
for _j, _offers in enumerate(_OFFERS, 1):
    for _i, (_size, _frag) in enumerate(_DEFLATE_SIZES, 1):
        case(f"13.{_j}.{_i}")(_compressed_echo("json", False, _size, _frag, _offers))


# -- the pytest cases -----------------------------------------------------------------

_IDS = sorted(CASES, key=_key)


@pytest.mark.parametrize("case_id", _IDS, ids=_IDS)
def test_case(ws_server: WsTarget, case_id: str) -> None:  # noqa: F811
    """Autobahn case `case_id` against the server under test."""
    CASES[case_id](ws_server)


def test_case_list_matches_autobahn() -> None:
    """The suite holds Autobahn's case ids of these groups (and no other)."""
    counts: "dict[str, int]" = {}
    for cid in CASES:
        g = cid.split(".")[0]
        counts[g] = counts.get(g, 0) + 1
    assert counts == {"1": 16, "2": 11, "3": 7, "4": 10, "5": 20, "6": 145, "7": 37, "9": 54, "10": 1,
                      "12": 90, "13": 126}


# -- beyond Autobahn: pierhead's own settings --------------------------------------------


@pytest.fixture
def pierhead_only(ws_server: WsTarget) -> None:  # noqa: F811
    if ws_server.external:
        pytest.skip("pierhead's own settings: not with WS_CONFORMANCE_URL")


def test_message_over_max_message_bytes_fails_1009(pierhead_only: None) -> None:
    """A message over `max_message_bytes`, in one frame or in fragments, fails
    the connection with 1009 (message too big); one at the limit is echoed."""
    import pierhead

    with pierhead.Server(protocol="ws", max_message_bytes=4096) as s:
        t = WsTarget(f"ws://127.0.0.1:{s.port}/", True, False)
        with t.connect() as c:
            c.send_frame(OP_BINARY, b"x" * 4096)
            expect_echo(c, OP_BINARY, b"x" * 4096)
            c.send_frame(OP_BINARY, b"x" * 4097)
            expect_fail(c, 1009)
        with t.connect() as c:
            c.send_frame(OP_TEXT, b"x" * 3000, fin=False)
            c.send_frame(OP_CONT, b"x" * 3000, fin=True)
            expect_fail(c, 1009)


def test_ws_deflate_off_declines_the_offer(pierhead_only: None) -> None:
    """`ws_deflate=False`: the offer is declined, messages go uncompressed,
    and RSV1 is a protocol error."""
    import pierhead

    with pierhead.Server(protocol="ws", ws_deflate=False) as s:
        t = WsTarget(f"ws://127.0.0.1:{s.port}/", True, False)
        with t.connect(extensions=deflate_offer()) as c:
            assert c.deflate_params is None and "sec-websocket-extensions" not in c.headers
            c.send_message("plain", binary=False)
            expect_echo(c, OP_TEXT, b"plain")
            c.send_frame(OP_TEXT, b"\xf2H\xcd\xc9\xc9\x07\x00", rsv=4)
            expect_fail(c, 1002)
