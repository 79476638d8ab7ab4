#!/usr/bin/env python3
"""The first request on a TLS connection from a client that leaves Nagle on, as
Python's `ssl` sockets do (issue 22): N connections one after another, each a
handshake, then one request (`Connection: close`) timed from its send to the
first bytes of the answer. Certificates are not checked.

Usage: tls_first_request.py HOST PORT N 1.3|1.2 [resume]
With `resume` each connection offers the previous one's session. Prints the
median, min and max in ms, and how many handshakes resumed.
"""
import socket
import ssl
import statistics
import sys
import time

host, port, n, version = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
resume = len(sys.argv) > 5 and sys.argv[5] == "resume"
ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
ctx.minimum_version = ctx.maximum_version = v
took, resumed, session = [], 0, None
for _ in range(n):
    with ctx.wrap_socket(socket.create_connection((host, port)), server_hostname="localhost",
                         session=session) as s:
        sent = time.perf_counter()
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.")
        took.append((time.perf_counter() - sent) * 1e3)
        resumed += s.session_reused
        while s.recv(65536):
            pass
        if resume:
            session = s.session
print(f"TLS {version}{' resume' if resume else ''}: median {statistics.median(took):.2f} ms "
      f"(min {min(took):.2f}, max {max(took):.2f}), {resumed}/{n} resumed")
