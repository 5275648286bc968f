"""Monte Carlo statistics in one vocabulary: means with Student-t intervals, probabilities with
binomial intervals, quantiles named P10/P50/P90 — all exact, from scipy.

Every statistic a report shows says which one it is (``STAT_LABELS``); every probability
estimated from replications carries its interval (``proportion_ci``), because 20
replications leave a target probability uncertain by about ±20 points.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri, stdtrit

CONFIDENCE = 0.95
"""Level of every interval revsim reports."""

STAT_LABELS = {
    "mean": "mean",
    "p10": "P10",
    "p50": "P50 (median)",
    "p90": "P90",
    "p10_p90": "P10–P90",
    "probability": "probability",
}
"""How each statistic is named in reports: mean, P50 or a P10–P90 band, never unlabelled."""

PROPORTION_METHOD = "wilson"
"""Binomial interval: Wilson score (good coverage at small n and near 0 or 1); scipy also
offers ``exact`` (Clopper–Pearson)."""


def t_quantile(df: int | float, confidence: float = CONFIDENCE) -> float:
    """Two-sided Student-t quantile for ``df`` degrees of freedom (NaN when df ≤ 0)."""
    if not df or df <= 0:
        return math.nan
    return float(stdtrit(df, 0.5 + confidence / 2))  # what scipy.stats.t.ppf computes


def mean_ci(values, confidence: float = CONFIDENCE) -> dict[str, float]:
    """Mean with its Student-t interval, standard deviation and half-width, ignoring NaN.

    One value gives the mean with a NaN interval (no spread to estimate)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    n = len(v)
    mean = float(v.mean()) if n else math.nan
    sd = float(v.std(ddof=1)) if n > 1 else math.nan
    half = t_quantile(n - 1, confidence) * sd / math.sqrt(n) if n > 1 else math.nan
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "sd": sd,
            "half_width": half, "n": n}


def proportion_ci(successes: int, trials: int, confidence: float = CONFIDENCE,
                  method: str = PROPORTION_METHOD) -> dict[str, float]:
    """Share of successes with its binomial interval (Wilson or Clopper–Pearson ``exact``)."""
    k, n = int(successes), int(trials)
    if n <= 0:
        return {"p": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": 0}
    if method == "wilson":
        low, high = _wilson(k, n, confidence)
    else:  # scipy.stats costs about a second to import: only for the other methods
        from scipy import stats

        ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method=method)
        low, high = ci.low, ci.high
    return {"p": k / n, "ci_low": float(low), "ci_high": float(high), "n": n}


def _wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided Wilson score interval, as ``scipy.stats.binomtest(k, n).proportion_ci(
    method="wilson")`` computes it (Newcombe 1998), operation for operation."""
    p = k / n
    z = ndtri(0.5 + 0.5 * confidence)
    denom = 2 * (n + z**2)
    center = (2 * n * p + z**2) / denom
    delta = z / denom * np.sqrt(4 * n * p * (1 - p) + z**2)
    return (0.0 if k == 0 else center - delta), (1.0 if k == n else center + delta)


def probability(flags, confidence: float = CONFIDENCE) -> dict[str, float]:
    """P(event) from per-replication booleans (NaN entries dropped) with its interval."""
    f = np.asarray(flags, dtype=float)
    f = f[~np.isnan(f)]
    return proportion_ci(int((f > 0.5).sum()), len(f), confidence)


def quantiles(values) -> dict[str, float]:
    """P10, P50, P90 and mean of the non-missing values (NaN when there are none)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if not len(v):
        return {"p10": math.nan, "p50": math.nan, "p90": math.nan, "mean": math.nan}
    p10, p50, p90 = np.quantile(v, [0.1, 0.5, 0.9])
    return {"p10": float(p10), "p50": float(p50), "p90": float(p90), "mean": float(v.mean())}


def replications_for(half_width: float, sd: float, confidence: float = CONFIDENCE,
                     at_least: int = 2) -> int:
    """Replications needed for a mean's interval half-width, given a (pilot) standard
    deviation: the smallest n with t(n-1) × sd / √n ≤ half_width."""
    if not (half_width > 0) or math.isnan(sd):
        return at_least
    if sd == 0:
        return at_least
    n = max(at_least, math.ceil((ndtri(0.5 + confidence / 2) * sd / half_width) ** 2))
    while t_quantile(n - 1, confidence) * sd / math.sqrt(n) > half_width:
        n += 1
    return n
