"""Reference (b): the same workload written the way one would first write it.

One SimPy process per lead, numpy scalar draws, one process per customer waking every month.
It is a speed reference only: it uses the same scenario numbers (lead volumes, qualification,
AE capacity, cycles, prices, churn) but none of the engine's bookkeeping shortcuts.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from sim.engine import market
from sim.engine.plan import effective_headcount, headcount, step_plan
from sim.scenario.model import Scenario
from sim.units import MONTH_DAYS


def _draw(d, rng: np.random.Generator) -> float:
    kind = d.dist
    if kind == "fixed":
        return d.value
    if kind == "exponential":
        return rng.exponential(d.mean_value)
    if kind == "lognormal":
        return d.median * math.exp(rng.normal(0.0, d.sigma))
    if kind == "gamma":
        return rng.gamma(d.shape, d.scale)
    if kind == "triangular":
        return rng.triangular(d.low, d.mode, d.high)
    return rng.beta(d.a, d.b)


def _leads(s: Scenario, name: str, c: int, budget: float, sdrs: float, partners: float) -> float:
    """Expected leads of a channel and segment: the response curve, the steady-state contact
    pool, the partners' referrals (no in-market cap, no saturation)."""
    inbound, outbound, partner = s.channels.inbound, s.channels.outbound, s.channels.partner
    if c == 0:
        spend = budget * inbound.segment_mix.get(name, 0.0)
        return market.inbound_leads(spend, inbound.cost_per_lead_usd.get(name, 1.0),
                                    inbound.reference_spend_per_month_usd.get(name, 1.0),
                                    inbound.response_exponent_b.get(name, 1.0))
    if c == 1:
        effort = sdrs * outbound.segment_mix.get(name, 0.0)
        if effort <= 0:
            return 0.0
        seg = s.segments[name]
        return effort * market.steady_state_leads_per_sdr(
            effort, outbound.accounts_contacted_per_sdr_per_month[name],
            outbound.fresh_leads_per_sdr_per_month[name],
            seg.market_size_accounts - seg.installed_customers, outbound.cooldown_months)
    return partners * partner.referrals_per_partner_per_month * partner.segment_mix.get(name, 0.0)


def run_naive(scenario: Scenario, seed: int = 0) -> dict:
    """Run the naive model; returns counts to check the workload matches the engine."""
    env = simpy.Environment()
    rng = np.random.default_rng(seed)
    s = scenario
    segs = list(s.segments.values())
    names = list(s.segments)
    H = s.horizon_months
    ae = simpy.Resource(env, capacity=max(1, sum(headcount(t, 1) * t.concurrent_deals_per_ae
                                                 for t in s.sales.teams.values())))
    stats = {"leads": 0, "opportunities": 0, "won": 0, "customers": 0, "churned": 0}
    customers = [0] * len(segs)

    def customer(k, arr):
        seg = segs[k]
        while True:
            yield env.timeout(MONTH_DAYS)  # a monthly check of every customer
            p = 1 - seg.monthly_logo_retention_12m_frac ** (1 / 12)  # homogeneous equivalent
            if rng.random() < p:
                customers[k] -= 1
                stats["churned"] += 1
                return
            if rng.random() < seg.expansion.upsell_rate_per_year / 12:
                arr *= 1 + _draw(seg.expansion.upsell_seats_frac, rng)

    def lead(k, c, delay):
        yield env.timeout(delay)
        stats["leads"] += 1
        chan = (s.channels.inbound, s.channels.outbound, s.channels.partner)[c]
        if rng.random() >= chan.qualify_prob_frac.get(names[k], 0.0):
            return
        stats["opportunities"] += 1
        seg = segs[k]
        with ae.request() as req:
            got = yield req | env.timeout(_draw(seg.patience_days, rng))
            if req not in got:
                return
            yield env.timeout(_draw(seg.sales_cycle_days, rng))
        price = s.pricing.segments[names[k]]
        wtp = _draw(seg.willingness_to_pay_usd, rng)
        needed = max(0.0, 1 - wtp / price.list_price_usd)
        if rng.random() < seg.base_win_prob_frac and needed <= price.discount_cap_frac:
            stats["won"] += 1
            customers[k] += 1
            seats = max(1.0, round(_draw(seg.seats, rng)))
            env.process(customer(k, seats * price.list_price_usd * (1 - needed)))

    def months():
        for m in range(1, H + 1):
            budget = step_plan(s.channels.inbound.budget_per_month_usd,
                               s.channels.inbound.budget_plan, m)
            sdrs = effective_headcount(s.headcount.sdr, m)
            partners = step_plan(s.channels.partner.active_partners,
                                 s.channels.partner.partner_plan, m)
            for c in range(3):
                for k, name in enumerate(names):
                    n = rng.poisson(_leads(s, name, c, budget, sdrs, partners))
                    for _ in range(n):  # one process per lead
                        env.process(lead(k, c, rng.uniform(0, MONTH_DAYS)))
            yield env.timeout(MONTH_DAYS)

    for k, seg in enumerate(segs):
        for _ in range(seg.installed_customers):
            customers[k] += 1
            env.process(customer(k, 10000.0))
    env.process(months())
    env.run(until=H * MONTH_DAYS)
    stats["customers"] = sum(customers)
    stats["simpy_events"] = next(env._eid)
    return stats


def bare_simpy(n_events: int, processes: int = 100) -> int:
    """Reference (a): a bare SimPy loop of timeouts processing about ``n_events`` events."""
    env = simpy.Environment()
    per = max(1, n_events // processes)

    def ticker():
        for _ in range(per):
            yield env.timeout(1.0)

    for _ in range(processes):
        env.process(ticker())
    env.run()
    return next(env._eid)
