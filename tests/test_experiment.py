"""Experiments: determinism across executors, common random numbers, sweeps, sensitivity,
and output that an interrupted run cannot damage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.experiments.experiment import paired_delta, t975

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "scenarios" / "baseline.yaml"


@pytest.fixture(scope="module")
def small():
    return sim.load_scenario(BASE, overrides={"horizon_months": 6})


@pytest.mark.e2e  # processes, Dask and a kill
def test_same_seed_gives_identical_tables_on_every_executor(small):
    """serial, a local process pool and a real dask.distributed LocalCluster on loopback."""
    runs = {ex: sim.run_experiment(small, replications=3, seed=7, executor=ex, workers=2)
            for ex in ("serial", "process", "dask")}
    ref = runs["serial"]
    assert sorted(ref.monthly["replication"].unique()) == [0, 1, 2]
    for ex in ("process", "dask"):
        pd.testing.assert_frame_equal(runs[ex].monthly, ref.monthly)
        pd.testing.assert_frame_equal(runs[ex].by_segment, ref.by_segment)
        pd.testing.assert_frame_equal(runs[ex].kpis, ref.kpis)
        pd.testing.assert_frame_equal(runs[ex].by_team, ref.by_team)
    # replication r of an experiment is exactly simulate(seed, r)
    one = sim.simulate(small, seed=7, replication=2).monthly
    got = ref.monthly[ref.monthly.replication == 2].drop(columns="replication")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), one)


@pytest.mark.slow
def test_common_random_numbers_cut_the_variance_of_a_price_delta_threefold():
    base = sim.load_scenario(BASE, overrides={"horizon_months": 12})
    dearer = sim.with_overrides(base, {"pricing.segments.smb.list_price_usd": 660,
                                       "pricing.segments.mid_market.list_price_usd": 990})
    n = 12  # serial: the numbers of every executor are the same (the test above)
    a = sim.run_experiment(base, replications=n, seed=1, executor="serial")
    b_same = sim.run_experiment(dearer, replications=n, seed=1, executor="serial")
    b_indep = sim.run_experiment(dearer, replications=n, seed=2, executor="serial")
    col = "operating_profit_total"
    d_crn = b_same.kpis[col].to_numpy() - a.kpis[col].to_numpy()
    d_ind = b_indep.kpis[col].to_numpy() - a.kpis[col].to_numpy()
    ratio = np.var(d_ind, ddof=1) / np.var(d_crn, ddof=1)
    assert ratio >= 3, f"CRN cut the variance only {ratio:.1f}x"


def test_paired_delta_interval_and_probability():
    base = np.array([10.0, 12.0, 11.0, 13.0])
    other = base + np.array([1.0, 2.0, -1.0, 2.0])
    d = paired_delta(base, other)
    assert d["mean_delta"] == pytest.approx(1.0)
    sd = np.std([1, 2, -1, 2], ddof=1)
    # published two-sided 95% Student-t quantiles (NIST/SEMATECH e-Handbook, table 1.3.6.7.2)
    assert d["ci_high"] - d["mean_delta"] == pytest.approx(3.182 * sd / 2, rel=1e-3)
    assert d["prob_better"] == pytest.approx(0.75)
    # Wilson score interval of 3/4 by hand: (p + z²/2n ± z√(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    assert d["prob_better_low"] == pytest.approx(0.3006, abs=1e-3)
    assert d["prob_better_high"] == pytest.approx(0.9544, abs=1e-3)
    assert t975(9) == pytest.approx(2.262, abs=1e-3)
    assert t975(11) == pytest.approx(2.201, abs=1e-3)  # the old table said 2.23 here
    assert t975(1000) == pytest.approx(1.962, abs=1e-3)


@pytest.mark.slow
def test_compare_reports_deltas_for_each_scenario(small):
    dearer = sim.with_overrides(small, {"pricing.segments.smb.list_price_usd": 700})
    cmp = sim.compare(small, [dearer], replications=3, seed=0, executor="serial")
    d = cmp.deltas
    assert set(d["scenario"]) == {dearer.name}
    # value created joined the compared KPIs (issue 23: a decision metric past the horizon)
    # issue 24: every numeric decision KPI of the catalogue (NRR, GRR, logo churn, ending cash
    # and payback joined)
    assert set(d["kpi"]) == {"operating_profit_total", "npv_operating_profit", "revenue_total",
                             "ending_arr", "cash_trough", "value_created_usd", "nrr_last_year",
                             "grr_last_year", "logo_churn_last_year", "ending_cash",
                             "cac_payback_months"}
    assert ((d["ci_low"] <= d["mean_delta"]) & (d["mean_delta"] <= d["ci_high"])).all()
    assert d["prob_better"].between(0, 1).all()
    # the base of a comparison is the same run as the scenario alone
    alone = sim.run_experiment(small, replications=3, seed=0, executor="serial")
    pd.testing.assert_frame_equal(cmp.base.kpis, alone.kpis)


@pytest.mark.slow
def test_sweep_grid_and_best_points(small):
    res = sim.sweep(small, {"pricing.segments.smb.list_price_usd": [400, 900],
                            "pricing.segments.smb.discount_cap_frac": [0.1, 0.3]},
                    replications=2, seed=0, executor="serial")
    assert len(res.table) == 4
    assert set(res.best) == {"revenue_total", "operating_profit_total"}
    t = res.table
    assert res.best["revenue_total"]["revenue_total_mean"] == pytest.approx(
        t["revenue_total_mean"].max())
    # direction of effect inside the sweep: at a fixed cap, the higher price wins less often
    for cap in (0.1, 0.3):
        rows = t[t["pricing.segments.smb.discount_cap_frac"] == cap].sort_values(
            "pricing.segments.smb.list_price_usd")
        assert rows["win_rate_frac"].iloc[0] > rows["win_rate_frac"].iloc[1]
    # and at a fixed price the tighter cap wins less often at a smaller average discount
    for price in (400, 900):
        rows = t[t["pricing.segments.smb.list_price_usd"] == price].sort_values(
            "pricing.segments.smb.discount_cap_frac")
        assert rows["win_rate_frac"].iloc[0] < rows["win_rate_frac"].iloc[1]
        assert rows["avg_discount_frac"].iloc[0] < rows["avg_discount_frac"].iloc[1]


@pytest.mark.slow
def test_sensitivity_moves_each_lever_both_ways(small):
    levers = ["sales.teams.mid_market.count", "pricing.segments.*.list_price_usd",
              "pricing.annual_uplift_frac"]
    t = sim.sensitivity(small, levers, step=0.2, replications=2, seed=0, executor="serial")
    assert set(t["lever"]) == set(levers)
    ae = t[(t.lever == "sales.teams.mid_market.count")
           & (t.kpi == "operating_profit_total")].iloc[0]
    assert (ae.low_value, ae.base_value, ae.high_value) == (5, 6, 7)
    for kpi, g in t.groupby("kpi"):
        assert list(g["swing"]) == sorted(g["swing"], reverse=True), kpi
    with pytest.raises(ValueError, match="no such numeric key"):
        sim.sensitivity(small, ["pricing.nope"], replications=1, executor="serial")


def test_write_is_atomic_and_an_interrupted_write_keeps_the_earlier_result(small, tmp_path,
                                                                           monkeypatch):
    out = tmp_path / "run"
    exp = sim.run_experiment(small, replications=2, seed=0, executor="serial")
    exp.write(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"monthly.parquet", "summary.json", "scenario.resolved.yaml", "kpis.csv"} <= set(before)
    assert "# seed: 0" in (out / "scenario.resolved.yaml").read_text()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)  # dies half-way through the write
    with pytest.raises(KeyboardInterrupt):
        exp.write(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder left


def _complete(out: Path) -> bool:
    """A whole result: every file there and readable."""
    names = {p.name for p in out.iterdir()}
    if names != {"monthly.parquet", "by_segment.parquet", "by_channel.parquet",
                 "by_team.parquet", "kpis.csv", "summary.json", "scenario.resolved.yaml",
                 "run.json", ".revsim-output"}:
        return False
    json.loads((out / "summary.json").read_text())
    pd.read_parquet(out / "monthly.parquet")
    return True


@pytest.mark.e2e  # processes, Dask and a kill
def test_a_killed_revsim_run_never_damages_an_earlier_result(tmp_path):
    """Kill `revsim run` at many moments — while importing, simulating and writing — and the
    output folder is always either the earlier result untouched or a complete new one."""
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "sim.cli", "run", str(BASE), "--months", "3", "--reps", "2",
           "--executor", "serial", "--out", str(out)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=ROOT)
    whole = time.perf_counter() - t0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    outcomes = set()
    for frac in np.linspace(0.3, 1.1, 9):
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(whole * frac)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = {p.name: p.read_bytes() for p in out.iterdir()}
        if now == before:
            outcomes.add("earlier")
        else:
            assert _complete(out), sorted(now)
            outcomes.add("new")
            before = now
    assert "earlier" in outcomes  # at least one kill landed before the rename


@pytest.mark.slow
def test_sensitivity_steps_in_natural_units_with_segment_values_and_intervals(small):
    levers = ["segments.*.logo_retention_12m_frac", "headcount.sdr.count"]
    t = sim.sensitivity(small, levers, step=0.1, replications=3, seed=0, executor="serial",
                        kpis=("operating_profit_total",))
    renewal = t[t.lever == "segments.*.logo_retention_12m_frac"].iloc[0]
    p = small.segments["smb"].logo_retention_12m_frac
    # a retention probability moves its churn by ±10%: 0.88 → 0.868 / 0.892, not ±0.088
    assert renewal["low_value"] == pytest.approx(1 - (1 - p) * 1.1)
    assert renewal["high_value"] == pytest.approx(1 - (1 - p) * 0.9)
    assert renewal["step_unit"].startswith("churn")
    assert all(name in renewal["base_values"] for name in small.segments)
    sdr = t[t.lever == "headcount.sdr.count"].iloc[0]
    assert sdr["step_unit"].startswith("whole units")
    n = small.headcount.sdr.count
    assert sdr["high_change_frac"] == pytest.approx((sdr["high_value"] - n) / n)
    for _, row in t.iterrows():
        assert row["swing_ci_low"] <= row["high"] - row["low"] <= row["swing_ci_high"]
        assert row["high_delta_ci_low"] <= row["high"] - row["base"] <= row["high_delta_ci_high"]
