"""The calibration report: ``revsim calibrate ... --report DIR`` executes
``notebooks/calibration.ipynb`` with a real kernel through Papermill and exports offline HTML
with a Kaplan–Meier chart per segment; the Kaplan–Meier curve is the hand-computed one."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import pytest
from notebook_rules import assert_thin

from sim.bundled import NOTEBOOKS
from sim.calibrate.report import km_survival, load_fit

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parents[2]
REVSIM = shutil.which("revsim") or str(Path(os.sys.executable).parent / "revsim")
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                        else None)
KINDS = ("subscriptions", "opportunities", "leads", "invoices")
SEGMENTS = ("smb", "mid_market", "enterprise")


def test_kaplan_meier_is_the_hand_computed_one():
    # times 1, 2, 2+, 3, 4+ (+ = still a customer): at risk 5, 4, 2 at the three churns
    km = km_survival([1, 2, 2, 3, 4], [True, True, False, True, False])
    steps = km.drop_duplicates("time").set_index("time")["survival"]
    want = {0: 1.0, 1: 4 / 5, 2: 4 / 5 * 3 / 4, 3: 4 / 5 * 3 / 4 * 1 / 2, 4: 0.3}
    for t, s in want.items():
        assert steps[t] == pytest.approx(s), (t, steps.to_dict())
    assert np.all(km["low"] <= km["survival"] + 1e-12)
    assert np.all(km["survival"] <= km["high"] + 1e-12)
    # no churn at all: the curve stays at 1
    flat = km_survival([3.0, 5.0], [False, False])
    assert flat["survival"].eq(1.0).all()


def test_notebook_is_thin_and_committed_without_outputs():
    nb = nbformat.read(NOTEBOOKS / "calibration.ipynb", as_version=4)
    nbformat.validate(nb)
    assert_thin(nb)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("calreport")
    company = ROOT / "examples" / "company"
    info = json.loads((company / "company.json").read_text())
    args = [f"--{k}={company / f'{k}.csv'}" for k in KINDS]
    proc = subprocess.run([REVSIM, "calibrate", "--base", ROOT / "examples" /
                           "example_company.yaml", *args, "--as-of", info["as_of"],
                           "--history-start", info["origin"], "--out", "cal.yaml",
                           "--report", "calreport"], cwd=root, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    return root


def test_the_report_is_executed_offline_html_with_a_survival_chart_per_segment(report):
    out = report / "calreport"
    html = (out / "calibration.html").read_text(encoding="utf-8")
    # offline: no script or image is fetched from the network
    assert not re.search(r"<script[^>]+src=[\"']?https?:", html, re.I)
    assert not re.search(r"\bsrc=[\"']?https?:", html, re.I)
    for seg in SEGMENTS:
        assert f"Customer survival, {seg}" in html
        assert f"Sales cycle, {seg}" in html and f"Deal size, {seg}" in html
    nb = nbformat.read(out / "calibration.ipynb", as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert not [o for o in outputs if o.get("name") == "stderr"], "no warnings on the page"
    assert sum("image/svg+xml" in o.get("data", {}) for o in outputs) >= 4
    assert nb.metadata["papermill"]["parameters"]["fit_file"] == "fit.json"
    # the fit the report shows is the one the scenario was written from
    fit = load_fit(out / "fit.json")
    text = (report / "cal.yaml").read_text()
    smb = fit.estimates["smb.wtp_median_usd"]
    assert f"wtp_median_usd {float(f'{smb.value:.6g}'):g}" in text
    kept = "smb.installed_willingness_to_pay_usd: not revealed by new deals, kept from the base"
    assert kept in fit.unsupported and kept in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_headless_chromium_draws_every_chart_with_no_network(report, tmp_path):
    page = report / "calreport" / "calibration.html"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'p'}",
           "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--virtual-time-budget=3000", "--dump-dom", page.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    for seg in SEGMENTS:
        assert f"Customer survival, {seg}" in dom
    tags = [t for t in re.findall(r"<svg\b[^>]*>", dom) if 'class="marks"' in t]
    assert len(tags) >= 4
