#!/usr/bin/env python3
"""Runs the WebSocket conformance suite (tests/python/test_ws_conformance.py,
one pytest case per Autobahn case id) and prints the RELIABILITY.md table:
Autobahn group, cases, passed (and the wall time of each group).

    scripts/ws-conformance-table.py            # pierhead (needs `pip install ./python` in .venv)
    scripts/ws-conformance-table.py --node     # Node's ws (tests/python/ws_peers/echo_server.js)
    scripts/ws-conformance-table.py --url ws://127.0.0.1:9001/ [--strict]

Extra arguments after `--` go to pytest (e.g. `-- -k "6. or 7."`). Exits 1
when a case failed. Uses .venv/bin/python when it exists.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "tests/python/test_ws_conformance.py"
ECHO_JS = ROOT / "tests/python/ws_peers/echo_server.js"

GROUPS = {
    "1": "framing",
    "2": "ping/pong",
    "3": "reserved bits",
    "4": "reserved opcodes",
    "5": "fragmentation",
    "6": "UTF-8",
    "7": "close",
    "9": "limits and performance",
    "10": "misc",
    "12": "permessage-deflate (payload kinds)",
    "13": "permessage-deflate (parameters)",
}


def start_node(deflate: bool) -> "tuple[subprocess.Popen[str], str]":
    """Starts the Node ws echo server; returns it and its ws:// URL."""
    cmd = ["node", str(ECHO_JS)] + ([] if deflate else ["--no-deflate"])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"listening on (\S+)", line)
    if not m:
        proc.kill()
        sys.exit(f"the Node echo server did not start: {line!r}")
    return proc, f"ws://{m.group(1)}/"


def run_suite(env: "dict[str, str]", pytest_args: "list[str]") -> Path:
    """Runs pytest on the suite; returns the JUnit XML report."""
    py = ROOT / ".venv/bin/python"
    python = str(py) if py.exists() else sys.executable
    report = Path(tempfile.mkdtemp()) / "ws-conformance.xml"
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", str(SUITE), *pytest_args]
    subprocess.run(cmd, cwd=SUITE.parent, env=env, check=False)
    return report


def table(report: Path) -> "tuple[str, int]":
    """The markdown table of a JUnit report, and the number of failures."""
    rows: "dict[str, list[float]]" = {}  # group -> [cases, passed, skipped, seconds]
    for tc in ET.parse(report).iter("testcase"):
        m = re.match(r"test_case\[([\d.]+)\]", tc.get("name", ""))
        if not m:
            continue
        group = m.group(1).split(".")[0]
        r = rows.setdefault(group, [0, 0, 0, 0.0])
        r[0] += 1
        if tc.find("skipped") is not None:
            r[2] += 1
        elif tc.find("failure") is None and tc.find("error") is None:
            r[1] += 1
        r[3] += float(tc.get("time", "0"))
    lines = ["| group | cases | passed | time |", "|---|---|---|---|"]
    failed = 0
    total = [0, 0, 0, 0.0]
    for group in sorted(rows, key=int):
        cases, passed, skipped, secs = rows[group]
        failed += int(cases - passed - skipped)
        total = [a + b for a, b in zip(total, rows[group])]
        note = f" ({int(skipped)} skipped)" if skipped else ""
        lines.append(f"| {group} {GROUPS.get(group, '')} | {int(cases)} | {int(passed)}{note} | {secs:.1f} s |")
    note = f" ({int(total[2])} skipped)" if total[2] else ""
    lines.append(f"| **all** | **{int(total[0])}** | **{int(total[1])}**{note} | {total[3]:.1f} s |")
    return "\n".join(lines), failed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    who = ap.add_mutually_exclusive_group()
    who.add_argument("--node", action="store_true", help="run against Node's ws echo server")
    who.add_argument("--url", help="run against this ws://host:port/ echo server")
    ap.add_argument("--no-deflate", action="store_true", help="with --node: permessage-deflate off")
    ap.add_argument("--strict", action="store_true", help="hold an outside server to the strict outcomes")
    ap.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    args = ap.parse_args()

    env = dict(os.environ)
    env.pop("WS_CONFORMANCE_URL", None)
    proc = None
    target = "pierhead"
    if args.node:
        proc, env["WS_CONFORMANCE_URL"] = start_node(not args.no_deflate)
        target = f"Node ws ({env['WS_CONFORMANCE_URL']})"
    elif args.url:
        env["WS_CONFORMANCE_URL"] = args.url
        target = args.url
    if args.strict:
        env["WS_CONFORMANCE_STRICT"] = "1"
    try:
        report = run_suite(env, args.pytest_args)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
    if not report.exists():
        print("pytest wrote no report", file=sys.stderr)
        return 1
    text, failed = table(report)
    print(f"\nWebSocket conformance (Autobahn case groups) against {target}:\n")
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
