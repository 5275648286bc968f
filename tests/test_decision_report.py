"""``revsim report`` carries the decision: verdict on top of the index, board_pack.pdf, the
verdict, bridge and statements sheets in the workbook, and one line per finished step."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from sim.report import board_pack

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

ROOT = Path(__file__).resolve().parent.parent
REVSIM = shutil.which("revsim", path=str(Path(sys.executable).parent)) or shutil.which("revsim")

if board_pack.chromium() is None or shutil.which("pdftotext") is None:
    if os.environ.get("CI"):
        raise RuntimeError("chromium and poppler-utils are required in CI")
    pytest.skip("chromium or poppler-utils is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("decision") / "report"
    proc = subprocess.run(
        [REVSIM, "report", "scenarios/baseline.yaml", "scenarios/price_increase.yaml",
         "--reps", "2", "--months", "12", "--executor", "serial", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "REVSIM_PROGRESS": "auto"})
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_report_prints_one_line_per_finished_step(built):
    _, proc = built
    lines = proc.stdout.strip().splitlines()
    for step in ("simulated 2 scenario(s)", "ran notebook baseline", "ran notebook price_increase",
                 "ran notebook compare_scenarios", "wrote revsim_report.xlsx",
                 "wrote board_pack.pdf"):
        assert sum(step in line for line in lines) == 1, (step, lines)
    assert lines[-1].startswith("report: ")


def test_index_opens_with_the_verdict(built):
    out, _ = built
    html = (out / "index.html").read_text()
    verdict = html.index('id="verdict"')
    assert verdict < html.index('id="comparison"') and verdict < html.index('id="baseline"')
    assert "Ranked by the mean NPV of operating profit over 2 paired runs" in html
    assert "95% interval" in html and "P(beats base" in html
    assert 'href="board_pack.pdf"' in html


def test_board_pack_and_workbook_come_with_the_report(built):
    out, _ = built
    text = subprocess.run(["pdftotext", str(out / "board_pack.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Verdict" in text and "price_increase" in text
    wb = openpyxl.load_workbook(out / "revsim_report.xlsx")
    assert wb.sheetnames[0] == "Verdict"
    assert {"Profit bridge", "baseline FY", "price_increase M"} <= set(wb.sheetnames)
    ws = wb["baseline Q"]
    rows = {ws.cell(row=r, column=1).value: r for r in range(1, ws.max_row + 1)}
    # the totals are formulas over the monthly sheet: balanced as Excel computes them
    from pycel import ExcelCompiler

    excel = ExcelCompiler(filename=str(out / "revsim_report.xlsx"))
    for col in range(2, ws.max_column + 1):
        assets = excel.evaluate(f"'baseline Q'!{ws.cell(row=rows['Total assets'], column=col).coordinate}")
        claims = excel.evaluate(
            f"'baseline Q'!{ws.cell(row=rows['Total liabilities and equity'], column=col).coordinate}")
        assert assets == pytest.approx(claims, rel=1e-9)
