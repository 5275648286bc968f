"""The engine against closed forms, averaged over seeded replications (tolerance 4 standard
errors).

Monthly convention of the model (``sim/engine/ledger.py``): month m covers days [(m-1)L, mL) with
L = 365.25/12; levels (customers, ARR) are reported at the end of the month (just before mL)
and revenue integrates ARR over the month. An opportunity arriving in month j on a 0-day sales
cycle becomes a customer in month j; a contract of T months signed at s comes up for renewal
at s + T*L, s + 2T*L, ...; so by the end of month t a customer won in month j has faced
floor((t - j)/T) renewals.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from engine_helpers import MONTH_DAYS, one_segment

import sim
from sim.analysis.metrics import funnel
from sim.engine.retention_math import churn_law

# --------------------------------------------------------------------------- Erlang C


def erlang_c(c: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue with offered load a = lambda/mu."""
    rho = offered / c
    top = offered**c / math.factorial(c) / (1 - rho)
    return top / (sum(offered**k / math.factorial(k) for k in range(c)) + top)


def test_erlang_c_formula_worked_example():
    """Textbook value: c = 2, a = 1 gives C = 1/3 (and c = 1 reduces to rho)."""
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(1, 0.7) == pytest.approx(0.7)


def _queue_table(scenario, seed: int, replication: int):
    """Monthly AE queue counts of one run: starts of service, total wait, starts that waited."""
    m = sim.simulate(scenario, seed=seed, replication=replication).monthly
    return m.set_index("month")


@pytest.mark.slow
def test_ae_queue_matches_erlang_c():
    """AE queue as M/M/c: Poisson opportunities (rate lam per day), exponential sales cycle
    (mean 1/mu), c = 10 AEs x 1 deal, no attrition or ramp, infinite patience; rho = 0.75.
    P(wait > 0) = C(c, a) and E[wait] = C(c, a) / (c mu - lam), read from the monthly table
    (starts that waited / starts, total wait / starts). The pipeline warm-up starts the queue
    in steady state; the first 3 months are still discarded (about 1.5 relaxation times,
    1/(c mu (1 - sqrt(rho))^2) ~ 55 days) to be safe. Little's law on the servers: busy AEs
    = start rate x mean cycle."""
    c, mean_cycle, lam = 10, 10.0, 0.75
    horizon, skip = 36, 3
    sc = one_segment(horizon=horizon, opps_per_month=lam * MONTH_DAYS, win_prob=0.0,
                     sales_cycle_days={"dist": "exponential", "mean": mean_cycle},
                     patience_days=1e7, ae_count=c, deals_per_ae=1)
    p_wait, mean_wait, busy = [], [], []
    for rep in range(16):
        m = _queue_table(sc, seed=11, replication=rep).loc[skip + 1:]
        assert (m["ae_wait_days_total"] >= 0).all(), "negative wait"
        assert (m["ae_starts_waited"] <= m["ae_starts"]).all()
        p_wait.append(m["ae_starts_waited"].sum() / m["ae_starts"].sum())
        mean_wait.append(m["ae_wait_days_total"].sum() / m["ae_starts"].sum())
        busy.append((m["ae_utilization"] * m["ae_capacity_slots"]).mean()
                    - m["ae_starts"].mean() / MONTH_DAYS * mean_cycle)

    mu = 1 / mean_cycle
    pc = erlang_c(c, lam / mu)
    wq = pc / (c * mu - lam)
    for got, want, what in ((p_wait, pc, "P(wait > 0)"), (mean_wait, wq, "mean wait"),
                            (busy, 0.0, "busy AEs - start rate x cycle")):
        est = np.mean(got)
        se = np.std(got, ddof=1) / math.sqrt(len(got))
        assert abs(est - want) < 4 * se, f"{what}: {est:.4f} vs {want:.4f} (se {se:.4f})"


def test_public_ae_wait_days_is_the_mean_wait_of_the_month():
    sc = one_segment(horizon=12, opps_per_month=0.64 * MONTH_DAYS, win_prob=0.0,
                     sales_cycle_days={"dist": "exponential", "mean": 10.0},
                     ae_count=8, deals_per_ae=1)
    m = _queue_table(sc, seed=3, replication=0)
    assert m["ae_starts"].sum() > 200
    np.testing.assert_allclose(m["ae_wait_days"], m["ae_wait_days_total"] / m["ae_starts"],
                               rtol=1e-12)
    yearly = funnel(m.reset_index())
    assert yearly.loc[1, "ae_wait_days"] == pytest.approx(
        m["ae_wait_days_total"].sum() / m["ae_starts"].sum())


# --------------------------------------------------------------------------- churning base


def _mean_customers(sc, reps: int, seed: int = 0) -> np.ndarray:
    runs = [sim.simulate(sc, seed=seed, replication=r).monthly["customers"] for r in range(reps)]
    return np.mean(runs, axis=0)


@pytest.mark.slow
def test_monthly_contracts_churning_base_follows_closed_form():
    """Poisson arrivals of lam new customers a month (win prob 1, 0-day cycle, no capacity
    limit) on month-to-month contracts with monthly churn c, every health factor neutral:
    E[customers at the end of month t] = sum_{i<t} lam (1-c)^i = (lam/c)(1 - (1-c)^t).
    Each arrival survives independently, so the count is Poisson: SE = sqrt(m_t / R)."""
    lam, c, reps, horizon = 60.0, 0.08, 6, 24
    sc = one_segment(horizon=horizon, opps_per_month=lam, term_months=1, monthly_churn=c)
    got = _mean_customers(sc, reps)
    t = np.arange(1, horizon + 1)
    want = lam / c * (1 - (1 - c) ** t)
    se = np.sqrt(want / reps)
    assert np.all(np.abs(got - want) < 4 * se), np.c_[t, got, want, se]


@pytest.mark.slow
def test_annual_contracts_with_renewal_probability_follow_closed_form():
    """12-month contracts renewing with probability r: a customer won in month j has faced
    floor((t-j)/12) renewals by the end of month t, so
    E[m_t] = lam * sum_{j=0}^{t-1} r^floor(j/12). Count is Poisson again."""
    lam, r, reps, horizon = 60.0, 0.75, 5, 36
    sc = one_segment(horizon=horizon, opps_per_month=lam, term_months=12, billing="annual",
                     renewal_prob=r)
    got = _mean_customers(sc, reps)
    want = np.cumsum([lam * r ** (j // 12) for j in range(horizon)])
    se = np.sqrt(want / reps)
    assert np.all(np.abs(got - want) < 4 * se), np.c_[got, want, se]


@pytest.mark.parametrize("term, billing", [(1, "monthly"), (12, "annual"), (24, "annual"),
                                           (36, "monthly")])
def test_constant_base_recognises_arr_over_12_every_month(term, billing):
    """No churn, no new leads, no price change: ARR is constant and revenue is ARR/12 in
    every month, to a cent, whatever the contract term or billing."""
    sc = one_segment(horizon=36, opps_per_month=0.0, installed=400, term_months=term,
                     billing=billing, monthly_churn=0.0, renewal_prob=1.0,
                     seats={"dist": "lognormal", "median": 20, "sigma": 0.5})
    res = sim.simulate(sc, seed=2)
    m = res.monthly
    arr0 = res.initial["arr"]
    assert arr0 > 0
    np.testing.assert_allclose(m["arr"], arr0, rtol=0, atol=0.01)
    np.testing.assert_allclose(m["revenue"], arr0 / 12, rtol=0, atol=0.01)
    assert (m["customers"] == 400).all()


# --------------------------------------------------------------------------- heterogeneity


def _installed_hazards(concentration, n: int = 5000, reps: int = 2, horizon: int = 18):
    """Monthly churn hazard of an installed cohort that is new at day 0 (every account half a
    month old: no renewal survived, first renewal in month 1; month-to-month, mean churn 0.1)
    and the number at risk each month, pooled over replications."""
    sc = one_segment(horizon=horizon, opps_per_month=0.0, installed=n, term_months=1,
                     monthly_churn=0.1, churn_concentration=concentration,
                     installed_age_months=0.5)
    alive = np.zeros(horizon + 1)
    for r in range(reps):
        res = sim.simulate(sc, seed=5, replication=r)
        cohort = res.cohorts[res.cohorts["cohort_month"] == 0].sort_values("month")
        alive += np.r_[res.initial["customers"], cohort["customers"].to_numpy()]
    at_risk = alive[:-1]
    return 1 - alive[1:] / at_risk, at_risk


def test_homogeneous_churn_keeps_the_retention_curve_flat():
    h, at_risk = _installed_hazards(None)
    se = np.sqrt(0.1 * 0.9 / at_risk)
    assert np.all(np.abs(h - 0.1) < 4 * se), h


def test_heterogeneous_churn_follows_shifted_beta_geometric():
    """12-month retention (1 - 0.1)^12 with concentration a + b = 1: the scenario's Beta(a, b)
    solves B(a, b + 12) / B(a, b) = 0.9^12, and the cohort's hazard in month t is
    a / (a + b + t - 1) (Fader & Hardie 2007, shifted-beta-geometric), so it falls with tenure
    while the homogeneous curve stays at 10%."""
    law = churn_law(0.9**12, 1.0, 1)
    a, b = law.alpha, law.beta
    assert a + b == pytest.approx(1.0)
    h, at_risk = _installed_hazards(a + b)
    t = np.arange(1, len(h) + 1)
    want = a / (a + b + t - 1)
    se = np.sqrt(want * (1 - want) / at_risk)
    assert np.all(np.abs(h - want) < 4 * se), np.c_[h, want, se]
    # 12 months of survivors: the hazard product matches the given 12-month retention
    assert np.prod(1 - want[:12]) == pytest.approx(0.9**12)
    assert h[12:].mean() < 0.25 * h[:3].mean()
