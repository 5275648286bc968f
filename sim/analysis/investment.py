"""The investment view of a what-if: the plan minus its base, replication by replication (the
same random streams), read as an investment — what it costs, when it pays back, what it is
worth. Pure functions of the result tables (``monthly`` with a ``replication`` column).

Definitions (one each, used everywhere):

- *cumulative Δ operating profit* at month m: Σ over months 1..m of (plan − base) operating
  profit, in one replication; *cumulative Δ cash*: plan − base cash balance at month m.
- *payback month* of a replication: the first month m (0..H, with the cumulative Δ at month 0
  equal to 0) from which the cumulative Δ operating profit is ≥ 0 in every month up to the
  horizon H. 0 means the plan is never behind its base; no month (not paid back) when the
  cumulative Δ at H is below 0. So "paid back within the horizon" ⇔ cumulative Δ at H ≥ 0.
- *payback P10/P50/P90*: the first month by which at least 10/50/90% of the replications
  have paid back (the empirical distribution, not-paid-back runs counted as later than H);
  none when fewer than that share paid back within the horizon.
- *NPV of Δ*: the monthly Δ cash flows (the change of Δ cash balance each month, month 0 the
  opening difference) discounted at the base's annual rate, flows at month end:
  Σ ΔCF_m ÷ (1 + r)^(m/12), as :func:`sim.analysis.metrics.npv`. No terminal value: what the
  plan leaves beyond the horizon (a larger ARR base) is not in it.
- *IRR of Δ*: the annual rate at which the mean Δ cash flows' NPV is 0, found with
  ``scipy.optimize.brentq`` in (−99%, 100,000%); when several rates make it 0 (monthly cash
  differences change sign often), the one where the NPV falls through 0 as the rate rises,
  if there is exactly one (the note says so); n/a when the flows do not change sign, or no
  rate, or several such rates do.
- *incremental CAC*: Δ sales and marketing cost ÷ Δ new customers over the horizon (means of
  the paired runs); *incremental magic number*: Δ net new ARR ÷ Δ sales and marketing cost
  over the horizon (the ARR form of the magic number). Each is n/a unless the differences it
  divides by are measurably positive (mean > 0 and its 95% interval above 0): a plan that
  spends on customer success, not on selling, has no magic number of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from sim.analysis import stats as mc

MONTHS_PER_YEAR = 12
IRR_LOW, IRR_HIGH = -0.99, 1000.0
"""The annual rates searched for an IRR (−99% to 100,000% a year)."""
_IRR_GRID = np.expm1(np.linspace(math.log1p(IRR_LOW), math.log1p(IRR_HIGH), 801))
MEASURES = {"cum_delta_operating_profit": "Cumulative Δ operating profit",
            "cum_delta_cash": "Cumulative Δ cash"}
"""The monthly series of the view and their labels."""
SM_COLUMNS = ("marketing_cost", "sales_cost")
"""Sales and marketing cost, as in the headline CAC."""


# ---------------------------------------------------------------- pure rules on arrays


def payback_month(cumulative: Sequence[float]) -> int | None:
    """First month m in 0..H from which ``cumulative`` (months 1..H; month 0 is 0) stays ≥ 0
    to the end; None when it ends below 0."""
    c = np.concatenate([[0.0], np.asarray(cumulative, float)])
    if not len(c) > 1 or math.isnan(c[-1]) or c[-1] < 0:
        return None
    below = np.flatnonzero(~(c >= 0))  # NaN counts as below
    return int(below[-1] + 1) if len(below) else 0


def payback_quantile(months: Sequence[float], share: float) -> float:
    """The first month by which at least ``share`` of the runs paid back (NaN entries: not
    paid back within the horizon); NaN when fewer runs than that paid back."""
    m = np.asarray(months, float)
    n = len(m)
    done = np.sort(m[~np.isnan(m)])
    k = math.ceil(share * n - 1e-9)  # runs needed
    if n == 0 or k > len(done):
        return math.nan
    return float(done[max(k, 1) - 1])


def discount_factors(months: Sequence[float], annual_rate_frac: float) -> np.ndarray:
    """1 ÷ (1 + r)^(m/12) for each month m (flows at month end)."""
    return (1.0 + annual_rate_frac) ** (-np.asarray(months, float) / MONTHS_PER_YEAR)


def npv_of(flows: Sequence[float], annual_rate_frac: float) -> float:
    """NPV of monthly flows at months 0, 1, …, H discounted at an annual rate."""
    f = np.asarray(flows, float)
    if not annual_rate_frac > -1:
        return math.nan
    return float(np.sum(f * discount_factors(np.arange(len(f)), annual_rate_frac)))


def irr_of(flows: Sequence[float]) -> tuple[float, str]:
    """Annual IRR of monthly flows at months 0..H and a note: ("", the rate) when one rate in
    the searched range makes the NPV 0; when several do (noisy flows change sign often), the
    one where the NPV falls through 0 as the rate rises (the rate at which the plan, as an
    investment, stops paying) if there is exactly one, with a note saying so; else NaN and
    why ("the flows do not change sign", "no rate …", "several rates …")."""
    f = np.asarray(flows, float)
    f = np.where(np.abs(f) < 1e-9 * max(1.0, float(np.abs(f).max(initial=0.0))), 0.0, f)
    if not ((f > 0).any() and (f < 0).any()):
        return math.nan, "the flows do not change sign"
    values = np.array([npv_of(f, r) for r in _IRR_GRID])
    crossings = []  # (low rate, high rate, falls as the rate rises)
    for i in range(len(values) - 1):
        a, b = values[i], values[i + 1]
        if a == 0 and i > 0:
            continue  # counted as the end of the previous interval
        if a * b < 0 or b == 0:
            crossings.append((_IRR_GRID[i], _IRR_GRID[i + 1], a > 0 if a != 0 else b < 0))
    if not crossings:
        return math.nan, "no rate makes the NPV zero"
    note = ""
    if len(crossings) > 1:
        falling = [c for c in crossings if c[2]]
        if len(falling) != 1:
            return math.nan, f"several rates make the NPV zero ({len(crossings)})"
        note = (f"one of {len(crossings)} rates that make the NPV zero: the one where it falls "
                "as the rate rises")
        crossings = falling
    lo, hi, _ = crossings[0]
    if npv_of(f, hi) == 0:
        return float(hi), note
    if npv_of(f, lo) == 0:
        return float(lo), note
    return float(brentq(lambda r: npv_of(f, r), lo, hi, xtol=1e-12, rtol=1e-12)), note


def _measurably_positive(ci: dict[str, float]) -> bool:
    """A mean above 0 whose 95% interval stays above 0 (or has no spread to estimate)."""
    return ci["mean"] > 0 and not ci["ci_low"] <= 0


# ---------------------------------------------------------------- one plan against its base


def _by_month(monthly: pd.DataFrame, column: str) -> pd.DataFrame:
    return monthly.pivot_table(index="replication", columns="month", values=column,
                               aggfunc="sum").sort_index(axis=0).sort_index(axis=1)


def _opening_cash(initial: pd.DataFrame | None, reps: pd.Index) -> pd.Series:
    if initial is None or "cash_balance" not in getattr(initial, "columns", ()):
        return pd.Series(0.0, index=reps)
    return initial.set_index("replication")["cash_balance"].astype(float).reindex(reps)


@dataclass
class InvestmentView:
    """A plan against its base as an investment (see the module's definitions)."""

    plan: str
    base: str
    horizon_months: int
    discount_rate_frac: float
    per_rep: pd.DataFrame
    """Per replication: payback_month (NaN: not within the horizon), paid_back, npv_delta,
    irr_delta, delta_sm_cost, delta_new_customers, delta_net_new_arr, delta_operating_profit."""
    monthly: pd.DataFrame
    """Per month and measure (``MEASURES``): p10, p50, p90, mean, ci_low, ci_high."""
    flows: pd.DataFrame
    """Mean Δ cash flow per month 0..H (the flows the IRR is of)."""

    def summary(self) -> dict:
        """One row: payback P10/P50/P90, P(paid back) with its Wilson interval, NPV of Δ
        (mean, 95% interval, P10/P50/P90), IRR of the mean flows, incremental CAC and magic
        number."""
        p = self.per_rep
        paid = mc.proportion_ci(int(p["paid_back"].sum()), len(p))
        npv = mc.mean_ci(p["npv_delta"])
        npq = mc.quantiles(p["npv_delta"])
        irr, why = irr_of(self.flows["delta_cash_flow"])
        sm_ci, new_ci = mc.mean_ci(p["delta_sm_cost"]), mc.mean_ci(p["delta_new_customers"])
        sm, new = sm_ci["mean"], new_ci["mean"]
        # a ratio to a difference that may be noise (its 95% interval reaches 0) means nothing
        spends = _measurably_positive(sm_ci)
        wins = _measurably_positive(new_ci)
        return {
            "scenario": self.plan, "base": self.base, "horizon_months": self.horizon_months,
            "replications": len(p),
            "payback_month_p10": payback_quantile(p["payback_month"], 0.1),
            "payback_month_p50": payback_quantile(p["payback_month"], 0.5),
            "payback_month_p90": payback_quantile(p["payback_month"], 0.9),
            "prob_paid_back": paid["p"], "prob_paid_back_low": paid["ci_low"],
            "prob_paid_back_high": paid["ci_high"],
            "discount_rate_frac": self.discount_rate_frac,
            "npv_delta_mean": npv["mean"], "npv_delta_ci_low": npv["ci_low"],
            "npv_delta_ci_high": npv["ci_high"], "npv_delta_p10": npq["p10"],
            "npv_delta_p50": npq["p50"], "npv_delta_p90": npq["p90"],
            "irr_delta_frac": irr, "irr_note": why,
            "delta_operating_profit_mean": float(p["delta_operating_profit"].mean()),
            "delta_sm_cost_mean": sm, "delta_new_customers_mean": new,
            "incremental_cac_usd": sm / new if spends and wins else math.nan,
            "incremental_magic_number": (float(p["delta_net_new_arr"].mean()) / sm
                                         if spends else math.nan),
        }


def investment(base, plan) -> InvestmentView:
    """``plan`` against ``base`` (two results of the same seed and replications: ``monthly``,
    ``initial``, ``scenario``) as an investment."""
    bm, pm = base.monthly, plan.monthly
    horizon = int(bm["month"].max())
    if int(pm["month"].max()) != horizon:
        raise ValueError("an investment view needs the same horizon in both plans")
    profit = _by_month(pm, "operating_profit") - _by_month(bm, "operating_profit")
    profit = profit.dropna(how="all")
    reps = profit.index
    cum_profit = profit.cumsum(axis=1)
    cash = (_by_month(pm, "cash_balance") - _by_month(bm, "cash_balance")).reindex(reps)
    opening = (_opening_cash(getattr(plan, "initial", None), reps)
               - _opening_cash(getattr(base, "initial", None), reps)).fillna(0.0)
    level = pd.concat([opening.rename(0), cash], axis=1)
    flows = level.diff(axis=1)
    flows[0] = opening
    rate = float(base.scenario.finance.discount_rate_per_year_frac)

    def total(frame: pd.DataFrame, cols) -> pd.Series:
        return frame.groupby("replication")[list(cols)].sum().sum(axis=1).reindex(reps)

    def net_new_arr(frame: pd.DataFrame) -> pd.Series:
        cols = ["new_arr", "expansion_arr"]
        out = frame.groupby("replication")[cols].sum().sum(axis=1)
        out -= frame.groupby("replication")[["contraction_arr", "churned_arr"]].sum().sum(axis=1)
        return out.reindex(reps)

    months = [payback_month(row) for row in cum_profit.to_numpy(float)]
    per_rep = pd.DataFrame({
        "payback_month": [math.nan if m is None else float(m) for m in months],
        "paid_back": [m is not None for m in months],
        "npv_delta": [npv_of(row, rate) for row in flows.to_numpy(float)],
        "irr_delta": [irr_of(row)[0] for row in flows.to_numpy(float)],
        "delta_operating_profit": cum_profit.iloc[:, -1].to_numpy(float),
        "delta_sm_cost": (total(pm, SM_COLUMNS) - total(bm, SM_COLUMNS)).to_numpy(float),
        "delta_new_customers": (total(pm, ["new_customers"])
                                - total(bm, ["new_customers"])).to_numpy(float),
        "delta_net_new_arr": (net_new_arr(pm) - net_new_arr(bm)).to_numpy(float),
    }, index=reps.rename("replication")).reset_index()
    rows = []
    for measure, frame in (("cum_delta_operating_profit", cum_profit),
                           ("cum_delta_cash", cash)):
        for month in frame.columns:
            v = frame[month].to_numpy(float)
            q, ci = mc.quantiles(v), mc.mean_ci(v)
            rows.append({"month": int(month), "measure": measure, "label": MEASURES[measure],
                         "p10": q["p10"], "p50": q["p50"], "p90": q["p90"], "mean": q["mean"],
                         "ci_low": ci["ci_low"], "ci_high": ci["ci_high"]})
    mean_flows = pd.DataFrame({"month": [int(c) for c in flows.columns],
                               "delta_cash_flow": flows.mean(axis=0).to_numpy(float)})
    return InvestmentView(plan.name, base.name, horizon, rate, per_rep, pd.DataFrame(rows),
                          mean_flows)


def investments(compare_result) -> dict[str, InvestmentView]:
    """Every plan of a comparison against its base: name → view."""
    return {o.name: investment(compare_result.base, o) for o in compare_result.others}


def investment_table(views: dict[str, InvestmentView]) -> pd.DataFrame:
    """One row per plan (:meth:`InvestmentView.summary`)."""
    return pd.DataFrame([v.summary() for v in views.values()])
