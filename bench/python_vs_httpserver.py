"""pierhead vs pytest-httpserver, side by side in one run (see scripts/bench-python.sh).

Measures, for each server: start latency, stop latency with 100 idle keep-alive
connections open, and requests per second under wrk for a static expectation
and for a Python handler. Prints a Markdown table with the ratios, and the
Ctrl-C latency of pierhead's serve_forever.
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
    ph_start = start_latency(start_pierhead, lambda s: s.stop())
    hs_start = start_latency(start_httpserver, lambda s: s.stop())

    def ph_route(s):
        s.expect_request("/static").respond_with_data("hello")

    def hs_route(s):
        s.expect_request("/static").respond_with_data("hello")

    ph_stop, ph_open = stop_latency(start_pierhead, lambda s: s.stop(), lambda s: (s.host, s.port), ph_route)
    hs_stop, hs_open = stop_latency(start_httpserver, lambda s: s.stop(), lambda s: (s.host, s.port), hs_route)

    ph = start_pierhead()
    ph.expect_request("/static").respond_with_data("hello")
    ph.expect_request("/python").respond_with_handler(lambda r: pierhead.Response("hello"))
    hs = start_httpserver()
    hs.expect_request("/static").respond_with_data("hello")
    hs.expect_request("/python").respond_with_handler(lambda r: WResponse("hello"))
    ph_static = wrk(ph.url_for("/static"))
    hs_static = wrk(hs.url_for("/static"))
    ph_python = wrk(ph.url_for("/python"))
    hs_python = wrk(hs.url_for("/python"))
    ph.stop()
    hs.stop()

    ctrl_c = ctrl_c_latency()

    print(f"wrk -t1 -c8 -d{WRK_SECONDS}s; medians of {ROUNDS} starts and 20 stops\n")
    print("| measure | pierhead | pytest-httpserver | ratio |")
    print("|---|---|---|---|")
    print(f"| start (ms) | {ph_start:.3f} | {hs_start:.3f} | {hs_start / ph_start:.0f}x faster |")
    print(
        f"| stop with 100 idle keep-alive connections (ms) | {ph_stop:.3f} ({ph_open} open) "
        f"| {hs_stop:.3f} ({hs_open} open) | {hs_stop / ph_stop:.0f}x faster |"
    )
    print(f"| static expectation (req/s) | {ph_static:,.0f} | {hs_static:,.0f} | {ph_static / hs_static:.1f}x |")
    print(f"| Python handler (req/s) | {ph_python:,.0f} | {hs_python:,.0f} | {ph_python / hs_python:.1f}x |")
    print(f"\nCtrl-C during serve_forever until KeyboardInterrupt (median of 10): {ctrl_c:.1f} ms")


if __name__ == "__main__":
    main()
