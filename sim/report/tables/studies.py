"""Tables of the studies beyond one plan: the sweep's means, the pricing what-if curves and
trade-offs, the sensitivity tornado and the account-plan evaluation."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from sim.kpis import decision_rank, fmt_lever, fmt_usd, fmt_value, short_label
from sim.kpis import label as kpi_label

SWEEP_EXTRA = ("win_rate_frac", "new_arr_per_deal", "avg_discount_frac")


def sweep_means_table(table: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """The grid keys, the mean of each KPI (column named by KPI) and win rate / deal size."""
    kpis = [c.removesuffix("_mean") for c in table.columns if c.endswith("_mean")]
    out = table[[*keys, *(f"{k}_mean" for k in kpis),
                 *(c for c in SWEEP_EXTRA if c in table.columns)]]
    return out.rename(columns={f"{k}_mean": k for k in kpis})



# ---------------------------------------------------------------- pricing what-if


def pricing_curves_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """Long table for the curves: price_change_pct, series (cap), measure, mean, p10, p90,
    peak (the best point of each measure over the whole grid)."""
    parts = []
    for kpi in ("revenue_total", "operating_profit_total"):
        label = short_label(kpi)
        best = sweep[f"{kpi}_mean"].idxmax()
        parts.append(pd.DataFrame({
            "price_change_pct": sweep["price_change_pct"],
            "series": [f"Discount cap {c:.0%}" for c in sweep["discount_cap_frac"]],
            "measure": label, "mean": sweep[f"{kpi}_mean"], "p10": sweep[f"{kpi}_p10"],
            "p90": sweep[f"{kpi}_p90"], "peak": sweep.index == best}))
    return pd.concat(parts, ignore_index=True)


def discount_tradeoff_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """The discount cap's trade-off at today's list price (or the change nearest 0): per cap,
    win rate, average discount off list, new ARR per deal and operating profit."""
    at = sweep.loc[(sweep["price_change_pct"].abs() == sweep["price_change_pct"].abs().min())]
    rows = []
    for r in at.sort_values("discount_cap_frac").itertuples():
        rows.append({"Discount cap": f"{r.discount_cap_frac:.0%}",
                     "List price change": f"{r.price_change_pct:+.0f}%",
                     "Win rate": f"{r.win_rate_frac:.1%}",
                     "Average discount": f"{r.avg_discount_frac:.1%}",
                     "New ARR per deal": f"${r.new_arr_per_deal:,.0f}",
                     "Operating profit (mean)": fmt_usd(r.operating_profit_total_mean)})
    return pd.DataFrame(rows)


def pricing_peaks_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """Where revenue and where operating profit peak on the grid."""
    rows = []
    for kpi in ("revenue_total", "operating_profit_total"):
        label = short_label(kpi)
        r = sweep.loc[sweep[f"{kpi}_mean"].idxmax()]
        rows.append({"Maximises": label, "List price change": f"{r['price_change_pct']:+.0f}%",
                     "Discount cap": f"{r['discount_cap_frac']:.0%}",
                     "Revenue (mean)": fmt_usd(r["revenue_total_mean"]),
                     "Operating profit (mean)": fmt_usd(r["operating_profit_total_mean"]),
                     "Win rate": fmt_value("win_rate_frac", r["win_rate_frac"])})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- sensitivity


def tornado_table(table: pd.DataFrame) -> pd.DataFrame:
    """Long tornado rows from a ``sensitivity()`` table: kpi, lever, side, value, base, swing;
    KPIs in the catalogue's decision order (operating profit first)."""
    rows = []
    table = table.sort_values("kpi", key=lambda k: k.map(decision_rank), kind="stable")
    for r in table.itertuples():
        lever = f"{r.lever} ({fmt_lever(r.base_value)} → {fmt_lever(r.low_value)} / " \
                f"{fmt_lever(r.high_value)})"
        for side, value, vlabel in (("low", r.low, "Lever down"), ("high", r.high, "Lever up")):
            rows.append({"kpi": kpi_label(r.kpi), "lever": lever, "side": side,
                         "side_label": vlabel, "value": float(value), "base": float(r.base),
                         "swing": float(r.swing)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- account plans


ACCOUNT_PLAN_MEASURES = (
    "programme_accounts", "renewal_rate_programme", "renewal_rate_without", "nrr_programme",
    "nrr_without", "new_unit_arr", "programme_cost", "incremental_gross_profit",
    "incremental_operating_profit", "return_on_cost")
"""The measures of ``account_plan_return``, all in the KPI catalogue."""


def account_plan_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The programme evaluation summary with readable labels."""
    t = summary.copy()
    t.insert(0, "label", [kpi_label(m) for m in t["measure"]])
    return t


def account_plan_chart_table(summary: pd.DataFrame) -> pd.DataFrame:
    s = summary.set_index("measure")
    rows = []
    for label, on, off in (("Renewal rate", "renewal_rate_programme", "renewal_rate_without"),
                           ("NRR from entry", "nrr_programme", "nrr_without")):
        for arm, key in (("with programme", on), ("without", off)):
            rows.append({"measure": label, "arm": arm, "mean": s.loc[key, "mean"],
                         "ci_low": s.loc[key, "ci_low"], "ci_high": s.loc[key, "ci_high"]})
    return pd.DataFrame(rows)
