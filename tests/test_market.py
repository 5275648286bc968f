"""The market economics in closed form (``sim.engine.market``): response curves, the outbound contact
pool and the in-market cap, checked against their definitions and by direction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.engine import market


def test_inbound_leads_at_the_reference_spend_cost_the_reference_cost_per_lead():
    assert market.inbound_leads(50_000, 500, 50_000, 0.7) == pytest.approx(100)
    assert market.inbound_cost_per_lead(50_000, 500, 50_000, 0.7) == pytest.approx(500)


def test_inbound_response_has_diminishing_returns():
    """Doubling spend multiplies leads by 2**b < 2, so the average cost per lead rises."""
    one = market.inbound_leads(40_000, 600, 60_000, 0.7)
    two = market.inbound_leads(80_000, 600, 60_000, 0.7)
    assert two / one == pytest.approx(2**0.7)
    assert market.inbound_cost_per_lead(80_000, 600, 60_000, 0.7) > market.inbound_cost_per_lead(
        40_000, 600, 60_000, 0.7)


def test_inbound_spend_for_leads_inverts_the_response():
    for leads in (1.0, 37.5, 400.0):
        spend = market.inbound_spend_for_leads(leads, 112, 37_500, 0.75)
        assert market.inbound_leads(spend, 112, 37_500, 0.75) == pytest.approx(leads)


def test_no_spend_no_leads():
    assert market.inbound_leads(0.0, 100, 1000, 0.5) == 0.0
    assert math.isnan(market.inbound_cost_per_lead(0.0, 100, 1000, 0.5))


def test_moving_spend_to_the_dearer_segment_gives_fewer_leads():
    """Same budget; the enterprise curve's leads cost 30x as much as SMB's."""
    smb = (112, 37_500, 0.75)
    ent = (3600, 49_500, 0.6)
    budget = 100_000

    def total(share_ent):
        return (market.inbound_leads(budget * (1 - share_ent), *smb)
                + market.inbound_leads(budget * share_ent, *ent))

    assert total(0.6) < total(0.3) < total(0.1)


# --------------------------------------------------------------------------- outbound pool


def test_contact_pool_starts_at_and_stays_at_the_steady_state():
    accounts, attempts, cooldown = 7740.0, 390.0, 6
    pool = market.ContactPool(cooldown)
    want = market.steady_state_reached(attempts, accounts, cooldown)
    for _ in range(24):
        assert pool.step(attempts, accounts) == pytest.approx(want)
    assert pool.cooling_accounts == pytest.approx(cooldown * want)


def test_contact_pool_converges_to_the_steady_state_after_a_change():
    """Doubling the effort: the first month reaches more (the pool was rested for the old
    effort), then the cool-down pipeline fills and reach settles at the new steady state."""
    accounts, cooldown = 1460.0, 6
    pool = market.ContactPool(cooldown)
    pool.step(72.0, accounts)
    path = [pool.step(144.0, accounts) for _ in range(120)]
    want = market.steady_state_reached(144.0, accounts, cooldown)
    assert path[0] > want
    assert path[-1] == pytest.approx(want, rel=1e-6)


def test_more_sdrs_bring_fewer_leads_each():
    per_sdr = [market.steady_state_leads_per_sdr(n, 150, 55, 7740, 6) for n in (1, 2, 4, 8, 16)]
    assert all(b < a for a, b in zip(per_sdr, per_sdr[1:], strict=False))
    total = [n * p for n, p in zip((1, 2, 4, 8, 16), per_sdr, strict=True)]
    assert all(b > a for a, b in zip(total, total[1:], strict=False)), "still more in total"
    assert total[1] < 2 * total[0]


def test_reach_never_exceeds_the_pools_turnover():
    accounts, cooldown = 1000.0, 5
    for attempts in (10, 1e3, 1e4):
        assert market.steady_state_reached(attempts, accounts, cooldown) < accounts / (1 + cooldown)
    assert market.steady_state_reached(1e7, accounts, cooldown) == pytest.approx(accounts / 6)


def test_without_cooldown_reach_is_the_occupancy_of_random_attempts():
    """T = 0: each account is reached with probability 1 - exp(-C/A); checked by simulation
    of random attempts (binomial count, 4 standard errors)."""
    rng = np.random.default_rng(1)
    accounts, attempts = 500, 300
    hits = [len(np.unique(rng.integers(0, accounts, attempts))) for _ in range(2000)]
    want = market.steady_state_reached(attempts, accounts, 0)
    se = np.std(hits) / math.sqrt(len(hits))
    assert abs(np.mean(hits) - want) < 4 * se


# --------------------------------------------------------------------------- in-market cap


def test_in_market_share_of_the_open_market_a_month():
    assert market.in_market_per_month(1200, 0.2) == pytest.approx(20.0)
    assert market.in_market_per_month(-5, 0.2) == 0.0


def test_capped_opportunities_never_exceed_either_bound():
    m = 24.0
    for raw in (0.5, 5, 24, 100):
        got = market.capped_opportunities(raw, m)
        assert got < raw and got < m
    assert market.capped_opportunities(1e6, m) == pytest.approx(m)
    assert market.capped_opportunities(1e-6, m) == pytest.approx(1e-6, rel=1e-6)


def test_raw_opportunities_for_inverts_the_cap():
    for capped in (1.0, 12.0, 23.9):
        raw = market.raw_opportunities_for(capped, 24.0)
        assert market.capped_opportunities(raw, 24.0) == pytest.approx(capped)
    assert market.raw_opportunities_for(24.0, 24.0) == math.inf


def test_qualify_scale_is_a_fraction():
    assert market.qualify_scale(0.0, 10.0) == 1.0
    assert 0 < market.qualify_scale(30.0, 10.0) < market.qualify_scale(3.0, 10.0) < 1.0


def test_in_market_cap_is_the_occupancy_of_random_interest():
    """O Poisson-many qualified touches on M in-market accounts at random: distinct accounts
    reached average M (1 - exp(-O/M)) (simulated, 4 standard errors)."""
    rng = np.random.default_rng(7)
    m, raw = 40, 30.0
    counts = [len(np.unique(rng.integers(0, m, rng.poisson(raw)))) for _ in range(4000)]
    want = market.capped_opportunities(raw, m)
    se = np.std(counts) / math.sqrt(len(counts))
    assert abs(np.mean(counts) - want) < 4 * se


def test_shares():
    assert market.shares([1, 3]) == [0.25, 0.75]
    assert market.shares([0, 0]) == [0.0, 0.0]
