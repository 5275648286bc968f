"""Why a plan wins: the profit bridge, the paired operating-profit difference between a plan
and the base split by driver, in each replication (common random numbers), summing exactly.

Revenue drivers work on ARR-months: ARR booked in plan month k (mid-month on average) earns
revenue for the (H − k + 0.5) months left, so a flow's revenue weight is (H − k + 0.5) / 12.

- volume: new customers (weighted) × the base's new ARR per customer;
- price: the change in new ARR per customer × the plan's new customers, split into list
  price (ARR per deal before discount) and discount (the discount share of list ARR won);
- retention: churned and contracted ARR-months; expansion: expansion ARR-months;
- timing: revenue recognised within months, which the mid-month convention leaves over
  (the residual that makes revenue exact; small);
- costs: each cost line of the income statement, with a minus sign (more cost, less profit).

The lines sum to the operating-profit difference in every replication (``check_sums``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.analysis import stats as mc
from sim.analysis.statements import income_statement

DRIVERS = {
    "volume": "Volume (new customers won)",
    "price_list": "Price: list ARR per deal",
    "price_discount": "Price: discount",
    "retention_churn": "Retention: churn",
    "retention_contraction": "Retention: contraction",
    "expansion": "Expansion",
    "timing": "Timing of revenue within months",
    "marketing": "Marketing programmes",
    "sales": "Sales (team and commissions)",
    "customer_success": "Customer success and onboarding",
    "partners": "Partners (programme and commissions)",
    "cogs": "Cost of revenue",
    "other": "Management and fixed opex",
}
COST_DRIVERS = {
    "marketing": ("marketing_programmes",),
    "sales": ("sales_salaries", "sales_commissions"),
    "customer_success": ("customer_success",),
    "partners": ("partner_programme", "partner_commissions"),
    "cogs": ("cogs",),
    "other": ("other_opex",),
}


def _weights(month: pd.Series, horizon: int) -> np.ndarray:
    return (horizon - month.to_numpy(float) + 0.5) / 12.0


def _revenue_parts(monthly: pd.DataFrame, horizon: int) -> dict[str, float]:
    m = monthly.sort_values("month")
    w = _weights(m["month"], horizon)
    list_won, discount = float(m["list_arr_won"].sum()), float(m["discount_usd"].sum())
    return {
        "customers": float((m["new_customers"].to_numpy(float) * w).sum()),
        "new": float((m["new_arr"].to_numpy(float) * w).sum()),
        "discount_frac": discount / list_won if list_won > 0 else math.nan,
        "expansion": float((m["expansion_arr"].to_numpy(float) * w).sum()),
        "churn": float((m["churned_arr"].to_numpy(float) * w).sum()),
        "contraction": float((m["contraction_arr"].to_numpy(float) * w).sum()),
        "revenue": float(m["revenue"].sum()),
    }


def bridge_one(base_monthly: pd.DataFrame, plan_monthly: pd.DataFrame, base_scenario,
               plan_scenario) -> dict[str, float]:
    """The bridge of one replication: driver → contribution to Δ operating profit (USD)."""
    horizon = int(base_monthly["month"].max())
    if int(plan_monthly["month"].max()) != horizon:
        raise ValueError("a profit bridge needs the same horizon in both plans")
    b, p = _revenue_parts(base_monthly, horizon), _revenue_parts(plan_monthly, horizon)
    out: dict[str, float] = {}
    if b["customers"] > 0 and p["customers"] > 0:
        price_b, price_p = b["new"] / b["customers"], p["new"] / p["customers"]
        out["volume"] = (p["customers"] - b["customers"]) * price_b
        d_b, d_p = b["discount_frac"], p["discount_frac"]
        if math.isnan(d_b) or math.isnan(d_p) or d_b >= 1 or d_p >= 1:
            out["price_list"], out["price_discount"] = p["customers"] * (price_p - price_b), 0.0
        else:
            list_b, list_p = price_b / (1 - d_b), price_p / (1 - d_p)
            out["price_list"] = p["customers"] * (list_p - list_b) * (1 - d_b)
            out["price_discount"] = p["customers"] * list_p * (d_b - d_p)
    else:  # no new customers on one side: all of it is volume
        out["volume"], out["price_list"], out["price_discount"] = p["new"] - b["new"], 0.0, 0.0
    out["retention_churn"] = -(p["churn"] - b["churn"])
    out["retention_contraction"] = -(p["contraction"] - b["contraction"])
    out["expansion"] = p["expansion"] - b["expansion"]
    explained = sum(out.values())
    out["timing"] = (p["revenue"] - b["revenue"]) - explained
    inc_b = income_statement(base_monthly, base_scenario).sum()
    inc_p = income_statement(plan_monthly, plan_scenario).sum()
    for driver, lines in COST_DRIVERS.items():
        out[driver] = -float(sum(inc_p[line] - inc_b[line] for line in lines))
    out["total"] = float(inc_p["operating_profit"] - inc_b["operating_profit"])
    return {k: out[k] for k in (*DRIVERS, "total")}


def profit_bridge(base, plan) -> pd.DataFrame:
    """Per replication (rows) and driver (columns, plus ``total``): the paired operating-
    profit difference of ``plan`` against ``base`` (two ExperimentResults, same seeds)."""
    rows = []
    pm = dict(iter(plan.monthly.groupby("replication", sort=True)))
    for r, bm in base.monthly.groupby("replication", sort=True):
        if r not in pm:
            continue
        rows.append({"replication": int(r),
                     **bridge_one(bm, pm[r], base.scenario, plan.scenario)})
    return pd.DataFrame(rows).set_index("replication")


def bridge_summary(per_rep: pd.DataFrame) -> pd.DataFrame:
    """Mean contribution of each driver with its 95% t interval, in waterfall order, and the
    total (Δ operating profit) last."""
    rows = []
    for driver in (*DRIVERS, "total"):
        ci = mc.mean_ci(per_rep[driver])
        rows.append({"driver": driver,
                     "label": DRIVERS.get(driver, "Operating profit difference"),
                     "mean": ci["mean"], "ci_low": ci["ci_low"], "ci_high": ci["ci_high"]})
    return pd.DataFrame(rows)


def check_sums(per_rep: pd.DataFrame) -> float:
    """Largest |Σ drivers − total| across replications, relative to the largest |total|
    (and at least 1 USD): zero up to float rounding."""
    gap = (per_rep[list(DRIVERS)].sum(axis=1) - per_rep["total"]).abs().max()
    scale = max(1.0, float(per_rep["total"].abs().max()))
    return float(gap / scale)


def bridges(compare_result) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Every plan of a comparison: name → (per-replication bridge, summary)."""
    out = {}
    for other in compare_result.others:
        per_rep = profit_bridge(compare_result.base, other)
        out[other.name] = (per_rep, bridge_summary(per_rep))
    return out
