"""Sweeps: every point of a grid of lever values on the same seeds, one row per point; and
the pricing sweep (list-price change × discount cap)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import stats as mc
from sim.experiments.runner import run_all
from sim.experiments.settings import RunSettings, settings_of
from sim.scenario.io import with_overrides
from sim.scenario.levers import price_change_overrides as pricing_overrides
from sim.scenario.model import Scenario

SWEEP_KPIS = ("revenue_total", "operating_profit_total", "ending_arr", "npv_operating_profit",
              "cash_trough")
"""KPIs of each sweep point (mean and P10/P50/P90), next to win rate and new ARR per deal."""


def _grid_table(points: Sequence[Mapping[str, Any]], scenarios: Sequence[Scenario],
                kpis: Sequence[str], settings: RunSettings, label: str,
                per_rep: dict[str, list[np.ndarray]] | None = None) -> pd.DataFrame:
    """Run every point's scenario on the same seeds; one row per point: its values, the mean
    and P10/P50/P90 of each KPI, the win rate, the new ARR per deal won and the average
    discount off list of the deals won."""
    res, _ = run_all(scenarios, settings, label)
    rows = []
    for i, point in enumerate(points):
        kp = pd.DataFrame([d["kpis"] for d in res[i]])
        row = dict(point)
        for kpi in kpis:
            v = kp[kpi].to_numpy(float)
            if per_rep is not None:  # each point's runs, in replication order (paired)
                per_rep.setdefault(kpi, []).append(v)
            row[f"{kpi}_mean"] = float(np.nanmean(v))
            row[f"{kpi}_p10"], row[f"{kpi}_p50"], row[f"{kpi}_p90"] = np.nanquantile(
                v, [0.1, 0.5, 0.9])
            ci = mc.mean_ci(v)  # the 95% t interval of the mean: how sure the point's mean is
            row[f"{kpi}_ci_low"], row[f"{kpi}_ci_high"] = ci["ci_low"], ci["ci_high"]
        monthly = pd.concat([d["monthly"] for d in res[i]])
        won, lost = monthly["deals_won"].sum(), monthly["deals_lost"].sum()
        row["win_rate_frac"] = float(won / (won + lost)) if won + lost else math.nan
        row["new_arr_per_deal"] = float(monthly["new_arr"].sum() / won) if won else math.nan
        listed = monthly["list_arr_won"].sum()
        row["avg_discount_frac"] = float(monthly["discount_usd"].sum() / listed) if listed \
            else math.nan
        rows.append(row)
    return pd.DataFrame(rows)



@dataclass
class SweepResult:
    """A grid of lever values: one row per point, KPIs mean, P10/P50/P90 and the mean's 95%
    interval; the best point per KPI (by mean) with its interval, the points as good within
    noise and the keys whose best value lies on the edge of the grid."""

    table: pd.DataFrame
    keys: list[str]
    best: dict[str, dict]

    def csv_text(self) -> str:
        """The table as CSV, every text cell safe to open in a spreadsheet."""
        from sim.outputs.escape import csv_frame

        return csv_frame(self.table).to_csv(index=False)


def optimum(table: pd.DataFrame, keys: list[str], kpi: str,
            runs: Sequence[np.ndarray] | None = None) -> dict:
    """The point with the highest mean ``kpi``: its key values, ``{kpi}_mean`` and the 95%
    interval of that mean (``{kpi}_ci_low``, ``{kpi}_ci_high``); ``near``: how many points
    are as good within the noise — with ``runs`` (each point's values by replication, on the
    same seeds) those whose paired difference to the best has a 95% interval reaching zero,
    else those whose mean lies inside the best's interval — with ``near_range`` per key
    (lowest and highest value among them); ``at_edge``: the keys
    whose best value is the lowest or highest value of the grid (the optimum may lie beyond
    it) with ``edge_side`` ("lowest"/"highest") per key."""
    i = int(table[f"{kpi}_mean"].idxmax())
    lo = table.loc[i, f"{kpi}_ci_low"] if f"{kpi}_ci_low" in table else math.nan
    hi = table.loc[i, f"{kpi}_ci_high"] if f"{kpi}_ci_high" in table else math.nan
    if runs is not None:
        tied = [j for j in range(len(table))
                if j == i or not mc.mean_ci(runs[i] - runs[j])["ci_low"] > 0]
        near = table.iloc[tied]
    else:
        near = table[table[f"{kpi}_mean"] >= lo] if not math.isnan(lo) else table.loc[[i]]
    edge = {}
    for k in keys:
        values = sorted(set(table[k]))
        v = table.loc[i, k]
        if len(values) > 1 and v in (values[0], values[-1]):
            edge[k] = "lowest" if v == values[0] else "highest"
    return {**{k: table.loc[i, k] for k in keys},
            f"{kpi}_mean": float(table.loc[i, f"{kpi}_mean"]),
            f"{kpi}_ci_low": float(lo), f"{kpi}_ci_high": float(hi),
            "near": len(near), "paired": runs is not None,
            "near_range": {k: (near[k].min(), near[k].max()) for k in keys},
            "at_edge": list(edge), "edge_side": edge}


def sweep(
    scenario: Scenario,
    grid: Mapping[str, Sequence[Any]],
    replications: int = 10,
    seed: int = 0,
    executor: str = "process",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    *,
    settings: RunSettings | None = None,
) -> SweepResult:
    """Run every point of a grid over one to three dotted keys on the same seeds.
    ``settings``, when given, replaces the six run keywords."""
    s = settings_of(settings, replications, seed, executor, scheduler, workers, progress)
    keys = list(grid)
    if not 1 <= len(keys) <= 3:
        raise ValueError("a sweep takes one to three keys")
    points = [dict(zip(keys, p, strict=True))
              for p in itertools.product(*(grid[k] for k in keys))]
    scenarios = [with_overrides(scenario, p) for p in points]
    runs: dict[str, list[np.ndarray]] = {}
    table = _grid_table(points, scenarios, SWEEP_KPIS, s, "sweep", runs)
    best = {kpi: optimum(table, keys, kpi, runs[kpi])
            for kpi in ("revenue_total", "operating_profit_total")}
    return SweepResult(table=table, keys=keys, best=best)


PRICING_KPIS = ("revenue_total", "operating_profit_total", "ending_arr")


def pricing_sweep(scenario: Scenario, price_changes_pct: Sequence[float] = (-10, 0, 10, 20),
                  discount_caps_frac: Sequence[float] = (0.15, 0.35), replications: int = 2,
                  seed: int = 0, executor: str = "serial", scheduler: str | None = None,
                  workers: int | None = None, progress: bool = False, *,
                  settings: RunSettings | None = None) -> pd.DataFrame:
    """Every list-price change × discount cap (a cap on each segment's cap) on the same seeds:
    one row per point with revenue, profit and ARR mean and P10/P50/P90, win rate, deal size.
    ``settings``, when given, replaces the six run keywords."""
    s = settings_of(settings, replications, seed, executor, scheduler, workers, progress)
    points = [{"price_change_pct": p, "discount_cap_frac": c}
              for c in discount_caps_frac for p in price_changes_pct]
    scenarios = [with_overrides(scenario, pricing_overrides(scenario, p["price_change_pct"],
                                                            p["discount_cap_frac"]))
                 for p in points]
    return _grid_table(points, scenarios, PRICING_KPIS, s, "pricing sweep")
