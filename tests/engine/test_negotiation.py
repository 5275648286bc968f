"""The negotiation under private willingness to pay (issue 23), rule by rule: offers and
answers, the ceiling and approval tiers, the rep's learning from a refusal, walks and rounds,
the closed forms against Monte Carlo of the engine's own rule function, the quarter-end
pull-forward, the response of effort and referrals to commissions, and each deal's draws
(drawn in bulk with its opportunity, one stream per kind)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from engine_helpers import LIST, REP_B, WTP_MEDIAN, WTP_SIGMA, rep_cdf, wtp_sf
from hypothesis import given
from hypothesis import strategies as st

from sim.engine.deals import DEAL_DRAWS, draw_deals
from sim.engine.pricing import (
    APPROVAL_TIERS,
    MAX_ROUNDS,
    QUARTER_DAYS,
    Terms,
    approvals,
    average_over_openings,
    effort_index,
    expected_discount_given_won,
    expected_rounds,
    negotiate,
    next_offer,
    price_expected_discount,
    price_win_probability,
    pull_forward,
    response,
    win_probability_at_cap,
)
from sim.engine.sales import decide
from sim.scenario.distributions import Beta, Fixed
from sim.scenario.model import SegmentPrice

ROUNDS3 = Terms(step_frac=0.05, max_rounds=3, walk_prob=0.0, round_days=5.0,
                approval_days=2.0)


def rep_ppf(u):
    return 1.0 - (1.0 - np.asarray(u, float)) ** (1 / REP_B)


# -- offers and answers ----------------------------------------------------------------------

def test_a_buyer_accepts_the_opening_when_it_is_within_its_willingness_to_pay():
    n = negotiate(wtp_usd=950.0, listed_usd=LIST, signal_usd=700.0, opening_frac=0.08,
                  cap_frac=0.3, terms=ROUNDS3)
    assert n.won and n.rounds == 0 and n.discount_frac == pytest.approx(0.08)
    assert n.needed_frac == pytest.approx(0.05)  # 3 points of leak
    assert n.extra_days == 0.0


def test_the_rep_moves_by_at_most_a_step_toward_its_estimate():
    # need 12%, the signal says 20%: 0 -> 5 -> 10 -> 15 (accepted at 15: 3 points leak)
    n = negotiate(880.0, LIST, 800.0, 0.0, 0.35, ROUNDS3)
    assert n.won and n.rounds == 3 and n.discount_frac == pytest.approx(0.15)
    assert n.extra_days == pytest.approx(3 * 5.0 + 1 * 2.0)  # 15% needs a manager (S6)


def test_a_refusal_teaches_the_rep_the_need_is_above_the_offer():
    # the signal says the opening should do; the refusal moves the rep a full step
    assert next_offer(0.10, 0.02, 0.05, 0.35) == pytest.approx(0.15)
    assert next_offer(0.10, 0.12, 0.05, 0.35) == pytest.approx(0.12)
    assert next_offer(0.10, 0.40, 0.05, 0.12) == pytest.approx(0.12)  # the ceiling
    n = negotiate(850.0, LIST, 1200.0, 0.05, 0.35, ROUNDS3)  # optimistic signal
    assert n.won and n.discount_frac == pytest.approx(0.15) and n.rounds == 2


def test_refused_at_the_last_round_is_lost_on_price():
    n = negotiate(700.0, LIST, 700.0, 0.0, 0.5, ROUNDS3)  # needs 30%, 3 x 5 points reach 15%
    assert not n.won and n.rounds == 3 and n.discount_frac == pytest.approx(0.15)


def test_no_discount_above_the_top_approval_tier_even_without_a_cap():
    wide = Terms(step_frac=1.0, max_rounds=5)
    assert negotiate(520.0, LIST, 520.0, 0.0, 1.0, wide).won  # needs 48%: a VP signs
    lost = negotiate(480.0, LIST, 480.0, 0.0, 1.0, wide)  # needs 52%: above every tier
    assert not lost.won and lost.discount_frac == APPROVAL_TIERS[-1]
    assert not negotiate(100.0, LIST, 100.0, 0.0, 1.0, wide).won  # list x10: out of reach


def test_approval_tiers_above_the_reps_own_cost_days():
    assert [approvals(d) for d in (0.0, 0.10, 0.11, 0.2, 0.3, 0.4, 0.5)] == [0, 0, 1, 1, 2, 3, 3]


def test_a_buyer_may_walk_at_each_counter_round():
    terms = Terms(step_frac=0.05, max_rounds=3, walk_prob=0.3)
    stays = negotiate(880.0, LIST, 880.0, 0.0, 0.35, terms, walk_draws=(0.9, 0.9, 0.9))
    walks = negotiate(880.0, LIST, 880.0, 0.0, 0.35, terms, walk_draws=(0.9, 0.1, 0.9))
    assert stays.won and not walks.won and walks.walked and walks.rounds == 2


@given(wtp=st.floats(100.0, 3000.0), signal=st.floats(100.0, 3000.0),
       opening=st.floats(0.0, 1.0), cap=st.floats(0.0, 1.0),
       step=st.floats(0.0, 0.5), rounds=st.integers(0, 5))
def test_offers_never_exceed_the_ceiling_and_the_price_never_the_willingness_to_pay(
        wtp, signal, opening, cap, step, rounds):
    n = negotiate(wtp, LIST, signal, opening, cap, Terms(step, rounds, 0.0))
    assert n.discount_frac <= min(cap, APPROVAL_TIERS[-1]) + 1e-12
    assert n.rounds <= rounds
    if n.won:
        assert LIST * (1 - n.discount_frac) <= wtp + 1e-6


def test_decide_books_the_quarter_end_share_and_the_need():
    d = decide(0.1, 900.0, LIST, 0.3, 0.35, conceded_frac=0.15, quarter_end_frac=0.08)
    assert d.won and d.discount_frac == pytest.approx(0.15)
    assert d.quarter_end_frac == pytest.approx(0.08) and d.needed_frac == pytest.approx(0.10)
    assert not decide(0.9, 900.0, LIST, 0.3, 0.35).lost_on_price  # lost to the competition


# -- closed forms against the rule by Monte Carlo ------------------------------------------------

def _monte_carlo(opening, cap, terms, n=200_000, seed=5):
    g = np.random.default_rng(seed)
    wtp = WTP_MEDIAN * np.exp(g.normal(0, WTP_SIGMA, n))
    walks = g.random((n, terms.max_rounds))
    d0 = opening(g, n)
    res = [negotiate(float(w), LIST, float(w), float(o), cap, terms, tuple(u))
           for w, o, u in zip(wtp, d0, walks, strict=True)]
    won = np.array([r.won for r in res])
    disc = np.array([r.discount_frac for r in res])
    rounds = np.array([r.rounds for r in res], float)
    return won, disc[won], rounds


@pytest.mark.parametrize("cap,step,rounds,walk", [
    (0.3, 0.05, 3, 0.15), (0.2, 0.1, 2, 0.0), (1.0, 0.08, 4, 0.25), (0.35, 0.0, 3, 0.1)])
def test_closed_forms_with_a_fixed_opening_match_monte_carlo(cap, step, rounds, walk):
    terms = Terms(step, rounds, walk)
    won, disc, n_rounds = _monte_carlo(lambda g, n: np.full(n, 0.04), cap, terms, n=60_000)
    p = price_win_probability(0.04, cap, LIST, wtp_sf, terms)
    assert abs(won.mean() - p) < 4 * math.sqrt(p * (1 - p) / len(won))
    e = price_expected_discount(0.04, cap, LIST, wtp_sf, terms)
    assert abs(disc.mean() - e) < 4 * disc.std() / math.sqrt(len(disc)) + 1e-9
    r = expected_rounds(0.04, cap, LIST, wtp_sf, terms)
    assert abs(n_rounds.mean() - r) < 4 * n_rounds.std() / math.sqrt(len(n_rounds)) + 1e-9


def test_closed_forms_over_the_reps_draw_match_monte_carlo():
    terms = Terms(0.05, 3, 0.15)
    won, disc, _ = _monte_carlo(lambda g, n: g.beta(1.0, REP_B, n), 0.3, terms, n=60_000)
    p = average_over_openings(lambda d: price_win_probability(d, 0.3, LIST, wtp_sf, terms),
                              rep_ppf)
    assert abs(won.mean() - p) < 4 * math.sqrt(p * (1 - p) / len(won))
    e = average_over_openings(lambda d: price_win_probability(d, 0.3, LIST, wtp_sf, terms)
                              * price_expected_discount(d, 0.3, LIST, wtp_sf, terms),
                              rep_ppf) / p
    assert abs(disc.mean() - e) < 4 * disc.std() / math.sqrt(len(disc))


@pytest.mark.parametrize("cap", [0.1, 0.3])
def test_full_information_is_the_limit_of_the_negotiation(cap):
    """One unlimited step and no walk: the rule of earlier versions, ``min(cap, max(need,
    D))``, and its closed forms."""
    terms = Terms()
    p = average_over_openings(lambda d: price_win_probability(d, cap, LIST, wtp_sf, terms),
                              rep_ppf)
    assert p == pytest.approx(win_probability_at_cap(1.0, wtp_sf, LIST, cap), rel=1e-9)
    e = average_over_openings(lambda d: price_win_probability(d, cap, LIST, wtp_sf, terms)
                              * price_expected_discount(d, cap, LIST, wtp_sf, terms),
                              rep_ppf) / p
    assert e == pytest.approx(expected_discount_given_won(cap, LIST, wtp_sf, rep_cdf), abs=1e-5)


# -- consequences, on common random numbers ------------------------------------------------------

def _deals(n=40_000, seed=9, sigma=0.25):
    g = np.random.default_rng(seed)
    wtp = WTP_MEDIAN * np.exp(g.normal(0, WTP_SIGMA, n))
    signal = wtp * np.exp(sigma * g.normal(0, 1, n))
    return wtp, signal, g.beta(1.0, REP_B, n), g.random((n, MAX_ROUNDS))


def _run(deals, cap, terms, opening_scale=1.0, list_usd=LIST):
    wtp, signal, d0, walks = deals
    return [negotiate(float(w), list_usd, float(s), float(o) * opening_scale, cap, terms,
                      tuple(u)) for w, s, o, u in zip(wtp, signal, d0, walks, strict=True)]


def test_a_looser_cap_wins_some_deals_and_leaks_price_on_those_won_anyway():
    deals = _deals()
    terms = Terms(0.07, 3, 0.15)
    tight, loose = _run(deals, 0.15, terms), _run(deals, 0.35, terms)
    won_t = np.array([r.won for r in tight])
    won_l = np.array([r.won for r in loose])
    assert won_l.sum() > won_t.sum()  # wins some
    both = won_t & won_l
    d_t = np.array([r.discount_frac for r in tight])[both]
    d_l = np.array([r.discount_frac for r in loose])[both]
    assert np.all(d_l >= d_t - 1e-12) and d_l.mean() > d_t.mean()  # discount creep


def test_without_the_reps_discretion_deals_are_lost():
    deals = _deals()
    terms = Terms(0.07, 3, 0.15)
    usual = np.array([r.won for r in _run(deals, 0.3, terms)])
    no_concession = np.array([r.won for r in _run(deals, 0.3, terms, opening_scale=0.0)])
    no_rounds = np.array([r.won for r in _run(deals, 0.3, Terms(0.0, 3, 0.15))])
    assert no_concession.sum() < usual.sum()
    assert no_rounds.sum() < usual.sum()


def test_list_price_has_an_interior_optimum_in_revenue_with_and_without_a_cap():
    deals = _deals()
    terms = Terms(0.07, 3, 0.15)
    for cap in (0.3, 1.0):
        revenue = []
        for f in (0.5, 1.0, 4.0, 10.0):
            res = _run(deals, cap, terms, list_usd=LIST * f)
            revenue.append(sum(LIST * f * (1 - r.discount_frac) for r in res if r.won))
        assert revenue[1] > max(revenue[0], revenue[2], revenue[3])
        assert revenue[3] == 0.0  # list x10: no buyer reachable


# -- the quarter-end pull-forward ----------------------------------------------------------------

def test_a_deal_due_early_next_quarter_may_be_pulled_into_this_ones_end():
    q = QUARTER_DAYS
    pulled = pull_forward(q - 30, q + 10, 21.0, 14.0, 0.1, 0.5, 0.4)
    assert pulled == pytest.approx(q - 7.0)
    assert pull_forward(q - 30, q + 10, 21.0, 14.0, 0.5, 0.5, 0.4) is None  # not offered
    assert pull_forward(q - 30, q + 25, 21.0, 14.0, 0.1, 0.5, 0.4) is None  # too late
    assert pull_forward(q + 1, q + 10, 21.0, 14.0, 0.1, 0.5, 0.4) is None  # started after
    assert pull_forward(q - 3, q + 10, 21.0, 14.0, 0.1, 0.0, 0.4) == pytest.approx(q - 3.0)
    for land in (0.0, 0.3, 0.999):
        t = pull_forward(q - 30, q + 1, 21.0, 14.0, 0.0, land, 0.4)
        assert q - 14.0 <= t < q


# -- incentives ----------------------------------------------------------------------------------

@given(k=st.floats(0.1, 10.0))
def test_the_effort_index_is_zero_one_and_concave(k):
    g = [effort_index(c, 0.1, k) for c in (0.0, 0.05, 0.1, 0.15, 0.2, 0.4)]
    assert g[0] == 0.0 and g[2] == 1.0
    gains = np.diff(g)  # the first four points are evenly spaced
    assert np.all(gains > 0)
    assert gains[1] > gains[2] > gains[3] and g[-1] < 1 / (1 - math.exp(-k)) + 1e-12
    assert response(g[0], 0.25) == pytest.approx(0.75) and response(g[2], 0.25) == 1.0


# -- each deal's draws ---------------------------------------------------------------------------

def _price(rep):
    return SegmentPrice(list_price_usd=LIST, discount_cap_frac=0.3, rep_discount_frac=rep)


def test_a_deals_draws_are_its_own_and_common_to_every_what_if():
    """Engine 3: a batch of deals' draws, one stream per kind; a changed concession
    distribution moves no other draw, and the same streams give the same draws."""
    def streams():
        return {name: np.random.default_rng([7, i]) for i, name in enumerate(DEAL_DRAWS)}

    a = draw_deals(streams(), _price(Beta(dist="beta", a=2.0, b=20.0)), 5)
    b = draw_deals(streams(), _price(Fixed(value=0.0)), 5)
    assert len(a) == 5 and all(len(d.walk_u) == MAX_ROUNDS for d in a)
    assert [d[:5] for d in a] == [d[:5] for d in b]  # only the concession differs
    assert all(d.rep_draw_frac == 0.0 for d in b) and len({d.rep_draw_frac for d in a}) == 5
    assert a == draw_deals(streams(), _price(Beta(dist="beta", a=2.0, b=20.0)), 5)
    assert a[0].signal_z != a[1].signal_z  # each deal its own draws
    # the first deals of a longer batch get the same draws (the i-th opportunity's are its own)
    assert draw_deals(streams(), _price(Fixed(value=0.0)), 8)[:5] == b
    # Python floats, not numpy scalars (cheap scalar arithmetic in the engine)
    assert type(a[0].signal_z) is float and type(a[0].walk_u[0]) is float
    assert type(a[0].rep_draw_frac) is float
