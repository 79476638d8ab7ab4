"""The frame protocol from Python: FrameClient, rooms, publish, the fixture."""

from __future__ import annotations

import socket

import pytest

import pierhead
from pierhead import FrameClient

from conftest import wait_until


def client(s: pierhead.Server, **kw) -> FrameClient:
    return FrameClient(s.host, s.port, **kw)


def test_echo_join_broadcast_leave_ping(pierhead_frame):
    s = pierhead_frame
    with client(s) as a, client(s) as b, client(s) as c:
        a.send(b"alone")
        assert a.recv() == b"alone"  # in no room: echoed
        a.join("room")
        b.join("room")
        c.join("other")
        assert s.rooms() == {"room": 2, "other": 1}
        a.send("héllo")
        assert b.recv() == "héllo".encode()
        assert a.ping(b"x") < 5
        b.leave()
        assert s.rooms() == {"room": 1, "other": 1}
        b.send(b"echo")
        assert b.recv() == b"echo"
    wait_until(lambda: not s.stats().rooms)  # the closes are seen by the server
    st = s.stats()
    assert st.broadcasts == 1 and st.deliveries == 1 and st.rooms == 0 and st.members == 0


def test_publish_reaches_every_member_and_reports(pierhead_frame):
    s = pierhead_frame
    members = [client(s) for _ in range(20)]
    try:
        for m in members:
            m.join("news")
        report = s.publish("news", b"breaking")
        assert (report.delivered, report.dropped, report.disconnected) == (20, 0, 0)
        assert repr(report) == "PublishReport(delivered=20, dropped=0, disconnected=0, forwarded=False)"
        assert all(m.recv() == b"breaking" for m in members)
        assert s.publish("empty", "x").delivered == 0
    finally:
        for m in members:
            m.close()


def test_errors_carry_the_server_text():
    with pierhead.Server(protocol="frame", max_frame_bytes=1000) as s:
        with client(s) as c:
            c.send(b"x" * 2000)
            with pytest.raises(pierhead.FrameError, match="over the limit of 1000") as e:
                c.recv()
            assert "1000" in e.value.text
            assert isinstance(e.value, ConnectionError)
        raw = socket.create_connection((s.host, s.port))
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n")
        data = raw.recv(1000)
        assert b"bad magic" in data
        assert s.stats().protocol_errors == 2


def test_recv_timeout_and_bad_options():
    with pierhead.Server(protocol="frame", slow_consumer="drop_oldest") as s:
        with client(s, timeout=0.2) as c:
            with pytest.raises(TimeoutError):
                c.recv()
    with pytest.raises(pierhead.ConfigError) as e:
        pierhead.Server(protocol="frame", slow_consumer="sometimes")
    assert e.value.field == "slow_consumer"
    with pytest.raises(pierhead.ConfigError) as e:
        pierhead.Server(protocol="frame", max_frame_bytes=0)
    assert e.value.field == "max_frame_bytes"
    with pierhead.Server(protocol="echo") as echo:
        with pytest.raises(pierhead.ServerStateError, match="frame protocol"):
            echo.publish("r", b"x")
    with pierhead.Server() as http:  # rooms of WebSocket routes: none has members
        assert http.publish("r", b"x").delivered == 0
    with pierhead.Server(protocol="frame") as s:
        with pytest.raises(pierhead.ConfigError) as e:
            s.publish("r" * 65, b"x")
        assert e.value.field == "room"


def test_join_then_publish_has_no_race():
    """join() returns once JOINED arrived, so a publish right after reaches it,
    over many rounds and two workers."""
    with pierhead.Server(protocol="frame", workers=2) as s:
        for i in range(50):
            with client(s) as c:
                c.join(f"r{i}")
                assert s.publish(f"r{i}", b"now").delivered == 1
                assert c.recv() == b"now"


def test_a_slow_consumer_gets_its_frames_then_the_error_text():
    # A member that reads nothing while frames pile up is disconnected; reading
    # then (within the grace) it gets whole frames, then ERROR "slow consumer".
    with pierhead.Server(protocol="frame", max_output_bytes=64 << 10, slow_consumer="disconnect") as s:
        with client(s) as slow:
            with socket.fromfd(slow.fileno(), socket.AF_INET, socket.SOCK_STREAM) as same:
                same.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.join("s")
            payload = b"x" * 10_000
            while s.stats().slow_consumer_disconnects == 0:
                s.publish("s", payload)
            frames = 0
            with pytest.raises(pierhead.FrameError) as e:
                while True:
                    assert slow.recv() == payload
                    frames += 1
            assert e.value.text == "slow consumer", e.value
            assert frames > 0
        wait_until(lambda: s.stats().connections_active == 0)
        st = s.stats()
        # Every frame offered to the member is counted once: delivered or dropped.
        assert st.deliveries == frames and st.deliveries + st.frames_dropped == st.broadcasts, st


def test_publish_after_stop_says_the_server_is_stopped():
    s = pierhead.Server(protocol="frame")
    s.start()
    s.stop()
    with pytest.raises(pierhead.ServerStateError, match="the server is stopped"):
        s.publish("r", b"late")
