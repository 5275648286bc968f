"""The plan's fan against the actual months (mid-rank percentile ranks, outside P10–P90) and
the probability of each target at plan and given the months so far."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis import metrics
from sim.analysis import stats as mc
from sim.analysis.targets import target_attainment
from sim.track.actuals import Actuals

STATUS_OPEN, STATUS_DECIDED, STATUS_NONE = ("open", "decided by actuals", "not computable")


# ---------------------------------------------------------------- fan and ranks


def percentile_rank(values, x: float) -> float:
    """Percentile rank (0–1) of ``x`` among ``values`` with the mid-rank convention: the
    share of values below ``x`` plus half the share equal to it (NaN values dropped)."""
    from scipy.stats import percentileofscore

    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if not len(v) or math.isnan(x):
        return math.nan
    return float(percentileofscore(v, x, kind="mean")) / 100.0


def track_table(plan_monthly: pd.DataFrame, actuals: Actuals) -> pd.DataFrame:
    """Month × metric: the actual, the plan's P10/P50/P90 of that month across replications,
    the actual's percentile rank and whether it lies outside P10–P90."""
    bands = metrics.quantile_bands(plan_monthly, actuals.metrics, by="month")
    bands = bands.set_index(["month", "measure"])
    groups = {m: g for m, g in plan_monthly.groupby("month")}
    rows = []
    for metric in actuals.metrics:
        for month, value in actuals.frame[metric].items():
            if math.isnan(value):
                continue
            b = bands.loc[(month, metric)]
            rank = percentile_rank(groups[month][metric], value)
            side = "below" if value < b["p10"] else "above" if value > b["p90"] else "inside"
            rows.append({"month": int(month), "month_label": actuals.label(int(month)),
                         "metric": metric, "actual": float(value), "p10": float(b["p10"]),
                         "p50": float(b["p50"]), "p90": float(b["p90"]),
                         "percentile_rank": rank, "outside_p10_p90": side != "inside",
                         "side": side, "replications": int(groups[month][metric].notna().sum())})
    cols = ["month", "month_label", "metric", "actual", "p10", "p50", "p90", "percentile_rank",
            "outside_p10_p90", "side", "replications"]
    return pd.DataFrame(rows, columns=cols)


def metric_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per metric: months compared, months outside P10–P90 (below, above) and their share,
    the mean percentile rank and the last month's actual, P50 and rank."""
    rows = []
    for metric, g in table.groupby("metric", sort=False):
        last = g.iloc[-1]
        rows.append({"metric": metric, "months": len(g),
                     "outside": int(g["outside_p10_p90"].sum()),
                     "below": int((g["side"] == "below").sum()),
                     "above": int((g["side"] == "above").sum()),
                     "outside_share": float(g["outside_p10_p90"].mean()),
                     "mean_rank": float(g["percentile_rank"].mean()),
                     "last_month": last["month_label"], "last_actual": last["actual"],
                     "last_p50": last["p50"], "last_rank": last["percentile_rank"]})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- targets


FLOW_COLUMNS = {
    "revenue": ("revenue",),
    "operating_profit": ("operating_profit",),
    "net_new_arr": ("new_arr", "expansion_arr", "contraction_arr", "churned_arr"),
}


def _window(year: int | None, horizon: int) -> list[int]:
    if year is None:
        return list(range(1, horizon + 1))
    return [k for k in range(12 * (year - 1) + 1, 12 * year + 1) if k <= horizon]


def _actual_part(target: dict, actuals: Actuals, months: list[int]) -> tuple[float, str | None]:
    """The actual months' contribution to a target's value (sum, last stock or floor), or
    NaN and the reason it cannot be computed."""
    metric = target["metric"]
    if not months:
        return math.nan, None
    if metric in FLOW_COLUMNS:
        cols = FLOW_COLUMNS[metric]
    elif metric == "ending_arr":
        cols, months = ("arr",), months[-1:]
    else:
        cols = ("cash_balance",)
    for c in cols:
        for k in months:
            if math.isnan(actuals.value(c, k)):
                return math.nan, f"the actuals have no {c} for {actuals.label(k)}"
    f = actuals.frame.loc[months]
    if metric == "net_new_arr":
        return float((f["new_arr"] + f["expansion_arr"] - f["contraction_arr"]
                      - f["churned_arr"]).sum()), None
    if metric in FLOW_COLUMNS:
        return float(f[metric].sum()), None
    if metric == "ending_arr":
        return float(f["arr"].iloc[-1]), None
    return float(f["cash_balance"].min()), None


def _sim_part(metric: str, monthly: pd.DataFrame) -> float:
    """A replication's contribution over its months (``monthly`` already cut)."""
    if metric == "net_new_arr":
        return float(metrics._net_new_arr(monthly).sum())
    if metric in FLOW_COLUMNS:
        return float(monthly[metric].sum())
    if metric == "ending_arr":
        return float(monthly["arr"].iloc[-1])
    return float(monthly["cash_balance"].min())


def _combine(metric: str, a: float, s: float, has_actual: bool, has_sim: bool) -> float:
    if not has_actual:
        return s
    if not has_sim:
        return a
    if metric == "ending_arr":
        return s
    if metric == "cash_floor":
        return min(a, s)
    return a + s


def _hit(value: float, op: str, target: float) -> bool:
    return not math.isnan(value) and (value >= target if op == ">=" else value <= target)


@dataclass
class TargetPlan:
    """What happens to one plan target in the re-forecast scenario."""

    target: dict
    shifted: dict | None
    note: str


JOINT_NOTE = ("dropped: a joint target (all:) is not tracked against actuals; list its "
              "members as targets of their own to track each")


def shift_targets(targets: Sequence[dict], actuals: Actuals, horizon: int) -> list[TargetPlan]:
    """Each plan target cut to the months after the last actual month, where that is well
    defined in the re-forecast's own plan years (which start at plan month m + 1)."""
    m = actuals.last_month
    aligned = m % 12 == 0
    out = []
    for t in targets:
        if t.get("all"):
            out.append(TargetPlan(target=dict(t), shifted=None, note=JOINT_NOTE))
            continue
        metric, year = t["metric"], t.get("year")
        window = _window(year, horizon)
        new = None
        if not window:
            note = f"dropped: plan year {year} is beyond the plan's {horizon} months"
        elif window[-1] <= m:
            part, why = _actual_part(t, actuals, window) if metric not in ("nrr", "grr") \
                else (math.nan, "monthly actuals carry no cohorts")
            state = ("met" if _hit(part, t["op"], t["value"]) else "missed") if why is None \
                else f"not measurable ({why})"
            note = f"dropped: plan year {year} is over ({state} by the actuals)"
        elif year is not None:
            if aligned:
                new = {**t, "year": year - m // 12}
                note = f"plan year {year} = re-forecast year {year - m // 12}"
            else:
                note = (f"dropped: plan year {year} (plan months {window[0]}-{window[-1]}) does "
                        f"not fall on the re-forecast's years, which start at plan month "
                        f"{m + 1}; its probability given the actuals is in targets.csv")
        elif metric in FLOW_COLUMNS:
            part, why = _actual_part(t, actuals, list(range(1, m + 1)))
            if why is None:
                new = {**t, "value": float(t["value"] - part)}
                note = (f"whole horizon: plan value {t['value']:,.0f} minus the actual months' "
                        f"{part:,.0f}")
            else:
                note = f"dropped: the rest of the horizon is not known ({why})"
        elif metric == "ending_arr":
            new = dict(t)
            note = "whole horizon: the horizon ends in the same month"
        elif metric == "cash_floor":
            new = dict(t)
            part, why = _actual_part(t, actuals, list(range(1, m + 1)))
            note = "whole horizon: the remaining months" + (
                f"; the actual months' lowest balance {part:,.0f} "
                f"{'meets' if _hit(part, t['op'], t['value']) else 'misses'} it"
                if why is None else "")
        elif aligned:
            new = dict(t)
            note = "whole horizon (last full year): the same plan year"
        else:
            note = (f"dropped: the last full year of the plan does not fall on the "
                    f"re-forecast's years, which start at plan month {m + 1}")
        out.append(TargetPlan(target=dict(t), shifted=new, note=note))
    return out


def target_table(plan_result, refc_result, actuals: Actuals, plans: list[TargetPlan]
                 ) -> pd.DataFrame:
    """Per plan target: the probability at plan and given the actual months so far (see
    ``PROBABILITY_METHOD``), each with its 95% Wilson interval."""
    horizon = plan_result.scenario.horizon_months
    m = actuals.last_month
    at_plan = plan_result.target_summary
    reps = sorted(refc_result.monthly["replication"].unique()) if refc_result is not None else []
    by_rep = {r: g.sort_values("month") for r, g in refc_result.monthly.groupby("replication")} \
        if refc_result is not None else {}
    at_plan_rows = {_key(r["name"], r["metric"], r["year"], r["op"], r["target"]): r
                    for _, r in at_plan.iterrows()}
    rows = []
    for tp in plans:
        t = tp.target
        if t.get("all"):
            rows.append({"target": t["name"], "metric": "all", "year": None, "op": "all",
                         "value": math.nan, "status": STATUS_NONE, "note": JOINT_NOTE,
                         "in_reforecast": tp.note})
            continue
        plan_row = at_plan_rows.get(_key(t["name"], t["metric"], t.get("year"), t["op"],
                                         t["value"]))
        row = {"target": t["name"], "metric": t["metric"], "year": t.get("year"), "op": t["op"],
               "value": float(t["value"]),
               "probability_at_plan": _get(plan_row, "probability"),
               "at_plan_low": _get(plan_row, "probability_low"),
               "at_plan_high": _get(plan_row, "probability_high"),
               "plan_replications": int(_get(plan_row, "replications", 0) or 0)}
        window = _window(t.get("year"), horizon)
        status, p, low, high, n, note = STATUS_NONE, math.nan, math.nan, math.nan, 0, ""
        if not window:
            note = f"plan year {t.get('year')} is beyond the plan's {horizon} months"
        elif t["metric"] in ("nrr", "grr"):
            if window[-1] <= m:
                note = "a past plan year: monthly actuals carry no cohorts to measure it"
            elif tp.shifted is not None and refc_result is not None:
                hits = []
                for r in reps:
                    att = target_attainment(
                        by_rep[r].drop(columns="replication"), _rep(refc_result.cohorts, r),
                        _initial(refc_result.initial, r), [tp.shifted])
                    hits.append(bool(att["hit"].iloc[0]))
                ci = mc.proportion_ci(sum(hits), len(hits))
                status, p, low, high, n = STATUS_OPEN, ci["p"], ci["ci_low"], ci["ci_high"], \
                    len(hits)
                note = "measured on the re-forecast's own cohorts (" + tp.note + ")"
            else:
                note = ("NRR and GRR need the cohorts of a whole plan year; the actual months "
                        "end mid-year")
        else:
            act_months = [k for k in window if k <= m]
            sim_months = [k for k in window if k > m]
            part, why = _actual_part(t, actuals, act_months)
            if why is not None:
                note = why
            elif not sim_months:
                hit = _hit(part, t["op"], t["value"])
                status, p, low, high = STATUS_DECIDED, float(hit), float(hit), float(hit)
                note = f"actual {part:,.0f}"
            elif refc_result is not None:
                hits = []
                for r in reps:
                    g = by_rep[r]
                    cut = g[(g["month"] + m).isin(sim_months)]
                    value = _combine(t["metric"], part, _sim_part(t["metric"], cut),
                                     bool(act_months), True)
                    hits.append(_hit(value, t["op"], t["value"]))
                ci = mc.proportion_ci(sum(hits), len(hits))
                status, p, low, high, n = STATUS_OPEN, ci["p"], ci["ci_low"], ci["ci_high"], \
                    len(hits)
                note = (f"actual months {actuals.label(act_months[0])} – "
                        f"{actuals.label(act_months[-1])}: {part:,.0f}; then re-forecast"
                        if act_months else "all months still ahead: re-forecast")
        row.update({"probability_given_actuals": p, "given_actuals_low": low,
                    "given_actuals_high": high, "reforecast_replications": n, "status": status,
                    "note": note, "in_reforecast": tp.note})
        rows.append(row)
    cols = ["target", "metric", "year", "op", "value", "probability_at_plan", "at_plan_low",
            "at_plan_high", "plan_replications", "probability_given_actuals",
            "given_actuals_low", "given_actuals_high", "reforecast_replications", "status",
            "note", "in_reforecast"]
    out = pd.DataFrame(rows, columns=cols)
    out["year"] = out["year"].astype("Int64")
    return out


def _key(name, metric, year, op, value) -> tuple:
    return (str(name), str(metric), None if pd.isna(year) else int(year), str(op),
            float(value))


def _get(row, key, default=math.nan):
    if row is None:
        return default
    v = row[key]
    return default if v is None else float(v)


def _rep(frame: pd.DataFrame, r: int) -> pd.DataFrame:
    return frame[frame["replication"] == r].drop(columns="replication")


def _initial(initial: pd.DataFrame, r: int) -> dict:
    row = initial[initial["replication"] == r].iloc[0].to_dict()
    row.pop("replication", None)
    return row
