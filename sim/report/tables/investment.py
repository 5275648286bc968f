"""Tables of the investment view (:mod:`sim.analysis.investment`): the cumulative paired
differences per month for the chart, and one row per plan (payback, P(paid back), NPV and IRR
of Δ, incremental CAC and magic number) for the page, the workbook and the CLI."""

from __future__ import annotations

import pandas as pd

from sim.analysis.investment import MEASURES
from sim.experiments.experiment import CompareResult

INVESTMENT_COLUMNS = {
    "scenario": "Plan",
    "payback_month_p50": "Payback month, P50",
    "payback_month_p10": "Payback month, P10",
    "payback_month_p90": "Payback month, P90",
    "prob_paid_back": "P(paid back within the horizon)",
    "prob_paid_back_low": "P(paid back), 95% interval low",
    "prob_paid_back_high": "P(paid back), 95% interval high",
    "npv_delta_mean": "NPV of Δ cash, mean",
    "npv_delta_ci_low": "NPV of Δ cash, 95% interval low",
    "npv_delta_ci_high": "NPV of Δ cash, 95% interval high",
    "npv_delta_p10": "NPV of Δ cash, P10",
    "npv_delta_p90": "NPV of Δ cash, P90",
    "irr_delta_frac": "IRR of Δ cash (a year)",
    "irr_note": "IRR note",
    "discount_rate_frac": "Discount rate (a year)",
    "delta_operating_profit_mean": "Δ operating profit over the horizon, mean",
    "delta_sm_cost_mean": "Δ sales and marketing cost, mean",
    "incremental_cac_usd": "Incremental CAC",
    "incremental_magic_number": "Incremental magic number",
}
"""The investment row's columns as people read them (table order)."""
INVESTMENT_UNITS = {
    "Payback month, P50": "months", "Payback month, P10": "months",
    "Payback month, P90": "months", "IRR of Δ cash (a year)": "pct",
    "Discount rate (a year)": "pct", "Incremental magic number": "ratio",
    **{c: "pct" for c in INVESTMENT_COLUMNS.values() if c.startswith("P(")},
}
"""Number format of each column that is not USD (the workbook's)."""
DEFINITIONS = (
    "Payback month: the first month from which the plan's cumulative operating profit minus "
    "the base's, in the same replication, stays at or above 0 to the end of the horizon (0: "
    "never behind the base); P50 is the first month by which half the replications have paid "
    "back, none (—) when fewer than half do within the horizon. NPV and IRR are of the "
    "monthly differences in cash, discounted at the base's rate, with no value after the "
    "horizon. Incremental CAC: extra sales and marketing cost per extra new customer; "
    "incremental magic number: extra net new ARR per extra dollar of sales and marketing.")
"""What the investment view's numbers mean, under its table."""


def investment_summary_table(cmp: CompareResult) -> pd.DataFrame:
    """One row per plan with readable column names (``INVESTMENT_COLUMNS``)."""
    t = cmp.investment_table()
    if t.empty:
        return pd.DataFrame(columns=list(INVESTMENT_COLUMNS.values()))
    return t[list(INVESTMENT_COLUMNS)].rename(columns=INVESTMENT_COLUMNS)


def investment_bands_table(cmp: CompareResult) -> pd.DataFrame:
    """month, scenario, measure (label), p10, p50, p90, mean, ci_low, ci_high: the cumulative
    Δ operating profit and Δ cash of each plan against the base."""
    parts = [v.monthly.assign(scenario=name) for name, v in cmp.investments().items()]
    if not parts:
        return pd.DataFrame(columns=["month", "scenario", "measure", "p10", "p50", "p90",
                                     "mean", "ci_low", "ci_high"])
    t = pd.concat(parts, ignore_index=True)
    t["measure"] = t["measure"].map(MEASURES)
    return t[["month", "scenario", "measure", "p10", "p50", "p90", "mean", "ci_low",
              "ci_high"]]
