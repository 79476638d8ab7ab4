"""Memory that must stay bounded, previous build vs this one (scripts/bench-memory.sh).

Each scenario runs a server in a process of its own and reads its VmRSS from /proc:

- file-route: `pierhead serve --route "GET /big 200 @FILE"` with a 50 MiB file, RSS
  after start (copies of the route body).
- pipelined-unread: one client sends 20 pipelined GETs for that route and never
  reads; RSS after 1 s, and again 1 s after the client closed.
- python-uploads: a Python server (request log on, its default) with one
  expectation takes 100 uploads of 5 MiB; RSS before and after.

Usage: bench/memory.py BASELINE_PIERHEAD CURRENT_PIERHEAD BASELINE_PYTHON CURRENT_PYTHON
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

MIB = 1 << 20


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def serve(binary: str, *args: str) -> "tuple[subprocess.Popen, int]":
    child = subprocess.Popen(
        [binary, "serve", "--bind", "127.0.0.1:0", "--stats-interval", "off", "--workers", "1", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    first = child.stdout.readline()
    return child, int(first.split()[3].rsplit(":", 1)[1])


def stop(child: subprocess.Popen) -> None:
    child.terminate()
    child.communicate(timeout=30)


def cli_scenarios(binary: str, big_file: str) -> "dict[str, int]":
    out = {}
    child, port = serve(binary, "--route", f"GET /big 200 @{big_file}")
    try:
        time.sleep(0.3)
        out["file-route RSS after start (MiB)"] = rss_kib(child.pid) // 1024
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"GET /big HTTP/1.1\r\nHost: b\r\n\r\n" * 20)
        time.sleep(1.0)
        out["20 pipelined, unread: RSS (MiB)"] = rss_kib(child.pid) // 1024
        c.close()
        time.sleep(1.0)
        out["... 1 s after the client closed (MiB)"] = rss_kib(child.pid) // 1024
    finally:
        stop(child)
    return out


PY_UPLOADS = textwrap.dedent(
    """
    import os, socket, sys, pierhead
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    with pierhead.Server(max_body_bytes=8 << 20) as s:
        s.expect_request("/up", method="POST").respond_with_data("ok")
        before = rss()
        body = b"u" * (5 << 20)
        c = socket.create_connection((s.host, s.port))
        f = c.makefile("rb")
        for _ in range(100):
            c.sendall(b"POST /up HTTP/1.1\\r\\nHost: b\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
            while f.readline() not in (b"\\r\\n", b""):
                pass
            f.read(2)
        print(before, rss())
    """
)


def python_uploads(python: str) -> "dict[str, int]":
    done = subprocess.run([python, "-c", PY_UPLOADS], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    before, after = map(int, done.stdout.split())
    return {"python: RSS before 100 uploads of 5 MiB (MiB)": before, "... after (MiB)": after}


def main() -> None:
    base_bin, cur_bin, base_py, cur_py = sys.argv[1:5]
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(b"f" * (50 * MIB))
        f.flush()
        rows = {}
        for name, binary, python in (("previous build", base_bin, base_py), ("this build", cur_bin, cur_py)):
            rows[name] = {**cli_scenarios(binary, f.name), **python_uploads(python)}
    names = list(rows)
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for key in rows[names[0]]:
        print(f"| {key} | " + " | ".join(str(rows[n][key]) for n in names) + " |")


if __name__ == "__main__":
    main()
