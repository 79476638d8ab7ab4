"""The load generator's HTML report, opened in headless Chromium (Debian's
``chromium``; scripts/test.sh installs it): the DOM has the charts, and the
screenshot shows the latency curve and the bars in their colours."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest
from PIL import Image

import pierhead

CURVE = (0x1F, 0x6F, 0xEB)  # the latency curve
UNCORRECTED = (0xD2, 0x99, 0x22)
BARS = (0x2D, 0xA4, 0x4E)  # answers per second


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Chromium is missing: scripts/test.sh installs Debian's chromium")


def run_chromium(*args: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def near(pixel: "tuple[int, ...]", want: "tuple[int, int, int]") -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(pixel[:3], want))


def test_the_report_renders_in_chromium(tmp_path: pathlib.Path) -> None:
    with pierhead.Server(fixed_response=True) as s:
        r = pierhead.bench(s.url + "/", connections=4, rate=500, duration=2.0)
    page = tmp_path / "report.html"
    page.write_text(r.html_report())

    dom = run_chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr
    html = dom.stdout
    assert 'id="percentile-chart"' in html and 'id="timeline-chart"' in html
    assert html.count('class="curve"') == 2  # corrected and uncorrected
    assert html.count('class="second"') == len(r.timeline) == 2
    assert "pierhead bench: " in html and "open loop at 500/s" in html

    shot = tmp_path / "report.png"
    done = run_chromium("--window-size=1000,1500", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr
    img = Image.open(shot).convert("RGB")
    assert img.size == (1000, 1500)
    raw = img.tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    assert sum(near(p, CURVE) for p in pixels) > 200, "the latency curve is drawn"
    assert sum(near(p, UNCORRECTED) for p in pixels) > 200, "the uncorrected curve is drawn"
    assert sum(near(p, BARS) for p in pixels) > 5000, "the bars are drawn"
