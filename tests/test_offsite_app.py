"""The offsite app in a real browser: ``revsim offsite`` on a free loopback port in a
subprocess, the system Chromium driven headless by Playwright (no browser download). Every
request to an address other than the loopback is blocked and recorded, and none may be
attempted. Levers move, the numbers and charts change, a what-if is saved and loads as a
scenario. Times to the first answer and to the exact bands are printed, not asserted.
Screenshots at 1280 px are kept in build/offsite/ (gitignored) to be looked at.

The model is small (12 months x 4 replications) because this checks the app, not the
engine's speed (``make bench`` measures 36 x 20)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

import sim

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "offsite"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}

playwright = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip("chromium is not installed (CI installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offsite")
    cmd = [sys.executable, "-m", "sim.cli", "offsite", str(ROOT / "scenarios/baseline.yaml"),
           "--reps", "4", "--months", "12", "--port", "0", "--saved", str(tmp / "saved"),
           "--report", str(tmp / "report"), "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    url, lines, t0 = None, [], time.monotonic()
    try:
        for line in proc.stdout:
            lines.append(line)
            m = re.search(r"serving on (http://127\.0\.0\.1:\d+/offsite)", line)
            if m:
                url = m.group(1)
                break
            if time.monotonic() - t0 > 300:
                break
        assert url, "".join(lines)
        print(f"\napp started in {time.monotonic() - t0:.1f} s: {url}")
        yield url, tmp
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _status(page) -> tuple[str, str]:
    el = page.locator("#offsite-status")
    return el.get_attribute("data-kind") or "", el.inner_text()


def _wait_kind(page, kind: str, before: str, timeout_s: float = 240) -> float:
    """Seconds until the status shows ``kind`` with text other than ``before``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        k, text = _status(page)
        if k == kind and text != before:
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"no {kind} answer within {timeout_s} s; status: {_status(page)}")


def _set_slider(page, label: str, key: str, presses: int) -> None:
    """Move a slider by keyboard, as a person would."""
    handle = page.locator(".bk-input-group", has_text=label).locator(".noUi-handle").first
    handle.focus()
    for _ in range(presses):
        handle.press(key)


def test_offsite_app_in_a_browser_offline(app):
    url, tmp = app
    SHOTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})

        def route(r):
            host = urlparse(r.request.url).hostname or ""
            if r.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(url)
        page.wait_for_selector("#offsite-status", timeout=120_000)
        page.wait_for_selector("svg, canvas", timeout=60_000)
        assert "Operating profit" in page.locator("#offsite-tables").inner_text()
        page.screenshot(path=str(SHOTS / "01-base.png"), full_page=True)
        tables0 = page.locator("#offsite-tables").inner_text()
        _, status0 = _status(page)

        # pricing: raise the SMB list price
        _set_slider(page, "List price, smb", "ArrowRight", 8)
        first = _wait_kind(page, "estimate", status0)
        _, est_text = _status(page)
        exact = _wait_kind(page, "exact", est_text)
        print(f"\nlist price: first answer {first * 1000:.0f} ms after the move (browser), "
              f"exact bands {first + exact:.1f} s; app: {_status(page)[1].splitlines()[-1]}")
        tables1 = page.locator("#offsite-tables").inner_text()
        assert tables1 != tables0
        page.screenshot(path=str(SHOTS / "02-price.png"), full_page=True)

        # capacity: +4 enterprise AEs from month 2 (the move the old panel could not make)
        page.locator(".bk-tab", has_text="Capacity").first.click()
        _, before = _status(page)
        _set_slider(page, "AEs hired, enterprise team: AEs added", "ArrowRight", 4)
        _wait_kind(page, "exact", before)
        tables2 = page.locator("#offsite-tables").inner_text()
        assert tables2 != tables1
        page.screenshot(path=str(SHOTS / "03-hires.png"), full_page=True)

        # presenter mode: large type
        page.get_by_role("button", name="Presenter mode").click()
        page.locator("#offsite-status[style*='26px']").wait_for(timeout=60_000)
        page.screenshot(path=str(SHOTS / "04-presenter.png"), full_page=True)
        page.get_by_role("button", name="Presenter mode").click()

        # save as a scenario that extends the base
        page.get_by_placeholder("e.g. ent_push").fill("Ent push")
        page.get_by_placeholder("e.g. ent_push").press("Enter")
        page.get_by_role("button", name="Save as scenario").click()
        saved = page.locator("#offsite-saved")
        saved.wait_for(timeout=60_000)
        path = Path(saved.get_attribute("data-path"))
        page.get_by_role("button", name="Compare saved").click()
        page.wait_for_selector("#offsite-compare", timeout=240_000)
        assert "ent_push" in page.locator("#offsite-compare").inner_text()
        page.screenshot(path=str(SHOTS / "05-compare.png"), full_page=True)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        browser.close()

    assert outside == [], f"requests left the machine: {outside[:5]}"
    assert width <= 1280, f"the page is {width} px wide at 1280 px"
    text = path.read_text()
    assert text.count("extends:") == 1 and "hiring_plan" in text and "list_price_usd" in text
    sc = sim.load_scenario(path)
    assert {(h.month, h.add) for h in sc.sales.teams["enterprise"].hiring_plan} == {(2, 4), (7, 1)}
    assert sc.pricing.segments["smb"].list_price_usd > 600
