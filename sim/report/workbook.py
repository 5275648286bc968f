"""The finance workbook (``revsim_report.xlsx``): a sheet per scenario (annual P&L, KPI summary,
targets), a comparison sheet and the resolved assumptions, one value column per scenario.
Tables come from :mod:`sim.report.tables`; number formats from the KPI catalogue; no cell
can become a formula (:func:`sim.escape.neutralise_formulas`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim.escape import excel_frame, excel_text, neutralise_formulas
from sim.experiment import CompareResult
from sim.report import tables
from sim.report.fmt import EXCEL_FORMATS, FRAC, USD
from sim.scenario_io import scenario_hash

if TYPE_CHECKING:
    from sim.report.build import Entry

WORKBOOK = "revsim_report.xlsx"
"""File name of the workbook in the report folder."""


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "Sheet"
    out, n = base, 2
    while out.lower() in used:
        suffix = f" ({n})"
        out, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(out.lower())
    return out


def write_workbook(path: Path, entries: Sequence[Entry], seed: int, replications: int,
                   decision: CompareResult | None = None) -> None:
    """Finance workbook: a sheet per scenario (annual P&L, KPI summary), a comparison sheet and
    the resolved assumptions flattened to key/value rows (one value column per scenario);
    with ``decision``, the verdict (first sheet), profit bridge and three statements sheets
    (monthly, quarterly, fiscal year) of every plan."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    done = [e for e in entries if e.result is not None and e.ok]
    used: set[str] = {"comparison", "assumptions", "about"}
    bold = Font(bold=True)
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        about = pd.DataFrame(
            [("Generated (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")), ("Seed", seed),
             ("Replications", replications)]
            + [(f"Scenario {e.slug}", "FAILED: " + e.error if e.error else
                f"hash {scenario_hash(e.scenario)}") for e in entries],
            columns=["Item", "Value"])
        excel_frame(about).to_excel(xl, sheet_name="About", index=False)
        for e in done:
            r = e.result
            name = _sheet_name(e.slug, used)
            pnl = tables.annual_pnl_table(r)
            excel_frame(pnl).to_excel(xl, sheet_name=name, startrow=1)
            ws = xl.sheets[name]
            ws.cell(row=1, column=1, value=excel_text(
                f"{r.name}: annual P&L, mean of {r.replications} replications (USD)")).font = bold
            row = len(pnl) + 4
            kp = tables.kpi_summary_table(r)
            ws.cell(row=row, column=1, value="KPI summary across replications").font = bold
            excel_frame(kp).to_excel(xl, sheet_name=name, startrow=row, index=False)
            tg = tables.targets_table(r)
            if not tg.empty:
                trow = row + len(kp) + 3
                ws.cell(row=trow, column=1, value="Targets: probability of hitting").font = bold
                excel_frame(tg).to_excel(xl, sheet_name=name, startrow=trow, index=False)
            for i, label in enumerate(pnl.index, start=3):
                fmt = EXCEL_FORMATS[FRAC if "margin" in str(label).lower() else USD]
                for j in range(2, len(pnl.columns) + 2):
                    ws.cell(row=i, column=j).number_format = fmt
            for rr in range(row + 2, row + 2 + len(kp)):
                for j in range(2, 6):
                    ws.cell(row=rr, column=j).number_format = "#,##0.00"
            ws.column_dimensions["A"].width = 38
            for j in range(2, 8):
                ws.column_dimensions[get_column_letter(j)].width = 16
        if done:
            table = tables.kpi_p50_table([e.result for e in done])
            excel_frame(table).to_excel(xl, sheet_name="Comparison", startrow=1)
            ws = xl.sheets["Comparison"]
            ws.cell(row=1, column=1, value=excel_text(
                f"P50 of each KPI; base: {done[0].result.name}")).font = bold
            if len(done) > 1 and entries[0].result is not None:
                deltas = tables.deltas_table(done[0].result, [e.result for e in done[1:]])
                start = len(table) + 4
                ws.cell(row=start, column=1, value="Paired differences vs the base "
                        "(95% CI, probability of beating the base)").font = bold
                excel_frame(deltas.drop(columns=["kpi"])).to_excel(xl, sheet_name="Comparison",
                                                      startrow=start, index=False)
                diffs = tables.pnl_differences_table(
                    CompareResult(done[0].result, [e.result for e in done[1:]], deltas))
                start2 = start + len(deltas) + 3
                ws.cell(row=start2, column=1,
                        value="Annual P&L minus the base (means, USD)").font = bold
                excel_frame(diffs).to_excel(xl, sheet_name="Comparison", startrow=start2,
                                            index=False)
            ws.column_dimensions["A"].width = 34
            for j in range(2, 12):
                ws.column_dimensions[get_column_letter(j)].width = 18
            assumptions = tables.assumptions_by_scenario([e.scenario for e in done],
                                                         [e.result.name for e in done])
            excel_frame(assumptions).to_excel(xl, sheet_name="Assumptions")
            ws = xl.sheets["Assumptions"]
            ws.column_dimensions["A"].width = 60
            for j in range(2, len(done) + 2):
                ws.column_dimensions[get_column_letter(j)].width = 22
        if decision is not None:
            from sim.finance_excel import add_decision_sheets

            add_decision_sheets(xl.book, decision)
            xl.book.move_sheet("Verdict", offset=-xl.book.sheetnames.index("Verdict"))
        # scenario text is data: no cell may become a formula (OWASP CSV injection)
        neutralise_formulas(xl.book)


