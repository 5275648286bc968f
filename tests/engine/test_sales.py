"""Sales: the win/price rule, the AE team's capacity, the elastic resource."""

from __future__ import annotations

import math

import pytest
import simpy
from _scenarios import scenario

from sim.engine.context import Context
from sim.engine.entities import ElasticResource
from sim.engine.sales import SalesTeam, decide, win_probability
from sim.units import MONTH_DAYS, Channel


def test_a_prospect_who_values_it_above_list_pays_list():
    d = decide(win_draw=0.1, wtp_usd=150.0, list_price_usd=100.0, win_prob=0.3,
               discount_cap_frac=0.2)
    assert d.won and not d.lost_on_price
    assert d.discount_frac == 0.0 and d.net_price_usd == 100.0


def test_the_ae_discounts_down_to_willingness_to_pay_within_the_cap():
    d = decide(0.1, 85.0, 100.0, 0.3, 0.2)
    assert d.won
    assert d.discount_frac == pytest.approx(0.15)
    assert d.net_price_usd == pytest.approx(85.0)


def test_a_discount_beyond_the_cap_loses_on_price():
    d = decide(0.1, 70.0, 100.0, 0.3, 0.2)
    assert not d.won and d.lost_on_price and math.isnan(d.net_price_usd)


def test_a_discount_exactly_at_the_cap_wins():
    assert decide(0.1, 80.0, 100.0, 0.3, 0.2).won


def test_losing_to_the_competition_is_not_a_price_loss():
    d = decide(0.5, 1000.0, 100.0, 0.3, 0.2)
    assert not d.won and not d.lost_on_price


def test_win_probability_lift_for_partner_deals_only_and_capped():
    assert win_probability(0.3, 0.5, Channel.PARTNER) == pytest.approx(0.45)
    assert win_probability(0.3, 0.5, Channel.INBOUND) == 0.3
    assert win_probability(0.8, 0.5, Channel.PARTNER) == 1.0


def _team(overrides):
    """One pooled team of 4 AEs x 3 deals, no attrition or failed ramps, plus ``overrides``
    of its fields."""
    team = {"segments": ["smb", "mid_market", "enterprise"], "count": 4,
            "loaded_cost_per_month_usd": 24000, "concurrent_deals_per_ae": 3,
            "attrition_per_year_frac": 0.0, "fail_to_ramp_frac": 0.0, **overrides}
    ctx = Context(scenario({"sales.teams": {"all": team}}))
    return ctx, SalesTeam(ctx, 0, "all", ctx.scenario.sales.teams["all"],
                          on_won=lambda *args: None)


def test_capacity_is_heads_times_concurrent_deals():
    _, team = _team({"ramp_months": 0})
    assert team.resource.capacity == 12


def test_new_hires_ramp_linearly_into_capacity():
    ctx, team = _team({"ramp_months": 2, "hiring_plan": [{"month": 2, "add": 2}]})
    team.restaff(1 * MONTH_DAYS, 2)  # hired today: 0% ramped
    assert team.resource.capacity == 12
    team.restaff(2 * MONTH_DAYS, 3)  # one month in: 50% each, 1 AE's worth
    assert team.resource.capacity == 15
    team.restaff(3 * MONTH_DAYS, 4)  # fully ramped
    assert team.resource.capacity == 18
    # the ledger's capacity level of the team follows, month by month
    ctx.ledger.team_capacity[0].advance(4 * MONTH_DAYS)
    assert ctx.ledger.team_capacity[0].end[:4] == [12, 12, 15, 18]


def test_planned_reductions_shrink_the_team():
    _, team = _team({"ramp_months": 0, "hiring_plan": [{"month": 2, "add": -3}]})
    team.restaff(MONTH_DAYS, 2)
    assert len(team.aes) == 1 and team.resource.capacity == 3


def test_shrinking_capacity_never_interrupts_work_in_progress():
    env = simpy.Environment()
    res = ElasticResource(env, 2)
    first, second = res.request(), res.request()
    assert first.triggered and second.triggered
    res.set_capacity(1)
    assert len(res.users) == 2  # both keep working
    third = res.request()
    assert not third.triggered
    res.release_now(first)
    assert not third.triggered  # one user, one slot: still full
    res.release_now(second)
    assert third.triggered


def test_growing_capacity_grants_the_queue_first_come_first_served():
    env = simpy.Environment()
    res = ElasticResource(env, 0)
    waiting = [res.request() for _ in range(3)]
    assert not any(r.triggered for r in waiting)
    res.set_capacity(2)
    assert [r.triggered for r in waiting] == [True, True, False]
