"""Streamed answers, server-sent events, connect-phase faults and seeded chaos,
read by real clients (httpx and requests)."""

import time

import httpx
import requests

import pierhead
from pierhead import Chaos, Fault, Response, SseEvent, Step

with pierhead.Server() as server:
    # An LLM-style token stream: three pieces, 100 ms apart.
    server.expect_request("/v1/chat").respond_with_response(
        Response.stream(["Hel", Step.pause(0.1), "lo", Step.pause(0.1), "!"])
    )
    # Server-sent events with ids, a delay, then the stream is cut.
    server.expect_request("/events").respond_with_response(
        Response.sse([SseEvent("ready", id="1"), SseEvent("tick", id="2", delay=0.1), Step.cut()], retry=2)
    )
    # 30% of answers reset, decided by seed 7.
    server.expect_request("/flaky").respond_with_data("ok", fault=Chaos(7, [(0.3, Fault.reset())]))

    t0 = time.monotonic()
    with httpx.stream("GET", server.url_for("/v1/chat")) as r:
        for piece in r.iter_text():
            print(f"{time.monotonic() - t0:.1f}s {piece!r}")

    try:
        with httpx.stream("GET", server.url_for("/events")) as r:
            for line in r.iter_lines():
                if line:
                    print("event line:", line)
    except httpx.RemoteProtocolError as e:
        print("stream cut:", type(e).__name__)

    outcomes = []
    for _ in range(10):
        try:
            outcomes.append(requests.get(server.url_for("/flaky"), timeout=2).text)
        except requests.ConnectionError:
            outcomes.append("RST")
    print("chaos, seed 7:", " ".join(outcomes))
    print("replayable:", [r.chaos for r in server.log if r.fault is not None][:3])

    # (A request held unaccepted is served once the hold ends: expect it.)
    server.expect_request("/").respond_with_data("up")
    with server.connect_fault_while("refuse"):
        try:
            requests.get(server.url, timeout=2)
        except requests.ConnectionError:
            print("refuse: connection refused")
    with server.connect_fault_while("hold"):
        try:
            httpx.get(server.url, timeout=httpx.Timeout(2, read=0.2))
        except httpx.ReadTimeout:
            print("hold: read timeout")
    server.check_assertions()
