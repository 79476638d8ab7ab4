"""HTTPS in a test: a throwaway CA made at start, trusted by the clients and by nothing else.

    .venv/bin/python examples/python/https.py
"""

import ssl
import urllib.request

import requests

import pierhead

with pierhead.Server(tls=True) as server:  # a CA and a leaf for localhost, 127.0.0.1, ::1
    server.expect_request("/hello").respond_with_json({"hi": "over tls"})
    print(server.url)

    # the standard library: an SSLContext that trusts the server's CA
    with urllib.request.urlopen(server.url_for("/hello"), context=server.ssl_context()) as resp:
        print(resp.status, resp.read())

    # requests (and curl --cacert): the CA as a PEM file
    print(requests.get(server.url_for("/hello"), verify=server.ca_path).json())

    # a client with the default trust store refuses it, as it should
    try:
        urllib.request.urlopen(server.url_for("/hello"))
    except urllib.error.URLError as e:
        print("default trust store:", type(e.reason).__name__, e.reason.verify_message)

# Certificates that misbehave on purpose, for testing a client's checks:
for kind in ("expired", "wrong_host", "untrusted_ca"):
    with pierhead.Server(tls=kind) as bad:
        try:
            urllib.request.urlopen(bad.url_for("/"), context=bad.ssl_context())
        except urllib.error.URLError as e:
            assert isinstance(e.reason, ssl.SSLCertVerificationError)
            print(f"{kind}: {e.reason.verify_message}")

# Frames over TLS: FrameClient(ssl_context=...)
with pierhead.Server("frame", tls=True) as rooms:
    with pierhead.FrameClient("localhost", rooms.port, ssl_context=rooms.ssl_context()) as ann:
        ann.join("lobby")
        print(rooms.publish("lobby", b"encrypted hello"), ann.recv())
