"""The finance workbook (``revsim_report.xlsx``): the verdict, how the numbers were made
(About), every KPI of every plan with its statistics labelled, the comparison against the base,
targets, each plan's annual P&L, the assumptions grouped by section with units and sources,
and (with a decision) the profit bridge and three statements by month, quarter and fiscal year.

Every sheet is a table with human labels, a number format per unit (USD, %, months, counts),
a frozen header, an autofilter and a print setup one page wide in landscape
(:mod:`sim.report.excel`). Tables come from :mod:`sim.report.tables`; no cell can become a
formula (:func:`sim.outputs.escape.neutralise_formulas`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim.experiments.experiment import CompareResult, ExperimentResult
from sim.outputs.escape import excel_text, neutralise_formulas
from sim.report import tables
from sim.report.excel import (
    BOLD,
    FORMATS,
    HEADER_FILL,
    TOTAL_BORDER,
    UNIT_NAMES,
    formula_cells,
    kpi_format,
    print_setup,
    table_sheet,
)
from sim.report.tables.investment import DEFINITIONS as INVESTMENT_DEFINITIONS
from sim.report.tables.investment import INVESTMENT_UNITS
from sim.scenario.io import scenario_hash

if TYPE_CHECKING:
    from sim.report.entries import Entry

WORKBOOK = "revsim_report.xlsx"
"""File name of the workbook in the report folder."""

STATISTICS_NOTE = ("Mean = mean across replications; P50 = median across replications; "
                   "P10 / P90 = 10th / 90th percentile across replications (80% of runs fall "
                   "between them); 95% intervals are Student-t for means and Wilson for "
                   "probabilities; paired differences compare the same replication (same "
                   "random streams) of a plan and the base.")
"""What every statistic in the workbook means (on the About sheet)."""

ASSUMPTION_UNITS = {"USD": "usd", "USD per month": "usd", "USD per year": "usd", "%": "pct",
                    "days": "days", "months": "months", "count": "count",
                    "plan month": "integer", "per year": "number", "per month": "number",
                    "number": "number"}
"""Number format of each assumption unit (``sim.report.tables.assumption_unit``)."""


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31] or "Sheet"
    out, n = base, 2
    while out.lower() in used:
        suffix = f" ({n})"
        out, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(out.lower())
    return out


def _unique(names: Sequence[str]) -> list[str]:
    """Column names for plans: their names, numbered when two plans share one."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


# ---------------------------------------------------------------- the sheets


def kpis_frame(results: Sequence[ExperimentResult]) -> tuple[pd.DataFrame, list[str]]:
    """Every KPI of every plan: plan, KPI label, unit, P10, P50, P90, mean with its 95%
    interval and n; and the number format of each row."""
    rows, fmts = [], []
    for r in results:
        for rec in r.kpi_summary.to_dict("records"):
            f = kpi_format(rec["kpi"])
            rows.append({"Plan": r.name, "KPI": rec["label"], "Unit": UNIT_NAMES[f],
                         "P10 (10th percentile)": rec["p10"], "P50 (median)": rec["p50"],
                         "P90 (90th percentile)": rec["p90"], "Mean": rec["mean"],
                         "Mean, 95% interval low": rec["mean_ci_low"],
                         "Mean, 95% interval high": rec["mean_ci_high"],
                         "Replications with a value": rec["n"]})
            fmts.append(f)
    return pd.DataFrame(rows), fmts


def comparison_frame(cmp: CompareResult) -> tuple[pd.DataFrame, list[str]]:
    """Paired differences of each plan against the base, one row per plan and KPI."""
    rows, fmts = [], []
    for rec in cmp.deltas.to_dict("records"):
        f = kpi_format(rec["kpi"])
        rows.append({"Plan": rec["scenario"], "KPI": rec["label"], "Unit": UNIT_NAMES[f],
                     "Base, mean": rec["base_mean"], "Plan, mean": rec["other_mean"],
                     "Difference, mean of paired runs": rec["mean_delta"],
                     "Difference, 95% interval low": rec["ci_low"],
                     "Difference, 95% interval high": rec["ci_high"],
                     "P(plan higher than base)": rec["prob_better"],
                     "P(higher), 95% interval low": rec["prob_better_low"],
                     "P(higher), 95% interval high": rec["prob_better_high"]})
        fmts.append(f)
    return pd.DataFrame(rows), fmts


def p50_frame(results: Sequence[ExperimentResult]) -> tuple[pd.DataFrame, list[str]]:
    """P50 of every KPI (rows) for each plan (columns), with the unit."""
    names = _unique([r.name for r in results])
    summaries = [r.kpi_summary.set_index("kpi") for r in results]
    keys = list(dict.fromkeys(k for s in summaries for k in s.index))
    rows, fmts = [], []
    for k in keys:
        f = kpi_format(k)
        label = next(s.loc[k, "label"] for s in summaries if k in s.index)
        row = {"KPI (P50, median across replications)": label, "Unit": UNIT_NAMES[f]}
        for name, s in zip(names, summaries, strict=True):
            row[name] = s.loc[k, "p50"] if k in s.index else None
        rows.append(row)
        fmts.append(f)
    return pd.DataFrame(rows), fmts


TARGET_UNITS = {"nrr": "pct", "grr": "pct"}
"""Targets are USD except NRR and GRR (fractions)."""


def targets_frame(results: Sequence[ExperimentResult]) -> tuple[pd.DataFrame, list[str]]:
    """Every target of every plan: P(hit) with its 95% Wilson interval and the actual
    value's P10/P50/P90."""
    rows, fmts = [], []
    for r in results:
        for rec in r.target_summary.to_dict("records"):
            year = rec.get("year")
            rows.append({"Plan": r.name, "Target": rec["name"], "Metric": rec["metric"],
                         "Plan year": "whole horizon" if pd.isna(year) else int(year),
                         "Direction": rec["op"], "Target value": rec["target"],
                         "P(hit)": rec["probability"],
                         "P(hit), 95% interval low": rec["probability_low"],
                         "P(hit), 95% interval high": rec["probability_high"],
                         "Actual, P10": rec.get("p10"), "Actual, P50 (median)": rec.get("p50"),
                         "Actual, P90": rec.get("p90")})
            fmts.append(TARGET_UNITS.get(str(rec["metric"]), "usd"))
    return pd.DataFrame(rows), fmts


def pocket_price_frame(results: Sequence[ExperimentResult]) -> pd.DataFrame:
    """Plan, Segment, Step, USD and % of list of every plan's pocket-price waterfall."""
    from sim.report.waterfall import waterfall_table

    parts = [waterfall_table(r).assign(plan=r.name) for r in results]
    t = pd.concat(parts, ignore_index=True)
    return t[["plan", "segment", "step", "usd", "pct_of_list"]].rename(columns={
        "plan": "Plan", "segment": "Segment", "step": "Step", "usd": "USD",
        "pct_of_list": "% of list"})


PNL_FORMULAS = {
    "Gross profit": "={revenue}-{cogs}",
    "Gross margin": '=IF({revenue}=0,"",{gross}/{revenue})',
    "Total cost (incl. cost of revenue)": "={cogs}+SUM({first_opex}:{last_opex})",
    "Operating profit": "={revenue}-{total}",
    "Operating margin": '=IF({revenue}=0,"",{operating}/{revenue})',
}
"""The annual P&L's totals and margins as formulas over its lines (``PNL_LINES`` labels;
the operating-cost lines sit between gross margin and total cost)."""


def pnl_sheet(wb, name: str, result: ExperimentResult):
    """A plan's annual P&L (mean of the replications): lines down, years across; USD lines
    in dollars, margins in %. Gross profit, total cost and operating profit are formulas
    over the lines above them, the margins ratio formulas."""
    from sim.report.excel import put_formula

    pnl = tables.annual_pnl_table(result)
    ws = wb.create_sheet(name)
    ws.cell(row=1, column=1, value=excel_text(
        f"{result.name}: annual P&L, mean of {result.replications} replications (USD)")).font = BOLD
    head = ws.cell(row=2, column=1, value="Line")
    head.font, head.fill = BOLD, HEADER_FILL
    for j, col in enumerate(pnl.columns, start=2):
        c = ws.cell(row=2, column=j, value=excel_text(str(col)))
        c.font, c.fill = BOLD, HEADER_FILL
        ws.column_dimensions[c.column_letter].width = 16
    totals = {"Gross profit", "Operating profit"}
    row_of = {str(label): i for i, label in enumerate(pnl.index, start=3)}
    labels = list(row_of)
    opex = labels[labels.index("Gross margin") + 1:labels.index(PNL_TOTAL_COST)] \
        if {"Gross margin", PNL_TOTAL_COST} <= set(labels) else []
    for i, (label, rec) in enumerate(pnl.iterrows(), start=3):
        ws.cell(row=i, column=1, value=excel_text(str(label)))
        fmt = FORMATS["pct"] if "margin" in str(label).lower() else FORMATS["usd"]
        for j, v in enumerate(rec, start=2):
            text = _pnl_formula(str(label), row_of, opex, ws.cell(row=2, column=j).column_letter)
            if text is not None:
                c = put_formula(ws, i, j, text)
            else:
                c = ws.cell(row=i, column=j, value=None if pd.isna(v) else float(v))
            c.number_format = fmt
            if label in totals:
                c.font, c.border = BOLD, TOTAL_BORDER
        if label in totals:
            ws.cell(row=i, column=1).font = BOLD
    ws.column_dimensions["A"].width = 44
    ws.freeze_panes = "B3"
    ws.auto_filter.ref = f"A2:{ws.cell(row=2, column=len(pnl.columns) + 1).column_letter}" \
                         f"{len(pnl) + 2}"
    print_setup(ws, header_rows=2)
    return ws


PNL_TOTAL_COST = "Total cost (incl. cost of revenue)"


def _pnl_formula(label: str, row_of: dict[str, int], opex: list[str], col: str) -> str | None:
    """The formula of a P&L cell, or None for a line written as a number."""
    need = {"revenue": "Revenue", "cogs": "Cost of revenue", "gross": "Gross profit",
            "total": PNL_TOTAL_COST, "operating": "Operating profit"}
    if label not in PNL_FORMULAS or not opex or not set(need.values()) <= set(row_of):
        return None
    refs = {k: f"{col}{row_of[v]}" for k, v in need.items()}
    refs["first_opex"], refs["last_opex"] = f"{col}{row_of[opex[0]]}", f"{col}{row_of[opex[-1]]}"
    return PNL_FORMULAS[label].format(**refs)


def assumptions_sheet(wb, scenarios, names: Sequence[str]):
    """The assumptions grouped by section with units, a value column per plan, whether a
    plan differs from the base, the source or assumption note and the ``--set`` key."""
    names = _unique(list(names))
    table = tables.assumptions_grouped(scenarios, names).rename(columns={
        "section": "Section", "label": "Assumption", "unit": "Unit",
        "differs": "Differs from base", "note": "Source / note",
        "key": "Key (for --set)"})
    fmts = [ASSUMPTION_UNITS.get(u) for u in table["Unit"]]
    widths = {"Section": 16, "Assumption": 42, "Unit": 13, "Differs from base": 10,
              "Source / note": 90, "Key (for --set)": 50, **{n: 18 for n in names}}
    return table_sheet(wb, "Assumptions", table,
                       "Assumptions by section: the resolved scenario values, with units and "
                       "the source or assumption behind each default", {},
                       row_formats=fmts, row_format_columns=set(names), freeze="C3",
                       widths=widths)


def about_sheet(wb, entries, seed: int, replications: int, note: str):
    rows = [("Generated (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")), ("Seed", seed),
            ("Replications per scenario", replications),
            ("How replications were chosen", note or f"{replications} replications"),
            ("Statistics", STATISTICS_NOTE)]
    rows += [(f"Scenario {e.slug}", "FAILED: " + e.error if e.error else
              f"hash {scenario_hash(e.scenario)}") for e in entries]
    frame = pd.DataFrame(rows, columns=["Item", "Value"])
    return table_sheet(wb, "About", frame, "How these numbers were made", {},
                       widths={"Item": 30, "Value": 110})


# ---------------------------------------------------------------- the workbook


def write_workbook(path: Path, entries: Sequence[Entry], seed: int, replications: int,
                   decision: CompareResult | None = None, replications_note: str = "") -> None:
    """The finance workbook: Verdict (with ``decision``), About, KPIs, Comparison (paired
    differences), KPI P50, P&L differences, Investment (payback, NPV and IRR of Δ), Targets, an annual P&L per plan, Assumptions,
    and (with ``decision``) the profit bridge and every plan's three statements."""
    from openpyxl import Workbook

    done = [e for e in entries if e.result is not None and e.ok]
    results = [e.result for e in done]
    wb = Workbook()
    wb.remove(wb.active)
    about_sheet(wb, entries, seed, replications, replications_note)
    used: set[str] = {"about", "kpis", "comparison", "kpi p50", "p&l differences", "investment",
                      "targets", "assumptions", "verdict", "profit bridge", "pocket price"}
    if done:
        frame, fmts = kpis_frame(results)
        table_sheet(wb, "KPIs", frame, f"Every KPI of every plan across {replications} "
                    "replications: P10, P50 (median), P90 and the mean with its 95% interval",
                    {"Replications with a value": "count"}, row_formats=fmts,
                    row_format_columns=list(frame.columns[3:-1]),
                    freeze="C3", widths={"Plan": 20, "KPI": 40, "Unit": 9})
        base_ok = entries[0].result is not None
        if len(done) > 1 and base_ok:
            cmp = CompareResult(results[0], results[1:],
                                tables.deltas_table(results[0], results[1:]))
            frame, fmts = comparison_frame(cmp)
            table_sheet(wb, "Comparison", frame,
                        f"Against {results[0].name}: mean of the paired per-replication "
                        f"differences ({replications} replications, same random streams), 95% "
                        "interval, and P(plan higher than base) with its 95% interval",
                        {c: "pct" for c in frame.columns if c.startswith("P(")},
                        row_formats=fmts, row_format_columns=[c for c in frame.columns if
                                                              c.startswith(("Base", "Plan,",
                                                                            "Difference"))],
                        freeze="C3", widths={"Plan": 20, "KPI": 34, "Unit": 9})
        frame, fmts = p50_frame(results)
        table_sheet(wb, "KPI P50", frame, f"P50 (median across {replications} replications) "
                    f"of every KPI; base: {results[0].name}", {}, row_formats=fmts,
                    row_format_columns=set(frame.columns[2:]), freeze="C3",
                    widths={frame.columns[0]: 42, "Unit": 9})
        if len(done) > 1 and base_ok:
            diffs = tables.pnl_differences_table(cmp).rename(
                columns={"scenario": "Plan", "year": "Year"})
            table_sheet(wb, "P&L differences", diffs,
                        "Annual P&L of each plan minus the base (means of the replications, USD)",
                        {c: "usd" for c in diffs.columns[2:]},
                        freeze="C3")
            invest = tables.investment_summary_table(cmp)
            table_sheet(wb, "Investment", invest,
                        f"Each plan as an investment against {results[0].name} (paired "
                        f"replications). {INVESTMENT_DEFINITIONS}",
                        {c: INVESTMENT_UNITS.get(c, "usd") for c in invest.columns[1:]
                         if c != "IRR note"}, freeze="B3", widths={"Plan": 20, "IRR note": 30})
        frame, fmts = targets_frame(results)
        if not frame.empty:
            table_sheet(wb, "Targets", frame,
                        f"Targets: probability of hitting each ({replications} replications), "
                        "its 95% interval, and the actual value's P10 / P50 / P90",
                        {c: "pct" for c in frame.columns if c.startswith("P(")},
                        row_formats=fmts,
                        row_format_columns=["Target value", "Actual, P10",
                                            "Actual, P50 (median)", "Actual, P90"],
                        freeze="C3", widths={"Target": 30})
        table_sheet(wb, "Pocket price", pocket_price_frame(results),
                    "Pocket-price waterfall of new business per plan and segment (mean per "
                    "replication over the horizon): list ARR of the deals won, each "
                    "concession and the commissions paid, down to the pocket price",
                    {"USD": "usd", "% of list": "pct"}, freeze="C3",
                    widths={"Plan": 20, "Segment": 14, "Step": 22})
        for e in done:
            pnl_sheet(wb, _sheet_name(e.slug, used), e.result)
        assumptions_sheet(wb, [e.scenario for e in done], [e.result.name for e in done])
    if decision is not None:
        from sim.report.excel import add_decision_sheets

        add_decision_sheets(wb, decision)
        wb.move_sheet("Verdict", offset=-wb.sheetnames.index("Verdict"))
    # scenario text is data: no cell may become a formula (OWASP CSV injection); the only
    # formulas are the ones revsim built from cell references (statements, P&L)
    neutralise_formulas(wb, formula_cells(wb))
    wb.save(path)
