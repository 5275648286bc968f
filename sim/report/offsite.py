"""The offsite view: a plan against its base on common random numbers, at real precision.

One view, two faces: the offsite app (``revsim offsite``, :mod:`sim.offsite`) redraws it on
every lever change, and ``notebooks/offsite.ipynb`` renders it once, static (tables and SVG
charts), under Papermill. What it shows, for the base and the plan over the horizon: P10 /
P50 / P90 of operating profit, value created, cash trough and ending ARR; the paired
difference with its 95% interval and P(plan beats base); P(cash below the floor); the
targets; what binds; fans of operating profit, cash and ARR.

A side is a :class:`Side` (per-replication KPIs, monthly bands, targets, constraints), made
from an experiment (:func:`side_of`) or estimated (the app's bank); the view never runs
anything.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from sim.analysis import constraints
from sim.analysis import stats as mc
from sim.analysis.bands import quantile_bands
from sim.experiments.compare import paired_delta
from sim.experiments.results import ExperimentResult, run_experiment
from sim.kpis import fmt_usd
from sim.report.chart_style import USD, WIDTH, style, title_params
from sim.report.fan import fan
from sim.report.render import svg
from sim.report.store import scenario_for
from sim.scenario.io import with_overrides
from sim.scenario.levers import move_overrides
from sim.scenario.model import Scenario

KPIS = ("operating_profit_total", "value_created_usd", "cash_trough", "ending_arr")
"""The four totals of the offsite question, in the order shown."""
KPI_NAMES = {"operating_profit_total": "Operating profit", "value_created_usd": "Value created",
             "cash_trough": "Cash trough", "ending_arr": "Ending ARR"}
FANS = {"operating_profit": "Operating profit per month", "cash_balance": "Cash balance",
        "arr": "ARR"}
"""Measure → panel title of the three fans."""


@dataclass
class Side:
    """One side of the comparison: per-replication KPIs (a ``replication`` column and
    :data:`KPIS`), monthly bands of :data:`FANS` (month, measure, p10, p50, p90), the
    targets' probabilities (name, probability; None: not known yet), what binds (None: not
    known yet) and the cash floor."""

    name: str
    kpis: pd.DataFrame
    bands: pd.DataFrame
    targets: pd.DataFrame | None
    findings: list | None
    floor: float
    horizon_months: int
    path_means: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Mean per month of each measure (columns: :data:`FANS`), for the app's estimates."""


def side_of(result: ExperimentResult, name: str | None = None) -> Side:
    """A side from an experiment (targets and constraints included)."""
    monthly = result.monthly
    bands = quantile_bands(monthly, list(FANS), by="month")
    means = monthly.groupby("month")[list(FANS)].mean()
    targets = result.target_summary
    targets = targets[["name", "probability"]] if len(targets) else None
    return Side(name or result.name, result.kpis[["replication", *KPIS]].copy(), bands,
                targets, result.constraints(), constraints.cash_floor(result.scenario),
                result.scenario.horizon_months, means)


def _money(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt_usd(x)


def band_table(base: Side, plan: Side) -> pd.DataFrame:
    """Per KPI: P10 / P50 / P90 of the base and of the plan (formatted)."""
    rows = []
    for k in KPIS:
        row = {"Total over the horizon": KPI_NAMES[k]}
        for who, side in (("Base", base), ("Plan", plan)):
            q = mc.quantiles(side.kpis[k].to_numpy(float))
            row[f"{who} P10"], row[f"{who} P50"], row[f"{who} P90"] = (
                _money(q["p10"]), _money(q["p50"]), _money(q["p90"]))
        rows.append(row)
    return pd.DataFrame(rows)


def delta_numbers(base: Side, plan: Side) -> dict[str, dict[str, float]]:
    """Per KPI: the paired difference (plan − base, replication by replication), its 95%
    interval and P(plan beats base) (:func:`sim.experiments.compare.paired_delta`)."""
    b = base.kpis.set_index("replication")
    p = plan.kpis.set_index("replication").reindex(b.index)
    return {k: paired_delta(b[k].to_numpy(float), p[k].to_numpy(float)) for k in KPIS}


def delta_table(base: Side, plan: Side) -> pd.DataFrame:
    rows = []
    for k, d in delta_numbers(base, plan).items():
        p = d["prob_better"]
        rows.append({"Plan − base": KPI_NAMES[k], "Mean Δ": _money(d["mean_delta"]),
                     "95% interval": f"{_money(d['ci_low'])} to {_money(d['ci_high'])}",
                     "P(beats base)": "—" if math.isnan(p) else f"{p:.0%}"})
    return pd.DataFrame(rows)


def cash_below_floor(side: Side) -> float:
    """Share of replications whose cash trough falls below the floor."""
    v = side.kpis["cash_trough"].to_numpy(float)
    return float((v < side.floor).mean()) if len(v) else math.nan


def targets_table(base: Side, plan: Side) -> pd.DataFrame:
    """P(hit) of each target, base and plan ("…" while the plan's are not known)."""
    if base.targets is None:
        return pd.DataFrame(columns=["Target", "Base", "Plan"])
    theirs = (plan.targets.set_index("name")["probability"] if plan.targets is not None
              else pd.Series(dtype=float))

    def pct(x: Any) -> str:
        if x is None:
            return "…"
        return "n/a" if isinstance(x, float) and math.isnan(x) else f"{x:.0%}"

    return pd.DataFrame([{"Target": n, "Base": pct(p), "Plan": pct(theirs[n] if n in theirs.index else None)}
                         for n, p in zip(base.targets["name"], base.targets["probability"],
                                         strict=True)])


def binding_text(base: Side, plan: Side) -> str:
    if plan.findings is None or base.findings is None:
        return "What binds: … (with the exact bands)"
    return constraints.compare_statement(base.findings, plan.findings, "Plan", "base")


def fan_frame(base: Side, plan: Side) -> pd.DataFrame:
    """Long table of the three fans: month, scenario (Base, Plan), measure, p10, p50, p90."""
    parts = [s.bands.assign(scenario=who) for who, s in (("Base", base), ("Plan", plan))]
    return pd.concat(parts, ignore_index=True)


def fans_chart(df: pd.DataFrame, width: int = WIDTH // 3 - 10) -> alt.HConcatChart:
    """Operating profit, cash and ARR: base and plan bands overlaid, one panel each."""
    panels = []
    for measure, title in FANS.items():
        d = df[df["measure"] == measure]
        y = "USD per month" if measure == "operating_profit" else "USD"
        panels.append(fan(d, y, USD, color="scenario", width=width,
                          zero=measure != "arr")
                      .properties(width=width, height=190,
                                  title=title_params(title, "P50 line, P10–P90 band")))
    return style(alt.hconcat(*panels, spacing=24))


@dataclass
class OffsiteView:
    """Base and plan sides and how the plan side was obtained (``exact`` or an estimate)."""

    base: Side
    plan: Side
    exact: bool = True
    note: str = ""
    scenario: Scenario | None = None
    """The base scenario (for the notebook's assumptions)."""

    def headline(self) -> str:
        d = delta_numbers(self.base, self.plan)["operating_profit_total"]
        kind = "exact" if self.exact else "estimate"
        return (f"{kind}: operating profit {_money(d['mean_delta'])} against the base "
                f"(95% interval {_money(d['ci_low'])} to {_money(d['ci_high'])}), "
                f"P(beats base) {d['prob_better']:.0%}")

    def cash_text(self) -> str:
        return (f"P(cash below {fmt_usd(self.base.floor)}): base "
                f"{cash_below_floor(self.base):.0%}, plan {cash_below_floor(self.plan):.0%}")

    def chart(self) -> alt.HConcatChart:
        return fans_chart(fan_frame(self.base, self.plan))

    def html(self) -> str:
        """The whole view as static HTML (the notebook's rendering; charts as inline SVG)."""
        def table(df: pd.DataFrame) -> str:
            return df.to_html(index=False, escape=True, border=0, classes="offsite")

        kind = "Exact" if self.exact else "Estimate"
        parts = [f"<h3>{html.escape(kind)}: {html.escape(self.note)}</h3>",
                 f"<p>{html.escape(self.headline())}</p>",
                 table(band_table(self.base, self.plan)),
                 table(delta_table(self.base, self.plan)),
                 f"<p>{html.escape(self.cash_text())}</p>",
                 table(targets_table(self.base, self.plan)),
                 f"<p>{html.escape(binding_text(self.base, self.plan))}</p>",
                 svg(self.chart())]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.html()


def plan_scenario(base: Scenario, moves: Mapping[str, Any], name: str = "plan") -> Scenario:
    """The base with the offsite's moves applied (validated like a file)."""
    return with_overrides(base, move_overrides(base, moves), name=name)


def offsite_view(scenario: str | Path, project_root: str | Path = "..",
                 moves: Mapping[str, Any] | None = None, replications: int = 20,
                 seed: int = 0, months: int | None = None,
                 executor: str = "process") -> OffsiteView:
    """The offsite view of ``moves`` (see :func:`sim.scenario.levers.move_overrides`) on a
    scenario file, both sides run on the same streams (the notebook's one call)."""
    base = scenario_for(scenario, project_root, months)
    plan = plan_scenario(base, moves or {})
    b = run_experiment(base, replications=replications, seed=seed, executor=executor)
    p = run_experiment(plan, replications=replications, seed=seed, executor=executor)
    note = (f"{replications} replications × {base.horizon_months} months, same random "
            "numbers for base and plan")
    return OffsiteView(side_of(b, "Base"), side_of(p, "Plan"), True, note, base)


def estimate_side(base: Side, kpi_delta: Mapping[str, np.ndarray],
                  path_delta: pd.DataFrame | None, name: str = "Plan") -> Side:
    """An estimated plan side: the base's replications shifted by per-replication KPI
    differences and its bands by mean monthly differences (targets and constraints left
    unknown)."""
    kp = base.kpis.copy()
    for k, d in kpi_delta.items():
        kp[k] = kp[k].to_numpy(float) + np.asarray(d, float)
    bands = base.bands.copy()
    if path_delta is not None and len(path_delta):
        for measure in FANS:
            if measure not in path_delta:
                continue
            shift = bands.loc[bands["measure"] == measure, "month"].map(path_delta[measure])
            for q in ("p10", "p50", "p90"):
                bands.loc[bands["measure"] == measure, q] += shift.fillna(0).to_numpy()
    return Side(name, kp, bands, None, None, base.floor, base.horizon_months)
