"""The finance workbook as openpyxl reads it: human labels (no snake_case headers), a number
format per unit (USD, %, months, counts, points), frozen headers, filters, a print setup one
page wide in landscape, every statistic labelled, and the assumptions grouped by section with
units and the source note of each field."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest
from support.workbook import build_workbook

from sim.report.excel import FORMATS
from sim.scenario.model import Scenario, SegmentPrice

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
STATEMENT_SHEET = re.compile(r" (M|Q|FY)$")


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    path, _, _ = build_workbook(tmp_path_factory.mktemp("wb"), 12, reps=3, seed=0)
    return openpyxl.load_workbook(path)


def _rows(ws) -> tuple[list[str], list[tuple]]:
    header = [c.value for c in ws[2]]
    return header, [r for r in ws.iter_rows(min_row=3) if any(c.value is not None for c in r)]


@pytest.mark.slow
def test_every_sheet_is_frozen_filtered_and_prints_one_page_wide(workbook):
    assert workbook.sheetnames[:4] == ["Verdict", "About", "KPIs", "Comparison"]
    for ws in workbook.worksheets:
        assert ws.freeze_panes in ("A3", "B3", "C3"), ws.title
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows == "$1:$2", ws.title
        if not STATEMENT_SHEET.search(ws.title):
            assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A2:"), ws.title
        assert ws.column_dimensions["A"].width >= 12, ws.title


def test_headers_are_human_labels(workbook):
    plans = {"baseline", "price_increase"}  # plan names are the scenarios' own, as written
    for ws in workbook.worksheets:
        for value in [c.value for c in ws[2]]:
            assert value is None or value in plans or not SNAKE.match(str(value)), \
                (ws.title, value)
    header, rows = _rows(workbook["KPIs"])
    labels = {r[1].value for r in rows}
    assert "NRR, last full year" in labels and "Ending customers" in labels
    assert not any(SNAKE.match(str(v)) for v in labels)


def _kpi_cells(ws, column: str) -> dict[str, openpyxl.cell.Cell]:
    header, rows = _rows(ws)
    j = header.index(column)
    return {r[1].value: r[j] for r in rows if r[0].value == "baseline"}


def test_kpis_have_a_number_format_per_unit_and_every_statistic_is_labelled(workbook):
    ws = workbook["KPIs"]
    header, _ = _rows(ws)
    for stat in ("P10 (10th percentile)", "P50 (median)", "P90 (90th percentile)", "Mean",
                 "Mean, 95% interval low", "Mean, 95% interval high"):
        assert stat in header
    p50 = _kpi_cells(ws, "P50 (median)")
    expected = {"Revenue, total (USD)": "usd", "Operating profit, total (USD)": "usd",
                "NRR, last full year": "pct", "Gross margin": "pct",
                "Ending customers": "count", "CAC payback (months)": "months",
                "LTV/CAC, last full year": "ratio",
                "Rule of 40, last full year (points)": "points"}
    for label, unit in expected.items():
        assert p50[label].number_format == FORMATS[unit], label
    assert "$" in FORMATS["usd"] and FORMATS["pct"] == "0.0%" and FORMATS["count"] == "#,##0"
    units = _kpi_cells(ws, "Unit")
    assert units["NRR, last full year"].value == "%" and units["Ending customers"].value == \
        "count"
    # numbers stay numbers, whatever their display
    assert isinstance(p50["Ending customers"].value, int | float)
    assert 0 < p50["NRR, last full year"].value < 2


def test_comparison_and_p50_sheets_label_statistics_and_format_per_unit(workbook):
    header, rows = _rows(workbook["Comparison"])
    assert "Difference, mean of paired runs" in header
    assert "Difference, 95% interval low" in header and "P(plan higher than base)" in header
    j, p = header.index("Difference, mean of paired runs"), header.index(
        "P(plan higher than base)")
    k = header.index("KPI")
    for r in rows:  # each difference in its KPI's unit (issue 24 added NRR, GRR, churn, payback)
        want = "pct" if r[k].value.startswith(("NRR", "GRR", "Logo churn")) else \
            "months" if r[k].value.startswith("CAC payback") else "usd"
        assert r[j].number_format == FORMATS[want], r[k].value
        assert r[p].number_format == FORMATS["pct"]
    ws = workbook["KPI P50"]
    header, rows = _rows(ws)
    assert header[0].startswith("KPI (P50, median")
    fmt = {r[0].value: r[2].number_format for r in rows}
    assert fmt["NRR, last full year"] == FORMATS["pct"]
    assert fmt["Ending customers"] == FORMATS["count"]
    assert fmt["Cash trough (USD)"] == FORMATS["usd"]
    header, rows = _rows(workbook["Targets"])
    assert {"P(hit)", "P(hit), 95% interval low", "Actual, P50 (median)"} <= set(header)
    value = header.index("Target value")
    by_metric = {r[2].value: r[value].number_format for r in rows}
    assert by_metric["nrr"] == FORMATS["pct"] and by_metric["net_new_arr"] == FORMATS["usd"]


def test_assumptions_are_grouped_by_section_with_units_and_sources(workbook):
    ws = workbook["Assumptions"]
    header, rows = _rows(ws)
    col = {h: i for i, h in enumerate(header)}
    sections = [r[col["Section"]].value for r in rows]
    order = ["General", "Segments", "Pricing", "Channels", "Sales", "Headcount", "Onboarding",
             "Customer success", "Costs", "Finance", "Opening"]
    firsts = [sections.index(s) for s in order]
    assert firsts == sorted(firsts), "sections in the scenario's order"
    for s in set(sections):  # each section is one block of rows
        idx = [i for i, x in enumerate(sections) if x == s]
        assert idx == list(range(idx[0], idx[-1] + 1)), s
    keys = [r[col["Key (for --set)"]].value for r in rows]
    assert keys != sorted(keys), "not alphabetical dotted keys"
    by_key = {r[col["Key (for --set)"]].value: r for r in rows}
    price = by_key["pricing.segments.smb.list_price_usd"]
    assert price[col["Unit"]].value == "USD"
    assert price[col["Assumption"]].value == "smb › List price"
    assert price[col["baseline"]].number_format == FORMATS["usd"]
    assert price[col["Differs from base"]].value == "yes"
    assert price[col["price_increase"]].value > price[col["baseline"]].value
    assert price[col["Source / note"]].value == " ".join(
        SegmentPrice.model_fields["list_price_usd"].description.split())
    cap = by_key["pricing.segments.smb.discount_cap_frac"]
    assert cap[col["Unit"]].value == "%" and cap[col["baseline"]].number_format == \
        FORMATS["pct"]
    assert "Negotiated discounts" in cap[col["Source / note"]].value  # the source
    cycle = by_key["segments.smb.sales_cycle_days"]
    assert cycle[col["Unit"]].value == "days"
    assert cycle[col["baseline"]].value.startswith("lognormal(")  # a distribution, as text
    assert by_key["headcount.csm.count"][col["Unit"]].value == "count"
    assert by_key["horizon_months"][col["Source / note"]].value == " ".join(
        Scenario.model_fields["horizon_months"].description.split())
    assert by_key["finance.starting_cash_usd"][col["Differs from base"]].value in (None, "")


def test_about_sheet_says_how_many_replications_and_what_each_statistic_means(workbook):
    _, rows = _rows(workbook["About"])
    about = {r[0].value: r[1].value for r in rows}
    assert about["Replications per scenario"] == 3
    assert about["How replications were chosen"] == "3 replications (fixed)"
    assert "P50 = median" in about["Statistics"] and "Wilson" in about["Statistics"]
