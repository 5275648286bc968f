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

from collections.abc import Mapping

import numpy as np
from scipy import special

from sim.calibrate.mle import Fit

DRAWS = 400
"""Draws of the fit pushed through the mapping to estimate the block."""
SEED = 20251208
"""Their stream: the block depends on the fit only."""
SKIPPED = ("segment_mix", "contracts", "installed_customers")
"""Keys kept at their estimates: shares that must sum to 1, lists, whole counts."""
RIDGE = 1e-10
"""Added to the covariance's diagonal: keys mapped from one estimate move together exactly."""


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
    from sim.calibrate.backtest import drawn_fit
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
    cov += RIDGE * np.eye(len(keys)) * max(1.0, float(np.mean(np.diag(cov))))
    return {"keys": keys, "scales": scales, "mean": [float(m) for m in z.mean(axis=0)],
            "cov": [[float(c) for c in row] for row in cov],
            "source": f"revsim calibrate: {draws} draws of the fitted estimates (their "
                      "intervals and joint blocks) mapped to these keys"}
