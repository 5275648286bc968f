"""Value created: the closed forms of the ending base's customer equity against hand-built
and Monte Carlo cases, and the engine's ending base against its own ledger."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.analysis.value import (
    annuity,
    customer_equity,
    discounted_months,
    ending_base_frame,
    renewal_sum,
    value_kpis,
)
from sim.engine.retention_math import ChurnLaw, churn_law
from sim.experiments.experiment import compare
from sim.experiments.replication import simulate
from sim.scenario.io import load_scenario, with_overrides

BASELINE = "scenarios/baseline.yaml"


def test_geometric_law_has_the_textbook_discounted_lifetime():
    # monthly contract, churn 10% a month, just acquired: pays month 1 for sure, then
    # survives each month with 0.9, so R = A(1) Σ (0.9 e^-ρ)^k = A(1) / (1 - 0.9 e^-ρ)
    law = ChurnLaw(1, theta=0.1)
    rho = math.log(1.12) / 12
    a1 = (1 - math.exp(-rho)) / rho
    expected = a1 / (1 - 0.9 * math.exp(-rho))
    assert discounted_months(law, 0.0, rho, cap_months=None) == pytest.approx(expected, rel=1e-12)
    # with no discount the expected lifetime of a geometric law is 1/θ = 10 months
    assert discounted_months(law, 0.0, 1e-9, cap_months=600) == pytest.approx(10.0, rel=1e-6)


def test_truncated_sums_match_term_by_term():
    for law in (ChurnLaw(12, theta=0.2), churn_law(0.8, 3.0, 12), churn_law(0.6, 2.0, 1)):
        for n in (0, 3):
            x = 0.93
            k = np.arange(0, 41)
            p = np.exp(np.asarray(law.log_survival(n + k)) - law.log_survival(n))
            assert renewal_sum(law, n, x, 40) == pytest.approx(float(np.sum(p * x ** k)),
                                                               rel=1e-10)
            k = np.arange(0, 5000)
            p = np.exp(np.asarray(law.log_survival(n + k)) - law.log_survival(n))
            assert renewal_sum(law, n, x) == pytest.approx(float(np.sum(p * x ** k)), rel=1e-8)


@pytest.mark.parametrize("cap", [None, 120])
def test_sbg_discounted_residual_lifetime_matches_a_monte_carlo_of_the_law(cap):
    # a cohort acquired at age 0 on an annual sBG law; the survivors at age 30 months (two
    # renewals survived) are valued by the closed form (posterior Beta(α, β + 2)); the Monte
    # Carlo draws θ from the prior and simulates renewals, so it also checks the posterior
    law = churn_law(0.75, 1.5, 12)
    rho = math.log(1.10) / 12
    age = 30.0
    closed = discounted_months(law, age, rho, cap_months=cap)
    rng = np.random.default_rng(7)
    theta = rng.beta(law.alpha, law.beta, 400_000)
    survived_two = rng.random((2, theta.size)) >= theta
    theta = theta[survived_two.all(axis=0)]
    tau = 36 - age
    horizon = 2000 if cap is None else cap
    value = np.full(theta.size, annuity(tau, rho))
    alive = np.ones(theta.size, dtype=bool)
    start = tau
    while start + 12 <= horizon + 1e-9:
        alive &= rng.random(theta.size) >= theta
        value += alive * math.exp(-rho * start) * annuity(12, rho)
        start += 12
    se = value.std(ddof=1) / math.sqrt(value.size)
    assert abs(value.mean() - closed) < 4 * se
    assert se < 0.01 * closed  # the check has power


def test_engine_ending_base_is_the_ledgers_ending_book():
    sc = with_overrides(load_scenario(BASELINE), {"horizon_months": 12})
    res = simulate(sc, seed=3)
    eb = res.ending_base
    assert len(eb) == res.monthly["customers"].iloc[-1]
    assert eb["arr"].sum() == pytest.approx(res.monthly["arr"].iloc[-1], rel=1e-12)
    by_seg = res.by_segment[res.by_segment["month"] == 12].set_index("segment")["arr"]
    assert eb.groupby("segment")["arr"].sum().to_dict() == pytest.approx(by_seg.to_dict())
    assert (eb["age_months"] >= 0).all()
    kp = value_kpis(eb, sc, 1_000.0)
    assert kp["customer_equity_usd"] > 0
    assert kp["value_created_usd"] > 1_000.0
    equity = customer_equity(eb, sc)
    assert equity["total"] == pytest.approx(sum(v for k, v in equity.items() if k != "total"))


def test_no_customers_at_the_end_means_value_is_the_npv():
    sc = load_scenario(BASELINE)
    empty = ending_base_frame([], list(sc.segments), {})
    kp = value_kpis(empty, sc, -123_456.0)
    assert kp["customer_equity_usd"] == 0.0
    assert kp["value_created_usd"] == -123_456.0


def test_more_churn_or_a_higher_rate_lowers_equity():
    sc = load_scenario(BASELINE)
    res = simulate(with_overrides(sc, {"horizon_months": 6}), seed=1)
    base = customer_equity(res.ending_base, sc)["total"]
    churny = with_overrides(sc, {f"segments.{s}.logo_retention_12m_frac": 0.5
                                 for s in sc.segments})
    dear = with_overrides(sc, {"finance.discount_rate_per_year_frac": 0.3})
    assert customer_equity(res.ending_base, churny)["total"] < base
    assert customer_equity(res.ending_base, dear)["total"] < base


@pytest.mark.slow
def test_csm_x2_value_created_weighs_the_ending_book():
    # the CSM x2 plan: lower operating profit over the horizon, a bigger ending book;
    # value created must see the book (paired runs, common random numbers)
    base = with_overrides(load_scenario(BASELINE), {"horizon_months": 24})
    csm2 = with_overrides(base, {"headcount.csm.count": 2 * base.headcount.csm.count},
                          name="csm_x2")
    res = compare(base, [csm2], replications=3, seed=0, executor="serial")
    d = res.deltas.set_index("kpi")["mean_delta"]
    assert d["ending_arr"] > 0
    assert d["value_created_usd"] > d["npv_operating_profit"]
    for r in res.results:
        k = r.kpis
        assert (k["value_created_usd"] >= k["npv_operating_profit"]).all()
        gap = (k["value_created_usd"] - k["npv_operating_profit"]).to_numpy(float)
        assert gap == pytest.approx(k["customer_equity_usd"].to_numpy(float))
