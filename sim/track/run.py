"""``revsim track``: the plan against the company's actual months, and a re-forecast.

The plan's replications give each month's fan (P10/P50/P90). Each actual month gets its
percentile rank within the plan's replications of that month, with the mid-rank convention
for ties (``scipy.stats.percentileofscore(kind="mean")``: share below plus half the share
equal), and a flag when it lies outside P10–P90.

The re-forecast starts from the state at the last actual month: a scenario that ``extends``
the plan (installed customers and their prices set to the actual customers and ARR, cash to
the actual balance, the calendar moved on, the remaining months, the plan's time steps
shifted, the targets cut to the remaining part where that is well defined), written with a
comment on every changed value. Its replications give the probability of each target given
the months so far: each replication's path is the actual months 1..m followed by its own
months m+1..H, and the target is measured on it as :mod:`sim.analysis.metrics` measures it on a plan.

Months are matched through the scenario's ``calendar``; without one, plan month 1 is
``--start-month`` or else the first month of the actuals file.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import metrics
from sim.analysis import stats as mc
from sim.errors import InputError, one_line
from sim.scenario.calendar import MONTH_NAMES

TRACKABLE = (
    "customers", "new_customers", "churned_customers", "arr", "new_arr", "expansion_arr",
    "contraction_arr", "churned_arr", "revenue", "billings", "cash_collected", "cogs",
    "marketing_cost", "sales_cost", "sales_commission", "customer_success_cost", "partner_cost",
    "other_opex", "gross_profit", "total_cost", "operating_profit", "cash_balance",
    "deferred_revenue", "accounts_receivable", "leads", "opportunities", "deals_won",
    "deals_lost", "deals_lost_price", "leads_lost_waiting", "list_arr_won", "discount_usd",
    "sales_cycle_days_sum", "new_unit_arr", "new_unit_deals", "account_plan_cost",
    "ae_utilization", "ae_wait_days", "onboarding_utilization", "onboarding_wait_days",
    "onboardings_started", "ae_starts", "ae_wait_days_total", "ae_starts_waited",
    "onboarding_wait_days_total", "onboardings_waited", "headcount_ae", "headcount_sdr",
    "headcount_csm", "headcount_onboarding", "headcount_management", "ae_capacity_slots",
    "active_partners", "cs_coverage_factor",
)
"""The engine's monthly columns (``SimulationResult.monthly``) an actuals file may hold."""
NON_NEGATIVE = ("customers", "new_customers", "churned_customers", "arr", "new_arr",
                "expansion_arr", "contraction_arr", "churned_arr")
ORDER = ("revenue", "arr", "customers", "new_arr", "expansion_arr", "contraction_arr",
         "churned_arr", "operating_profit", "cash_balance")
"""Metrics shown first (the others follow in the file's order)."""
BAND = (0.1, 0.9)
SEATS_DRAWS = 200_000
"""Draws (fixed seed) for the expected seats of an installed account: max(1, round(seats))."""
STATUS_OPEN, STATUS_DECIDED, STATUS_NONE = ("open", "decided by actuals", "not computable")


# ---------------------------------------------------------------- months


def _period(text: str) -> int:
    year, month = (int(x) for x in text.split("-")[:2])
    return year * 12 + month - 1


def period_label(period: int) -> str:
    year, month = divmod(period, 12)
    return f"{MONTH_NAMES[month]} {year}"


def period_text(period: int) -> str:
    year, month = divmod(period, 12)
    return f"{year:04d}-{month + 1:02d}"


# ---------------------------------------------------------------- actuals


@dataclass
class Actuals:
    """Actual months matched to plan months."""

    frame: pd.DataFrame
    """Index: plan month; one float column per metric (NaN: not reported that month)."""
    metrics: list[str]
    ignored: list[str]
    matched: str
    """How months were matched to plan months, as a sentence."""
    start_period: int
    """Calendar month of plan month 1 (year * 12 + month - 1)."""
    path: str

    @property
    def last_month(self) -> int:
        return int(self.frame.index.max())

    def label(self, month: int) -> str:
        return period_label(self.start_period + month - 1)

    def value(self, metric: str, month: int) -> float:
        if metric not in self.frame.columns or month not in self.frame.index:
            return math.nan
        return float(self.frame.at[month, metric])


def _metric_columns(names: Sequence[str]):
    from sim.calibrate.schemas import _col, pa

    out = {}
    for name in names:
        checks = [pa.Check.le(1e15, error="must be <= 1e15"),
                  pa.Check.ge(-1e15, error="must be >= -1e15")]
        if name in NON_NEGATIVE:
            checks.append(pa.Check.ge(0, error="must be >= 0"))
        out[name] = _col(float, nullable=True, required=False, checks=checks)
    return out


def read_actuals(path: str | Path, scenario, start_month: str | None = None,
                 through: str | None = None) -> Actuals:
    """Read and validate an actuals file (pandera; one line per problem) and match its months
    to the plan's: the scenario's calendar, else ``start_month``, else the first month given.
    ``through`` (YYYY-MM) keeps the months up to it."""
    from sim.calibrate.schemas import header_check, read_table, validate
    from sim.outputs.escape import inline_text

    path = Path(path)
    shown = inline_text(path)
    for flag, text in (("--start-month", start_month), ("--through", through)):
        if text is not None and not _is_month(text):
            raise InputError(f"{flag}: expected a month as YYYY-MM (got {one_line(text, 40)!r})")
    raw = read_table(path, header_check("actuals", list(scenario.segments), shown))
    known = [c for c in raw.columns if c in TRACKABLE]
    ignored = [c for c in raw.columns if c != "month" and c not in TRACKABLE]
    df = validate(raw, "actuals", list(scenario.segments), shown, _metric_columns(known))
    if not known:
        raise InputError(f"{shown}: no column the engine reports monthly (e.g. revenue, arr, "
                         f"customers, cash_balance); columns are "
                         f"{one_line(', '.join(map(str, raw.columns)), 200)}")
    if df.empty:
        raise InputError(f"{shown}: no rows")
    problems = []
    dates = pd.DatetimeIndex(df["month"])
    periods = dates.year * 12 + dates.month - 1
    first_or_last = (dates.day == 1) | dates.is_month_end
    for i in np.flatnonzero(~first_or_last):
        problems.append(f"{shown}: row {df.index[i] + 1}, column month: {dates[i].date()} is "
                        f"neither the first nor the last day of a month (which month is meant "
                        f"is ambiguous)")
    seen: dict[int, int] = {}
    for i, p in enumerate(periods):
        if p in seen:
            problems.append(f"{shown}: row {df.index[i] + 1}, column month: {period_text(p)} "
                            f"also on row {seen[p] + 1} (one row per month)")
        else:
            seen[p] = int(df.index[i])
    if problems:
        raise InputError("\n".join(problems))
    cal = scenario.calendar
    if cal is not None:
        if start_month is not None and _period(start_month) != _period(cal.start_month):
            raise InputError(f"--start-month: the scenario's calendar starts the plan in "
                             f"{cal.start_month}, not {start_month}; drop --start-month")
        start = _period(cal.start_month)
        matched = f"plan month 1 = {period_label(start)} (the scenario's calendar)"
    elif start_month is not None:
        start = _period(start_month)
        matched = f"plan month 1 = {period_label(start)} (--start-month; the scenario has no " \
                  f"calendar)"
    else:
        start = int(periods.min())
        matched = (f"plan month 1 = {period_label(start)}, the first month of {shown} (the "
                   f"scenario has no calendar; give --start-month if the plan started earlier)")
    keep = np.ones(len(df), dtype=bool)
    if through is not None:
        keep = np.asarray(periods <= _period(through))
        if not keep.any():
            raise InputError(f"--through {through}: before the first actual month "
                             f"({period_text(int(periods.min()))})")
    horizon = scenario.horizon_months
    months = np.asarray(periods) - start + 1
    for i in np.flatnonzero(keep & ((months < 1) | (months > horizon))):
        problems.append(f"{shown}: row {df.index[i] + 1}, column month: {period_text(periods[i])} "
                        f"is outside the plan ({period_label(start)} – "
                        f"{period_label(start + horizon - 1)}, {horizon} months; {matched})")
    if problems:
        raise InputError("\n".join(problems))
    frame = df.loc[keep, known].astype(float)
    frame.index = pd.Index(months[keep].astype(int), name="month")
    frame = frame.sort_index()
    empty = [c for c in frame.columns if frame[c].isna().all()]
    frame = frame.drop(columns=empty)
    order = [c for c in ORDER if c in frame.columns]
    order += [c for c in frame.columns if c not in order]
    if not order:
        raise InputError(f"{shown}: every metric column is empty")
    return Actuals(frame=frame[order], metrics=order, ignored=ignored + empty, matched=matched,
                   start_period=start, path=shown)


def _is_month(text: str) -> bool:
    import re

    return bool(re.fullmatch(r"(19|20|21)\d\d-(0[1-9]|1[0-2])", str(text)))


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


def shift_targets(targets: Sequence[dict], actuals: Actuals, horizon: int) -> list[TargetPlan]:
    """Each plan target cut to the months after the last actual month, where that is well
    defined in the re-forecast's own plan years (which start at plan month m + 1)."""
    m = actuals.last_month
    aligned = m % 12 == 0
    out = []
    for t in targets:
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
                    att = metrics.target_attainment(
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


# ---------------------------------------------------------------- re-forecast scenario


def _largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    w = np.asarray(weights, dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
    raw = w * total
    base = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - base), kind="stable")[: total - base.sum()]:
        base[i] += 1
    return [int(x) for x in base]


def expected_arr_per_account(seg, business_age_months: float) -> float:
    """Expected opening ARR of one installed account at ``installed_price_usd`` = 1:
    E[max(1, round(seats))] x the mean of (1 - term discount) over the installed contract
    mix (as ``sim.engine.customers.installed_base`` draws them)."""
    from sim.engine.retention_math import segment_laws

    dist = seg.installed_seats or seg.seats
    draws = dist.sample_array(np.random.default_rng(20261129), SEATS_DRAWS)
    seats = float(np.maximum(1.0, np.round(draws)).mean())
    if seg.installed_age_months is None:
        shares = segment_laws(seg).installed_shares(business_age_months)
    else:
        shares = [o.share_frac for o in seg.contracts]
    keep = sum(s * (1 - o.term_discount_frac) for s, o in zip(shares, seg.contracts,
                                                             strict=True))
    return seats * keep


def _sig(x: float) -> float:
    return float(f"{x:.6g}")


def _fold_steps(steps: list[dict], m: int) -> tuple[list[dict], list[dict]]:
    """Plan steps that take effect by re-forecast month 1 (plan month m + 1), and the later
    ones moved to re-forecast months."""
    past = [s for s in steps if s["month"] - m <= 1]
    later = [{**s, "month": s["month"] - m} for s in steps if s["month"] - m > 1]
    return past, later


def reforecast_values(plan, plan_result, actuals: Actuals, plans: list[TargetPlan]
                      ) -> tuple[dict[tuple, Any], dict[tuple, str]]:
    """Scenario key paths → the re-forecast's values, and → where each came from."""
    from sim.scenario.io import scenario_to_dict

    m, horizon = actuals.last_month, plan.horizon_months
    at = actuals.label(m)
    values: dict[tuple, Any] = {}
    notes: dict[tuple, str] = {}

    def put(path, value, note):
        values[path] = value
        notes[path] = note

    put(("horizon_months",), horizon - m,
        f"the plan's {horizon} months minus the {m} actual months (through {at})")
    fy = plan.calendar.fiscal_year_start_month if plan.calendar is not None else 1
    cal = {"start_month": period_text(actuals.start_period + m)}
    if fy != 1:
        cal["fiscal_year_start_month"] = fy
    put(("calendar",), cal, f"the month after the last actual month ({at})")
    age = plan.opening.business_age_months
    put(("opening", "business_age_months"), _sig(min(600.0, age + m)),
        f"the plan's {age:g} months plus the {m} months since")
    cash = actuals.value("cash_balance", m)
    if not math.isnan(cash):
        put(("finance", "starting_cash_usd"), _sig(cash),
            f"actual cash_balance at the end of {at}")
    receivables = actuals.value("accounts_receivable", m)
    if not math.isnan(receivables) and plan.opening.receivables == "steady_state" \
            and receivables >= 0:
        put(("opening", "receivables_usd"), _sig(receivables),
            f"actual accounts_receivable at the end of {at}")

    # installed base: the plan's segment mix at month m, scaled to the actual totals
    seg_names = list(plan.segments)
    at_m = plan_result.by_segment[plan_result.by_segment["month"] == m]
    mean = at_m.groupby("segment")[["customers", "arr"]].mean().reindex(seg_names).fillna(0.0)
    plan_customers, plan_arr = float(mean["customers"].sum()), float(mean["arr"].sum())
    n_actual = actuals.value("customers", m)
    arr_actual = actuals.value("arr", m)
    if math.isnan(n_actual):
        total_n, n_src = round(plan_customers), (f"no actual customers for {at}: the plan's "
                                                 f"mean at month {m}")
    else:
        total_n, n_src = int(round(n_actual)), f"actual customers {n_actual:,.0f} at {at}"
    if math.isnan(arr_actual):
        total_arr, arr_src = plan_arr, f"no actual ARR for {at}: the plan's mean at month {m}"
    else:
        total_arr, arr_src = arr_actual, f"actual ARR {arr_actual:,.0f} at {at}"
    counts = _largest_remainder(total_n, mean["customers"].to_numpy())
    arr_share = mean["arr"].to_numpy() / plan_arr if plan_arr > 0 else \
        np.full(len(seg_names), 1.0 / len(seg_names))
    new_age = min(600.0, age + m)
    for seg_name, n, share in zip(seg_names, counts, arr_share, strict=True):
        seg = plan.segments[seg_name]
        path = ("segments", seg_name)
        cap = seg.market_size_accounts
        capped = min(n, cap)
        put((*path, "installed_customers"), capped,
            f"{n_src}, split as the plan's mean customers at month {m} "
            f"({mean.at[seg_name, 'customers']:,.1f} of {plan_customers:,.1f})"
            + (f"; capped at market_size_accounts {cap}" if capped < n else ""))
        if seg.installed_age_months is not None:
            notes[(*path, "installed_customers")] += "; installed_age_months kept from the plan"
        per_account = expected_arr_per_account(seg, new_age)
        if capped > 0 and per_account > 0:
            price = total_arr * share / (capped * per_account)
            put((*path, "installed_price_usd"), _sig(price),
                f"expected opening ARR {total_arr * share:,.0f} = {arr_src} x the plan's "
                f"ARR share {share:.3f} at month {m}, over {capped} accounts x "
                f"{per_account:,.2f} seat-years net of term discounts each")

    # the plan's time steps: those due by plan month m + 1 are in place at the start
    data = scenario_to_dict(plan)
    for team, spec in data["sales"]["teams"].items():
        _steps(put, ("sales", "teams", team), spec, m, "count", "hiring_plan", "add")
    for role, spec in data["headcount"].items():
        _steps(put, ("headcount", role), spec, m, "count", "hiring_plan", "add")
    _steps(put, ("channels", "inbound"), data["channels"]["inbound"], m,
           "budget_per_month_usd", "budget_plan", "value")
    _steps(put, ("channels", "partner"), data["channels"]["partner"], m, "active_partners",
           "partner_plan", "value")

    kept = [tp for tp in plans if tp.shifted is not None]
    put(("targets",), [Item(tp.shifted, tp.note) for tp in kept],
        f"the plan's targets cut to the months after {at} ({len(kept)} of {len(plans)} kept)")
    return values, notes


@dataclass
class Item:
    """A list item of the re-forecast with its own comment."""

    value: Any
    note: str


def _steps(put, path: tuple, spec: dict, m: int, base_key: str, plan_key: str,
           kind: str) -> None:
    steps = spec.get(plan_key) or []
    if not steps:
        return
    past, later = _fold_steps(steps, m)
    if past:
        base = spec[base_key]
        if kind == "add":
            new = base + sum(s["add"] for s in past)
            how = " ".join(f"{s['add']:+d} at plan month {s['month']}" for s in past)
            put((*path, base_key), new, f"the plan's {base} {how}, due by plan month "
                                        f"{m + 1}: in place at the start (as ramped)")
        else:
            new = past[-1]["value"]
            put((*path, base_key), new, f"the plan's step at plan month {past[-1]['month']} "
                                        f"(the value in force at plan month {m + 1})")
    put((*path, plan_key), later,
        f"the plan's steps after plan month {m + 1}, moved {m} months earlier" if later
        else f"every step of the plan is due by plan month {m + 1}")


HEADER = "# revsim track"


def reforecast_yaml(plan, plan_path: Path, out_dir: Path, actuals: Actuals,
                    values: dict[tuple, Any], notes: dict[tuple, str],
                    dropped: Sequence[tuple[str, str]] = ()) -> str:
    """The re-forecast scenario: ``extends`` the plan (relative to ``out_dir``), every changed
    value with its comment."""
    from sim.calibrate.write import _clean, _scalar, key_tree

    rel = os.path.relpath(Path(plan_path).resolve(), Path(out_dir).resolve())
    m = actuals.last_month
    lines = [f"{HEADER}: re-forecast of {_clean(plan.name)} from the state at the end of "
             f"{actuals.label(m)} (plan month {m} of {plan.horizon_months})",
             f"# actuals: {_clean(actuals.path)}; {_clean(actuals.matched)}",
             "# Each changed value says where it came from; everything else is the plan's."]
    lines.append(f"extends: {_scalar(rel)}")
    lines.append(f"description: {_scalar(_clean(f'Re-forecast of {plan.name} from {actuals.label(m)}'))}")
    tree = key_tree(values, notes)

    def emit(node: dict, depth: int) -> None:
        pad = "  " * depth
        for k, v in node.items():
            if not isinstance(v, tuple):
                lines.append(f"{pad}{_scalar(k)}:")
                emit(v, depth + 1)
                continue
            value, note = v
            if isinstance(value, list) and value:
                lines.append(f"{pad}{_scalar(k)}:  # {_clean(note)}")
                for item in value:
                    if isinstance(item, Item):
                        lines.append(f"{pad}  - {_scalar(item.value)}  # {_clean(item.note)}")
                    else:
                        lines.append(f"{pad}  - {_scalar(item)}")
            else:
                shown = "[]" if isinstance(value, list) else _scalar(value)
                lines.append(f"{pad}{_scalar(k)}: {shown}  # {_clean(note)}")
    emit(tree, 0)
    if dropped:
        lines.append("# Plan targets not carried over:")
        lines += [f"#   - {_clean(name)}: {_clean(note)}" for name, note in dropped]
    return "\n".join(lines) + "\n"


def _target_item(t: dict) -> dict:
    out = {"name": t["name"], "metric": t["metric"]}
    if t.get("year") is not None:
        out["year"] = int(t["year"])
    out["op"] = t["op"]
    out["value"] = _sig(float(t["value"]))
    return out


# ---------------------------------------------------------------- end to end


@dataclass
class TrackResult:
    plan: Any
    actuals: Actuals
    table: pd.DataFrame
    summary: pd.DataFrame
    targets: pd.DataFrame
    reforecast_text: str
    reforecast: Any
    plan_result: Any
    refc_result: Any
    seed: int
    replications: int
    notes: list[str] = field(default_factory=list)


def load_checked(text: str, target: Path):
    """Load the re-forecast text as a scenario from a hidden sibling of ``target`` (so its
    relative ``extends`` resolves as it will in ``target``); one line when it is not valid."""
    from sim.scenario.io import ScenarioError, load_scenario

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        path = tmp / "reforecast.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_scenario(path)
        except ScenarioError as exc:
            raise InputError("the re-forecast scenario is not valid: "
                             + "; ".join(exc.lines)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_track(plan_path: Path, plan, actuals: Actuals, out_dir: Path, replications: int = 20,
              seed: int = 0, executor: str = "process", scheduler: str | None = None,
              workers: int | None = None, progress: bool = False) -> TrackResult:
    """The plan's replications, the track table, the re-forecast (written, checked by loading,
    run on the same seed) and the target probabilities at plan and given the actuals."""
    from sim.experiments.experiment import run_experiment

    m, horizon = actuals.last_month, plan.horizon_months
    if m >= horizon:
        raise InputError(f"{actuals.path}: the actuals reach plan month {m}, the plan's last; "
                         f"nothing is left to re-forecast (give the months so far, e.g. "
                         f"--through {period_text(actuals.start_period + horizon - 2)})")
    plan_result = run_experiment(plan, replications, seed, executor, scheduler, workers,
                                 progress)
    table = track_table(plan_result.monthly, actuals)
    targets = [t.model_dump() for t in plan.targets]
    plans = shift_targets(targets, actuals, horizon)
    for tp in plans:
        if tp.shifted is not None:
            tp.shifted = _target_item(tp.shifted)
    values, notes = reforecast_values(plan, plan_result, actuals, plans)
    dropped = [(tp.target["name"], tp.note) for tp in plans if tp.shifted is None]
    text = reforecast_yaml(plan, plan_path, out_dir, actuals, values, notes, dropped)
    refc = load_checked(text, out_dir)
    refc_result = run_experiment(refc, replications, seed, executor, scheduler, workers,
                                 progress)
    return TrackResult(plan=plan, actuals=actuals, table=table, summary=metric_summary(table),
                       targets=target_table(plan_result, refc_result, actuals, plans),
                       reforecast_text=text, reforecast=refc, plan_result=plan_result,
                       refc_result=refc_result, seed=seed, replications=replications)


def write_track(result: TrackResult, folder: Path) -> None:
    """track.csv, targets.csv, reforecast.yaml and track.html into ``folder``."""
    from sim.outputs.escape import csv_frame

    csv_frame(result.table).to_csv(folder / "track.csv", index=False)
    csv_frame(result.targets).to_csv(folder / "targets.csv", index=False)
    (folder / "reforecast.yaml").write_text(result.reforecast_text, encoding="utf-8")
    from sim.track.page import track_html

    (folder / "track.html").write_text(track_html(result), encoding="utf-8")
