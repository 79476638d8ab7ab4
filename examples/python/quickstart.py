"""The README's Python quick start: an expectation server, a handler, a fault,
assertions, stats and the stop report."""

import json
import urllib.request

import pierhead

with pierhead.Server() as server:  # 127.0.0.1, a free port, started
    server.expect_request("/hello", method="GET").respond_with_json({"hi": "there"})
    server.expect_request("/echo", method="POST").respond_with_handler(
        lambda req: pierhead.Response(req.body.upper(), headers={"X-Seen": req.header("content-type", "-")})
    )
    server.expect_oneshot_request("/slow").respond_with_data(
        "worth the wait", fault=pierhead.Fault.delay(0.2)
    )

    print(server.url)
    print(json.load(urllib.request.urlopen(server.url_for("/hello"))))
    req = urllib.request.Request(server.url_for("/echo"), data=b"shout", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req) as resp:
        print(resp.read(), resp.headers["X-Seen"])
    print(urllib.request.urlopen(server.url_for("/slow")).read())

    server.assert_request_made("/hello", method="GET")
    server.check_assertions()  # no unexpected request, no handler error
    print(server.stats())
print(server.stop())  # already stopped by `with`: the same report
