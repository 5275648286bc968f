"""Discounting and installed-base repricing in the running engine (issue 13, parts 4-5):
the simulation against the closed forms of ``sim.engine.pricing``, directions on common
random numbers, grandfathering and capped steps read from the event log, and the baseline's
enterprise discount against the published band."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from engine_helpers import (
    LIST,
    REP_B,
    WTP_MEDIAN,
    WTP_SIGMA,
    from_baseline,
    one_segment,
    rep_cdf,
    wtp_sf,
)

import sim
from sim.engine.model import Replication
from sim.engine.pricing import (
    Terms,
    average_over_openings,
    expected_discount_given_won,
    price_expected_discount,
    price_win_probability,
    win_probability_at_cap,
)

WIN_PROB = 0.5
REPS = 4
# the negotiation's full-information limit (reps know the need, one unlimited step, no walk):
# the closed forms of earlier versions hold exactly
FULL_INFO = {"walk_prob_per_round_frac": 0.0, "max_counter_rounds": 1,
             "approval_days_per_tier": 0.0, "segment": {
                 "wtp_signal_noise_frac": 0.0, "concession_step_frac": 1.0}}
# an exact signal with walks, three rounds of 5 points: the closed forms of the negotiation
ROUNDS = {"walk_prob_per_round_frac": 0.2, "max_counter_rounds": 3,
          "approval_days_per_tier": 1.0, "segment": {
              "wtp_signal_noise_frac": 0.0, "concession_step_frac": 0.05,
              "counter_round_days": 3.0}}
SETTINGS = {"full_info": FULL_INFO, "rounds": ROUNDS}


def rep_ppf(u):
    """Quantiles of the Beta(1, REP_B) concession."""
    return 1.0 - (1.0 - np.asarray(u, float)) ** (1 / REP_B)


@cache
def _deals(cap: float, setting: str = "full_info") -> tuple[np.ndarray, ...]:
    """Per replication: deals won, deals closed, mean discount of won deals (one seat each)."""
    terms = SETTINGS[setting]
    extra = {"segments.core.willingness_to_pay_usd": {
                 "dist": "lognormal", "median": WTP_MEDIAN, "sigma": WTP_SIGMA},
             "pricing.segments.core.discount_cap_frac": cap,
             "pricing.segments.core.rep_discount_frac": {"dist": "beta", "a": 1.0, "b": REP_B}}
    extra.update({f"pricing.{k}": v for k, v in terms.items() if k != "segment"})
    extra.update({f"pricing.segments.core.{k}": v for k, v in terms["segment"].items()})
    sc = one_segment(horizon=12, opps_per_month=400.0, win_prob=WIN_PROB, list_price=LIST,
                     extra=extra)
    won, closed, disc = [], [], []
    for r in range(REPS):
        m = sim.simulate(sc, seed=3, replication=r).monthly
        won.append(m["deals_won"].sum())
        closed.append(m["deals_won"].sum() + m["deals_lost"].sum())
        disc.append(m["discount_usd"].sum() / m["list_arr_won"].sum())
    return np.array(won), np.array(closed), np.array(disc)


@pytest.mark.slow
@pytest.mark.parametrize("cap", [0.1, 0.3])
def test_the_simulation_matches_the_full_information_closed_forms(cap):
    won, closed, disc = _deals(cap)
    p = WIN_PROB * win_probability_at_cap(1.0, wtp_sf, LIST, cap)
    n = closed.sum()
    assert abs(won.sum() / n - p) < 4 * math.sqrt(p * (1 - p) / n)
    e = expected_discount_given_won(cap, LIST, wtp_sf, rep_cdf)
    se = disc.std(ddof=1) / math.sqrt(REPS)
    assert abs(disc.mean() - e) < 4 * se + 0.002


@pytest.mark.slow
@pytest.mark.parametrize("cap", [0.1, 0.3])
def test_the_simulation_matches_the_negotiations_closed_forms(cap):
    """Rounds, walks and approval days running in the engine against ``P(win)`` and
    ``E[discount | won]`` of ``sim.engine.pricing`` averaged over the rep's opening draw."""
    won, closed, disc = _deals(cap, "rounds")
    seg = ROUNDS["segment"]
    terms = Terms(seg["concession_step_frac"], ROUNDS["max_counter_rounds"],
                  ROUNDS["walk_prob_per_round_frac"])
    p_price = average_over_openings(
        lambda d: price_win_probability(d, cap, LIST, wtp_sf, terms), rep_ppf)
    p = WIN_PROB * p_price
    n = closed.sum()
    assert abs(won.sum() / n - p) < 4 * math.sqrt(p * (1 - p) / n)
    e = average_over_openings(
        lambda d: price_win_probability(d, cap, LIST, wtp_sf, terms)
        * price_expected_discount(d, cap, LIST, wtp_sf, terms), rep_ppf) / p_price
    se = disc.std(ddof=1) / math.sqrt(REPS)
    assert abs(disc.mean() - e) < 4 * se + 0.002
    # the negotiation loses deals the full-information rule wins (walks, bounded rounds)
    won_full, closed_full, _ = _deals(cap)
    assert won.sum() / n < won_full.sum() / closed_full.sum()


def test_a_tighter_cap_lowers_the_win_rate_and_raises_the_net_price():
    won_t, closed_t, disc_t = _deals(0.1)
    won_l, closed_l, disc_l = _deals(0.3)
    assert won_t.sum() / closed_t.sum() < won_l.sum() / closed_l.sum()
    assert disc_t.mean() < disc_l.mean()  # net price = list x (1 - discount)


def test_reps_concede_discount_to_buyers_who_would_pay_list():
    sc = one_segment(horizon=6, opps_per_month=200.0, extra={
        "pricing.segments.core.discount_cap_frac": 0.5,
        "pricing.segments.core.rep_discount_frac": {"dist": "beta", "a": 1.0, "b": REP_B}})
    m = sim.simulate(sc, seed=1).monthly  # willingness to pay 1000x list: no cap pressure
    assert m["deals_lost"].sum() == 0
    assert m["discount_usd"].sum() / m["list_arr_won"].sum() == pytest.approx(
        1 / (1 + REP_B), abs=0.02)


def test_quarter_end_deals_get_the_extra_discount():
    extra = {"pricing.segments.core.discount_cap_frac": 0.5,
             "pricing.segments.core.rep_discount_frac": 0.1,
             "pricing.segments.core.quarter_end_extra_discount_frac": 0.2,
             "pricing.quarter_end_window_days": 14.0}
    ev = sim.simulate(one_segment(horizon=6, opps_per_month=100.0, extra=extra), seed=2,
                      events=True).events
    won = ev[ev["kind"] == "deal_won"]
    quarter_days = 365.25 / 4
    late = (won["time_days"] % quarter_days) >= quarter_days - 14.0
    assert late.any() and (~late).any()
    assert np.allclose(won.loc[late, "amount_usd"], LIST * 0.7)
    assert np.allclose(won.loc[~late, "amount_usd"], LIST * 0.9)


# -- the installed base --------------------------------------------------------------------------

NO_NEW_DEALS = {"channels.inbound.budget_per_month_usd": 0, "headcount.sdr.count": 0,
                "channels.partner.active_partners": 0,
                # nor the AEs' own deals (issue 24)
                **{f"sales.teams.{t}.self_sourced_share_frac": 0.0
                   for t in ("smb", "mid_market", "enterprise")}}
RAISE_8 = {f"pricing.segments.{s}.list_price_usd": p * 1.08
           for s, p in (("smb", 600), ("mid_market", 900), ("enterprise", 1200))}


def _installed(overrides: dict, policy: str | None = None, reps: int = 3):
    extra = dict(NO_NEW_DEALS, **overrides)
    if policy is not None:
        for s in ("smb", "mid_market", "enterprise"):
            extra[f"pricing.segments.{s}.installed_price_policy"] = policy
            extra[f"pricing.segments.{s}.installed_price_step_cap_frac"] = 0.05
    sc = from_baseline(extra, horizon=24)
    return [sim.simulate(sc, seed=5, replication=r) for r in range(reps)]


def test_grandfathering_leaves_the_installed_base_as_it_was():
    before = _installed({})
    after = _installed(RAISE_8, "grandfather")
    for a, b in zip(before, after, strict=True):
        assert a.monthly.equals(b.monthly)


def test_moving_the_installed_base_to_a_higher_list_raises_its_arr_and_its_churn():
    kept = _installed(RAISE_8, "grandfather")
    moved = _installed(RAISE_8, "step_to_list")
    arr = [sum(r.monthly["arr"].iloc[-1] for r in runs) for runs in (kept, moved)]
    churn = [sum(r.monthly["churned_customers"].sum() for r in runs) for runs in (kept, moved)]
    assert arr[1] > arr[0]
    assert churn[1] > churn[0]


def _renewal_increases(policy: str) -> tuple[list[float], ...]:
    """Price increase of each installed renewal, in renewal order per account."""
    sc = one_segment(horizon=40, opps_per_month=0.0, installed=300, term_months=12,
                     billing="annual", renewal_prob=0.95, extra={
                         "pricing.annual_uplift_frac": 0.04,
                         "pricing.segments.core.installed_list_price_usd": LIST / 1.08,
                         "pricing.segments.core.installed_price_policy": policy,
                         "pricing.segments.core.installed_price_step_cap_frac": 0.05,
                         "segments.core.installed_willingness_to_pay_usd": 1e7})
    ev = sim.simulate(sc, seed=4, events=True).events
    exp = ev[ev["kind"] == "expansion"].set_index(["account", "time_days"])["amount_usd"]
    ren = ev[ev["kind"] == "renewal"].sort_values("time_days")
    steps: dict[int, list[float]] = {}
    for r in ren.itertuples():
        up = exp.get((r.account, r.time_days), 0.0)
        steps.setdefault(r.account, []).append(up / (r.amount_usd - up))
    return tuple(steps.values())


def test_capped_steps_never_exceed_the_cap_and_reach_the_new_list():
    steps = _renewal_increases("step_to_list")
    assert len(steps) > 100
    first, second, third = 1.04 * 1.05 - 1, 1.04 * 1.08 / 1.05 - 1, 0.04
    for s in steps:
        assert max(s) <= first + 1e-9
        assert s == pytest.approx([first, second, third][:len(s)] + [third] * (len(s) - 3))
    assert any(len(s) >= 3 for s in steps)


def test_grandfathered_renewals_get_only_the_escalator():
    for s in _renewal_increases("grandfather"):
        assert s == pytest.approx([0.04] * len(s))


# -- the baseline ---------------------------------------------------------------------------------

def test_baseline_enterprise_discount_sits_in_the_published_band():
    sc = from_baseline({}, horizon=24)
    k = list(sc.segments).index("enterprise")
    listed = discount = 0.0
    for r in range(2):
        m = Replication(sc, seed=0, replication=r)
        m.run()
        listed += m.ledger.flows["list_arr_won"][:, k, :].sum()
        discount += m.ledger.flows["discount_usd"][:, k, :].sum()
    # negotiated enterprise discounts 18-42% off list (docs/saas-benchmarks.md section 4),
    # term discounts included
    assert listed > 0
    assert 0.18 <= discount / listed <= 0.42


# -- the sweep and the pricing notebook ----------------------------------------------------------

def test_the_pricing_sweep_shows_the_caps_trade_off():
    from sim.experiments.experiment import pricing_sweep
    from sim.report import tables as nbh

    grid = pricing_sweep(from_baseline({}, horizon=9), [0], [0.1, 0.35], replications=2)
    tight, loose = (grid[grid["discount_cap_frac"] == c].iloc[0] for c in (0.1, 0.35))
    assert tight["win_rate_frac"] < loose["win_rate_frac"]
    assert tight["avg_discount_frac"] < loose["avg_discount_frac"]
    table = nbh.discount_tradeoff_table(grid)
    assert list(table["Discount cap"]) == ["10%", "35%"]
    assert list(table["Average discount"]) == [f"{tight['avg_discount_frac']:.1%}",
                                               f"{loose['avg_discount_frac']:.1%}"]
