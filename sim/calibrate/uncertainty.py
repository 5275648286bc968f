"""The fit's uncertainty carried into the calibrated scenario: one ``uncertainty.joint`` block.

The fitted estimates' sampling law (their intervals and the joint blocks of estimates fitted
together, as ``revsim backtest`` draws them: :func:`sim.calibrate.backtest.drawn_fit`) is
pushed through the same mapping to scenario keys as the point estimates
(:func:`sim.calibrate.write.to_scenario_overrides`): ``DRAWS`` draws, each mapped, and the
mean and covariance of every numeric key that moves, on the scale where it is about normal
(log for a positive value, logit for a share). ``revsim run``, ``compare`` and ``report``
then draw the calibrated values from it in every replication (``--fixed-parameters`` keeps
the estimates), and the draws reproduce the fitted intervals (the coverage test).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import special

from sim.calibrate.mle import SCALES, Z95, Estimate, Fit


def _transform(e: Estimate):
    """The scale on which an estimate's interval is about normal: logit for a probability,
    log for a positive quantity, else the identity."""
    if 0 < e.low and e.high < 1 and 0 < e.value < 1:
        return special.logit, special.expit
    if e.low > 0:
        return np.log, np.exp
    return _identity, _identity


def _identity(x):
    return x


def _bounded(e: Estimate) -> bool:
    """A two-sided finite interval: the estimate can be drawn."""
    return math.isfinite(e.low) and math.isfinite(e.high) and e.low < e.high


def drawn_fit(fit: Fit, rng: np.random.Generator) -> Fit:
    """A copy of ``fit`` whose estimates are drawn from their sampling distributions.

    Estimates fitted together (``Fit.joint``: a gamma's shape and scale, a Beta's a and b,
    the churn means and concentration, the price parameters) are drawn together: one
    multivariate normal step on their own scales (the inverse Hessian), added to the
    current values (so a churn mean scaled by the engine correction keeps its scale). Every
    other estimate with a two-sided finite interval is drawn alone: a standard normal z on
    the scale of :func:`_transform`, with the interval's lower or upper half-width / 1.96
    as the standard deviation (a split normal: intervals need not be symmetric). Estimates
    without one (counts, the books, shares, an unbounded concentration) stay as they are."""
    out = fit.with_estimates(fit.estimates)
    done: set[str] = set()
    for block in fit.joint:
        if done.intersection(block.names) or any(n not in fit.estimates for n in block.names):
            continue
        # an estimate the data cannot bound (an unbounded concentration) stays as it is: the
        # others' marginal law is the block without its row and column
        keep = [i for i, n in enumerate(block.names) if _bounded(fit.estimates[n])]
        if not keep:
            continue
        cov = block.cov[np.ix_(keep, keep)]
        step = np.linalg.cholesky(cov) @ rng.standard_normal(len(keep))
        for i, dz in zip(keep, step, strict=True):
            name, scale = block.names[i], block.scales[i]
            e = fit.estimates[name]
            f, inv = SCALES[scale]
            out.estimates[name] = Estimate(float(inv(float(f(e.value)) + dz)), e.low, e.high,
                                           e.n, e.method, e.warning)
        done.update(block.names)
    for name, e in fit.estimates.items():
        if name in done or not _bounded(e):
            continue
        f, inv = _transform(e)
        z = float(rng.standard_normal())
        mid = float(f(e.value))
        half = (float(f(e.high)) - mid) if z > 0 else (mid - float(f(e.low)))
        value = float(inv(mid + z * half / Z95))
        if f is _identity:  # an interval reaching 0 (or 1): a draw stays inside it
            value = min(max(value, e.low), e.high)
        out.estimates[name] = Estimate(value, e.low, e.high, e.n, e.method, e.warning)
    return out


DRAWS = 1000
"""Draws of the fit pushed through the mapping to estimate the block."""
SEED = 20251208
"""Their stream: the block depends on the fit only."""
SKIPPED = ("segment_mix", "contracts", "installed_customers")
"""Keys kept at their estimates: shares that must sum to 1, lists, whole counts."""
DIGITS = 8
"""Significant digits written (the ridge keeps the rounded covariance positive definite)."""
RIDGE = 1e-6
"""Relative widening of each variance: keys mapped from one estimate move together exactly,
and a covariance with such a pair is only semi-definite."""


def _leaves(value, path: tuple) -> dict[str, float]:
    if isinstance(value, Mapping):
        out: dict[str, float] = {}
        for k, v in value.items():
            if k != "dist":
                out.update(_leaves(v, (*path, str(k))))
        return out
    if isinstance(value, float) and not isinstance(value, bool):
        return {".".join(path): value}
    return {}


def _numeric(values: Mapping[tuple, object]) -> dict[str, float]:
    out: dict[str, float] = {}
    for path, v in values.items():
        if any(s in path for s in SKIPPED):
            continue
        out.update(_leaves(v, path))
    return out


def fitted_block(fit: Fit, base, draws: int = DRAWS, seed: int = SEED) -> dict | None:
    """The ``uncertainty.joint`` block (a plain mapping) of the calibrated scenario, or None
    when no fitted value can be drawn."""
    from sim.calibrate.write import to_scenario_overrides

    rng = np.random.default_rng(seed)
    rows = [_numeric(to_scenario_overrides(drawn_fit(fit, rng), base)[0]) for _ in range(draws)]
    keys = [k for k in rows[0] if all(k in r for r in rows)]
    x = np.array([[r[k] for k in keys] for r in rows], float)
    moving = [i for i in range(len(keys)) if np.ptp(x[:, i]) > 1e-12 * max(1.0, abs(x[0, i]))]
    if not moving:
        return None
    keys = [keys[i] for i in moving]
    x = x[:, moving]
    scales, z = [], np.empty_like(x)
    for i in range(len(keys)):
        col = x[:, i]
        if col.min() > 0 and col.max() < 1:
            scales.append("logit")
            z[:, i] = special.logit(col)
        elif col.min() > 0:
            scales.append("log")
            z[:, i] = np.log(col)
        else:
            scales.append("identity")
            z[:, i] = col
    cov = np.cov(z, rowvar=False).reshape(len(keys), len(keys))
    cov += RIDGE * np.diag(np.diag(cov))  # each variance a millionth wider: positive definite
    return {"keys": keys, "scales": scales,
            "mean": [float(f"{m:.{DIGITS}g}") for m in z.mean(axis=0)],
            "cov": [[float(f"{c:.{DIGITS}g}") for c in row] for row in cov],
            "source": f"revsim calibrate: {draws} draws of the fitted estimates (their "
                      "intervals and joint blocks) mapped to these keys"}
