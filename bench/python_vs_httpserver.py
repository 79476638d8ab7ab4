"""pierhead vs pytest-httpserver, side by side in one run (see scripts/bench-python.sh).

Three servers: pierhead.Server, pierhead.httpserver.HTTPServer (pytest-httpserver's
API on pierhead: dispatch in Python, werkzeug objects) and pytest-httpserver's
HTTPServer (werkzeug's server). Measures, for each: start latency, stop latency
of an idle server and with 100 idle keep-alive connections open, and requests per
second under wrk for a static expectation and for a Python handler. Prints a
Markdown table with the ratios, and the Ctrl-C latency of pierhead's serve_forever.
"""

from __future__ import annotations

import logging
import re
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import time

import pierhead
from pytest_httpserver import HTTPServer
from werkzeug import Response as WResponse

from pierhead.httpserver import HTTPServer as CompatServer

logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
WRK_SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
ROUNDS = 200


def median_ms(samples: "list[float]") -> float:
    return statistics.median(samples) * 1000


def start_pierhead() -> pierhead.Server:
    return pierhead.Server().start()


def start_httpserver() -> HTTPServer:
    s = HTTPServer(host="127.0.0.1", port=0)
    s.start()
    return s


def start_compat() -> CompatServer:
    s = CompatServer(host="127.0.0.1", port=0)
    s.start()
    return s


def idle_stop_latency(make, rounds: int = 20) -> float:
    """Stop right after start, with no connection ever made."""
    samples = []
    for _ in range(rounds):
        s = make()
        time.sleep(0.01)
        t = time.perf_counter()
        s.stop()
        samples.append(time.perf_counter() - t)
    return median_ms(samples)


def start_latency(make, stop) -> float:
    samples = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        s = make()
        samples.append(time.perf_counter() - t)
        stop(s)
    return median_ms(samples)


def idle_connections(host: str, port: int, n: int = 100) -> "list[socket.socket]":
    conns = []
    for _ in range(n):
        c = socket.create_connection((host, port))
        c.sendall(b"GET /static HTTP/1.1\r\nHost: b\r\n\r\n")
        c.recv(65536)
        conns.append(c)
    return conns


def stop_latency(make, stop, host_port, add_route, rounds: int = 20) -> "tuple[float, int]":
    samples = []
    still_open = 0
    for _ in range(rounds):
        s = make()
        add_route(s)
        conns = idle_connections(*host_port(s))
        # Connections the server kept open (HTTP/1.1 keep-alive) after answering.
        for c in conns:
            c.setblocking(False)
            try:
                still_open += c.recv(1) != b""
            except BlockingIOError:
                still_open += 1
        t = time.perf_counter()
        stop(s)
        samples.append(time.perf_counter() - t)
        for c in conns:
            c.close()
    return median_ms(samples), still_open // rounds


def wrk(url: str) -> float:
    out = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{WRK_SECONDS}s", url], capture_output=True, text=True, check=True
    ).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors or not m:
        raise SystemExit(f"wrk failed against {url}:\n{out}")
    return float(m.group(1))


def ctrl_c_latency(rounds: int = 10) -> float:
    code = textwrap.dedent(
        """
        import time, pierhead
        s = pierhead.Server().start()
        print("ready", flush=True)
        try:
            s.serve_forever()
        except KeyboardInterrupt:
            print(time.monotonic(), flush=True)
        """
    )
    samples = []
    for _ in range(rounds):
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        child.stdout.readline()
        time.sleep(0.12)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        samples.append(float(child.stdout.readline()) - sent)
        child.wait()
    return median_ms(samples)


def main() -> None:
    makes = {"pierhead": start_pierhead, "compat": start_compat, "werkzeug": start_httpserver}
    starts = {k: start_latency(m, lambda s: s.stop()) for k, m in makes.items()}
    idle_stops = {k: idle_stop_latency(m) for k, m in makes.items()}

    def route(s):
        s.expect_request("/static").respond_with_data("hello")

    busy_stops = {k: stop_latency(m, lambda s: s.stop(), lambda s: (s.host, s.port), route) for k, m in makes.items()}

    rates = {}
    for k, m in makes.items():
        s = m()
        s.expect_request("/static").respond_with_data("hello")
        answer = (lambda r: pierhead.Response("hello")) if k == "pierhead" else (lambda r: WResponse("hello"))
        s.expect_request("/python").respond_with_handler(answer)
        rates[k] = (wrk(s.url_for("/static")), wrk(s.url_for("/python")))
        s.stop()

    ctrl_c = ctrl_c_latency()

    print(f"wrk -t1 -c8 -d{WRK_SECONDS}s; medians of {ROUNDS} starts and 20 stops\n")
    print("| measure | pierhead.Server | pierhead.httpserver | pytest-httpserver | Server / httpserver vs pytest-httpserver |")
    print("|---|---|---|---|---|")

    def row(name, values, fmt, faster_is_lower=True):
        ph, co, wz = values
        r1 = wz / ph if faster_is_lower else ph / wz
        r2 = wz / co if faster_is_lower else co / wz
        print(f"| {name} | {fmt(ph)} | {fmt(co)} | {fmt(wz)} | {r1:.1f}x / {r2:.1f}x |")

    ms = lambda v: f"{v:.3f}"  # noqa: E731
    row("start (ms)", [starts[k] for k in makes], ms)
    row("stop, idle (ms)", [idle_stops[k] for k in makes], ms)
    row(
        "stop with 100 idle keep-alive connections (ms)",
        [busy_stops[k][0] for k in makes],
        ms,
    )
    print(
        "| (of those 100, still open when stop began) | "
        + " | ".join(str(busy_stops[k][1]) for k in makes)
        + " | |"
    )
    rps = lambda v: f"{v:,.0f}"  # noqa: E731
    row("static expectation (req/s)", [rates[k][0] for k in makes], rps, faster_is_lower=False)
    row("Python handler (req/s)", [rates[k][1] for k in makes], rps, faster_is_lower=False)
    print(f"\nCtrl-C during serve_forever until KeyboardInterrupt (median of 10): {ctrl_c:.1f} ms")


if __name__ == "__main__":
    main()
