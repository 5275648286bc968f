"""The re-forecast scenario: it ``extends`` the plan from the state at the last actual month
(customers and ARR, cash, the calendar moved on, the plan's steps shifted, the targets cut to
the remaining part), each changed value commented with where it came from."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.track.actuals import Actuals, period_text
from sim.track.targets import TargetPlan

SEATS_DRAWS = 200_000
"""Draws (fixed seed) for the expected seats of an installed account: max(1, round(seats))."""


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

    # installed base: the actuals by segment (customers_<seg>, arr_<seg>) when given, else
    # the plan's segment mix at month m scaled to the actual totals
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
    split = f"split as the plan's mean customers at month {m}"
    # the actuals by segment, when they give every segment: the split is the actuals'
    seg_n = np.array([actuals.segment_value("customers", s, m) for s in seg_names])
    seg_arr = np.array([actuals.segment_value("arr", s, m) for s in seg_names])
    by_actuals = not np.isnan(seg_n).any()
    if by_actuals:
        counts = [int(round(x)) for x in seg_n]
        total_n = sum(counts)
        n_src = f"actual customers by segment at {at}"
    arr_by_actuals = not np.isnan(seg_arr).any() and seg_arr.sum() > 0
    if arr_by_actuals:
        arr_share = seg_arr / seg_arr.sum()
        if math.isnan(arr_actual):
            total_arr, arr_src = float(seg_arr.sum()), f"actual ARR by segment at {at}"
    new_age = min(600.0, age + m)
    for seg_name, n, share in zip(seg_names, counts, arr_share, strict=True):
        seg = plan.segments[seg_name]
        path = ("segments", seg_name)
        cap = seg.market_size_accounts
        capped = min(n, cap)
        put((*path, "installed_customers"), capped,
            (f"{n_src}: customers_{seg_name} {n:,}" if by_actuals else
             f"{n_src}, {split} ({mean.at[seg_name, 'customers']:,.1f} of "
             f"{plan_customers:,.1f})")
            + (f"; capped at market_size_accounts {cap}" if capped < n else ""))
        if seg.installed_age_months is not None:
            notes[(*path, "installed_customers")] += "; installed_age_months kept from the plan"
        per_account = expected_arr_per_account(seg, new_age)
        if capped > 0 and per_account > 0:
            price = total_arr * share / (capped * per_account)
            put((*path, "installed_price_usd"), _sig(price),
                f"expected opening ARR {total_arr * share:,.0f} = {arr_src} x the "
                f"{'actual' if arr_by_actuals else 'plan' + chr(39) + 's'} "
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
