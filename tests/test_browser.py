"""The report in a real browser: headless Chromium with no network draws every chart of a
scenario report, every link of the index resolves to a file of the report, and at a laptop's
1280 px every page fits (no horizontal scrollbar, no table behind one), every chart has marks,
no chart text collides or is cut off, time axes end at the horizon (calendar months where the
scenario has a calendar) and the index opens with the verdict and its intervals."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest
from browser_probe import measure, screenshot

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parent.parent
MONTHS = 12
REVSIM = shutil.which("revsim", path=str(Path(sys.executable).parent)) or "revsim"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                        else None)

if CHROMIUM is None:
    if os.environ.get("CI"):
        raise RuntimeError("chromium is required in CI (apt-get install chromium)")
    pytest.skip("chromium is not installed (CI installs it)", allow_module_level=True)


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
           "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--virtual-time-budget=3000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v:
                self.hrefs.append(v)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A real `revsim report` of three plans, one of them with a calendar (Feb 2026 start,
    fiscal years from April)."""
    work = tmp_path_factory.mktemp("browser")
    fy = work / "price_fy.yaml"
    fy.write_text(f"extends: {ROOT / 'scenarios/price_increase.yaml'}\n"
                  "name: price_fy\ncalendar:\n  start_month: 2026-02\n"
                  "  fiscal_year_start_month: 4\n", encoding="utf-8")
    out = work / "report"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REVSIM_PROGRESS": "never"}
    done = subprocess.run([REVSIM, "report",
                           str(ROOT / "scenarios/baseline.yaml"),
                           str(ROOT / "scenarios/discount_cap.yaml"), str(fy), "--reps", "2",
                           "--months", str(MONTHS), "--executor", "serial", "--out", str(out)],
                          capture_output=True, text=True, timeout=900, env=env, cwd=work)
    assert done.returncode == 0, done.stderr
    return out


def test_index_renders_and_every_link_resolves(report, tmp_path):
    index = report / "index.html"
    dom = _chromium(tmp_path, "--dump-dom", index.as_uri()).stdout
    assert "Revenue strategy report" in dom and "baseline" in dom
    parser = _Links()
    parser.feed(dom)
    local = [h for h in parser.hrefs if not h.startswith("#")]
    assert len(local) >= 6
    for href in local:
        url = urlparse(href)
        assert url.scheme in ("", "file"), f"external link {href}"
        target = Path(unquote(url.path)) if url.scheme == "file" else report / unquote(url.path)
        assert target.is_file(), href


@pytest.mark.parametrize("page", ["baseline", "compare_scenarios"])
def test_every_chart_is_drawn(report, tmp_path, page):
    executed = nbformat.read(report / "notebooks" / f"{page}.ipynb", as_version=4)
    charts = sum("image/svg+xml" in o.get("data", {}) for c in executed.cells
                 for o in c.get("outputs", []))
    assert charts >= 3
    dom = _chromium(tmp_path, "--dump-dom", (report / "html" / f"{page}.html").as_uri()).stdout
    tags = [t for t in re.findall(r"<svg\b[^>]*>", dom) if 'class="marks"' in t]
    assert len(tags) == charts, "every chart output is an svg element in the rendered DOM"
    for tag in tags:
        size = dict(re.findall(r'\b(width|height)="(\d+)"', tag))
        assert int(size["width"]) > 100 and int(size["height"]) > 100, tag
    assert dom.count("mark-line") + dom.count("mark-rect") >= charts
    shot = tmp_path / f"{page}.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600",
              (report / "html" / f"{page}.html").as_uri())
    assert shot.stat().st_size > 20_000


def _charts_in(report: Path, page: str) -> int:
    executed = nbformat.read(report / "notebooks" / f"{page}.ipynb", as_version=4)
    return sum("image/svg+xml" in o.get("data", {}) for c in executed.cells
               for o in c.get("outputs", []))


@pytest.mark.parametrize("page", ["index", "baseline", "price_fy", "compare_scenarios"])
def test_pages_fit_a_laptop_and_every_chart_is_drawn_cleanly(report, tmp_path, page):
    path = report / "index.html" if page == "index" else report / "html" / f"{page}.html"
    m = measure(CHROMIUM, path, tmp_path, width=1280)
    assert m["clientWidth"] == 1280
    assert m["scrollWidth"] <= m["clientWidth"], f"horizontal scrollbar: {m['wide'][:3]}"
    assert not m["scrollers"], f"content behind a scrollbar: {m['scrollers']}"
    shot = screenshot(CHROMIUM, path, tmp_path / f"{page}-1280.png", tmp_path)
    assert shot.stat().st_size > 20_000
    if page == "index":
        assert not m["charts"]
        return
    assert len(m["charts"]) == _charts_in(report, page) >= 3
    for c in m["charts"]:
        assert c["width"] > 100 and c["height"] > 100, c
        assert c["lines"] + c["areas"] + c["rects"] > 0, f"no marks in {c['title']}"
        assert not c["collisions"], f"{c['title']}: {c['collisions']}"
        assert not c["clipped"], f"{c['title']}: text cut off: {c['clipped']}"
    if page != "compare_scenarios":
        assert not [h for h in m["wrappedHeaders"] if h.startswith(("Year ", "FY"))]


def test_time_axes_end_at_the_horizon_in_plan_and_calendar_months(report, tmp_path):
    plain = measure(CHROMIUM, report / "html" / "baseline.html", tmp_path)
    months = [int(t) for c in plain["charts"] for t in c["xLabels"] if t.isdigit()]
    assert max(months) == MONTHS
    cal = measure(CHROMIUM, report / "html" / "price_fy.html", tmp_path)
    labels = {t for c in cal["charts"] for t in c["xLabels"]}
    assert {"Feb 2026", "Jan 2027"} <= labels and "Feb 2027" not in labels
    assert not [t for t in labels if t.isdigit() and int(t) > MONTHS]
    dom = _chromium(tmp_path, "--dump-dom", (report / "html" / "price_fy.html").as_uri()).stdout
    assert "FY2026 (2 mo)" in dom and "FY2027 (10 mo)" in dom


def test_index_opens_with_the_verdict_and_its_intervals(report, tmp_path):
    dom = _chromium(tmp_path, "--dump-dom", (report / "index.html").as_uri()).stdout
    assert 'id="verdict"' in dom
    verdict = dom[dom.index('id="verdict"'):]
    assert dom.index('id="verdict"') < dom.index('id="baseline"')
    assert re.search(r"95% interval", verdict)
    assert re.search(r"\d+%\s*(–|-|to)\s*\d+%", verdict), "a probability with its interval"
