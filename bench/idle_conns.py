#!/usr/bin/env python3
"""Open N keep-alive HTTP connections, make one request on each, then hold them idle.

Prints "ready" once every connection has had its response, then waits until stdin
closes. Used to measure a server's memory per idle keep-alive connection. With a
fourth argument `tls`, the connections speak TLS (certificate not checked: the
server's memory is what is measured).
"""
import socket
import ssl
import sys

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tls = len(sys.argv) > 4 and sys.argv[4] == "tls"
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
req = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
conns = []
for i in range(n):
    s = socket.create_connection((host, port))
    if tls:
        s = ctx.wrap_socket(s, server_hostname="localhost")
    s.sendall(req)
    conns.append(s)
for s in conns:
    got = b""
    while not got.endswith(b"hello\n"):
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(f"connection closed by server after {len(conns)} connections")
        got += chunk
print("ready", flush=True)
sys.stdin.read()
