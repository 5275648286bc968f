"""The finance workbook a controller can audit: the statements and the annual P&L are Excel
formulas over the monthly lines (totals as SUMs, margins as ratios, the cash roll-forward,
the balance check), every formula refers to the right cells, and their values, computed
by pycel from the saved file, equal the tables the HTML shows to the cent."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter
from pycel import ExcelCompiler
from support.workbook import build_workbook

from sim.analysis.statements import EXPENSE_LINES, mean_statements
from sim.experiments.experiment import compare_of
from sim.outputs.escape import is_own_formula, neutralise_formulas
from sim.report import tables
from sim.report.excel import formula_cells, statement_rows
from sim.report.workbook import write_workbook

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
MONTHS = 15  # a partial second year: quarters and fiscal years of unequal length
CENT = 0.005


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_workbook(tmp_path_factory.mktemp("wb"), MONTHS, reps=2, seed=4)


@pytest.fixture(scope="module")
def wb(built):
    return openpyxl.load_workbook(built[0])  # data_only=False: formulas as written


@pytest.fixture(scope="module")
def excel(built):
    return ExcelCompiler(filename=str(built[0]))


def value(excel, sheet: str, coordinate: str):
    title = "'" + sheet.replace("'", "''") + "'" if re.search(r"\W", sheet) else sheet
    return excel.evaluate(f"{title}!{coordinate}")


ROWS = statement_rows()


def test_statement_totals_margins_roll_forward_and_check_are_formulas(wb):
    ws = wb["baseline M"]
    r = {k: v for k, v in ROWS.items()}
    for j in range(2, MONTHS + 2):
        col, prev = get_column_letter(j), get_column_letter(j - 1)

        def f(block, line, ws=ws, col=col):
            return ws[f"{col}{r[(block, line)]}"].value

        inc = {line: f"{col}{r[('income', line)]}" for line in
               ("revenue", "cogs", "gross_profit", "operating_expenses", "operating_profit")}
        assert f("income", "gross_profit") == f"={inc['revenue']}-{inc['cogs']}"
        first, last = (f"{col}{r[('income', e)]}" for e in (EXPENSE_LINES[0], EXPENSE_LINES[-1]))
        assert f("income", "operating_expenses") == f"=SUM({first}:{last})"
        assert f("income", "operating_profit") == \
            f"={inc['gross_profit']}-{inc['operating_expenses']}"
        assert f("income", "gross_margin") == \
            f'=IF({inc["revenue"]}=0,"",{inc["gross_profit"]}/{inc["revenue"]})'
        closing = f"{col}{r[('cash_flow', 'closing_cash')]}"
        assert f("cash_flow", "closing_cash") == (
            f"={col}{r[('cash_flow', 'opening_cash')]}"
            f"+{col}{r[('cash_flow', 'cash_from_operations')]}")
        if j > 2:  # the roll-forward: this month opens with last month's closing cash
            assert f("cash_flow", "opening_cash") == f"={prev}{r[('cash_flow', 'closing_cash')]}"
        else:
            assert isinstance(f("cash_flow", "opening_cash"), int | float)
        assert f("balance_sheet", "cash") == f"={closing}"
        b = {line: f"{col}{r[('balance_sheet', line)]}" for line in
             ("total_assets", "deferred_revenue", "equity")}
        assert f("balance_sheet", "balance_check") == \
            f"={b['total_assets']}-{b['deferred_revenue']}-{b['equity']}"
        # the monthly lines themselves are numbers
        assert isinstance(f("income", "revenue"), int | float)
        assert isinstance(f("balance_sheet", "receivables"), int | float)


def test_quarters_and_years_sum_the_monthly_sheet(wb):
    ws = wb["baseline Q"]
    rev = ROWS[("income", "revenue")]
    assert ws[f"B{rev}"].value == f"=SUM('baseline M'!B{rev}:'baseline M'!D{rev})"
    ws = wb["baseline FY"]
    recv = ROWS[("balance_sheet", "receivables")]
    cells = [ws.cell(row=recv, column=j).value for j in range(2, ws.max_column + 1)]
    # a balance is the period-end month's: each fiscal year ends on a month column of M
    assert all(re.fullmatch(rf"='baseline M'![B-Q]{recv}", c) for c in cells), cells
    assert ws.cell(row=rev, column=2).value.startswith("=SUM('baseline M'!B")


def test_every_formula_is_one_revsim_wrote_and_kept(wb, built):
    for ws in wb.worksheets:
        kept = 0
        for row in ws.iter_rows():
            for c in row:
                if c.data_type == "f":
                    assert is_own_formula(c.value), (ws.title, c.coordinate, c.value)
                    kept += 1
        if re.search(r" (M|Q|FY)$", ws.title):
            # per period at least: gross profit, opex, operating profit, two margins, the
            # cash-flow operating profit, cash from operations, closing cash, balance-sheet
            # cash, total assets, total liabilities and equity, the check (and more after
            # the first period and on a quarter's or year's sheet)
            assert kept >= 12 * (ws.max_column - 1), ws.title


@pytest.mark.parametrize("freq,suffix", [("month", "M"), ("quarter", "Q"), ("year", "FY")])
@pytest.mark.parametrize("plan", [0, 1])
def test_formula_values_equal_the_statements_to_the_cent(excel, built, freq, suffix, plan):
    res = built[1].results[plan]
    st = mean_statements(res, freq)
    sheet = f"{res.name} {suffix}"
    for block, frame in st.items():
        for j, period in enumerate(frame.index, start=2):
            col = get_column_letter(j)
            for line in frame.columns:
                got = value(excel, sheet, f"{col}{ROWS[(block, line)]}")
                assert got == pytest.approx(float(frame.loc[period, line]), abs=CENT), \
                    (sheet, block, line, period)
            check = value(excel, sheet, f"{col}{ROWS[('balance_sheet', 'balance_check')]}")
            assert abs(check) < CENT
            inc = st["income"].loc[period]
            margin = value(excel, sheet, f"{col}{ROWS[('income', 'operating_margin')]}")
            assert margin == pytest.approx(inc["operating_profit"] / inc["revenue"], rel=1e-9)


def test_annual_pnl_formulas_equal_the_html_table(wb, excel, built):
    for entry in built[2]:
        table = tables.annual_pnl_table(entry.result)
        ws = wb[entry.slug]
        labels = {ws.cell(row=i, column=1).value: i for i in range(3, ws.max_row + 1)}
        for label in ("Gross profit", "Total cost (incl. cost of revenue)", "Operating profit",
                      "Gross margin", "Operating margin"):
            assert ws.cell(row=labels[label], column=2).data_type == "f", label
        assert ws.cell(row=labels["Gross margin"], column=2).value == (
            f'=IF(B{labels["Revenue"]}=0,"",B{labels["Gross profit"]}/B{labels["Revenue"]})')
        for j, year in enumerate(table.columns, start=2):
            for label, want in table[year].items():
                if pd.isna(want):
                    continue
                got = value(excel, entry.slug, f"{get_column_letter(j)}{labels[label]}")
                tol = 1e-9 if "margin" in label.lower() else CENT
                assert got == pytest.approx(float(want), abs=tol), (entry.slug, label, year)


def test_a_formula_revsim_did_not_write_or_outside_the_grammar_is_made_text():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "x"
    ws["A1"], ws["A2"], ws["A3"] = "=SUM(B1:B2)", '=HYPERLINK("http://e.vil","x")', "=B1+1"
    ws["A4"] = "=SUM('other'' sheet'!B1:'other'' sheet'!B3)/2"
    n = neutralise_formulas(wb, {"x": {"A1", "A2", "A4"}})
    assert n == 2  # A2 is listed but not a formula revsim writes; A3 is not listed
    assert ws["A1"].data_type == "f" and ws["A4"].data_type == "f"
    assert ws["A2"].data_type == "s" and ws["A2"].quotePrefix
    assert ws["A3"].data_type == "s" and ws["A3"].quotePrefix
    assert formula_cells(wb) == {}


def test_the_workbook_is_byte_identical_for_the_same_seed(built, wb, tmp_path):
    """Formulas are text in the file (no cached values): the same run writes the same bytes
    in every part but the file's creation time and the About sheet's generation time."""
    import zipfile

    path, cmp, entries = built
    again = tmp_path / "again.xlsx"
    write_workbook(again, entries, 4, 2, compare_of(cmp.results), "2 replications (fixed)")
    about = f"xl/worksheets/sheet{wb.sheetnames.index('About') + 1}.xml"

    def parts(p):
        with zipfile.ZipFile(p) as z:
            return {n: z.read(n) for n in z.namelist()
                    if not n.startswith("docProps/") and n != about}

    a, b = parts(path), parts(again)
    assert a.keys() == b.keys() and len(a) > 10
    for name in a:
        assert a[name] == b[name], name
