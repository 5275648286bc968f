"""Screenshots of issue 24's decision sections in the system Chromium through Playwright, at
a laptop's 1280 px: the compare page's sections (what binds, every setting that differs,
every decision KPI), the verdict block of the index and every page of the board pack. Kept as
test artefacts in build/screenshots/ (gitignored) to be looked at; the test checks what can
be measured: nothing wider than the window, every section drawn, the board pack's chart
pages with at most two panels and print-sized text."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

import sim
from sim.experiments.experiment import compare
from sim.kpis import DECISION_KPIS, KPIS
from sim.report import cells, page
from sim.report.board_pack import PRINT_FONT, board_pack_html, verdict_html

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "screenshots"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                        else None)
playwright = pytest.importorskip("playwright.sync_api")
if CHROMIUM is None:
    if os.environ.get("CI"):
        raise RuntimeError("chromium is required in CI (apt-get install chromium)")
    pytest.skip("chromium is not installed (CI installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The compare sections, the verdict block and the board pack of three plans (24 months:
    two plan years on the chart pages) as HTML files."""
    work = tmp_path_factory.mktemp("words")
    load = [sim.load_scenario(ROOT / "scenarios" / f"{n}.yaml").model_copy(
        update={"horizon_months": 24})
        for n in ("baseline", "price_increase", "partner_push", "account_plan_top_accounts")]
    cmp = compare(load[0], load[1:], replications=2, seed=1, executor="serial")
    compare_body = "".join(f"<section>{block}</section>" for block in (
        cells.compare_summary(cmp).body, cells.compare_levers(cmp).to_html(),
        cells.deltas_detail(cmp).body))
    out = {"compare": page.document("Compare", compare_body),
           "verdict": page.document("Verdict", verdict_html(cmp)),
           "board_pack": board_pack_html(cmp)}
    files = {}
    for name, html in out.items():
        files[name] = work / f"{name}.html"
        files[name].write_text(html, encoding="utf-8")
    return files


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-dev-shm-usage",
                                    "--proxy-server=127.0.0.1:9",
                                    "--host-resolver-rules=MAP * ~NOTFOUND"])
        yield b
        b.close()


def _open(browser, path: Path, width: int = 1280):
    tab = browser.new_page(viewport={"width": width, "height": 900})
    tab.goto(path.as_uri())
    return tab


def test_the_compare_sections_fit_1280_px_and_show_every_decision_kpi(pages, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab = _open(browser, pages["compare"])
    assert tab.evaluate("document.scrollingElement.scrollWidth") <= 1280
    text = tab.inner_text("body")
    for k in DECISION_KPIS:
        assert KPIS[k].short in text, k
    assert "Partner plan (active partners)" in text and "a seat a year" in text
    assert "pricing.segments" not in text
    assert not re.search(r"and \d+ more", text)  # no lever hidden behind "… and 5 more"
    shot = SHOTS / "compare_sections.png"
    tab.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    tab.close()


def test_the_verdict_block_reads_in_plain_words(pages, browser):
    tab = _open(browser, pages["verdict"])
    assert tab.evaluate("document.scrollingElement.scrollWidth") <= 1280
    text = tab.inner_text("body")
    assert ("is ahead of" in text or "trails" in text) and "loses to" not in text
    assert "Cash trough, mean (P10 – P90)" in text and "Statistics:" in text
    tab.screenshot(path=str(SHOTS / "verdict.png"), full_page=True)
    tab.close()


def test_every_board_pack_page_fits_and_its_charts_are_few_and_large(pages, browser):
    # the printable width of A4 landscape with 12 mm margins: 273 mm at 96 dpi
    tab = _open(browser, pages["board_pack"], width=1032)
    assert tab.evaluate("document.scrollingElement.scrollWidth") <= 1032  # no print shrink
    sections = tab.locator("section")
    n = sections.count()
    assert n >= 6
    for i in range(n):
        sec = sections.nth(i)
        title = sec.locator("h1, h2").first.inner_text()
        shot = SHOTS / f"board_pack_{i + 1:02d}.png"
        sec.screenshot(path=str(shot))
        assert shot.stat().st_size > 5_000, title
        if title in ("Profit next to revenue", "Cash"):
            # few, large panels: at most two plot areas, each at least 400 px wide, and
            # axis labels at the print size
            sizes = sec.evaluate(
                "s => s.querySelectorAll('g.role-axis[aria-label^=\"Y-axis\"]').length")
            widths = sec.evaluate("""s => Array.from(s.querySelectorAll('svg')).map(
                v => v.getBoundingClientRect().width)""")
            assert widths and min(widths) >= 900, (title, widths)
            fonts = sec.evaluate(
                "s => Array.from(s.querySelectorAll('g.role-axis-label text'))"
                ".map(t => parseFloat(t.getAttribute('font-size') || "
                "getComputedStyle(t).fontSize))")
            assert fonts and min(fonts) >= PRINT_FONT, (title, fonts)
            assert 1 <= sizes <= 2, (title, sizes)
    tab.close()
