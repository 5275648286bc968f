"""Scenario text is data in every HTML page: a report built by ``revsim report`` from
scenarios whose name, description and target names are ``<script>`` / ``onerror`` payloads is
loaded in real headless Chromium; no payload runs and each shows as text."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import altair as alt
import pandas as pd
import pytest
import vl_convert as vlc
from hostile import HTML_DESCRIPTION, HTML_NAME, HTML_TARGET, SVG_NAME

from sim.outputs.escape import safe_svg, style_table, svg_html
from sim.report import cells

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                        else None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed")


def dom(page: Path, tmp: Path) -> str:
    """The page's DOM after its scripts ran (headless Chromium, no network)."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
           "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--virtual-time-budget=3000", "--dump-dom", page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout


def ran(text: str) -> list[str]:
    """Traces a payload leaves in the DOM only when it ran."""
    traces = {"title set": r"<title>XSS-RAN</title>", "body attribute": r"<body[^>]*data-pwned",
              "element added": r"id=\"pwned"}
    return [k for k, pat in traces.items() if re.search(pat, text)]


@pytest.fixture(scope="module")
def report(hostile_report):
    out, proc = hostile_report
    assert proc.returncode == 0, proc.stderr.decode()
    return out


@needs_chromium
def test_the_detector_sees_a_payload_that_runs(tmp_path):
    """The same payloads pasted raw into a page do run in this Chromium: the check can fail."""
    page = tmp_path / "raw.html"
    page.write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body>"
                    f"<h1>{HTML_NAME}</h1><p>{HTML_DESCRIPTION}</p>{HTML_TARGET}</body></html>")
    assert set(ran(dom(page, tmp_path))) == {"title set", "body attribute", "element added"}


@needs_chromium
@pytest.mark.parametrize("page", ["index.html", "html/evil.html",
                                  "html/x_import_os_os.system_touch_pwned-marker_.html",
                                  "html/compare_scenarios.html"])
def test_no_payload_runs_and_the_text_is_shown(report, tmp_path, page):
    path = report / page
    assert path.is_file(), sorted(p.name for p in (report / "html").iterdir())
    text = dom(path, tmp_path)
    assert ran(text) == []
    # the hostile name is on the page as text (the DOM serialises text with &lt; &gt;)
    names = [HTML_NAME] if "x_import" not in page else [SVG_NAME]
    if page in ("index.html", "html/compare_scenarios.html"):
        names = [HTML_NAME, SVG_NAME]
    for name in names:
        assert html.escape(name, quote=False) in text, name


def test_no_raw_payload_in_any_written_page(report):
    """Byte-level check of every HTML file of the report (no browser needed)."""
    pages = [report / "index.html", *sorted((report / "html").glob("*.html"))]
    assert len(pages) == 4
    for page in pages:
        raw = page.read_text(encoding="utf-8")
        assert "<script>document.title" not in raw, page.name
        assert "<script>window.__pwned" not in raw, page.name
        assert not re.search(r"<img[^>]*onerror", raw), page.name
        assert "<p id=pwned" not in raw, page.name


def test_charts_stay_inline_svg(report):
    """vl-convert escapes the hostile names it draws, so charts are still inline <svg>."""
    page = (report / "html" / "compare_scenarios.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 3
    assert '<img alt="chart"' not in page  # no chart fell back to an image
    assert "&lt;/svg&gt;&lt;script&gt;" in page


def test_notebook_parameters_are_data_not_code(report):
    """A scenario file named like Python code is passed to the notebook as a string."""
    folder = report.parent
    assert not list(folder.rglob("pwned-marker"))
    nb = (report / "notebooks" / "x_import_os_os.system_touch_pwned-marker_.ipynb").read_text()
    assert "touch pwned-marker" in nb  # the path is there, as a string parameter


# ---------------------------------------------------------------- the helpers behind it


def test_every_table_escapes_caption_labels_and_cells():
    df = pd.DataFrame({HTML_NAME: [HTML_TARGET, 1.5]}, index=pd.Index([SVG_NAME, "b"], name=
                                                                     HTML_TARGET))
    out = style_table(df, caption=HTML_NAME).to_html()
    assert "<script" not in out and "</svg>" not in out and not re.search(r"<img", out)
    assert out.count("&lt;script&gt;document.title=") == 3  # caption, column, index label
    assert "&lt;/svg&gt;" in out  # index label
    assert out.count("&lt;img src=x onerror=") == 4  # caption, column, index name, cell


def test_an_svg_that_could_run_code_is_not_inlined():
    chart = alt.Chart(pd.DataFrame({"scenario": [SVG_NAME, HTML_NAME], "v": [1, 2]})).mark_bar(
    ).encode(x="scenario:N", y="v:Q").properties(title=SVG_NAME)
    svg = vlc.vegalite_to_svg(chart.to_dict())
    assert safe_svg(svg) and svg_html(svg) == svg
    for bad in ('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
                '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
                '<svg xmlns="http://www.w3.org/2000/svg"></svg><script>alert(1)</script>',
                '<svg xmlns="http://www.w3.org/2000/svg"><a href=" javascript:alert(1)">x</a>'
                '</svg>',
                '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>x</p>'
                '</foreignObject></svg>'):
        assert not safe_svg(bad), bad
        assert svg_html(bad).startswith('<img alt="chart" src="data:image/svg+xml;base64,')


def test_summary_html_escapes_scenario_text():
    from test_scenario import BASELINE

    from sim.scenario.io import load_scenario, with_overrides

    sc = with_overrides(load_scenario(BASELINE, {"horizon_months": 2}),
                        {"name": HTML_NAME, "description": HTML_DESCRIPTION})
    body = cells.assumptions(sc).to_html()
    assert "<script" not in body and "&lt;script&gt;" in body
