"""The README's pytest example: the pierhead_http fixture (installed with the
package, no conftest needed). After each test, check_assertions() runs."""

import urllib.request

import pytest


def test_client_fetches_profile(pierhead_http):
    pierhead_http.expect_request("/users/7", method="GET").respond_with_json({"name": "Ada"})
    body = urllib.request.urlopen(pierhead_http.url_for("/users/7")).read()
    assert body == b'{"name": "Ada"}'
    pierhead_http.assert_request_made("/users/7", count=1)


@pytest.mark.pierhead(handler_timeout=2)
def test_client_survives_a_reset(pierhead_http):
    import pierhead

    pierhead_http.expect_request("/flaky").respond_with_fault(pierhead.Fault.reset())
    with pytest.raises(ConnectionResetError):
        urllib.request.urlopen(pierhead_http.url_for("/flaky"))
