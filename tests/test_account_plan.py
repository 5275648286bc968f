"""The Trust Enablement account-plan model: champions, advocates, critics, the programme."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.experiments.experiment import account_plan_return

BASE = "scenarios/baseline.yaml"
SHORT = {"horizon_months": 24}


def _run(overrides: dict, reps: int = 4, seed: int = 11) -> list[sim.SimulationResult]:
    sc = sim.load_scenario(BASE, overrides={**SHORT, **overrides})
    return [sim.simulate(sc, seed=seed, replication=r) for r in range(reps)]


@pytest.mark.slow
def test_neutral_stakeholder_model_leaves_every_table_unchanged():
    """With stakeholder effects neutralised the feature draws only from its own streams,
    so the engine's tables are identical to the run without the feature."""
    neutral = {
        "account_plan.enabled": True,
        "account_plan.initial_advocates": 0,
        "account_plan.critic_prob_frac": 0.0,
        "account_plan.champion_tenure_months": 100000,
        "account_plan.advocate_renewal_lift_frac": 0.0,
        "account_plan.programme_top_n": 0,
    }
    on = _run(neutral, reps=2)
    off = _run({"account_plan.enabled": False}, reps=2)
    for a, b in zip(on, off, strict=True):
        pd.testing.assert_frame_equal(a.monthly, b.monthly)
        pd.testing.assert_frame_equal(a.by_segment, b.by_segment)
        pd.testing.assert_frame_equal(a.cohorts, b.cohorts)
    assert on[0].accounts is not None and off[0].accounts is None


def _renewal_rate(results) -> float:
    acc = pd.concat([r.accounts for r in results])
    return acc["renewed"].sum() / acc["renewals"].sum()


@pytest.mark.slow
def test_champion_loss_without_backup_lowers_renewal():
    # every champion leaves after six months; with no advocates nobody backs them up and the
    # account is re-sold for a year, with four advocates each departure is covered
    common = {"account_plan.champion_tenure_months": 6, "account_plan.critic_prob_frac": 0.0,
              "account_plan.no_backup_renewal_factor": 0.6, "account_plan.resell_months": 12}
    no_backup = _run({**common, "account_plan.initial_advocates": 0})
    backed = _run({**common, "account_plan.initial_advocates": 4})
    assert _renewal_rate(no_backup) < _renewal_rate(backed) - 0.03
    departures = pd.concat([r.accounts for r in no_backup])
    assert departures["unbacked_departures"].sum() > 0


@pytest.mark.slow
def test_critics_lower_renewal():
    calm = _run({"account_plan.critic_prob_frac": 0.0, "account_plan.critic_churn_uplift_frac": 1.0})
    hostile = _run({"account_plan.critic_prob_frac": 1.0,
                    "account_plan.critic_churn_uplift_frac": 1.0})
    assert _renewal_rate(hostile) < _renewal_rate(calm)


def test_programme_costs_exactly_and_creates_new_unit_deals():
    n = 10
    res = _run({"account_plan.programme_top_n": n, "account_plan.reference_rate_per_year": 4.0},
               reps=2)
    for r in res:
        cost = r.monthly["account_plan_cost"]
        assert np.allclose(cost, n * 4000.0)  # ten accounts in the programme every month
        assert r.monthly["new_unit_deals"].sum() > 0
        # new-unit ARR is counted as expansion, never as new logos
        assert (r.monthly["new_unit_arr"] <= r.monthly["expansion_arr"] + 1e-6).all()
        chosen = r.accounts[r.accounts["entry_month"].notna()]
        assert len(chosen) >= n


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3])
def test_programme_effect_has_the_right_direction(seed):
    sc = sim.load_scenario(BASE, overrides={
        "horizon_months": 24, "account_plan.programme_top_n": 15,
        "account_plan.reference_rate_per_year": 3.0,
        "account_plan.programme_cost_per_account_per_month_usd": 500})
    per_rep, summary = account_plan_return(sc, replications=4, seed=seed, executor="serial")
    s = summary.set_index("measure")["mean"]
    assert s["nrr_programme"] > s["nrr_without"]
    assert s["new_unit_arr"] > 0
    assert s["incremental_gross_profit"] > 0
    assert s["return_on_cost"] > 0
    assert (per_rep["programme_cost"] == 15 * 500 * 24).all()
