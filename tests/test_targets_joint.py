"""Targets: ``all:`` (joint) targets whose probability is the Monte Carlo count of the runs
meeting every member, and targets beyond the horizon that read n/a (null), never 0%."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from support.cli import run_cli
from test_scenario import BASELINE

import sim
from sim.analysis import metrics
from sim.scenario.io import scenario_to_dict
from sim.scenario.model import Target

MONTHS, REPS = 12, 6


def test_a_joint_target_is_declared_with_all_and_checked():
    t = Target.model_validate({"name": "Both", "all": [
        {"metric": "net_new_arr", "value": 20e6}, {"metric": "cash_floor", "value": 10e6}]})
    assert [m.metric for m in t.all] == ["net_new_arr", "cash_floor"]
    assert t.all[0].name == "net_new_arr >= 20,000,000"  # a member's name is made when left out
    unnamed = Target.model_validate({"all": [
        {"name": "A", "metric": "revenue", "value": 1}, {"name": "B", "metric": "nrr",
                                                         "value": 1}]})
    assert unnamed.name == "A and B"
    bad = [
        {"name": "x", "metric": "revenue", "value": 1,
         "all": [{"metric": "revenue", "value": 1}, {"metric": "nrr", "value": 1}]},
        {"name": "x", "all": [{"metric": "revenue", "value": 1}]},  # one member: not joint
        {"name": "x", "all": [{"metric": "revenue", "value": 1}, {"all": [
            {"metric": "revenue", "value": 1}, {"metric": "nrr", "value": 1}]}]},
        {"name": "x", "metric": "revenue"},  # no value
    ]
    for data in bad:
        with pytest.raises(ValidationError):
            Target.model_validate(data)


def test_single_targets_keep_their_resolved_form():
    """A scenario without joint targets resolves (and hashes) as before ``all:`` existed."""
    sc = sim.load_scenario(BASELINE)
    assert sc.targets and all("all" not in t for t in scenario_to_dict(sc)["targets"])


def test_a_bad_joint_target_in_a_file_is_one_line_and_exit_2(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(f"extends: {BASELINE}\ntargets:\n  - name: x\n    metric: revenue\n"
                 "    all: [{metric: revenue, value: 1}, {metric: nrr, value: 1}]\n")
    code, out, err = run_cli("validate", f)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "targets" in err, err


def _attainment(hits_a, hits_b, in_horizon=True) -> pd.DataFrame:
    frames = []
    for r, (a, b) in enumerate(zip(hits_a, hits_b, strict=True)):
        frames.append(pd.DataFrame({
            "name": ["A", "B", "A and B"], "metric": ["revenue", "nrr", "all"],
            "year": pd.array([1, 1, None], dtype="Int64"), "op": [">=", ">=", "all"],
            "target": [1.0, 1.0, math.nan], "actual": [1.0, 1.0, math.nan],
            "hit": [a, b, a and b], "in_horizon": in_horizon, "replication": r}))
    return pd.concat(frames, ignore_index=True)


def test_joint_probability_is_the_count_of_runs_meeting_every_member():
    a = [True, True, False, True, False, True, True]
    b = [True, False, True, True, False, True, False]
    p = metrics.target_probability(_attainment(a, b)).set_index("name")
    assert p.loc["A", "probability"] == pytest.approx(5 / 7)
    assert p.loc["A and B", "probability"] == pytest.approx(3 / 7)  # runs 0, 3, 5
    assert p.loc["A and B", "hits"] == 3 and p.loc["A and B", "replications"] == 7


def test_a_target_out_of_the_horizon_has_no_probability():
    p = metrics.target_probability(_attainment([False] * 3, [False] * 3, in_horizon=False))
    assert p["probability"].isna().all() and (p["replications"] == 0).all()


TARGETS = [
    {"name": "ARR", "metric": "ending_arr", "value": 0.0},  # thresholds set from the run below
    {"name": "Profit", "metric": "operating_profit", "value": 0.0},
    {"name": "NRR year 3 >= 100%", "metric": "nrr", "year": 3, "value": 1.0},
    {"name": "Profit year 2", "metric": "operating_profit", "year": 2, "value": 0.0},
]


@pytest.fixture(scope="module")
def run():
    sc = sim.load_scenario(BASELINE, overrides={"horizon_months": MONTHS})
    first = sim.run_experiment(sc, replications=REPS, seed=0, executor="serial")
    arr = float(first.kpis["ending_arr"].median())
    profit = float(first.kpis["operating_profit_total"].median())
    targets = [{**TARGETS[0], "value": arr}, {**TARGETS[1], "value": profit}, *TARGETS[2:],
               {"name": "ARR and profit", "all": [{**TARGETS[0], "value": arr},
                                                  {**TARGETS[1], "value": profit}]},
               {"name": "ARR and NRR y3", "all": [{**TARGETS[0], "value": arr}, TARGETS[2]]}]
    sc = sim.load_scenario(BASELINE, overrides={"horizon_months": MONTHS, "targets": targets})
    return sim.run_experiment(sc, replications=REPS, seed=0, executor="serial"), arr, profit


@pytest.mark.slow
def test_joint_probability_of_a_run_against_a_hand_count(run):
    result, arr, profit = run
    k = result.kpis
    both = int(((k["ending_arr"] >= arr) & (k["operating_profit_total"] >= profit)).sum())
    t = result.target_summary.set_index("name")
    assert t.loc["ARR and profit", "probability"] == pytest.approx(both / REPS)
    assert t.loc["ARR and profit", "replications"] == REPS
    assert t.loc["ARR", "probability"] == pytest.approx(
        float((k["ending_arr"] >= arr).mean()))
    # the medians split the runs, so the joint count is a real test of "all at once"
    assert 0 < both < REPS
    assert t.loc["ARR and profit", "probability"] <= min(t.loc["ARR", "probability"],
                                                         t.loc["Profit", "probability"])


def test_targets_beyond_the_horizon_are_na_never_zero(run, tmp_path):
    result, _, _ = run
    t = result.target_summary.set_index("name")
    for name in ("NRR year 3 >= 100%", "Profit year 2", "ARR and NRR y3"):
        assert np.isnan(t.loc[name, "probability"]), name
        assert t.loc[name, "replications"] == 0
    result.write(tmp_path / "out")
    rows = {r["name"]: r for r in json.loads((tmp_path / "out" / "summary.json").read_text())[
        "targets"]}
    assert rows["NRR year 3 >= 100%"]["probability"] is None
    assert rows["ARR"]["probability"] is not None


def test_revsim_run_prints_the_targets_with_na_beyond_the_horizon():
    code, out, err = run_cli("run", BASELINE, "--reps", "2", "--months", "2", "--executor",
                             "serial")
    assert code == 0, err
    nrr = next(line for line in out.splitlines() if "NRR year 3" in line)
    assert "n/a" in nrr and "0.0%" not in nrr
    year1 = next(line for line in out.splitlines() if "Net new ARR year 1" in line)
    assert "%" in year1
