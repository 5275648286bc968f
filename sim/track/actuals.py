"""The company's actual months for ``revsim track``: which engine columns an actuals file may
hold, the months matched to the plan through its calendar (or ``--start-month``, else the
file's first month), and the values checked row by row."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import InputError, one_line
from sim.scenario.calendar import MONTH_NAMES

SEGMENT_METRICS = ("customers", "arr")
"""Per-segment actuals a file may give as ``<metric>_<segment>`` (e.g. ``customers_smb``)."""
TRACKABLE = (
    "customers", "new_customers", "churned_customers", "arr", "new_arr", "expansion_arr",
    "contraction_arr", "churned_arr", "revenue", "billings", "cash_collected", "cogs",
    "marketing_cost", "sales_cost", "sales_commission", "customer_success_cost", "partner_cost",
    "other_opex", "gross_profit", "total_cost", "operating_profit", "cash_balance",
    "deferred_revenue", "accounts_receivable", "leads", "opportunities", "deals_won",
    "deals_lost", "deals_lost_price", "leads_lost_waiting", "list_arr_won", "discount_usd",
    "term_discount_usd", "rep_discount_usd", "quarter_end_discount_usd", "price_leak_usd",
    "deals_slipped", "negotiation_rounds_sum", "opportunities_self_sourced",
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
    by_segment: pd.DataFrame | None = None
    """``customers_<segment>`` and ``arr_<segment>`` columns when the actuals give them
    (index: plan month); the re-forecast splits the installed base by them."""

    def segment_value(self, metric: str, segment: str, month: int) -> float:
        col = f"{metric}_{segment}"
        f = self.by_segment
        if f is None or col not in f.columns or month not in f.index:
            return math.nan
        return float(f.at[month, col])

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
        if name in NON_NEGATIVE or name.startswith(tuple(f"{q}_" for q in SEGMENT_METRICS)):
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
    per_seg = [f"{q}_{s}" for q in SEGMENT_METRICS for s in scenario.segments
               if f"{q}_{s}" in raw.columns]
    ignored = [c for c in raw.columns if c != "month" and c not in TRACKABLE
               and c not in per_seg]
    df = validate(raw, "actuals", list(scenario.segments), shown,
                  _metric_columns([*known, *per_seg]))
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
    by_segment = None
    if per_seg:
        by_segment = df.loc[keep, per_seg].astype(float)
        by_segment.index = pd.Index(months[keep].astype(int), name="month")
        by_segment = by_segment.sort_index()
    empty = [c for c in frame.columns if frame[c].isna().all()]
    frame = frame.drop(columns=empty)
    order = [c for c in ORDER if c in frame.columns]
    order += [c for c in frame.columns if c not in order]
    if not order:
        raise InputError(f"{shown}: every metric column is empty")
    return Actuals(frame=frame[order], metrics=order, ignored=ignored + empty, matched=matched,
                   start_period=start, path=shown, by_segment=by_segment)


def _is_month(text: str) -> bool:
    import re

    return bool(re.fullmatch(r"(19|20|21)\d\d-(0[1-9]|1[0-2])", str(text)))
