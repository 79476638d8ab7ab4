"""``python -m pierhead serve|bench ...``: the command line, from Python.

``serve`` mirrors the ``pierhead serve`` binary: same flags and defaults, same
output (the listening address on the first line, a stats line every
``--stats-interval``, the stop report on Ctrl-C or SIGTERM). ``bench`` runs the
load generator (:func:`pierhead.bench`) with the binary's main flags and prints its
summary (``--json FILE`` also writes the JSON result).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Optional, Sequence

from . import ConfigError, NothingMeasuredError, PierheadError, Response, Server, Stats, _pierhead

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _duration(text: str) -> float:
    """``500ms``, ``5s``, ``2m``, or a bare number of seconds."""
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return float(text[: -len(unit)]) * _UNITS[unit]
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"`{text}` is not a duration (e.g. 500ms, 5s)") from None


def _size(text: str) -> int:
    """``65536``, ``64k``, ``10MiB``: the binary's size syntax (one parser, in Rust)."""
    try:
        return _pierhead.parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _split_bind(bind: str) -> "tuple[str, int]":
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"invalid config field `bind`: `{bind}` is not HOST:PORT", "bind")
    return host.strip("[]"), int(port)


def _add_route(server: Server, spec: str) -> None:
    """``METHOD PATH [STATUS [BODY|@FILE]]``, as the binary's ``--route``."""
    parts = spec.split(None, 3)
    if len(parts) < 2:
        raise ConfigError(f"invalid config field `route`: `{spec}` is not `METHOD PATH [STATUS [BODY|@FILE]]`", "route")
    method, path = parts[0], parts[1]
    status = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 200
    body: "str | bytes" = parts[3] if len(parts) > 3 else ""
    if isinstance(body, str) and body.startswith("@"):
        with open(body[1:], "rb") as f:
            body = f.read()
    prefix = path.endswith("*")
    handler = server.expect_request(
        path[:-1] if prefix else path, method=None if method == "*" else method, prefix=prefix
    )
    handler.respond_with_response(Response(body, status))


def _print_stats(s: Stats) -> None:
    b = s.backplane
    backplane = (
        ""
        if b is None
        else f" | backplane {b.state} subscribed {b.subscriptions} published {b.published} "
        f"unpublished {b.unpublished} unconfirmed {b.unconfirmed} received {b.received} "
        f"outages {b.outages}"
    )
    print(
        f"stats: up {s.uptime:.0f}s {s.state} | conns active {s.connections_active} "
        f"accepted {s.connections_accepted} refused {s.connections_refused} | requests "
        f"{s.requests} responses {s.responses} | read {s.bytes_read} B written "
        f"{s.bytes_written} B{backplane} | errors protocol {s.protocol_errors} timeouts {s.timeouts} "
        f"accept {s.accept_errors} internal {s.internal_errors}",
        flush=True,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pierhead", description="pierhead server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve until SIGINT or SIGTERM, then stop gracefully")
    serve.add_argument("--protocol", default="http", help="discard, echo, http or frame (default http)")
    serve.add_argument("--bind", default="127.0.0.1:8080", help="listen address (port 0: any free port)")
    serve.add_argument("--workers", type=int, default=None, help="worker threads (default: number of cores)")
    serve.add_argument("--max-connections", type=int, default=None)
    serve.add_argument("--listen-backlog", type=int, default=None)
    serve.add_argument("--idle-timeout", type=_duration, default=None)
    serve.add_argument("--header-timeout", type=_duration, default=None)
    serve.add_argument("--write-timeout", type=_duration, default=None)
    serve.add_argument("--max-header-bytes", type=_size, default=None)
    serve.add_argument("--max-headers", type=int, default=None)
    serve.add_argument("--max-body-bytes", type=_size, default=None)
    serve.add_argument("--max-output-bytes", type=_size, default=None)
    serve.add_argument("--max-frame-bytes", type=_size, default=None)
    serve.add_argument("--slow-consumer", default=None, help="disconnect, drop_newest or drop_oldest")
    serve.add_argument(
        "--backplane", default=None, metavar="URL", help="share rooms through Redis: redis://host:port[/db]"
    )
    serve.add_argument("--stats-interval", default="5s", help='stats line interval; "off" for none')
    serve.add_argument("--stop-timeout", type=_duration, default=5.0)
    serve.add_argument("--route", action="append", default=[], help='"METHOD PATH [STATUS [BODY|@FILE]]"')
    serve.add_argument("--unmatched-status", type=int, default=404)
    bench = sub.add_parser("bench", help="load a target and report throughput and latency")
    bench.add_argument("target", help="http://host:port/path, or host:port with --protocol echo|frame")
    bench.add_argument("--protocol", default=None, help="http, echo or frame")
    bench.add_argument("-c", "--connections", type=int, default=64)
    bench.add_argument("-t", "--threads", type=int, default=1)
    bench.add_argument("-d", "--duration", type=_duration, default=10.0)
    bench.add_argument("-n", "--requests", type=int, default=None)
    bench.add_argument("--warmup", type=_duration, default=0.0)
    bench.add_argument("--pipeline", type=int, default=1)
    bench.add_argument("--rate", type=float, default=None, help="open loop: requests per second")
    bench.add_argument("-m", "--method", default="GET")
    bench.add_argument("-H", "--header", action="append", default=[], help='"Name: value"')
    bench.add_argument("--body-size", type=_size, default=None)
    bench.add_argument("--timeout", type=_duration, default=2.0)
    bench.add_argument("--json", default=None, metavar="FILE", help="also write the JSON result here")
    args = parser.parse_args(argv)
    if args.command == "bench":
        return _bench(args)


    limits: "dict[str, object]" = {"unmatched_status": args.unmatched_status, "fixed_response": not args.route}
    for name in (
        "max_connections",
        "listen_backlog",
        "idle_timeout",
        "header_timeout",
        "write_timeout",
        "max_header_bytes",
        "max_headers",
        "max_body_bytes",
        "max_output_bytes",
        "max_frame_bytes",
        "slow_consumer",
        "backplane",
    ):
        if getattr(args, name) is not None:
            limits[name] = getattr(args, name)
    on_stats = None
    if args.stats_interval != "off":
        limits["stats_interval"] = _duration(args.stats_interval)
        on_stats = _print_stats
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    try:
        host, port = _split_bind(args.bind)
        server = Server(
            args.protocol,
            host,
            port,
            workers=workers,
            on_stats=on_stats,
            **limits,
        )
        for spec in args.route:
            _add_route(server, spec)
        server.start()
    except PierheadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    address = server.url.split("://", 1)[1]

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt("SIGTERM")

    # Before the address is printed: whoever reads it may signal at once.
    signal.signal(signal.SIGTERM, on_term)
    # Also when started in the background by a shell, which leaves SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        print(f"pierhead listening on {address} (protocol {args.protocol}, {workers} workers)", flush=True)
        report = server.serve_forever(args.stop_timeout)
    except KeyboardInterrupt as e:
        name = "SIGTERM" if str(e) == "SIGTERM" else "SIGINT"
        print(f"{name}: stopping (grace {args.stop_timeout:g}s)", flush=True)
        report = server.stop(args.stop_timeout)
    s = server.stats()
    print(
        f"stopped in {report.elapsed * 1000:.1f} ms: {report.idle_closed} idle closed, "
        f"{report.drained} drained, {report.force_closed} force-closed; served "
        f"{s.connections_accepted} connections, {s.requests} requests, {s.responses} responses, "
        f"{s.protocol_errors} protocol errors",
        flush=True,
    )
    if report.backplane is not None:
        b = report.backplane
        print(
            f"backplane: {b.published} published, {b.unpublished} unpublished, "
            f"{b.unconfirmed} unconfirmed, {b.received} received from other servers, "
            f"{b.outages} outages ({b.down_time:.1f} s down)",
            flush=True,
        )
    return 0


def _bench(args: argparse.Namespace) -> int:
    headers = []
    for h in args.header:
        name, sep, value = h.partition(":")
        if not sep:
            print(f"error: invalid config field `header`: `{h}` is not `Name: value`", file=sys.stderr)
            return 2
        headers.append((name.strip(), value.strip()))
    try:
        result = _pierhead.bench(
            args.target,
            protocol=args.protocol,
            connections=args.connections,
            threads=args.threads,
            duration=args.duration,
            requests=args.requests,
            warmup=args.warmup,
            pipeline=args.pipeline,
            rate=args.rate,
            method=args.method,
            headers=headers,
            body_size=args.body_size,
            timeout=args.timeout,
        )
    except NothingMeasuredError as e:
        # Still reported (its errors say what happened), then named: exit 1.
        _bench_output(e.result, args.json)
        print(f"error: {e}", file=sys.stderr)
        return 1
    except PierheadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    _bench_output(result, args.json)
    return 0


def _bench_output(result: _pierhead.BenchResult, json_path: Optional[str]) -> None:
    print(result.summary(), flush=True)
    if json_path:
        with open(json_path, "w") as f:
            f.write(result.to_json())


if __name__ == "__main__":
    sys.exit(main())
