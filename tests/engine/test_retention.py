"""Retention rules: health, coverage, over-WTP churn, the renewal probability, and the
monthly contracts' geometric renewal block against one draw a month."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.engine.retention import (
    coverage_factor,
    health,
    over_wtp_churn_probability,
    renewal_churn_probability,
    renewals_before_churn,
)


def test_on_time_onboarding_leaves_health_at_the_coverage_factor():
    assert health(30.0, 45.0, 3.0, 0.5, cs_factor=1.2) == pytest.approx(1.2)


def test_late_onboarding_raises_churn_up_to_the_cap():
    assert health(90.0, 45.0, 3.0, 0.5, cs_factor=1.0) == pytest.approx(1.5)  # 100% late
    assert health(4500.0, 45.0, 3.0, 0.5, cs_factor=1.0) == 3.0
    assert health(90.0, 45.0, 3.0, 0.5, 1.0, stakeholder_factor=0.5) == pytest.approx(0.75)


def test_coverage_factor_is_clamped_and_off_at_zero_elasticity():
    assert coverage_factor(20.0, 10.0, 0.5, 0.5, 3.0) == pytest.approx(math.sqrt(2))
    assert coverage_factor(1000.0, 1.0, 1.0, 0.5, 3.0) == 3.0
    assert coverage_factor(0.0, 0.0, 0.0, 0.5, 3.0) == 1.0  # no team, no customers, off


def test_over_wtp_churn_is_zero_below_the_reference_and_near_certain_far_above():
    # reference = willingness to pay + switching cost = 100 + 20
    assert over_wtp_churn_probability(120.0, 100.0, 20.0, 0.1) == 0.0
    assert over_wtp_churn_probability(132.0, 100.0, 20.0, 0.1) == pytest.approx(1 - math.exp(-1))
    assert over_wtp_churn_probability(180.0, 100.0, 20.0, 0.1) > 0.999
    assert over_wtp_churn_probability(100.0, 0.0, 0.0, 0.1) == 1.0


def test_renewal_churn_probability_rule():
    assert renewal_churn_probability(0.1, 1.5) == pytest.approx(0.15)
    assert renewal_churn_probability(0.5, 3.0) == 1.0  # at most certain
    # the price's churn is an independent hazard
    assert renewal_churn_probability(0.1, 1.0, price_churn=0.3) == pytest.approx(1 - 0.9 * 0.7)
    # champion gone, no backup: renewal odds x 0.5
    assert renewal_churn_probability(0.1, 1.0, renewal_factor=0.5) == \
        pytest.approx(1 - 0.9 * 0.5)


def test_renewal_churn_probability_rises_with_health_factor():
    qs = [renewal_churn_probability(0.1, h, 0.03) for h in (0.5, 1.0, 1.5, 2.0)]
    assert qs == sorted(qs) and len(set(qs)) == 4


def test_block_edges():
    assert renewals_before_churn(0.5, 1.0, 3) == 1
    assert renewals_before_churn(0.999, 0.0, 3) == 4
    assert renewals_before_churn(0.0, 0.3, 3) == 1  # u = 0: churns at once


CHI2_999_DF3 = 16.266  # 99.9% quantile of chi-square with 3 degrees of freedom


def _chi2(observed: np.ndarray, expected: np.ndarray) -> float:
    return float(((observed - expected) ** 2 / expected).sum())


def _monthly_draws(q: float, block: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Month of the first churn drawing one Bernoulli(q) a month; block + 1 if none."""
    churned = rng.random((n, block)) < q
    return np.where(churned.any(axis=1), churned.argmax(axis=1) + 1, block + 1)


@pytest.mark.parametrize("q", [0.02, 0.1, 0.35])
def test_geometric_block_has_the_distribution_of_monthly_draws(q):
    block, n = 3, 200_000
    rng = np.random.default_rng(12)
    geometric = np.array([min(renewals_before_churn(u, q, block), block + 1)
                          for u in rng.random(n)])
    monthly = _monthly_draws(q, block, n, rng)
    counts_g = np.bincount(geometric, minlength=block + 2)[1:]
    counts_m = np.bincount(monthly, minlength=block + 2)[1:]
    # both against the closed form q(1-q)^(k-1), and (1-q)^block for renewing the block
    probs = np.array([q * (1 - q) ** (k - 1) for k in range(1, block + 1)] + [(1 - q) ** block])
    assert _chi2(counts_g, n * probs) < CHI2_999_DF3
    assert _chi2(counts_m, n * probs) < CHI2_999_DF3


def test_the_block_test_can_fail():
    """A wrong churn probability is rejected by the same test."""
    block, n, q = 3, 200_000, 0.1
    rng = np.random.default_rng(12)
    geometric = np.array([min(renewals_before_churn(u, q * 1.1, block), block + 1)
                          for u in rng.random(n)])
    probs = np.array([q * (1 - q) ** (k - 1) for k in range(1, block + 1)] + [(1 - q) ** block])
    observed = np.bincount(geometric, minlength=block + 2)[1:]
    assert _chi2(observed, n * probs) > CHI2_999_DF3
