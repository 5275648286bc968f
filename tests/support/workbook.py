"""The finance workbook of baseline against price_increase, built in-process for the workbook
tests (tests/test_finance_workbook.py, tests/report/test_workbook_formulas.py)."""

from __future__ import annotations

from pathlib import Path

import sim
from sim.experiments.experiment import compare_of
from sim.report.entries import Entry
from sim.report.workbook import write_workbook

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def build_workbook(folder: Path, months: int, reps: int, seed: int):
    """``revsim_report.xlsx`` of baseline and price_increase over ``months`` on ``reps`` paired
    serial runs: (its path, the comparison, the report entries)."""
    paths = [SCENARIOS / "baseline.yaml", SCENARIOS / "price_increase.yaml"]
    scenarios = [sim.load_scenario(p, overrides={"horizon_months": months}) for p in paths]
    cmp = sim.compare(scenarios[0], scenarios[1:], replications=reps, seed=seed,
                      executor="serial")
    entries = [Entry(p, p.stem, sc, r) for p, sc, r in
               zip(paths, scenarios, cmp.results, strict=True)]
    path = folder / "revsim_report.xlsx"
    write_workbook(path, entries, seed, reps, compare_of(cmp.results), f"{reps} replications "
                   "(fixed)")
    return path, cmp, entries
