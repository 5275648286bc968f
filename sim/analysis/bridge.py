"""Why a plan wins: the profit bridge, the paired operating-profit difference between a plan
and the base split into price-volume-mix lines, in each replication (common random numbers),
summing exactly.

Revenue lines work on ARR-months: ARR booked in plan month k (mid-month on average) earns
revenue for the (H − k + 0.5) months left, so a flow's weight is w_k = (H − k + 0.5) / 12.
Below, n is new customers and A their new ARR, both weighted; an apostrophe marks the plan.

New logos (the standard price-volume-mix order: volume at base mix and base price, mix at
the plan's volume and base prices, price at the plan's volume and mix):

- volume: (N' − N) · P̄, with N = Σ_s n_s and P̄ = A / N the base's ARR per new customer;
- mix: N' · Σ_s (w'_s − w_s) · p_s, with w_s = n_s / N the segment shares and p_s = A_s / n_s
  the base's ARR per new customer of segment s (a segment the base did not sell is valued
  at the plan's price: its customers are all mix). It is split into
  - channel mix: the same formula on the channel table (shares v_c and ARR per customer q_c
    of each channel at base), capped to the mix (same sign, no larger): the part of the mix
    a shift between channels carries (the channel table cannot tell how a channel's deals
    split by segment, and deals are priced by segment, so more is not attributable);
  - segment mix: the rest;
- price: Σ_s n'_s · (p'_s − p_s), with p_s = ℓ_s · (1 − d_s) (ℓ_s list ARR per deal, d_s the
  discount share of list ARR), split into
  - list price: Σ_s n'_s · (ℓ'_s − ℓ_s) · (1 − d_s);
  - discount: Σ_s n'_s · ℓ'_s · (d_s − d'_s).

Installed base:

- repricing at renewal: the price steps booked at renewals (the escalator, and an installed
  account's step toward a new list price), ``repricing_arr`` of the channel table;
- expansion: expansion ARR less that repricing (more seats);
- churn, split into rate and volume with E the ARR at risk (each month's opening ARR,
  weighted) and r = C / E the churn rate (C churned ARR, weighted):
  - churn, volume: −(E' − E) · r (more ARR at risk churns more dollars at the same rate);
  - churn, rate: −E' · (r' − r) (a better or worse rate on the plan's ARR at risk);
- contraction: −(contraction' − contraction);
- timing: revenue recognised within months, which the mid-month convention leaves over
  (the residual that makes revenue exact; small).

Costs: each line of the income statement (``sim.analysis.statements.INCOME_LINES``), with a
minus sign (more cost, less profit).

The lines sum to the operating-profit difference in every replication (``check_sums``):
volume + mix + price = A' − A exactly, the other revenue lines are differences, timing
closes revenue, and the cost lines are the statement's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis import stats as mc
from sim.analysis.statements import EXPENSE_LINES, INCOME_LINES, income_statement

REVENUE_DRIVERS = {
    "volume": "New-logo volume (more or fewer customers won)",
    "segment_mix": "Segment mix of new customers",
    "channel_mix": "Channel mix of new customers",
    "price_list": "List price of new deals",
    "price_discount": "Discount on new deals",
    "repricing": "Installed-base repricing at renewal (price steps, uplift)",
    "expansion": "Expansion (more seats)",
    "churn_rate": "Churn: rate (share of ARR at risk lost)",
    "churn_volume": "Churn: volume (more or less ARR at risk)",
    "contraction": "Contraction",
    "timing": "Timing of revenue within months",
}
COST_DRIVERS = {line: f"{INCOME_LINES[line]} (cost)" for line in ("cogs", *EXPENSE_LINES)}
"""Each cost line of the income statement, labelled as the statement labels it."""
DRIVERS = {**REVENUE_DRIVERS, **COST_DRIVERS}
"""Every line of the bridge in waterfall order (revenue lines, then the cost lines)."""
TOTAL_LABEL = "Operating profit difference"


@dataclass(frozen=True)
class Tables:
    """One replication's tables the bridge reads: monthly, by segment and by channel."""

    monthly: pd.DataFrame
    by_segment: pd.DataFrame
    by_channel: pd.DataFrame


def _weights(month, horizon: int) -> np.ndarray:
    return (horizon - np.asarray(month, dtype=float) + 0.5) / 12.0


def _weighted(frame: pd.DataFrame, key: str, cols: tuple[str, ...],
              horizon: int) -> pd.DataFrame:
    """Σ_k column_k · w_k per value of ``key``."""
    w = _weights(frame["month"], horizon)
    out = pd.DataFrame({c: frame[c].to_numpy(float) * w for c in cols})
    out[key] = frame[key].to_numpy()
    return out.groupby(key, sort=True)[list(cols)].sum()


def _mix_effect(base: pd.DataFrame, plan: pd.DataFrame) -> float:
    """N' · Σ (w' − w) · p at base prices (p from the plan where the base sold none);
    ``base``/``plan``: columns n (customers) and a (ARR), one row per group."""
    idx = base.index.union(plan.index)
    b, p = base.reindex(idx, fill_value=0.0), plan.reindex(idx, fill_value=0.0)
    n_b, n_p = float(b["n"].sum()), float(p["n"].sum())
    if n_b <= 0 or n_p <= 0:
        return 0.0
    price_p = np.where(p["n"] > 0, p["a"] / p["n"].where(p["n"] > 0, 1.0), 0.0)
    price = np.where(b["n"] > 0, b["a"] / b["n"].where(b["n"] > 0, 1.0), price_p)
    return float((p["n"].to_numpy() * price).sum() - n_p * b["a"].sum() / n_b)


def new_logo_lines(base_seg: pd.DataFrame, plan_seg: pd.DataFrame, base_ch: pd.DataFrame,
                   plan_ch: pd.DataFrame) -> dict[str, float]:
    """Volume, segment and channel mix, list price and discount of the new-logo ARR-months.
    ``*_seg``: per segment, ``*_ch``: per channel; columns n (new customers), a (new ARR),
    ell (list ARR), all weighted. The five lines sum to Σ a' − Σ a."""
    out = dict.fromkeys(("volume", "segment_mix", "channel_mix", "price_list",
                         "price_discount"), 0.0)
    n_b, n_p = float(base_seg["n"].sum()), float(plan_seg["n"].sum())
    a_b, a_p = float(base_seg["a"].sum()), float(plan_seg["a"].sum())
    if n_b <= 0 or n_p <= 0:  # no new customers on one side: all of it is volume
        out["volume"] = a_p - a_b
        return out
    out["volume"] = (n_p - n_b) * a_b / n_b
    mix = _mix_effect(base_seg, plan_seg)
    channel = _mix_effect(base_ch, plan_ch)
    channel = min(max(channel, min(0.0, mix)), max(0.0, mix))
    out["channel_mix"], out["segment_mix"] = channel, mix - channel
    for seg, p in plan_seg.iterrows():
        if p["n"] <= 0:
            continue
        b = base_seg.loc[seg] if seg in base_seg.index else None
        if b is None or b["n"] <= 0:
            continue  # valued at the plan's own price in the mix: no price effect
        price_b, price_p = b["a"] / b["n"], p["a"] / p["n"]
        if b["ell"] > 0 and p["ell"] > 0:
            list_b, list_p = b["ell"] / b["n"], p["ell"] / p["n"]
            d_b, d_p = 1 - b["a"] / b["ell"], 1 - p["a"] / p["ell"]
            out["price_list"] += p["n"] * (list_p - list_b) * (1 - d_b)
            out["price_discount"] += p["n"] * list_p * (d_b - d_p)
        else:
            out["price_list"] += p["n"] * (price_p - price_b)
    return out


def _new_by(frame: pd.DataFrame, key: str, horizon: int) -> pd.DataFrame:
    t = _weighted(frame, key, ("new_customers", "new_arr", "list_arr_won"), horizon)
    return t.rename(columns={"new_customers": "n", "new_arr": "a", "list_arr_won": "ell"})


def _retention(monthly: pd.DataFrame, horizon: int) -> dict[str, float]:
    m = monthly.sort_values("month")
    w = _weights(m["month"], horizon)
    col = {c: m[c].to_numpy(float) for c in ("arr", "new_arr", "expansion_arr",
                                              "contraction_arr", "churned_arr")}
    opening = (col["arr"] - col["new_arr"] - col["expansion_arr"] + col["contraction_arr"]
               + col["churned_arr"])
    return {"at_risk": float((opening * w).sum()), "churn": float((col["churned_arr"] * w).sum()),
            "contraction": float((col["contraction_arr"] * w).sum()),
            "expansion": float((col["expansion_arr"] * w).sum())}


def _repricing(by_channel: pd.DataFrame, horizon: int) -> float:
    if "repricing_arr" not in by_channel.columns:  # results saved before it was recorded
        return 0.0
    w = _weights(by_channel["month"], horizon)
    return float((by_channel["repricing_arr"].to_numpy(float) * w).sum())


def churn_lines(base_at_risk: float, base_churn: float, plan_at_risk: float,
                plan_churn: float) -> tuple[float, float]:
    """(rate, volume) contributions to profit of a change in churned ARR: volume at the base
    rate, rate on the plan's ARR at risk; they sum to −(plan_churn − base_churn)."""
    if base_at_risk <= 0:
        return -(plan_churn - base_churn), 0.0
    rate = base_churn / base_at_risk
    volume = -(plan_at_risk - base_at_risk) * rate
    return -(plan_churn - base_churn) - volume, volume


def bridge_one(base: Tables, plan: Tables, base_scenario, plan_scenario) -> dict[str, float]:
    """The bridge of one replication: line → contribution to Δ operating profit (USD)."""
    horizon = int(base.monthly["month"].max())
    if int(plan.monthly["month"].max()) != horizon:
        raise ValueError("a profit bridge needs the same horizon in both plans")
    out = new_logo_lines(_new_by(base.by_segment, "segment", horizon),
                         _new_by(plan.by_segment, "segment", horizon),
                         _new_by(base.by_channel, "channel", horizon),
                         _new_by(plan.by_channel, "channel", horizon))
    rb, rp = _retention(base.monthly, horizon), _retention(plan.monthly, horizon)
    rep_b, rep_p = _repricing(base.by_channel, horizon), _repricing(plan.by_channel, horizon)
    out["repricing"] = rep_p - rep_b
    out["expansion"] = (rp["expansion"] - rep_p) - (rb["expansion"] - rep_b)
    out["churn_rate"], out["churn_volume"] = churn_lines(rb["at_risk"], rb["churn"],
                                                         rp["at_risk"], rp["churn"])
    out["contraction"] = -(rp["contraction"] - rb["contraction"])
    inc_b = income_statement(base.monthly, base_scenario).sum()
    inc_p = income_statement(plan.monthly, plan_scenario).sum()
    out["timing"] = float(inc_p["revenue"] - inc_b["revenue"]) - sum(out.values())
    for line in COST_DRIVERS:
        out[line] = -float(inc_p[line] - inc_b[line])
    out["total"] = float(inc_p["operating_profit"] - inc_b["operating_profit"])
    return {k: out[k] for k in (*DRIVERS, "total")}


def _tables(result) -> dict[int, Tables]:
    def split(frame):
        if frame is None or frame.empty or "replication" not in frame.columns:
            return {}
        return dict(iter(frame.groupby("replication", sort=True)))

    seg, ch = split(result.by_segment), split(result.by_channel)
    empty = pd.DataFrame(columns=["month", "segment", "channel", "new_customers", "new_arr",
                                  "list_arr_won"])
    return {int(r): Tables(m, seg.get(r, empty), ch.get(r, empty))
            for r, m in result.monthly.groupby("replication", sort=True)}


def profit_bridge(base, plan) -> pd.DataFrame:
    """Per replication (rows) and line (columns, plus ``total``): the paired operating-
    profit difference of ``plan`` against ``base`` (two ExperimentResults, same seeds)."""
    rows = []
    tb, tp = _tables(base), _tables(plan)
    for r, b in tb.items():
        if r not in tp:
            continue
        rows.append({"replication": r, **bridge_one(b, tp[r], base.scenario, plan.scenario)})
    return pd.DataFrame(rows).set_index("replication")


def bridge_summary(per_rep: pd.DataFrame) -> pd.DataFrame:
    """Mean contribution of each line with its 95% t interval, in waterfall order, and the
    total (Δ operating profit) last."""
    rows = []
    for driver in (*DRIVERS, "total"):
        ci = mc.mean_ci(per_rep[driver])
        rows.append({"driver": driver, "label": DRIVERS.get(driver, TOTAL_LABEL),
                     "mean": ci["mean"], "ci_low": ci["ci_low"], "ci_high": ci["ci_high"]})
    return pd.DataFrame(rows)


def check_sums(per_rep: pd.DataFrame) -> float:
    """Largest |Σ lines − total| across replications, relative to the largest |total|
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
