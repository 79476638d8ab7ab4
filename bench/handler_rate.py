"""Requests per second through a Python handler, for the pierhead package this
interpreter imports (scripts/bench-memory.sh runs it from two venvs in turn).
Usage: handler_rate.py SECONDS. Prints one number."""

from __future__ import annotations

import re
import subprocess
import sys

import pierhead

with pierhead.Server() as s:
    s.expect_request("/python").respond_with_handler(lambda r: "hello")
    out = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{sys.argv[1]}s", s.url_for("/python")],
        capture_output=True, text=True, check=True,
    ).stdout
    s.check_assertions()
print(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
