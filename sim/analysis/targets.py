"""Plan targets (OKRs) against the replications: each target's actual per replication, whether
it was hit, and whether its plan year lies inside the horizon at all (a target beyond it has
no probability: n/a, never 0%). Joint targets (``all:``) are hit when every member is."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from sim.analysis.metrics import (
    MONTHS_PER_YEAR,
    NAN,
    TARGET_METRICS,
    _initial,
    _last_full_year,
    _net_new_arr,
    _period,
    _sorted,
    saas_metrics,
)


def _target_actual(df: pd.DataFrame, yearly: pd.DataFrame, metric: str, year: int | None) -> float:
    """Actual value of one target metric for a year (or the whole horizon when year is None)."""
    if metric in ("nrr", "grr"):
        y = _last_full_year(yearly) if year is None else year
        return float(yearly.loc[y, metric]) if y in yearly.index else NAN
    sub = df if year is None else df[_period(df["month"], "year") == year]
    if sub.empty:
        return NAN
    if metric == "net_new_arr":
        return float(_net_new_arr(sub).sum())
    if metric in ("operating_profit", "revenue"):
        return float(sub[metric].sum())
    if metric == "ending_arr":
        return float(sub["arr"].iloc[-1])
    return float(sub["cash_balance"].min())  # cash_floor


def target_in_horizon(year: int | None, horizon_months: int) -> bool:
    """Whether a target's plan year starts within the horizon (a whole-horizon target always
    does); a year that starts after it has no value: its probability is n/a, never 0."""
    return year is None or MONTHS_PER_YEAR * (int(year) - 1) < horizon_months


def _attain_one(df: pd.DataFrame, yearly: pd.DataFrame, t: Mapping[str, Any],
                horizon: int) -> tuple[float, bool, bool]:
    """(actual, hit, in horizon) of one single target."""
    metric = t["metric"]
    if metric not in TARGET_METRICS:
        raise ValueError(f"target {t.get('name')!r}: unknown metric {metric!r}")
    op = t.get("op", ">=")
    if op not in (">=", "<="):
        raise ValueError(f"target {t.get('name')!r}: op must be '>=' or '<=', got {op!r}")
    year = t.get("year")
    if not target_in_horizon(year, horizon):
        return NAN, False, False
    actual = _target_actual(df, yearly, metric, None if year is None else int(year))
    value = float(t["value"])
    hit = not math.isnan(actual) and (actual >= value if op == ">=" else actual <= value)
    return actual, bool(hit), True


JOINT = "all"
"""The metric and op of a joint target's row (``all:`` its members)."""


def target_attainment(
    monthly: pd.DataFrame,
    cohorts: pd.DataFrame,
    initial: Mapping[str, float] | None,
    targets: Sequence[Mapping[str, Any]],
    yearly: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per target: actual vs target value, whether ``actual op target`` holds and
    whether the target's year is within the horizon (``in_horizon``; when not, actual is NaN
    and hit False: the probability is n/a). A joint target (``all``: its members) is hit when
    every member is, and is in the horizon when every member is; its metric and op read
    ``all`` and its actual and target are NaN.
    ``yearly``: ``saas_metrics`` of the same tables when already computed."""
    df = _sorted(monthly)
    if yearly is None:
        yearly = saas_metrics(df, cohorts, _initial(initial, monthly))
    horizon = int(df["month"].max()) if len(df) else 0
    rows = []
    for t in targets:
        members = t.get("all")
        if members:
            parts = [_attain_one(df, yearly, m, horizon) for m in members]
            rows.append({"name": t["name"], "metric": JOINT, "year": None, "op": JOINT,
                         "target": NAN, "actual": NAN,
                         "hit": all(p[1] for p in parts),
                         "in_horizon": all(p[2] for p in parts)})
            continue
        actual, hit, inside = _attain_one(df, yearly, t, horizon)
        rows.append({"name": t["name"], "metric": t["metric"], "year": t.get("year"),
                     "op": t.get("op", ">="), "target": float(t["value"]), "actual": actual,
                     "hit": hit, "in_horizon": inside})
    cols = ["name", "metric", "year", "op", "target", "actual", "hit", "in_horizon"]
    out = pd.DataFrame(rows, columns=cols)
    out["year"] = out["year"].astype("Int64")
    out["hit"] = out["hit"].astype(bool)
    out["in_horizon"] = out["in_horizon"].astype(bool)
    return out
