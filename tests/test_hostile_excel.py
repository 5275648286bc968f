"""Scenario text is data in the Excel workbook: ``revsim report`` of scenarios whose name,
description and target names start with ``=``, ``+``, ``-``, ``@`` (and carry control
characters) writes no formula cell; openpyxl reads every such text back as quoted text."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
from hostile import FORMULA_DESCRIPTION, FORMULA_TARGET, HTML_DESCRIPTION

from sim.outputs.escape import excel_frame, is_own_formula, neutralise_formulas

pytestmark = pytest.mark.e2e  # a slow end-to-end check: `make test-fast` leaves it out

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def workbook(hostile_report):
    out, proc = hostile_report
    assert proc.returncode == 0, proc.stderr.decode()
    return openpyxl.load_workbook(out / "revsim_report.xlsx")


def cells(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                yield ws.title, cell


def test_no_text_is_a_formula_only_the_workbooks_own_references_are(workbook):
    """The statements and P&L are formulas revsim built from cell references (a controller
    traces the totals); every one is of that kind, none holds scenario text, and no other
    cell is a formula."""
    formulas = [(s, c.coordinate, c.value) for s, c in cells(workbook) if c.data_type == "f"]
    assert formulas  # the statements' totals
    for sheet, coordinate, text in formulas:
        assert is_own_formula(text), (sheet, coordinate, text)
        assert sheet.endswith((" M", " Q", " FY")) or sheet in PNL_SHEETS(workbook), sheet
        for hostile in (HTML_DESCRIPTION, FORMULA_TARGET, "HYPERLINK", "cmd"):
            assert hostile not in text.replace(f"'{sheet}'!", ""), (sheet, coordinate)


def PNL_SHEETS(wb) -> set[str]:  # noqa: N802 - read as a constant
    return {ws.title for ws in wb.worksheets
            if str(ws.cell(row=1, column=1).value).endswith(" (USD)")
            and "annual P&L" in str(ws.cell(row=1, column=1).value)}


def test_hostile_text_is_quoted_text_and_exact(workbook):
    texts = {c.value: c for _, c in cells(workbook) if isinstance(c.value, str)}
    for value in (HTML_DESCRIPTION, FORMULA_TARGET, "-1 + 2", "@cmd"):
        assert value in texts, value
        cell = texts[value]
        assert cell.data_type == "s" and cell.quotePrefix, value
    # the control characters Excel cannot store became U+FFFD; the rest is kept
    desc = FORMULA_DESCRIPTION.replace("\x1b", "\ufffd").replace("\x07", "\ufffd")
    assert desc in texts and texts[desc].quotePrefix
    for _, c in cells(workbook):
        if c.data_type == "f":  # the workbook's own reference formulas (test above)
            continue
        if isinstance(c.value, str) and c.value.startswith(DANGEROUS):
            assert c.data_type == "s" and c.quotePrefix, (c.coordinate, c.value)


def test_numbers_stay_numbers(workbook):
    ws = workbook["Comparison"]
    numbers = [c.value for row in ws.iter_rows() for c in row
               if isinstance(c.value, int | float) and not isinstance(c.value, bool)]
    assert len(numbers) > 10
    assert any(v < 0 for v in numbers)  # a negative number is a number, not quoted text
    assert all(not c.quotePrefix for row in ws.iter_rows() for c in row
               if isinstance(c.value, int | float))


def test_the_neutraliser_itself(tmp_path):
    """Without the neutraliser openpyxl would store '=1+1' as a formula (the check can fail)."""
    df = excel_frame(pd.DataFrame({"=cmd": ["=1+1", "+A1", "plain", 5, -3.5]},
                                  index=["@x", "a\x1bb", "c", "d", "e"]))
    for fix in (False, True):
        path = tmp_path / f"t{fix}.xlsx"
        with pd.ExcelWriter(path, engine="openpyxl") as xl:
            df.to_excel(xl, sheet_name="S")
            if fix:
                assert neutralise_formulas(xl.book) == 4  # header, two cells, index label
        ws = openpyxl.load_workbook(path)["S"]
        kinds = {c.value: c.data_type for row in ws.iter_rows() for c in row}
        assert kinds["=1+1"] == ("s" if fix else "f")
        assert kinds["=cmd"] == ("s" if fix else "f")
        assert kinds[-3.5] == "n" and kinds[5] == "n"
        assert "a\ufffdb" in kinds


def test_compare_csv_files_quote_formula_names(tmp_path):
    """``revsim compare --out``: names starting with = or @ reach deltas.csv and kpis_p50.csv
    with a leading single quote (OWASP), numbers unquoted."""
    import csv

    from hostile import revsim, write_scenario

    base = write_scenario(tmp_path, "a.yaml", "=HYPERLINK(\"http://evil.example\")")
    other = write_scenario(tmp_path, "b.yaml", "@SUM(1)")
    proc = revsim("compare", base, other, "--reps", "2", "--months", "2", "--executor",
                  "serial", "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    for name in ("deltas.csv", "kpis_p50.csv"):
        rows = list(csv.reader((tmp_path / "out" / name).open(encoding="utf-8")))
        texts = [c for row in rows for c in row]
        assert not any(c.startswith(("=", "@", "+", "\t", "\r")) for c in texts), name
        assert any(c.startswith("'=HYPERLINK") or c.startswith("'@SUM") for c in texts), name
        numbers = [c for c in texts if c.lstrip("-").replace(".", "", 1).isdigit()]
        assert numbers, name  # numbers are written as numbers, without a quote
