"""The engine correction of the churn fit (indirect inference).

The churn fit of ``sim.calibrate.fit`` measures the churn that happened: customer-success
coverage, late onboarding and the stakeholder model (critics, champions leaving) are in it.
The engine applies those multipliers again to each account's churn propensity, so a fitted
mean written as the base input churns too much. ``correct_churn`` makes the written input
the one whose *realised* churn in the engine equals the data's: simulate the calibrated
scenario (a few replications, fixed seeds) over a window as long as the history, export it
in the canonical format (``sim.calibrate.export``), measure the realised churn the same way
on the data and on the simulated histories, and scale each segment's churn mean per kind of
term (on the probability scale), with its interval, by realised(data) / realised(simulated);
repeated ``steps`` times (each step starts from the last one's inputs). Same seed, same
correction.

The statistic matched is churned lifetimes per account-year at risk in the window, per
segment and kind of term (month-to-month; 12+ month terms): it is what the held-out months
are scored on, and unlike the sBG mean it does not trade off against the fitted
heterogeneity on a short window.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from sim.calibrate.mle import Estimate, Fit
from sim.calibrate.schemas import validate

KINDS = {"monthly_churn_mean": "monthly", "renewal_churn_mean": "renewal"}
"""The per-segment churn estimates the correction scales, and their kind of term."""
SEED_OFFSET = 7919  # simulated histories use seeds seed + SEED_OFFSET + r, apart from the run's
MAX_MEAN = 0.999
DEFAULT_REPS = 12  # simulated histories per step: the seeds are the same for every company,
# so their noise would be a shared bias (4 histories: mid-market churn 0.073 per account-year
# at one seed set, 0.097-0.102 at two others, for the same inputs)
DEFAULT_STEPS = 2
MIN_MONTHS, MAX_MONTHS = 12, 36
MIN_CHURNS = 3  # fewer churned lifetimes (data or simulation) than this: no correction


def realised_churn(subs: pd.DataFrame, since: pd.Timestamp, as_of: pd.Timestamp
                   ) -> dict[tuple[str, str], tuple[int, float]]:
    """(segment, kind) → (lifetimes that ended in [since, as_of), account-years at risk in
    it). A lifetime is a customer's rows (first start to last end; open: still alive)."""
    s = subs[subs["start_date"] < as_of]
    if s.empty:
        return {}
    g = s.assign(open_=s["end_date"].isna()).groupby("customer_id", sort=False)
    first = g.agg(segment=("segment", "first"), term=("term_months", "first"),
                  start=("start_date", "min"), end=("end_date", "max"), open_=("open_", "max"))
    end = first["end"].where(~first["open_"] & (first["end"] < as_of), as_of)
    lo = first["start"].where(first["start"] > since, since)
    years = ((end - lo) / pd.Timedelta(days=365.25)).clip(lower=0).to_numpy(float)
    churned = (~first["open_"] & (first["end"] >= since) & (first["end"] < as_of)).to_numpy()
    kind = np.where(first["term"].to_numpy(int) == 1, "monthly", "renewal")
    out = {}
    for key in sorted(set(zip(first["segment"].to_numpy(), kind, strict=True))):
        m = (first["segment"].to_numpy() == key[0]) & (kind == key[1])
        out[key] = (int(churned[m].sum()), float(years[m].sum()))
    return out


def simulated_churn(scenario, base, months: int, seed: int, reps: int
                    ) -> dict[tuple[str, str], tuple[int, float]]:
    """:func:`realised_churn` of ``reps`` simulated histories of ``months`` months, pooled."""
    from sim.calibrate.export import export_history
    from sim.scenario.io import with_overrides

    sc = with_overrides(scenario, {"horizon_months": months})
    origin = dt.date(2000, 1, 1)
    total: dict[tuple[str, str], tuple[int, float]] = {}
    for r in range(reps):
        h = export_history(sc, seed=seed + SEED_OFFSET + r, origin=origin,
                           tables=("subscriptions",))
        subs = h["subscriptions"].replace("", pd.NA)  # an open end is an empty cell
        subs = validate(subs, "subscriptions", list(base.segments), "simulated history")
        got = realised_churn(subs, pd.Timestamp(origin), pd.Timestamp(h["company"]["as_of"]))
        for k, (n, y) in got.items():
            n0, y0 = total.get(k, (0, 0.0))
            total[k] = (n0 + n, y0 + y)
    return total


OPENING = ("installed_customers", "installed_price_usd", "installed_seats_median",
           "installed_seats_sigma", "installed_arr_usd", "installed_age_shape",
           "installed_age_scale", "installed_age_median", "installed_age_sigma")
"""The per-segment estimates of the opening state (plus ``receivables_usd``)."""


def _opening_name(name: str) -> bool:
    return name == "receivables_usd" or name.split(".", 1)[-1] in OPENING


def window_start(subs: pd.DataFrame, since: pd.Timestamp | None,
                 as_of: pd.Timestamp) -> pd.Timestamp:
    """Where the window the correction matches begins: the history's start (or the first
    subscription), but at most ``MAX_MONTHS`` before ``as_of``, so that the simulated
    histories cover the same months as the data they are matched to."""
    first = since if since is not None else subs["start_date"].min()
    return max(pd.Timestamp(first), as_of - pd.DateOffset(months=MAX_MONTHS))


def opening_at(inputs, base, start: pd.Timestamp) -> dict[str, Estimate]:
    """The opening state at ``start`` (the state the data's window began from: installed
    base, tenure, receivables), fitted from the inputs cut at ``start``. A segment with no
    customers active then opens empty."""
    from sim.calibrate.fit import calibrate

    at = calibrate(inputs, base, start, start)
    est = {n: e for n, e in at.estimates.items() if _opening_name(n)}
    for seg in base.segments:
        est.setdefault(f"{seg}.installed_customers", Estimate(
            0.0, 0.0, 0.0, 0, f"no customers active at {start.date()}"))
    return est


def with_opening(fit: Fit, opening: dict[str, Estimate]) -> Fit:
    """A copy of ``fit`` with this opening state in place of its own. The correction
    simulates from the state at the data's start, so that the simulated histories run
    through the same seasoning of the base as the data did: simulated from the state at the
    cut instead, a base that has seasoned since churns less, and the correction would push
    the churn inputs up to make up for it."""
    est = {n: e for n, e in fit.estimates.items() if not _opening_name(n)}
    est.update(opening)
    return fit.with_estimates(est)


def _scaled(e: Estimate, factor: float, note: str) -> Estimate:
    def cap(x):
        return min(MAX_MEAN, x * factor) if math.isfinite(x) else x
    return Estimate(cap(e.value), cap(e.low), cap(e.high), e.n, f"{e.method}; {note}",
                    e.warning)


def history_months(since: pd.Timestamp, as_of: pd.Timestamp) -> int:
    """Months of each simulated history: the window's length, within
    [``MIN_MONTHS``, ``MAX_MONTHS``]."""
    months = round((as_of - since) / pd.Timedelta(days=365.25) * 12)
    return max(MIN_MONTHS, min(MAX_MONTHS, months))


def correction_work(scenario, since: pd.Timestamp, as_of: pd.Timestamp,
                    reps: int = DEFAULT_REPS, steps: int = DEFAULT_STEPS) -> list[tuple]:
    """The simulations :func:`correct_churn` runs at most, for ``sim.experiments.workload``: ``reps``
    histories of :func:`history_months` months per step, as (scenario, count) pairs."""
    months = history_months(since, as_of)
    sc = scenario.model_copy(update={"horizon_months": months, "name": "calibrated scenario"})
    return [(sc, reps * max(steps, 0))]


def correction_label(since: pd.Timestamp, as_of: pd.Timestamp, reps: int = DEFAULT_REPS,
                     steps: int = DEFAULT_STEPS) -> str:
    """How a refusal of the correction's work names it."""
    return (f"--engine-correction ({reps * steps} simulated histories of "
            f"{history_months(since, as_of)} months): ")


def correct_churn(fit: Fit, base, scenario, subs: pd.DataFrame, since: pd.Timestamp,
                  as_of: pd.Timestamp, seed: int = 0, reps: int = DEFAULT_REPS,
                  steps: int = DEFAULT_STEPS) -> Fit:
    """A copy of ``fit`` whose churn means (and intervals) are the engine's base inputs.
    ``scenario`` is the calibrated scenario as it stood at ``since`` (opening state from
    :func:`opening_at`; its churn keys are rewritten from each step's fit); ``subs`` the
    data's subscriptions, measured over [since, as_of)."""
    from sim.calibrate.write import to_scenario_overrides
    from sim.scenario.io import with_overrides

    months = history_months(since, as_of)
    data = realised_churn(subs, since, as_of)
    names = {f"{seg}.{q}": (seg, kind) for seg in base.segments for q, kind in KINDS.items()
             if f"{seg}.{q}" in fit.estimates and data.get((seg, kind), (0, 0))[0] >= MIN_CHURNS}
    if not names or steps <= 0:
        return fit
    factor = dict.fromkeys(names, 1.0)
    cur = fit
    for _ in range(steps):
        values, _ = to_scenario_overrides(cur, base)
        churn = {".".join(p): v for p, v in values.items()
                 if p[-1] in ("logo_retention_12m_frac", "monthly_logo_retention_12m_frac")}
        got = simulated_churn(with_overrides(scenario, churn), base, months, seed, reps)
        for n, key in names.items():
            k_sim, y_sim = got.get(key, (0, 0.0))
            k_dat, y_dat = data[key]
            if k_sim < MIN_CHURNS or y_sim <= 0 or y_dat <= 0:
                continue
            factor[n] = min(factor[n] * (k_dat / y_dat) / (k_sim / y_sim),
                            MAX_MEAN / fit.estimates[n].value)
        cur = fit.with_estimates(fit.estimates)
        for n, (seg, kind) in names.items():
            k_dat, y_dat = data[(seg, kind)]
            cur.estimates[n] = _scaled(
                fit.estimates[n], factor[n],
                f"engine-corrected x{factor[n]:.4g}: the base input whose realised churn in "
                f"{reps} simulated {months}-month histories matches the data's "
                f"{k_dat / y_dat:.3g} per account-year ({steps} steps, interval scaled alike)")
    return cur
