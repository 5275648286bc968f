"""Monte Carlo statistics against published values and against their own definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.analysis import stats as mc


@pytest.mark.parametrize(("df", "t"), [(1, 12.706), (4, 2.776), (9, 2.262), (11, 2.201),
                                       (19, 2.093), (29, 2.045), (119, 1.980)])
def test_t_quantiles_are_the_published_two_sided_95_percent_values(df, t):
    # NIST/SEMATECH e-Handbook of Statistical Methods, table 1.3.6.7.2 (upper 0.025 points)
    assert mc.t_quantile(df) == pytest.approx(t, abs=1e-3)


def test_mean_interval_is_mean_plus_minus_t_sd_over_root_n():
    v = np.array([3.0, 5.0, 4.0, 8.0, 6.0])
    ci = mc.mean_ci(v)
    half = mc.t_quantile(4) * v.std(ddof=1) / math.sqrt(5)
    assert ci["mean"] == pytest.approx(5.2)
    assert (ci["ci_low"], ci["ci_high"]) == pytest.approx((5.2 - half, 5.2 + half))
    assert ci["half_width"] == pytest.approx(half)
    one = mc.mean_ci([7.0, float("nan")])
    assert one["mean"] == 7.0 and math.isnan(one["ci_low"]) and one["n"] == 1


def test_wilson_interval_by_hand_and_clopper_pearson_is_wider():
    p, n, z = 0.45, 20, 1.959964
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    ci = mc.proportion_ci(9, 20)
    assert ci["p"] == pytest.approx(0.45)
    assert (ci["ci_low"], ci["ci_high"]) == pytest.approx((centre - half, centre + half),
                                                          abs=1e-6)
    exact = mc.proportion_ci(9, 20, method="exact")
    assert exact["ci_low"] < ci["ci_low"] and exact["ci_high"] > ci["ci_high"]
    # never a degenerate interval at 0 or 1 successes: 20 of 20 is not certainty
    all_hit = mc.proportion_ci(20, 20)
    assert all_hit["ci_high"] == pytest.approx(1.0) and all_hit["ci_low"] < 0.9
    assert math.isnan(mc.proportion_ci(0, 0)["p"])


def test_replications_for_reaches_the_half_width_and_no_fewer_would():
    sd, target = 250_000.0, 100_000.0
    n = mc.replications_for(target, sd)
    assert mc.t_quantile(n - 1) * sd / math.sqrt(n) <= target
    assert mc.t_quantile(n - 2) * sd / math.sqrt(n - 1) > target


def test_every_statistic_has_a_label():
    assert {"mean", "p10", "p50", "p90", "p10_p90", "probability"} <= set(mc.STAT_LABELS)


def test_wilson_and_t_quantiles_equal_scipy_stats_bit_for_bit():
    """The intervals avoid importing scipy.stats (about a second for every revsim command)
    yet are exactly what it computes."""
    from scipy import stats as st

    from sim.analysis.stats import proportion_ci, t_quantile

    for n in (1, 2, 7, 40, 333):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            for conf in (0.8, 0.9, 0.95):
                ref = st.binomtest(k, n).proportion_ci(confidence_level=conf, method="wilson")
                got = proportion_ci(k, n, conf)
                assert (got["ci_low"], got["ci_high"]) == (float(ref.low), float(ref.high))
    for df in (1, 2, 5, 19, 99, 1000):
        assert t_quantile(df) == float(st.t.ppf(0.975, df))
