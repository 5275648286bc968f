"""Every command that simulates estimates its work first, with the one model of
``sim.experiments.workload``, and refuses beyond the limits (exit 2, one line naming ``--allow-large``)
before anything is simulated or written: ``export``, ``backtest`` (a floor before the fit,
then the calibrated scenario's replications and the engine correction's histories),
``calibrate --engine-correction``, ``track`` and ``run``, plan targets counted in every
replication.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.cli import names as listing
from test_cli import invoke
from test_scenario import BASELINE

import sim.experiments.programme
import sim.experiments.replication
import sim.experiments.runner
import sim.experiments.workload
from sim.scenario.io import load_scenario, with_overrides

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "example_company.yaml"
COMPANY = ROOT / "examples" / "company"

# a huge budget on a huge market: the in-market share no longer bounds the opportunities
HUGE = ("channels: {inbound: {budget_per_month_usd: 1.0e+12}}\n"
        "segments: {smb: {market_size_accounts: 1000000000}}\n")
TARGETS = 2_000
"""Plan targets that make 1,000 replications too much work (without them the same run is
within the limits: see test_targets_alone_tip_the_run_over_the_limit)."""


def many_targets(n: int) -> str:
    rows = "\n".join(f"- {{name: t{i}, metric: revenue, value: 1}}" for i in range(n))
    return f"extends: baseline.yaml\ntargets:\n{rows}\n"


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    shutil.copy(BASELINE, tmp_path / "baseline.yaml")
    (tmp_path / "big.yaml").write_text("extends: baseline.yaml\n" + HUGE)
    (tmp_path / "bigco.yaml").write_text(f"extends: {EXAMPLE}\n" + HUGE)
    (tmp_path / "targets.yaml").write_text(many_targets(TARGETS))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def no_simulation(monkeypatch):
    """Any simulation fails the test: a refusal must come before the first one."""
    def simulate(*args, **kwargs):
        raise AssertionError("simulated before the work was checked")
    monkeypatch.setattr(sim.experiments.replication, "simulate", simulate)
    monkeypatch.setattr(sim.experiments.runner, "simulate", simulate)
    monkeypatch.setattr(sim.experiments.programme, "simulate", simulate)


DATA = ["--subscriptions", str(COMPANY / "subscriptions.csv")]
BACKTEST = ["backtest", "--base", str(EXAMPLE), *DATA, "--as-of", "2024-01-01",
            "--holdout-months", "12", "--actuals", str(COMPANY / "actuals.csv"), "--out", "bt"]

CASES = {
    "export": (["export", "big.yaml", "--seed", "3", "--out", "co"],
               "(MAX_EVENTS_PER_REPLICATION); check the volumes or pass --allow-large"),
    # refused by the floor before the files are read and fitted
    "backtest-floor": ([*BACKTEST, "--reps", "1000000"],
                       "whatever the data; lower --reps or pass --allow-large"),
    # refused once the fit gives the calibrated scenario, before its replications
    "backtest-reps": ([*BACKTEST, "--reps", "100000", "--no-engine-correction"],
                      "(MAX_EVENTS_PER_RUN); lower --reps or pass --allow-large"),
    # the calibrated scenario's own volumes (the base's market) are too large
    "backtest-volumes": ([*BACKTEST[:2], "bigco.yaml", *BACKTEST[3:], "--reps", "2"],
                         "(MAX_EVENTS_PER_REPLICATION); check the volumes or pass --allow-large"),
    "calibrate": (["calibrate", "--base", "bigco.yaml", *DATA, "--as-of", "2024-01-01",
                   "--engine-correction", "--out", "cal.yaml"],
                  "(MAX_EVENTS_PER_REPLICATION); check the volumes or pass --allow-large"),
    "track": (["track", "big.yaml", "--actuals", str(COMPANY / "actuals.csv"), "--out", "tr"],
              "(MAX_EVENTS_PER_REPLICATION); check the volumes or pass --allow-large"),
    "track-targets": (["track", "targets.yaml", "--actuals", str(COMPANY / "actuals.csv"),
                       "--reps", "500", "--out", "tr"],
                      "(MAX_EVENTS_PER_RUN); lower --reps or pass --allow-large"),
    "run-targets": (["run", "targets.yaml", "--reps", "1000", "--out", "run"],
                    "(MAX_EVENTS_PER_RUN); lower --reps or pass --allow-large"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_oversized_work_is_refused_before_simulating(here, no_simulation, case):
    args, reason = CASES[case]
    before = listing(here)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert reason in lines[0]
    assert "--allow-large" in lines[0]
    assert listing(here) == before  # nothing written, no folder made
    if case == "calibrate":
        assert lines[0].startswith("--engine-correction (24 simulated histories of ")
    if case.endswith("targets"):
        assert f"{TARGETS:,} targets per replication" in lines[0]


def test_allow_large_lets_export_through(here, monkeypatch):
    monkeypatch.setattr(sim.experiments.workload, "MAX_EVENTS_PER_REPLICATION", 1000)
    refused = invoke("export", "baseline.yaml", "--out", "co")
    assert refused.exit_code == 2 and "--allow-large" in refused.stderr
    assert not (here / "co").exists()
    accepted = invoke("export", "baseline.yaml", "--out", "co", "--allow-large")
    assert accepted.exit_code == 0, accepted.output
    assert (here / "co" / "subscriptions.csv").is_file()


@pytest.mark.slow
def test_allow_large_reaches_the_engine_correction(here, monkeypatch):
    """calibrate passes --allow-large to the correction's check (the correction itself is
    replaced: what is tested is that it is reached)."""
    import sim.calibrate.correct as correct

    reached = []

    def stub(fit, *args, **kwargs):
        reached.append(True)
        return fit
    monkeypatch.setattr(correct, "correct_churn", stub)
    args = ["calibrate", "--base", "bigco.yaml", *DATA, "--as-of", "2024-01-01",
            "--engine-correction", "--out", "cal.yaml"]
    assert invoke(*args).exit_code == 2 and not reached
    accepted = invoke(*args, "--allow-large")
    assert accepted.exit_code == 0, accepted.output
    assert reached == [True] and (here / "cal.yaml").is_file()


# ---------------------------------------------------------------- the estimate


def test_the_estimate_grows_with_targets():
    sc = load_scenario(BASELINE)
    base = sim.experiments.workload.estimate(sc.model_copy(update={"targets": []}))
    target = sc.targets[0]
    events = [sim.experiments.workload.estimate(sc.model_copy(update={"targets": [target] * n})).events
              for n in (0, 10, 1_000, 20_000)]
    assert events[0] == base.events
    assert events == sorted(events) and len(set(events)) == 4
    # every other volume stays as it was: only the work of evaluating the targets grows
    many = sim.experiments.workload.estimate(sc.model_copy(update={"targets": [target] * 20_000}))
    assert (many.leads, many.opportunities, many.customers) == (
        base.leads, base.opportunities, base.customers)
    assert many.targets == 20_000


def test_targets_alone_tip_the_run_over_the_limit():
    sc = load_scenario(BASELINE)
    plain = sc.model_copy(update={"targets": []})
    loaded = sc.model_copy(update={"targets": [sc.targets[0]] * TARGETS})
    assert sim.experiments.workload.check([(plain, 1)], 1000) is None
    assert "MAX_EVENTS_PER_RUN" in sim.experiments.workload.check([(loaded, 1)], 1000)


def test_the_correction_work_is_its_histories():
    """The engine correction is estimated as DEFAULT_REPS x DEFAULT_STEPS histories as long as
    the window (within its bounds), from the scenario it simulates."""
    import pandas as pd

    from sim.calibrate.correct import DEFAULT_REPS, DEFAULT_STEPS, MAX_MONTHS, correction_work

    sc = load_scenario(BASELINE)
    since, as_of = pd.Timestamp("2022-01-01"), pd.Timestamp("2024-01-01")
    [(history, n)] = correction_work(sc, since, as_of)
    assert n == DEFAULT_REPS * DEFAULT_STEPS and history.horizon_months == 24
    [(longest, _)] = correction_work(sc, pd.Timestamp("2010-01-01"), as_of)
    assert longest.horizon_months == MAX_MONTHS
    bigger = with_overrides(sc, {"channels.inbound.budget_per_month_usd": 1e8})
    assert (sim.experiments.workload.estimate(correction_work(bigger, since, as_of)[0][0]).events
            > sim.experiments.workload.estimate(history).events)
