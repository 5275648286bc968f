"""Parameter draws of the backtest (``sim.calibrate.backtest.drawn_fit``): estimates fitted
in one likelihood are drawn together, with the covariance of the inverse Hessian.

Theory used: the gamma MLE's mean (shape x scale) equals the sample mean exactly, so its
sampling standard deviation is sd(x) / sqrt(n); drawn independently, shape and scale (whose
estimates are strongly negatively correlated) would spread the mean far wider.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.calibrate.backtest import drawn_fit
from sim.calibrate.mle import SCALES, Estimate, Fit
from sim.calibrate.opening import tenure_fit

DRAWS = 3000


def _gamma_fit(joint: bool) -> tuple[Fit, np.ndarray]:
    x = np.random.default_rng(11).gamma(1.7, 20.0, 2000)
    dist, (shape, scale), cov = tenure_fit(x)
    assert dist["dist"] == "gamma" and cov is not None
    fit = Fit(as_of="2024-01-01")
    fit.add("smb.installed_age_shape", shape)
    fit.add("smb.installed_age_scale", scale)
    if joint:
        fit.add_joint(("smb.installed_age_shape", "smb.installed_age_scale"), ("log", "log"),
                      cov)
        assert len(fit.joint) == 1
    return fit, x


def _mean_ages(fit: Fit) -> np.ndarray:
    rng = np.random.default_rng(3)
    out = []
    for _ in range(DRAWS):
        d = drawn_fit(fit, rng).estimates
        out.append(d["smb.installed_age_shape"].value * d["smb.installed_age_scale"].value)
    return np.array(out)


def test_joint_draws_keep_the_mean_at_its_sampling_error():
    fit, x = _gamma_fit(joint=True)
    theory = x.std() / math.sqrt(len(x))
    drawn = _mean_ages(fit)
    assert drawn.std() == pytest.approx(theory, rel=0.12)
    assert np.median(drawn) == pytest.approx(x.mean(), rel=0.01)


def test_independent_draws_would_overstate_it():
    fit, x = _gamma_fit(joint=False)
    assert _mean_ages(fit).std() > 2.5 * x.std() / math.sqrt(len(x))


def test_a_block_is_drawn_with_its_covariance_and_the_rest_alone():
    """A hand-built block: the draws' covariance on the block's scales is the block's; an
    estimate outside it is drawn from its own interval (split normal on the log scale)."""
    cov = np.array([[0.04, -0.03], [-0.03, 0.05]])
    fit = Fit(as_of="2024-01-01")
    fit.add("a", Estimate(2.0, 1.0, 4.0, 100, "test"))
    fit.add("p", Estimate(0.2, 0.1, 0.3, 100, "test"))
    fit.add("other", Estimate(10.0, 5.0, 20.0, 100, "test"))
    fit.add_joint(("a", "p"), ("log", "logit"), cov)
    rng = np.random.default_rng(8)
    draws = [drawn_fit(fit, rng).estimates for _ in range(DRAWS)]
    z = np.array([[math.log(d["a"].value), math.log(d["p"].value / (1 - d["p"].value))]
                  for d in draws])
    assert np.cov(z.T) == pytest.approx(cov, abs=0.006)
    assert z.mean(axis=0) == pytest.approx([math.log(2.0), math.log(0.2 / 0.8)], abs=0.015)
    other = np.log([d["other"].value for d in draws])
    assert other.std() == pytest.approx(math.log(2.0) / 1.959963984540054, rel=0.06)
    assert abs(np.corrcoef(other, z[:, 0])[0, 1]) < 0.06  # independent of the block


@pytest.mark.parametrize("cov", [
    np.array([[1.0, 2.0], [2.0, 1.0]]),  # not positive definite
    np.array([[np.nan, 0.0], [0.0, 1.0]]),
    None,
])
def test_an_unusable_covariance_is_not_a_block(cov):
    fit = Fit(as_of="2024-01-01")
    fit.add("a", Estimate(2.0, 1.0, 4.0, 100, "test"))
    fit.add("b", Estimate(3.0, 1.0, 5.0, 100, "test"))
    fit.add_joint(("a", "b"), ("log", "log"), cov)
    assert fit.joint == []


def test_a_block_needs_every_estimate_accepted():
    fit = Fit(as_of="2024-01-01")
    fit.add("a", Estimate(2.0, 1.0, 4.0, 100, "test"))
    fit.add("b", Estimate(math.nan, 1.0, 5.0, 100, "test"))  # refused: listed as unsupported
    fit.add_joint(("a", "b"), ("log", "log"), np.eye(2))
    assert fit.joint == [] and any(u.startswith("b:") for u in fit.unsupported)


@pytest.mark.slow
def test_the_calibration_records_its_joint_blocks(tmp_path):
    """On the example company every likelihood with two or more parameters leaves a block."""
    from pathlib import Path

    import sim
    from sim.calibrate.fit import calibrate
    from sim.calibrate.run import read_inputs

    root = Path(__file__).resolve().parents[2]
    base = sim.load_scenario(root / "examples" / "example_company.yaml")
    files = {k: root / "examples" / "company" / f"{k}.csv"
             for k in ("subscriptions", "opportunities", "leads", "invoices")}
    import pandas as pd

    fit = calibrate(read_inputs(files, list(base.segments)), base, pd.Timestamp("2024-01-01"),
                    pd.Timestamp("2023-01-01"))
    blocks = {b.names for b in fit.joint}
    for seg in base.segments:
        assert (f"{seg}.cycle_median_days", f"{seg}.cycle_sigma") in blocks
        assert (f"{seg}.installed_age_shape", f"{seg}.installed_age_scale") in blocks
    assert ("collection_lag_shape", "collection_lag_scale") in blocks
    assert any("smb.churn_concentration" in b and "smb.monthly_churn_mean" in b for b in blocks)
    # willingness to pay is drawn with the reps' concession wherever the data identify it
    # (the example's mid-market, 21 of 75 price decisions lost against ~18% expected, runs to
    # the flat boundary under the negotiation and keeps the base's: listed, not a block)
    priced = [seg for seg in base.segments if f"{seg}.wtp_median_usd" in fit.estimates]
    assert "smb" in priced
    for seg in priced:
        assert any(f"{seg}.wtp_median_usd" in b and f"{seg}.rep_discount_a" in b
                   for b in blocks), seg
    for seg in set(base.segments) - set(priced):
        assert any(u.startswith(f"{seg}.willingness") for u in fit.unsupported), seg
    for b in fit.joint:  # each block's scales are known and its size matches
        assert b.cov.shape == (len(b.names), len(b.names))
        assert set(b.scales) <= {"log", "logit"}
        # names line up with the covariance: its diagonal is each estimate's own interval
        # (the concentration's is a profile-likelihood interval, not the Hessian's)
        for i, (name, scale) in enumerate(zip(b.names, b.scales, strict=True)):
            e = fit.estimates[name]
            if "profile" in e.method:
                continue
            f = SCALES[scale][0]
            assert math.sqrt(b.cov[i, i]) == pytest.approx(
                (f(e.high) - f(e.value)) / 1.959963984540054, rel=1e-6), name
    # nothing is both fitted and listed as kept from the base
    for name in fit.estimates:
        assert not any(u.startswith(name + ":") for u in fit.unsupported), name


def test_a_segment_without_renewal_lifetimes_keeps_its_renewal_churn(tmp_path):
    """Only month-to-month SMB contracts: the renewal churn is listed as kept from the base,
    and the monthly churn (fitted) is not."""
    from pathlib import Path

    import pandas as pd

    import sim
    from sim.calibrate.fit import calibrate
    from sim.calibrate.run import read_inputs

    root = Path(__file__).resolve().parents[2]
    base = sim.load_scenario(root / "examples" / "example_company.yaml")
    subs = pd.read_csv(root / "examples" / "company" / "subscriptions.csv")
    monthly = subs[(subs["segment"] == "smb") & (subs["term_months"] == 1)]
    monthly.to_csv(tmp_path / "subs.csv", index=False)
    fit = calibrate(read_inputs({"subscriptions": tmp_path / "subs.csv"}, list(base.segments)),
                    base, pd.Timestamp("2024-01-01"), pd.Timestamp("2023-01-01"))
    assert "smb.monthly_churn_mean" in fit.estimates
    assert "smb.renewal_churn_mean" not in fit.estimates
    assert any(u.startswith("smb.renewal_churn_mean:") for u in fit.unsupported)
    assert not any(u.startswith("smb.monthly_churn_mean:") for u in fit.unsupported)


def test_a_block_whose_sizes_disagree_is_refused():
    fit = Fit(as_of="2024-01-01")
    fit.add("a", Estimate(2.0, 1.0, 4.0, 100, "test"))
    fit.add("b", Estimate(3.0, 1.0, 5.0, 100, "test"))
    with pytest.raises(ValueError):
        fit.add_joint(("a", "b"), ("log",), np.eye(2))
    with pytest.raises(ValueError):
        fit.add_joint(("a", "b"), ("log", "log"), np.eye(3))


def test_an_unbounded_member_of_a_block_stays_and_the_rest_are_drawn():
    """A concentration the data cannot bound (profile interval up to infinity) is kept; the
    churn mean of its block is still drawn, from its own row of the covariance."""
    fit = Fit(as_of="2024-01-01")
    fit.add("ent.renewal_churn_mean", Estimate(0.1, 0.05, 0.19, 50, "test"))
    fit.add("ent.churn_concentration", Estimate(9000.0, 0.3, math.inf, 50, "test"))
    fit.add_joint(("ent.renewal_churn_mean", "ent.churn_concentration"), ("logit", "log"),
                  np.array([[0.1, 0.5], [0.5, 40.0]]))
    rng = np.random.default_rng(1)
    draws = [drawn_fit(fit, rng).estimates for _ in range(500)]
    assert {d["ent.churn_concentration"].value for d in draws} == {9000.0}
    z = np.array([math.log(d["ent.renewal_churn_mean"].value
                           / (1 - d["ent.renewal_churn_mean"].value)) for d in draws])
    assert z.std() == pytest.approx(math.sqrt(0.1), rel=0.1)


def test_a_draw_never_leaves_an_interval_that_reaches_zero():
    """A churn mean the data barely bound ([0, 1]: no usable Hessian) is drawn on the
    identity scale; a negative churn (retention above 1) must not come out of it."""
    fit = Fit(as_of="2024-01-01")
    fit.add("ent.renewal_churn_mean", Estimate(0.2, 0.0, 1.0, 5, "test"))
    rng = np.random.default_rng(2)
    values = [drawn_fit(fit, rng).estimates["ent.renewal_churn_mean"].value
              for _ in range(400)]
    assert min(values) >= 0.0 and max(values) <= 1.0 and len(set(values)) > 100
