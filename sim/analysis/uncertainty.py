"""Two kinds of spread, apart: what the company does not know (its assumptions) and the
business's own randomness (luck), and which assumptions matter most.

* :func:`variance_split` — the law of total variance on a nested Monte Carlo (outer draws of
  the assumptions, inner replications per draw): Var(Y) = Var(E[Y | θ]) + E[Var(Y | θ)].
  The within-draw variance estimates luck; the between-draw variance of the draw means,
  less luck / inner (one-way random-effects ANOVA), estimates the assumptions' part.
* :func:`first_order_indices` — first-order Sobol indices (the share of a KPI's variance
  each assumption explains alone) by RBD-FAST on the replications already run
  (SALib, ``SALib.analyze.rbd_fast``: it works on given samples, so no extra runs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

MIN_SAMPLES_FOR_INDICES = 20
"""Fewer replications with drawn assumptions give no sensitivity indices (too noisy)."""
RBD_HARMONICS = 4
"""Harmonics of RBD-FAST (SALib's ``M``); 4 suits the tens-to-hundreds of replications a
report runs (SALib's default 10 needs more)."""


def variance_split(values: Sequence[float], groups: Sequence[int]) -> dict[str, float]:
    """Split the variance of ``values`` whose replications share outer draws ``groups``:
    ``total`` (sample variance), ``luck`` (pooled within-draw variance), ``assumptions``
    (between-draw variance of the means less luck / inner, at least 0) and
    ``assumptions_share`` = assumptions / (assumptions + luck). NaN when no draw has two
    replications."""
    df = pd.DataFrame({"y": np.asarray(values, float), "g": np.asarray(groups)}).dropna()
    sizes = df.groupby("g")["y"].size()
    full = sizes[sizes >= 2].index
    nan = dict.fromkeys(("total", "luck", "assumptions", "assumptions_share"), math.nan)
    total = float(df["y"].var(ddof=1)) if len(df) > 1 else math.nan
    if len(full) < 2:
        return {**nan, "total": total, "draws": len(full)}
    inner = df[df["g"].isin(full)]
    g = inner.groupby("g")["y"]
    luck = float((g.var(ddof=1) * (g.size() - 1)).sum() / (g.size() - 1).sum())
    k = float(g.size().mean())
    between = float(g.mean().var(ddof=1))
    assumptions = max(0.0, between - luck / k)
    denom = assumptions + luck
    return {"total": total, "luck": luck, "assumptions": assumptions,
            "assumptions_share": assumptions / denom if denom > 0 else math.nan,
            "draws": len(full)}


def first_order_indices(draws: pd.DataFrame, y: Sequence[float],
                        bounds: Mapping[str, tuple[float, float]] | None = None,
                        seed: int = 0) -> pd.DataFrame:
    """First-order Sobol index of each assumption (column of ``draws``) on ``y``, with its
    confidence half-width, by RBD-FAST (SALib) on these samples; one row per assumption,
    largest first. Empty when there are fewer than ``MIN_SAMPLES_FOR_INDICES`` samples or
    ``y`` does not vary."""
    from SALib.analyze import rbd_fast

    y = np.asarray(y, float)
    ok = ~np.isnan(y)
    x = draws.to_numpy(float)[ok]
    y = y[ok]
    cols = [c for i, c in enumerate(draws.columns) if np.ptp(x[:, i]) > 0] if len(x) else []
    empty = pd.DataFrame(columns=["assumption", "first_order", "first_order_conf"])
    if len(y) < MIN_SAMPLES_FOR_INDICES or not cols or not np.ptp(y) > 0:
        return empty
    x = draws[cols].to_numpy(float)[ok]
    lows, highs = x.min(axis=0), x.max(axis=0)
    problem = {"num_vars": len(cols), "names": list(cols),
               "bounds": [list(bounds[c]) if bounds and c in bounds else [lo, hi]
                          for c, lo, hi in zip(cols, lows, highs, strict=True)]}
    res = rbd_fast.analyze(problem, x, y, M=RBD_HARMONICS, seed=seed, print_to_console=False)
    out = pd.DataFrame({"assumption": cols,
                        "first_order": np.clip(np.asarray(res["S1"], float), 0.0, 1.0),
                        "first_order_conf": np.asarray(res["S1_conf"], float)})
    return out.sort_values("first_order", ascending=False, kind="stable").reset_index(drop=True)
