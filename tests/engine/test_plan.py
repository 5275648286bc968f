"""The plan: step plans, headcount and ramps; its cost lines are the tables' cost lines."""

from __future__ import annotations

import numpy as np
import pytest
from _scenarios import scenario

import sim
from sim.engine.plan import (
    ROLES,
    effective_headcount,
    headcount,
    monthly_plan,
    step_plan,
)
from sim.scenario.model import PlanStep, Role


def test_step_plan_holds_the_last_step_reached():
    steps = [PlanStep(month=4, value=30.0), PlanStep(month=2, value=20.0)]
    assert [step_plan(10.0, steps, m) for m in (1, 2, 3, 4, 9)] == [10, 20, 20, 30, 30]


def test_headcount_and_linear_ramp():
    role = Role(count=2, loaded_cost_per_month_usd=1000.0, ramp_months=4,
                hiring_plan=[{"month": 3, "add": 4}])
    assert [headcount(role, m) for m in (1, 2, 3, 5, 7)] == [2, 2, 6, 6, 6]
    assert [effective_headcount(role, m) for m in (2, 3, 5, 7)] == [2.0, 2.0, 4.0, 6.0]


@pytest.fixture(scope="module")
def run():
    sc = scenario({"channels.inbound.budget_plan": [{"month": 3, "value": 90_000.0}],
                   "headcount.sdr.hiring_plan": [{"month": 2, "add": 2}]}, horizon=14)
    return sc, monthly_plan(sc), sim.simulate(sc, seed=1)


def test_the_plan_is_what_the_tables_report(run):
    _, plan, res = run
    m = res.monthly
    for role in ROLES:
        assert m[f"headcount_{role}"].tolist() == plan.headcount[role]
    assert m["active_partners"].tolist() == plan.active_partners


def test_plan_costs_are_the_ledgers_cost_lines(run):
    sc, plan, res = run
    m, by_channel = res.monthly, res.by_channel
    costs = {line: np.asarray(v, dtype=float) for line, v in plan.costs_usd.items()}
    # fixed opex grows once a year
    assert costs["fixed_opex"][12] == pytest.approx(
        costs["fixed_opex"][0] * (1 + sc.costs.fixed_opex_growth_per_year_frac))
    assert m["other_opex"].to_numpy() == pytest.approx(costs["management"] + costs["fixed_opex"])
    assert m["marketing_cost"].to_numpy() == pytest.approx(
        costs["marketing_programs"] + costs["partner_program"])
    assert m["sales_cost"].to_numpy() == pytest.approx(
        costs["ae"] + costs["sdr"] + m["sales_commission"].to_numpy())
    assert m["customer_success_cost"].to_numpy() == pytest.approx(
        costs["csm"] + costs["onboarding"] + m["account_plan_cost"].to_numpy())
    inbound = by_channel[by_channel["channel"] == "inbound"]["marketing_cost"].to_numpy()
    assert inbound == pytest.approx(costs["marketing_programs"])
    assert costs["marketing_programs"][2] == 90_000.0
