"""Backtest: the baseline's tables for seed 0, replication 0 equal the golden copy.

Any change to the model's numbers shows up here; if it is intended, regenerate with
``python scripts/regen_golden.py`` and say why in the commit.
"""

from pathlib import Path

import pandas as pd
import pytest

import sim

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"


@pytest.fixture(scope="module")
def run():
    sc = sim.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    return sc, sim.simulate(sc, seed=0, replication=0)


def test_the_baseline_scenario_is_the_one_the_golden_tables_came_from(run):
    sc, _ = run
    assert sim.scenario_hash(sc) == (GOLDEN / "baseline.hash").read_text().strip()


@pytest.mark.parametrize("table", ["monthly", "by_segment"])
def test_baseline_tables_match_the_golden_copy(run, table):
    _, res = run
    golden = pd.read_csv(GOLDEN / f"baseline_seed0_rep0_{table}.csv")
    got = getattr(res, table)
    assert list(got.columns) == list(golden.columns)
    num = golden.select_dtypes("number").columns
    pd.testing.assert_frame_equal(got[num].astype(float), golden[num].astype(float),
                                  rtol=1e-6, atol=1e-4)
