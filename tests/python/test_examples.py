"""The README's Python examples run as written."""

from __future__ import annotations

import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python"


def test_quickstart_runs_as_written():
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
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
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "rooms.py")], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "{'lobby': 2}",
        "b'hi bob'",
        "PublishReport(delivered=2, dropped=0, disconnected=0, forwarded=False)",
        "b'server says hello' b'server says hello'",
        "FrameError: frame of 2097152 bytes is over the limit of 1048576",
        "broadcasts=2 deliveries=3 protocol_errors=1",
    ]


def test_backplane_example_runs_as_written(redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "backplane.py"), redis_url], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "b'hi from east'",
        "PublishReport(delivered=1, dropped=0, disconnected=0, forwarded=True)",
        "b'west says hello' b'west says hello'",
        "connected subscriptions: 1 received: 1",
        "stopped",
    ]
