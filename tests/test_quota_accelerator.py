"""Issue 23: quota and accelerators move AE behaviour. Effort responds to the expected
marginal commission (the rate, times the accelerator with the chance an AE ends the running
quarter above quota), the quarter-end pull-forward rises with it, and the commission on new
ARR closed above quota is paid at the accelerated rate. Paired runs on common random numbers
(the same seed and replications), 36 months of the baseline."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from engine_helpers import from_baseline

import sim
from sim.engine.pricing import (
    accelerated_pull_prob,
    attainment_shares,
    marginal_commission,
)
from sim.engine.sales import _rescaled, sales_effort

REPS = 3
HORIZON = 36
QUOTA = {"smb": 650000.0, "mid_market": 750000.0, "enterprise": 800000.0}  # baseline.yaml


def _quota(factor: float) -> dict:
    return {f"sales.teams.{t}.quota_new_arr_per_year_usd": q * factor for t, q in QUOTA.items()}


@cache
def runs(over: tuple = ()) -> dict[str, np.ndarray]:
    """Per replication: deals won, deals in the last month of a quarter, sales commission,
    new ARR, ramped AEs (mean of team-months) and the monthly table."""
    sc = from_baseline(dict(over), horizon=HORIZON)
    out: dict[str, list] = {}
    for r in range(REPS):
        res = sim.simulate(sc, seed=0, replication=r)
        m = res.monthly
        won = m["deals_won"].to_numpy()
        last = ((m["month"] - 1) % 3 == 2).to_numpy()
        row = {"won": won.sum(), "quarter_end": won[last].sum(),
               "commission": m["sales_commission"].sum(), "new_arr": m["new_arr"].sum(),
               "ramped_ae": res.by_team["ramped_ae"].mean(), "monthly": m}
        for k, v in row.items():
            out.setdefault(k, []).append(v)
    return {k: (v if k == "monthly" else np.array(v)) for k, v in out.items()}


ACC2 = (("sales.accelerator_multiplier", 2.0),)


@pytest.mark.slow
def test_the_defaults_leave_the_baseline_unchanged():
    """No accelerator (the default, 1x) is today's flat rate: stated explicitly, or with any
    quota, every number is the baseline's (quota alone pays nothing at a flat rate)."""
    base = runs()
    for over in ((("sales.accelerator_multiplier", 1.0),), tuple(sorted(_quota(5.0).items()))):
        other = runs(over)
        for a, b in zip(base["monthly"], other["monthly"], strict=True):
            num = a.select_dtypes("number").columns
            assert a[num].equals(b[num]), over


def test_an_accelerator_wins_more_deals_pulls_them_into_quarter_end_and_costs_commission():
    base, acc = runs(), runs(ACC2)
    assert acc["won"].sum() > base["won"].sum()
    assert np.all(acc["quarter_end"] > base["quarter_end"])
    assert acc["quarter_end"].sum() > 1.04 * base["quarter_end"].sum()
    assert np.all(acc["commission"] > base["commission"])
    # dearer per dollar too: the ARR closed above quota is paid the accelerated rate
    assert np.all(acc["commission"] / acc["new_arr"] > base["commission"] / base["new_arr"])


def test_an_unreachable_quota_makes_the_accelerator_worthless():
    """Same accelerator, quota x5: hardly any AE reaches it, so fewer deals and more AE
    departures (fewer ramped AEs) than at the plan's quota, about the flat rate's."""
    acc, far = runs(ACC2), runs(tuple(sorted({**dict(ACC2), **_quota(5.0)}.items())))
    assert far["won"].sum() < acc["won"].sum()
    assert far["quarter_end"].sum() < acc["quarter_end"].sum()
    assert far["ramped_ae"].mean() < acc["ramped_ae"].mean()
    base = runs()
    assert abs(far["won"].sum() - base["won"].sum()) < 0.005 * base["won"].sum()


@pytest.mark.parametrize("mean", [0.3, 0.8, 1.0, 1.5])
@pytest.mark.parametrize("sigma", [0.3, 0.8])
def test_attainment_shares_match_a_lognormal_sample(mean, sigma):
    rng = np.random.default_rng(7)
    a = mean * np.exp(sigma * rng.standard_normal(400_000) - sigma ** 2 / 2)
    got = attainment_shares(mean, sigma)
    assert got.above_frac == pytest.approx(np.mean(a >= 1), abs=0.004)
    assert got.excess_frac == pytest.approx(np.maximum(a - 1, 0).sum() / a.sum(), abs=0.004)


def test_attainment_edges_and_the_s5_calibration():
    assert attainment_shares(0.0, 0.5) == (0.0, 0.0)  # no sales yet
    assert attainment_shares(math.nan, 0.5) == (0.0, 0.0)
    # S5: about a quarter to a third of AEs reach quota at a team mean of 80-90%
    assert 0.20 <= attainment_shares(0.8, 0.5).above_frac <= 0.33
    assert 0.20 <= attainment_shares(0.9, 0.5).above_frac <= 0.34


def test_no_accelerator_is_exactly_the_flat_rate():
    for above in (0.0, 0.3, 1.0):
        assert marginal_commission(0.1, 1.0, above) == 0.1
        assert accelerated_pull_prob(0.4, 1.0, above, 2.0) == 0.4
    assert marginal_commission(0.1, 2.0, 0.5) == pytest.approx(0.15)
    assert accelerated_pull_prob(0.4, 2.0, 0.5, 2.0) == pytest.approx(0.8)
    assert accelerated_pull_prob(0.4, 3.0, 1.0, 2.0) == 1.0


def test_effort_rises_with_the_chance_of_reaching_quota():
    sales = from_baseline({"sales.accelerator_multiplier": 2.0}).sales
    low, high = sales_effort(sales, 0.0), sales_effort(sales, 0.5)
    assert high.win_mult > low.win_mult == 1.0
    assert high.cycle_mult < low.cycle_mult == 1.0
    assert high.attrition_mult < low.attrition_mult == 1.0


def test_a_departure_moves_with_the_hazard():
    assert _rescaled(110.0, 100.0, 1.0, 2.0) == pytest.approx(105.0)  # twice the hazard
    assert _rescaled(110.0, 100.0, 1.0, 0.5) == pytest.approx(120.0)
    assert _rescaled(110.0, 100.0, 1.0, 0.0) == math.inf
    assert _rescaled(math.inf, 100.0, 1.0, 2.0) == math.inf
