"""The churn parameterisation, the seasoned installed base, the renewal rules and the opening
receivables against closed forms and brute-force simulation (tolerance 4 standard errors)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.engine.retention import renewal_churn_probability, renewals_before_churn
from sim.engine.retention_math import (
    LIFETIME_CAP_MONTHS,
    SegmentRetention,
    churn_law,
    expected_opening_receivables,
    monthly_invoice_ages,
    outstanding_at_start,
    renewal_outcome,
)
from sim.units import MONTH_DAYS

# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("r12, kappa", [(0.75, 3.0), (0.9, 0.5), (0.6, 20.0), (0.99, 4.0)])
def test_monthly_law_keeps_the_given_share_after_12_renewals(r12, kappa):
    law = churn_law(r12, kappa, 1)
    assert law.alpha + law.beta == pytest.approx(kappa)
    # S(12) = B(a, b + 12) / B(a, b) = prod_{i<12} (b + i) / (a + b + i)
    prod = np.prod([(law.beta + i) / (law.alpha + law.beta + i) for i in range(12)])
    assert prod == pytest.approx(r12, abs=1e-10)
    assert law.retention_12m() == pytest.approx(r12, abs=1e-10)


def test_homogeneous_monthly_law_is_the_twelfth_root():
    law = churn_law(0.8, None, 1)
    assert not law.heterogeneous
    assert law.theta == pytest.approx(1 - 0.8 ** (1 / 12))
    assert law.survival(12) == pytest.approx(0.8)


@pytest.mark.parametrize("term", [12, 24, 36])
def test_term_laws_read_the_retention_as_yearly(term):
    """A T-month term keeps r^(T/12) of a new cohort at its first renewal."""
    law = churn_law(0.9, 4.0, term)
    assert law.beta / (law.alpha + law.beta) == pytest.approx(0.9 ** (term / 12))
    assert law.survival(1) == pytest.approx(0.9 ** (term / 12))
    assert law.survival_months(term - 0.5) == 1.0
    assert law.retention_12m() == pytest.approx(0.9)


def test_edges_are_degenerate_laws():
    assert churn_law(1.0, 3.0, 1).theta == 0.0
    assert churn_law(0.0, 3.0, 12).theta == 1.0
    assert churn_law(0.0, 3.0, 1).survival(1) == 0.0
    with pytest.raises(ValueError):
        churn_law(1.2, 3.0, 1)


def test_survival_matches_simulated_cohort():
    """S(n) of a Beta-heterogeneous cohort against 200,000 simulated accounts."""
    law = churn_law(0.75, 3.0, 1)
    gen = np.random.default_rng(1)
    theta = gen.beta(law.alpha, law.beta, 200_000)
    first_churn = gen.geometric(theta)  # renewal at which each account leaves
    for n in (1, 6, 12, 24, 48):
        got = np.mean(first_churn > n)
        want = law.survival(n)
        se = math.sqrt(want * (1 - want) / len(theta))
        assert abs(got - want) < 4 * se, (n, got, want)


def test_expected_lifetime_closed_forms():
    c = 0.03
    law = churn_law((1 - c) ** 12, None, 1)
    cap = LIFETIME_CAP_MONTHS
    assert law.expected_lifetime_months() == pytest.approx((1 - (1 - c) ** cap) / c)
    annual = churn_law(0.9, None, 12)
    assert annual.expected_lifetime_months() == pytest.approx(12 * sum(0.9**n for n in range(10)))
    # heterogeneity with alpha < 1: the untruncated mean diverges, the truncated one grows
    het = churn_law(0.75, 1.0, 1)
    assert het.alpha < 1
    assert het.expected_lifetime_months(240) > het.expected_lifetime_months(120) + 20


def test_segment_mix_and_installed_shares():
    """Survivors of a business N months old mix contracts by share x expected survivors per
    new account: for homogeneous monthly churn c that is (1 - (1-c)^N) / c."""
    m = churn_law(0.6, None, 1)
    a = churn_law(0.9, None, 12)
    seg = SegmentRetention((m, a), (0.5, 0.5))
    c = m.theta
    wm = (1 - (1 - c) ** 60) / c
    wa = 12 * sum(0.9**n for n in range(5))
    assert seg.installed_shares(60) == pytest.approx([wm / (wm + wa), wa / (wm + wa)])
    assert seg.expected_lifetime_months() == pytest.approx(
        0.5 * m.expected_lifetime_months() + 0.5 * a.expected_lifetime_months())
    assert seg.survival_months(12) == pytest.approx(0.5 * 0.6 + 0.5 * 0.9)


# --------------------------------------------------------------------------- seasoned base


@pytest.mark.parametrize("term, r12, kappa", [(1, 0.7, 2.0), (12, 0.85, 3.0), (36, 0.9, 4.0)])
def test_exact_tenure_sampler_matches_brute_force(term, r12, kappa):
    """Brute force: accounts acquired uniformly over N months, theta from the prior, each
    renewal survived with 1 - theta; the survivors' renewals survived, ages and theta match
    the exact sampler (n from length x S(n), then Beta(a, b + n))."""
    N = 60.0
    law = churn_law(r12, kappa, term)
    gen = np.random.default_rng(7)
    k = 400_000
    age = gen.uniform(0, N, k)
    n = np.floor(age / term + 1e-9).astype(int)
    theta = gen.beta(law.alpha, law.beta, k)
    alive = gen.random(k) < (1 - theta) ** n
    bf_age, bf_n, bf_theta = age[alive], n[alive], theta[alive]
    assert alive.mean() == pytest.approx(law.tenure_weight(N) / N, rel=0.02)

    rng = random.Random(3)
    draws = [law.sample_tenure(rng, N) for _ in range(40_000)]
    ex_age = np.array([d[0] for d in draws])
    ex_n = np.array([d[1] for d in draws])
    ex_theta = np.array([law.sample(rng, int(x)) for x in ex_n])
    assert (np.floor(ex_age / term + 1e-9) == ex_n).all()
    for what, a, b in (("age", bf_age, ex_age), ("theta", bf_theta, ex_theta),
                       ("renewals", bf_n, ex_n)):
        se = math.sqrt(a.var() / len(a) + b.var() / len(b))
        assert abs(a.mean() - b.mean()) < 4 * se, (what, a.mean(), b.mean())
    # survivors are less churn-prone than new accounts
    assert ex_theta.mean() < law.theta


@pytest.mark.parametrize("term, age", [(1, 18.5), (12, 30.0)])
def test_seasoned_account_follows_conditional_survival(term, age):
    """theta ~ Beta(a, b + n(a)) for an account of age a: its chance to survive t more months
    is S(n(a + t)) / S(n(a)) (sBG conditional survival)."""
    law = churn_law(0.7, 2.0, term)
    n0 = int(age // term)
    rng = random.Random(11)
    theta = np.array([law.sample(rng, n0) for _ in range(100_000)])
    for t in (6, 12, 24):
        more = int((age + t) // term) - n0
        got = np.mean((1 - theta) ** more)
        want = law.conditional_survival(age, t)
        assert want == pytest.approx(law.survival(n0 + more) / law.survival(n0))
        se = np.std((1 - theta) ** more) / math.sqrt(len(theta))
        assert abs(got - want) < 4 * se + 1e-12, (t, got, want)
    # the fresh cohort would have survived less over the same months
    assert law.conditional_survival(age, 12) > law.survival(12 // term)


# --------------------------------------------------------------------------- renewal rules


def test_churners_leave_at_the_old_price_and_uplift_applies_to_renewers_only():
    u = 0.1
    churned = renewal_outcome(12_000.0, 0.3, 0.1, contracts=False, cut_arr=0.0, uplift_frac=u)
    assert not churned.renewed and churned.churned_arr == 12_000.0
    assert churned.expansion_arr == 0.0
    kept = renewal_outcome(12_000.0, 0.3, 0.5, contracts=True, cut_arr=2_000.0, uplift_frac=u)
    assert kept.renewed and kept.churned_arr == 0.0
    assert kept.contraction_arr == 2_000.0
    assert kept.expansion_arr == pytest.approx(u * 10_000.0)
    assert kept.arr_after == pytest.approx(11_000.0)
    # a churning account never also contracts
    both = renewal_outcome(12_000.0, 1.0, 0.5, contracts=True, cut_arr=2_000.0, uplift_frac=u)
    assert both.contraction_arr == 0.0 and both.churned_arr == 12_000.0


def test_uplift_response_only_at_the_priced_renewal():
    # the priced renewal adds the step's hazard; the renewals between anniversaries do not
    q_up = renewal_churn_probability(0.05, 1.0, price_churn=0.1)
    q_next = renewal_churn_probability(0.05, 1.0)
    assert q_up == pytest.approx(1 - 0.95 * 0.9)
    assert q_next == pytest.approx(0.05)
    assert renewal_churn_probability(0.2, 1.0, renewal_factor=0.5) == pytest.approx(0.6)


def test_geometric_block_survival():
    """P(survive the first two renewals of a block) = (1 - q)^2."""
    q, n = 0.2, 200_000
    rng = random.Random(5)
    k = np.array([min(4, renewals_before_churn(rng.random(), q, 3)) for _ in range(n)])
    assert k.min() >= 1
    got = np.mean(k > 2)
    se = math.sqrt(0.64 * 0.36 / n)
    assert abs(got - 0.64) < 4 * se
    assert renewals_before_churn(0.5, 1.0, 3) == 1
    assert renewals_before_churn(0.5, 0.0, 3) == 4


# --------------------------------------------------------------------------- receivables


def test_opening_receivables_expectation_matches_simulation():
    """Annual invoices at uniform ages within the billing year and monthly invoices at
    (k + 1/2) months: simulated receivables at day 0 average to sum amount x P(lag > age)."""
    lag = stats.gamma(4, scale=10)
    assert outstanding_at_start(30.0, 45.0) == pytest.approx(15.0)
    assert outstanding_at_start(50.0, 45.0) is None
    gen = np.random.default_rng(2)
    annual = [(10_000.0, e) for e in gen.uniform(0, 365.25, 300)]
    monthly_arr = 1_200_000.0
    want = expected_opening_receivables(annual, monthly_arr, lag.sf)
    ages = monthly_invoice_ages()
    totals = []
    for _ in range(4000):
        lags = lag.rvs(len(annual) + len(ages), random_state=gen)
        ar = sum(a for (a, e), x in zip(annual, lags, strict=False) if outstanding_at_start(e, x) is not None)
        ar += sum(monthly_arr / 12 for e, x in zip(ages, lags[len(annual):], strict=True)
                  if outstanding_at_start(e, x) is not None)
        totals.append(ar)
    se = np.std(totals) / math.sqrt(len(totals))
    assert abs(np.mean(totals) - want) < 4 * se, (np.mean(totals), want)
    assert ages[0] == pytest.approx(MONTH_DAYS / 2)


# --------------------------------------------------------------------------- scenario view


def test_baseline_implied_lifetimes_follow_the_benchmarks():
    """The baseline's churn inputs imply lifetimes ordered SMB < mid-market < enterprise
    (docs/saas-benchmarks.md S9: churn falls as ACV rises), and the report's curve is each
    segment's contract laws mixed by new-deal share."""
    import sim
    from sim.engine.retention_math import implied_retention, segment_laws
    from sim.report.tables import implied_retention_table

    sc = sim.load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml")
    t = pd.DataFrame.from_dict(implied_retention(sc), orient="index")
    life = t["expected_lifetime_months"]
    assert life["smb"] < life["mid_market"] < life["enterprise"], life
    for name, seg in sc.segments.items():
        mix = segment_laws(seg)
        want = sum(o.share_frac * law.survival_months(12)
                   for o, law in zip(seg.contracts, mix.laws, strict=True))
        assert t.loc[name, "retained_12m_frac"] == pytest.approx(want)
        assert (np.diff(t.loc[name].filter(like="retained").to_numpy()) <= 1e-12).all()
    shown = implied_retention_table(sc)
    assert shown.loc["smb", "Retained after 12 months"] == t.loc["smb", "retained_12m_frac"]
