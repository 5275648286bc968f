"""A plan starts from a running business (issue 14): pipeline in flight, open receivables and a
seasoned installed base; and the renewal rules at a price anniversary.

Tolerances are Monte Carlo errors: 4 standard errors of a mean over replications (or of a
binomial proportion), never a hand-picked band.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from engine_helpers import (
    MONTH_DAYS,
    ROOT,
    check_events,
    check_identities,
    from_baseline,
    one_segment,
)

import sim
from sim.analysis.metrics import saas_metrics
from sim.engine.retention import step_churn_probability
from sim.engine.retention_math import churn_law

# --------------------------------------------------------------------------- stationarity

LAM, WIN, CYCLE, SLOTS = 30.0, 0.5, 20.0, 40
C_MONTHLY, R_ANNUAL = 0.03, 0.85


def _stationary(**opening):
    """One segment whose acquisition replaces churn exactly. LAM opportunities a month, won
    with probability WIN after an exponential cycle of CYCLE days on SLOTS AE slots (offered
    load LAM/L x CYCLE = 19.7 busy slots: no queue to speak of, infinite patience); half the
    wins on month-to-month contracts with churn C_MONTHLY a month, half on annual contracts
    billed yearly that renew with probability R_ANNUAL; no heterogeneity, price changes or
    health effects. In steady state a contract of survival S(a) holds flow x integral of S:
    LAM WIN/2 / C_MONTHLY = 250 monthly and LAM WIN/2 x 12 / (1 - R_ANNUAL) = 600 annual
    accounts; the installed base is those 850 accounts, seasoned as the survivors of a
    business selling at that rate for 600 months (the engine mixes its contracts 250:600)."""
    installed = round(LAM * WIN / 2 / C_MONTHLY + LAM * WIN / 2 * 12 / (1 - R_ANNUAL))
    return one_segment(
        horizon=36, opps_per_month=LAM, win_prob=WIN,
        sales_cycle_days={"dist": "exponential", "mean": CYCLE}, patience_days=1e7,
        ae_count=1, deals_per_ae=SLOTS, installed=installed, monthly_churn=C_MONTHLY,
        renewal_prob=R_ANNUAL,
        opening={"business_age_months": 600, **opening},
        extra={"segments.core.contracts": [
            {"term_months": 1, "billing": "monthly", "share_frac": 0.5},
            {"term_months": 12, "billing": "annual", "share_frac": 0.5}]})


def _series(sc, reps: int, seed: int = 1) -> dict[str, np.ndarray]:
    out: dict[str, list] = {k: [] for k in (
        "customers", "arr", "deals_won", "ae_utilization", "accounts_receivable",
        "logo_churn")}
    for r in range(reps):
        m = sim.simulate(sc, seed=seed, replication=r).monthly
        for k in out:
            if k == "logo_churn":
                prev = np.r_[850.0, m["customers"].to_numpy()[:-1]]
                out[k].append(m["churned_customers"].to_numpy() / prev)
            else:
                out[k].append(m[k].to_numpy(dtype=float))
    return {k: np.array(v) for k, v in out.items()}


def _ramp(x: np.ndarray) -> tuple[float, float, float]:
    """Per replication: mean of months 1-3 minus mean of months 13-36, and the slope over
    months 1-36; returns (ramp, its standard error, slope z)."""
    ramp = x[:, :3].mean(axis=1) - x[:, 12:].mean(axis=1)
    t = np.arange(1, x.shape[1] + 1)
    slope = np.array([np.polyfit(t, row, 1)[0] for row in x])
    se_r = ramp.std(ddof=1) / math.sqrt(len(ramp))
    se_s = slope.std(ddof=1) / math.sqrt(len(slope))
    return float(ramp.mean()), float(se_r), float(slope.mean() / se_s) if se_s > 0 else 0.0


@pytest.mark.slow
def test_stationary_business_is_flat_from_month_1():
    """Customers, ARR, deals won, AE utilisation, receivables and logo churn show no ramp
    (months 1-3 against 13-36) and no trend over months 1-36 beyond Monte Carlo error, and sit
    at their closed-form levels."""
    x = _series(_stationary(), reps=6)
    for name, series in x.items():
        ramp, se, z = _ramp(series)
        level = series[:, 12:].mean()
        assert abs(ramp) < 4 * se + 1e-3 * abs(level), (name, ramp, se, level)
        assert abs(z) < 4, (name, z)
    assert x["customers"].mean() == pytest.approx(850, rel=0.03)
    assert x["deals_won"].mean() == pytest.approx(LAM * WIN, rel=0.05)
    assert x["ae_utilization"].mean() == pytest.approx(LAM / MONTH_DAYS * CYCLE / SLOTS,
                                                      rel=0.05)
    # logo churn a month: monthly accounts churn C_MONTHLY, annual ones (1 - R)/12 on average
    assert x["logo_churn"].mean() == pytest.approx(
        (250 * C_MONTHLY + 600 * (1 - R_ANNUAL) / 12) / 850, rel=0.05)


def test_cold_start_ramp_is_detected():
    """The same check fails on a cold start (empty pipeline, no receivables): the test can
    fail, and it fails for the reasons of issue 14."""
    x = _series(_stationary(pipeline="empty", receivables="none"), reps=3)
    for name in ("deals_won", "ae_utilization", "accounts_receivable"):
        first = x[name][:, 0] - x[name][:, 12:].mean(axis=1)  # month 1 against 13-36
        se = first.std(ddof=1) / math.sqrt(len(first))
        assert first.mean() < -4 * se, (name, first.mean(), se)


# --------------------------------------------------------------------------- baseline


@pytest.fixture(scope="module")
def baseline_runs():
    sc = from_baseline(horizon=24)
    return [sim.simulate(sc, seed=0, replication=r) for r in range(6)]


@pytest.mark.slow
@pytest.mark.parametrize("column", ["deals_won", "ae_utilization", "cash_collected"])
def test_baseline_month_1_is_an_ordinary_month(baseline_runs, column):
    """Month 1 (mean over replications) lies within two month-to-month standard deviations of
    months 4-12 (a cold start gave 3 deals against ~21, 21% utilisation against ~87%, $0.2M
    cash against ~$2.3M)."""
    x = np.array([r.monthly[column].to_numpy(dtype=float) for r in baseline_runs])
    later = x[:, 3:12]
    spread = later.std(axis=1, ddof=1).mean()
    assert abs(x[:, 0].mean() - later.mean()) < 2 * spread, (
        column, x[:, 0].mean(), later.mean(), spread)


def test_baseline_logo_churn_year_1_equals_year_2(baseline_runs):
    """Logo churn of the customers at the start of each year: a seasoned base does not shed
    churn-prone accounts in year 1 (a cold start gave 10.5% against 6.6%)."""
    d = []
    for r in baseline_runs:
        y = saas_metrics(r.monthly, r.cohorts, r.initial)
        d.append(y.loc[1, "logo_churn_frac"] - y.loc[2, "logo_churn_frac"])
    d = np.array(d)
    assert abs(d.mean()) < 4 * d.std(ddof=1) / math.sqrt(len(d)), d


def test_warm_start_keeps_identities_and_books_nothing_before_day_0():
    res = sim.simulate(from_baseline(horizon=6), seed=2, events=True)
    check_identities(res)
    check_events(res)
    assert (res.events["time_days"] >= 0).all()
    assert res.initial["accounts_receivable"] > 0
    cold = sim.simulate(from_baseline({"opening.pipeline": "empty"}, horizon=6), seed=2)
    # the warm-up has streams of its own: the plan's inbound and partner leads are the same
    # draws (outbound and the AEs' own leads follow the contact pool and the AEs' occupancy,
    # which the warm-up sets on purpose)
    for ch in ("inbound", "partner"):
        a, b = (r.by_channel[r.by_channel.channel == ch]["leads"].iloc[:1] for r in (res, cold))
        np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert res.monthly["ae_utilization"].iloc[0] > cold.monthly["ae_utilization"].iloc[0] + 0.3


def test_given_receivables_are_collected_in_full():
    """A given opening balance is collected on the steady-state schedule: total cash rises by
    exactly that amount against no opening receivables (collections have a stream of their
    own, so every other draw is the same)."""
    base = {"opening.pipeline": "empty"}
    none = sim.simulate(from_baseline({**base, "opening.receivables": "none"}, horizon=12),
                        seed=4)
    given = sim.simulate(from_baseline({**base, "opening.receivables_usd": 1_234_567.0},
                                       horizon=12), seed=4)
    assert given.initial["accounts_receivable"] == pytest.approx(1_234_567.0)
    assert none.initial["accounts_receivable"] == 0.0
    extra = given.monthly["cash_collected"].sum() - none.monthly["cash_collected"].sum()
    assert extra == pytest.approx(1_234_567.0, abs=0.01)
    np.testing.assert_allclose(given.monthly["billings"], none.monthly["billings"])


# --------------------------------------------------------------------------- seasoned base


def _installed_survival(sc, reps: int = 1):
    alive = []
    for r in range(reps):
        res = sim.simulate(sc, seed=6, replication=r)
        co = res.cohorts[res.cohorts["cohort_month"] == 0].sort_values("month")
        alive.append(np.r_[res.initial["customers"], co["customers"].to_numpy()])
    return np.sum(alive, axis=0)


def test_seasoned_account_follows_conditional_survival():
    """Every installed account 18.5 months old on month-to-month contracts (12-month retention
    50%, concentration 2): it has survived 18 renewals, its propensity is Beta(a, b + 18), and
    the base keeps S(18 + t) / S(18) after t more renewals (renewal k falls in month k)."""
    n = 20_000
    r12, kappa, age = 0.5, 2.0, 18.5
    sc = one_segment(horizon=24, opps_per_month=0.0, installed=n, term_months=1,
                     monthly_churn=1 - r12 ** (1 / 12), churn_concentration=kappa,
                     installed_age_months=age)
    alive = _installed_survival(sc)
    law = churn_law(r12, kappa, 1)
    t = np.arange(1, 25)
    want = np.array([law.conditional_survival(age, k) for k in t])
    got = alive[1:] / n
    se = np.sqrt(want * (1 - want) / n)
    assert np.all(np.abs(got - want) < 4 * se), np.c_[t, got, want, se]
    # seasoned accounts churn less than a new cohort would
    assert got[11] > law.survival(12) + 0.1


@pytest.mark.slow
def test_steady_state_base_follows_the_survivors_law():
    """The default base (a business selling for 60 months, annual contracts, 12-month
    retention 80%, concentration 3): after t months it keeps the survivors' average of
    S(n(a + t)) / S(n(a)) over ages with density S(n(a)) — and churns less in year 1 than a
    new cohort (80%)."""
    n = 20_000
    sc = one_segment(horizon=24, opps_per_month=0.0, installed=n, term_months=12,
                     billing="annual", renewal_prob=0.8, churn_concentration=3.0,
                     opening={"business_age_months": 60})
    alive = _installed_survival(sc)
    law = churn_law(0.8, 3.0, 12)
    ages = (np.arange(60_000) + 0.5) / 1000
    w = law.survival_months(ages)
    for t in (12, 24):
        want = np.sum(w * np.array([law.conditional_survival(a, t) for a in ages])) / w.sum()
        got = alive[t] / n
        se = math.sqrt(want * (1 - want) / n)
        assert abs(got - want) < 4 * se, (t, got, want)
    assert alive[12] / n > 0.8 + 0.02


# --------------------------------------------------------------------------- renewal rules


def _anniversary(term: int, c: float, uplift: float, q_ref: float, n: int = 20_000):
    """Every installed account 11.5 months old: its first price anniversary (renewal at age
    12, month 1) then, on monthly contracts, renewals 13 and 14 in months 2 and 3. 12 seats at
    $1,000: ARR $12,000. No contraction, expansion or over-WTP churn."""
    billing = "monthly" if term == 1 else "annual"
    return one_segment(horizon=4, opps_per_month=0.0, installed=n, term_months=term,
                       billing=billing, monthly_churn=c, renewal_prob=1 - c, seats=12.0,
                       installed_age_months=11.5,
                       extra={"pricing.annual_uplift_frac": uplift,
                              "pricing.uplift_churn_at_reference_frac": q_ref})


@pytest.mark.slow
@pytest.mark.parametrize("term", [1, 12])
def test_anniversary_churners_leave_at_the_old_price(term):
    """Churn is decided before repricing: churned ARR is $12,000 per churner, expansion is
    u x the ARR of the renewing accounts only, and the anniversary's churn is c and the step
    hazard of u as independent hazards (``step_churn_probability``)."""
    c, u, e, n = 0.2, 0.1, 0.3, 20_000
    scn = _anniversary(term, c, u, e, n)
    res = sim.simulate(scn, seed=8)
    m = res.monthly.iloc[0]
    assert res.initial["arr"] == pytest.approx(12_000.0 * n)
    assert m["churned_customers"] > 0
    assert m["churned_arr"] == pytest.approx(12_000.0 * m["churned_customers"], abs=0.01)
    renewing = res.initial["arr"] - m["churned_arr"]
    assert m["expansion_arr"] == pytest.approx(u * renewing, abs=0.01)
    assert m["contraction_arr"] == 0.0
    p = scn.pricing
    q = 1 - (1 - c) * (1 - step_churn_probability(u, e, p.uplift_churn_reference_frac,
                                                  p.uplift_churn_shape))
    assert q > c + 0.01  # the step matters at this size
    got = m["churned_customers"] / n
    assert abs(got - q) < 4 * math.sqrt(q * (1 - q) / n), (got, q)


@pytest.mark.slow
def test_uplift_response_applies_only_to_the_anniversary_renewal():
    """Month-to-month customers kept over the two renewals after an uplift: (1 - c)^2 (the
    uplift's churn hazard belongs to the anniversary alone; the bug applied it to every
    renewal of the block after it)."""
    c, n = 0.2, 20_000
    res = sim.simulate(_anniversary(1, c, 0.1, 0.3, n), seed=9)
    cust = res.monthly["customers"].to_numpy()
    got = cust[2] / cust[0]
    want = (1 - c) ** 2
    assert abs(got - want) < 4 * math.sqrt(want * (1 - want) / cust[0]), (got, want)


def test_opening_and_retired_churn_fields_are_named_in_one_line(tmp_path):
    """Bad input names the key: receivables given and switched off at once; the retired
    churn fields say what replaced them."""
    from support.cli import run_cli

    base = tmp_path / "base.yaml"
    base.write_text((ROOT / "scenarios" / "baseline.yaml").read_text())
    cases = {
        "both.yaml": ("opening: {receivables: none, receivables_usd: 5}\n",
                      "opening.receivables_usd: give an amount or receivables: none"),
        "old.yaml": ("segments: {smb: {monthly_churn_frac: 0.02}}\n",
                     "monthly_churn_frac was replaced by monthly_logo_retention_12m_frac"),
    }
    for name, (body, want) in cases.items():
        path = tmp_path / name
        path.write_text("extends: base.yaml\n" + body)
        out = run_cli("validate", path)
        assert out.returncode == 2, out
        lines = (out.stdout + out.stderr).strip().splitlines()
        assert len(lines) == 1 and want in lines[0], lines
