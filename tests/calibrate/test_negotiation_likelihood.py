"""The calibration's price likelihood is the engine's negotiation (``sim.calibrate.negotiation``
against ``sim.engine.pricing.negotiate``): the vectorised rule takes the engine's decisions,
the grid's chances of winning (and at the ceiling) and the density of won discounts match
Monte Carlo through the engine's own function, and in the limits where the engine has closed
forms they are those closed forms."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special, stats

from sim.calibrate.negotiation import Kernel, Rules, outcomes, won_density
from sim.engine.pricing import (
    Terms,
    average_over_openings,
    expected_discount_given_won,
    negotiate,
    price_expected_discount,
    price_win_probability,
    win_probability_at_cap,
)

LIST = 900.0
MU, SIGMA = math.log(960.0), 0.35
A, B = 2.5, 15.0
RULES = [
    Rules(0.25, 0.07, 3, 0.15, 0.25),  # the baseline's mid-market
    Rules(0.20, 0.05, 3, 0.15, 0.60),  # a poor read of the buyer
    Rules(0.35, 0.08, 2, 0.30, 0.20),
]


def _monte_carlo(rules: Rules, extra: float, n: int, seed: int):
    rng = np.random.default_rng(seed)
    wtp = np.exp(MU + SIGMA * rng.standard_normal(n))
    z = rng.standard_normal(n)
    opening = np.minimum(1.0, rng.beta(A, B, n) + extra)
    walks = rng.random((n, 10))
    terms = Terms(rules.step, rules.rounds, rules.walk)
    won, disc = np.zeros(n, bool), np.zeros(n)
    for i in range(n):
        r = negotiate(wtp[i], LIST, wtp[i] * math.exp(rules.noise * z[i]), opening[i],
                      rules.ceiling, terms, walks[i])
        won[i], disc[i] = r.won, r.discount_frac
    return won, disc


@pytest.mark.parametrize("rules", RULES)
def test_the_vectorised_rule_takes_the_engines_decisions(rules):
    rng = np.random.default_rng(5)
    opening, need = rng.random(3000) * 0.4, rng.random(3000) * 0.5
    need[:300] = 0.0
    ratio = np.exp(rules.noise * rng.standard_normal(3000))
    won, rounds, disc = outcomes(opening, need, ratio, rules)
    for i in range(3000):
        wtp = LIST * (1 - need[i])
        r = negotiate(wtp, LIST, wtp * ratio[i], opening[i], rules.ceiling,
                      Terms(rules.step, rules.rounds, 0.0))
        assert (r.won, r.rounds) == (won[i], rounds[i]), i
        assert r.discount_frac == pytest.approx(disc[i], abs=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("rules", RULES)
@pytest.mark.parametrize("extra", [0.0, 0.05])
def test_chances_and_won_discounts_match_the_engine(rules, extra):
    n = 40_000
    won, disc = _monte_carlo(rules, extra, n, seed=int(100 * rules.noise + 1000 * extra))
    kernel = Kernel(rules)
    p, p_cap, total = kernel.probabilities(MU, SIGMA, LIST, A, B, extra)
    at_cap = won & (disc >= rules.ceiling - 1e-9)
    for model, sample in ((p, won.mean()), (p_cap, at_cap.mean())):
        assert abs(model - sample) < 4 * math.sqrt(sample * (1 - sample) / n) + 1e-3
    assert total / p == pytest.approx(disc[won].mean(), abs=4 * disc[won].std() / math.sqrt(
        won.sum()) + 1e-3)
    # the density of discounts won inside the ceiling, bin by bin
    edges = np.linspace(0.0, rules.ceiling, 9)
    counts, _ = np.histogram(disc[won & ~at_cap], edges)
    for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True):
        x = np.linspace(lo, hi, 401)
        model = integrate.trapezoid(won_density(x, np.full(len(x), LIST), MU, SIGMA, A, B,
                                                extra, rules), x)
        assert abs(model - c / n) < 4 * math.sqrt(c) / n + 2e-3, (lo, hi, model, c / n)
    # a won deal is won inside the ceiling or at it: the parts add up to P(won on price)
    inner, _ = integrate.quad(lambda x: float(won_density(
        np.array([x]), np.array([LIST]), MU, SIGMA, A, B, extra, rules)[0]), 0.0,
        rules.ceiling, limit=200, points=sorted({extra, extra + rules.step}))
    assert inner + p_cap == pytest.approx(p, abs=2e-3)


def _sf(x):
    return stats.lognorm.sf(x, SIGMA, scale=math.exp(MU))


def _rep_cdf(x):
    return special.betainc(A, B, np.clip(x, 0, 1))


def _rep_ppf(u):
    return stats.beta.ppf(u, A, B)


@pytest.mark.slow
def test_with_an_exact_signal_the_grid_is_the_engines_closed_form():
    rules = Rules(0.25, 0.07, 3, 0.15, 0.0)
    terms = Terms(rules.step, rules.rounds, rules.walk)
    p = average_over_openings(lambda d: price_win_probability(d, 0.25, LIST, _sf, terms),
                              _rep_ppf)
    e = average_over_openings(lambda d: price_win_probability(d, 0.25, LIST, _sf, terms)
                              * price_expected_discount(d, 0.25, LIST, _sf, terms), _rep_ppf)
    got, _, total = Kernel(rules).probabilities(MU, SIGMA, LIST, A, B, 0.0)
    assert got == pytest.approx(p, abs=1e-3)
    assert total / got == pytest.approx(e / p, abs=1e-3)


def test_the_full_information_limit_is_the_old_rule():
    """No noise, no walk, one unlimited step: min(cap, max(need, opening)), lost above cap."""
    rules = Rules(0.25, 1.0, 1, 0.0, 0.0)
    got, _, total = Kernel(rules).probabilities(MU, SIGMA, LIST, A, B, 0.0)
    assert got == pytest.approx(win_probability_at_cap(1.0, _sf, LIST, 0.25), abs=1e-4)
    assert total / got == pytest.approx(expected_discount_given_won(0.25, LIST, _sf, _rep_cdf),
                                        abs=5e-4)
    x = np.linspace(0.01, 0.24, 24)  # the old density: f_B(d) S_W + L f_W F_B(d)
    old = (stats.beta.pdf(x, A, B) * _sf(LIST * (1 - x)) + LIST * stats.lognorm.pdf(
        LIST * (1 - x), SIGMA, scale=math.exp(MU)) * _rep_cdf(x))
    assert won_density(x, np.full(len(x), LIST), MU, SIGMA, A, B, 0.0, rules) == \
        pytest.approx(old, rel=1e-9)


@pytest.mark.slow
def test_deals_of_unknown_contract_recover_the_truth():
    """Won deals without a subscription (contract unknown: a mixture over the contract mix,
    each contract's density of net / list with its Jacobian, and a ratio at one contract's
    ceiling read as that contract's atom): the 95% intervals cover the values the deals were
    negotiated with. Before the atom rule, an at-ceiling monthly deal read as an annual deal
    inside the ceiling, and the concession's b came out at 25-27 against 22."""
    import pandas as pd

    from sim.calibrate.mle import Fit
    from sim.calibrate.prices import fit_prices
    from sim.scenario.io import load_scenario

    sc = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml")
    seg = "smb"
    price, spec = sc.pricing.segments[seg], sc.segments[seg]
    wtp = spec.willingness_to_pay_usd
    terms = Terms(price.concession_step_frac, sc.pricing.max_counter_rounds,
                  sc.pricing.walk_prob_per_round_frac)
    rng = np.random.default_rng(3)
    origin = pd.Timestamp("2023-01-01")
    shares = [c.share_frac for c in spec.contracts]
    rows = []
    for _ in range(3000):
        c = spec.contracts[rng.choice(len(shares), p=shares)]
        listed = price.list_price_usd * (1 - c.term_discount_frac)
        w = wtp.median * math.exp(wtp.sigma * rng.standard_normal())
        r = negotiate(w, listed, w * math.exp(price.wtp_signal_noise_frac
                                              * rng.standard_normal()),
                      rng.beta(price.rep_discount_frac.a, price.rep_discount_frac.b),
                      price.discount_cap_frac, terms, rng.random(10))
        rows.append({"segment": seg, "outcome": "won" if r.won else "lost",
                     "lost_reason": "" if r.won else "price",
                     "amount_usd": 10 * listed * (1 - r.discount_frac),
                     "list_amount_usd": 10 * price.list_price_usd,
                     "closed_date": origin + pd.Timedelta(days=30)})  # outside quarter ends
    fit = Fit(as_of="2024-01-01")
    fit_prices(fit, seg, pd.DataFrame(rows), None, sc, origin, {})
    truth = {"wtp_median_usd": wtp.median, "wtp_sigma": wtp.sigma,
             "rep_discount_a": price.rep_discount_frac.a,
             "rep_discount_b": price.rep_discount_frac.b}
    for name, value in truth.items():
        assert fit.estimates[f"{seg}.{name}"].covers(value), (name, fit.estimates[
            f"{seg}.{name}"])
