"""Issue 23: churn propensity may fall with account size within a segment
(``segments.*.churn_seats_elasticity``, S9 "Churn vs ACV"): small accounts churn more often,
large ones less, so logo churn can run above dollar churn. The default (0) leaves every
account's propensity as drawn."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import from_baseline

import sim
from sim.engine.retention import size_churn_factor


def test_the_size_factor_falls_with_seats_and_is_one_without_elasticity():
    assert size_churn_factor(12.0, 12.0, 2.0) == 1.0
    assert size_churn_factor(6.0, 12.0, 2.0) == pytest.approx(4.0)
    assert size_churn_factor(24.0, 12.0, 2.0) == pytest.approx(0.25)
    assert size_churn_factor(3.0, 12.0, 0.0) == 1.0
    assert size_churn_factor(0.0, 12.0, 2.0) == 1.0  # no size: no effect


def _churned_smb_arr(elasticity: float) -> tuple[float, int]:
    sc = from_baseline({"segments.smb.churn_seats_elasticity": elasticity}, horizon=12)
    ev = sim.simulate(sc, seed=0, events=True).events
    churn = ev[(ev["kind"] == "churn") & (ev["segment"] == "smb")]
    return float(churn["amount_usd"].mean()), len(churn)


def test_small_accounts_churn_more_with_an_elasticity():
    flat_arr, flat_n = _churned_smb_arr(0.0)
    sized_arr, sized_n = _churned_smb_arr(2.0)
    assert sized_arr < 0.8 * flat_arr  # the accounts that leave are smaller
    assert flat_n > 0 and sized_n > 0


def test_the_default_is_no_size_effect():
    base = sim.simulate(from_baseline({}, horizon=12), seed=0).monthly
    zero = sim.simulate(from_baseline({"segments.smb.churn_seats_elasticity": 0.0},
                                      horizon=12), seed=0).monthly
    num = base.select_dtypes("number").columns
    assert np.array_equal(base[num].to_numpy(), zero[num].to_numpy())
