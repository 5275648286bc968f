"""Tables of a comparison: paired deltas against the base, KPIs and paths per scenario, and
the annual P&L differences."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.analysis import constraints
from sim.experiments.experiment import CompareResult, ExperimentResult, paired_deltas
from sim.kpis import (
    COMPARE_KPIS,
    DECISION_KPIS,
    FRAC,
    KPIS,
    TEXT,
    decision_rank,
    fmt_value,
    unit_of,
)
from sim.kpis import label as kpi_label
from sim.report.tables.result import PNL_LINES, fan_table, mean_annual_pnl, reporting_years


def deltas_table(base: ExperimentResult, others: Sequence[ExperimentResult],
                 kpis: Sequence[str] = COMPARE_KPIS) -> pd.DataFrame:
    """Paired per-replication differences against ``base`` (same columns as ``compare``)."""
    return paired_deltas(base, others, kpis)


def compare_kpi_table(cmp: CompareResult,
                      kpis: Sequence[str] = ("operating_profit_total", "revenue_total")
                      ) -> pd.DataFrame:
    """scenario, kpi (label), p10, p50, p90 per scenario and KPI."""
    rows = []
    for r in cmp.results:
        s = r.kpi_summary.set_index("kpi")
        for k in kpis:
            rows.append({"scenario": r.name, "kpi": kpi_label(k),
                         **{c: float(s.loc[k, c]) for c in ("p10", "p50", "p90", "mean")}})
    return pd.DataFrame(rows)


def compare_deltas_table(cmp: CompareResult) -> pd.DataFrame:
    """Deltas with a readable KPI label and a better/worse direction (from the catalogue),
    KPIs in the catalogue's decision order (operating profit first), scenarios as run."""
    d = cmp.deltas.copy()
    if d.empty:
        return d
    d["kpi_rank"] = d["kpi"].map(decision_rank)
    d = d.sort_values("kpi_rank", kind="stable").reset_index(drop=True)
    d["kpi_name"] = d["kpi"]
    d["kpi"] = d["label"]
    higher = d["kpi_name"].map(lambda k: KPIS[k].higher_is_better if k in KPIS else True)
    better = np.where(higher, d["mean_delta"] >= 0, d["mean_delta"] <= 0)
    d["direction"] = np.where(better, "better", "worse")
    return d


DECISION_HEADS = ("Scenario", "KPI", "Base, mean", "Scenario, mean", "Difference, mean",
                  "95% interval", "P(ahead of base)")
"""The columns of :func:`decision_table`: what ``revsim compare`` prints and the compare page
shows."""


def decision_table(cmp: CompareResult) -> pd.DataFrame:
    """Every decision KPI (:data:`sim.kpis.DECISION_KPIS`, the one catalogue) of each plan
    against the base, as text in each KPI's unit: the means of both, the mean paired
    difference with its 95% interval and the share of runs the plan came out ahead (where
    a lower value is better, such as churn or payback, "ahead" means lower); what binds as one
    sentence for the base and one for the plan. Plans in the order run, KPIs in the
    catalogue's order."""
    d = cmp.deltas.set_index(["scenario", "kpi"]) if not cmp.deltas.empty else None
    binds = {r.name: constraints.statement(r.constraints(), limit=0).removeprefix(
        "What binds: ") for r in cmp.results}
    rows = []
    for o in cmp.others:
        for k in DECISION_KPIS:
            label = KPIS[k].short
            if KPIS[k].unit == TEXT:
                rows.append((o.name, label, binds[cmp.base.name], binds[o.name], "", "", ""))
                continue
            if d is None or (o.name, k) not in d.index:
                continue
            r = d.loc[(o.name, k)]
            ahead = r["prob_better"] if KPIS[k].higher_is_better else _share_lower(cmp, o, k)
            rows.append((o.name, label, fmt_value(k, r["base_mean"]),
                         fmt_value(k, r["other_mean"]), _signed(k, r["mean_delta"]),
                         f"{_ends(k, r['ci_low'])} to {_ends(k, r['ci_high'])}",
                         fmt_value("prob_frac", ahead)))
    return pd.DataFrame(rows, columns=list(DECISION_HEADS))


def _signed(kpi: str, x: float) -> str:
    """A difference in the KPI's unit with its sign; a difference of shares in points."""
    if unit_of(kpi) == FRAC and not np.isnan(x):
        return f"{x * 100:+.2f} pts"
    text = fmt_value(kpi, x)
    return "+" + text if x > 0 and not text.startswith("+") else text


def _ends(kpi: str, x: float) -> str:
    """An interval's end: in points for shares (with the sign), else in the KPI's unit."""
    return _signed(kpi, x) if unit_of(kpi) == FRAC else fmt_value(kpi, x)


def _share_lower(cmp: CompareResult, other: ExperimentResult, kpi: str) -> float:
    """Share of paired runs in which ``other``'s ``kpi`` is below the base's (lower is
    better): the same count as ``prob_better``, the other way round."""
    from sim.experiments.compare import decision_values

    b = decision_values(cmp.base).set_index("replication")[kpi]
    o = decision_values(other).set_index("replication")[kpi].reindex(b.index)
    d = (o - b).to_numpy(float)
    d = d[~np.isnan(d)]
    return float((d < 0).mean()) if len(d) else float("nan")


def pnl_differences_table(cmp: CompareResult) -> pd.DataFrame:
    """Mean annual P&L of each scenario minus the base: scenario, year ("Year 1", or the
    fiscal year "FY2027" when the base has a calendar) and main lines."""
    if not cmp.others:
        return pd.DataFrame()
    base = mean_annual_pnl(cmp.base)
    longest = max(cmp.results, key=lambda r: int(r.monthly["month"].max()))
    name = reporting_years(longest, cmp.base.scenario)[1]
    parts = []
    for o in cmp.others:
        diff = mean_annual_pnl(o, cmp.base.scenario) - base
        parts.append(diff.reset_index(names="year").assign(
            scenario=o.name, year=lambda x: [name(y) for y in x["year"]]))
    d = pd.concat(parts, ignore_index=True)
    cols = ["revenue", "gross_profit", "total_cost", "operating_profit", "cash_balance", "arr",
            "net_new_arr"]
    t = d[["scenario", "year", *[c for c in cols if c in d.columns]]]
    return t.rename(columns={c: PNL_LINES[c] for c in cols})


def paths_table(cmp: CompareResult,
                measures: Sequence[str] = ("operating_profit", "revenue")) -> pd.DataFrame:
    """month, scenario, measure (label), p10, p50, p90 for every scenario."""
    return pd.concat([fan_table(r, measures).assign(scenario=r.name) for r in cmp.results],
                     ignore_index=True)



def kpi_p50_table(results: Sequence[ExperimentResult]) -> pd.DataFrame:
    """P50 of every KPI (rows, by label) for each scenario (columns)."""
    table = pd.concat([r.kpi_summary.set_index("label")["p50"].rename(r.name) for r in results],
                      axis=1)
    table.index.name = "KPI (P50)"
    return table

