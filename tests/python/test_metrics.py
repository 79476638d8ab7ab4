"""Stats as Prometheus text: the ``metrics=`` endpoint, read by the reference
parser (``prometheus_client.parser``)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import pierhead


def families(text: str) -> "dict[str, object]":
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_the_endpoint_serves_parseable_metrics() -> None:
    with pierhead.Server(fixed_response=True, metrics="127.0.0.1:0") as s:
        for _ in range(3):
            urllib.request.urlopen(s.url + "/").read()
        assert s.metrics_url is not None and s.metrics_url.endswith("/metrics")
        with urllib.request.urlopen(s.metrics_url) as resp:
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = resp.read().decode()
        f = families(text)
        # The parser strips `_total` from counter family names.
        requests = f["pierhead_requests"]
        assert requests.type == "counter"  # type: ignore[attr-defined]
        assert requests.samples[0].value == 3  # type: ignore[attr-defined]
        assert f["pierhead_connections_active"].type == "gauge"  # type: ignore[attr-defined]
        state = {x.labels["state"]: x.value for x in f["pierhead_state"].samples}  # type: ignore[attr-defined]
        assert state == {"running": 1, "stopping": 0, "stopped": 0, "failed": 0}
        info = f["pierhead_info"].samples[0]  # type: ignore[attr-defined]
        assert info.labels == {"version": pierhead.__version__, "protocol": "http"}
        for name, fam in f.items():
            assert name.startswith("pierhead_"), name
        # The same text without the endpoint.
        assert "pierhead_requests_total 3" in s.metrics_text()
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(s.metrics_url.replace("/metrics", "/other"))
        assert e.value.code == 404


def test_backplane_metrics_appear_with_a_backplane() -> None:
    with pierhead.Server("frame", backplane="redis://127.0.0.1:1") as s:
        f = families(s.metrics_text())
        assert "pierhead_backplane_published" in f and "pierhead_backplane_subscriptions" in f
    with pierhead.Server("frame") as s:
        assert "backplane" not in s.metrics_text()
        assert s.metrics_url is None


def test_a_bad_metrics_address_is_a_config_error() -> None:
    with pytest.raises(pierhead.ConfigError) as e:
        pierhead.Server(metrics="nowhere")
    assert e.value.field == "metrics"
