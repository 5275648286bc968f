"""The plan: headcount, ramps, step plans and the planned cost lines, as pure functions.

Nothing here is random; the plan is computed once per replication (``monthly_plan``) and
read by the engine (lead volumes) and by the tables (cost lines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from sim.scenario.model import PlanStep, Role, SalesTeam, Scenario

ROLES = ("ae", "sdr", "csm", "onboarding", "management")
COST_LINES = ("marketing_programs", "partner_program", *ROLES, "fixed_opex")


def step_plan(start: float, steps: list[PlanStep], month: int) -> float:
    """Value of a step plan (``PlanStep``) in a 1-based month."""
    value = start
    for s in sorted(steps, key=lambda s: s.month):
        if s.month <= month:
            value = s.value
    return value


def headcount(role: Role | SalesTeam, month: int) -> int:
    """Planned headcount of a role in a 1-based month."""
    return max(0, role.count + sum(h.add for h in role.hiring_plan if h.month <= month))


def effective_headcount(role: Role | SalesTeam, month: int) -> float:
    """Headcount less the unramped part of recent hires (linear ramp)."""
    n = float(headcount(role, month))
    if role.ramp_months > 0:
        for h in role.hiring_plan:
            if h.add > 0 and h.month <= month:
                n -= h.add * max(0.0, 1.0 - (month - h.month) / role.ramp_months)
    return max(0.0, n)


@dataclass(frozen=True)
class MonthlyPlan:
    """The plan month by month (index 0 = month 1), in plain floats."""

    headcount: dict[str, list[int]]  # role -> planned heads ("ae": all sales teams)
    active_partners: list[float]
    marketing_budget_usd: list[float]  # inbound programme budget
    costs_usd: dict[str, list[float]]  # COST_LINES -> cost of the month
    team_headcount: dict[str, list[int]]  # sales team -> planned AEs
    team_costs_usd: dict[str, list[float]]  # sales team -> AE cost of the month


def monthly_plan(scenario: Scenario) -> MonthlyPlan:
    """Headcount, partners, budget and every planned cost line for each month."""
    s = scenario
    months = range(1, s.horizon_months + 1)
    inbound, partner = s.channels.inbound, s.channels.partner
    teams = s.sales.teams
    team_heads = {name: [headcount(team, m) for m in months] for name, team in teams.items()}
    team_costs = {name: [float(n) * teams[name].loaded_cost_per_month_usd for n in heads]
                  for name, heads in team_heads.items()}
    heads = {role: [headcount(getattr(s.headcount, role), m) for m in months]
             for role in ROLES if role != "ae"}
    heads["ae"] = [sum(team[i] for team in team_heads.values()) for i in range(len(months))]
    partners = [step_plan(partner.active_partners, partner.partner_plan, m) for m in months]
    budget = [step_plan(inbound.budget_per_month_usd, inbound.budget_plan, m) for m in months]
    costs = {
        "marketing_programs": budget,
        "partner_program": [n * partner.program_cost_per_partner_per_month_usd for n in partners],
        **{role: [float(n) * getattr(s.headcount, role).loaded_cost_per_month_usd
                  for n in heads[role]] for role in ROLES if role != "ae"},
        "ae": [sum(team[i] for team in team_costs.values()) for i in range(len(months))],
        "fixed_opex": [s.costs.fixed_opex_per_month_usd
                       * (1 + s.costs.fixed_opex_growth_per_year_frac) ** (m // 12)
                       for m in range(s.horizon_months)],
    }
    return MonthlyPlan(heads, partners, budget, {line: costs[line] for line in COST_LINES},
                       team_heads, team_costs)
