"""The README's Python examples run as written."""

from __future__ import annotations

import pathlib
import subprocess
import sys

from conftest import assert_on_timeline

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"


def run_example(name: str, *args: str) -> list[str]:
    """Runs examples/python/<name> as the README does; its output lines."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_quickstart_runs_as_written():
    lines = run_example("quickstart.py")
    assert lines[0].startswith("http://127.0.0.1:")
    assert lines[1:4] == ["{'hi': 'there'}", "b'SHOUT' text/plain", "b'worth the wait'"]
    assert lines[4].startswith('Stats(state="running", connections_accepted=3')
    assert lines[5].startswith("StopReport(complete=True")


def test_pytest_example_passes_with_the_installed_plugin():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLES / "test_example.py")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=EXAMPLES,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_rooms_example_runs_as_written():
    assert run_example("rooms.py") == [
        "{'lobby': 2}",
        "b'hi bob'",
        "PublishReport(delivered=2, dropped=0, disconnected=0, forwarded=False)",
        "b'server says hello' b'server says hello'",
        "FrameError: frame of 2097152 bytes is over the limit of 1048576",
        "broadcasts=2 deliveries=3 protocol_errors=1",
    ]


def test_backplane_example_runs_as_written(redis_url: str) -> None:
    assert run_example("backplane.py", redis_url) == [
        "b'hi from east'",
        "PublishReport(delivered=1, dropped=0, disconnected=0, forwarded=True)",
        "b'west says hello' b'west says hello'",
        "connected subscriptions: 1 received: 1",
        "stopped",
    ]


def test_https_example_runs_as_written():
    lines = run_example("https.py")
    assert lines[0].startswith("https://127.0.0.1:")
    assert lines[1:] == [
        "200 b'{\"hi\": \"over tls\"}'",
        "{'hi': 'over tls'}",
        "default trust store: SSLCertVerificationError unable to get local issuer certificate",
        "expired: certificate has expired",
        "wrong_host: IP address mismatch, certificate is not valid for '127.0.0.1'.",
        "untrusted_ca: unable to get local issuer certificate",
        "PublishReport(delivered=1, dropped=0, disconnected=0, forwarded=False) b'encrypted hello'",
    ]


def test_streaming_example_runs_as_written():
    lines = run_example("streaming.py")
    assert [l.split(" ", 1)[1] for l in lines[:3]] == ["'Hel'", "'lo'", "'!'"]
    # Timed from before the request and printed to 0.1 s.
    assert_on_timeline([float(l.split("s ", 1)[0]) for l in lines[:3]], [0, 0.1, 0.2], resolution=0.1)
    assert lines[3:9] == [
        "event line: retry: 2000",
        "event line: id: 1",
        "event line: data: ready",
        "event line: id: 2",
        "event line: data: tick",
        "stream cut: RemoteProtocolError",
    ]
    # Seed 7 decides the same answers on every run and machine.
    assert lines[9] == "chaos, seed 7: ok RST ok ok ok RST ok ok RST ok"
    assert lines[10] == "replayable: [(7, 2), (7, 6), (7, 9)]"
    assert lines[11:] == ["refuse: connection refused", "hold: read timeout"]
