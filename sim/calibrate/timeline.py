"""The plan on the data's calendar: month numbers, and the base plan seen from a later (or
earlier) start — read by the backtest (the plan at the cut) and the engine correction (the
plan at the data's start)."""

from __future__ import annotations

import pandas as pd


def month_index(ts: pd.Timestamp) -> int:
    return ts.year * 12 + ts.month - 1


LAST_STEP_MONTH = 240  # a plan step's month may not exceed this (sim.scenario.model.Month)


def shifted_plan(base, offset: int) -> tuple[dict, dict]:
    """Key paths → values (and comments) for a scenario that starts ``offset`` months into
    the base's plan: steps at or before its start are folded into the starting value, later
    steps move earlier. A negative offset starts before the plan: the starting values stay
    and every step moves later (dropped past month 240)."""
    values: dict[tuple, object] = {}
    notes: dict[tuple, str] = {}
    if offset == 0:
        return values, notes
    why = (f"plan at the cut: {offset} months into the base's plan" if offset > 0 else
           f"{-offset} months before the base's plan starts")
    shift = (f"later steps {offset} months earlier" if offset > 0 else
             f"steps {-offset} months later")

    def kept(month: int) -> bool:
        return month > offset and month - offset <= LAST_STEP_MONTH

    def roles(path, role):
        taken = sum(s.add for s in role.hiring_plan if s.month <= offset)
        later = [{"month": s.month - offset, "add": s.add} for s in role.hiring_plan
                 if kept(s.month)]
        if taken or later != [{"month": s.month, "add": s.add} for s in role.hiring_plan]:
            values[(*path, "count")] = max(0, role.count + taken)
            notes[(*path, "count")] = f"{why}; {role.count} + {taken} hired before it"
            values[(*path, "hiring_plan")] = later
            notes[(*path, "hiring_plan")] = f"{why}; {shift}"

    for name, team in base.sales.teams.items():
        roles(("sales", "teams", name), team)
    for name in type(base.headcount).model_fields:
        role = getattr(base.headcount, name)
        if hasattr(role, "hiring_plan"):
            roles(("headcount", name), role)

    def steps(path, start_key, plan_key, start, plan):
        if not plan:
            return
        now = start
        for s in plan:
            if s.month <= offset:
                now = s.value
        later = [{"month": s.month - offset, "value": s.value} for s in plan if kept(s.month)]
        values[(*path, start_key)] = now
        notes[(*path, start_key)] = f"{why}; the value in force at its start"
        values[(*path, plan_key)] = later
        notes[(*path, plan_key)] = f"{why}; {shift}"

    inbound, partner = base.channels.inbound, base.channels.partner
    steps(("channels", "inbound"), "budget_per_month_usd", "budget_plan",
          inbound.budget_per_month_usd, inbound.budget_plan)
    steps(("channels", "partner"), "active_partners", "partner_plan", partner.active_partners,
          partner.partner_plan)
    if ("channels", "partner", "active_partners") in values:
        values[("channels", "partner", "active_partners")] = int(
            values[("channels", "partner", "active_partners")])
    return values, notes
