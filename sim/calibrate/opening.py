"""The opening state at ``--as-of``: what the books say the business is on that day.

Fitted into the same ``Fit`` as the rates (``sim.calibrate.fit``), written by
:func:`opening_overrides` (called from ``sim.calibrate.write``):

- ``segments.<seg>.installed_age_months``: the tenure of the accounts active at as-of
  (months since each one's first contract start), a gamma or a lognormal by maximum
  likelihood, whichever fits better (Hessian intervals on the log scale);
- ``segments.<seg>.installed_arr_usd``: the ARR of the subscriptions active at as-of (the
  books; the engine prices the installed base to it exactly);
- ``opening.receivables_usd``: invoices issued before as-of and unpaid at as-of;
- the open pipeline: opportunities open at as-of per segment. It is reported, not written:
  the engine makes its own pipeline at day 0 by running month 1's demand through a warm-up
  (``opening.pipeline: steady_state``); ``revsim backtest`` prints the model's count next to
  this one.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from sim.calibrate.mle import Z95, Estimate, Fit, mle_cov
from sim.units import MONTH_DAYS

OPEN_PIPELINE = "open_pipeline"
"""``<seg>.open_pipeline`` (count) and ``<seg>.open_pipeline_usd`` in ``Fit.estimates``."""


def tenure_fit(months: np.ndarray) -> tuple[dict, list[Estimate], np.ndarray | None]:
    """Gamma and lognormal MLE of fully observed tenures (months > 0); the one with the
    higher likelihood as a scenario distribution, its parameters as estimates, and their
    covariance on the log scale (gamma; None for the lognormal, whose two are independent)."""
    x = np.maximum(np.asarray(months, float), 1e-3)
    n = len(x)
    logs = np.log(x)
    # gamma: log shape, log scale
    m, v = float(x.mean()), float(max(x.var(), 1e-6))
    g, g_cov = mle_cov(lambda q: -float(np.sum(stats.gamma.logpdf(x, math.exp(q[0]),
                                                             scale=math.exp(q[1])))),
                      [math.log(m * m / v), math.log(v / m)])
    g_se = np.sqrt(np.diag(g_cov)) if g_cov is not None else np.full(2, np.nan)
    ll_g = float(np.sum(stats.gamma.logpdf(x, math.exp(g[0]), scale=math.exp(g[1]))))
    mu, sd = float(logs.mean()), float(logs.std())
    ll_l = float(np.sum(stats.norm.logpdf(logs, mu, sd) - logs)) if sd > 0 else -math.inf
    if ll_g >= ll_l:
        method = (f"gamma MLE of the tenure of active accounts (log-likelihood {ll_g:.1f} vs "
                  f"lognormal {ll_l:.1f})")
        ests = [Estimate(math.exp(g[i]), math.exp(g[i] - Z95 * g_se[i]),
                         math.exp(g[i] + Z95 * g_se[i]), n, method) for i in range(2)]
        return {"dist": "gamma", "shape": ests[0].value, "scale": ests[1].value}, ests, g_cov
    method = (f"lognormal MLE of the tenure of active accounts (log-likelihood {ll_l:.1f} vs "
              f"gamma {ll_g:.1f})")
    half = stats.t.ppf(0.975, n - 1) * logs.std(ddof=1) / math.sqrt(n)
    lo = sd * math.sqrt(n / stats.chi2.ppf(0.975, n - 1))
    hi = sd * math.sqrt(n / stats.chi2.ppf(0.025, n - 1))
    ests = [Estimate(math.exp(mu), math.exp(mu - half), math.exp(mu + half), n, method),
            Estimate(sd, lo, hi, n, method)]
    return {"dist": "lognormal", "median": ests[0].value, "sigma": ests[1].value}, ests, None


def active_at(subs: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per customer active at ``as_of`` (from rows cut at as-of, see
    ``fit._before``): its first start, its current ARR (the latest row) and segment."""
    s = subs.sort_values(["customer_id", "start_date"], kind="mergesort")
    g = s.groupby("customer_id", sort=True)
    last = g.tail(1).set_index("customer_id")
    first = g["start_date"].min()
    live = last[last["end_date"].isna()]
    return pd.DataFrame({"segment": live["segment"], "first_start": first.loc[live.index],
                         "arr_usd": live["arr_usd"].astype(float)})


def fit_opening(fit: Fit, subs, opps, inv, base, as_of: pd.Timestamp) -> None:
    """Add the opening state's estimates to ``fit`` (tables already cut at as-of)."""
    if subs is not None and not subs.empty:
        act = active_at(subs, as_of)
        for seg in base.segments:
            a = act[act["segment"] == seg]
            p = f"{seg}."
            if a.empty:
                fit.unsupported.append(f"{p}installed_age_months: no customers active at "
                                       f"{fit.as_of}")
                continue
            fit.estimates[p + "installed_arr_usd"] = Estimate(
                float(a["arr_usd"].sum()), math.nan, math.nan, len(a),
                f"sum of the ARR of the {len(a)} subscriptions active at {fit.as_of} (books)")
            tenure = ((as_of - a["first_start"]) / pd.Timedelta(days=1)).to_numpy(float)
            tenure = tenure / MONTH_DAYS
            if len(a) < 3 or np.ptp(tenure) <= 0:
                fit.unsupported.append(f"{p}installed_age_months: fewer than 3 distinct "
                                       "tenures")
                continue
            dist, ests, cov = tenure_fit(tenure)
            names = ("installed_age_shape", "installed_age_scale") if dist["dist"] == "gamma" \
                else ("installed_age_median", "installed_age_sigma")
            for name, est in zip(names, ests, strict=True):
                fit.add(p + name, est)
            fit.add_joint([p + n for n in names], ("log", "log"), cov)
    if inv is not None:
        if base.opening.receivables == "none":
            fit.unsupported.append("opening.receivables_usd: the base says receivables: none")
        else:
            unpaid = inv[inv["paid_date"].isna()]
            fit.estimates["receivables_usd"] = Estimate(
                float(unpaid["amount_usd"].sum()), math.nan, math.nan, len(unpaid),
                f"invoices issued before {fit.as_of} and unpaid at it (books)")
    if opps is not None:
        open_ = opps[opps["outcome"] == "open"]
        for seg in base.segments:
            o = open_[open_["segment"] == seg]
            fit.estimates[f"{seg}.{OPEN_PIPELINE}"] = Estimate(
                float(len(o)), math.nan, math.nan, len(o),
                f"opportunities created before {fit.as_of} and open at it")
            fit.estimates[f"{seg}.{OPEN_PIPELINE}_usd"] = Estimate(
                float(o["amount_usd"].sum()), math.nan, math.nan, len(o),
                "their amount_usd")


def open_pipeline(fit: Fit, segments) -> dict[str, tuple[int, float]]:
    """Observed open opportunities (count, USD) per segment, where the data had them."""
    out = {}
    for seg in segments:
        e = fit.estimates.get(f"{seg}.{OPEN_PIPELINE}")
        if e is not None:
            out[seg] = (int(e.value), fit.estimates[f"{seg}.{OPEN_PIPELINE}_usd"].value)
    return out


def opening_overrides(fit: Fit, base) -> tuple[dict[tuple, object], dict[tuple, str]]:
    """Scenario key paths → values and comments for the opening state."""
    from sim.calibrate.mle import _note, _sig

    values: dict[tuple, object] = {}
    notes: dict[tuple, str] = {}
    est = fit.estimates
    for seg in base.segments:
        s, p = ("segments", seg), f"{seg}."
        for names, kind, keys in ((("installed_age_shape", "installed_age_scale"), "gamma",
                                   ("shape", "scale")),
                                  (("installed_age_median", "installed_age_sigma"), "lognormal",
                                   ("median", "sigma"))):
            if all(p + n in est for n in names):
                values[(*s, "installed_age_months")] = {
                    "dist": kind, **{k: _sig(est[p + n].value)
                                     for k, n in zip(keys, names, strict=True)}}
                notes[(*s, "installed_age_months")] = "; ".join(
                    _note(n, est[p + n]) for n in names)
        if p + "installed_arr_usd" in est:
            e = est[p + "installed_arr_usd"]
            values[(*s, "installed_arr_usd")] = round(e.value, 2)
            notes[(*s, "installed_arr_usd")] = (
                f"installed_arr_usd {e.value:.2f}, n={e.n}, {e.method}; USD a year, the "
                "installed base is priced to it exactly")
    if "receivables_usd" in est:
        e = est["receivables_usd"]
        values[("opening", "receivables_usd")] = round(e.value, 2)
        notes[("opening", "receivables_usd")] = f"receivables_usd {e.value:.2f}, n={e.n}, {e.method}"
    return values, notes


def opening_comment_lines(fit: Fit, segments) -> list[str]:
    """Header comment lines of the calibrated file: the observed open pipeline."""
    pipe = open_pipeline(fit, segments)
    if not pipe:
        return []
    parts = ", ".join(f"{seg} {n} (${usd:,.0f})" for seg, (n, usd) in pipe.items())
    return [f"# Open pipeline at {fit.as_of} (opportunities, amount): {parts}.",
            "#   Not a key: the engine builds its own pipeline at day 0 in the warm-up",
            "#   (opening.pipeline); revsim backtest compares the two."]
