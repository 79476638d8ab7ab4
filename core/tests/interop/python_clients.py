"""Drives a pierhead server with Python's own HTTP clients: http.client and urllib3.

Usage: python_clients.py http.client|urllib3 PORT
Prints one line per check; exits non-zero on the first wrong answer.
"""
import sys


def check(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")
    print(f"ok {what}")


def with_http_client(port):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(20):
        conn.request("GET", f"/static?i={i}")
        r = conn.getresponse()
        check(f"GET {i}", (r.status, r.read()), (200, b"static\n"))
    conn.request("POST", "/echo", body=b"x" * 5000, headers={"Content-Type": "a/b"})
    r = conn.getresponse()
    check("POST length", (r.status, len(r.read())), (200, 5000))
    conn.request("POST", "/echo", body=iter([b"chunk-one,", b"chunk-two"]), encode_chunked=True)
    r = conn.getresponse()
    check("POST chunked", r.read(), b"chunk-one,chunk-two")
    conn.request("HEAD", "/static")
    r = conn.getresponse()
    check("HEAD", (r.status, r.getheader("Content-Length"), r.read()), (200, "7", b""))
    conn.request("GET", "/missing")
    r = conn.getresponse()
    check("404", (r.status, r.read()), (404, b"Not Found\n"))
    conn.close()


def with_urllib3(port):
    import urllib3

    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, block=True, retries=False)
    for i in range(20):
        r = pool.request("GET", f"/static?i={i}")
        check(f"GET {i}", (r.status, r.data), (200, b"static\n"))
    r = pool.request("POST", "/echo", body=b"y" * 70000)
    check("POST length", (r.status, len(r.data)), (200, 70000))
    r = pool.request("POST", "/echo", body=[b"a" * 10, b"b" * 10], chunked=True)
    check("POST chunked", r.data, b"a" * 10 + b"b" * 10)
    r = pool.request("GET", "/json")
    check("json", (r.headers["Content-Type"], r.json()), ("application/json", {"ok": True}))
    pool.close()


if __name__ == "__main__":
    client, port = sys.argv[1], int(sys.argv[2])
    {"http.client": with_http_client, "urllib3": with_urllib3}[client](port)
