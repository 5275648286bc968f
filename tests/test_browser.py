"""The report in a real browser: headless Chromium with no network draws every chart of a
scenario report, and every link of the index resolves to a file of the report."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest

from sim.report import build as reports

ROOT = Path(__file__).resolve().parent.parent
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
    out = tmp_path_factory.mktemp("browser") / "report"
    code = reports.build_report([str(ROOT / "scenarios/baseline.yaml"),
                                 str(ROOT / "scenarios/discount_cap.yaml")], replications=2,
                                seed=0, out_dir=out, executor="serial", months=6)
    assert code == 0
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
