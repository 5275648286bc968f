"""Sensitivity: one lever at a time, a step down and up, on the same seeds — a tornado of mean
KPIs with the paired differences' intervals. The levers are the catalogue's
(:mod:`sim.scenario.levers`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import stats as mc
from sim.experiments.runner import run_all
from sim.experiments.settings import RunSettings, settings_of
from sim.scenario.io import scenario_to_dict, with_overrides
from sim.scenario.levers import SENSITIVITY_LEVERS, expand, read
from sim.scenario.model import Scenario

DEFAULT_LEVERS = SENSITIVITY_LEVERS
"""The catalogue's sensitivity levers (:data:`sim.scenario.levers.LEVERS`)."""


KEPT_PROBABILITIES = ("logo_retention_12m_frac",)
"""Levers that are the probability of keeping a customer (also matches
``monthly_logo_retention_12m_frac``): a step moves the churn (1 − p), the quantity finance
reasons in, so ±10% of a 0.85 retention is ±1.5 points, not ±8.5."""


def step_unit(key: str, value: Any) -> str:
    """What a sensitivity step of ``key`` moves: the value, its churn, or whole units."""
    if key.endswith(KEPT_PROBABILITIES):
        return "churn (1 - p), relative"
    if isinstance(value, int) and not isinstance(value, bool):
        return "whole units (at least 1)"
    return "relative"


def _scaled(value: Any, factor: float, key: str) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"{key}: not a numeric lever")
    if key.endswith(KEPT_PROBABILITIES):
        return min(1.0, max(0.0, 1.0 - (1.0 - value) * (2.0 - factor)))
    if isinstance(value, int):
        step = max(1, round(abs(value) * abs(factor - 1)))
        return max(0, value + (step if factor > 1 else -step))
    new = value * factor
    if key.endswith("_frac") or key.endswith("_prob_frac"):
        new = min(1.0, max(0.0, new))
    return new


def sensitivity(
    scenario: Scenario,
    levers: Sequence[str] | None = None,
    step: float = 0.1,
    replications: int = 10,
    seed: int = 0,
    executor: str = "process",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    kpis: Sequence[str] = ("operating_profit_total", "ending_arr"),
    *,
    settings: RunSettings | None = None,
) -> pd.DataFrame:
    """One lever at a time, -step and +step (a ``*`` moves every segment together): a tornado
    table of mean KPI at low and high against the base, sorted by swing. Each row also says
    what a step moves (``step_unit``: relative, churn of a renewal probability, whole heads),
    the lever's base value per segment (``base_values``), the relative change actually made
    (``low_change_frac``, ``high_change_frac``), the elasticity (% KPI per % lever) and 95%
    intervals of the paired differences (low − base, high − base, and the swing high − low).
    ``settings``, when given, replaces the six run keywords."""
    s = settings_of(settings, replications, seed, executor, scheduler, workers, progress)
    data = scenario_to_dict(scenario)
    levers = list(levers or DEFAULT_LEVERS)
    variants: list[tuple[str, str, Any, Scenario]] = []
    for lever in levers:
        keys = expand(data, lever)
        for side, factor in (("low", 1 - step), ("high", 1 + step)):
            over = {}
            for k in keys:
                try:
                    over[k] = _scaled(read(data, k), factor, k)
                except (KeyError, TypeError):
                    raise ValueError(f"{lever}: no such numeric key in the scenario") from None
            first = read(data, keys[0])
            variants.append((lever, side, (first, over[keys[0]]), with_overrides(scenario, over)))
    all_sc = [scenario] + [v[3] for v in variants]
    res, _ = run_all(all_sc, s, "sensitivity")
    per_rep = {i: pd.DataFrame([d["kpis"] for d in res[i]])[list(kpis)] for i in res}
    mean = {i: per_rep[i].mean() for i in res}
    rows = []
    for lever in levers:
        idx = {side: i + 1 for i, v in enumerate(variants) if v[0] == lever for side in [v[1]]}
        (base_value, low_value) = variants[idx["low"] - 1][2]
        high_value = variants[idx["high"] - 1][2][1]
        keys = expand(data, lever)
        values = {k: read(data, k) for k in keys}
        lows = {k: read(scenario_to_dict(variants[idx["low"] - 1][3]), k) for k in keys}
        highs = {k: read(scenario_to_dict(variants[idx["high"] - 1][3]), k) for k in keys}
        change = {side: float(np.mean([(moved[k] - values[k]) / values[k] if values[k] else
                                       math.nan for k in keys]))
                  for side, moved in (("low", lows), ("high", highs))}
        base_values = "; ".join(f"{k.split('.')[-2]} {values[k]:,.4g}" for k in keys) \
            if len(keys) > 1 else f"{values[keys[0]]:,.4g}"
        for kpi in kpis:
            lo, hi, b = mean[idx["low"]][kpi], mean[idx["high"]][kpi], mean[0][kpi]
            b_r = per_rep[0][kpi].to_numpy(float)
            lo_r = per_rep[idx["low"]][kpi].to_numpy(float)
            hi_r = per_rep[idx["high"]][kpi].to_numpy(float)
            d_lo, d_hi, d_sw = mc.mean_ci(lo_r - b_r), mc.mean_ci(hi_r - b_r), \
                mc.mean_ci(hi_r - lo_r)
            span = change["high"] - change["low"]
            elasticity = (hi - lo) / b / span if b > 0 and span and not math.isnan(span) else \
                math.nan
            rows.append({"lever": lever, "kpi": kpi, "base_value": base_value,
                         "low_value": low_value, "high_value": high_value, "base": b,
                         "low": lo, "high": hi, "swing": abs(hi - lo),
                         "base_values": base_values, "step_unit": step_unit(keys[0], base_value),
                         "low_change_frac": change["low"], "high_change_frac": change["high"],
                         "elasticity": elasticity,
                         "low_delta_ci_low": d_lo["ci_low"], "low_delta_ci_high": d_lo["ci_high"],
                         "high_delta_ci_low": d_hi["ci_low"],
                         "high_delta_ci_high": d_hi["ci_high"],
                         "swing_ci_low": d_sw["ci_low"], "swing_ci_high": d_sw["ci_high"]})
    df = pd.DataFrame(rows)
    return df.sort_values(["kpi", "swing"], ascending=[True, False], ignore_index=True)
