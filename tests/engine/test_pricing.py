"""Pricing rules: discounts as reps give them (bounded by the cap) in the negotiation's
full-information limit (the rule of earlier versions, still the calibration's likelihood),
its closed forms against Monte Carlo, and the installed-base price step. The negotiation
under private information: tests/engine/test_negotiation.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from engine_helpers import LIST, REP_B, WTP_MEDIAN, WTP_SIGMA, rep_cdf, wtp_sf
from hypothesis import given
from hypothesis import strategies as st

from sim.engine.pricing import (
    GRANDFATHER,
    QUARTER_DAYS,
    STEP_TO_LIST,
    conceded_discount,
    expected_discount_given_need,
    expected_discount_given_won,
    expected_net_price_given_won,
    in_quarter_end,
    installed_price_step,
    negotiate,
    win_probability_at_cap,
)


def price_deal(wtp_usd, listed_usd, conceded_frac, cap_frac):
    """The negotiation with full information (the default terms: the rep reads the need and
    may concede it in one round, no walk)."""
    return negotiate(wtp_usd, listed_usd, wtp_usd, conceded_frac, cap_frac)


def negotiated_discount(needed_frac, conceded_frac, cap_frac):
    n = negotiate(LIST * (1 - needed_frac), LIST, LIST * (1 - needed_frac), conceded_frac,
                  cap_frac)
    return n.discount_frac if n.won else None


def draws(n=400_000, seed=7):
    g = np.random.default_rng(seed)
    return WTP_MEDIAN * np.exp(g.normal(0, WTP_SIGMA, n)), g.beta(1.0, REP_B, n), g.random(n)


def monte_carlo(cap, wtp, rep, win_u, base=0.3):
    needed = np.maximum(0.0, 1 - wtp / LIST)
    won = (win_u < base) & (needed <= cap)
    disc = np.minimum(cap, np.maximum(needed, rep))[won]
    return won.mean(), disc, won


# -- the rule ---------------------------------------------------------------------------------

def test_a_buyer_who_would_pay_list_still_gets_the_reps_concession():
    d = price_deal(wtp_usd=1500.0, listed_usd=LIST, conceded_frac=0.12, cap_frac=0.3)
    assert d.won and d.needed_frac == 0.0 and d.rounds == 0
    assert d.discount_frac == pytest.approx(0.12)


def test_a_buyer_who_needs_more_than_the_concession_gets_what_it_needs():
    d = price_deal(850.0, LIST, 0.05, 0.3)
    assert d.discount_frac == pytest.approx(0.15) and d.rounds == 1


def test_the_cap_bounds_the_concession():
    assert negotiated_discount(0.0, 0.4, 0.25) == pytest.approx(0.25)
    assert negotiated_discount(0.1, 0.4, 0.25) == pytest.approx(0.25)


def test_a_buyer_needing_more_than_the_cap_is_lost_and_exactly_the_cap_wins():
    lost = price_deal(700.0, LIST, 0.0, 0.2)
    assert not lost.won and lost.discount_frac == pytest.approx(0.2)
    assert price_deal(800.0, LIST, 0.0, 0.2).won


def test_quarter_end_window_and_extra():
    assert not in_quarter_end(10.0, 14.0)
    assert in_quarter_end(QUARTER_DAYS - 1.0, 14.0)
    assert in_quarter_end(2 * QUARTER_DAYS - 13.9, 14.0)
    assert not in_quarter_end(2 * QUARTER_DAYS + 0.5, 14.0)
    assert not in_quarter_end(QUARTER_DAYS - 1.0, 0.0)
    assert conceded_discount(0.1, True, 0.08) == pytest.approx(0.18)
    assert conceded_discount(0.1, False, 0.08) == pytest.approx(0.1)
    assert conceded_discount(0.95, True, 0.2) == 1.0


# -- closed forms against Monte Carlo ------------------------------------------------------------

@pytest.mark.parametrize("cap", [0.05, 0.15, 0.3, 0.5])
def test_win_probability_and_expected_discount_match_monte_carlo(cap):
    wtp, rep, win_u = draws()
    p_mc, disc, won = monte_carlo(cap, wtp, rep, win_u)
    n = len(win_u)
    p = win_probability_at_cap(0.3, wtp_sf, LIST, cap)
    assert abs(p_mc - p) < 4 * math.sqrt(p * (1 - p) / n)
    e = expected_discount_given_won(cap, LIST, wtp_sf, rep_cdf)
    assert abs(disc.mean() - e) < 4 * disc.std() / math.sqrt(len(disc)) + 1e-9
    net = expected_net_price_given_won(cap, LIST, wtp_sf, rep_cdf)
    assert net == pytest.approx(LIST * (1 - e))


@pytest.mark.parametrize("needed", [0.0, 0.05, 0.12])
def test_expected_discount_given_need_matches_monte_carlo(needed):
    rep = np.random.default_rng(3).beta(1.0, REP_B, 400_000)
    d = np.minimum(0.2, np.maximum(needed, rep))
    e = expected_discount_given_need(needed, 0.2, rep_cdf)
    assert abs(d.mean() - e) < 4 * d.std() / math.sqrt(len(d))
    assert math.isnan(expected_discount_given_need(0.25, 0.2, rep_cdf))


def test_a_tighter_cap_loses_deals_and_raises_the_net_price_of_those_won():
    wtp, rep, win_u = draws(200_000, seed=11)  # common random numbers for every cap
    caps = [0.4, 0.3, 0.2, 0.1]
    closed_p = [win_probability_at_cap(0.3, wtp_sf, LIST, c) for c in caps]
    closed_net = [expected_net_price_given_won(c, LIST, wtp_sf, rep_cdf) for c in caps]
    assert closed_p == sorted(closed_p, reverse=True)
    assert closed_net == sorted(closed_net)
    mc = [monte_carlo(c, wtp, rep, win_u) for c in caps]
    rates = [p for p, _, _ in mc]
    nets = [LIST * (1 - d.mean()) for _, d, _ in mc]
    assert rates == sorted(rates, reverse=True) and rates[0] > rates[-1]
    assert nets == sorted(nets) and nets[-1] > nets[0]
    # with common random numbers every deal won under the tight cap is won under the loose
    # one, and pays at least as much under the tight cap
    assert not np.any(mc[-1][2] & ~mc[0][2])


def test_with_no_cap_pressure_reps_still_discount():
    wtp, rep, win_u = draws(100_000, seed=5)
    wtp = wtp * 10  # every buyer would pay list
    _, disc, _ = monte_carlo(1.0, wtp, rep, win_u)
    assert disc.mean() == pytest.approx(1 / (1 + REP_B), abs=0.005)
    assert disc.mean() > 0


# -- installed-base price step -----------------------------------------------------------------

def test_grandfathered_accounts_only_get_the_escalator():
    s = installed_price_step(1.08, 0.04, GRANDFATHER, 0.05)
    assert s.increase_frac == 0.04 and s.move_frac == 0.0 and s.gap_after == 1.08
    assert installed_price_step(1.08, 0.0, GRANDFATHER, 0.05).increase_frac == 0.0


def test_step_to_list_moves_in_capped_steps_until_at_list():
    gap, moves = 1.08, []
    for _ in range(4):
        s = installed_price_step(gap, 0.04, STEP_TO_LIST, 0.05)
        moves.append(s.move_frac)
        assert s.increase_frac == pytest.approx(1.04 * (1 + s.move_frac) - 1)
        gap = s.gap_after
    assert moves[0] == pytest.approx(0.05)
    assert math.prod(1 + m for m in moves) == pytest.approx(1.08)
    assert moves[2:] == [0.0, 0.0]
    assert gap == pytest.approx(1.0)


def test_a_list_cut_is_not_passed_on_and_an_unknown_policy_is_refused():
    assert installed_price_step(0.9, 0.03, STEP_TO_LIST, 0.1).increase_frac == 0.03
    with pytest.raises(ValueError, match="policy"):
        installed_price_step(1.1, 0.0, "bogus", 0.1)


@given(gap=st.floats(0.5, 3.0), uplift=st.floats(0.0, 0.2), cap=st.floats(0.0, 0.5))
def test_a_step_never_exceeds_the_cap(gap, uplift, cap):
    s = installed_price_step(gap, uplift, STEP_TO_LIST, cap)
    assert 0.0 <= s.move_frac <= cap + 1e-12
    assert s.increase_frac <= (1 + uplift) * (1 + cap) - 1 + 1e-12
    assert s.gap_after * (1 + s.move_frac) == pytest.approx(gap)
