"""A calibrated scenario carries its fit's uncertainty (``sim.calibrate.uncertainty``): the
values run and compare draw from it reproduce the fitted 95% intervals (coverage), and
estimates fitted together stay correlated as in their joint block."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from sim.calibrate.mle import Estimate, Fit
from sim.calibrate.uncertainty import fitted_block
from sim.experiments.draws import drawn_values
from sim.scenario.io import with_overrides
from sim.scenario.uncertainty import JointBlock

WIN = "segments.smb.base_win_prob_frac"
PRICE = "segments.enterprise.installed_price_usd"
CYCLE_MEDIAN = "segments.mid_market.sales_cycle_days.median"
CYCLE_SIGMA = "segments.mid_market.sales_cycle_days.sigma"
RHO = -0.6
BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml"


@pytest.fixture(scope="module")
def fit_and_block():
    fit = Fit(as_of="2024-01-01")
    fit.add("smb.win_prob", Estimate(0.25, 0.20, 0.31, 400, "binomial, Wilson"))
    fit.add("enterprise.installed_price_usd", Estimate(1200.0, 1100.0, 1300.0, 80, "mean"))
    fit.add("mid_market.cycle_median_days", Estimate(45.0, 38.0, 53.0, 200, "lognormal MLE"))
    fit.add("mid_market.cycle_sigma", Estimate(0.5, 0.44, 0.57, 200, "lognormal MLE"))
    sd = np.array([0.08, 0.065])  # log-scale standard deviations of median and sigma
    cov = np.outer(sd, sd) * np.array([[1, RHO], [RHO, 1]])
    fit.add_joint(("mid_market.cycle_median_days", "mid_market.cycle_sigma"), ("log", "log"),
                  cov)
    base = sim.load_scenario(BASELINE)
    return fit, base, fitted_block(fit, base)


def _draws(block: dict, n: int = 4000) -> dict[str, np.ndarray]:
    jb = JointBlock(**block)
    rng = np.random.default_rng(5)
    rows = [jb.sample(rng) for _ in range(n)]
    return {k: np.array([r[k] for r in rows]) for k in jb.keys}


@pytest.mark.parametrize("key, low, high", [(WIN, 0.20, 0.31), (PRICE, 1100.0, 1300.0),
                                            (CYCLE_MEDIAN, 38.0, 53.0)])
def test_draws_reproduce_the_fitted_intervals(fit_and_block, key, low, high):
    _, _, block = fit_and_block
    x = _draws(block)[key]
    assert np.mean((x >= low) & (x <= high)) == pytest.approx(0.95, abs=0.025)
    assert np.quantile(x, 0.025) == pytest.approx(low, rel=0.04)
    assert np.quantile(x, 0.975) == pytest.approx(high, rel=0.04)


def test_values_fitted_together_stay_correlated(fit_and_block):
    _, _, block = fit_and_block
    d = _draws(block)
    rho = np.corrcoef(np.log(d[CYCLE_MEDIAN]), np.log(d[CYCLE_SIGMA]))[0, 1]
    assert rho == pytest.approx(RHO, abs=0.1)


def test_the_calibrated_scenario_draws_them_per_replication(fit_and_block):
    _, base, block = fit_and_block
    sc = with_overrides(base, {WIN: 0.25, PRICE: 1200.0, CYCLE_MEDIAN: 45.0, CYCLE_SIGMA: 0.5,
                               "uncertainty": {"joint": [block]}})
    assert set(sc.uncertainty.keys()) >= {WIN, PRICE, CYCLE_MEDIAN}
    a, b = drawn_values(sc, 3, 0), drawn_values(sc, 3, 2)
    assert a != b and a == drawn_values(sc, 3, 1)
    assert 0 < a[WIN] < 1 and a[PRICE] > 0
