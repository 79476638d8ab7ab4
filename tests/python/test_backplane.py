"""Rooms across servers from Python: ``Server(protocol="frame", backplane=...)``
against a real ``redis-server`` (Debian's; scripts/test.sh installs it), started by
the ``redis`` fixture (conftest.py) on a free loopback port and stopped after the
test."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pierhead
from pierhead import FrameClient

from conftest import Redis, wait_until


def connected(s: pierhead.Server) -> bool:
    b = s.stats().backplane
    return b is not None and b.state == "connected"


def test_rooms_span_servers(redis: Redis) -> None:
    with pierhead.Server("frame", backplane=redis.url) as a, pierhead.Server("frame", backplane=redis.url) as b:
        assert wait_until(lambda: connected(a) and connected(b))
        with FrameClient(a.host, a.port) as ann, FrameClient(b.host, b.port) as bob:
            ann.join("lobby")
            bob.join("lobby")  # returns once b's subscription is confirmed
            ann.send(b"hi bob")
            assert bob.recv() == b"hi bob"
            bob.send("hi ann")
            assert ann.recv() == b"hi ann"
            report = b.publish("lobby", b"from the host")
            assert (report.delivered, report.forwarded) == (1, True)
            assert ann.recv() == b"from the host" and bob.recv() == b"from the host"
            assert redis.channels() == ["pierhead/0/lobby"]
        st = a.stats().backplane
        assert st is not None
        assert st.published == 1 and st.received == 2 and st.unpublished == 0 and st.outages == 0
        assert "connected" in repr(st)
        report = a.stop()
        assert report.backplane is not None and report.backplane.state == "stopped"
    assert wait_until(lambda: redis.channels() == [])


def test_broker_outage_is_counted_and_local_delivery_goes_on(redis: Redis) -> None:
    with pierhead.Server("frame", backplane=redis.url) as s:
        assert wait_until(lambda: connected(s))
        with FrameClient(s.host, s.port) as a, FrameClient(s.host, s.port) as b:
            a.join("room")
            b.join("room")
            redis.kill()
            assert wait_until(lambda: s.stats().backplane.state == "down")  # type: ignore[union-attr]
            a.send(b"local")
            assert b.recv() == b"local"
            # Counted just after the local delivery, in the same loop turn.
            assert wait_until(lambda: s.stats().backplane.unpublished == 1)  # type: ignore[union-attr]
            st = s.stats().backplane
            assert st is not None and st.outages == 1 and st.last_error
            redis.start()
            assert wait_until(lambda: connected(s))
            assert wait_until(lambda: redis.channels() == ["pierhead/0/room"])
            assert s.stats().backplane.reconnects == 1  # type: ignore[union-attr]


def test_bad_backplane_config_raises_config_error_naming_it() -> None:
    with pytest.raises(pierhead.ConfigError, match="backplane"):
        pierhead.Server("frame", backplane="localhost:6379")
    with pytest.raises(pierhead.ConfigError, match="frame protocol"):
        pierhead.Server("http", backplane="redis://127.0.0.1:6379")
    with pytest.raises(pierhead.ConfigError, match="backplane"):
        pierhead.Server("frame", backplane=6379)
    # Without one, stats say None.
    with pierhead.Server("frame") as s:
        assert s.stats().backplane is None
        assert s.publish("nobody", b"x").forwarded is False


def test_python_m_pierhead_serve_with_backplane(redis: Redis) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pierhead", "serve", "--protocol", "frame", "--bind", "127.0.0.1:0"]
        + ["--stats-interval", "100ms", "--backplane", redis.url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("pierhead listening on 127.0.0.1:"), first
        for line in proc.stdout:
            if "backplane connected" in line:
                break
        proc.terminate()
        out = proc.stdout.read()
        assert proc.wait(10) == 0
        assert "backplane: 0 published, 0 unpublished" in out, out
    finally:
        proc.kill()
