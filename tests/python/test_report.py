"""The load generator's HTML report, opened in headless Chromium (Debian's
``chromium``; scripts/test.sh installs it): the DOM has the charts, and the
screenshot shows the latency curve and the bars in their colours."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest
from PIL import Image

import pierhead
from conftest import BlackHole

CURVE = (0x1F, 0x6F, 0xEB)  # the latency curve
UNCORRECTED = (0xD2, 0x99, 0x22)
BARS = (0x2D, 0xA4, 0x4E)  # answers per second
ERRORS = (0xCF, 0x22, 0x2E)  # errors per second, on top of the answers
BORDER = (0xD0, 0xD7, 0xDE)  # the charts' borders
# The timeline chart's plot area in SVG units (report.rs: TOP, H - BOTTOM).
PLOT_TOP, PLOT_BOTTOM = 20.0, 290.0


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


def render(tmp_path: pathlib.Path, page_html: str) -> "tuple[str, Image.Image]":
    """The page as Chromium's DOM and as a 1000x1500 screenshot."""
    page = tmp_path / "report.html"
    page.write_text(page_html)
    dom = run_chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr
    shot = tmp_path / "report.png"
    done = run_chromium("--window-size=1000,1500", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr
    return dom.stdout, Image.open(shot).convert("RGB")


def rects(html: str, fill: "tuple[int, int, int]") -> "list[tuple[float, float]]":
    """(y, height) of every <rect> of this fill colour in the DOM."""
    found = []
    colour = "#%02x%02x%02x" % fill
    for tag in re.findall(r'<rect [^>]*fill="%s"[^>]*>' % colour, html):
        y = float(re.search(r' y="([-0-9.]+)"', tag).group(1))  # type: ignore[union-attr]
        h = float(re.search(r' height="([-0-9.]+)"', tag).group(1))  # type: ignore[union-attr]
        found.append((y, h))
    return found


def test_error_bars_stay_in_the_plot_with_a_legend(tmp_path: pathlib.Path) -> None:
    # Issue 22: the axis was scaled to the answers only, so thousands of errors a
    # second overflowed it (and looked like 1), and nothing said what red was.
    # 20 right answers, then every request a 500.
    with pierhead.Server() as s:
        s.expect_request("/", uses=20).respond_with_data("ok")
        r = pierhead.bench(s.url + "/", connections=4, duration=2.0)
    assert r.requests == 20 and r.errors["status"] > 1000, r.summary()
    html, img = render(tmp_path, r.html_report())

    bars, errors = rects(html, BARS), rects(html, ERRORS)
    assert len(bars) == len(errors) == 2, html
    for y, h in bars + errors:
        assert PLOT_TOP - 0.05 <= y and y + h <= PLOT_BOTTOM + 0.05, (y, h)
    # The axis is scaled to the busiest second (a "nice" bound at most twice it).
    assert min(y for y, _ in errors) <= (PLOT_TOP + PLOT_BOTTOM) / 2 + 1
    legend = re.search(r'<p class="legend" id="timeline-legend">(.*?)</p>', html)
    assert legend and "answers" in legend.group(1) and "errors" in legend.group(1), html

    # In the screenshot: red is drawn, none of it in the chart's top margin (the
    # overflowing bars filled it, clipped at the border), and the legend shows both
    # colours. Each chart has a 1 px border: its top and bottom are the rows of
    # border colour; the timeline chart's are the last two.
    raw = img.tobytes()
    width = img.size[0]

    def rows_of(color: "tuple[int, int, int]", at_least: int) -> "list[int]":
        counts: "dict[int, int]" = {}
        for i in range(0, len(raw), 3):
            if near(tuple(raw[i : i + 3]), color):
                counts[i // 3 // width] = counts.get(i // 3 // width, 0) + 1
        return sorted(r for r, n in counts.items() if n >= at_least)

    borders = rows_of(BORDER, 700)
    assert len(borders) == 4, borders
    top, bottom = borders[2], borders[3]
    red = rows_of(ERRORS, 1)
    in_chart = [row for row in red if top < row < bottom]
    assert len(in_chart) > 100, "the error bars are drawn"
    assert min(in_chart) >= top + PLOT_TOP - 1, f"red from row {min(in_chart)}, the plot from row {top + PLOT_TOP}"
    legend_rows = [row for row in red if row > bottom]
    assert legend_rows, "the legend's red swatch"
    assert set(legend_rows) & set(rows_of(BARS, 1)), "the legend's green swatch beside it"


def test_a_run_without_answers_shows_n_a(tmp_path: pathlib.Path, black_hole: BlackHole) -> None:
    # Issue 22: with no answer the latency table said 0us.
    with pytest.raises(pierhead.NothingMeasuredError) as e:
        pierhead.bench(black_hole.url, connections=2, duration=1.0, timeout=0.2)
    r = e.value.result
    html, img = render(tmp_path, r.html_report())
    table = re.search(r'<table id="percentiles">(.*?)</table>', html, re.S)
    assert table, html
    cells = re.findall(r"<td class=\"?n\"?>([^<]*)</td>", table.group(1))
    assert cells and set(cells) == {"n/a"}, cells
    assert "0us" not in html
    assert "n/a: no right answer" in html
    assert len(rects(html, BARS)) == 1 and len(rects(html, ERRORS)) == 1
    raw = img.tobytes()
    assert any(near(tuple(raw[i : i + 3]), ERRORS) for i in range(0, len(raw), 3)), "the timeouts are drawn"


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
