"""The board pack PDF as a reader sees it (headless Chromium prints it, poppler renders the
pages to PNG and extracts their text) and the finance workbook as openpyxl reads it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import openpyxl
import pytest

import sim
from sim.report import board_pack
from sim.report.excel import FORMATS, write_decision_workbook

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
TOOLS = ("pdftoppm", "pdftotext", "pdfinfo")

if board_pack.chromium() is None or not all(shutil.which(t) for t in TOOLS):
    if os.environ.get("CI"):
        raise RuntimeError("chromium and poppler-utils are required in CI")
    pytest.skip("chromium or poppler-utils is not installed (CI installs them)",
                allow_module_level=True)

HOSTILE = "<b>Bold</b> & =1+1"


@pytest.fixture(scope="module")
def cmp():
    over = {"horizon_months": 24}
    base = sim.load_scenario(SCENARIOS / "baseline.yaml", overrides=over)
    price = sim.load_scenario(SCENARIOS / "price_increase.yaml", overrides=over)
    partner = sim.load_scenario(SCENARIOS / "partner_push.yaml",
                                overrides={**over, "name": HOSTILE})
    return sim.compare(base, [price, partner], replications=3, seed=4, executor="serial")


@pytest.fixture(scope="module")
def pack(cmp, tmp_path_factory):
    out = tmp_path_factory.mktemp("pack")
    pdf = board_pack.write_board_pack(cmp, out)
    return out, pdf


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))


def _pgm(path: Path) -> np.ndarray:
    """A binary PGM (P5: magic, width, height, maxval, then one byte a pixel) as an array."""
    raw = path.read_bytes()
    fields, pos = [], 0
    while len(fields) < 4:
        while raw[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not raw[end:end + 1].isspace():
            end += 1
        fields.append(raw[pos:end])
        pos = end
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(raw[pos + 1:pos + 1 + w * h], dtype=np.uint8).reshape(h, w)


def _text(pdf: Path, page: int | None = None) -> str:
    args = ["pdftotext", "-layout"]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    return subprocess.run([*args, str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_pdf_is_a4_landscape_with_numbered_pages_rendered_to_png(pack, tmp_path):
    out, pdf = pack
    n = _pages(pdf)
    assert n >= 6  # verdict, bridge, KPIs, profit, cash, statements, assumptions
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    w, h = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert w > h and abs(w - 841.9) < 2  # A4 landscape in points
    subprocess.run(["pdftoppm", "-r", "40", "-gray", str(pdf), str(tmp_path / "p")], check=True)
    images = sorted(tmp_path.glob("p-*.pgm"))
    assert len(images) == n
    for img in images:  # every page has ink on it
        pixels = _pgm(img)
        assert pixels.shape[1] > pixels.shape[0]  # landscape
        assert (pixels < 160).mean() > 0.002, img.name
    for page in range(1, n + 1):
        assert f"Page {page} of {n}" in _text(pdf, page)


def test_pdf_opens_with_the_verdict_and_its_intervals(pack, cmp):
    _, pdf = pack
    first = " ".join(_text(pdf, 1).split())
    assert "Verdict" in first
    assert "Ranked by the mean NPV of operating profit" in first
    assert "price_increase" in first and "95% interval" in first and "paired runs" in first
    assert HOSTILE in first  # scenario text shown as text
    from sim.analysis.verdict import verdict

    frame, _ = verdict(cmp)
    assert frame.iloc[0]["scenario"] in first


def test_no_table_is_split_across_pages(pack):
    _, pdf = pack
    n = _pages(pdf)
    pages = [" ".join(_text(pdf, p).split()) for p in range(1, n + 1)]
    # each table's caption and its last row are on the same page
    pairs = [("Verdict table", "Ranked by the mean"),
             ("baseline: Income statement", "Operating profit"),
             ("baseline: Cash flow", "Closing cash"),
             ("baseline: Balance sheet (period end)", "Total liabilities and equity"),
             ("Decision KPIs across replications", "Cumulative break-even month"),
             ("price_increase against baseline", "Operating profit difference")]
    for caption, last in pairs:
        where = [i for i, t in enumerate(pages) if caption in t]
        assert where, caption
        assert last in pages[where[0]].split(caption, 1)[1], (caption, last)


def test_board_pack_html_escapes_scenario_text(pack):
    out, _ = pack
    html = (out / "board_pack.html").read_text()
    assert "<b>Bold</b>" not in html and "&lt;b&gt;Bold&lt;/b&gt;" in html
    assert "<script" not in html


# ---------------------------------------------------------------- finance workbook


@pytest.fixture(scope="module")
def workbook(cmp, tmp_path_factory):
    path = tmp_path_factory.mktemp("xl") / "decision.xlsx"
    write_decision_workbook(path, cmp)
    wb = openpyxl.load_workbook(path)
    wb.path = path
    return wb


def _evaluate(path, sheet: str, cell) -> float:
    """The value of a cell as Excel computes it: the statements' totals are formulas
    (tests/report/test_workbook_formulas.py), evaluated here by pycel."""
    from pycel import ExcelCompiler

    compiler = _COMPILERS.setdefault(str(path), ExcelCompiler(filename=str(path)))
    return compiler.evaluate("'" + sheet.replace("'", "''") + "'!" + cell.coordinate)


_COMPILERS: dict = {}


def test_statement_sheets_balance_every_period_and_are_finance_formatted(workbook, cmp):
    names = workbook.sheetnames
    assert names[:2] == ["Verdict", "Profit bridge"]
    for plan in ("baseline", "price_increase"):
        for suffix, periods in (("M", 24), ("Q", 8), ("FY", 2)):
            ws = workbook[f"{plan} {suffix}"]
            assert ws.freeze_panes == "B3"
            assert ws.page_setup.orientation == "landscape"
            assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
            labels = {ws.cell(row=r, column=1).value: r for r in range(1, ws.max_row + 1)}
            assets, claims = labels["Total assets"], labels["Total liabilities and equity"]
            assert ws.max_column == periods + 1
            for col in range(2, periods + 2):
                # totals are formulas now: balanced as Excel computes them
                a = _evaluate(workbook.path, ws.title, ws.cell(row=assets, column=col))
                c = _evaluate(workbook.path, ws.title, ws.cell(row=claims, column=col))
                assert a == pytest.approx(c, rel=1e-9)
                assert ws.cell(row=assets, column=col).number_format == FORMATS["usd"]
            rev = _evaluate(workbook.path, ws.title, ws.cell(row=labels["Revenue"], column=2))
            assert isinstance(rev, float) and rev > 0
    # the partner programme is its own line, not inside commissions
    ws = workbook["baseline FY"]
    col_a = [ws.cell(row=r, column=1).value for r in range(1, ws.max_row + 1)]
    assert "Partner programme (enablement, MDF)" in col_a and "Partner commissions" in col_a


def test_verdict_and_bridge_sheets_have_labels_formats_filters(workbook):
    ws = workbook["Verdict"]
    headers = [c.value for c in ws[2]]
    assert "P(beats base on operating profit)" in headers and "Rank" in headers
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref.startswith("A2:")
    col = headers.index("P(beats base on operating profit)") + 1
    assert ws.cell(row=3, column=col).number_format == FORMATS["pct"]
    usd = headers.index("NPV of operating profit, mean (USD)") + 1
    assert ws.cell(row=3, column=usd).number_format == FORMATS["usd"]
    names = [ws.cell(row=r, column=2).value for r in range(3, 6)]
    assert HOSTILE in names  # the formula-like name is text, not a formula
    cell = ws.cell(row=3 + names.index(HOSTILE), column=2)
    assert cell.data_type == "s"
    bridge = workbook["Profit bridge"]
    assert bridge.auto_filter.ref and bridge.freeze_panes == "A3"
    drivers = [bridge.cell(row=r, column=2).value for r in range(3, bridge.max_row + 1)]
    assert "New-logo volume (more or fewer customers won)" in drivers
    assert "Installed-base repricing at renewal (price steps, uplift)" in drivers
    assert "Operating profit difference" in drivers
