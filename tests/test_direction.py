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
from sim.scenario.levers import LEVERS as CATALOGUE
from sim.scenario.levers import lever

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
    # (dotted key, low, high, measure, expected sign of measure(high) - measure(low)); the
    # catalogue's levers (sim.scenario.levers) by their catalogue key, then other parameters
    (lever("list_price").key_for("smb"), 450, 800, win_rate, -1),
    (lever("list_price").key_for("smb"), 450, 800, arr_per_deal("smb"), +1),
    (lever("list_price").key_for("mid_market"), 700, 1200, win_rate, -1),
    (lever("list_price").key_for("mid_market"), 700, 1200, arr_per_deal("mid_market"), +1),
    (lever("discount_cap").key_for("smb"), 0.0, 0.4, win_rate, +1),
    (lever("discount_cap").key_for("smb"), 0.0, 0.4, net_price_frac, -1),
    (lever("discount_cap").key_for("enterprise"), 0.15, 0.35, win_rate, +1),
    (lever("discount_cap").key_for("enterprise"), 0.15, 0.35, arr_per_deal("enterprise"),
     -1),
    ("pricing.segments.smb.rep_discount_frac", 0.0, 0.2, net_price_frac, -1),
    ("pricing.segments.smb.quarter_end_extra_discount_frac", 0.0, 0.1, net_price_frac, -1),
    (lever("marketing_budget").key, 50_000, 300_000, channel_leads("inbound"), +1),
    (lever("ae_count").key_for("mid_market"), 2, 10, column("leads_lost_waiting"), -1),
    ("sales.teams.smb.concurrent_deals_per_ae", 8, 40, column("leads_lost_waiting"), -1),
    ("sales.teams.enterprise.loaded_cost_per_month_usd", 20_000, 40_000, column("sales_cost"), +1),
    ("channels.outbound.cooldown_months", 0, 12, channel_leads("outbound"), -1),
    ("segments.enterprise.in_market_per_year_frac", 0.05, 0.4, column("opportunities"), +1),
    ("channels.inbound.cost_per_lead_usd.enterprise", 1_800, 7_200, channel_leads("inbound"), -1),
    (lever("sdr_count").key, 1, 10, channel_leads("outbound"), +1),
    (lever("csm_count").key, 3, 15, column("churned_arr"), -1),
    (lever("onboarding_count").key, 1, 8, onboarding_wait_days, -1),
    (lever("annual_uplift").key, 0.0, 0.10, column("expansion_arr"), +1),
    (lever("annual_uplift").key, 0.0, 0.10, column("churned_customers"), +1),
    (lever("active_partners").key, 5, 60, column("partner_cost"), +1),
    (lever("active_partners").key, 5, 60, channel_leads("partner"), +1),
    (lever("management_count").key, 2, 10, column("other_opex"), +1),
    (lever("partner_commission").key, 0.05, 0.3, column("partner_cost"), +1),
    (lever("logo_retention").key_for("smb"), 0.7, 0.98, column("churned_customers"), -1),
    (lever("win_probability").key_for("mid_market"), 0.1, 0.4, win_rate, +1),
    (lever("fixed_opex").key, 600_000, 1_000_000, column("other_opex"), +1),
    (lever("ae_ramp").key_for("mid_market"), 0, 12, column("new_arr"), -1),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "key, low, high, measure, sign", LEVERS,
    ids=[f"{k.split('.', 1)[1]}-{m.__name__}" for k, _, _, m, _ in LEVERS])
def test_lever_moves_its_measure_the_expected_way(key, low, high, measure, sign):
    lo = measure(_runs(key, low))
    hi = measure(_runs(key, high))
    assert np.isfinite(lo) and np.isfinite(hi)
    assert np.sign(hi - lo) == sign, f"{key}: {low} -> {measure.__name__} {lo:.4g}; " \
                                     f"{high} -> {hi:.4g} (expected sign {sign:+d})"


def test_every_catalogue_lever_has_a_direction_check():
    """The lever catalogue and these checks cannot drift apart: each lever of
    ``sim.scenario.levers.LEVERS`` (for some segment or team) is moved here."""
    checked = {key for key, *_ in LEVERS}
    missing = [lv.name for lv in CATALOGUE if lv.directional
               and not any(k == lv.key or ("*" in lv.key and k.startswith(lv.key.split("*")[0])
                                          and k.endswith(lv.key.split("*")[1]))
                          for k in checked)]
    assert not missing, f"catalogue levers without a direction check: {missing}"
