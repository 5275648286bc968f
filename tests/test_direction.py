"""Direction of effect of every lever: moving one lever from low to high moves its measure the
expected way. Both sides run on the same seeds (common random numbers), and measures are pooled
over a few replications of the baseline's first year.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from engine_helpers import from_baseline

import sim

SEED = 2024
REPLICATIONS = 3
HORIZON = 12


@cache
def _runs(key: str, value) -> tuple:
    sc = from_baseline({key: value}, horizon=HORIZON)
    return tuple(sim.simulate(sc, seed=SEED, replication=r) for r in range(REPLICATIONS))


def _total(runs, col: str) -> float:
    return float(sum(r.monthly[col].sum() for r in runs))


def _by(runs, table: str, key: str, name: str, col: str) -> float:
    total = 0.0
    for r in runs:
        t = getattr(r, table)
        total += t.loc[t[key] == name, col].sum()
    return float(total)


def win_rate(runs) -> float:
    won = _total(runs, "deals_won")
    return won / (won + _total(runs, "deals_lost"))


def net_price_frac(runs) -> float:
    """ARR won as a share of the same seats at list price (1 - average discount)."""
    return _total(runs, "new_arr") / _total(runs, "list_arr_won")


def arr_per_deal(segment: str):
    def measure(runs) -> float:
        return (_by(runs, "by_segment", "segment", segment, "new_arr")
                / _by(runs, "by_segment", "segment", segment, "deals_won"))
    measure.__name__ = f"arr_per_deal_{segment}"
    return measure


def channel_leads(channel: str):
    def measure(runs) -> float:
        return _by(runs, "by_channel", "channel", channel, "leads")
    measure.__name__ = f"{channel}_leads"
    return measure


def column(col: str):
    def measure(runs) -> float:
        return _total(runs, col)
    measure.__name__ = col
    return measure


def onboarding_wait_days(runs) -> float:
    """Mean wait for an onboarding specialist, weighted by onboardings started."""
    waited = started = 0.0
    for r in runs:
        m = r.monthly
        n = m["onboardings_started"].to_numpy()
        w = np.nan_to_num(m["onboarding_wait_days"].to_numpy())
        waited += float((w * n).sum())
        started += float(n.sum())
    return waited / started


LEVERS = [
    # (dotted key, low, high, measure, expected sign of measure(high) - measure(low))
    ("pricing.segments.smb.list_price_usd", 450, 800, win_rate, -1),
    ("pricing.segments.smb.list_price_usd", 450, 800, arr_per_deal("smb"), +1),
    ("pricing.segments.mid_market.list_price_usd", 700, 1200, win_rate, -1),
    ("pricing.segments.mid_market.list_price_usd", 700, 1200, arr_per_deal("mid_market"), +1),
    ("pricing.segments.smb.discount_cap_frac", 0.0, 0.4, win_rate, +1),
    ("pricing.segments.smb.discount_cap_frac", 0.0, 0.4, net_price_frac, -1),
    ("pricing.segments.enterprise.discount_cap_frac", 0.15, 0.35, win_rate, +1),
    ("pricing.segments.enterprise.discount_cap_frac", 0.15, 0.35, arr_per_deal("enterprise"),
     -1),
    ("pricing.segments.smb.rep_discount_frac", 0.0, 0.2, net_price_frac, -1),
    ("pricing.segments.smb.quarter_end_extra_discount_frac", 0.0, 0.1, net_price_frac, -1),
    ("channels.inbound.budget_per_month_usd", 50_000, 300_000, channel_leads("inbound"), +1),
    ("sales.teams.mid_market.count", 2, 10, column("leads_lost_waiting"), -1),
    ("sales.teams.smb.concurrent_deals_per_ae", 8, 40, column("leads_lost_waiting"), -1),
    ("sales.teams.enterprise.loaded_cost_per_month_usd", 20_000, 40_000, column("sales_cost"), +1),
    ("channels.outbound.cooldown_months", 0, 12, channel_leads("outbound"), -1),
    ("segments.enterprise.in_market_per_year_frac", 0.05, 0.4, column("opportunities"), +1),
    ("channels.inbound.cost_per_lead_usd.enterprise", 1_800, 7_200, channel_leads("inbound"), -1),
    ("headcount.sdr.count", 1, 10, channel_leads("outbound"), +1),
    ("headcount.csm.count", 3, 15, column("churned_arr"), -1),
    ("headcount.onboarding.count", 1, 8, onboarding_wait_days, -1),
    ("pricing.annual_uplift_frac", 0.0, 0.10, column("expansion_arr"), +1),
    ("pricing.annual_uplift_frac", 0.0, 0.10, column("churned_customers"), +1),
    ("channels.partner.active_partners", 5, 60, column("partner_cost"), +1),
    ("channels.partner.active_partners", 5, 60, channel_leads("partner"), +1),
    ("headcount.management.count", 2, 10, column("other_opex"), +1),
]


@pytest.mark.parametrize(
    "key, low, high, measure, sign", LEVERS,
    ids=[f"{k.split('.', 1)[1]}-{m.__name__}" for k, _, _, m, _ in LEVERS])
def test_lever_moves_its_measure_the_expected_way(key, low, high, measure, sign):
    lo = measure(_runs(key, low))
    hi = measure(_runs(key, high))
    assert np.isfinite(lo) and np.isfinite(hi)
    assert np.sign(hi - lo) == sign, f"{key}: {low} -> {measure.__name__} {lo:.4g}; " \
                                     f"{high} -> {hi:.4g} (expected sign {sign:+d})"
